/* The three convolution ops and the fused inference unit.
 *
 * fp32 runs cuDNN on the float32 buffers themselves (NCHW). bf16/fp16 on the
 * resident path (ns_cuda_resident16, README.md) runs cuDNN on the buffers'
 * 16-bit NHWC copies: inputs are read as they are when a previous op left them
 * in 16 bits, or rounded once into the buffer's 16-bit storage (input images;
 * weights once per optimizer step), and the output is written as a 16-bit
 * tensor that the next op reads as it is. With nhwc16=0, and for a shape
 * cuDNN has no NHWC engine for, the per-call path: 16-bit NCHW copies of the
 * inputs in temporaries, the result converted back to float32. */
#include "cuda_context.h"
#include "cuda_conv_plan.h"
#include "cuda_ops.h"
#include "kernels.h"

static ns_status check_desc(ns_cuda_ctx *c, const char *op, const ns_conv_desc *d)
{
    if (!d) {
        c->host->set_error("%s: descriptor is NULL", op);
        return NS_ERR_INVALID_ARG;
    }
    if (d->n < 1 || d->c < 1 || d->h < 1 || d->w < 1 || d->k < 1 || d->r < 1 || d->s < 1 ||
        d->stride < 1 || d->pad < 0) {
        c->host->set_error("%s: n=%d c=%d h=%d w=%d k=%d r=%d s=%d stride=%d pad=%d, expected "
                           "positive sizes and stride, pad >= 0",
                           op, d->n, d->c, d->h, d->w, d->k, d->r, d->s, d->stride, d->pad);
        return NS_ERR_INVALID_ARG;
    }
    int p = d->h + 2 * d->pad - d->r, q = d->w + 2 * d->pad - d->s;
    if (p < 0 || q < 0 || d->p != p / d->stride + 1 || d->q != q / d->stride + 1) {
        c->host->set_error("%s: output %dx%d does not match input %dx%d, kernel %dx%d, stride %d, "
                           "pad %d",
                           op, d->p, d->q, d->h, d->w, d->r, d->s, d->stride, d->pad);
        return NS_ERR_INVALID_ARG;
    }
    return NS_OK;
}

/* Sizes in floats of the three tensors. */
static void sizes(const ns_conv_desc *d, size_t *x, size_t *w, size_t *y)
{
    *x = (size_t)d->n * d->c * d->h * d->w;
    *w = (size_t)d->k * d->c * d->r * d->s;
    *y = (size_t)d->n * d->k * d->p * d->q;
}

/* A 16-bit device copy: storage from the caching allocator. */
typedef struct half_tmp {
    void *ptr;
    size_t reserved;
} half_tmp;

static ns_status half_alloc(ns_cuda_ctx *c, const char *op, size_t n, half_tmp *t)
{
    cudaError_t e = ns_cuda_alloc_get(&c->alloc, n * 2, &t->ptr, &t->reserved);
    if (e != cudaSuccess)
        return ns_cuda_fail_rt(c, op, "16-bit copy cudaMalloc", e);
    return NS_OK;
}

static ns_status half_from(ns_cuda_ctx *c, const char *op, const float *src, size_t n, half_tmp *t)
{
    NS_CUDA_TRY(half_alloc(c, op, n, t));
    NS_CUDA_RT(c, op, ns_k_to_half(c->stream, src, t->ptr, n, c->precision == NS_PRECISION_BF16));
    return NS_OK;
}

static void half_put(ns_cuda_ctx *c, half_tmp *t)
{
    ns_cuda_alloc_put(&c->alloc, t->ptr, t->reserved);
    t->ptr = NULL;
}

/* The per-call path (nhwc16=0, or the fallback): float32 pointers in the
 * roles (x, w, y) given by `role` (indices into {in0, in1, out}). */
