/* NaN/Inf in training, on the ref backend:
 *
 *  - the training step's guard is ONE count_nonfinite call per step (no
 *    reduce per parameter) and names the first non-finite tensor only after
 *    that count says something is wrong: a NaN gradient (planted by a shim on
 *    dense_backward), an Inf weight (planted by upload), a NaN running
 *    statistic at the epoch-end check; each time the step is not applied (the
 *    weights keep their bytes);
 *  - a learning rate that blows up (a step schedule multiplying it by 1e30
 *    after the first epoch) stops ns_train and `noisystudent train` with ONE
 *    line naming the epoch, the step and the first non-finite tensor; the
 *    checkpoint of the last good epoch keeps its bytes (those of the same run
 *    paused after that epoch) and still loads; nothing is written from the
 *    poisoned epoch: one metrics record, no model.safetensors, no temp file.
 * The ref backend is always built: a missing ref fails, it does not skip. */
#include <dirent.h>
#include <math.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>

#include <cmocka.h>

#include "nn/model_spec.h"
#include "plugin/backend_loader.h"
#include "step_fixture.h"
#include "synthetic_data.h"
#include "train/checkpoint.h"
#include "train/optimizer.h"
#include "train/train_step.h"
#include "train/trainer.h"
#include "util/error.h"

enum { B = 4, K = 3, S = 8 };

static ns_backend *be;
static ns_backend_api plain; /* ref's table as it opened */
static char data_dir[1024];

static int setup(void **state)
{
    (void)state;
    return ns_test_step_suite_setup("nonfinite_data", 7, &be, &plain, data_dir, sizeof data_dir);
}

static int teardown(void **state)
{
    (void)state;
    ns_backend_close(be);
    return 0;
}

/* ---------------------------------------------------- call counting shims */

static struct {
    int count_calls, reduce_calls;
    int poison_dense; /* dense_backward writes a NaN into dw[0] */
} shim;

static ns_status counting_count(void *ctx, size_t count, const ns_buf *const *xs, const size_t *ns, uint64_t *out)
{
    shim.count_calls++;
    return plain.count_nonfinite(ctx, count, xs, ns, out);
}

static ns_status counting_reduce(void *ctx, const ns_buf *x, size_t n, ns_reduce_result *out)
{
    shim.reduce_calls++;
    return plain.reduce(ctx, x, n, out);
}

static ns_status poisoning_dense_backward(void *ctx, const ns_dense_desc *d, const ns_buf *x, const ns_buf *w,
                                          const ns_buf *dy, ns_buf *dx, ns_buf *dw, ns_buf *db)
{
    ns_status st = plain.dense_backward(ctx, d, x, w, dy, dx, dw, db);
    if (st == NS_OK && shim.poison_dense) {
        const float nan = NAN;
        st = plain.upload(ctx, dw, 0, &nan, 1);
    }
    return st;
}

static void install_shims(void)
{
    memset(&shim, 0, sizeof shim);
    be->table.count_nonfinite = counting_count;
    be->table.reduce = counting_reduce;
    be->table.dense_backward = poisoning_dense_backward;
}

static void remove_shims(void) { be->table = plain; }

/* ------------------------------------------------------- a step fixture */

/* The shared step fixture (tests/common/step_fixture.h) on this suite's batch. */
typedef ns_test_step fixture;

static float pixel(int i) { return sinf(0.3f * (float)i); }
static void fixture_open(fixture *f) { ns_test_step_open(f, be, B, K, 3, pixel); }
static void fixture_close(fixture *f) { ns_test_step_close(f); }
static ns_status run_step(fixture *f, int64_t step, ns_step_result *r) { return ns_test_step_run(f, step, 2, r); }
/* Every trainable parameter's value. The running statistics are left out:
 * the forward of a step that is then not applied has already moved them (as
 * in PyTorch's skipped AMP steps); a run stops there and saves nothing of
 * that epoch. */
static float *snapshot(fixture *f, size_t *total) { return ns_test_step_snapshot(f, 0, total); }

/* The message is one line. */
static void assert_one_line(const char *msg)
{
    assert_true(msg[0] != '\0');
    assert_null(strchr(msg, '\n'));
}

