/* Buffer lifecycle and host transfers. */
#include <stdlib.h>
#include <string.h>

#include "cpu_internal.h"

ns_status cpu_buf_alloc(void *vctx, size_t n, ns_buf **out)
{
    cpu_ctx *ctx = vctx;
    if (!out)
        return cpu_fail(ctx, NS_ERR_INVALID_ARG, "buf_alloc: out is NULL");
    *out = NULL;
    ns_buf *b = calloc(1, sizeof *b);
    if (!b)
        return cpu_fail(ctx, NS_ERR_NOMEM, "buf_alloc: cannot allocate a buffer header");
    b->n = n;
    b->cap = n * sizeof(float);
    b->data = cpu_aligned_alloc(b->cap);
    if (!b->data) {
        free(b);
        return cpu_fail(ctx, NS_ERR_NOMEM, "buf_alloc: cannot allocate %zu floats", n);
    }
    b->next = ctx->bufs;
    if (ctx->bufs)
        ctx->bufs->prev = b;
    ctx->bufs = b;
    *out = b;
    return NS_OK;
}

void cpu_buf_free(void *vctx, ns_buf *b)
{
    cpu_ctx *ctx = vctx;
    if (!b)
        return;
    if (b->prev)
        b->prev->next = b->next;
    else
        ctx->bufs = b->next;
    if (b->next)
        b->next->prev = b->prev;
    free(b->data);
    free(b);
}

static ns_status cpu_check_range(cpu_ctx *ctx, const char *op, const ns_buf *b, size_t offset,
                                 size_t n)
{
    if (!b)
        return cpu_fail(ctx, NS_ERR_INVALID_ARG, "%s: buffer is NULL", op);
    if (offset > b->n || n > b->n - offset)
        return cpu_fail(ctx, NS_ERR_INVALID_ARG,
                        "%s: range [%zu, %zu) exceeds the buffer's %zu floats", op, offset,
                        offset + n, b->n);
    return NS_OK;
}

ns_status cpu_upload(void *vctx, ns_buf *dst, size_t offset, const float *src, size_t n)
{
    cpu_ctx *ctx = vctx;
    cpu_enter(ctx);
    CPU_TRY(cpu_check_range(ctx, "upload", dst, offset, n));
    if (n && !src)
        return cpu_fail(ctx, NS_ERR_INVALID_ARG, "upload: source pointer is NULL");
    if (offset == 0 && n == dst->n)
        CPU_TRY(cpu_buf_prepare_plain(ctx, dst));
    else
        CPU_TRY(cpu_buf_to_plain(ctx, dst));
    if (n)
        memcpy(dst->data + offset, src, n * sizeof(float));
    return NS_OK;
}

ns_status cpu_download(void *vctx, const ns_buf *src, size_t offset, float *dst, size_t n)
{
    cpu_ctx *ctx = vctx;
    cpu_enter(ctx);
    CPU_TRY(cpu_check_range(ctx, "download", src, offset, n));
    if (n && !dst)
        return cpu_fail(ctx, NS_ERR_INVALID_ARG, "download: destination pointer is NULL");
    if (!n)
        return NS_OK;
    if (!src->has_md || cpu_md_is_plain(&src->md)) {
        memcpy(dst, src->data + offset, n * sizeof(float));
        return NS_OK;
    }
    /* the buffer stays in its layout: the next op on it will likely want it there */
    size_t count = cpu_md_count(&src->md);
    if (offset + n > count) { /* beyond what the last op wrote: the plain view decides */
        CPU_TRY(cpu_buf_to_plain(ctx, cpu_mut(src)));
        memcpy(dst, src->data + offset, n * sizeof(float));
        return NS_OK;
    }
    dnnl_memory_desc_t plain;
    cpu_plain_md(&plain, src->md.ndims, src->md.dims, dnnl_f32);
    if (offset == 0 && n == count)
        return cpu_reorder(ctx, "download", &src->md, src->data, &plain, dst);
    float *t = cpu_tmp(ctx, 0, count * sizeof(float), "download");
    if (!t)
        return NS_ERR_NOMEM;
    CPU_TRY(cpu_reorder(ctx, "download", &src->md, src->data, &plain, t));
    memcpy(dst, t + offset, n * sizeof(float));
    return NS_OK;
}

ns_status cpu_fill(void *vctx, ns_buf *dst, size_t n, float value)
{
    cpu_ctx *ctx = vctx;
    cpu_enter(ctx);
    CPU_TRY(cpu_check_range(ctx, "fill", dst, 0, n));
    if (n == dst->n)
        CPU_TRY(cpu_buf_prepare_plain(ctx, dst));
    else
        CPU_TRY(cpu_buf_to_plain(ctx, dst));
    float *p = dst->data;
#pragma omp parallel for simd schedule(static) if (n > 65536)
    for (size_t i = 0; i < n; i++)
        p[i] = value;
    return NS_OK;
}

ns_status cpu_copy(void *vctx, ns_buf *dst, const ns_buf *src, size_t n)
{
    cpu_ctx *ctx = vctx;
    cpu_enter(ctx);
    CPU_TRY(cpu_check_range(ctx, "copy", dst, 0, n));
    CPU_TRY(cpu_check_range(ctx, "copy", src, 0, n));
    if (dst == src)
        return NS_OK;
    ns_buf *s = cpu_mut(src);
    if (s->has_md && cpu_md_count(&s->md) == n) {
        CPU_TRY(cpu_buf_prepare_md(ctx, dst, &s->md));
    } else {
        CPU_TRY(cpu_buf_to_plain(ctx, s));
        if (n == dst->n)
            CPU_TRY(cpu_buf_prepare_plain(ctx, dst));
        else
            CPU_TRY(cpu_buf_to_plain(ctx, dst));
    }
    memcpy(dst->data, s->data, s->has_md ? cpu_buf_phys_bytes(s) : n * sizeof(float));
    return NS_OK;
}
