/* Spatial batch normalisation, computed in the layout the input arrives in
 * (a blocked convolution output is normalised without a reorder) by the
 * loops of cpu_bn_kernels.c. Statistics are accumulated in double. */
#include <math.h>
#include <string.h>

#include "cpu_bn_kernels.h"
#include "cpu_internal.h"

static ns_status bn_check(cpu_ctx *ctx, const char *op, const ns_bn_desc *d)
{
    if (!d)
        return cpu_fail(ctx, NS_ERR_INVALID_ARG, "%s: descriptor is NULL", op);
    if (d->n <= 0 || d->c <= 0 || d->hw <= 0)
        return cpu_fail(ctx, NS_ERR_INVALID_ARG, "%s: non-positive dimension in n=%d c=%d hw=%d",
                        op, d->n, d->c, d->hw);
    if (!(d->eps > 0.0f))
        return cpu_fail(ctx, NS_ERR_INVALID_ARG, "%s: eps %g must be positive", op, d->eps);
    return NS_OK;
}

/* x's layout when the kernels support it; otherwise x goes plain. */
static ns_status bn_layout(cpu_ctx *ctx, const ns_bn_desc *d, ns_buf *x, cpu_bn_layout *L)
{
    if (cpu_bn_layout_of(x, d, L))
        return NS_OK;
    CPU_TRY(cpu_buf_to_plain(ctx, x));
    cpu_bn_layout_of(x, d, L);
    return NS_OK;
}

/* Gives `other` x's layout (when other is not x). */
static ns_status bn_like(cpu_ctx *ctx, ns_buf *x, ns_buf *other, int is_output)
{
    if (other == x)
        return NS_OK;
    if (x->has_md && !cpu_md_is_plain(&x->md))
        return is_output ? cpu_buf_prepare_md(ctx, other, &x->md) : cpu_buf_to_md(ctx, other, &x->md);
    return is_output ? cpu_buf_prepare_plain(ctx, other) : cpu_buf_to_plain(ctx, other);
}

/* Plain view of a [C] vector argument. */
static ns_status bn_vec(cpu_ctx *ctx, const char *op, const char *name, const ns_buf *b, int c,
                        int out)
{
    CPU_TRY(cpu_check_buf(ctx, op, name, b, (size_t)c));
    return out ? cpu_buf_prepare_plain(ctx, cpu_mut(b)) : cpu_buf_to_plain(ctx, cpu_mut(b));
}

/* Workspace: partials and per-channel doubles, then per-channel floats. */
typedef struct bn_work {
    double *part, *d0, *d1;      /* part: 2*threads*cp; d0: cp; d1: 2*cp */
    float *f0, *f1, *f2, *f3;    /* cp each, zeroed */
} bn_work;

static ns_status bn_work_get(cpu_ctx *ctx, const char *op, const cpu_bn_layout *L, bn_work *w)
{
    size_t cp = (size_t)L->cblocks * L->block;
    size_t nd = 2 * (size_t)ctx->threads * cp + 3 * cp, nf = 4 * cp;
    char *m = cpu_tmp(ctx, 2, nd * sizeof(double) + nf * sizeof(float), op);
    if (!m)
        return NS_ERR_NOMEM;
    w->part = (double *)m;
    w->d0 = w->part + 2 * (size_t)ctx->threads * cp;
    w->d1 = w->d0 + cp;
    w->f0 = (float *)(w->d1 + 2 * cp);
    w->f1 = w->f0 + cp;
    w->f2 = w->f1 + cp;
    w->f3 = w->f2 + cp;
    memset(w->f0, 0, nf * sizeof(float));
    return NS_OK;
}

ns_status cpu_batchnorm_forward_train(void *vctx, const ns_bn_desc *d, const ns_buf *x,
                                      const ns_buf *gamma, const ns_buf *beta,
                                      ns_buf *running_mean, ns_buf *running_var, ns_buf *y,
                                      ns_buf *save_mean, ns_buf *save_invstd)
{
    cpu_ctx *ctx = vctx;
    const char *op = "batchnorm_forward_train";
    cpu_enter(ctx);
    CPU_TRY(bn_check(ctx, op, d));
    size_t count = (size_t)d->n * d->c * d->hw;
    CPU_TRY(cpu_check_buf(ctx, op, "x", x, count));
    CPU_TRY(cpu_check_buf(ctx, op, "y", y, count));
    CPU_TRY(bn_vec(ctx, op, "gamma", gamma, d->c, 0));
    CPU_TRY(bn_vec(ctx, op, "beta", beta, d->c, 0));
    CPU_TRY(bn_vec(ctx, op, "running_mean", running_mean, d->c, 0));
    CPU_TRY(bn_vec(ctx, op, "running_var", running_var, d->c, 0));
    CPU_TRY(bn_vec(ctx, op, "save_mean", save_mean, d->c, 1));
    CPU_TRY(bn_vec(ctx, op, "save_invstd", save_invstd, d->c, 1));
    ns_buf *X = cpu_mut(x);
    cpu_bn_layout L;
    CPU_TRY(bn_layout(ctx, d, X, &L));
    bn_work w;
    CPU_TRY(bn_work_get(ctx, op, &L, &w));
    cpu_bn_stats(&L, X->data, w.d0, w.d1, w.part, ctx->threads);
    double m = (double)d->n * d->hw;
    float unbias = m > 1.0 ? (float)(m / (m - 1.0)) : 1.0f;
    float mom = d->momentum;
    for (int c = 0; c < d->c; c++) {
        float mean = (float)w.d0[c], var = (float)w.d1[c];
        float invstd = 1.0f / sqrtf(var + d->eps);
        save_mean->data[c] = mean;
        save_invstd->data[c] = invstd;
        running_mean->data[c] = (1.0f - mom) * running_mean->data[c] + mom * mean;
        running_var->data[c] = (1.0f - mom) * running_var->data[c] + mom * var * unbias;
        w.f0[c] = mean;
        w.f1[c] = gamma->data[c] * invstd;
        w.f2[c] = beta->data[c];
    }
    CPU_TRY(bn_like(ctx, X, y, 1));
    cpu_bn_affine(&L, X->data, w.f0, w.f1, w.f2, y->data);
    return NS_OK;
}

