/* Small training fixtures shared by the train suites: one training step on a
 * fixed batch, for the suites that test the step itself (train_step.h: loss
 * scaling, the NaN/Inf guard), and a small ns_train configuration.
 * The step: resnet8:width=4 on
 * 1x8x8 images, SGD, `batch` images whose pixels come from the caller's
 * formula and whose labels are i % classes (one-hot targets).
 * Each call asserts with cmocka, so it is used inside a test. */
#ifndef NS_TEST_STEP_FIXTURE_H
#define NS_TEST_STEP_FIXTURE_H

#include <stddef.h>
#include <stdint.h>

#include "nn/model.h"
#include "train/optimizer.h"
#include "train/train_config.h"
#include "train/train_step.h"

#define NS_TEST_STEP_SIDE 8
#define NS_TEST_STEP_MAX_BATCH 64

typedef struct ns_test_step {
    ns_backend *be;
    ns_model *m;
    ns_optimizer *opt;
    ns_train_step *step;
    ns_buf *x, *t;
    int batch, classes;
    int32_t labels[NS_TEST_STEP_MAX_BATCH];
} ns_test_step;

/* Group setup of such a suite: opens ref into *be (always built: a failure
 * to open it is printed and returns -1, failing the suite), copies its op
 * table into *plain (what a test double wraps and restores), and writes the
 * synthetic task (synthetic_data.h: 8 training and 4 test images per class)
 * into a fresh directory named data_name, seeded with `seed`. 0 on success. */
int ns_test_step_suite_setup(const char *data_name, unsigned seed, ns_backend **be, ns_backend_api *plain,
                             char *data_dir, size_t len);

/* pixel(i): the value of input float i of the batch (i < batch * 64). */
void ns_test_step_open(ns_test_step *f, ns_backend *be, int batch, int classes, uint64_t init_seed,
                       float (*pixel)(int i));
void ns_test_step_close(ns_test_step *f);
/* One step (no noise, seed 1, lr 0.05) at global step `step` of `epoch`. */
ns_status ns_test_step_run(ns_test_step *f, int64_t step, int epoch, ns_step_result *r);
/* The trainable parameters (and, with_optimizer, the optimizer state after
 * them) concatenated on the host; the caller frees it. */
float *ns_test_step_snapshot(const ns_test_step *f, int with_optimizer, size_t *total);

/* A small ns_train run of these suites on data_dir: resnet8:width=4, 3 epochs
 * of batch 8 at lr 0.05, no pad-crop or flip (they move the class's
 * quadrant), test accuracy only at the end, one loader thread, run directory
 * a fresh one named run_name. The caller changes what its test is about. */
ns_train_config ns_test_step_run_config(const char *data_dir, const char *run_name);

#endif
