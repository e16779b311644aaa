/* Spatial batch normalisation (training, inference, backward) on own kernels.
 * On the resident path (cuda_resident.h) an input that holds its content
 * exactly as a 16-bit NHWC tensor of this n and c (h*w = hw) is normalised in
 * 16 bits (k_bn16.cu: double sums, float arithmetic, one rounding per output)
 * and the output stays a 16-bit tensor of the same dims; statistics, gamma,
 * beta and their gradients are float32 always. Any other input takes the
 * float32 kernels (widened first when it is a 16-bit tensor of other dims). */
#include "cuda_context.h"
#include "cuda_ops.h"
#include "kernels.h"

static ns_status check_desc(ns_cuda_ctx *c, const char *op, const ns_bn_desc *d)
{
    if (!d) {
        c->host->set_error("%s: descriptor is NULL", op);
        return NS_ERR_INVALID_ARG;
    }
    if (d->n < 1 || d->c < 1 || d->hw < 1) {
        c->host->set_error("%s: n=%d c=%d hw=%d, expected all >= 1", op, d->n, d->c, d->hw);
        return NS_ERR_INVALID_ARG;
    }
    if (!(d->eps > 0.0f)) {
        c->host->set_error("%s: eps %g, expected > 0", op, (double)d->eps);
        return NS_ERR_INVALID_ARG;
    }
    return NS_OK;
}

/* 1 (and its dims) when x is an exact 16-bit tensor of this n, c, hw on the
 * resident path. */
static int use16(const ns_cuda_ctx *c, const ns_bn_desc *d, const ns_buf *x, int dims[4])
{
    return ns_cuda_resident16(c) && ns_cuda_res_h16_fits_bn(&x->res, d->n, d->c, d->hw, dims);
}

/* A zeroed double[2*c] accumulator in the scratch area. */
static ns_status zeroed_sums(ns_cuda_ctx *c, const char *op, int channels, double **acc)
{
    size_t bytes = 2 * (size_t)channels * sizeof(double);
    void *p;
    NS_CUDA_TRY(ns_cuda_scratch(c, op, bytes, &p));
    NS_CUDA_RT(c, op, cudaMemsetAsync(p, 0, bytes, c->stream));
    *acc = p;
    return NS_OK;
}