static void test_one_fused_count_per_step(void **state)
{
    (void)state;
    fixture f;
    fixture_open(&f);
    install_shims();
    ns_step_result r;
    for (int s = 0; s < 3; s++)
        assert_int_equal(run_step(&f, s, &r), NS_OK);
    remove_shims();
    assert_true(isfinite(r.loss));
    assert_int_equal(shim.count_calls, 3);
    assert_int_equal(shim.reduce_calls, 0); /* the slow path only runs after a non-zero count */
    assert_int_equal(ns_train_step_guard_calls(f.step), 3);
    fixture_close(&f);
}

static void test_nan_gradient_stops_before_the_update(void **state)
{
    (void)state;
    fixture f;
    fixture_open(&f);
    ns_step_result r;
    assert_int_equal(run_step(&f, 0, &r), NS_OK);
    size_t n, n2;
    float *before = snapshot(&f, &n);
    install_shims();
    shim.poison_dense = 1;
    ns_status st = run_step(&f, 41, &r);
    remove_shims();
    const char *msg = ns_last_error();
    print_message("%s\n", msg);
    assert_int_equal(st, NS_ERR_NUMERIC);
    assert_one_line(msg);
    assert_non_null(strstr(msg, "epoch 3 step 41: "));
    /* the dense layer's weight gradient, the only bad tensor; named, counted */
    const char *dense = NULL;
    for (size_t i = 0; i < ns_model_num_params(f.m); i++)
        if (ns_model_param(f.m, i)->ndim == 2)
            dense = ns_model_param(f.m, i)->name;
    assert_non_null(dense);
    char want[256];
    snprintf(want, sizeof want, "gradient of %s has 1 NaN/Inf values (the first non-finite tensor", dense);
    if (!strstr(msg, want))
        fail_msg("expected \"%s\" in \"%s\"", want, msg);
    assert_non_null(strstr(msg, "the step was not applied"));
    assert_int_equal(shim.count_calls, 1);
    /* not applied: every weight, and the optimizer's step count, as before */
    float *after = snapshot(&f, &n2);
    assert_int_equal(n, n2);
    assert_memory_equal(before, after, n * sizeof *before);
    assert_int_equal(ns_optimizer_steps(f.opt), 1);
    free(before);
    free(after);
    fixture_close(&f);
}

static void test_inf_weight_is_named(void **state)
{
    (void)state;
    fixture f;
    fixture_open(&f);
    ns_param *p = NULL; /* the second convolution's weight */
    for (size_t i = 0, convs = 0; i < ns_model_num_params(f.m) && !p; i++)
        if (ns_model_param(f.m, i)->ndim == 4 && ++convs == 2)
            p = ns_model_param(f.m, i);
    assert_non_null(p);
    const float inf[2] = {INFINITY, -INFINITY};
    assert_int_equal(be->api->upload(be->ctx, p->value, 5, inf, 2), NS_OK);
    ns_step_result r;
    assert_int_equal(run_step(&f, 9, &r), NS_ERR_NUMERIC);
    const char *msg = ns_last_error();
    print_message("%s\n", msg);
    assert_one_line(msg);
    char want[256];
    snprintf(want, sizeof want, "epoch 3 step 9: %s has 2 NaN/Inf values (the first non-finite tensor", p->name);
    if (!strstr(msg, want))
        fail_msg("expected \"%s\" in \"%s\"", want, msg);
    assert_int_equal(ns_optimizer_steps(f.opt), 0);
    fixture_close(&f);
}

static void test_epoch_end_check_names_a_running_statistic(void **state)
{
    (void)state;
    fixture f;
    fixture_open(&f);
    ns_step_result r;
    assert_int_equal(run_step(&f, 0, &r), NS_OK);
    assert_int_equal(ns_train_step_check_weights(f.step, 0, 0), NS_OK);
    ns_param *st = ns_model_state(f.m, ns_model_num_states(f.m) - 1);
    const float nan = NAN;
    assert_int_equal(be->api->upload(be->ctx, st->value, 0, &nan, 1), NS_OK);
    assert_int_equal(ns_train_step_check_weights(f.step, 0, 7), NS_ERR_NUMERIC);
    const char *msg = ns_last_error();
    print_message("%s\n", msg);
    assert_one_line(msg);
    char want[256];
    snprintf(want, sizeof want, "epoch 1 step 7: %s has 1 NaN/Inf values", st->name);
    if (!strstr(msg, want))
        fail_msg("expected \"%s\" in \"%s\"", want, msg);
    assert_non_null(strstr(msg, "nothing of this epoch was saved"));
    fixture_close(&f);
}

