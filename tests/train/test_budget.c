/* Time budgets, warm starts and weight decay on every parameter: the fit's
 * arithmetic by hand, a budgeted run that stops within its budget and
 * records the fit so a resume trains exactly as many epochs, a run started
 * from another model's weights, and decay_all reaching batchnorm. */
#include <math.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <string.h>

#include <cmocka.h>

#include "nn/model.h"
#include "ns_test_ref.h"
#include "synthetic_data.h"
#include "tiny_train.h"
#include "train/budget.h"
#include "train/checkpoint.h"
#include "train/optimizer.h"
#include "train/trainer.h"
#include "util/duration.h"
#include "util/error.h"

static char data_dir[1024];

static int setup(void **state)
{
    return ns_test_tiny_train_setup(state, "train_budget_data", 5, data_dir, sizeof data_dir);
}

static int teardown(void **state)
{
    return ns_test_tiny_train_teardown(state);
}

static ns_train_config tiny_config(const char *run_name)
{
    return ns_test_tiny_train_config(data_dir, run_name, 1);
}

static void test_fit_arithmetic(void **state)
{
    (void)state;
    /* left = 100 - 5 - 2 + 23 x 0.1 + 1 = 96.3 s; an epoch 100 x 0.1 + 1 = 11 s: 8 epochs. */
    ns_budget_fit f = {100, 5, 0.1, 23, 100, 1, 2, 50};
    assert_int_equal(ns_budget_fit_epochs(&f), 8);
    /* Check the bound it claims: 8 fit, 9 would not. */
    double spent8 = 5 + (8 * 100 - 23) * 0.1 + 7 * 1 + 2, spent9 = 5 + (9 * 100 - 23) * 0.1 + 8 * 1 + 2;
    assert_true(spent8 <= 100 && spent9 > 100);
    f.max_epochs = 6; /* the configured epochs bound it */
    assert_int_equal(ns_budget_fit_epochs(&f), 6);
    f.max_epochs = 50;
    f.budget_s = 1; /* nothing fits: still one epoch, a run ends with a model */
    assert_int_equal(ns_budget_fit_epochs(&f), 1);
    f.budget_s = 100;
    f.eval_epoch_s = 0;
    f.eval_final_s = 0; /* 100 - 5 + 2.3 = 97.3 over 10 s */
    assert_int_equal(ns_budget_fit_epochs(&f), 9);
}

static void test_durations(void **state)
{
    (void)state;
    double s = -1;
    assert_int_equal(ns_parse_duration("900", "--budget", &s), NS_OK);
    assert_true(s == 900);
    assert_int_equal(ns_parse_duration("15m", "--budget", &s), NS_OK);
    assert_true(s == 900);
    assert_int_equal(ns_parse_duration("1.5h", "--budget", &s), NS_OK);
    assert_true(s == 5400);
    assert_int_equal(ns_parse_duration("1h30m", "--budget", &s), NS_OK);
    assert_true(s == 5400);
    assert_int_equal(ns_parse_duration("2m30s", "--budget", &s), NS_OK);
    assert_true(s == 150);
    const char *bad[] = {"", "15min", "m", "-5m", "0", "30s2m", "1h30", "nan", "inf", "5 m"};
    for (size_t i = 0; i < sizeof bad / sizeof *bad; i++) {
        s = 7;
        assert_int_equal(ns_parse_duration(bad[i], "--budget", &s), NS_ERR_USAGE);
        assert_true(s == 7);
        assert_non_null(strstr(ns_last_error(), "--budget"));
    }
    char b[32];
    ns_format_duration(900, b, sizeof b);
    assert_string_equal(b, "15m");
    ns_format_duration(870, b, sizeof b);
    assert_string_equal(b, "14m30s");
    ns_format_duration(3725, b, sizeof b);
    assert_string_equal(b, "1h02m05s");
    ns_format_duration(42.4, b, sizeof b);
    assert_string_equal(b, "42s");
}

static int config_epochs(const char *run_dir, int *fitted, float *budget)
{
    char path[1100];
    snprintf(path, sizeof path, "%s/config.json", run_dir);
    json_t *j = json_load_file(path, 0, NULL);
    ns_train_config c;
    int e = -1;
    if (j && ns_train_config_from_json(j, path, &c) == NS_OK) {
        e = c.epochs;
        *fitted = c.budget_fitted;
        *budget = c.budget_s;
    }
    json_decref(j);
    return e;
}