ns_status ns_cuda_batchnorm_forward_train(void *ctx, const ns_bn_desc *d, const ns_buf *x,
                                          const ns_buf *gamma, const ns_buf *beta,
                                          ns_buf *running_mean, ns_buf *running_var, ns_buf *y,
                                          ns_buf *save_mean, ns_buf *save_invstd)
{
    ns_cuda_ctx *c = ctx;
    const char *op = "batchnorm_forward_train";
    NS_CUDA_TRY(check_desc(c, op, d));
    size_t total = (size_t)d->n * d->c * d->hw, ch = (size_t)d->c;
    NS_CUDA_TRY(ns_cuda_need(c, op, "x", x, total));
    NS_CUDA_TRY(ns_cuda_need(c, op, "gamma", gamma, ch));
    NS_CUDA_TRY(ns_cuda_need(c, op, "beta", beta, ch));
    NS_CUDA_TRY(ns_cuda_need(c, op, "running_mean", running_mean, ch));
    NS_CUDA_TRY(ns_cuda_need(c, op, "running_var", running_var, ch));
    NS_CUDA_TRY(ns_cuda_need(c, op, "y", y, total));
    NS_CUDA_TRY(ns_cuda_need(c, op, "save_mean", save_mean, ch));
    NS_CUDA_TRY(ns_cuda_need(c, op, "save_invstd", save_invstd, ch));
    NS_CUDA_TRY(ns_cuda_enter(c, op));
    const float *gp, *bp;
    float *rm, *rv;
    NS_CUDA_TRY(ns_cuda_rd(c, op, gamma, &gp));
    NS_CUDA_TRY(ns_cuda_rd(c, op, beta, &bp));
    NS_CUDA_TRY(ns_cuda_rw(c, op, running_mean, &rm));
    NS_CUDA_TRY(ns_cuda_rw(c, op, running_var, &rv));
    double *acc;
    NS_CUDA_TRY(zeroed_sums(c, op, d->c, &acc));
    int dims[4];
    if (use16(c, d, x, dims)) {
        const void *xp;
        void *yp;
        NS_CUDA_TRY(ns_cuda_h16_rd(c, op, x, dims, 1, &xp));
        size_t rows = (size_t)d->n * d->hw;
        NS_CUDA_RT(c, op, ns_k_bn16_sums(c->stream, xp, rows, d->c, acc, ns_cuda_bf16(c)));
        float *sm = ns_cuda_wr(save_mean), *si = ns_cuda_wr(save_invstd);
        NS_CUDA_RT(c, op, ns_k_bn_finalize_train(c->stream, acc, d->c, (double)rows, d->eps,
                                                 d->momentum, rm, rv, sm, si));
        NS_CUDA_TRY(ns_cuda_h16_wr(c, op, y, dims, &yp)); /* after the read: y may be x */
        NS_CUDA_RT(c, op, ns_k_bn16_apply(c->stream, xp, yp, sm, si, gp, bp, rows, d->c,
                                          ns_cuda_bf16(c)));
        return NS_OK;
    }
    const float *xp;
    NS_CUDA_TRY(ns_cuda_rd(c, op, x, &xp));
    float *sm = ns_cuda_wr(save_mean), *si = ns_cuda_wr(save_invstd);
    NS_CUDA_RT(c, op, ns_k_bn_sums(c->stream, xp, d->n, d->c, d->hw, acc));
    NS_CUDA_RT(c, op, ns_k_bn_finalize_train(c->stream, acc, d->c, (double)d->n * d->hw, d->eps,
                                             d->momentum, rm, rv, sm, si));
    NS_CUDA_RT(c, op, ns_k_bn_apply(c->stream, xp, ns_cuda_wr(y), sm, si, gp, bp, d->n, d->c,
                                    d->hw));
    return NS_OK;
}

ns_status ns_cuda_batchnorm_forward_infer(void *ctx, const ns_bn_desc *d, const ns_buf *x,
                                          const ns_buf *gamma, const ns_buf *beta,
                                          const ns_buf *running_mean, const ns_buf *running_var,
                                          ns_buf *y)
{
    ns_cuda_ctx *c = ctx;
    const char *op = "batchnorm_forward_infer";
    NS_CUDA_TRY(check_desc(c, op, d));
    size_t total = (size_t)d->n * d->c * d->hw, ch = (size_t)d->c;
    NS_CUDA_TRY(ns_cuda_need(c, op, "x", x, total));
    NS_CUDA_TRY(ns_cuda_need(c, op, "gamma", gamma, ch));
    NS_CUDA_TRY(ns_cuda_need(c, op, "beta", beta, ch));
    NS_CUDA_TRY(ns_cuda_need(c, op, "running_mean", running_mean, ch));
    NS_CUDA_TRY(ns_cuda_need(c, op, "running_var", running_var, ch));
    NS_CUDA_TRY(ns_cuda_need(c, op, "y", y, total));
    NS_CUDA_TRY(ns_cuda_enter(c, op));
    const float *gp, *bp, *rm, *rv;
    NS_CUDA_TRY(ns_cuda_rd(c, op, gamma, &gp));
    NS_CUDA_TRY(ns_cuda_rd(c, op, beta, &bp));
    NS_CUDA_TRY(ns_cuda_rd(c, op, running_mean, &rm));
    NS_CUDA_TRY(ns_cuda_rd(c, op, running_var, &rv));
    int dims[4];
    if (use16(c, d, x, dims)) {
        const void *xp;
        void *yp;
        NS_CUDA_TRY(ns_cuda_h16_rd(c, op, x, dims, 1, &xp));
        NS_CUDA_TRY(ns_cuda_h16_wr(c, op, y, dims, &yp));
        NS_CUDA_RT(c, op, ns_k_bn16_infer(c->stream, xp, yp, rm, rv, gp, bp, d->eps,
                                          (size_t)d->n * d->hw, d->c, ns_cuda_bf16(c)));
        return NS_OK;
    }
    const float *xp;
    NS_CUDA_TRY(ns_cuda_rd(c, op, x, &xp));
    NS_CUDA_RT(c, op, ns_k_bn_infer(c->stream, xp, ns_cuda_wr(y), rm, rv, gp, bp, d->eps, d->n,
                                    d->c, d->hw));
    return NS_OK;
}

