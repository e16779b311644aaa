/* Buffers: allocation through the caching allocator, uploads through pinned
 * staging (so upload() returns once `src` is copied, while the device copy
 * overlaps with queued compute), downloads, fills and copies. */
#include <stdlib.h>
#include <string.h>

#include "cuda_context.h"
#include "cuda_ops.h"
#include "kernels.h"

ns_status ns_cuda_buf_alloc(void *ctx, size_t n, ns_buf **out)
{
    ns_cuda_ctx *c = ctx;
    const char *op = "buf_alloc";
    if (!out) {
        c->host->set_error("buf_alloc: out is NULL");
        return NS_ERR_INVALID_ARG;
    }
    *out = NULL;
    if (n > SIZE_MAX / sizeof(float)) {
        c->host->set_error("buf_alloc: %zu floats overflow the address space", n);
        return NS_ERR_INVALID_ARG;
    }
    NS_CUDA_TRY(ns_cuda_enter(c, op));
    ns_buf *b = calloc(1, sizeof *b);
    if (!b) {
        c->host->set_error("buf_alloc: out of host memory for a buffer record");
        return NS_ERR_NOMEM;
    }
    b->n = n;
    b->res = ns_cuda_res_plain();
    if (n > 0) {
        void *p;
        cudaError_t e = ns_cuda_alloc_get(&c->alloc, n * sizeof(float), &p, &b->capacity);
        if (e != cudaSuccess) {
            free(b);
            c->host->set_error("buf_alloc: %zu floats (%.1f MiB) on device %d: %s (%s)", n,
                               (double)(n * sizeof(float)) / (1024.0 * 1024.0), c->device,
                               cudaGetErrorName(e), cudaGetErrorString(e));
            return e == cudaErrorMemoryAllocation ? NS_ERR_NOMEM : NS_ERR_DEVICE;
        }
        b->f32 = p;
    }
    b->next = c->live;
    if (c->live)
        c->live->prev = b;
    c->live = b;
    *out = b;
    return NS_OK;
}

void ns_cuda_buf_free(void *ctx, ns_buf *b)
{
    ns_cuda_ctx *c = ctx;
    if (!b)
        return;
    if (b->prev)
        b->prev->next = b->next;
    else
        c->live = b->next;
    if (b->next)
        b->next->prev = b->prev;
    ns_cuda_buf_release(c, b);
    free(b);
}

/* f32 storage of dst for a write of [offset, offset+n): a write of the whole
 * buffer drops the 16-bit copy; a partial one widens it first, since the
 * floats outside the range must stay as they were (backend.h). */
static ns_status partial_wr(ns_cuda_ctx *c, const char *op, ns_buf *dst, size_t offset, size_t n,
                            float **out)
{
    if (offset == 0 && n == dst->n) {
        *out = ns_cuda_wr(dst);
        return NS_OK;
    }
    return ns_cuda_rw(c, op, dst, out);
}

/* offset + n within a buffer of `have` floats, without overflow. */
static ns_status check_range(ns_cuda_ctx *c, const char *op, const ns_buf *b, size_t offset,
                             size_t n)
{
    if (!b) {
        c->host->set_error("%s: buffer is NULL", op);
        return NS_ERR_INVALID_ARG;
    }
    if (offset > b->n || n > b->n - offset) {
        c->host->set_error("%s: range [%zu, %zu+%zu) outside a buffer of %zu floats", op, offset,
                           offset, n, b->n);
        return NS_ERR_INVALID_ARG;
    }
    return NS_OK;
}

/* The next staging chunk, once the device has finished reading it. Chunks are
 * allocated on first use; *host is NULL when pinned memory is unavailable. */
static ns_status next_chunk(ns_cuda_ctx *c, int *index, void **host)
{
    ns_cuda_staging *st = &c->staging;
    int i = st->next;
    if (!st->host[i]) {
        if (cudaHostAlloc(&st->host[i], NS_CUDA_STAGING_BYTES, cudaHostAllocDefault) !=
            cudaSuccess) {
            (void)cudaGetLastError();
            st->host[i] = NULL;
            *host = NULL;
            return NS_OK;
        }
    }
    if (st->in_flight[i])
        NS_CUDA_RT(c, "upload", cudaEventSynchronize(st->done[i]));
    st->in_flight[i] = 0;
    st->next = (i + 1) % NS_CUDA_STAGING_CHUNKS;
    *index = i;
    *host = st->host[i];
    return NS_OK;
}

