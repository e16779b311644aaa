/* Weight gradients by batch split: each OpenMP thread runs a single-threaded
 * oneDNN backward-weights primitive on its share of the batch into its own
 * gradient copy, and the copies are summed.
 *
 * Why: oneDNN's multi-threaded backward-weights kernels reduce across threads
 * behind spinning barriers; on cores shared with other work one descheduled
 * thread stalls the rest (measured 15x slower at 2 threads on a loaded
 * 2-core machine). Split this way, no thread ever waits inside oneDNN. */
#include <string.h>

#include <omp.h>

#include "cpu_conv_split.h"

#define SPLIT_KIND 100 /* cache kind, distinct from enum cpu_prim_kind */

/* md with the batch dimension set to n, when md keeps the batch outermost
 * and dense (so a chunk of samples is a contiguous slice); 0 otherwise. */
static int chunk_md(const dnnl_memory_desc_t *md, int n, dnnl_memory_desc_t *out)
{
    if (md->format_kind != dnnl_blocked || md->ndims != 4 || md->offset0 != 0 ||
        md->padded_dims[0] != md->dims[0])
        return 0;
    const dnnl_blocking_desc_t *bd = &md->format_desc.blocking;
    for (int i = 0; i < bd->inner_nblks; i++)
        if (bd->inner_idxs[i] == 0)
            return 0;
    size_t esize = md->data_type == dnnl_bf16 ? 2 : 4;
    if ((size_t)bd->strides[0] * (size_t)md->dims[0] * esize != dnnl_memory_desc_get_size(md))
        return 0;
    *out = *md;
    out->dims[0] = n;
    out->padded_dims[0] = n;
    return 1;
}

/* The single-threaded primitive for a chunk of n samples. */
static ns_status chunk_prim(cpu_ctx *ctx, const char *op, const ns_conv_desc *d, int n,
                            const dnnl_memory_desc_t *x_md, const dnnl_memory_desc_t *dy_md,
                            cpu_prim *out)
{
    int64_t key[CPU_KEY_INTS] = {n, d->c, d->h, d->w, d->k, d->r, d->s, d->stride, d->pad,
                                 d->p, d->q};
    dnnl_memory_desc_t mds[2] = {*x_md, *dy_md};
    cpu_prim *e = cpu_prim_find(ctx, SPLIT_KIND, key, 2, mds);
    if (e) {
        *out = *e;
        return NS_OK;
    }
    cpu_prim ne;
    memset(&ne, 0, sizeof ne);
    ne.kind = SPLIT_KIND;
    memcpy(ne.key, key, sizeof key);
    ne.key_mds = 2;
    ne.key_md[0] = *x_md;
    ne.key_md[1] = *dy_md;
    dnnl_dims_t wd = {d->k, d->c, d->r, d->s};
    dnnl_dims_t st = {d->stride, d->stride}, pad = {d->pad, d->pad};
    dnnl_memory_desc_t w_any, w_f32;
    dnnl_memory_desc_init_by_tag(&w_any, 4, wd, x_md->data_type, dnnl_format_tag_any);
    dnnl_memory_desc_init_by_tag(&w_f32, 4, wd, dnnl_f32, dnnl_format_tag_any);
    /* oneDNN sizes a primitive's thread partition when it is created */
    int threads = omp_get_max_threads();
    omp_set_num_threads(1);
    dnnl_convolution_desc_t fwd, bwd;
    dnnl_primitive_desc_t hint = NULL, pd = NULL;
    dnnl_status_t s = dnnl_convolution_forward_desc_init(&fwd, dnnl_forward_training,
                                                         dnnl_convolution_direct, x_md, &w_any,
                                                         NULL, dy_md, st, pad, pad);
    if (s == dnnl_success)
        s = dnnl_primitive_desc_create(&hint, &fwd, ctx->attr, ctx->engine, NULL);
    if (s == dnnl_success)
        s = dnnl_convolution_backward_weights_desc_init(&bwd, dnnl_convolution_direct, x_md,
                                                        &w_f32, NULL, dy_md, st, pad, pad);
    if (s == dnnl_success)
        s = dnnl_primitive_desc_create(&pd, &bwd, ctx->attr, ctx->engine, hint);
    if (hint)
        dnnl_primitive_desc_destroy(hint);
    ns_status ret = NS_OK;
    if (s != dnnl_success) {
        ret = cpu_dnnl_fail(ctx, op, "split backward-weights primitive_desc_create", s);
    } else {
        ne.md[0] = *x_md;
        ne.md[1] = *dnnl_primitive_desc_query_md(pd, dnnl_query_diff_weights_md, 0);
        ne.md[2] = *dy_md;
        ret = cpu_prim_from_pd(ctx, op, pd, &ne);
    }
    omp_set_num_threads(threads);
    if (ret != NS_OK)
        return ret;
    if (!(e = cpu_prim_add(ctx, &ne, op)))
        return NS_ERR_NOMEM;
    *out = *e;
    return NS_OK;
}

