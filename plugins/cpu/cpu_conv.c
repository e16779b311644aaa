/* Convolution forward / backward-data / backward-weights on oneDNN.
 *
 * Primitives are created with format "any" so oneDNN picks its fastest
 * (blocked) layouts; activations and fp32 weights are converted to those
 * layouts in place and stay there for the next op. In bf16 mode activations
 * and their gradients are written in bf16 (the next ops keep them so: see
 * cpu_internal.h), float32 inputs such as the images or the fp32 master
 * weights are reordered into bf16 temporaries, and weight gradients are
 * produced in float32. */
#include <string.h>

#include "cpu_conv_split.h"
#include "cpu_internal.h"

typedef struct conv_mds {
    dnnl_memory_desc_t a, b, c; /* per kind: see cpu_prim.md */
} conv_mds;

ns_status cpu_conv_check(cpu_ctx *ctx, const char *op, const ns_conv_desc *d)
{
    if (!d)
        return cpu_fail(ctx, NS_ERR_INVALID_ARG, "%s: descriptor is NULL", op);
    if (d->n <= 0 || d->c <= 0 || d->h <= 0 || d->w <= 0 || d->k <= 0 || d->r <= 0 ||
        d->s <= 0 || d->stride <= 0 || d->pad < 0)
        return cpu_fail(ctx, NS_ERR_INVALID_ARG,
                        "%s: non-positive dimension in n=%d c=%d h=%d w=%d k=%d r=%d s=%d "
                        "stride=%d pad=%d",
                        op, d->n, d->c, d->h, d->w, d->k, d->r, d->s, d->stride, d->pad);
    int p = (d->h + 2 * d->pad - d->r) / d->stride + 1;
    int q = (d->w + 2 * d->pad - d->s) / d->stride + 1;
    if (d->h + 2 * d->pad < d->r || d->w + 2 * d->pad < d->s || p != d->p || q != d->q)
        return cpu_fail(ctx, NS_ERR_INVALID_ARG,
                        "%s: output %dx%d does not match h=%d w=%d r=%d s=%d stride=%d pad=%d "
                        "(expected %dx%d)",
                        op, d->p, d->q, d->h, d->w, d->r, d->s, d->stride, d->pad, p, q);
    return NS_OK;
}

size_t cpu_conv_x_count(const ns_conv_desc *d) { return (size_t)d->n * d->c * d->h * d->w; }
size_t cpu_conv_w_count(const ns_conv_desc *d) { return (size_t)d->k * d->c * d->r * d->s; }
size_t cpu_conv_y_count(const ns_conv_desc *d) { return (size_t)d->n * d->k * d->p * d->q; }

void cpu_conv_dims(const ns_conv_desc *d, dnnl_dims_t x, dnnl_dims_t w, dnnl_dims_t y)
{
    x[0] = d->n; x[1] = d->c; x[2] = d->h; x[3] = d->w;
    w[0] = d->k; w[1] = d->c; w[2] = d->r; w[3] = d->s;
    y[0] = d->n; y[1] = d->k; y[2] = d->p; y[3] = d->q;
}

static ns_status conv_fwd_desc(cpu_ctx *ctx, const char *op, const ns_conv_desc *d,
                               dnnl_data_type_t dt, dnnl_data_type_t out_dt,
                               dnnl_convolution_desc_t *cd)
{
    dnnl_dims_t xd, wd, yd;
    cpu_conv_dims(d, xd, wd, yd);
    dnnl_memory_desc_t x, w, y;
    dnnl_memory_desc_init_by_tag(&x, 4, xd, dt, dnnl_format_tag_any);
    dnnl_memory_desc_init_by_tag(&w, 4, wd, dt, dnnl_format_tag_any);
    dnnl_memory_desc_init_by_tag(&y, 4, yd, out_dt, dnnl_format_tag_any);
    dnnl_dims_t st = {d->stride, d->stride}, pad = {d->pad, d->pad};
    CPU_DNNL(ctx, op, dnnl_convolution_forward_desc_init(cd, dnnl_forward_training,
                                                         dnnl_convolution_direct, &x, &w, NULL,
                                                         &y, st, pad, pad));
    return NS_OK;
}

/* Finds or creates the primitive of `kind` for d; returns a copy of the entry
 * (entries may move when layout changes add reorders to the cache). */
