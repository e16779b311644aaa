/* Convolutions as im2col + one CLBlast SGEMM per chunk of images.
 *
 * With the batch folded into the GEMM's columns (col is [C*R*S][nb*P*Q]) each
 * chunk is one large GEMM, which CLBlast runs far better than nb small ones:
 *   forward          Yk[K][nb*PQ]   = W[K][CRS] . col            then Yk -> y (NCHW)
 *   backward data    dcol[CRS][nbPQ] = W^T . dYk (dy -> dYk)      then col2im -> dx
 *   backward filter  dW[K][CRS]     += dYk . col^T               (summed over chunks)
 * A chunk is as many images as fit the workspace cap (ws_cap_floats), so memory
 * stays bounded for any batch; each index inside a chunk fits an int.
 *
 * On CPU devices (c->direct_conv) stride-1 convolutions whose output rows fit
 * the SGEMM's vector (direct_fits) skip im2col: the forward pass runs
 * ns_conv_direct over a zero-padded copy of the input, and the data gradient
 * is the same kernel over the padded dy with the flipped, transposed weights
 * (a stride-1 convolution's adjoint is a stride-1 convolution), and the
 * filter gradient runs ns_conv_direct_dw (dot products along output rows,
 * so q must be a multiple of the dot product's vector). */
#include <limits.h>

#include "ocl_internal.h"

typedef struct conv_plan {
    size_t crs, pq, chw, kpq; /* per-image sizes */
    int nb;                   /* images per chunk */
} conv_plan;

static ns_status plan(ocl_ctx *c, const char *op, const ns_conv_desc *d, conv_plan *pl)
{
    if (!d) {
        c->host->set_error("opencl %s: descriptor is NULL", op);
        return NS_ERR_INVALID_ARG;
    }
    if (d->n <= 0 || d->c <= 0 || d->h <= 0 || d->w <= 0 || d->k <= 0 || d->r <= 0 || d->s <= 0 ||
        d->stride <= 0 || d->pad < 0) {
        c->host->set_error("opencl %s: bad descriptor n=%d c=%d h=%d w=%d k=%d r=%d s=%d "
                           "stride=%d pad=%d (expected positive sizes, pad >= 0)",
                           op, d->n, d->c, d->h, d->w, d->k, d->r, d->s, d->stride, d->pad);
        return NS_ERR_INVALID_ARG;
    }
    int p = (d->h + 2 * d->pad - d->r) / d->stride + 1;
    int q = (d->w + 2 * d->pad - d->s) / d->stride + 1;
    if (d->h + 2 * d->pad < d->r || d->w + 2 * d->pad < d->s || d->p != p || d->q != q) {
        c->host->set_error("opencl %s: output %dx%d, expected %dx%d for h=%d w=%d r=%d s=%d "
                           "stride=%d pad=%d",
                           op, d->p, d->q, p, q, d->h, d->w, d->r, d->s, d->stride, d->pad);
        return NS_ERR_INVALID_ARG;
    }
    pl->crs = (size_t)d->c * d->r * d->s;
    pl->pq = (size_t)p * q;
    pl->chw = (size_t)d->c * d->h * d->w;
    pl->kpq = (size_t)d->k * pl->pq;
    size_t per_image = pl->crs > (size_t)d->k ? pl->crs * pl->pq : pl->kpq;
    size_t biggest = per_image > pl->chw ? per_image : pl->chw;
    if (biggest > INT_MAX) {
        c->host->set_error("opencl %s: one image needs a %zu-float workspace, more than the "
                           "kernels index (%d)", op, biggest, INT_MAX);
        return NS_ERR_UNSUPPORTED;
    }
    size_t nb = c->ws_cap_floats / per_image;
    if ((size_t)INT_MAX / biggest < nb)
        nb = (size_t)INT_MAX / biggest;
    if (nb < 1)
        nb = 1;
    if (nb > (size_t)d->n)
        nb = (size_t)d->n;
    pl->nb = (int)nb;
    return NS_OK;
}

