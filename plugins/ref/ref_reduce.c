/* Statistics of a buffer for metrics and the NaN/Inf guard, in double. The
 * buffer is cut into a fixed number of chunks whose partial results are
 * combined in chunk order, so the answer does not depend on the team size or
 * on scheduling. */
#include "ref_backend.h"

#include <math.h>

enum { CHUNKS = 64 };

typedef struct partial {
    double sum, sum_sq;
    float max_abs;
    uint64_t nonfinite;
} partial;

static partial reduce_range(const float *xs, size_t begin, size_t end)
{
    partial r = {0.0, 0.0, 0.0f, 0};
    for (size_t i = begin; i < end; i++) {
        float v = xs[i];
        if (!isfinite(v)) {
            r.nonfinite++;
            continue;
        }
        r.sum += v;
        r.sum_sq += (double)v * v;
        if (fabsf(v) > r.max_abs)
            r.max_abs = fabsf(v);
    }
    return r;
}

ns_status ref_reduce(void *vctx, const ns_buf *x, size_t n, ns_reduce_result *out)
{
    ref_ctx *ctx = vctx;
    ns_status st = ref_check_buf(ctx, "reduce", "x", x, n);
    if (st == NS_OK)
        st = ref_check_ptr(ctx, "reduce", "out", out);
    if (st != NS_OK)
        return st;
    partial parts[CHUNKS];
    size_t per = (n + CHUNKS - 1) / CHUNKS;
#pragma omp parallel for schedule(static) num_threads(ref_team(ctx, (double)n))
    for (int c = 0; c < CHUNKS; c++) {
        size_t begin = (size_t)c * per < n ? (size_t)c * per : n;
        size_t end = begin + per < n ? begin + per : n;
        parts[c] = reduce_range(x ? x->data : NULL, begin, end);
    }
    ns_reduce_result r = {0.0, 0.0, 0.0f, 0};
    for (int c = 0; c < CHUNKS; c++) {
        r.sum += parts[c].sum;
        r.sum_sq += parts[c].sum_sq;
        if (parts[c].max_abs > r.max_abs)
            r.max_abs = parts[c].max_abs;
        r.nonfinite += parts[c].nonfinite;
    }
    *out = r;
    return NS_OK;
}

/* The NaN/Inf guard over many buffers in one call (ABI 1.2). Every buffer is
 * checked before anything is counted, so a bad argument fails the call
 * without a partial answer. */
ns_status ref_count_nonfinite(void *vctx, size_t count, const ns_buf *const *xs, const size_t *ns,
                              uint64_t *out)
{
    ref_ctx *ctx = vctx;
    ns_status st = ref_check_ptr(ctx, "count_nonfinite", "out", out);
    if (st == NS_OK && count) {
        st = ref_check_ptr(ctx, "count_nonfinite", "xs", xs);
        if (st == NS_OK)
            st = ref_check_ptr(ctx, "count_nonfinite", "ns", ns);
        for (size_t i = 0; st == NS_OK && i < count; i++)
            st = ref_check_buf(ctx, "count_nonfinite", "xs[i]", xs[i], ns[i]);
    }
    if (st != NS_OK)
        return st;
    uint64_t bad = 0;
    for (size_t i = 0; i < count; i++) {
        const float *v = xs[i]->data;
        const size_t n = ns[i];
        uint64_t here = 0;
#pragma omp parallel for schedule(static) reduction(+ : here) num_threads(ref_team(ctx, (double)n))
        for (size_t j = 0; j < n; j++)
            here += !isfinite(v[j]);
        bad += here;
    }
    *out = bad;
    return NS_OK;
}
