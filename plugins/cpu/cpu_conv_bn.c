/* The fused inference convolution unit (ABI 1.1):
 *     y = act( bn_infer(conv(x, w)) + residual )
 * as ONE oneDNN convolution (prop_kind forward_inference) with a bias and
 * post-ops: `sum` when there is a residual, `eltwise_relu` when relu is on.
 *
 * The batchnorm is folded into the weights and the bias on every call:
 *     scale[k] = gamma[k] / sqrt(var[k] + eps)
 *     w'[k][...] = w[k][...] * scale[k],  bias[k] = beta[k] - mean[k] * scale[k]
 * Nothing folded is cached across calls: the host may change the weights or
 * the statistics between calls, and a stale fold would be a silent wrong
 * answer. The fold is O(weights), small next to the convolution; it is done in
 * float32 in temporary 3 (plain OIHW, then the bias), then reordered into the
 * primitive's weight layout (bf16 in bf16 mode) in temporary 1.
 *
 * Layouts: x is used in the primitive's source layout (converted in place when
 * float32, reordered into temporary 0 otherwise, as conv2d_forward does); y
 * leaves in the primitive's destination layout, bf16 in bf16 mode. The sum
 * post-op accumulates into what y holds, so the residual is first reordered
 * into y in y's layout; that reorder is one extra pass over the residual,
 * where the unfused path makes three extra passes (bn, add, relu) over y. */
#include <math.h>
#include <string.h>

#include "cpu_internal.h"

#define FUSED_OP "conv2d_bn_infer"

static ns_status fused_check(cpu_ctx *ctx, const ns_conv_desc *d, const ns_bn_desc *bn)
{
    CPU_TRY(cpu_conv_check(ctx, FUSED_OP, d));
    if (!bn)
        return cpu_fail(ctx, NS_ERR_INVALID_ARG, "%s: batchnorm descriptor is NULL", FUSED_OP);
    long long pq = (long long)d->p * d->q;
    if (bn->n != d->n || bn->c != d->k || bn->hw != pq)
        return cpu_fail(ctx, NS_ERR_INVALID_ARG,
                        "%s: batchnorm n=%d c=%d hw=%d, expected the convolution output's "
                        "n=%d c=k=%d hw=p*q=%lld",
                        FUSED_OP, bn->n, bn->c, bn->hw, d->n, d->k, pq);
    if (!(bn->eps > 0.0f))
        return cpu_fail(ctx, NS_ERR_INVALID_ARG, "%s: eps %g must be positive", FUSED_OP,
                        (double)bn->eps);
    return NS_OK;
}

/* Plain float32 view of a [K] vector argument. */
static ns_status fused_vec(cpu_ctx *ctx, const char *name, const ns_buf *b, int k)
{
    CPU_TRY(cpu_check_buf(ctx, FUSED_OP, name, b, (size_t)k));
    return cpu_buf_to_plain(ctx, cpu_mut(b));
}

