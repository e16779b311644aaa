/* Global average pooling over H*W. */
#include "cuda_context.h"
#include "cuda_ops.h"
#include "kernels.h"

static ns_status check_dims(ns_cuda_ctx *c, const char *op, int n, int cc, int hw)
{
    if (n < 0 || cc < 0 || hw <= 0) {
        c->host->set_error("%s: n=%d c=%d hw=%d, expected n >= 0, c >= 0, hw >= 1", op, n, cc, hw);
        return NS_ERR_INVALID_ARG;
    }
    return NS_OK;
}

ns_status ns_cuda_global_avg_pool_forward(void *ctx, const ns_buf *x, ns_buf *y, int n, int c_,
                                          int hw)
{
    ns_cuda_ctx *c = ctx;
    const char *op = "global_avg_pool_forward";
    NS_CUDA_TRY(check_dims(c, op, n, c_, hw));
    size_t rows = (size_t)n * (size_t)c_;
    NS_CUDA_TRY(ns_cuda_need(c, op, "x", x, rows * (size_t)hw));
    NS_CUDA_TRY(ns_cuda_need(c, op, "y", y, rows));
    NS_CUDA_TRY(ns_cuda_enter(c, op));
    const float *xp;
    NS_CUDA_TRY(ns_cuda_rd(c, op, x, &xp));
    NS_CUDA_RT(c, op, ns_k_gap_forward(c->stream, xp, ns_cuda_wr(y), rows, (size_t)hw));
    return NS_OK;
}

ns_status ns_cuda_global_avg_pool_backward(void *ctx, const ns_buf *dy, ns_buf *dx, int n, int c_,
                                           int hw)
{
    ns_cuda_ctx *c = ctx;
    const char *op = "global_avg_pool_backward";
    NS_CUDA_TRY(check_dims(c, op, n, c_, hw));
    size_t rows = (size_t)n * (size_t)c_;
    NS_CUDA_TRY(ns_cuda_need(c, op, "dy", dy, rows));
    NS_CUDA_TRY(ns_cuda_need(c, op, "dx", dx, rows * (size_t)hw));
    NS_CUDA_TRY(ns_cuda_enter(c, op));
    const float *dyp;
    NS_CUDA_TRY(ns_cuda_rd(c, op, dy, &dyp));
    NS_CUDA_RT(c, op, ns_k_gap_backward(c->stream, dyp, ns_cuda_wr(dx), rows, (size_t)hw));
    return NS_OK;
}