CPU_KERNEL ns_status cpu_conv_bwd_weights_split(cpu_ctx *ctx, const char *op, const ns_conv_desc *d,
                                     const dnnl_memory_desc_t *x_md, const void *px,
                                     const dnnl_memory_desc_t *dy_md, const void *pdy,
                                     ns_buf *dw, int *done)
{
    *done = 0;
    int T = ctx->threads < d->n ? ctx->threads : d->n;
    if (T < 2 || !ctx->tstreams)
        return NS_OK;
    int base = d->n / T, rem = d->n % T;
    cpu_prim pr[2]; /* chunk of base+1 samples (the first rem threads), of base */
    dnnl_memory_desc_t xm[2], ym[2];
    for (int j = 0; j < 2; j++) {
        int n = base + (j == 0);
        if (n == 0 || (j == 0 && rem == 0))
            continue;
        if (!chunk_md(x_md, n, &xm[j]) || !chunk_md(dy_md, n, &ym[j]))
            return NS_OK;
        if (chunk_prim(ctx, op, d, n, &xm[j], &ym[j], &pr[j]) != NS_OK)
            return NS_OK; /* no such implementation: the caller runs the whole batch */
    }
    const dnnl_memory_desc_t *wmd = rem ? &pr[0].md[1] : &pr[1].md[1];
    if (rem && base && !dnnl_memory_desc_equal(&pr[0].md[1], &pr[1].md[1]))
        return NS_OK;
    size_t wbytes = dnnl_memory_desc_get_size(wmd);
    size_t sbytes = (rem ? pr[0].scratch_bytes : 0) > (base ? pr[1].scratch_bytes : 0)
                        ? pr[0].scratch_bytes
                        : pr[1].scratch_bytes;
    sbytes = (sbytes + 4095) / 4096 * 4096;
    CPU_TRY(cpu_buf_prepare_md(ctx, dw, wmd));
    char *partial = cpu_tmp(ctx, 2, (size_t)(T - 1) * wbytes, op);
    if (!partial)
        return NS_ERR_NOMEM;
    char *scratch = sbytes ? cpu_scratchpad(ctx, (size_t)T * sbytes, op) : NULL;
    if (sbytes && !scratch)
        return NS_ERR_NOMEM;
    size_t x_step = (size_t)x_md->format_desc.blocking.strides[0] *
                    (x_md->data_type == dnnl_bf16 ? 2 : 4);
    size_t y_step = (size_t)dy_md->format_desc.blocking.strides[0] *
                    (dy_md->data_type == dnnl_bf16 ? 2 : 4);
    dnnl_status_t status[T];
    for (int i = 0; i < T; i++)
        status[i] = dnnl_success;
#pragma omp parallel num_threads(T)
    {
        int i = omp_get_thread_num();
        int j = i < rem ? 0 : 1;
        int start = i * base + (i < rem ? i : rem);
        const cpu_prim *e = &pr[j];
        void *dst = i == 0 ? (void *)dw->data : partial + (size_t)(i - 1) * wbytes;
        dnnl_memory_t m[4] = {NULL, NULL, NULL, NULL};
        dnnl_status_t s = dnnl_memory_create(&m[0], &xm[j], ctx->engine,
                                             (char *)(uintptr_t)px + (size_t)start * x_step);
        if (s == dnnl_success)
            s = dnnl_memory_create(&m[1], &ym[j], ctx->engine,
                                   (char *)(uintptr_t)pdy + (size_t)start * y_step);
        if (s == dnnl_success)
            s = dnnl_memory_create(&m[2], wmd, ctx->engine, dst);
        dnnl_exec_arg_t args[4] = {{DNNL_ARG_SRC, m[0]},
                                   {DNNL_ARG_DIFF_DST, m[1]},
                                   {DNNL_ARG_DIFF_WEIGHTS, m[2]},
                                   {DNNL_ARG_SCRATCHPAD, NULL}};
        int nargs = 3;
        if (s == dnnl_success && e->scratch_bytes) {
            dnnl_memory_desc_t smd;
            dnnl_dims_t sd = {(dnnl_dim_t)e->scratch_bytes};
            dnnl_memory_desc_init_by_tag(&smd, 1, sd, dnnl_u8, dnnl_a);
            s = dnnl_memory_create(&m[3], &smd, ctx->engine, scratch + (size_t)i * sbytes);
            args[3].memory = m[3];
            nargs = 4;
        }
        if (s == dnnl_success)
            s = dnnl_primitive_execute(e->prim, ctx->tstreams[i], nargs, args);
        if (s == dnnl_success)
            s = dnnl_stream_wait(ctx->tstreams[i]);
        for (int k = 0; k < 4; k++)
            if (m[k])
                dnnl_memory_destroy(m[k]);
        status[i] = s;
    }
    for (int i = 0; i < T; i++)
        if (status[i] != dnnl_success)
            return cpu_dnnl_fail(ctx, op, "split backward-weights execute", status[i]);
    size_t count = wbytes / sizeof(float);
    float *out = dw->data;
#pragma omp parallel for simd schedule(static) if (count > 32768)
    for (size_t k = 0; k < count; k++) {
        float acc = out[k];
        for (int i = 1; i < T; i++)
            acc += ((const float *)(partial + (size_t)(i - 1) * wbytes))[k];
        out[k] = acc;
    }
    *done = 1;
    return NS_OK;
}
