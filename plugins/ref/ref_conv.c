/* Convolution as GEMM (im2col). Per image, with CRS = c*r*s and PQ = p*q:
 *   forward:          y[K][PQ]   = w[K][CRS] * col[CRS][PQ]
 *   backward-data:    dcol[CRS][PQ] = w^T * dy[K][PQ], then col2im adds dcol into dx
 *   backward-filter:  dw[K][CRS] += dy[K][PQ] * col^T
 * A 1x1 stride-1 pad-0 convolution needs no im2col: col is the image itself.
 * Images are spread over an OpenMP team (each thread has its own slice of the
 * workspace); with a single image the team goes to the GEMM instead. */
#include "ref_backend.h"
#include "ref_gemm.h"

#include <string.h>

static int is_pointwise(const ns_conv_desc *d)
{
    return d->r == 1 && d->s == 1 && d->stride == 1 && d->pad == 0;
}

/* col[(ci*r + kr)*s + ks][oy*q + ox] = x[ci][oy*stride - pad + kr][ox*stride - pad + ks], 0 outside. */
static void im2col(const ns_conv_desc *d, const float *x, float *col)
{
    size_t pq = (size_t)d->p * d->q;
    for (int ci = 0; ci < d->c; ci++)
        for (int kr = 0; kr < d->r; kr++)
            for (int ks = 0; ks < d->s; ks++) {
                float *row = col + ((size_t)(ci * d->r + kr) * d->s + ks) * pq;
                const float *plane = x + (size_t)ci * d->h * d->w;
                for (int oy = 0; oy < d->p; oy++) {
                    int iy = oy * d->stride - d->pad + kr;
                    float *out = row + (size_t)oy * d->q;
                    if (iy < 0 || iy >= d->h) {
                        memset(out, 0, sizeof(float) * d->q);
                        continue;
                    }
                    const float *in = plane + (size_t)iy * d->w;
                    for (int ox = 0; ox < d->q; ox++) {
                        int ix = ox * d->stride - d->pad + ks;
                        out[ox] = (ix >= 0 && ix < d->w) ? in[ix] : 0.0f;
                    }
                }
            }
}

/* The adjoint of im2col: dx = 0, then every col entry is added back where it came from. */
static void col2im(const ns_conv_desc *d, const float *col, float *dx)
{
    size_t pq = (size_t)d->p * d->q;
    memset(dx, 0, sizeof(float) * (size_t)d->c * d->h * d->w);
    for (int ci = 0; ci < d->c; ci++)
        for (int kr = 0; kr < d->r; kr++)
            for (int ks = 0; ks < d->s; ks++) {
                const float *row = col + ((size_t)(ci * d->r + kr) * d->s + ks) * pq;
                float *plane = dx + (size_t)ci * d->h * d->w;
                for (int oy = 0; oy < d->p; oy++) {
                    int iy = oy * d->stride - d->pad + kr;
                    if (iy < 0 || iy >= d->h)
                        continue;
                    const float *in = row + (size_t)oy * d->q;
                    float *out = plane + (size_t)iy * d->w;
                    for (int ox = 0; ox < d->q; ox++) {
                        int ix = ox * d->stride - d->pad + ks;
                        if (ix >= 0 && ix < d->w)
                            out[ix] += in[ox];
                    }
                }
            }
}

typedef struct conv_sizes {
    size_t x, w, y;   /* floats in input, weight, output */
    size_t chw, kpq;  /* per image */
    size_t crs, pq;
} conv_sizes;

static conv_sizes sizes_of(const ns_conv_desc *d)
{
    conv_sizes z;
    z.chw = (size_t)d->c * d->h * d->w;
    z.crs = (size_t)d->c * d->r * d->s;
    z.pq = (size_t)d->p * d->q;
    z.kpq = (size_t)d->k * z.pq;
    z.x = (size_t)d->n * z.chw;
    z.w = (size_t)d->k * z.crs;
    z.y = (size_t)d->n * z.kpq;
    return z;
}

/* Checks the descriptor and the three buffers (named for the message). */
static ns_status check_conv_args(ref_ctx *ctx, const char *op, const char *na, const ns_buf *a, size_t need_a, const char *nb,
                                 const ns_buf *b, size_t need_b, const char *nc,
                                 const ns_buf *c, size_t need_c)
{
    ns_status st = ref_check_buf(ctx, op, na, a, need_a);
    if (st == NS_OK)
        st = ref_check_buf(ctx, op, nb, b, need_b);
    if (st == NS_OK)
        st = ref_check_buf(ctx, op, nc, c, need_c);
    return st;
}

/* Threads over images: at most one per image, and none for tiny convolutions. */
static int team_over_images(const ref_ctx *ctx, const ns_conv_desc *d, const conv_sizes *z)
{
    int team = ref_team(ctx, (double)d->n * d->k * z->crs * z->pq);
    return team < d->n ? team : d->n;
}

