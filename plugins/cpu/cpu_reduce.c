/* Statistics of a buffer for metrics and the NaN/Inf guard. Runs over the
 * physical layout: padding zeros change none of the four results. */
#include <math.h>
#include <stdlib.h>

#include "cpu_internal.h"

CPU_KERNEL ns_status cpu_reduce(void *vctx, const ns_buf *x, size_t n, ns_reduce_result *out)
{
    cpu_ctx *ctx = vctx;
    cpu_enter(ctx);
    CPU_TRY(cpu_check_buf(ctx, "reduce", "x", x, n));
    if (!out)
        return cpu_fail(ctx, NS_ERR_INVALID_ARG, "reduce: result pointer is NULL");
    ns_buf *b = cpu_mut(x);
    size_t count = n;
    if (b->has_md && cpu_md_count(&b->md) == n)
        count = cpu_buf_phys_count(b);
    else
        CPU_TRY(cpu_buf_to_plain(ctx, b));
    const float *p = b->data;
    const uint16_t *p16 = (const uint16_t *)b->data;
    const int bf = cpu_buf_is_bf16(b);
    double sum = 0.0, sum_sq = 0.0;
    float max_abs = 0.0f;
    uint64_t bad = 0;
#pragma omp parallel for schedule(static) reduction(+ : sum, sum_sq, bad) \
    reduction(max : max_abs) if (count > 32768)
    for (size_t i = 0; i < count; i++) {
        float v = bf ? cpu_bf16_to_f32(p16[i]) : p[i];
        if (!isfinite(v)) {
            bad++;
            continue;
        }
        sum += v;
        sum_sq += (double)v * v;
        float a = fabsf(v);
        max_abs = a > max_abs ? a : max_abs;
    }
    out->sum = sum;
    out->sum_sq = sum_sq;
    out->max_abs = max_abs;
    out->nonfinite = bad;
    return NS_OK;
}

/* The NaN/Inf guard over many buffers in one call (ABI 1.2): the count only,
 * over each buffer's physical storage like reduce (padding zeros are finite;
 * a bf16 element is non-finite exactly when its fp32 value is). Layouts are
 * settled first, then ONE parallel region shares the buffers out (a model
 * has dozens to hundreds of small ones: a region per buffer would cost more
 * than the counting). */
CPU_KERNEL ns_status cpu_count_nonfinite(void *vctx, size_t count, const ns_buf *const *xs,
                                         const size_t *ns, uint64_t *out)
{
    cpu_ctx *ctx = vctx;
    cpu_enter(ctx);
    if (!out)
        return cpu_fail(ctx, NS_ERR_INVALID_ARG, "count_nonfinite: result pointer is NULL");
    *out = 0;
    if (count && (!xs || !ns))
        return cpu_fail(ctx, NS_ERR_INVALID_ARG, "count_nonfinite: %s is NULL for %zu buffers",
                        !xs ? "xs" : "ns", count);
    for (size_t i = 0; i < count; i++)
        CPU_TRY(cpu_check_buf(ctx, "count_nonfinite", "xs[i]", xs[i], ns[i]));
    size_t *extent = malloc((count ? count : 1) * sizeof *extent);
    if (!extent)
        return cpu_fail(ctx, NS_ERR_NOMEM, "count_nonfinite: out of memory for %zu buffers", count);
    size_t total = 0;
    ns_status st = NS_OK;
    for (size_t i = 0; st == NS_OK && i < count; i++) {
        ns_buf *b = cpu_mut(xs[i]);
        extent[i] = ns[i];
        if (b->has_md && cpu_md_count(&b->md) == ns[i])
            extent[i] = cpu_buf_phys_count(b);
        else
            st = cpu_buf_to_plain(ctx, b);
        total += extent[i];
    }
    uint64_t bad = 0;
    if (st == NS_OK) {
        const long nb = (long)count;
#pragma omp parallel for schedule(dynamic, 1) reduction(+ : bad) if (total > 32768)
        for (long i = 0; i < nb; i++) {
            const ns_buf *b = xs[i];
            const float *p = b->data;
            const uint16_t *p16 = (const uint16_t *)b->data;
            const int bf = cpu_buf_is_bf16(b);
            uint64_t here = 0;
            for (size_t j = 0; j < extent[i]; j++)
                here += !isfinite(bf ? cpu_bf16_to_f32(p16[j]) : p[j]);
            bad += here;
        }
        *out = bad;
    }
    free(extent);
    return st;
}
