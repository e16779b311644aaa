/* One training step, the same code for `noisystudent train` (trainer.c) and
 * `noisystudent bench` (so bench times exactly what train runs):
 *
 *   forward (batch statistics, the run's noise)
 *   -> fused softmax cross-entropy against the step's targets, grad_scale 1/n_lab
 *   -> the per-row losses read back (and the labeled rows' logits, for the
 *      training accuracy); a non-finite loss stops the step
 *   -> backward
 *   -> the NaN/Inf guard: ONE count_nonfinite call over every gradient, every
 *      parameter value (as the previous update left it) and every running
 *      statistic (as this forward left it); only when that count is not zero
 *      are the tensors searched one by one for the first bad one
 *   -> the optimizer update at the caller's learning rate.
 *
 * The loss of a step is sum(rows' CE) / n_lab = CE(labeled) + R * CE(pseudo)
 * with each CE a mean and R = n_pseudo / n_lab (the official code's loss): the
 * labeled rows come first, the pseudo-labeled rows after them, and the
 * gradient handed to backward is (p*T - t) / n_lab per row (backend.h). */
#ifndef NS_TRAIN_TRAIN_STEP_H
#define NS_TRAIN_TRAIN_STEP_H

#include <stdint.h>

#include "nn/model.h"
#include "train/optimizer.h"

typedef struct ns_train_step ns_train_step;

/* Buffers for steps of up to max_batch rows of m's classes. m and opt must
 * outlive the step; the caller owns *out (ns_train_step_destroy). */
ns_status ns_train_step_create(ns_model *m, ns_optimizer *opt, int max_batch, ns_train_step **out);
void ns_train_step_destroy(ns_train_step *s); /* NULL is a no-op */

typedef struct ns_step_args {
    const ns_buf *x;       /* n images, the n_lab labeled ones first */
    const ns_buf *targets; /* n rows of classes floats (soft, smoothed or one-hot) */
    int n, n_lab;          /* 1 <= n_lab <= n <= max_batch */
    const int32_t *labels; /* n_lab labels for the accuracy count, or NULL */
    const ns_noise *noise; /* NULL: no noise */
    uint64_t seed;         /* noise masks: (seed, step) */
    int64_t step;          /* global step, for the masks and for messages */
    int epoch;             /* 0-based, for messages; < 0: not named */
    float lr;              /* the scheduler's learning rate for this step */
} ns_step_args;

typedef struct ns_step_result {
    double loss;  /* CE(labeled) + R * CE(pseudo) of this step */
    int correct;  /* labeled rows whose arg-max logit is their label */
} ns_step_result;

/* Runs one step. NS_ERR_NUMERIC, before any update, when the loss or any
 * checked tensor is NaN/Inf: one line naming the epoch and step and the first
 * non-finite tensor; the weights are then exactly as the previous step left
 * them (and a checkpoint written before is unaffected). */
ns_status ns_train_step_run(ns_train_step *s, const ns_step_args *a, ns_step_result *r);

/* The guard without a step: every parameter value and running statistic,
 * one fused count. Run at the end of an epoch before anything is written, so
 * the last update of the epoch cannot put NaN/Inf into a checkpoint. `step` is
 * the number of the step that made the last update. */
ns_status ns_train_step_check_weights(ns_train_step *s, int epoch, int64_t step);

/* Fused count calls made so far (tests: one per step). */
uint64_t ns_train_step_guard_calls(const ns_train_step *s);

#endif