/* --------------------------------------------- a run whose lr blows up */

static ns_train_config blowup_config(const char *name)
{
    ns_train_config c = ns_test_step_run_config(data_dir, name);
    /* epoch 1 at lr 0.05, then 0.05 x 1e30 */
    snprintf(c.schedule, sizeof c.schedule, "step:milestones=1,gamma=1e30");
    return c;
}

static unsigned char *slurp_file(const char *path, size_t *len)
{
    FILE *f = fopen(path, "rb");
    assert_non_null(f);
    fseek(f, 0, SEEK_END);
    long n = ftell(f);
    fseek(f, 0, SEEK_SET);
    unsigned char *buf = malloc((size_t)n + 1);
    assert_non_null(buf);
    assert_int_equal(fread(buf, 1, (size_t)n, f), (size_t)n);
    buf[n] = 0;
    fclose(f);
    *len = (size_t)n;
    return buf;
}

static int lines_in(const char *path)
{
    size_t n;
    unsigned char *t = slurp_file(path, &n);
    int lines = 0;
    for (size_t i = 0; i < n; i++)
        lines += t[i] == '\n';
    free(t);
    return lines;
}

/* The run directory holds exactly config.json, metrics.jsonl (one record),
 * checkpoint.safetensors and report.html (epoch 1's view of them): no model,
 * no eval.json, no temp file (and tb/, TensorBoard's log, which is not a run
 * output). */
static void assert_only_epoch1_outputs(const char *dir)
{
    DIR *d = opendir(dir);
    assert_non_null(d);
    int files = 0;
    for (struct dirent *e; (e = readdir(d)) != NULL;) {
        if (e->d_name[0] == '.' || !strcmp(e->d_name, "tb"))
            continue;
        files++;
        if (strcmp(e->d_name, "config.json") && strcmp(e->d_name, "metrics.jsonl") &&
            strcmp(e->d_name, "checkpoint.safetensors") && strcmp(e->d_name, "report.html"))
            fail_msg("%s: unexpected file %s after the failed epoch", dir, e->d_name);
    }
    closedir(d);
    assert_int_equal(files, 4);
    char path[1200];
    snprintf(path, sizeof path, "%s/metrics.jsonl", dir);
    assert_int_equal(lines_in(path), 1);
}

static void test_blowup_stops_and_keeps_the_last_good_checkpoint(void **state)
{
    (void)state;
    /* the same run paused after epoch 1: the last good checkpoint */
    ns_train_config good = blowup_config("nonfinite_paused");
    good.stop_after_epoch = 1;
    ns_train_result res;
    assert_int_equal(ns_train(&good, be, 0, NULL, NULL, &res), NS_OK);
    assert_true(res.paused);
    char good_ckpt[1200], ckpt[1200], model[1200];
    ns_clear_error();
    snprintf(good_ckpt, sizeof good_ckpt, "%s/checkpoint.safetensors", good.run_dir);
    size_t good_len, len;
    unsigned char *good_bytes = slurp_file(good_ckpt, &good_len);

    ns_train_config c = blowup_config("nonfinite_run");
    ns_status st = ns_train(&c, be, 0, NULL, NULL, &res);
    char msg[NS_ERROR_MAX];
    snprintf(msg, sizeof msg, "%s", ns_last_error());
    print_message("%s\n", msg);
    assert_int_equal(st, NS_ERR_NUMERIC);
    assert_one_line(msg);
    assert_non_null(strstr(msg, "epoch 2 step "));
    assert_non_null(strstr(msg, "NaN/Inf values (the first non-finite tensor"));
    /* the tensor named is one of the model's (a weight, a statistic or a gradient) */
    char name[128] = "";
    const char *at = strstr(msg, ": ");
    assert_non_null(at);
    at += 2;
    if (strncmp(at, "gradient of ", 12) == 0)
        at += 12;
    assert_int_equal(sscanf(at, "%127s", name), 1);
    ns_model *m = NULL;
    ns_ckpt_info info;
    snprintf(ckpt, sizeof ckpt, "%s/checkpoint.safetensors", c.run_dir);
    assert_int_equal(ns_checkpoint_load_model(ckpt, be, &m, &info), NS_OK); /* still loads */
    if (!ns_model_find(m, name))
        fail_msg("the message names \"%s\", which is no tensor of the model", name);
    assert_int_equal(info.epoch, 1);
    ns_model_destroy(m);

    /* the checkpoint holds the last good epoch's tensors (the headers differ
     * in the run directory's name only); nothing else was written */
    assert_true(ns_test_same_weights(ckpt, good_ckpt));
    assert_true(ns_test_same_weights(good_ckpt, ckpt));
    assert_only_epoch1_outputs(c.run_dir);
    snprintf(model, sizeof model, "%s/model.safetensors", c.run_dir);
    assert_null(fopen(model, "rb"));

    /* resuming the paused run fails the same way and leaves its checkpoint's
     * bytes alone */
    st = ns_train(&good, be, 1, NULL, NULL, &res);
    assert_int_equal(st, NS_ERR_NUMERIC);
    assert_string_equal(ns_last_error(), msg);
    unsigned char *bytes = slurp_file(good_ckpt, &len);
    assert_int_equal(len, good_len);
    assert_memory_equal(bytes, good_bytes, len);
    free(bytes);
    assert_only_epoch1_outputs(good.run_dir);
    free(good_bytes);
}