/* A budget far below what the configured epochs need: the run fits fewer,
 * ends near the budget, and says so in config.json. */
static void test_budget_bounds_the_run(void **state)
{
    ns_backend *be = *state;
    ns_train_config c = tiny_config("run_budget");
    c.epochs = 3000; /* minutes of steps without the budget */
    c.budget_s = 1.5f;
    ns_train_result res;
    assert_int_equal(ns_train(&c, be, 0, NULL, NULL, &res), NS_OK);
    int fitted = 0;
    float budget = 0;
    int e = config_epochs(c.run_dir, &fitted, &budget);
    print_message("fitted %d epochs, ran %.2f s for a 1.5 s budget\n", e, res.seconds);
    assert_int_equal(fitted, 1);
    assert_true(budget == 1.5f);
    assert_int_equal(res.epochs_run, e);
    assert_true(e >= 1 && e < 3000);
    /* The fit measures its own step time, so it scales with the machine;
     * what it cannot see (reading the data, the model's setup, the final
     * evaluation) gets a loaded machine's allowance. Without the budget the
     * 3000 epochs take minutes. */
    assert_true(res.seconds < 12.0);
}

/* A budgeted run paused after its first epoch resumes to exactly the epochs
 * fitted in that first epoch (config.json), not to a new fit or the bound. */
static void test_budget_resume_keeps_the_fit(void **state)
{
    ns_backend *be = *state;
    ns_train_config c = tiny_config("run_budget_resume");
    c.epochs = 3000;
    c.budget_s = 6.0f; /* tens of epochs of 8 steps, also under a sanitizer */
    c.stop_after_epoch = 1;
    ns_train_result res;
    assert_int_equal(ns_train(&c, be, 0, NULL, NULL, &res), NS_OK);
    assert_true(res.paused);
    int fitted = 0;
    float budget = 0;
    const int e = config_epochs(c.run_dir, &fitted, &budget);
    assert_int_equal(fitted, 1);
    assert_true(e > 1 && e < 3000); /* the pause is before the end */
    /* What `train --resume` does: the configuration from config.json. */
    char path[1100];
    snprintf(path, sizeof path, "%s/config.json", c.run_dir);
    json_t *j = json_load_file(path, 0, NULL);
    ns_train_config r;
    assert_int_equal(ns_train_config_from_json(j, path, &r), NS_OK);
    json_decref(j);
    snprintf(r.run_dir, sizeof r.run_dir, "%s", c.run_dir);
    assert_int_equal(ns_train(&r, be, 1, NULL, NULL, &res), NS_OK);
    assert_int_equal(res.epochs_run, e);
    assert_int_equal(config_epochs(c.run_dir, &fitted, &budget), e);
}

/* --init: the run starts from the given model's weights. With a learning
 * rate of 1e-9 one epoch leaves them where they were; a random start is
 * far from them. Another architecture is refused, naming init. */
