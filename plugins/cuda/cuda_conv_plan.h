/* cuDNN execution plans for convolutions, through the cuDNN graph (backend)
 * API: cuDNN 9 deprecates the legacy cudnnConvolution* calls, and this plugin
 * is compiled with -DCUDNN_WARN_DEPRECATED. One plan per (direction, shape,
 * data type, layout: cuda_plan_key.h), chosen once — by cuDNN's heuristic, then by timing the first
 * few candidates on the call's own buffers — and cached in the context. */
#ifndef NS_CUDA_CONV_PLAN_H
#define NS_CUDA_CONV_PLAN_H

#include "cuda_context.h"
#include "cuda_plan_key.h"

typedef enum ns_cuda_conv_kind {
    NS_CUDA_CONV_FORWARD = 0,     /* y  = conv(x, w)        */
    NS_CUDA_CONV_BACKWARD_DATA,   /* dx = conv^T(dy, w)      */
    NS_CUDA_CONV_BACKWARD_FILTER  /* dw = corr(x, dy)        */
} ns_cuda_conv_kind;

/* Runs one convolution of `kind` on device pointers in the tensor roles of
 * the forward pass: x [n,c,h,w], w [k,c,r,s], y [n,k,p,q] (for backward-data
 * x is dx and y is dy; for backward-filter w is dw), all of `dtype`
 * (CUDNN_DATA_FLOAT, _HALF or _BFLOAT16) with float accumulation, in
 * `layout` (NS_CUDA_LAYOUT_NCHW or _NHWC, cuda_plan_key.h: the same layout
 * for all three). The output is overwritten. Builds and caches the plan on
 * first use of the key, and keeps the variant pack of each pointer tuple.
 * NS_ERR_UNSUPPORTED (error set) when cuDNN has no engine for the key, or
 * for an NHWC key when building its plan fails in any way (logged at level
 * 1 with cuDNN's reason); that answer is cached too, so the caller falls
 * back cheaply on every call. */
ns_status ns_cuda_conv_run(ns_cuda_ctx *c, const char *op, ns_cuda_conv_kind kind,
                           const ns_conv_desc *d, cudnnDataType_t dtype, int layout, void *x,
                           void *w, void *y);

/* Destroys every cached plan (context teardown). */
void ns_cuda_conv_plans_free(ns_cuda_ctx *c);

#endif
