/* Buffers: 64-byte aligned host memory on the context's live list, and the
 * plain memory ops (upload, download, fill, copy). */
#include "ref_backend.h"

#include <stdlib.h>
#include <string.h>

ns_status ref_buf_alloc(void *vctx, size_t n, ns_buf **out)
{
    ref_ctx *ctx = vctx;
    ns_status st = ref_check_ptr(ctx, "buf_alloc", "out", out);
    if (st != NS_OK)
        return st;
    if (n > ((size_t)1 << 40))
        return REF_FAIL(ctx, NS_ERR_INVALID_ARG, "buf_alloc: %zu floats requested, at most 2^40",
                        n);
    ns_buf *b = calloc(1, sizeof *b);
    if (!b)
        return REF_FAIL(ctx, NS_ERR_NOMEM, "buf_alloc: out of memory for the buffer header");
    if (n > 0) {
        size_t bytes = (n * sizeof(float) + 63) / 64 * 64;
        b->data = aligned_alloc(64, bytes);
        if (!b->data) {
            free(b);
            return REF_FAIL(ctx, NS_ERR_NOMEM, "buf_alloc: cannot allocate %zu bytes", bytes);
        }
    }
    b->n = n;
    b->next = ctx->live.next;
    b->prev = &ctx->live;
    ctx->live.next->prev = b;
    ctx->live.next = b;
    *out = b;
    return NS_OK;
}

void ref_buf_free(void *vctx, ns_buf *b)
{
    (void)vctx;
    if (!b)
        return;
    b->prev->next = b->next;
    b->next->prev = b->prev;
    free(b->data);
    free(b);
}

void ref_free_all_buffers(ref_ctx *ctx)
{
    while (ctx->live.next != &ctx->live)
        ref_buf_free(ctx, ctx->live.next);
}

ns_status ref_upload(void *vctx, ns_buf *dst, size_t offset, const float *src, size_t n)
{
    ref_ctx *ctx = vctx;
    ns_status st = ref_check_range(ctx, "upload", "dst", dst, offset, n);
    if (st == NS_OK && n)
        st = ref_check_ptr(ctx, "upload", "src", src);
    if (st != NS_OK)
        return st;
    if (n)
        memcpy(dst->data + offset, src, n * sizeof(float));
    return NS_OK;
}

ns_status ref_download(void *vctx, const ns_buf *src, size_t offset, float *dst, size_t n)
{
    ref_ctx *ctx = vctx;
    ns_status st = ref_check_range(ctx, "download", "src", src, offset, n);
    if (st == NS_OK && n)
        st = ref_check_ptr(ctx, "download", "dst", dst);
    if (st != NS_OK)
        return st;
    if (n)
        memcpy(dst, src->data + offset, n * sizeof(float));
    return NS_OK;
}

ns_status ref_fill(void *vctx, ns_buf *dst, size_t n, float value)
{
    ref_ctx *ctx = vctx;
    ns_status st = ref_check_buf(ctx, "fill", "dst", dst, n);
    if (st != NS_OK)
        return st;
    for (size_t i = 0; i < n; i++)
        dst->data[i] = value;
    return NS_OK;
}

ns_status ref_copy(void *vctx, ns_buf *dst, const ns_buf *src, size_t n)
{
    ref_ctx *ctx = vctx;
    ns_status st = ref_check_buf(ctx, "copy", "dst", dst, n);
    if (st == NS_OK)
        st = ref_check_buf(ctx, "copy", "src", src, n);
    if (st != NS_OK)
        return st;
    if (n && dst != src)
        memcpy(dst->data, src->data, n * sizeof(float));
    return NS_OK;
}
