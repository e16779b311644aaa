/* Spatial batch normalisation on oneDNN, in the layout the input arrives in
 * (so a blocked convolution output is normalised without a reorder). oneDNN
 * gives the batch variance; the ABI's invstd and running statistics are
 * derived from it here, and the backward pass turns invstd back into a variance. */
#include <math.h>
#include <string.h>

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

/* The input's own layout when it is a blocked tensor of these sizes; plain otherwise. */
static ns_status bn_data_md(cpu_ctx *ctx, const ns_bn_desc *d, ns_buf *x, dnnl_memory_desc_t *md)
{
    if (x->has_md && x->md.ndims == 4 && x->md.dims[0] == d->n && x->md.dims[1] == d->c &&
        x->md.dims[2] * x->md.dims[3] == d->hw) {
        *md = x->md;
        return NS_OK;
    }
    CPU_TRY(cpu_buf_to_plain(ctx, x));
    dnnl_dims_t dims = {d->n, d->c, 1, d->hw};
    cpu_plain_md(md, 4, dims, dnnl_f32);
    return NS_OK;
}

static void bn_vec_md(dnnl_memory_desc_t *md, int c)
{
    dnnl_dims_t dims = {c};
    cpu_plain_md(md, 1, dims, dnnl_f32);
}

static ns_status bn_fwd_desc(cpu_ctx *ctx, const char *op, dnnl_prop_kind_t prop,
                             const dnnl_memory_desc_t *md, float eps, unsigned flags,
                             dnnl_primitive_desc_t *pd)
{
    dnnl_batch_normalization_desc_t bd;
    CPU_DNNL(ctx, op, dnnl_batch_normalization_forward_desc_init(&bd, prop, md, eps, flags));
    CPU_DNNL(ctx, op, dnnl_primitive_desc_create(pd, &bd, ctx->attr, ctx->engine, NULL));
    return NS_OK;
}

static ns_status bn_prim(cpu_ctx *ctx, const char *op, int kind, const ns_bn_desc *d,
                         const dnnl_memory_desc_t *md, cpu_prim *out)
{
    uint32_t eps_bits;
    memcpy(&eps_bits, &d->eps, sizeof eps_bits);
    int64_t key[CPU_KEY_INTS] = {d->n, d->c, d->hw, eps_bits};
    cpu_prim *e = cpu_prim_find(ctx, kind, key, 1, md);
    if (e) {
        *out = *e;
        return NS_OK;
    }
    cpu_prim ne;
    memset(&ne, 0, sizeof ne);
    ne.kind = kind;
    memcpy(ne.key, key, sizeof key);
    ne.key_mds = 1;
    ne.key_md[0] = *md;
    ne.md[0] = *md;
    unsigned flags = dnnl_use_scale | dnnl_use_shift;
    dnnl_primitive_desc_t pd = NULL;
    if (kind == CPU_PRIM_BN_FWD_TRAIN) {
        CPU_TRY(bn_fwd_desc(ctx, op, dnnl_forward_training, md, d->eps, flags, &pd));
    } else if (kind == CPU_PRIM_BN_FWD_INFER) {
        CPU_TRY(bn_fwd_desc(ctx, op, dnnl_forward_inference, md, d->eps,
                            flags | dnnl_use_global_stats, &pd));
    } else {
        dnnl_primitive_desc_t hint;
        CPU_TRY(bn_fwd_desc(ctx, op, dnnl_forward_training, md, d->eps, flags, &hint));
        dnnl_batch_normalization_desc_t bd;
        dnnl_status_t s =
            dnnl_batch_normalization_backward_desc_init(&bd, dnnl_backward, md, md, d->eps, flags);
        if (s == dnnl_success)
            s = dnnl_primitive_desc_create(&pd, &bd, ctx->attr, ctx->engine, hint);
        dnnl_primitive_desc_destroy(hint);
        if (s != dnnl_success)
            return cpu_dnnl_fail(ctx, op, "batch_normalization backward primitive_desc_create", s);
    }
    CPU_TRY(cpu_prim_from_pd(ctx, op, pd, &ne));
    if (!(e = cpu_prim_add(ctx, &ne, op)))
        return NS_ERR_NOMEM;
    *out = *e;
    return NS_OK;
}

