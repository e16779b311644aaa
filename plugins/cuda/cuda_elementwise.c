/* Element-wise ops and dropout/drop-path masks. All of these may alias as
 * backend.h allows: each output element depends only on the same element of
 * the inputs (or, for mul_rows, on a separate scale vector). */
#include "cuda_context.h"
#include "cuda_ops.h"
#include "kernels.h"

ns_status ns_cuda_relu_forward(void *ctx, const ns_buf *x, ns_buf *y, size_t n)
{
    ns_cuda_ctx *c = ctx;
    const char *op = "relu_forward";
    NS_CUDA_TRY(ns_cuda_need(c, op, "x", x, n));
    NS_CUDA_TRY(ns_cuda_need(c, op, "y", y, n));
    NS_CUDA_TRY(ns_cuda_enter(c, op));
    NS_CUDA_RT(c, op, ns_k_relu_forward(c->stream, x->ptr, y->ptr, n));
    return NS_OK;
}

ns_status ns_cuda_relu_backward(void *ctx, const ns_buf *y, const ns_buf *dy, ns_buf *dx, size_t n)
{
    ns_cuda_ctx *c = ctx;
    const char *op = "relu_backward";
    NS_CUDA_TRY(ns_cuda_need(c, op, "y", y, n));
    NS_CUDA_TRY(ns_cuda_need(c, op, "dy", dy, n));
    NS_CUDA_TRY(ns_cuda_need(c, op, "dx", dx, n));
    NS_CUDA_TRY(ns_cuda_enter(c, op));
    NS_CUDA_RT(c, op, ns_k_relu_backward(c->stream, y->ptr, dy->ptr, dx->ptr, n));
    return NS_OK;
}

ns_status ns_cuda_add(void *ctx, const ns_buf *a, const ns_buf *b, ns_buf *y, size_t n)
{
    ns_cuda_ctx *c = ctx;
    const char *op = "add";
    NS_CUDA_TRY(ns_cuda_need(c, op, "a", a, n));
    NS_CUDA_TRY(ns_cuda_need(c, op, "b", b, n));
    NS_CUDA_TRY(ns_cuda_need(c, op, "y", y, n));
    NS_CUDA_TRY(ns_cuda_enter(c, op));
    NS_CUDA_RT(c, op, ns_k_add(c->stream, a->ptr, b->ptr, y->ptr, n));
    return NS_OK;
}

ns_status ns_cuda_axpby(void *ctx, const ns_buf *x, ns_buf *y, size_t n, float alpha, float beta)
{
    ns_cuda_ctx *c = ctx;
    const char *op = "axpby";
    NS_CUDA_TRY(ns_cuda_need(c, op, "x", x, n));
    NS_CUDA_TRY(ns_cuda_need(c, op, "y", y, n));
    NS_CUDA_TRY(ns_cuda_enter(c, op));
    NS_CUDA_RT(c, op, ns_k_axpby(c->stream, x->ptr, y->ptr, n, alpha, beta));
    return NS_OK;
}

ns_status ns_cuda_mul(void *ctx, const ns_buf *a, const ns_buf *b, ns_buf *y, size_t n)
{
    ns_cuda_ctx *c = ctx;
    const char *op = "mul";
    NS_CUDA_TRY(ns_cuda_need(c, op, "a", a, n));
    NS_CUDA_TRY(ns_cuda_need(c, op, "b", b, n));
    NS_CUDA_TRY(ns_cuda_need(c, op, "y", y, n));
    NS_CUDA_TRY(ns_cuda_enter(c, op));
    NS_CUDA_RT(c, op, ns_k_mul(c->stream, a->ptr, b->ptr, y->ptr, n));
    return NS_OK;
}

ns_status ns_cuda_mul_rows(void *ctx, const ns_buf *x, const ns_buf *scale, ns_buf *y, size_t rows,
                           size_t cols)
{
    ns_cuda_ctx *c = ctx;
    const char *op = "mul_rows";
    if (cols != 0 && rows > SIZE_MAX / cols) {
        c->host->set_error("mul_rows: rows %zu * cols %zu overflows", rows, cols);
        return NS_ERR_INVALID_ARG;
    }
    NS_CUDA_TRY(ns_cuda_need(c, op, "x", x, rows * cols));
    NS_CUDA_TRY(ns_cuda_need(c, op, "scale", scale, rows));
    NS_CUDA_TRY(ns_cuda_need(c, op, "y", y, rows * cols));
    NS_CUDA_TRY(ns_cuda_enter(c, op));
    NS_CUDA_RT(c, op, ns_k_mul_rows(c->stream, x->ptr, scale->ptr, y->ptr, rows, cols));
    return NS_OK;
}

ns_status ns_cuda_mask_bernoulli(void *ctx, ns_buf *mask, size_t n, float keep_prob, float scale,
                                 uint64_t seed, uint64_t stream)
{
    ns_cuda_ctx *c = ctx;
    const char *op = "mask_bernoulli";
    NS_CUDA_TRY(ns_cuda_need(c, op, "mask", mask, n));
    if (!(keep_prob >= 0.0f && keep_prob <= 1.0f)) {
        c->host->set_error("mask_bernoulli: keep_prob %g outside [0, 1]", (double)keep_prob);
        return NS_ERR_INVALID_ARG;
    }
    NS_CUDA_TRY(ns_cuda_enter(c, op));
    NS_CUDA_RT(c, op, ns_k_mask_bernoulli(c->stream, mask->ptr, n, keep_prob, scale, seed, stream));
    return NS_OK;
}
