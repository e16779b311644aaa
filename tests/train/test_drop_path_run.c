/* A run trained with --drop-path-mode batch end to end (ref, synthetic task):
 * its model.safetensors carries the per-batch inference setting, `label`'s
 * probabilities (ns_label_checkpoint) equal `eval`'s (the checkpoint loaded,
 * ns_evaluate) bit for bit on the same images, both scaled by p (they differ
 * from the same weights evaluated unscaled), and the trainer's own test
 * accuracy is the one `eval` finds for its model. */
#include <math.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "data/source.h"
#include "ns_test_ref.h"
#include "plugin/backend_loader.h"
#include "selftrain/labeler.h"
#include "step_fixture.h"
#include "synthetic_data.h"
#include "train/checkpoint.h"
#include "train/evaluate.h"
#include "train/trainer.h"
#include "util/error.h"

enum { K = 4 };

static char data_dir[1024];

static int setup(void **state)
{
    ns_backend *be = NULL;
    *state = NULL;
    if (ns_test_require_ref(&be) != 0)
        return -1;
    ns_test_fresh_dir("drop_path_run_data", data_dir, sizeof data_dir);
    if (ns_test_write_synthetic(data_dir, 12, 6, 17) != 0)
        return -1;
    *state = be;
    return 0;
}

static int teardown(void **state)
{
    ns_backend_close(*state);
    return 0;
}

/* Rows of probabilities in dataset order, as ns_evaluate hands them over. */
typedef struct rows {
    float *p;
    size_t n;
} rows;

static ns_status keep_rows(void *user, const uint32_t *index, const float *probs, int n, int classes)
{
    rows *r = user;
    for (int i = 0; i < n; i++)
        memcpy(r->p + (size_t)index[i] * classes, probs + (size_t)i * classes, (size_t)classes * sizeof *probs);
    r->n += (size_t)n;
    return NS_OK;
}

/* `eval`'s computation: probabilities and accuracy of m over a split. */
static double eval_split(ns_model *m, const ns_ckpt_info *info, int train_split, rows *out)
{
    ns_dataset d;
    assert_int_equal(ns_dataset_open(data_dir, train_split, &d), NS_OK);
    out->p = calloc(d.n * K, sizeof *out->p);
    out->n = 0;
    ns_confusion conf;
    assert_int_equal(ns_confusion_init(&conf, K), NS_OK);
    ns_eval_config ec = {7, info->mean, info->std, keep_rows, out, 0, NS_TTA_NONE};
    assert_int_equal(ns_evaluate(m, &d, NULL, &ec, &conf), NS_OK);
    assert_int_equal(out->n, d.n);
    double acc = ns_confusion_accuracy(&conf);
    ns_confusion_free(&conf);
    ns_dataset_free(&d);
    return acc;
}

static void test_batch_mode_run_evaluates_scaled(void **state)
{
    ns_backend *be = *state;
    ns_train_config c = ns_test_step_run_config(data_dir, "drop_path_run");
    c.epochs = 2;
    c.noise.drop_path_mode = NS_DROP_PATH_PER_BATCH;
    c.noise.drop_path_pl = 0.5f;
    ns_train_result res;
    if (ns_train(&c, be, 0, NULL, NULL, &res) != NS_OK)
        fail_msg("train: %s", ns_last_error());

    /* the model file says how to evaluate it */
    ns_model *m = NULL;
    ns_ckpt_info info;
    assert_int_equal(ns_checkpoint_load_model(res.model_path, be, &m, &info), NS_OK);
    assert_int_equal(ns_model_inference_drop_path_mode(m), NS_DROP_PATH_PER_BATCH);
    for (int l = 0; l < ns_model_num_blocks(m); l++)
        assert_true(ns_model_inference_branch_scale(m, l) == ns_drop_path_survival(l, 3, 0.5f));

    /* label == eval, image by image, bit for bit */
    ns_label_set labels;
    if (ns_label_checkpoint(res.model_path, be, data_dir, 5, NS_TTA_NONE, &labels, NULL) != NS_OK)
        fail_msg("label: %s", ns_last_error());
    rows ev;
    eval_split(m, &info, 1, &ev);
    assert_int_equal(labels.count, ev.n);
    assert_int_equal(labels.classes, K);
    for (size_t r = 0; r < labels.count; r++) {
        const float *got = labels.probs + r * K, *want = ev.p + (size_t)labels.source_id[r] * K;
        for (int k = 0; k < K; k++)
            if (got[k] != want[k])
                fail_msg("image %u class %d: label %.9g, eval %.9g", labels.source_id[r], k, (double)got[k],
                         (double)want[k]);
    }

    /* ... and both are the scaled network: unscaled, the same weights differ */
    assert_int_equal(ns_model_set_inference_drop_path(m, NS_DROP_PATH_PER_SAMPLE, 1.0f), NS_OK);
    rows unscaled;
    eval_split(m, &info, 1, &unscaled);
    double most = 0;
    for (size_t i = 0; i < ev.n * K; i++)
        most = fmax(most, fabs((double)ev.p[i] - unscaled.p[i]));
    print_message("largest probability change from the p scaling: %.4g\n", most);
    assert_true(most > 1e-3);

    /* the trainer's test accuracy is eval's on model.safetensors */
    assert_int_equal(ns_model_set_inference_drop_path(m, NS_DROP_PATH_PER_BATCH, 0.5f), NS_OK);
    rows test;
    double acc = eval_split(m, &info, 0, &test);
    print_message("test accuracy: trainer %.4f, eval %.4f\n", res.test_acc, acc);
    assert_true(acc == res.test_acc);

    free(ev.p);
    free(unscaled.p);
    free(test.p);
    ns_label_set_free(&labels);
    ns_model_destroy(m);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_batch_mode_run_evaluates_scaled),
    };
    return cmocka_run_group_tests(tests, setup, teardown);
}