static ns_status run_nchw(ns_cuda_ctx *c, const char *op, ns_cuda_conv_kind kind,
                          const ns_conv_desc *d, const float *in0, size_t n0, const float *in1,
                          size_t n1, float *out, size_t n_out, const int role[3])
{
    if (c->precision == NS_PRECISION_FP32) {
        void *t[3] = {(void *)in0, (void *)in1, out};
        return ns_cuda_conv_run(c, op, kind, d, CUDNN_DATA_FLOAT, NS_CUDA_LAYOUT_NCHW, t[role[0]],
                                t[role[1]], t[role[2]]);
    }
    cudnnDataType_t dtype =
        c->precision == NS_PRECISION_BF16 ? CUDNN_DATA_BFLOAT16 : CUDNN_DATA_HALF;
    half_tmp h[3] = {{NULL, 0}, {NULL, 0}, {NULL, 0}};
    ns_status st = half_from(c, op, in0, n0, &h[0]);
    if (st == NS_OK)
        st = half_from(c, op, in1, n1, &h[1]);
    if (st == NS_OK)
        st = half_alloc(c, op, n_out, &h[2]);
    if (st == NS_OK)
        st = ns_cuda_conv_run(c, op, kind, d, dtype, NS_CUDA_LAYOUT_NCHW, h[role[0]].ptr,
                              h[role[1]].ptr, h[role[2]].ptr);
    if (st == NS_OK) {
        cudaError_t e = ns_k_from_half(c->stream, h[2].ptr, out, n_out,
                                       c->precision == NS_PRECISION_BF16);
        if (e != cudaSuccess)
            st = ns_cuda_fail_rt(c, op, "ns_k_from_half", e);
    }
    for (int i = 0; i < 3; i++)
        half_put(c, &h[i]);
    return st;
}

/* The per-call path on buffers: float32 reads of in0/in1, a float32 write of out. */
static ns_status run_plain(ns_cuda_ctx *c, const char *op, ns_cuda_conv_kind kind,
                           const ns_conv_desc *d, const ns_buf *in0, size_t n0, const ns_buf *in1,
                           size_t n1, ns_buf *out, size_t n_out, const int role[3])
{
    const float *p0, *p1;
    NS_CUDA_TRY(ns_cuda_rd(c, op, in0, &p0));
    NS_CUDA_TRY(ns_cuda_rd(c, op, in1, &p1));
    return run_nchw(c, op, kind, d, p0, n0, p1, n1, ns_cuda_wr(out), n_out, role);
}

/* Logical dims of the three tensors: x (n,c,h,w), w (k,c,r,s), y (n,k,p,q). */
static void dims_of(const ns_conv_desc *d, int x[4], int w[4], int y[4])
{
    x[0] = d->n, x[1] = d->c, x[2] = d->h, x[3] = d->w;
    w[0] = d->k, w[1] = d->c, w[2] = d->r, w[3] = d->s;
    y[0] = d->n, y[1] = d->k, y[2] = d->p, y[3] = d->q;
}

/* The resident path: in0/in1 read as 16-bit NHWC tensors of dims0/dims1
 * (rounded into their 16-bit storage when not already there), out written as
 * a 16-bit NHWC tensor of dims_out. NS_ERR_UNSUPPORTED when cuDNN has no NHWC
 * engine for the shape (out's content is then unspecified: the caller
 * overwrites it on the per-call path). */
static ns_status run_nhwc(ns_cuda_ctx *c, const char *op, ns_cuda_conv_kind kind,
                          const ns_conv_desc *d, const ns_buf *in0, const int dims0[4],
                          const ns_buf *in1, const int dims1[4], ns_buf *out,
                          const int dims_out[4], const int role[3])
{
    cudnnDataType_t dtype = ns_cuda_bf16(c) ? CUDNN_DATA_BFLOAT16 : CUDNN_DATA_HALF;
    const void *p0, *p1;
    void *po;
    NS_CUDA_TRY(ns_cuda_h16_rd(c, op, in0, dims0, 0, &p0));
    NS_CUDA_TRY(ns_cuda_h16_rd(c, op, in1, dims1, 0, &p1));
    /* out never aliases in0/in1 (backend.h); when the shape has no NHWC
     * engine, the fallback overwrites out in float32, which makes this
     * write's state change moot. */
    NS_CUDA_TRY(ns_cuda_h16_wr(c, op, out, dims_out, &po));
    void *t[3] = {(void *)p0, (void *)p1, po};
    ns_status st = ns_cuda_conv_run(c, op, kind, d, dtype, NS_CUDA_LAYOUT_NHWC, t[role[0]],
                                    t[role[1]], t[role[2]]);
    return st;
}

/* Runs one convolution on buffers in0, in1 -> out, on the resident path when
 * the context has it (falling back per shape), otherwise per call. */