static ns_status im2col(ocl_ctx *c, const char *op, const ns_conv_desc *d, const conv_plan *pl,
                        const ns_buf *x, int n0, int nb)
{
    size_t items = pl->crs * (size_t)nb * d->p;
    return ocl_launch(c, op, OCL_K_IM2COL, items,
                         OCL_ARGS(OCL_MEM(x->mem), OCL_U64((cl_ulong)n0 * pl->chw),
                                  OCL_MEM(c->ws_col.mem), OCL_I32((int)items), OCL_I32(d->c),
                                  OCL_I32(d->h), OCL_I32(d->w), OCL_I32(d->r), OCL_I32(d->s),
                                  OCL_I32(d->stride), OCL_I32(d->pad), OCL_I32(d->p),
                                  OCL_I32(d->q), OCL_I32(nb)));
}

/* dy chunk (NCHW) -> ws_k as [K][nb*PQ] */
static ns_status gather_dy(ocl_ctx *c, const char *op, const ns_conv_desc *d,
                           const conv_plan *pl, const ns_buf *dy, int n0, int nb)
{
    size_t planes = (size_t)d->k * nb;
    return ocl_launch(c, op, OCL_K_NCHW_TO_CN, planes,
                      OCL_ARGS(OCL_MEM(dy->mem), OCL_U64((cl_ulong)n0 * pl->kpq),
                               OCL_MEM(c->ws_k.mem), OCL_I32((int)planes), OCL_I32(d->k),
                               OCL_I32((int)pl->pq), OCL_I32(nb)));
}

static ns_status reserve(ocl_ctx *c, const char *op, const conv_plan *pl, int need_col,
                         int need_k)
{
    ns_status st = NS_OK;
    if (need_col)
        st = ocl_scratch_reserve(c, op, &c->ws_col, pl->crs * pl->pq * pl->nb * sizeof(float));
    if (st == NS_OK && need_k)
        st = ocl_scratch_reserve(c, op, &c->ws_k, pl->kpq * pl->nb * sizeof(float));
    return st;
}

/* Whether ns_conv_direct computes a stride-1 convolution with a p x q output:
 * a vector of NS_VW positions must be one run of a row, or two rows of 8 of
 * the same image (so p must be even). */
static int direct_fits(const ocl_ctx *c, int stride, int p, int q)
{
    int vw = c->rt->tile.vw;
    return c->direct_conv && stride == 1 &&
           (q % vw == 0 || (vw == 16 && q == 8 && p % 2 == 0));
}

/* Images per chunk of the direct path: the padded copy of a chunk fits the
 * workspace cap (so it and the chunk of dy stay in cache), and every index
 * inside a chunk fits an int. Unpadded input is read in place; it is chunked
 * the same way for the cache. */
static int direct_chunk(const ocl_ctx *c, size_t per_image, size_t out_per_image, int n)
{
    size_t big = per_image > out_per_image ? per_image : out_per_image;
    size_t nb = c->ws_cap_floats / per_image;
    if (nb > (size_t)INT_MAX / big)
        nb = (size_t)INT_MAX / big;
    if (nb < 1)
        nb = 1;
    return nb > (size_t)n ? n : (int)nb;
}

/* The chunk's input as the direct kernels read it: in itself at its offset when
 * pad == 0, else its zero-padded copy in ws_col (reserved by the caller). */
static ns_status padded_input(ocl_ctx *c, const char *op, cl_mem in, int n0, int cnt, int cin,
                              int hin, int win, int pad, cl_mem *xp, cl_ulong *xbase)
{
    *xp = in;
    *xbase = (cl_ulong)n0 * cin * hin * win;
    if (pad == 0)
        return NS_OK;
    size_t items = (size_t)cnt * cin * (hin + 2 * pad);
    ns_status st = ocl_launch(c, op, OCL_K_PAD_PLANES, items,
                              OCL_ARGS(OCL_MEM(in), OCL_U64(*xbase), OCL_MEM(c->ws_col.mem),
                                       OCL_I32((int)items), OCL_I32(hin), OCL_I32(win),
                                       OCL_I32(pad)));
    *xp = c->ws_col.mem;
    *xbase = 0;
    return st;
}