/* Creates the primitive for (d, precision, residual?, relu?) into ne. */
static ns_status fused_create(cpu_ctx *ctx, const ns_conv_desc *d, int bf16, int residual,
                             int relu, cpu_prim *ne)
{
    dnnl_data_type_t dt = bf16 ? dnnl_bf16 : dnnl_f32;
    dnnl_dims_t xd, wd, yd, bd = {d->k};
    cpu_conv_dims(d, xd, wd, yd);
    dnnl_memory_desc_t x, w, b, y;
    dnnl_memory_desc_init_by_tag(&x, 4, xd, dt, dnnl_format_tag_any);
    dnnl_memory_desc_init_by_tag(&w, 4, wd, dt, dnnl_format_tag_any);
    dnnl_memory_desc_init_by_tag(&b, 1, bd, dnnl_f32, dnnl_a); /* fp32 bias in both modes */
    dnnl_memory_desc_init_by_tag(&y, 4, yd, dt, dnnl_format_tag_any);
    dnnl_dims_t st = {d->stride, d->stride}, pad = {d->pad, d->pad};
    dnnl_convolution_desc_t cd;
    CPU_DNNL(ctx, FUSED_OP,
             dnnl_convolution_forward_desc_init(&cd, dnnl_forward_inference,
                                                dnnl_convolution_direct, &x, &w, &b, &y, st, pad,
                                                pad));
    dnnl_post_ops_t po = NULL;
    dnnl_primitive_attr_t attr = NULL;
    dnnl_primitive_desc_t pd = NULL;
    const char *call = "dnnl_post_ops_create";
    dnnl_status_t s = dnnl_post_ops_create(&po);
    if (s == dnnl_success && residual) {
        call = "dnnl_post_ops_append_sum";
        s = dnnl_post_ops_append_sum(po, 1.0f);
    }
    if (s == dnnl_success && relu) {
        call = "dnnl_post_ops_append_eltwise(relu)";
        s = dnnl_post_ops_append_eltwise(po, 1.0f, dnnl_eltwise_relu, 0.0f, 0.0f);
    }
    if (s == dnnl_success) {
        call = "dnnl_primitive_attr_clone"; /* keeps the user scratchpad mode */
        s = dnnl_primitive_attr_clone(&attr, ctx->attr);
    }
    if (s == dnnl_success) {
        call = "dnnl_primitive_attr_set_post_ops";
        s = dnnl_primitive_attr_set_post_ops(attr, po);
    }
    if (s == dnnl_success) {
        call = "convolution forward_inference primitive_desc_create";
        s = dnnl_primitive_desc_create(&pd, &cd, attr, ctx->engine, NULL);
    }
    if (attr)
        dnnl_primitive_attr_destroy(attr);
    if (po)
        dnnl_post_ops_destroy(po);
    if (s != dnnl_success)
        return cpu_dnnl_fail(ctx, FUSED_OP, call, s);
    ne->md[0] = *dnnl_primitive_desc_query_md(pd, dnnl_query_src_md, 0);
    ne->md[1] = *dnnl_primitive_desc_query_md(pd, dnnl_query_weights_md, 0);
    ne->md[2] = *dnnl_primitive_desc_query_md(pd, dnnl_query_dst_md, 0);
    ne->md[3] = *dnnl_primitive_desc_query_md(pd, dnnl_query_weights_md, 1); /* bias */
    return cpu_prim_from_pd(ctx, FUSED_OP, pd, ne);
}

/* Finds or creates the cached primitive; returns a copy of the entry (entries
 * move when the cache grows). */
static ns_status fused_prim(cpu_ctx *ctx, const ns_conv_desc *d, int residual, int relu,
                            cpu_prim *out)
{
    int bf16 = ctx->precision == NS_PRECISION_BF16;
    int64_t key[CPU_KEY_INTS] = {d->n, d->c,      d->h, d->w, d->k,     d->r,    d->s,
                                 d->stride, d->pad, d->p, d->q, bf16, residual, relu};
    cpu_prim *e = cpu_prim_find(ctx, CPU_PRIM_CONV_BN_INFER, key, 0, NULL);
    if (!e) {
        cpu_prim ne;
        memset(&ne, 0, sizeof ne);
        ne.kind = CPU_PRIM_CONV_BN_INFER;
        memcpy(ne.key, key, sizeof key);
        CPU_TRY(fused_create(ctx, d, bf16, residual, relu, &ne));
        if (!(e = cpu_prim_add(ctx, &ne, FUSED_OP)))
            return NS_ERR_NOMEM;
    }
    *out = *e;
    return NS_OK;
}

/* Folds the batchnorm into a float32 copy of w (plain OIHW) followed by the
 * bias; *folded and *bias point into temporary 3. */