/* One step per epoch and an infinite learning rate from epoch 2 on (two
 * milestones at epoch 1: 0.05 x (1e30)^2): the update of epoch 2's only step
 * makes the weights non-finite, and no later step would see it before the
 * epoch's metrics and checkpoint are written. The epoch-end check does. */
static void test_last_update_of_an_epoch_is_checked(void **state)
{
    (void)state;
    ns_train_config c = blowup_config("nonfinite_last_update");
    snprintf(c.schedule, sizeof c.schedule, "step:milestones=1-1,gamma=1e30");
    c.batch = 32; /* the whole training set: one step per epoch */
    ns_train_result res;
    ns_clear_error();
    assert_int_equal(ns_train(&c, be, 0, NULL, NULL, &res), NS_ERR_NUMERIC);
    const char *msg = ns_last_error();
    print_message("%s\n", msg);
    assert_one_line(msg);
    assert_non_null(strstr(msg, "epoch 2 step 1: "));
    assert_non_null(strstr(msg, "nothing of this epoch was saved"));
    assert_only_epoch1_outputs(c.run_dir);
    char ckpt[1200];
    snprintf(ckpt, sizeof ckpt, "%s/checkpoint.safetensors", c.run_dir);
    ns_model *m = NULL;
    ns_ckpt_info info;
    assert_int_equal(ns_checkpoint_load_model(ckpt, be, &m, &info), NS_OK);
    assert_int_equal(info.epoch, 1);
    ns_model_destroy(m);
}

static void test_cli_reports_one_line(void **state)
{
    (void)state;
    char run_dir[1024], err_path[1200], cmd[4096];
    ns_test_fresh_dir("nonfinite_cli", run_dir, sizeof run_dir);
    snprintf(err_path, sizeof err_path, "%s.err", run_dir);
    snprintf(cmd, sizeof cmd,
             "'%s' train --backend ref --data '%s' --model resnet8:width=4 --epochs 3 --batch 8 --lr 0.05 "
             "--schedule step:milestones=1,gamma=1e30 --no-pad-crop --no-flip --eval-every 0 "
             "--loader-threads 1 --run-dir '%s' >/dev/null 2>'%s' </dev/null",
             NS_CLI_PATH, data_dir, run_dir, err_path);
    int rc = system(cmd);
    assert_true(WIFEXITED(rc));
    assert_int_equal(WEXITSTATUS(rc), 1);
    size_t n;
    char *err = (char *)slurp_file(err_path, &n);
    print_message("stderr: %s", err);
    assert_true(n > 0 && err[n - 1] == '\n');
    assert_null(memchr(err, '\n', n - 1)); /* one line */
    assert_non_null(strstr(err, "epoch 2 step "));
    assert_non_null(strstr(err, "(the first non-finite tensor"));
    free(err);
    assert_only_epoch1_outputs(run_dir);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_one_fused_count_per_step),
        cmocka_unit_test(test_nan_gradient_stops_before_the_update),
        cmocka_unit_test(test_inf_weight_is_named),
        cmocka_unit_test(test_epoch_end_check_names_a_running_statistic),
        cmocka_unit_test(test_blowup_stops_and_keeps_the_last_good_checkpoint),
        cmocka_unit_test(test_last_update_of_an_epoch_is_checked),
        cmocka_unit_test(test_cli_reports_one_line),
    };
    return cmocka_run_group_tests(tests, setup, teardown);
}
