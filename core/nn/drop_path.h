/* Stochastic depth on one residual branch (see ns_noise in model.h).
 * Per-sample: each sample's branch kept with prob p and scaled by 1/p
 * (mask from be->api->mask_bernoulli); eval leaves the branch as is.
 * Per-batch: one host-drawn gate (ns_philox_uniform_at(seed, stream, 0) < p),
 * the branch is skipped entirely when dropped and unscaled when kept; eval
 * multiplies the branch by p. */
#ifndef NS_NN_DROP_PATH_H
#define NS_NN_DROP_PATH_H

#include <stdint.h>

#include "nn/act.h"

typedef enum {
    NS_DP_NONE = 0,      /* branch used as is */
    NS_DP_SAMPLE_MASK,   /* per-sample mask applied (training) */
    NS_DP_BATCH_DROPPED, /* branch skipped (training, per-batch gate closed) */
    NS_DP_SCALE          /* branch scaled by p (eval, per-batch mode) */
} ns_drop_path_action;

typedef struct ns_drop_path {
    ns_act mask; /* [batch] */
    ns_drop_path_action action;
    float p;
} ns_drop_path;

/* Survival probability of block l (0-based) of n_blocks when the last one
 * survives with pl: 1 - (l+1)/n_blocks * (1 - pl), in float (the linear decay
 * of Huang et al.); exactly 1 when pl >= 1. Training and inference both take
 * it from here, so a stored value round-trips to the one training used. */
float ns_drop_path_survival(int l, int n_blocks, float pl);

/* Decides this forward's action for a branch with survival probability p and,
 * for a per-sample mask, draws it. mode is an ns_drop_path_mode. */
ns_status ns_drop_path_plan(ns_backend *be, ns_drop_path *l, int mode, float p, int training,
                            int batch, uint64_t seed, uint64_t stream);
/* Applies the action to the branch output in place ([batch][cols]). */
ns_status ns_drop_path_forward(ns_backend *be, ns_drop_path *l, ns_buf *branch, int batch,
                               size_t cols);
/* Gradient of the branch output from the gradient of the sum: for a per-sample
 * mask writes dsum*mask into scratch and returns it, otherwise returns dsum. */
ns_status ns_drop_path_backward(ns_backend *be, ns_drop_path *l, const ns_buf *dsum,
                                ns_buf *scratch, int batch, size_t cols, const ns_buf **dbranch);
void ns_drop_path_destroy(ns_backend *be, ns_drop_path *l);

#endif