ns_status ref_conv2d_forward(void *vctx, const ns_conv_desc *d, const ns_buf *x, const ns_buf *w,
                             ns_buf *y)
{
    ref_ctx *ctx = vctx;
    const char *op = "conv2d_forward";
    ns_status st = ref_check_conv(ctx, op, d);
    if (st != NS_OK)
        return st;
    conv_sizes z = sizes_of(d);
    st = check_conv_args(ctx, op, "x", x, z.x, "weight", w, z.w, "y", y, z.y);
    if (st != NS_OK)
        return st;
    int team = team_over_images(ctx, d, &z);
    int gemm_threads = team > 1 ? 1 : ctx->threads; /* the GEMM decides if it is worth it */
    int direct = is_pointwise(d);
    float *ws = NULL;
    if (!direct && !(ws = ref_workspace(ctx, op, (size_t)team * z.crs * z.pq)))
        return NS_ERR_NOMEM;
#pragma omp parallel for schedule(static) num_threads(team) if (team > 1)
    for (int i = 0; i < d->n; i++) {
        const float *xi = x->data + (size_t)i * z.chw;
        const float *col = xi;
        if (!direct) {
            float *mine = ws + (size_t)ref_thread_id() * z.crs * z.pq;
            im2col(d, xi, mine);
            col = mine;
        }
        ref_sgemm(gemm_threads, 0, 0, d->k, (int)z.pq, (int)z.crs, 1.0f, w->data, z.crs, col,
                  z.pq, 0.0f, y->data + (size_t)i * z.kpq, z.pq);
    }
    return NS_OK;
}

ns_status ref_conv2d_backward_data(void *vctx, const ns_conv_desc *d, const ns_buf *dy,
                                   const ns_buf *w, ns_buf *dx)
{
    ref_ctx *ctx = vctx;
    const char *op = "conv2d_backward_data";
    ns_status st = ref_check_conv(ctx, op, d);
    if (st != NS_OK)
        return st;
    conv_sizes z = sizes_of(d);
    st = check_conv_args(ctx, op, "dy", dy, z.y, "weight", w, z.w, "dx", dx, z.x);
    if (st != NS_OK)
        return st;
    int team = team_over_images(ctx, d, &z);
    int gemm_threads = team > 1 ? 1 : ctx->threads; /* the GEMM decides if it is worth it */
    int direct = is_pointwise(d);
    float *ws = NULL;
    if (!direct && !(ws = ref_workspace(ctx, op, (size_t)team * z.crs * z.pq)))
        return NS_ERR_NOMEM;
#pragma omp parallel for schedule(static) num_threads(team) if (team > 1)
    for (int i = 0; i < d->n; i++) {
        float *dxi = dx->data + (size_t)i * z.chw;
        float *dcol = direct ? dxi : ws + (size_t)ref_thread_id() * z.crs * z.pq;
        ref_sgemm(gemm_threads, 1, 0, (int)z.crs, (int)z.pq, d->k, 1.0f, w->data, z.crs,
                  dy->data + (size_t)i * z.kpq, z.pq, 0.0f, dcol, z.pq);
        if (!direct)
            col2im(d, dcol, dxi);
    }
    return NS_OK;
}

/* Each thread of the team accumulates the images it owns into a private dw;
 * the partial sums are then added in thread order, so the result depends only
 * on the team size, never on scheduling. */
ns_status ref_conv2d_backward_filter(void *vctx, const ns_conv_desc *d, const ns_buf *x,
                                     const ns_buf *dy, ns_buf *dw)
{
    ref_ctx *ctx = vctx;
    const char *op = "conv2d_backward_filter";
    ns_status st = ref_check_conv(ctx, op, d);
    if (st != NS_OK)
        return st;
    conv_sizes z = sizes_of(d);
    st = check_conv_args(ctx, op, "x", x, z.x, "dy", dy, z.y, "dw", dw, z.w);
    if (st != NS_OK)
        return st;
    int team = team_over_images(ctx, d, &z);
    int gemm_threads = team > 1 ? 1 : ctx->threads; /* the GEMM decides if it is worth it */
    int direct = is_pointwise(d);
    size_t col_n = direct ? 0 : z.crs * z.pq;
    size_t per_thread = col_n + z.w;
    float *ws = ref_workspace(ctx, op, (size_t)team * per_thread);
    if (!ws)
        return NS_ERR_NOMEM;
    memset(ws, 0, sizeof(float) * (size_t)team * per_thread);
#pragma omp parallel for schedule(static) num_threads(team) if (team > 1)
    for (int i = 0; i < d->n; i++) {
        float *mine = ws + (size_t)ref_thread_id() * per_thread;
        float *partial = mine + col_n;
        const float *xi = x->data + (size_t)i * z.chw;
        const float *col = xi;
        if (!direct) {
            im2col(d, xi, mine);
            col = mine;
        }
        ref_sgemm(gemm_threads, 0, 1, d->k, (int)z.crs, (int)z.pq, 1.0f,
                  dy->data + (size_t)i * z.kpq, z.pq, col, z.pq, 1.0f, partial, z.crs);
    }
    for (size_t j = 0; j < z.w; j++) {
        float sum = 0.0f;
        for (int t = 0; t < team; t++)
            sum += ws[(size_t)t * per_thread + col_n + j];
        dw->data[j] = sum;
    }
    return NS_OK;
}
