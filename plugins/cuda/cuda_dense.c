/* Fully connected layer through cuBLAS SGEMM. cuBLAS is column-major, so the
 * row-major arrays are read as their transposes:
 *   x[n][in]   -> x_cm  (in x n),   w[out][in] -> w_cm (in x out),
 *   y[n][out]  -> y_cm  (out x n).
 * Forward y_cm = w_cm^T x_cm; dx_cm = w_cm dy_cm; dw_cm = x_cm dy_cm^T. */
#include "cuda_context.h"
#include "cuda_ops.h"
#include "kernels.h"

static ns_status check_desc(ns_cuda_ctx *c, const char *op, const ns_dense_desc *d)
{
    if (!d) {
        c->host->set_error("%s: descriptor is NULL", op);
        return NS_ERR_INVALID_ARG;
    }
    if (d->n < 1 || d->in < 1 || d->out < 1) {
        c->host->set_error("%s: n=%d in=%d out=%d, expected all >= 1", op, d->n, d->in, d->out);
        return NS_ERR_INVALID_ARG;
    }
    return NS_OK;
}

ns_status ns_cuda_dense_forward(void *ctx, const ns_dense_desc *d, const ns_buf *x,
                                const ns_buf *w, const ns_buf *b, ns_buf *y)
{
    ns_cuda_ctx *c = ctx;
    const char *op = "dense_forward";
    NS_CUDA_TRY(check_desc(c, op, d));
    size_t n = (size_t)d->n, in = (size_t)d->in, out = (size_t)d->out;
    NS_CUDA_TRY(ns_cuda_need(c, op, "x", x, n * in));
    NS_CUDA_TRY(ns_cuda_need(c, op, "w", w, out * in));
    if (b)
        NS_CUDA_TRY(ns_cuda_need(c, op, "b", b, out));
    NS_CUDA_TRY(ns_cuda_need(c, op, "y", y, n * out));
    NS_CUDA_TRY(ns_cuda_enter(c, op));
    const float *xp, *wp, *bp = NULL;
    NS_CUDA_TRY(ns_cuda_rd(c, op, x, &xp));
    NS_CUDA_TRY(ns_cuda_rd(c, op, w, &wp));
    if (b)
        NS_CUDA_TRY(ns_cuda_rd(c, op, b, &bp));
    float *yp = ns_cuda_wr(y);
    const float one = 1.0f, zero = 0.0f;
    NS_CUDA_BLAS(c, op, cublasSgemm(c->cublas, CUBLAS_OP_T, CUBLAS_OP_N, d->out, d->n, d->in, &one,
                                    wp, d->in, xp, d->in, &zero, yp, d->out));
    if (b)
        NS_CUDA_RT(c, op, ns_k_bias_add(c->stream, yp, bp, n, out));
    return NS_OK;
}

ns_status ns_cuda_dense_backward(void *ctx, const ns_dense_desc *d, const ns_buf *x,
                                 const ns_buf *w, const ns_buf *dy, ns_buf *dx, ns_buf *dw,
                                 ns_buf *db)
{
    ns_cuda_ctx *c = ctx;
    const char *op = "dense_backward";
    NS_CUDA_TRY(check_desc(c, op, d));
    size_t n = (size_t)d->n, in = (size_t)d->in, out = (size_t)d->out;
    NS_CUDA_TRY(ns_cuda_need(c, op, "x", x, n * in));
    NS_CUDA_TRY(ns_cuda_need(c, op, "w", w, out * in));
    NS_CUDA_TRY(ns_cuda_need(c, op, "dy", dy, n * out));
    NS_CUDA_TRY(ns_cuda_need(c, op, "dw", dw, out * in));
    if (dx)
        NS_CUDA_TRY(ns_cuda_need(c, op, "dx", dx, n * in));
    if (db)
        NS_CUDA_TRY(ns_cuda_need(c, op, "db", db, out));
    NS_CUDA_TRY(ns_cuda_enter(c, op));
    const float *xp, *wp, *dyp;
    NS_CUDA_TRY(ns_cuda_rd(c, op, x, &xp));
    NS_CUDA_TRY(ns_cuda_rd(c, op, w, &wp));
    NS_CUDA_TRY(ns_cuda_rd(c, op, dy, &dyp));
    const float one = 1.0f, zero = 0.0f;
    if (dx)
        NS_CUDA_BLAS(c, op, cublasSgemm(c->cublas, CUBLAS_OP_N, CUBLAS_OP_N, d->in, d->n, d->out,
                                        &one, wp, d->in, dyp, d->out, &zero, ns_cuda_wr(dx),
                                        d->in));
    NS_CUDA_BLAS(c, op, cublasSgemm(c->cublas, CUBLAS_OP_N, CUBLAS_OP_T, d->in, d->out, d->n, &one,
                                    xp, d->in, dyp, d->out, &zero, ns_cuda_wr(dw), d->in));
    if (db)
        NS_CUDA_RT(c, op, ns_k_column_sum(c->stream, dyp, ns_cuda_wr(db), n, out));
    return NS_OK;
}