ns_status ns_cuda_batchnorm_backward(void *ctx, const ns_bn_desc *d, const ns_buf *x,
                                     const ns_buf *dy, const ns_buf *gamma,
                                     const ns_buf *save_mean, const ns_buf *save_invstd,
                                     ns_buf *dx, ns_buf *dgamma, ns_buf *dbeta)
{
    ns_cuda_ctx *c = ctx;
    const char *op = "batchnorm_backward";
    NS_CUDA_TRY(check_desc(c, op, d));
    size_t total = (size_t)d->n * d->c * d->hw, ch = (size_t)d->c;
    NS_CUDA_TRY(ns_cuda_need(c, op, "x", x, total));
    NS_CUDA_TRY(ns_cuda_need(c, op, "dy", dy, total));
    NS_CUDA_TRY(ns_cuda_need(c, op, "gamma", gamma, ch));
    NS_CUDA_TRY(ns_cuda_need(c, op, "save_mean", save_mean, ch));
    NS_CUDA_TRY(ns_cuda_need(c, op, "save_invstd", save_invstd, ch));
    NS_CUDA_TRY(ns_cuda_need(c, op, "dx", dx, total));
    NS_CUDA_TRY(ns_cuda_need(c, op, "dgamma", dgamma, ch));
    NS_CUDA_TRY(ns_cuda_need(c, op, "dbeta", dbeta, ch));
    NS_CUDA_TRY(ns_cuda_enter(c, op));
    const float *gp, *sm, *si;
    NS_CUDA_TRY(ns_cuda_rd(c, op, gamma, &gp));
    NS_CUDA_TRY(ns_cuda_rd(c, op, save_mean, &sm));
    NS_CUDA_TRY(ns_cuda_rd(c, op, save_invstd, &si));
    double *acc;
    NS_CUDA_TRY(zeroed_sums(c, op, d->c, &acc));
    int dims[4], dims_dy[4];
    /* both x and dy exact 16-bit tensors of the same dims */
    if (use16(c, d, x, dims) && use16(c, d, dy, dims_dy) && dims[2] == dims_dy[2] &&
        dims[3] == dims_dy[3]) {
        const void *xp, *dyp;
        void *dxp;
        NS_CUDA_TRY(ns_cuda_h16_rd(c, op, x, dims, 1, &xp));
        NS_CUDA_TRY(ns_cuda_h16_rd(c, op, dy, dims, 1, &dyp));
        size_t rows = (size_t)d->n * d->hw;
        NS_CUDA_RT(c, op, ns_k_bn16_backward_sums(c->stream, xp, dyp, sm, si, rows, d->c, acc,
                                                  ns_cuda_bf16(c)));
        NS_CUDA_TRY(ns_cuda_h16_wr(c, op, dx, dims, &dxp));
        NS_CUDA_RT(c, op, ns_k_bn16_backward_dx(c->stream, xp, dyp, sm, si, gp, acc, rows, d->c,
                                                dxp, ns_cuda_wr(dgamma), ns_cuda_wr(dbeta),
                                                ns_cuda_bf16(c)));
        return NS_OK;
    }
    const float *xp, *dyp;
    NS_CUDA_TRY(ns_cuda_rd(c, op, x, &xp));
    NS_CUDA_TRY(ns_cuda_rd(c, op, dy, &dyp));
    NS_CUDA_RT(c, op, ns_k_bn_backward_sums(c->stream, xp, dyp, sm, si, d->n, d->c, d->hw, acc));
    NS_CUDA_RT(c, op, ns_k_bn_backward_dx(c->stream, xp, dyp, sm, si, gp, acc, d->n, d->c, d->hw,
                                          ns_cuda_wr(dx), ns_cuda_wr(dgamma), ns_cuda_wr(dbeta)));
    return NS_OK;
}
