/* Primitives created once per op kind and shape, executed with a shared
 * user-managed scratchpad. */
#include <stdlib.h>
#include <string.h>

#include "cpu_internal.h"

cpu_prim *cpu_prim_find(cpu_ctx *ctx, int kind, const int64_t key[CPU_KEY_INTS], int key_mds,
                        const dnnl_memory_desc_t *key_md)
{
    for (size_t i = 0; i < ctx->n_prims; i++) {
        cpu_prim *e = (cpu_prim *)ctx->prims + i;
        if (e->kind != kind || e->key_mds != key_mds ||
            memcmp(e->key, key, sizeof e->key) != 0)
            continue;
        int same = 1;
        for (int m = 0; m < key_mds && same; m++)
            same = dnnl_memory_desc_equal(&e->key_md[m], &key_md[m]);
        if (same)
            return e;
    }
    return NULL;
}

/* Entries live in one growing array; callers never hold an entry across a
 * call that may add one (a layout change can add a reorder), so they copy the
 * few fields they need or look the entry up again. */
cpu_prim *cpu_prim_add(cpu_ctx *ctx, const cpu_prim *e, const char *op)
{
    if (ctx->n_prims == ctx->cap_prims) {
        size_t cap = ctx->cap_prims ? ctx->cap_prims * 2 : 64;
        cpu_prim *p = realloc(ctx->prims, cap * sizeof *p);
        if (!p) {
            dnnl_primitive_destroy(e->prim);
            cpu_fail(ctx, NS_ERR_NOMEM, "%s: cannot grow the primitive cache", op);
            return NULL;
        }
        ctx->prims = p;
        ctx->cap_prims = cap;
    }
    ctx->prims[ctx->n_prims] = *e;
    return &ctx->prims[ctx->n_prims++];
}

void cpu_prim_cache_clear(cpu_ctx *ctx)
{
    for (size_t i = 0; i < ctx->n_prims; i++)
        dnnl_primitive_destroy(ctx->prims[i].prim);
    ctx->n_prims = 0;
}

ns_status cpu_prim_from_pd(cpu_ctx *ctx, const char *op, dnnl_primitive_desc_t pd, cpu_prim *e)
{
    const dnnl_memory_desc_t *sp = dnnl_primitive_desc_query_md(pd, dnnl_query_scratchpad_md, 0);
    e->scratch_bytes = sp ? dnnl_memory_desc_get_size(sp) : 0;
    dnnl_status_t s = dnnl_primitive_create(&e->prim, pd);
    dnnl_primitive_desc_destroy(pd);
    if (s != dnnl_success)
        return cpu_dnnl_fail(ctx, op, "dnnl_primitive_create", s);
    return NS_OK;
}

ns_status cpu_prim_exec(cpu_ctx *ctx, const char *op, const cpu_prim *e, const cpu_arg *args,
                        int nargs)
{
    dnnl_exec_arg_t ea[10];
    dnnl_memory_t mem[10];
    int n = 0;
    ns_status st = NS_OK;
    dnnl_primitive_t prim = e->prim;
    size_t scratch_bytes = e->scratch_bytes;
    void *scratch = NULL;
    if (scratch_bytes && !(scratch = cpu_scratchpad(ctx, scratch_bytes, op)))
        return NS_ERR_NOMEM;
    for (int i = 0; i < nargs && st == NS_OK; i++) {
        dnnl_status_t s = dnnl_memory_create(&mem[n], args[i].md, ctx->engine, args[i].ptr);
        if (s != dnnl_success) {
            st = cpu_dnnl_fail(ctx, op, "dnnl_memory_create", s);
            break;
        }
        ea[n].arg = args[i].arg;
        ea[n].memory = mem[n];
        n++;
    }
    if (st == NS_OK && scratch_bytes) {
        dnnl_memory_desc_t smd;
        dnnl_dims_t sd = {(dnnl_dim_t)scratch_bytes};
        dnnl_memory_desc_init_by_tag(&smd, 1, sd, dnnl_u8, dnnl_a);
        dnnl_status_t s = dnnl_memory_create(&mem[n], &smd, ctx->engine, scratch);
        if (s != dnnl_success) {
            st = cpu_dnnl_fail(ctx, op, "dnnl_memory_create(scratchpad)", s);
        } else {
            ea[n].arg = DNNL_ARG_SCRATCHPAD;
            ea[n].memory = mem[n];
            n++;
        }
    }
    if (st == NS_OK) {
        dnnl_status_t s = dnnl_primitive_execute(prim, ctx->stream, n, ea);
        if (s == dnnl_success)
            s = dnnl_stream_wait(ctx->stream);
        if (s != dnnl_success)
            st = cpu_dnnl_fail(ctx, op, "dnnl_primitive_execute", s);
    }
    for (int i = 0; i < n; i++)
        dnnl_memory_destroy(mem[i]);
    return st;
}

ns_status cpu_reorder(cpu_ctx *ctx, const char *op, const dnnl_memory_desc_t *src_md,
                      const void *src, const dnnl_memory_desc_t *dst_md, void *dst)
{
    int64_t key[CPU_KEY_INTS] = {0};
    dnnl_memory_desc_t mds[2] = {*src_md, *dst_md};
    cpu_prim *e = cpu_prim_find(ctx, CPU_PRIM_REORDER, key, 2, mds);
    if (!e) {
        cpu_prim ne;
        memset(&ne, 0, sizeof ne);
        ne.kind = CPU_PRIM_REORDER;
        ne.key_mds = 2;
        ne.key_md[0] = *src_md;
        ne.key_md[1] = *dst_md;
        ne.md[0] = *src_md;
        ne.md[1] = *dst_md;
        dnnl_primitive_desc_t pd;
        CPU_DNNL(ctx, op, dnnl_reorder_primitive_desc_create(&pd, src_md, ctx->engine, dst_md,
                                                             ctx->engine, ctx->attr));
        CPU_TRY(cpu_prim_from_pd(ctx, op, pd, &ne));
        if (!(e = cpu_prim_add(ctx, &ne, op)))
            return NS_ERR_NOMEM;
    }
    cpu_arg args[2] = {{DNNL_ARG_FROM, src_md, (void *)(uintptr_t)src},
                       {DNNL_ARG_TO, dst_md, dst}};
    return cpu_prim_exec(ctx, op, e, args, 2);
}
