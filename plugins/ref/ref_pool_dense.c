/* Global average pooling and the dense (fully connected) layer. */
#include "ref_backend.h"
#include "ref_gemm.h"

static ns_status check_pool(ref_ctx *ctx, const char *op, const char *nin, const ns_buf *in,
                            const char *nout, const ns_buf *out, int n, int c, int hw,
                            int in_is_map)
{
    int dims[] = {n, c, hw};
    size_t map;
    ns_status st = ref_check_dims(ctx, op, "n,c,hw", &map, 3, dims);
    if (st != NS_OK)
        return st;
    size_t vec = (size_t)n * c;
    st = ref_check_buf(ctx, op, nin, in, in_is_map ? map : vec);
    return st == NS_OK ? ref_check_buf(ctx, op, nout, out, in_is_map ? vec : map) : st;
}

ns_status ref_global_avg_pool_forward(void *vctx, const ns_buf *x, ns_buf *y, int n, int c,
                                      int hw)
{
    ref_ctx *ctx = vctx;
    ns_status st = check_pool(ctx, "global_avg_pool_forward", "x", x, "y", y, n, c, hw, 1);
    if (st != NS_OK)
        return st;
    long long planes = (long long)n * c;
#pragma omp parallel for schedule(static) num_threads(ref_team(ctx, (double)planes * hw))
    for (long long pl = 0; pl < planes; pl++) {
        const float *src = x->data + (size_t)pl * hw;
        double sum = 0.0;
        for (int j = 0; j < hw; j++)
            sum += src[j];
        y->data[pl] = (float)(sum / hw);
    }
    return NS_OK;
}

ns_status ref_global_avg_pool_backward(void *vctx, const ns_buf *dy, ns_buf *dx, int n, int c,
                                       int hw)
{
    ref_ctx *ctx = vctx;
    ns_status st = check_pool(ctx, "global_avg_pool_backward", "dy", dy, "dx", dx, n, c, hw, 0);
    if (st != NS_OK)
        return st;
    long long planes = (long long)n * c;
#pragma omp parallel for schedule(static) num_threads(ref_team(ctx, (double)planes * hw))
    for (long long pl = 0; pl < planes; pl++) {
        float g = dy->data[pl] / (float)hw;
        float *dst = dx->data + (size_t)pl * hw;
        for (int j = 0; j < hw; j++)
            dst[j] = g;
    }
    return NS_OK;
}

ns_status ref_dense_forward(void *vctx, const ns_dense_desc *d, const ns_buf *x, const ns_buf *w,
                            const ns_buf *b, ns_buf *y)
{
    ref_ctx *ctx = vctx;
    const char *op = "dense_forward";
    ns_status st = ref_check_dense(ctx, op, d);
    if (st == NS_OK)
        st = ref_check_buf(ctx, op, "x", x, (size_t)d->n * d->in);
    if (st == NS_OK)
        st = ref_check_buf(ctx, op, "weight", w, (size_t)d->out * d->in);
    if (st == NS_OK && b)
        st = ref_check_buf(ctx, op, "bias", b, (size_t)d->out);
    if (st == NS_OK)
        st = ref_check_buf(ctx, op, "y", y, (size_t)d->n * d->out);
    if (st != NS_OK)
        return st;
    /* y[n][out] = x[n][in] * (w[out][in])^T */
    ref_sgemm(ctx->threads, 0, 1, d->n, d->out, d->in, 1.0f, x->data, (size_t)d->in, w->data,
              (size_t)d->in, 0.0f, y->data, (size_t)d->out);
    if (b)
        for (int i = 0; i < d->n; i++)
            for (int o = 0; o < d->out; o++)
                y->data[(size_t)i * d->out + o] += b->data[o];
    return NS_OK;
}

ns_status ref_dense_backward(void *vctx, const ns_dense_desc *d, const ns_buf *x, const ns_buf *w,
                             const ns_buf *dy, ns_buf *dx, ns_buf *dw, ns_buf *db)
{
    ref_ctx *ctx = vctx;
    const char *op = "dense_backward";
    ns_status st = ref_check_dense(ctx, op, d);
    if (st == NS_OK)
        st = ref_check_buf(ctx, op, "x", x, (size_t)d->n * d->in);
    if (st == NS_OK)
        st = ref_check_buf(ctx, op, "weight", w, (size_t)d->out * d->in);
    if (st == NS_OK)
        st = ref_check_buf(ctx, op, "dy", dy, (size_t)d->n * d->out);
    if (st == NS_OK && dx)
        st = ref_check_buf(ctx, op, "dx", dx, (size_t)d->n * d->in);
    if (st == NS_OK)
        st = ref_check_buf(ctx, op, "dw", dw, (size_t)d->out * d->in);
    if (st == NS_OK && db)
        st = ref_check_buf(ctx, op, "db", db, (size_t)d->out);
    if (st != NS_OK)
        return st;
    /* dx[n][in] = dy[n][out] * w[out][in] */
    if (dx)
        ref_sgemm(ctx->threads, 0, 0, d->n, d->in, d->out, 1.0f, dy->data, (size_t)d->out,
                  w->data, (size_t)d->in, 0.0f, dx->data, (size_t)d->in);
    /* dw[out][in] = dy^T[out][n] * x[n][in] */
    ref_sgemm(ctx->threads, 1, 0, d->out, d->in, d->n, 1.0f, dy->data, (size_t)d->out, x->data,
              (size_t)d->in, 0.0f, dw->data, (size_t)d->in);
    if (db)
        for (int o = 0; o < d->out; o++) {
            double sum = 0.0;
            for (int i = 0; i < d->n; i++)
                sum += dy->data[(size_t)i * d->out + o];
            db->data[o] = (float)sum;
        }
    return NS_OK;
}