/* Refuses shapes whose padded image or output would overflow the kernels' ints. */
static ns_status direct_sizes(ocl_ctx *c, const char *op, int cin, int hp, int wp, size_t out,
                              size_t *per_image)
{
    *per_image = (size_t)cin * hp * wp;
    if (*per_image > INT_MAX || out > INT_MAX) {
        c->host->set_error("opencl %s: one image of %d x %dx%d (padded) needs more than int "
                           "indices", op, cin, hp, wp);
        return NS_ERR_UNSUPPORTED;
    }
    return NS_OK;
}

/* out = conv(in) at stride 1 for `n` images: in is [n][cin][hin][win], wgt
 * [kout][cin*r*s], out [n][kout][p][q] with p = hin + 2*pad - r + 1 (and q). */
static ns_status direct(ocl_ctx *c, const char *op, int n, int cin, int hin, int win, int pad,
                        int r, int s, cl_mem in, cl_mem wgt, int kout, int p, int q, cl_mem out)
{
    int hp = hin + 2 * pad, wp = win + 2 * pad;
    size_t pq = (size_t)p * q, vw = (size_t)c->rt->tile.vw, tm = (size_t)c->rt->tile.tm;
    size_t per_image;
    ns_status st = direct_sizes(c, op, cin, hp, wp, pq * kout, &per_image);
    int nb = direct_chunk(c, per_image, pq * kout, n);
    if (st == NS_OK && pad > 0)
        st = ocl_scratch_reserve(c, op, &c->ws_col, per_image * nb * sizeof(float));
    for (int n0 = 0; st == NS_OK && n0 < n; n0 += nb) {
        int cnt = n - n0 < nb ? n - n0 : nb;
        cl_mem xp;
        cl_ulong xbase;
        st = padded_input(c, op, in, n0, cnt, cin, hin, win, pad, &xp, &xbase);
        if (st == NS_OK)
            st = ocl_launch_2d(c, op, OCL_K_CONV_DIRECT, (size_t)cnt * pq / vw,
                               ((size_t)kout + tm - 1) / tm,
                               OCL_ARGS(OCL_MEM(xp), OCL_U64(xbase), OCL_I32(cin), OCL_I32(hp),
                                        OCL_I32(wp), OCL_MEM(wgt), OCL_MEM(out),
                                        OCL_U64((cl_ulong)n0 * kout * pq), OCL_I32(kout),
                                        OCL_I32(p), OCL_I32(q), OCL_I32(r), OCL_I32(s),
                                        OCL_I32(cnt)));
    }
    return st;
}

/* dw = the filter gradient of a stride-1 convolution, summed chunk by chunk. */
static ns_status direct_dw(ocl_ctx *c, const char *op, const ns_conv_desc *d, cl_mem x,
                           cl_mem dy, cl_mem dw)
{
    int hp = d->h + 2 * d->pad, wp = d->w + 2 * d->pad;
    size_t pq = (size_t)d->p * d->q, crs = (size_t)d->c * d->r * d->s;
    size_t nt = (size_t)c->rt->tile.ntb, per_image;
    ns_status st = direct_sizes(c, op, d->c, hp, wp, pq * d->k, &per_image);
    int nb = direct_chunk(c, per_image, pq * d->k, d->n);
    if (st == NS_OK && d->pad > 0)
        st = ocl_scratch_reserve(c, op, &c->ws_col, per_image * nb * sizeof(float));
    for (int n0 = 0; st == NS_OK && n0 < d->n; n0 += nb) {
        int cnt = d->n - n0 < nb ? d->n - n0 : nb;
        cl_mem xp;
        cl_ulong xbase;
        st = padded_input(c, op, x, n0, cnt, d->c, d->h, d->w, d->pad, &xp, &xbase);
        if (st == NS_OK)
            st = ocl_launch_2d(c, op, OCL_K_CONV_DIRECT_DW, (crs + nt - 1) / nt,
                               ((size_t)d->k + nt - 1) / nt,
                               OCL_ARGS(OCL_MEM(xp), OCL_U64(xbase), OCL_I32(d->c), OCL_I32(hp),
                                        OCL_I32(wp), OCL_MEM(dy),
                                        OCL_U64((cl_ulong)n0 * d->k * pq), OCL_I32(d->k),
                                        OCL_I32(d->p), OCL_I32(d->q), OCL_I32(d->r),
                                        OCL_I32(d->s), OCL_I32(cnt), OCL_MEM(dw),
                                        OCL_I32(n0 > 0)));
    }
    return st;
}

