/* Physical layouts of buffers: plain float32 or a oneDNN memory descriptor,
 * converted lazily and in place (see cpu_internal.h). */
#include <stdlib.h>
#include <string.h>

#include "cpu_internal.h"

void cpu_plain_md(dnnl_memory_desc_t *md, int ndims, const dnnl_dims_t dims, dnnl_data_type_t dt)
{
    static const dnnl_format_tag_t tags[] = {dnnl_format_tag_undef, dnnl_a, dnnl_ab, dnnl_abc,
                                             dnnl_abcd, dnnl_abcde};
    dnnl_memory_desc_init_by_tag(md, ndims, dims, dt, tags[ndims]);
}

int cpu_md_is_plain(const dnnl_memory_desc_t *md)
{
    if (md->ndims < 1 || md->ndims > 5 || md->data_type != dnnl_f32)
        return 0;
    dnnl_memory_desc_t plain;
    cpu_plain_md(&plain, md->ndims, md->dims, dnnl_f32);
    return dnnl_memory_desc_equal(md, &plain);
}

size_t cpu_md_count(const dnnl_memory_desc_t *md)
{
    size_t c = 1;
    for (int i = 0; i < md->ndims; i++)
        c *= (size_t)md->dims[i];
    return c;
}

size_t cpu_buf_phys_bytes(const ns_buf *b)
{
    return b->has_md ? dnnl_memory_desc_get_size(&b->md) : b->n * sizeof(float);
}

size_t cpu_buf_phys_count(const ns_buf *b)
{
    return cpu_buf_phys_bytes(b) / (cpu_buf_is_bf16(b) ? 2 : sizeof(float));
}

size_t cpu_buf_logical_count(const ns_buf *b)
{
    return b->has_md ? cpu_md_count(&b->md) : b->n;
}

float *cpu_storage_get(cpu_ctx *ctx, size_t bytes, size_t *cap)
{
    int best = -1;
    for (int i = 0; i < CPU_SPARES; i++) {
        size_t c = ctx->spare[i].cap;
        /* at most twice the need: a huge spare for a small tensor would pin memory */
        if (ctx->spare[i].p && c >= bytes && c <= 2 * bytes + 65536 &&
            (best < 0 || c < ctx->spare[best].cap))
            best = i;
    }
    if (best >= 0) {
        float *p = ctx->spare[best].p;
        *cap = ctx->spare[best].cap;
        ctx->spare[best].p = NULL;
        ctx->spare[best].cap = 0;
        return p;
    }
    *cap = bytes;
    return cpu_aligned_alloc(bytes);
}

void cpu_storage_put(cpu_ctx *ctx, float *p, size_t cap)
{
    if (!p)
        return;
    size_t kept = 0;
    for (int i = 0; i < CPU_SPARES; i++)
        kept += ctx->spare[i].cap;
    if (cap > CPU_SPARE_BYTES / 2 || kept + cap > CPU_SPARE_BYTES) {
        /* big networks: pinning their activation-sized blocks would cost more
         * resident memory than the page faults they save */
        free(p);
        return;
    }
    int slot = -1;
    for (int i = 0; i < CPU_SPARES && slot < 0; i++)
        if (!ctx->spare[i].p)
            slot = i;
    if (slot < 0) { /* full: keep the larger of this and the smallest spare */
        slot = 0;
        for (int i = 1; i < CPU_SPARES; i++)
            if (ctx->spare[i].cap < ctx->spare[slot].cap)
                slot = i;
        if (ctx->spare[slot].cap >= cap) {
            free(p);
            return;
        }
        free(ctx->spare[slot].p);
    }
    ctx->spare[slot].p = p;
    ctx->spare[slot].cap = cap;
}

void cpu_storage_clear(cpu_ctx *ctx)
{
    for (int i = 0; i < CPU_SPARES; i++) {
        free(ctx->spare[i].p);
        ctx->spare[i].p = NULL;
        ctx->spare[i].cap = 0;
    }
}

/* New storage for b of `bytes` (never below the plain size, so going plain
 * later needs no allocation beyond the reorder target). */
static float *cpu_storage(cpu_ctx *ctx, const ns_buf *b, size_t bytes, size_t *cap,
                          const char *op)
{
    size_t plain = b->n * sizeof(float);
    float *p = cpu_storage_get(ctx, bytes > plain ? bytes : plain, cap);
    if (!p)
        cpu_fail(ctx, NS_ERR_NOMEM, "%s: cannot allocate %zu bytes for a buffer layout", op,
                 bytes > plain ? bytes : plain);
    return p;
}

static int cpu_same_dims(const dnnl_memory_desc_t *a, const dnnl_memory_desc_t *b)
{
    if (a->ndims != b->ndims)
        return 0;
    for (int i = 0; i < a->ndims; i++)
        if (a->dims[i] != b->dims[i])
            return 0;
    return 1;
}

ns_status cpu_buf_to_plain(cpu_ctx *ctx, ns_buf *b)
{
    if (!b->has_md)
        return NS_OK;
    if (cpu_md_is_plain(&b->md)) {
        b->has_md = 0;
        return NS_OK;
    }
    dnnl_memory_desc_t plain;
    cpu_plain_md(&plain, b->md.ndims, b->md.dims, dnnl_f32);
    size_t cap;
    float *p = cpu_storage(ctx, b, b->n * sizeof(float), &cap, "layout");
    if (!p)
        return NS_ERR_NOMEM;
    ns_status st = cpu_reorder(ctx, "layout to plain", &b->md, b->data, &plain, p);
    if (st != NS_OK) {
        cpu_storage_put(ctx, p, cap);
        return st;
    }
    /* the tensor may cover a prefix only (a smaller batch in a larger buffer);
     * the rest is unspecified, but never uninitialised memory */
    size_t count = cpu_md_count(&b->md);
    if (count < b->n)
        memset(p + count, 0, (b->n - count) * sizeof(float));
    cpu_storage_put(ctx, b->data, b->cap);
    b->data = p;
    b->cap = cap;
    b->has_md = 0;
    return NS_OK;
}

