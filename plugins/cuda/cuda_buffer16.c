/* Access to a buffer's two storages (cuda_resident.h): the float32 NCHW copy
 * every ABI op understands, and the 16-bit NHWC copy of the resident path.
 * Conversions happen here and only here, lazily, when an op needs the copy
 * that is not valid; they are queued on the context's one stream like the ops
 * themselves, so the host-side state may change before the device runs them. */
#include "cuda_context.h"
#include "kernels.h"

int ns_cuda_resident16(const ns_cuda_ctx *c)
{
    return c->nhwc16 && c->precision != NS_PRECISION_FP32;
}

int ns_cuda_bf16(const ns_cuda_ctx *c)
{
    return c->precision == NS_PRECISION_BF16;
}

/* Widens the 16-bit tensor into f32 when f32 is stale. */
static ns_status make_f32(ns_cuda_ctx *c, const char *op, ns_buf *b)
{
    if (b->res.f32_valid)
        return NS_OK;
    const int *d = b->res.dims;
    NS_CUDA_RT(c, op, ns_k_widen_nchw(c->stream, b->h16, b->f32, d[0], d[1], d[2], d[3],
                                      ns_cuda_bf16(c)));
    ns_cuda_res_widened(&b->res);
    return NS_OK;
}

ns_status ns_cuda_rd(ns_cuda_ctx *c, const char *op, const ns_buf *b, const float **out)
{
    /* a layout change, not a content change: allowed on a const input */
    NS_CUDA_TRY(make_f32(c, op, (ns_buf *)b));
    *out = b->f32;
    return NS_OK;
}

float *ns_cuda_wr(ns_buf *b)
{
    ns_cuda_res_wrote_f32(&b->res);
    return b->f32;
}

ns_status ns_cuda_rw(ns_cuda_ctx *c, const char *op, ns_buf *b, float **out)
{
    NS_CUDA_TRY(make_f32(c, op, b));
    *out = ns_cuda_wr(b);
    return NS_OK;
}

ns_status ns_cuda_make_plain(ns_cuda_ctx *c, const char *op, ns_buf *b)
{
    NS_CUDA_TRY(make_f32(c, op, b));
    ns_cuda_res_wrote_f32(&b->res); /* same values; the 16-bit copy is just forgotten */
    return NS_OK;
}

/* b->h16 holding at least `bytes`; the old storage goes back to the
 * allocator (safe on one stream: its last reader was queued before). The old
 * content is lost, so callers only grow storage they are about to fill. */
static ns_status grow_h16(ns_cuda_ctx *c, const char *op, ns_buf *b, size_t bytes)
{
    if (b->h16 && b->h16_capacity >= bytes)
        return NS_OK;
    if (b->h16)
        ns_cuda_alloc_put(&c->alloc, b->h16, b->h16_capacity);
    b->h16 = NULL;
    b->h16_capacity = 0;
    void *p;
    size_t reserved;
    cudaError_t e = ns_cuda_alloc_get(&c->alloc, bytes ? bytes : 2, &p, &reserved);
    if (e != cudaSuccess)
        return ns_cuda_fail_rt(c, op, "16-bit storage cudaMalloc", e);
    b->h16 = p;
    b->h16_capacity = reserved;
    return NS_OK;
}

static ns_status check_dims(ns_cuda_ctx *c, const char *op, const ns_buf *b, const int dims[4])
{
    size_t count = ns_cuda_dims_count(dims);
    if (count == 0 || count > b->n) {
        c->host->set_error("%s: a 16-bit tensor of %dx%dx%dx%d does not fit a buffer of %zu "
                           "floats",
                           op, dims[0], dims[1], dims[2], dims[3], b->n);
        return NS_ERR_INVALID_ARG;
    }
    return NS_OK;
}

ns_status ns_cuda_h16_rd(ns_cuda_ctx *c, const char *op, const ns_buf *cb, const int dims[4],
                         int need_exact, const void **out)
{
    ns_buf *b = (ns_buf *)cb; /* layout/cache changes only: the content stays (see header) */
    NS_CUDA_TRY(check_dims(c, op, b, dims));
    if (ns_cuda_res_h16_fits(&b->res, dims, need_exact)) {
        *out = b->h16;
        return NS_OK;
    }
    if (need_exact)
        return NS_ERR_NOT_FOUND; /* the caller's float32 path; nothing converted */
    /* Round the float32 content into h16 as `dims`; a 16-bit tensor of other
     * dims is widened first, since it is about to be overwritten. */
    NS_CUDA_TRY(make_f32(c, op, b));
    NS_CUDA_TRY(grow_h16(c, op, b, ns_cuda_dims_count(dims) * 2));
    NS_CUDA_RT(c, op, ns_k_narrow_nhwc(c->stream, b->f32, b->h16, dims[0], dims[1], dims[2],
                                       dims[3], ns_cuda_bf16(c)));
    ns_cuda_res_narrowed(&b->res, dims);
    *out = b->h16;
    return NS_OK;
}

ns_status ns_cuda_h16_wr(ns_cuda_ctx *c, const char *op, ns_buf *b, const int dims[4], void **out)
{
    NS_CUDA_TRY(check_dims(c, op, b, dims));
    NS_CUDA_TRY(grow_h16(c, op, b, ns_cuda_dims_count(dims) * 2));
    ns_cuda_res_wrote_h16(&b->res, dims);
    *out = b->h16;
    return NS_OK;
}

void ns_cuda_buf_release(ns_cuda_ctx *c, ns_buf *b)
{
    ns_cuda_alloc_put(&c->alloc, b->f32, b->capacity);
    if (b->h16)
        ns_cuda_alloc_put(&c->alloc, b->h16, b->h16_capacity);
    b->f32 = NULL;
    b->h16 = NULL;
}
