/* cuDNN execution plans for convolutions, through the cuDNN graph (backend)
 * API: cuDNN 9 deprecates the legacy cudnnConvolution* calls, and this plugin
 * is compiled with -DCUDNN_WARN_DEPRECATED. One plan per (direction, shape,
 * data type), chosen once — by cuDNN's heuristic, then by timing the first
 * few candidates on the call's own buffers — and cached in the context. */
#ifndef NS_CUDA_CONV_PLAN_H
#define NS_CUDA_CONV_PLAN_H

#include "cuda_context.h"

typedef enum ns_cuda_conv_kind {
    NS_CUDA_CONV_FORWARD = 0,     /* y  = conv(x, w)        */
    NS_CUDA_CONV_BACKWARD_DATA,   /* dx = conv^T(dy, w)      */
    NS_CUDA_CONV_BACKWARD_FILTER  /* dw = corr(x, dy)        */
} ns_cuda_conv_kind;

/* Runs one convolution of `kind` on device pointers in the tensor roles of
 * the forward pass: x [n,c,h,w], w [k,c,r,s], y [n,k,p,q] (for backward-data
 * x is dx and y is dy; for backward-filter w is dw), all of `dtype`
 * (CUDNN_DATA_FLOAT, _HALF or _BFLOAT16) with float accumulation. The output
 * is overwritten. Builds and caches the plan on first use of the shape. */
ns_status ns_cuda_conv_run(ns_cuda_ctx *c, const char *op, ns_cuda_conv_kind kind,
                           const ns_conv_desc *d, cudnnDataType_t dtype, void *x, void *w, void *y);

/* Destroys every cached plan (context teardown). */
void ns_cuda_conv_plans_free(ns_cuda_ctx *c);

#endif
