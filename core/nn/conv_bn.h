/* conv -> BN [-> ReLU]: the unit every ResNet layer is made of. The unit's
 * output is bn.out; its input size is fixed when it is created. */
#ifndef NS_NN_CONV_BN_H
#define NS_NN_CONV_BN_H

#include "nn/batchnorm.h"
#include "nn/conv.h"

typedef struct ns_conv_bn {
    ns_conv conv;
    ns_batchnorm bn;
    int h, w; /* input spatial size */
    int p, q; /* output spatial size */
    ns_act fold_gamma, fold_beta; /* scale * gamma, scale * beta (ns_conv_bn_infer_fused) */
} ns_conv_bn;

/* Names "<prefix>.conv<suffix>" and "<prefix>.bn<suffix>" ("stage1.block0", "1"
 * gives stage1.block0.conv1 / bn1; suffix "" gives stem.conv / stem.bn). */
ns_status ns_conv_bn_create(ns_backend *be, ns_conv_bn *u, const char *prefix, const char *suffix,
                            int c, int k, int r, int stride, int relu, int h, int w);
void ns_conv_bn_destroy(ns_backend *be, ns_conv_bn *u);
/* bn.out = [relu](bn(conv(x))). At inference (training 0) a backend with the
 * conv2d_bn_infer slot does it in one call and conv.out is not used. */
ns_status ns_conv_bn_forward(ns_backend *be, ns_conv_bn *u, const ns_buf *x, int n, int training);
/* Inference through the backend's conv2d_bn_infer slot (the caller checks it is
 * not NULL): out = act(scale * bn_infer(conv(x)) + residual), residual may be
 * NULL, act the ReLU when relu != 0. out is reserved here (n*k*p*q floats).
 * scale != 1 (a per-batch drop-path branch at evaluation) is folded into the
 * batchnorm's affine part: scale*(gamma*xhat + beta) = (scale*gamma)*xhat +
 * scale*beta, exact in real arithmetic, so the fused call still does it in one
 * pass; the scaled gamma and beta are recomputed each call (2k floats) because
 * training changes gamma and beta between evaluations. */
ns_status ns_conv_bn_infer_fused(ns_backend *be, ns_conv_bn *u, const ns_buf *x, int n,
                                 const ns_buf *residual, int relu, float scale, ns_act *out);
/* dy (the gradient of bn.out) is overwritten when the unit has a ReLU; scratch
 * receives the BN input gradient (n*k*p*q floats); dx may be NULL. */
ns_status ns_conv_bn_backward(ns_backend *be, ns_conv_bn *u, const ns_buf *x, int n, ns_buf *dy,
                              ns_buf *scratch, ns_buf *dx);
/* Zeroes the unit's gradients (a branch that a per-batch drop-path skipped). */
ns_status ns_conv_bn_zero_grad(ns_backend *be, ns_conv_bn *u);
size_t ns_conv_bn_out_size(const ns_conv_bn *u); /* per image: k*p*q */

#endif