static ns_status conv_prim(cpu_ctx *ctx, const char *op, int kind, const ns_conv_desc *d,
                           cpu_prim *out)
{
    int bf16 = ctx->precision == NS_PRECISION_BF16;
    int64_t key[CPU_KEY_INTS] = {d->n, d->c, d->h, d->w, d->k, d->r, d->s, d->stride, d->pad,
                                 d->p, d->q, bf16};
    cpu_prim *e = cpu_prim_find(ctx, kind, key, 0, NULL);
    if (e) {
        *out = *e;
        return NS_OK;
    }
    dnnl_data_type_t dt = bf16 ? dnnl_bf16 : dnnl_f32;
    cpu_prim ne;
    memset(&ne, 0, sizeof ne);
    ne.kind = kind;
    memcpy(ne.key, key, sizeof key);
    dnnl_primitive_desc_t pd = NULL, hint = NULL;
    dnnl_convolution_desc_t fwd;
    if (kind == CPU_PRIM_CONV_FWD) {
        CPU_TRY(conv_fwd_desc(ctx, op, d, dt, dt, &fwd));
        CPU_DNNL(ctx, op, dnnl_primitive_desc_create(&pd, &fwd, ctx->attr, ctx->engine, NULL));
        ne.md[0] = *dnnl_primitive_desc_query_md(pd, dnnl_query_src_md, 0);
        ne.md[1] = *dnnl_primitive_desc_query_md(pd, dnnl_query_weights_md, 0);
        ne.md[2] = *dnnl_primitive_desc_query_md(pd, dnnl_query_dst_md, 0);
    } else {
        CPU_TRY(conv_fwd_desc(ctx, op, d, dt, dt, &fwd));
        CPU_DNNL(ctx, op, dnnl_primitive_desc_create(&hint, &fwd, ctx->attr, ctx->engine, NULL));
        dnnl_dims_t xd, wd, yd;
        cpu_conv_dims(d, xd, wd, yd);
        dnnl_memory_desc_t x, w, y;
        dnnl_dims_t st = {d->stride, d->stride}, pad = {d->pad, d->pad};
        dnnl_convolution_desc_t cd;
        dnnl_status_t s;
        if (kind == CPU_PRIM_CONV_BWD_DATA) {
            dnnl_memory_desc_init_by_tag(&x, 4, xd, dt, dnnl_format_tag_any);
            dnnl_memory_desc_init_by_tag(&w, 4, wd, dt, dnnl_format_tag_any);
            dnnl_memory_desc_init_by_tag(&y, 4, yd, dt, dnnl_format_tag_any);
            s = dnnl_convolution_backward_data_desc_init(&cd, dnnl_convolution_direct, &x, &w, &y,
                                                         st, pad, pad);
        } else {
            dnnl_memory_desc_init_by_tag(&x, 4, xd, dt, dnnl_format_tag_any);
            dnnl_memory_desc_init_by_tag(&w, 4, wd, dnnl_f32, dnnl_format_tag_any);
            dnnl_memory_desc_init_by_tag(&y, 4, yd, dt, dnnl_format_tag_any);
            s = dnnl_convolution_backward_weights_desc_init(&cd, dnnl_convolution_direct, &x, &w,
                                                            NULL, &y, st, pad, pad);
        }
        if (s == dnnl_success)
            s = dnnl_primitive_desc_create(&pd, &cd, ctx->attr, ctx->engine, hint);
        dnnl_primitive_desc_destroy(hint);
        if (s != dnnl_success)
            return cpu_dnnl_fail(ctx, op, "convolution backward primitive_desc_create", s);
        if (kind == CPU_PRIM_CONV_BWD_DATA) {
            ne.md[0] = *dnnl_primitive_desc_query_md(pd, dnnl_query_diff_src_md, 0);
            ne.md[1] = *dnnl_primitive_desc_query_md(pd, dnnl_query_weights_md, 0);
        } else {
            ne.md[0] = *dnnl_primitive_desc_query_md(pd, dnnl_query_src_md, 0);
            ne.md[1] = *dnnl_primitive_desc_query_md(pd, dnnl_query_diff_weights_md, 0);
        }
        ne.md[2] = *dnnl_primitive_desc_query_md(pd, dnnl_query_diff_dst_md, 0);
    }
    CPU_TRY(cpu_prim_from_pd(ctx, op, pd, &ne));
    if (!(e = cpu_prim_add(ctx, &ne, op)))
        return NS_ERR_NOMEM;
    *out = *e;
    return NS_OK;
}

ns_status cpu_conv_input(cpu_ctx *ctx, const char *op, ns_buf *b, const dnnl_dims_t dims,
                         const dnnl_memory_desc_t *md, int in_place, int slot, void **ptr)
{
    if (b->has_md ? dnnl_memory_desc_equal(&b->md, md) : cpu_md_is_plain(md)) {
        *ptr = b->data;
        return NS_OK;
    }
    /* in place only when it keeps the content: a plain x holding more floats
     * than this tensor (a smaller batch) would lose the rest */
    if (in_place && md->data_type == dnnl_f32 && cpu_buf_keeps_in(b, md)) {
        CPU_TRY(cpu_buf_to_md(ctx, b, md));
        *ptr = b->data;
        return NS_OK;
    }
    void *t = cpu_tmp(ctx, slot, dnnl_memory_desc_get_size(md), op);
    if (!t)
        return NS_ERR_NOMEM;
    CPU_TRY(cpu_buf_reorder_out(ctx, op, b, 4, dims, md, t));
    *ptr = t;
    return NS_OK;
}