static ns_status run(ns_cuda_ctx *c, const char *op, ns_cuda_conv_kind kind, const ns_conv_desc *d,
                     const ns_buf *in0, size_t n0, const int dims0[4], const ns_buf *in1,
                     size_t n1, const int dims1[4], ns_buf *out, size_t n_out,
                     const int dims_out[4], const int role[3])
{
    if (ns_cuda_resident16(c)) {
        ns_status st = run_nhwc(c, op, kind, d, in0, dims0, in1, dims1, out, dims_out, role);
        if (st != NS_ERR_UNSUPPORTED) /* the plan cache logged the shape when it fell back */
            return st;
    }
    return run_plain(c, op, kind, d, in0, n0, in1, n1, out, n_out, role);
}

ns_status ns_cuda_conv2d_forward(void *ctx, const ns_conv_desc *d, const ns_buf *x,
                                 const ns_buf *w, ns_buf *y)
{
    ns_cuda_ctx *c = ctx;
    const char *op = "conv2d_forward";
    NS_CUDA_TRY(check_desc(c, op, d));
    size_t nx, nw, ny;
    sizes(d, &nx, &nw, &ny);
    NS_CUDA_TRY(ns_cuda_need(c, op, "x", x, nx));
    NS_CUDA_TRY(ns_cuda_need(c, op, "w", w, nw));
    NS_CUDA_TRY(ns_cuda_need(c, op, "y", y, ny));
    NS_CUDA_TRY(ns_cuda_enter(c, op));
    int dx[4], dw[4], dy[4];
    dims_of(d, dx, dw, dy);
    static const int role[3] = {0, 1, 2}; /* x = in0, w = in1, y = out */
    return run(c, op, NS_CUDA_CONV_FORWARD, d, x, nx, dx, w, nw, dw, y, ny, dy, role);
}

ns_status ns_cuda_conv2d_backward_data(void *ctx, const ns_conv_desc *d, const ns_buf *dy,
                                       const ns_buf *w, ns_buf *dx)
{
    ns_cuda_ctx *c = ctx;
    const char *op = "conv2d_backward_data";
    NS_CUDA_TRY(check_desc(c, op, d));
    size_t nx, nw, ny;
    sizes(d, &nx, &nw, &ny);
    NS_CUDA_TRY(ns_cuda_need(c, op, "dy", dy, ny));
    NS_CUDA_TRY(ns_cuda_need(c, op, "w", w, nw));
    NS_CUDA_TRY(ns_cuda_need(c, op, "dx", dx, nx));
    NS_CUDA_TRY(ns_cuda_enter(c, op));
    int ddx[4], dw[4], ddy[4];
    dims_of(d, ddx, dw, ddy);
    static const int role[3] = {2, 1, 0}; /* x role = dx (out), w = in1, y role = dy (in0) */
    return run(c, op, NS_CUDA_CONV_BACKWARD_DATA, d, dy, ny, ddy, w, nw, dw, dx, nx, ddx, role);
}

ns_status ns_cuda_conv2d_backward_filter(void *ctx, const ns_conv_desc *d, const ns_buf *x,
                                         const ns_buf *dy, ns_buf *dw)
{
    ns_cuda_ctx *c = ctx;
    const char *op = "conv2d_backward_filter";
    NS_CUDA_TRY(check_desc(c, op, d));
    size_t nx, nw, ny;
    sizes(d, &nx, &nw, &ny);
    NS_CUDA_TRY(ns_cuda_need(c, op, "x", x, nx));
    NS_CUDA_TRY(ns_cuda_need(c, op, "dy", dy, ny));
    NS_CUDA_TRY(ns_cuda_need(c, op, "dw", dw, nw));
    NS_CUDA_TRY(ns_cuda_enter(c, op));
    int dx[4], ddw[4], ddy[4];
    dims_of(d, dx, ddw, ddy);
    static const int role[3] = {0, 2, 1}; /* x = in0, w role = dw (out), y role = dy (in1) */
    NS_CUDA_TRY(run(c, op, NS_CUDA_CONV_BACKWARD_FILTER, d, x, nx, dx, dy, ny, ddy, dw, nw, ddw,
                    role));
    /* A weight gradient goes float32 at once and stays float32 only (as
     * the per-call path and PyTorch's autocast give it): what reads it next
     * (the NaN/Inf guard, loss-scale division, all-reduce, optimizer) is
     * float32 work on a small tensor, and an fp16 gradient divided by the
     * loss scale in 16 bits would flush small values to zero. */
    return ns_cuda_make_plain(c, op, dw);
}