ns_status cpu_buf_to_md(cpu_ctx *ctx, ns_buf *b, const dnnl_memory_desc_t *md)
{
    if (b->has_md && dnnl_memory_desc_equal(&b->md, md))
        return NS_OK;
    if (cpu_md_count(md) > b->n)
        return cpu_fail(ctx, NS_ERR_INVALID_ARG,
                        "layout: buffer holds %zu floats, the tensor needs %zu", b->n,
                        cpu_md_count(md));
    if (b->has_md && !cpu_same_dims(&b->md, md))
        CPU_TRY(cpu_buf_to_plain(ctx, b));
    if (cpu_md_is_plain(md))
        return cpu_buf_to_plain(ctx, b);
    dnnl_memory_desc_t src;
    if (b->has_md)
        src = b->md;
    else
        cpu_plain_md(&src, md->ndims, md->dims, dnnl_f32);
    size_t cap;
    float *p = cpu_storage(ctx, b, dnnl_memory_desc_get_size(md), &cap, "layout");
    if (!p)
        return NS_ERR_NOMEM;
    ns_status st = cpu_reorder(ctx, "layout to blocked", &src, b->data, md, p);
    if (st != NS_OK) {
        cpu_storage_put(ctx, p, cap);
        return st;
    }
    cpu_storage_put(ctx, b->data, b->cap);
    b->data = p;
    b->cap = cap;
    b->has_md = 1;
    b->md = *md;
    return NS_OK;
}

ns_status cpu_buf_prepare_md(cpu_ctx *ctx, ns_buf *b, const dnnl_memory_desc_t *md)
{
    if (cpu_md_count(md) > b->n)
        return cpu_fail(ctx, NS_ERR_INVALID_ARG,
                        "layout: output buffer holds %zu floats, the tensor needs %zu", b->n,
                        cpu_md_count(md));
    if (cpu_md_is_plain(md)) {
        b->has_md = 0;
        return NS_OK;
    }
    size_t need = dnnl_memory_desc_get_size(md);
    if (b->cap < need) {
        size_t cap;
        float *p = cpu_storage(ctx, b, need, &cap, "layout");
        if (!p)
            return NS_ERR_NOMEM;
        cpu_storage_put(ctx, b->data, b->cap);
        b->data = p;
        b->cap = cap;
    }
    b->has_md = 1;
    b->md = *md;
    return NS_OK;
}

ns_status cpu_buf_prepare_plain(cpu_ctx *ctx, ns_buf *b)
{
    (void)ctx;
    b->has_md = 0; /* cap >= n floats always holds */
    return NS_OK;
}

ns_status cpu_buf_out_plain(cpu_ctx *ctx, const char *op, const char *name, ns_buf *b, size_t need)
{
    CPU_TRY(cpu_check_buf(ctx, op, name, b, need));
    return cpu_buf_prepare_plain(ctx, b);
}

ns_status cpu_buf_unify(cpu_ctx *ctx, ns_buf *ref, ns_buf *other, size_t n)
{
    if (ref->has_md && cpu_md_count(&ref->md) == n) {
        if (other != ref)
            CPU_TRY(cpu_buf_to_md(ctx, other, &ref->md));
        return NS_OK;
    }
    CPU_TRY(cpu_buf_to_plain(ctx, ref));
    return other != ref ? cpu_buf_to_plain(ctx, other) : NS_OK;
}

ns_status cpu_buf_reorder_out(cpu_ctx *ctx, const char *op, ns_buf *b, int ndims,
                              const dnnl_dims_t dims, const dnnl_memory_desc_t *dst_md,
                              void *dst_ptr)
{
    dnnl_memory_desc_t want;
    cpu_plain_md(&want, ndims, dims, dnnl_f32);
    if (b->has_md && !cpu_same_dims(&b->md, &want))
        CPU_TRY(cpu_buf_to_plain(ctx, b));
    const dnnl_memory_desc_t *src = b->has_md ? &b->md : &want;
    return cpu_reorder(ctx, op, src, b->data, dst_md ? dst_md : &want, dst_ptr);
}

int cpu_buf_keeps_in(const ns_buf *b, const dnnl_memory_desc_t *md)
{
    if (b->has_md ? dnnl_memory_desc_equal(&b->md, md) : cpu_md_is_plain(md))
        return 1;
    /* float32 into bf16 rounds (bf16 into bf16 is only a layout change) */
    if (md->data_type != dnnl_f32 && !cpu_buf_is_bf16(b))
        return 0;
    /* a buffer that already holds only a tensor of this extent loses nothing
     * more; a plain one holding more floats than md covers would lose the rest */
    size_t held = b->has_md && !cpu_md_is_plain(&b->md) ? cpu_md_count(&b->md) : b->n;
    return cpu_md_count(md) == held;
}

ns_status cpu_buf_read_in(cpu_ctx *ctx, const char *op, ns_buf *b, const dnnl_memory_desc_t *md,
                          int slot, const void **ptr)
{
    if (cpu_buf_keeps_in(b, md)) {
        CPU_TRY(cpu_buf_to_md(ctx, b, md));
        *ptr = b->data;
        return NS_OK;
    }
    void *t = cpu_tmp(ctx, slot, dnnl_memory_desc_get_size(md), op);
    if (!t)
        return NS_ERR_NOMEM;
    CPU_TRY(cpu_buf_reorder_out(ctx, op, b, md->ndims, md->dims, md, t));
    *ptr = t;
    return NS_OK;
}