ns_status ns_cuda_upload(void *ctx, ns_buf *dst, size_t offset, const float *src, size_t n)
{
    ns_cuda_ctx *c = ctx;
    const char *op = "upload";
    NS_CUDA_TRY(check_range(c, op, dst, offset, n));
    if (n == 0)
        return NS_OK;
    if (!src) {
        c->host->set_error("upload: src is NULL for %zu floats", n);
        return NS_ERR_INVALID_ARG;
    }
    NS_CUDA_TRY(ns_cuda_enter(c, op));
    float *base;
    NS_CUDA_TRY(partial_wr(c, op, dst, offset, n, &base));
    const size_t per_chunk = NS_CUDA_STAGING_BYTES / sizeof(float);
    size_t done = 0;
    while (done < n) {
        size_t m = n - done < per_chunk ? n - done : per_chunk;
        int i = 0;
        void *pinned = NULL;
        NS_CUDA_TRY(next_chunk(c, &i, &pinned));
        float *to = base + offset + done;
        if (!pinned) { /* no pinned memory: a plain copy, finished before returning */
            NS_CUDA_RT(c, op, cudaMemcpyAsync(to, src + done, (n - done) * sizeof(float),
                                              cudaMemcpyHostToDevice, c->stream));
            NS_CUDA_RT(c, op, cudaStreamSynchronize(c->stream));
            return NS_OK;
        }
        memcpy(pinned, src + done, m * sizeof(float));
        NS_CUDA_RT(c, op, cudaMemcpyAsync(to, pinned, m * sizeof(float), cudaMemcpyHostToDevice,
                                          c->stream));
        NS_CUDA_RT(c, op, cudaEventRecord(c->staging.done[i], c->stream));
        c->staging.in_flight[i] = 1;
        done += m;
    }
    return NS_OK;
}

ns_status ns_cuda_download(void *ctx, const ns_buf *src, size_t offset, float *dst, size_t n)
{
    ns_cuda_ctx *c = ctx;
    const char *op = "download";
    NS_CUDA_TRY(check_range(c, op, src, offset, n));
    if (n == 0)
        return NS_OK;
    if (!dst) {
        c->host->set_error("download: dst is NULL for %zu floats", n);
        return NS_ERR_INVALID_ARG;
    }
    NS_CUDA_TRY(ns_cuda_enter(c, op));
    const float *from;
    NS_CUDA_TRY(ns_cuda_rd(c, op, src, &from));
    NS_CUDA_RT(c, op, cudaMemcpyAsync(dst, from + offset, n * sizeof(float),
                                      cudaMemcpyDeviceToHost, c->stream));
    NS_CUDA_RT(c, op, cudaStreamSynchronize(c->stream));
    return NS_OK;
}

ns_status ns_cuda_fill(void *ctx, ns_buf *dst, size_t n, float value)
{
    ns_cuda_ctx *c = ctx;
    NS_CUDA_TRY(ns_cuda_need(c, "fill", "dst", dst, n));
    NS_CUDA_TRY(ns_cuda_enter(c, "fill"));
    float *to;
    NS_CUDA_TRY(partial_wr(c, "fill", dst, 0, n, &to));
    NS_CUDA_RT(c, "fill", ns_k_fill(c->stream, to, n, value));
    return NS_OK;
}

ns_status ns_cuda_copy(void *ctx, ns_buf *dst, const ns_buf *src, size_t n)
{
    ns_cuda_ctx *c = ctx;
    NS_CUDA_TRY(ns_cuda_need(c, "copy", "dst", dst, n));
    NS_CUDA_TRY(ns_cuda_need(c, "copy", "src", src, n));
    if (n == 0 || dst == src)
        return NS_OK;
    NS_CUDA_TRY(ns_cuda_enter(c, "copy"));
    const float *from;
    float *to;
    NS_CUDA_TRY(ns_cuda_rd(c, "copy", src, &from));
    NS_CUDA_TRY(partial_wr(c, "copy", dst, 0, n, &to));
    NS_CUDA_RT(c, "copy", cudaMemcpyAsync(to, from, n * sizeof(float),
                                          cudaMemcpyDeviceToDevice, c->stream));
    return NS_OK;
}

ns_status ns_cuda_synchronize(void *ctx)
{
    ns_cuda_ctx *c = ctx;
    NS_CUDA_TRY(ns_cuda_enter(c, "synchronize"));
    NS_CUDA_RT(c, "synchronize", cudaStreamSynchronize(c->stream));
    return NS_OK;
}
