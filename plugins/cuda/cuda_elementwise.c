/* Element-wise ops and dropout/drop-path masks. All of these may alias as
 * backend.h allows: each output element depends only on the same element of
 * the inputs (or, for mul_rows, on a separate scale vector).
 *
 * relu (both ways), add, axpby and mul_rows (whose per-sample scale stays
 * float32) run on the 16-bit copies when every tensor input
 * holds its content exactly in 16 bits with the same dims covering n
 * (ns_cuda_res_elementwise16): the output is then the float result rounded
 * once, written as a 16-bit tensor of those dims. Otherwise, and always for
 * mul and masks (a float32 mask in NCHW order meets the tensor element by
 * element), the float32 path, which widens any 16-bit input first. */
#include "cuda_context.h"
#include "cuda_ops.h"
#include "kernels.h"

/* 1 (and the dims) when the k inputs qualify for the 16-bit path. */
static int use16(const ns_cuda_ctx *c, const ns_buf *const *in, int k, size_t n, int dims[4])
{
    if (!ns_cuda_resident16(c))
        return 0;
    const ns_cuda_res *r[3];
    for (int i = 0; i < k; i++)
        r[i] = &in[i]->res;
    return ns_cuda_res_elementwise16(r, k, n, dims);
}

/* The 16-bit copies of the k inputs (exact, as use16 found them) and the
 * output's 16-bit storage as the same dims. Reads first: y may be an input. */
static ns_status io16(ns_cuda_ctx *c, const char *op, const ns_buf *const *in, int k, ns_buf *y,
                      const int dims[4], const void **ip, void **yp)
{
    for (int i = 0; i < k; i++)
        NS_CUDA_TRY(ns_cuda_h16_rd(c, op, in[i], dims, 1, &ip[i]));
    return ns_cuda_h16_wr(c, op, y, dims, yp);
}

ns_status ns_cuda_relu_forward(void *ctx, const ns_buf *x, ns_buf *y, size_t n)
{
    ns_cuda_ctx *c = ctx;
    const char *op = "relu_forward";
    NS_CUDA_TRY(ns_cuda_need(c, op, "x", x, n));
    NS_CUDA_TRY(ns_cuda_need(c, op, "y", y, n));
    NS_CUDA_TRY(ns_cuda_enter(c, op));
    const ns_buf *in[1] = {x};
    int dims[4];
    if (use16(c, in, 1, n, dims)) {
        const void *ip[1];
        void *yp;
        NS_CUDA_TRY(io16(c, op, in, 1, y, dims, ip, &yp));
        NS_CUDA_RT(c, op, ns_k16_relu_forward(c->stream, ip[0], yp, n, ns_cuda_bf16(c)));
        return NS_OK;
    }
    const float *xp;
    NS_CUDA_TRY(ns_cuda_rd(c, op, x, &xp));
    NS_CUDA_RT(c, op, ns_k_relu_forward(c->stream, xp, ns_cuda_wr(y), n));
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
    const ns_buf *in[2] = {y, dy};
    int dims[4];
    if (use16(c, in, 2, n, dims)) {
        const void *ip[2];
        void *dxp;
        NS_CUDA_TRY(io16(c, op, in, 2, dx, dims, ip, &dxp));
        NS_CUDA_RT(c, op, ns_k16_relu_backward(c->stream, ip[0], ip[1], dxp, n, ns_cuda_bf16(c)));
        return NS_OK;
    }
    const float *yp, *dyp;
    NS_CUDA_TRY(ns_cuda_rd(c, op, y, &yp));
    NS_CUDA_TRY(ns_cuda_rd(c, op, dy, &dyp));
    NS_CUDA_RT(c, op, ns_k_relu_backward(c->stream, yp, dyp, ns_cuda_wr(dx), n));
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
    const ns_buf *in[2] = {a, b};
    int dims[4];
    if (use16(c, in, 2, n, dims)) {
        const void *ip[2];
        void *yp;
        NS_CUDA_TRY(io16(c, op, in, 2, y, dims, ip, &yp));
        NS_CUDA_RT(c, op, ns_k16_add(c->stream, ip[0], ip[1], yp, n, ns_cuda_bf16(c)));
        return NS_OK;
    }
    const float *ap, *bp;
    NS_CUDA_TRY(ns_cuda_rd(c, op, a, &ap));
    NS_CUDA_TRY(ns_cuda_rd(c, op, b, &bp));
    NS_CUDA_RT(c, op, ns_k_add(c->stream, ap, bp, ns_cuda_wr(y), n));
    return NS_OK;
}

ns_status ns_cuda_axpby(void *ctx, const ns_buf *x, ns_buf *y, size_t n, float alpha, float beta)
{
    ns_cuda_ctx *c = ctx;
    const char *op = "axpby";
    NS_CUDA_TRY(ns_cuda_need(c, op, "x", x, n));
    NS_CUDA_TRY(ns_cuda_need(c, op, "y", y, n));
    NS_CUDA_TRY(ns_cuda_enter(c, op));
    /* beta == 0 never reads y (backend.h), so y is an input only otherwise */
    const ns_buf *in[2] = {x, y};
    int k = beta == 0.0f ? 1 : 2, dims[4];
    if (use16(c, in, k, n, dims)) {
        const void *ip[2];
        void *yp;
        NS_CUDA_TRY(io16(c, op, in, k, y, dims, ip, &yp));
        NS_CUDA_RT(c, op, ns_k16_axpby(c->stream, ip[0], yp, n, alpha, beta, ns_cuda_bf16(c)));
        return NS_OK;
    }
    const float *xp;
    float *yp;
    NS_CUDA_TRY(ns_cuda_rd(c, op, x, &xp));
    if (beta == 0.0f)
        yp = ns_cuda_wr(y);
    else
        NS_CUDA_TRY(ns_cuda_rw(c, op, y, &yp));
    NS_CUDA_RT(c, op, ns_k_axpby(c->stream, xp, yp, n, alpha, beta));
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
    const float *ap, *bp;
    NS_CUDA_TRY(ns_cuda_rd(c, op, a, &ap));
    NS_CUDA_TRY(ns_cuda_rd(c, op, b, &bp));
    NS_CUDA_RT(c, op, ns_k_mul(c->stream, ap, bp, ns_cuda_wr(y), n));
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
    const float *xp, *sp;
    NS_CUDA_TRY(ns_cuda_rd(c, op, scale, &sp));
    /* stochastic depth on a 16-bit tensor of `rows` samples: the sample is
     * the outermost dim in NHWC too, so row r is still elements
     * [r*cols, (r+1)*cols); the float32 scale is applied unrounded */
    const ns_buf *in[1] = {x};
    int dims[4];
    if (use16(c, in, 1, rows * cols, dims) && (size_t)dims[0] == rows) {
        const void *ip[1];
        void *yp;
        NS_CUDA_TRY(io16(c, op, in, 1, y, dims, ip, &yp));
        NS_CUDA_RT(c, op, ns_k16_mul_rows(c->stream, ip[0], sp, yp, rows, cols, ns_cuda_bf16(c)));
        return NS_OK;
    }
    NS_CUDA_TRY(ns_cuda_rd(c, op, x, &xp));
    NS_CUDA_RT(c, op, ns_k_mul_rows(c->stream, xp, sp, ns_cuda_wr(y), rows, cols));
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
    NS_CUDA_RT(c, op, ns_k_mask_bernoulli(c->stream, ns_cuda_wr(mask), n, keep_prob, scale, seed, stream));
    return NS_OK;
}