/* Plain view of a [C] vector argument. */
static ns_status bn_vec(cpu_ctx *ctx, const char *op, const char *name, const ns_buf *b, int c,
                        int out)
{
    CPU_TRY(cpu_check_buf(ctx, op, name, b, (size_t)c));
    if (out && b->n == (size_t)c)
        return cpu_buf_prepare_plain(ctx, cpu_mut(b));
    return cpu_buf_to_plain(ctx, cpu_mut(b));
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
    dnnl_memory_desc_t md, vmd;
    CPU_TRY(bn_data_md(ctx, d, cpu_mut(x), &md));
    bn_vec_md(&vmd, d->c);
    cpu_prim e;
    CPU_TRY(bn_prim(ctx, op, CPU_PRIM_BN_FWD_TRAIN, d, &md, &e));
    float *var = cpu_tmp(ctx, 2, (size_t)d->c * sizeof(float), op);
    if (!var)
        return NS_ERR_NOMEM;
    CPU_TRY(cpu_buf_prepare_md(ctx, y, &md));
    cpu_arg args[6] = {{DNNL_ARG_SRC, &md, x->data},
                       {DNNL_ARG_DST, &md, y->data},
                       {DNNL_ARG_SCALE, &vmd, gamma->data},
                       {DNNL_ARG_SHIFT, &vmd, beta->data},
                       {DNNL_ARG_MEAN, &vmd, save_mean->data},
                       {DNNL_ARG_VARIANCE, &vmd, var}};
    CPU_TRY(cpu_prim_exec(ctx, op, &e, args, 6));
    double m = (double)d->n * d->hw;
    float unbias = m > 1.0 ? (float)(m / (m - 1.0)) : 1.0f;
    float mom = d->momentum;
    for (int i = 0; i < d->c; i++) {
        save_invstd->data[i] = 1.0f / sqrtf(var[i] + d->eps);
        running_mean->data[i] = (1.0f - mom) * running_mean->data[i] + mom * save_mean->data[i];
        running_var->data[i] = (1.0f - mom) * running_var->data[i] + mom * var[i] * unbias;
    }
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
    dnnl_memory_desc_t md, vmd;
    CPU_TRY(bn_data_md(ctx, d, cpu_mut(x), &md));
    bn_vec_md(&vmd, d->c);
    cpu_prim e;
    CPU_TRY(bn_prim(ctx, op, CPU_PRIM_BN_FWD_INFER, d, &md, &e));
    if (y != x)
        CPU_TRY(cpu_buf_prepare_md(ctx, y, &md));
    cpu_arg args[6] = {{DNNL_ARG_SRC, &md, x->data},
                       {DNNL_ARG_DST, &md, y->data},
                       {DNNL_ARG_SCALE, &vmd, gamma->data},
                       {DNNL_ARG_SHIFT, &vmd, beta->data},
                       {DNNL_ARG_MEAN, &vmd, running_mean->data},
                       {DNNL_ARG_VARIANCE, &vmd, running_var->data}};
    return cpu_prim_exec(ctx, op, &e, args, 6);
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
    dnnl_memory_desc_t md, vmd;
    CPU_TRY(bn_data_md(ctx, d, cpu_mut(x), &md));
    bn_vec_md(&vmd, d->c);
    CPU_TRY(cpu_buf_to_md(ctx, cpu_mut(dy), &md));
    cpu_prim e;
    CPU_TRY(bn_prim(ctx, op, CPU_PRIM_BN_BWD, d, &md, &e));
    /* oneDNN 2.x lists the shift as an input of the backward pass (it does
     * not read it: dbeta does not depend on beta); it gets the zeros after var */
    float *var = cpu_tmp(ctx, 2, 2 * (size_t)d->c * sizeof(float), op);
    if (!var)
        return NS_ERR_NOMEM;
    float *unused_shift = var + d->c;
    for (int i = 0; i < d->c; i++) {
        float is = save_invstd->data[i];
        var[i] = 1.0f / (is * is) - d->eps;
        unused_shift[i] = 0.0f;
    }
    if (dx != dy)
        CPU_TRY(cpu_buf_prepare_md(ctx, dx, &md));
    cpu_arg args[9] = {{DNNL_ARG_SRC, &md, x->data},
                       {DNNL_ARG_SHIFT, &vmd, unused_shift},
                       {DNNL_ARG_MEAN, &vmd, save_mean->data},
                       {DNNL_ARG_VARIANCE, &vmd, var},
                       {DNNL_ARG_DIFF_DST, &md, dy->data},
                       {DNNL_ARG_SCALE, &vmd, gamma->data},
                       {DNNL_ARG_DIFF_SRC, &md, dx->data},
                       {DNNL_ARG_DIFF_SCALE, &vmd, dgamma->data},
                       {DNNL_ARG_DIFF_SHIFT, &vmd, dbeta->data}};
    return cpu_prim_exec(ctx, op, &e, args, 9);
}