ns_status cpu_conv2d_forward(void *vctx, const ns_conv_desc *d, const ns_buf *x, const ns_buf *w,
                             ns_buf *y)
{
    cpu_ctx *ctx = vctx;
    const char *op = "conv2d_forward";
    cpu_enter(ctx);
    CPU_TRY(cpu_conv_check(ctx, op, d));
    CPU_TRY(cpu_check_buf(ctx, op, "x", x, cpu_conv_x_count(d)));
    CPU_TRY(cpu_check_buf(ctx, op, "w", w, cpu_conv_w_count(d)));
    CPU_TRY(cpu_check_buf(ctx, op, "y", y, cpu_conv_y_count(d)));
    cpu_prim e;
    CPU_TRY(conv_prim(ctx, op, CPU_PRIM_CONV_FWD, d, &e));
    dnnl_dims_t xd, wd, yd;
    cpu_conv_dims(d, xd, wd, yd);
    void *px, *pw;
    CPU_TRY(cpu_conv_input(ctx, op, cpu_mut(x), xd, &e.md[0], 1, 0, &px));
    CPU_TRY(cpu_conv_input(ctx, op, cpu_mut(w), wd, &e.md[1], 1, 1, &pw));
    CPU_TRY(cpu_buf_prepare_md(ctx, y, &e.md[2]));
    cpu_arg args[3] = {{DNNL_ARG_SRC, &e.md[0], px},
                       {DNNL_ARG_WEIGHTS, &e.md[1], pw},
                       {DNNL_ARG_DST, &e.md[2], y->data}};
    return cpu_prim_exec(ctx, op, &e, args, 3);
}

ns_status cpu_conv2d_backward_data(void *vctx, const ns_conv_desc *d, const ns_buf *dy,
                                   const ns_buf *w, ns_buf *dx)
{
    cpu_ctx *ctx = vctx;
    const char *op = "conv2d_backward_data";
    cpu_enter(ctx);
    CPU_TRY(cpu_conv_check(ctx, op, d));
    CPU_TRY(cpu_check_buf(ctx, op, "dy", dy, cpu_conv_y_count(d)));
    CPU_TRY(cpu_check_buf(ctx, op, "w", w, cpu_conv_w_count(d)));
    CPU_TRY(cpu_check_buf(ctx, op, "dx", dx, cpu_conv_x_count(d)));
    cpu_prim e;
    CPU_TRY(conv_prim(ctx, op, CPU_PRIM_CONV_BWD_DATA, d, &e));
    dnnl_dims_t xd, wd, yd;
    cpu_conv_dims(d, xd, wd, yd);
    void *pdy, *pw;
    CPU_TRY(cpu_conv_input(ctx, op, cpu_mut(dy), yd, &e.md[2], 1, 0, &pdy));
    /* the weights keep the forward layout; a different one is a temporary */
    CPU_TRY(cpu_conv_input(ctx, op, cpu_mut(w), wd, &e.md[1], 0, 1, &pw));
    CPU_TRY(cpu_buf_prepare_md(ctx, dx, &e.md[0]));
    cpu_arg args[3] = {{DNNL_ARG_DIFF_DST, &e.md[2], pdy},
                       {DNNL_ARG_WEIGHTS, &e.md[1], pw},
                       {DNNL_ARG_DIFF_SRC, &e.md[0], dx->data}};
    return cpu_prim_exec(ctx, op, &e, args, 3);
}

ns_status cpu_conv2d_backward_filter(void *vctx, const ns_conv_desc *d, const ns_buf *x,
                                     const ns_buf *dy, ns_buf *dw)
{
    cpu_ctx *ctx = vctx;
    const char *op = "conv2d_backward_filter";
    cpu_enter(ctx);
    CPU_TRY(cpu_conv_check(ctx, op, d));
    CPU_TRY(cpu_check_buf(ctx, op, "x", x, cpu_conv_x_count(d)));
    CPU_TRY(cpu_check_buf(ctx, op, "dy", dy, cpu_conv_y_count(d)));
    CPU_TRY(cpu_check_buf(ctx, op, "dw", dw, cpu_conv_w_count(d)));
    cpu_prim e;
    CPU_TRY(conv_prim(ctx, op, CPU_PRIM_CONV_BWD_WEIGHTS, d, &e));
    dnnl_dims_t xd, wd, yd;
    cpu_conv_dims(d, xd, wd, yd);
    void *px, *pdy;
    CPU_TRY(cpu_conv_input(ctx, op, cpu_mut(x), xd, &e.md[0], 1, 0, &px));
    CPU_TRY(cpu_conv_input(ctx, op, cpu_mut(dy), yd, &e.md[2], 1, 1, &pdy));
    int done = 0;
    CPU_TRY(cpu_conv_bwd_weights_split(ctx, op, d, &e.md[0], px, &e.md[2], pdy, dw, &done));
    if (done)
        return NS_OK;
    CPU_TRY(cpu_buf_prepare_md(ctx, dw, &e.md[1]));
    cpu_arg args[3] = {{DNNL_ARG_SRC, &e.md[0], px},
                       {DNNL_ARG_DIFF_DST, &e.md[2], pdy},
                       {DNNL_ARG_DIFF_WEIGHTS, &e.md[1], dw->data}};
    return cpu_prim_exec(ctx, op, &e, args, 3);
}
