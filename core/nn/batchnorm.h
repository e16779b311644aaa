/* Spatial batch normalisation (eps 1e-5, momentum 0.1), optionally fused
 * with the ReLU that follows it. Params "<name>.weight" (gamma) and
 * "<name>.bias" (beta); states "<name>.running_mean", "<name>.running_var". */
#ifndef NS_NN_BATCHNORM_H
#define NS_NN_BATCHNORM_H

#include "nn/act.h"
#include "nn/param.h"

#define NS_BN_EPS 1e-5f
#define NS_BN_MOMENTUM 0.1f

typedef struct ns_batchnorm {
    ns_param gamma, beta, running_mean, running_var;
    int c;
    int relu;           /* 1: out = relu(bn(x)) */
    ns_buf *save_mean;  /* [c], from the last training forward */
    ns_buf *save_invstd;
    ns_act out;         /* [n][c][hw] */
    int sync;           /* 1: training statistics over every rank's rows (batchnorm_sync.h) */
} ns_batchnorm;

ns_status ns_batchnorm_create(ns_backend *be, ns_batchnorm *l, const char *name, int c, int relu);
void ns_batchnorm_destroy(ns_backend *be, ns_batchnorm *l);
/* training: batch statistics (running stats updated); else running stats. */
ns_status ns_batchnorm_forward(ns_backend *be, ns_batchnorm *l, const ns_buf *x, int n, int hw,
                               int training);
/* After a training forward on the same x: overwrites gamma/beta grads, writes dx.
 * With relu, dy is overwritten by the gradient through the ReLU. */
ns_status ns_batchnorm_backward(ns_backend *be, ns_batchnorm *l, const ns_buf *x, int n, int hw,
                                ns_buf *dy, ns_buf *dx);
/* The backend descriptor for an [n][c][hw] input (eps, momentum as above). */
ns_bn_desc ns_batchnorm_desc(const ns_batchnorm *l, int n, int hw);
/* gamma 1, beta 0, running mean 0, running var 1. */
ns_status ns_batchnorm_init(ns_backend *be, ns_batchnorm *l);

#endif
