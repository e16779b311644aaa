/* SGD and Adam updates, PyTorch semantics (backend.h), over the weights'
 * physical layout (gradient and state follow it). A gradient holding NaN or
 * Inf is refused before anything is written: a diverged step must not
 * corrupt the weights or the optimizer state. */
#include <math.h>

#include "cpu_internal.h"

#define OPT_PAR_MIN 32768

/* Lays out g and the state buffers like w; *count = floats to process. */
static ns_status opt_prepare(cpu_ctx *ctx, const char *op, ns_buf *w, ns_buf *g, ns_buf *s1,
                             ns_buf *s2, size_t n, size_t *count)
{
    CPU_TRY(cpu_check_buf(ctx, op, "w", w, n));
    CPU_TRY(cpu_check_buf(ctx, op, "g", g, n));
    CPU_TRY(cpu_check_buf(ctx, op, "state", s1, n));
    if (s2)
        CPU_TRY(cpu_check_buf(ctx, op, "state", s2, n));
    if (w->has_md && cpu_md_count(&w->md) != n)
        CPU_TRY(cpu_buf_to_plain(ctx, w));
    CPU_TRY(cpu_buf_unify(ctx, w, g, n));
    CPU_TRY(cpu_buf_unify(ctx, w, s1, n));
    if (s2)
        CPU_TRY(cpu_buf_unify(ctx, w, s2, n));
    *count = w->has_md ? cpu_buf_phys_count(w) : n;
    return NS_OK;
}

CPU_KERNEL static ns_status opt_check_finite(cpu_ctx *ctx, const char *op, const float *g, size_t count)
{
    size_t bad = 0;
#pragma omp parallel for simd schedule(static) reduction(+ : bad) if (count > OPT_PAR_MIN)
    for (size_t i = 0; i < count; i++)
        bad += !isfinite(g[i]);
    if (bad)
        return cpu_fail(ctx, NS_ERR_NUMERIC,
                        "%s: gradient holds %zu NaN/Inf values; weights and state left unchanged",
                        op, bad);
    return NS_OK;
}

CPU_KERNEL ns_status cpu_sgd_update(void *vctx, const ns_sgd_params *p, ns_buf *w, const ns_buf *g,
                         ns_buf *velocity, size_t n)
{
    cpu_ctx *ctx = vctx;
    const char *op = "sgd_update";
    cpu_enter(ctx);
    if (!p)
        return cpu_fail(ctx, NS_ERR_INVALID_ARG, "%s: params are NULL", op);
    size_t count;
    CPU_TRY(opt_prepare(ctx, op, w, cpu_mut(g), velocity, NULL, n, &count));
    CPU_TRY(opt_check_finite(ctx, op, g->data, count));
    float *pw = w->data, *pv = velocity->data;
    const float *pg = g->data;
    const float lr = p->lr, mom = p->momentum, wd = p->weight_decay;
    const int nesterov = p->nesterov;
#pragma omp parallel for simd schedule(static) if (count > OPT_PAR_MIN)
    for (size_t i = 0; i < count; i++) {
        float gi = pg[i] + wd * pw[i];
        float v = mom * pv[i] + gi;
        pv[i] = v;
        pw[i] -= lr * (nesterov ? gi + mom * v : v);
    }
    return NS_OK;
}

CPU_KERNEL ns_status cpu_adam_update(void *vctx, const ns_adam_params *p, ns_buf *w, const ns_buf *g,
                          ns_buf *m, ns_buf *v, size_t n)
{
    cpu_ctx *ctx = vctx;
    const char *op = "adam_update";
    cpu_enter(ctx);
    if (!p)
        return cpu_fail(ctx, NS_ERR_INVALID_ARG, "%s: params are NULL", op);
    if (p->step < 1)
        return cpu_fail(ctx, NS_ERR_INVALID_ARG, "%s: step %d must be >= 1", op, p->step);
    size_t count;
    CPU_TRY(opt_prepare(ctx, op, w, cpu_mut(g), m, v, n, &count));
    CPU_TRY(opt_check_finite(ctx, op, g->data, count));
    float *pw = w->data, *pm = m->data, *pv = v->data;
    const float *pg = g->data;
    const float lr = p->lr, b1 = p->beta1, b2 = p->beta2, eps = p->eps, wd = p->weight_decay;
    const float bc1 = 1.0f - powf(b1, (float)p->step);
    const float bc2 = 1.0f - powf(b2, (float)p->step);
#pragma omp parallel for simd schedule(static) if (count > OPT_PAR_MIN)
    for (size_t i = 0; i < count; i++) {
        float gi = pg[i] + wd * pw[i];
        float mi = b1 * pm[i] + (1.0f - b1) * gi;
        float vi = b2 * pv[i] + (1.0f - b2) * gi * gi;
        pm[i] = mi;
        pv[i] = vi;
        pw[i] -= lr * (mi / bc1) / (sqrtf(vi / bc2) + eps);
    }
    return NS_OK;
}