ns_status cpu_batchnorm_forward_infer(void *vctx, const ns_bn_desc *d, const ns_buf *x,
                                      const ns_buf *gamma, const ns_buf *beta,
                                      const ns_buf *running_mean, const ns_buf *running_var,
                                      ns_buf *y)
{
    cpu_ctx *ctx = vctx;
    const char *op = "batchnorm_forward_infer";
    cpu_enter(ctx);
    CPU_TRY(bn_check(ctx, op, d));
    size_t count = (size_t)d->n * d->c * d->hw;
    CPU_TRY(cpu_check_buf(ctx, op, "x", x, count));
    CPU_TRY(cpu_check_buf(ctx, op, "y", y, count));
    CPU_TRY(bn_vec(ctx, op, "gamma", gamma, d->c, 0));
    CPU_TRY(bn_vec(ctx, op, "beta", beta, d->c, 0));
    CPU_TRY(bn_vec(ctx, op, "running_mean", running_mean, d->c, 0));
    CPU_TRY(bn_vec(ctx, op, "running_var", running_var, d->c, 0));
    ns_buf *X = cpu_mut(x);
    cpu_bn_layout L;
    CPU_TRY(bn_layout(ctx, d, X, &L));
    bn_work w;
    CPU_TRY(bn_work_get(ctx, op, &L, &w));
    for (int c = 0; c < d->c; c++) {
        w.f0[c] = running_mean->data[c];
        w.f1[c] = gamma->data[c] / sqrtf(running_var->data[c] + d->eps);
        w.f2[c] = beta->data[c];
    }
    CPU_TRY(bn_like(ctx, X, y, 1));
    cpu_bn_affine(&L, X->data, w.f0, w.f1, w.f2, y->data);
    return NS_OK;
}

ns_status cpu_batchnorm_backward(void *vctx, const ns_bn_desc *d, const ns_buf *x,
                                 const ns_buf *dy, const ns_buf *gamma, const ns_buf *save_mean,
                                 const ns_buf *save_invstd, ns_buf *dx, ns_buf *dgamma,
                                 ns_buf *dbeta)
{
    cpu_ctx *ctx = vctx;
    const char *op = "batchnorm_backward";
    cpu_enter(ctx);
    CPU_TRY(bn_check(ctx, op, d));
    size_t count = (size_t)d->n * d->c * d->hw;
    CPU_TRY(cpu_check_buf(ctx, op, "x", x, count));
    CPU_TRY(cpu_check_buf(ctx, op, "dy", dy, count));
    CPU_TRY(cpu_check_buf(ctx, op, "dx", dx, count));
    CPU_TRY(bn_vec(ctx, op, "gamma", gamma, d->c, 0));
    CPU_TRY(bn_vec(ctx, op, "save_mean", save_mean, d->c, 0));
    CPU_TRY(bn_vec(ctx, op, "save_invstd", save_invstd, d->c, 0));
    CPU_TRY(bn_vec(ctx, op, "dgamma", dgamma, d->c, 1));
    CPU_TRY(bn_vec(ctx, op, "dbeta", dbeta, d->c, 1));
    ns_buf *X = cpu_mut(x), *DY = cpu_mut(dy);
    cpu_bn_layout L;
    CPU_TRY(bn_layout(ctx, d, X, &L));
    /* dy in x's layout; when dy is not also dx, it is const: a conversion that
     * would change it (float32 into a bf16 x) reads through a temporary */
    const void *pdy;
    if (dx == DY || !(X->has_md && !cpu_md_is_plain(&X->md))) {
        CPU_TRY(bn_like(ctx, X, DY, 0));
        pdy = DY->data;
    } else {
        CPU_TRY(cpu_buf_read_in(ctx, op, DY, &X->md, 0, &pdy));
    }
    bn_work w;
    CPU_TRY(bn_work_get(ctx, op, &L, &w));
    for (int c = 0; c < d->c; c++)
        w.f0[c] = save_mean->data[c];
    cpu_bn_bwd_sums(&L, X->data, pdy, w.f0, w.d0, w.d1, w.part, ctx->threads);
    double m = (double)d->n * d->hw;
    for (int c = 0; c < d->c; c++) {
        double g = gamma->data[c], is = save_invstd->data[c];
        double sdy = w.d0[c], sdyx = w.d1[c];
        dgamma->data[c] = (float)(sdyx * is);
        dbeta->data[c] = (float)sdy;
        w.f1[c] = (float)(g * is);
        w.f2[c] = (float)(-g * is * is * is * sdyx / m);
        w.f3[c] = (float)(-g * is * sdy / m);
    }
    if (dx != DY)
        CPU_TRY(bn_like(ctx, X, dx, 1));
    cpu_bn_bwd_apply(&L, X->data, pdy, w.f0, w.f1, w.f2, w.f3, dx->data);
    return NS_OK;
}
