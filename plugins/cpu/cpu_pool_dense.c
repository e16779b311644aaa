/* Global average pooling (OpenMP loops on the plain view: the tensor is
 * small by then) and the dense layer (oneDNN's SGEMM, row-major). */
#include "cpu_internal.h"

CPU_KERNEL ns_status cpu_global_avg_pool_forward(void *vctx, const ns_buf *x, ns_buf *y, int n, int c,
                                      int hw)
{
    cpu_ctx *ctx = vctx;
    const char *op = "global_avg_pool_forward";
    cpu_enter(ctx);
    if (n <= 0 || c <= 0 || hw <= 0)
        return cpu_fail(ctx, NS_ERR_INVALID_ARG, "%s: non-positive n=%d c=%d hw=%d", op, n, c, hw);
    size_t rows = (size_t)n * c;
    CPU_TRY(cpu_check_buf(ctx, op, "x", x, rows * hw));
    CPU_TRY(cpu_check_buf(ctx, op, "y", y, rows));
    /* a blocked x is read through a plain copy: x itself stays blocked for
     * the backward ops that will use it next */
    const float *px = x->data;
    if (x->has_md && !cpu_md_is_plain(&x->md)) {
        float *t = cpu_tmp(ctx, 0, rows * hw * sizeof(float), op);
        if (!t)
            return NS_ERR_NOMEM;
        dnnl_dims_t dims = {n, c, 1, hw};
        if (x->md.ndims == 4 && x->md.dims[0] == n && x->md.dims[1] == c &&
            x->md.dims[2] * x->md.dims[3] == hw) {
            dims[2] = x->md.dims[2];
            dims[3] = x->md.dims[3];
        }
        CPU_TRY(cpu_buf_reorder_out(ctx, op, cpu_mut(x), 4, dims, NULL, t));
        px = t;
    }
    CPU_TRY(cpu_buf_prepare_plain(ctx, y));
    float *py = y->data;
    float inv = 1.0f / (float)hw;
#pragma omp parallel for schedule(static) if (rows * hw > 32768)
    for (size_t r = 0; r < rows; r++) {
        const float *xr = px + r * hw;
        float s = 0.0f;
#pragma omp simd reduction(+ : s)
        for (int i = 0; i < hw; i++)
            s += xr[i];
        py[r] = s * inv;
    }
    return NS_OK;
}

CPU_KERNEL ns_status cpu_global_avg_pool_backward(void *vctx, const ns_buf *dy, ns_buf *dx, int n, int c,
                                       int hw)
{
    cpu_ctx *ctx = vctx;
    const char *op = "global_avg_pool_backward";
    cpu_enter(ctx);
    if (n <= 0 || c <= 0 || hw <= 0)
        return cpu_fail(ctx, NS_ERR_INVALID_ARG, "%s: non-positive n=%d c=%d hw=%d", op, n, c, hw);
    size_t rows = (size_t)n * c;
    CPU_TRY(cpu_check_buf(ctx, op, "dy", dy, rows));
    CPU_TRY(cpu_check_buf(ctx, op, "dx", dx, rows * hw));
    CPU_TRY(cpu_buf_to_plain(ctx, cpu_mut(dy)));
    CPU_TRY(cpu_buf_prepare_plain(ctx, dx));
    const float *pdy = dy->data;
    float *pdx = dx->data;
    float inv = 1.0f / (float)hw;
#pragma omp parallel for schedule(static) if (rows * hw > 32768)
    for (size_t r = 0; r < rows; r++) {
        float v = pdy[r] * inv;
        float *dr = pdx + r * hw;
#pragma omp simd
        for (int i = 0; i < hw; i++)
            dr[i] = v;
    }
    return NS_OK;
}

static ns_status dense_check(cpu_ctx *ctx, const char *op, const ns_dense_desc *d)
{
    if (!d)
        return cpu_fail(ctx, NS_ERR_INVALID_ARG, "%s: descriptor is NULL", op);
    if (d->n <= 0 || d->in <= 0 || d->out <= 0)
        return cpu_fail(ctx, NS_ERR_INVALID_ARG, "%s: non-positive n=%d in=%d out=%d", op, d->n,
                        d->in, d->out);
    return NS_OK;
}

static ns_status plain_in(cpu_ctx *ctx, const char *op, const char *name, const ns_buf *b,
                          size_t need)
{
    CPU_TRY(cpu_check_buf(ctx, op, name, b, need));
    return cpu_buf_to_plain(ctx, cpu_mut(b));
}

ns_status cpu_dense_forward(void *vctx, const ns_dense_desc *d, const ns_buf *x, const ns_buf *w,
                            const ns_buf *b, ns_buf *y)
{
    cpu_ctx *ctx = vctx;
    const char *op = "dense_forward";
    cpu_enter(ctx);
    CPU_TRY(dense_check(ctx, op, d));
    CPU_TRY(plain_in(ctx, op, "x", x, (size_t)d->n * d->in));
    CPU_TRY(plain_in(ctx, op, "w", w, (size_t)d->out * d->in));
    if (b)
        CPU_TRY(plain_in(ctx, op, "b", b, (size_t)d->out));
    CPU_TRY(cpu_buf_out_plain(ctx, op, "y", y, (size_t)d->n * d->out));
    CPU_DNNL(ctx, op, dnnl_sgemm('N', 'T', d->n, d->out, d->in, 1.0f, x->data, d->in, w->data,
                                 d->in, 0.0f, y->data, d->out));
    if (b) {
        float *py = y->data;
        const float *pb = b->data;
        for (int i = 0; i < d->n; i++)
            for (int j = 0; j < d->out; j++)
                py[(size_t)i * d->out + j] += pb[j];
    }
    return NS_OK;
}

ns_status cpu_dense_backward(void *vctx, const ns_dense_desc *d, const ns_buf *x, const ns_buf *w,
                             const ns_buf *dy, ns_buf *dx, ns_buf *dw, ns_buf *db)
{
    cpu_ctx *ctx = vctx;
    const char *op = "dense_backward";
    cpu_enter(ctx);
    CPU_TRY(dense_check(ctx, op, d));
    CPU_TRY(plain_in(ctx, op, "x", x, (size_t)d->n * d->in));
    CPU_TRY(plain_in(ctx, op, "w", w, (size_t)d->out * d->in));
    CPU_TRY(plain_in(ctx, op, "dy", dy, (size_t)d->n * d->out));
    CPU_TRY(cpu_buf_out_plain(ctx, op, "dw", dw, (size_t)d->out * d->in));
    if (db)
        CPU_TRY(cpu_buf_out_plain(ctx, op, "db", db, (size_t)d->out));
    if (dx) {
        CPU_TRY(cpu_buf_out_plain(ctx, op, "dx", dx, (size_t)d->n * d->in));
        CPU_DNNL(ctx, op, dnnl_sgemm('N', 'N', d->n, d->in, d->out, 1.0f, dy->data, d->out,
                                     w->data, d->in, 0.0f, dx->data, d->in));
    }
    CPU_DNNL(ctx, op, dnnl_sgemm('T', 'N', d->out, d->in, d->n, 1.0f, dy->data, d->out, x->data,
                                 d->in, 0.0f, dw->data, d->in));
    if (db) {
        const float *pdy = dy->data;
        float *pdb = db->data;
        for (int j = 0; j < d->out; j++) {
            float s = 0.0f;
            for (int i = 0; i < d->n; i++)
                s += pdy[(size_t)i * d->out + j];
            pdb[j] = s;
        }
    }
    return NS_OK;
}