ns_status ocl_conv2d_forward(void *ctx, const ns_conv_desc *d, const ns_buf *x, const ns_buf *w,
                             ns_buf *y)
{
    ocl_ctx *c = ctx;
    const char *op = "conv2d_forward";
    conv_plan pl;
    ns_status st = plan(c, op, d, &pl);
    if (st == NS_OK)
        st = ocl_need(c, op, "x", x, pl.chw * d->n);
    if (st == NS_OK)
        st = ocl_need(c, op, "w", w, pl.crs * d->k);
    if (st == NS_OK)
        st = ocl_need(c, op, "y", y, pl.kpq * d->n);
    if (st == NS_OK && direct_fits(c, d->stride, d->p, d->q))
        return direct(c, op, d->n, d->c, d->h, d->w, d->pad, d->r, d->s, x->mem, w->mem, d->k,
                      d->p, d->q, y->mem);
    if (st == NS_OK)
        st = reserve(c, op, &pl, 1, 1);
    for (int n0 = 0; st == NS_OK && n0 < d->n; n0 += pl.nb) {
        int nb = d->n - n0 < pl.nb ? d->n - n0 : pl.nb;
        size_t cols = pl.pq * (size_t)nb;
        st = im2col(c, op, d, &pl, x, n0, nb);
        if (st == NS_OK)
            st = ocl_sgemm(c, op, 0, 0, (size_t)d->k, cols, pl.crs, 1.0f, w->mem, pl.crs,
                           c->ws_col.mem, cols, 0.0f, c->ws_k.mem);
        if (st == NS_OK) {
            size_t planes = (size_t)d->k * nb;
            st = ocl_launch(c, op, OCL_K_CN_TO_NCHW, planes,
                            OCL_ARGS(OCL_MEM(c->ws_k.mem), OCL_MEM(y->mem),
                                     OCL_U64((cl_ulong)n0 * pl.kpq), OCL_I32((int)planes),
                                     OCL_I32(d->k), OCL_I32((int)pl.pq), OCL_I32(nb)));
        }
    }
    return st;
}

