/* Spatial batch normalisation (training, inference, backward) on own kernels. */
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
    double *acc;
    NS_CUDA_TRY(zeroed_sums(c, op, d->c, &acc));
    NS_CUDA_RT(c, op, ns_k_bn_sums(c->stream, x->ptr, d->n, d->c, d->hw, acc));
    NS_CUDA_RT(c, op, ns_k_bn_finalize_train(c->stream, acc, d->c, (double)d->n * d->hw, d->eps,
                                             d->momentum, running_mean->ptr, running_var->ptr,
                                             save_mean->ptr, save_invstd->ptr));
    NS_CUDA_RT(c, op, ns_k_bn_apply(c->stream, x->ptr, y->ptr, save_mean->ptr, save_invstd->ptr,
                                    gamma->ptr, beta->ptr, d->n, d->c, d->hw));
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
    NS_CUDA_RT(c, op, ns_k_bn_infer(c->stream, x->ptr, y->ptr, running_mean->ptr, running_var->ptr,
                                    gamma->ptr, beta->ptr, d->eps, d->n, d->c, d->hw));
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
    double *acc;
    NS_CUDA_TRY(zeroed_sums(c, op, d->c, &acc));
    NS_CUDA_RT(c, op, ns_k_bn_backward_sums(c->stream, x->ptr, dy->ptr, save_mean->ptr,
                                            save_invstd->ptr, d->n, d->c, d->hw, acc));
    NS_CUDA_RT(c, op, ns_k_bn_backward_dx(c->stream, x->ptr, dy->ptr, save_mean->ptr,
                                          save_invstd->ptr, gamma->ptr, acc, d->n, d->c, d->hw,
                                          dx->ptr, dgamma->ptr, dbeta->ptr));
    return NS_OK;
}