static void test_warm_start(void **state)
{
    ns_backend *be = *state;
    ns_train_config a = tiny_config("run_init_a");
    a.epochs = 2;
    ns_train_result ra, rb, rc;
    assert_int_equal(ns_train(&a, be, 0, NULL, NULL, &ra), NS_OK);
    ns_train_config b = tiny_config("run_init_b"), c = tiny_config("run_init_c");
    b.epochs = c.epochs = 1;
    b.lr = c.lr = 1e-9f;
    b.seed = c.seed = 7; /* another random start than a's */
    snprintf(b.init, sizeof b.init, "%s", ra.model_path);
    assert_int_equal(ns_train(&b, be, 0, NULL, NULL, &rb), NS_OK);
    assert_int_equal(ns_train(&c, be, 0, NULL, NULL, &rc), NS_OK);
    ns_model *ma, *mb, *mc;
    ns_ckpt_info info;
    assert_int_equal(ns_checkpoint_load_model(ra.model_path, be, &ma, &info), NS_OK);
    assert_int_equal(ns_checkpoint_load_model(rb.model_path, be, &mb, &info), NS_OK);
    assert_int_equal(ns_checkpoint_load_model(rc.model_path, be, &mc, &info), NS_OK);
    double db = 0, dc = 0;
    for (size_t i = 0; i < ns_model_num_params(ma); i++) {
        const ns_param *pa = ns_model_param(ma, i), *pb = ns_model_param(mb, i), *pc = ns_model_param(mc, i);
        float va[4096], vb[4096], vc[4096];
        size_t n = pa->size < 4096 ? pa->size : 4096;
        assert_int_equal(be->api->download(be->ctx, pa->value, 0, va, n), NS_OK);
        assert_int_equal(be->api->download(be->ctx, pb->value, 0, vb, n), NS_OK);
        assert_int_equal(be->api->download(be->ctx, pc->value, 0, vc, n), NS_OK);
        for (size_t k = 0; k < n; k++) {
            db = fmax(db, fabs((double)va[k] - vb[k]));
            dc = fmax(dc, fabs((double)va[k] - vc[k]));
        }
    }
    print_message("largest weight difference from the init model: warm %.3g, random %.3g\n", db, dc);
    assert_true(db < 1e-5);
    assert_true(dc > 1e-2);
    ns_model_destroy(ma);
    ns_model_destroy(mb);
    ns_model_destroy(mc);

    ns_train_config w = tiny_config("run_init_wide");
    snprintf(w.model, sizeof w.model, "resnet8:width=8");
    snprintf(w.init, sizeof w.init, "%s", ra.model_path);
    assert_int_equal(ns_train(&w, be, 0, NULL, NULL, &rc), NS_ERR_FORMAT);
    assert_non_null(strstr(ns_last_error(), "init"));
    assert_non_null(strstr(ns_last_error(), ra.model_path));
}

/* decay_all: one SGD step with zero gradients moves a batchnorm scale only
 * when every parameter decays; conv weights decay either way. */
static void test_decay_all_reaches_batchnorm(void **state)
{
    ns_backend *be = *state;
    for (int all = 0; all <= 1; all++) {
        ns_model_spec spec;
        assert_int_equal(ns_model_spec_parse("resnet8:width=4", &spec), NS_OK);
        ns_model *m;
        assert_int_equal(ns_model_create(be, &spec, 1, 8, 8, 4, &m), NS_OK);
        assert_int_equal(ns_model_init(m, 1), NS_OK);
        ns_optimizer_config oc = ns_optimizer_config_default(NS_OPT_SGD);
        oc.weight_decay = 0.1f;
        oc.decay_all = all;
        ns_optimizer *o;
        assert_int_equal(ns_optimizer_create(m, &oc, &o), NS_OK);
        int saw_bn = 0, saw_conv = 0;
        float before[64][64];
        size_t np = ns_model_num_params(m);
        assert_true(np <= 64);
        for (size_t i = 0; i < np; i++) {
            ns_param *p = ns_model_param(m, i);
            assert_int_equal(be->api->fill(be->ctx, p->grad, p->size, 0.0f), NS_OK);
            assert_int_equal(be->api->download(be->ctx, p->value, 0, before[i], p->size < 64 ? p->size : 64),
                             NS_OK);
        }
        assert_int_equal(ns_optimizer_step(o, 1.0f), NS_OK);
        for (size_t i = 0; i < np; i++) {
            ns_param *p = ns_model_param(m, i);
            float after[64];
            size_t n = p->size < 64 ? p->size : 64;
            assert_int_equal(be->api->download(be->ctx, p->value, 0, after, n), NS_OK);
            int moved = 0;
            for (size_t k = 0; k < n; k++)
                moved |= before[i][k] != after[k] && before[i][k] != 0.0f;
            if (!p->decay && strstr(p->name, ".weight")) { /* batchnorm scale */
                saw_bn = 1;
                assert_int_equal(moved, all);
            } else if (p->decay) {
                saw_conv = 1;
                assert_true(moved);
            }
        }
        assert_true(saw_bn && saw_conv);
        ns_optimizer_destroy(o);
        ns_model_destroy(m);
    }
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_fit_arithmetic),
        cmocka_unit_test(test_durations),
        cmocka_unit_test(test_budget_bounds_the_run),
        cmocka_unit_test(test_budget_resume_keeps_the_fit),
        cmocka_unit_test(test_warm_start),
        cmocka_unit_test(test_decay_all_reaches_batchnorm),
    };
    return cmocka_run_group_tests(tests, setup, teardown);
}