ns_status ocl_conv2d_backward_data(void *ctx, const ns_conv_desc *d, const ns_buf *dy,
                                   const ns_buf *w, ns_buf *dx)
{
    ocl_ctx *c = ctx;
    const char *op = "conv2d_backward_data";
    conv_plan pl;
    ns_status st = plan(c, op, d, &pl);
    if (st == NS_OK)
        st = ocl_need(c, op, "dy", dy, pl.kpq * d->n);
    if (st == NS_OK)
        st = ocl_need(c, op, "w", w, pl.crs * d->k);
    if (st == NS_OK)
        st = ocl_need(c, op, "dx", dx, pl.chw * d->n);
    /* The adjoint: dx = conv(dy padded by r-1-pad, flipped transposed w). */
    if (st == NS_OK && d->r == d->s && d->pad <= d->r - 1 &&
        direct_fits(c, d->stride, d->h, d->w)) {
        size_t items = pl.crs * (size_t)d->k;
        st = ocl_scratch_reserve(c, op, &c->ws_wt, items * sizeof(float));
        if (st == NS_OK)
            st = ocl_launch(c, op, OCL_K_FLIP_WEIGHTS, items,
                            OCL_ARGS(OCL_MEM(w->mem), OCL_MEM(c->ws_wt.mem), OCL_I32((int)items),
                                     OCL_I32(d->k), OCL_I32(d->c), OCL_I32(d->r),
                                     OCL_I32(d->s)));
        if (st == NS_OK)
            st = direct(c, op, d->n, d->k, d->p, d->q, d->r - 1 - d->pad, d->r, d->s, dy->mem,
                        c->ws_wt.mem, d->c, d->h, d->w, dx->mem);
        return st;
    }
    if (st == NS_OK)
        st = reserve(c, op, &pl, 1, 1);
    for (int n0 = 0; st == NS_OK && n0 < d->n; n0 += pl.nb) {
        int nb = d->n - n0 < pl.nb ? d->n - n0 : pl.nb;
        size_t cols = pl.pq * (size_t)nb;
        st = gather_dy(c, op, d, &pl, dy, n0, nb);
        if (st == NS_OK)
            st = ocl_sgemm(c, op, 1, 0, pl.crs, cols, (size_t)d->k, 1.0f, w->mem, pl.crs,
                           c->ws_k.mem, cols, 0.0f, c->ws_col.mem);
        if (st == NS_OK) {
            size_t items = (size_t)d->c * nb * d->h;
            st = ocl_launch(c, op, OCL_K_COL2IM, items,
                               OCL_ARGS(OCL_MEM(c->ws_col.mem), OCL_MEM(dx->mem),
                                        OCL_U64((cl_ulong)n0 * pl.chw), OCL_I32((int)items),
                                        OCL_I32(d->c), OCL_I32(d->h), OCL_I32(d->w),
                                        OCL_I32(d->r), OCL_I32(d->s), OCL_I32(d->stride),
                                        OCL_I32(d->pad), OCL_I32(d->p), OCL_I32(d->q),
                                        OCL_I32(nb)));
        }
    }
    return st;
}

ns_status ocl_conv2d_backward_filter(void *ctx, const ns_conv_desc *d, const ns_buf *x,
                                     const ns_buf *dy, ns_buf *dw)
{
    ocl_ctx *c = ctx;
    const char *op = "conv2d_backward_filter";
    conv_plan pl;
    ns_status st = plan(c, op, d, &pl);
    if (st == NS_OK)
        st = ocl_need(c, op, "x", x, pl.chw * d->n);
    if (st == NS_OK)
        st = ocl_need(c, op, "dy", dy, pl.kpq * d->n);
    if (st == NS_OK)
        st = ocl_need(c, op, "dw", dw, pl.crs * d->k);
    if (st == NS_OK && d->stride == 1 && c->direct_conv && d->q % c->rt->tile.ntv == 0)
        return direct_dw(c, op, d, x->mem, dy->mem, dw->mem);
    if (st == NS_OK)
        st = reserve(c, op, &pl, 1, 1);
    for (int n0 = 0; st == NS_OK && n0 < d->n; n0 += pl.nb) {
        int nb = d->n - n0 < pl.nb ? d->n - n0 : pl.nb;
        size_t cols = pl.pq * (size_t)nb;
        st = im2col(c, op, d, &pl, x, n0, nb);
        if (st == NS_OK)
            st = gather_dy(c, op, d, &pl, dy, n0, nb);
        if (st == NS_OK)
            st = ocl_sgemm(c, op, 0, 1, (size_t)d->k, pl.crs, cols, 1.0f, c->ws_k.mem, cols,
                           c->ws_col.mem, cols, n0 == 0 ? 0.0f : 1.0f, dw->mem);
    }
    return st;
}
