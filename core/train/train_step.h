/* One training step, the same code for `noisystudent train` (trainer.c) and
 * `noisystudent bench` (so bench times exactly what train runs):
 *
 *   forward (batch statistics, the run's noise)
 *   -> fused softmax cross-entropy against the step's targets, grad_scale 1/n_lab
 *   -> the per-row losses read back (and the labeled rows' logits, for the
 *      training accuracy); a non-finite loss stops the step
 *   -> backward
 *   -> under data parallelism (core/dist), the gradients summed over the
 *      ranks in one fused all-reduce (the loss and accuracy count too, before
 *      backward; the guard's verdict is every rank's)
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
    /* Data parallelism: the labeled rows of the GLOBAL batch, of which this
     * rank holds n_lab (0: n_lab, one process). Loss and gradient are
     * divided by it, so the sum over ranks is the one-process step's. */
    int n_lab_global;
} ns_step_args;

typedef struct ns_step_result {
    double loss;  /* CE(labeled) + R * CE(pseudo) of this step */
    int correct;  /* labeled rows whose arg-max logit is their label */
    int skipped;  /* loss scaling: the scaled gradients overflowed, no update */
} ns_step_result;

/* Runs one step. NS_ERR_NUMERIC, before any update, when the loss or any
 * checked tensor is NaN/Inf: one line naming the epoch and step and the first
 * non-finite tensor; the weights are then exactly as the previous step left
 * them (and a checkpoint written before is unaffected). With loss scaling on,
 * NaN/Inf found only in the gradients at a scale above 1 is an overflow, not
 * an error: the step is skipped (r->skipped, weights and optimizer state
 * untouched), the scale halved. */
ns_status ns_train_step_run(ns_train_step *s, const ns_step_args *a, ns_step_result *r);

/* The guard without a step: every parameter value and running statistic,
 * one fused count. Run at the end of an epoch before anything is written, so
 * the last update of the epoch cannot put NaN/Inf into a checkpoint. `step` is
 * the number of the step that made the last update. */
ns_status ns_train_step_check_weights(ns_train_step *s, int epoch, int64_t step);

/* Seconds spent in the fused gradient all-reduce so far (0 on one process). */
double ns_train_step_allreduce_seconds(const ns_train_step *s);

/* Fused count calls made so far (tests: one per step without overflow). */
uint64_t ns_train_step_guard_calls(const ns_train_step *s);

/* Dynamic loss scaling, for fp16 compute (on by default when the backend was
 * opened with NS_PRECISION_FP16, as PyTorch's GradScaler: initial scale 2^16,
 * doubled after 2000 clean steps in a row, halved with the step skipped on an
 * overflow). The loss gradient is multiplied by the scale, so small
 * gradients survive fp16's range, and every gradient is divided by it again
 * before the update (exactly: powers of two). An overflow at scale <= 1 is a
 * real NaN/Inf and fails as in fp32. */
#define NS_LOSS_SCALE_INIT 65536.0f
#define NS_LOSS_SCALE_INTERVAL 2000
void ns_train_step_enable_loss_scaling(ns_train_step *s, float init_scale, int interval);
/* 1 when scaling is on; the current scale (1 when off), clean steps since
 * the last change, steps skipped so far (any may be NULL). */
int ns_train_step_loss_scale(const ns_train_step *s, float *scale, int *clean, uint64_t *skipped);
/* The scaler's state as checkpoint text ("scale=<hex float>,clean=<n>"; ""
 * when off) and back: a resumed run continues with the same scale and count,
 * so it takes exactly the steps an uninterrupted run takes. set: "" or a
 * step without scaling ignores it; malformed text is NS_ERR_FORMAT. */
ns_status ns_train_step_get_scale_state(const ns_train_step *s, char *buf, size_t len);
ns_status ns_train_step_set_scale_state(ns_train_step *s, const char *state);

#endif