static ns_status fold(cpu_ctx *ctx, const ns_conv_desc *d, const ns_buf *w, const ns_bn_desc *bn,
                      const ns_buf *gamma, const ns_buf *beta, const ns_buf *mean,
                      const ns_buf *var, float **folded, float **bias)
{
    size_t crs = (size_t)d->c * d->r * d->s, nw = (size_t)d->k * crs;
    float *f = cpu_tmp(ctx, 3, (nw + (size_t)d->k) * sizeof(float), FUSED_OP);
    if (!f)
        return NS_ERR_NOMEM;
    ns_buf *W = cpu_mut(w);
    if (!W->has_md || cpu_md_is_plain(&W->md)) {
        memcpy(f, W->data, nw * sizeof(float));
    } else { /* w sits in a convolution's blocked layout: read it back as OIHW */
        dnnl_dims_t xd, wd, yd;
        cpu_conv_dims(d, xd, wd, yd);
        CPU_TRY(cpu_buf_reorder_out(ctx, FUSED_OP, W, 4, wd, NULL, f));
    }
    float *b = f + nw;
    const float *g = gamma->data, *be = beta->data, *m = mean->data, *v = var->data;
    float eps = bn->eps;
#pragma omp parallel for schedule(static) num_threads(ctx->threads) if (nw >= 65536)
    for (int k = 0; k < d->k; k++) {
        float scale = g[k] / sqrtf(v[k] + eps);
        float *row = f + (size_t)k * crs;
        for (size_t j = 0; j < crs; j++)
            row[j] *= scale;
        b[k] = be[k] - m[k] * scale;
    }
    *folded = f;
    *bias = b;
    return NS_OK;
}

ns_status cpu_conv2d_bn_infer(void *vctx, const ns_conv_desc *d, const ns_buf *x,
                              const ns_buf *w, const ns_bn_desc *bn, const ns_buf *gamma,
                              const ns_buf *beta, const ns_buf *mean, const ns_buf *var,
                              const ns_buf *residual, int relu, ns_buf *y)
{
    cpu_ctx *ctx = vctx;
    const char *op = FUSED_OP;
    cpu_enter(ctx);
    CPU_TRY(fused_check(ctx, d, bn));
    CPU_TRY(cpu_check_buf(ctx, op, "x", x, cpu_conv_x_count(d)));
    CPU_TRY(cpu_check_buf(ctx, op, "w", w, cpu_conv_w_count(d)));
    CPU_TRY(cpu_check_buf(ctx, op, "y", y, cpu_conv_y_count(d)));
    if (residual)
        CPU_TRY(cpu_check_buf(ctx, op, "residual", residual, cpu_conv_y_count(d)));
    if (y == x || y == w || (residual && y == residual))
        return cpu_fail(ctx, NS_ERR_INVALID_ARG,
                        "%s: y is the same buffer as %s (expected a separate output)", op,
                        y == x ? "x" : y == w ? "w" : "residual");
    CPU_TRY(fused_vec(ctx, "gamma", gamma, d->k));
    CPU_TRY(fused_vec(ctx, "beta", beta, d->k));
    CPU_TRY(fused_vec(ctx, "mean", mean, d->k));
    CPU_TRY(fused_vec(ctx, "var", var, d->k));

    cpu_prim e;
    CPU_TRY(fused_prim(ctx, d, residual != NULL, relu != 0, &e));
    dnnl_dims_t xd, wd, yd;
    cpu_conv_dims(d, xd, wd, yd);
    void *px, *pw;
    CPU_TRY(cpu_conv_input(ctx, op, cpu_mut(x), xd, &e.md[0], 1, 0, &px));
    float *folded, *bias;
    CPU_TRY(fold(ctx, d, w, bn, gamma, beta, mean, var, &folded, &bias));
    dnnl_memory_desc_t plain_w;
    cpu_plain_md(&plain_w, 4, wd, dnnl_f32);
    if (dnnl_memory_desc_equal(&e.md[1], &plain_w)) {
        pw = folded;
    } else {
        if (!(pw = cpu_tmp(ctx, 1, dnnl_memory_desc_get_size(&e.md[1]), op)))
            return NS_ERR_NOMEM;
        CPU_TRY(cpu_reorder(ctx, op, &plain_w, folded, &e.md[1], pw));
    }
    CPU_TRY(cpu_buf_prepare_md(ctx, y, &e.md[2]));
    if (residual) /* the sum post-op adds what y holds: the residual, in y's layout */
        CPU_TRY(cpu_buf_reorder_out(ctx, op, cpu_mut(residual), 4, yd, &e.md[2], y->data));
    cpu_arg args[4] = {{DNNL_ARG_SRC, &e.md[0], px},
                       {DNNL_ARG_WEIGHTS, &e.md[1], pw},
                       {DNNL_ARG_BIAS, &e.md[3], bias},
                       {DNNL_ARG_DST, &e.md[2], y->data}};
    return cpu_prim_exec(ctx, op, &e, args, 4);
}
