/* Optimizer updates, in place, PyTorch semantics (see ns_sgd_params and
 * ns_adam_params). Arithmetic per element in float except Adam's bias
 * corrections, which are computed once in double. */
#include "ref_backend.h"

#include <math.h>

static ns_status check_state(ref_ctx *ctx, const char *op, const void *p, int nbufs,
                             const char *const *names, const ns_buf *const *bufs, size_t n)
{
    ns_status st = ref_check_ptr(ctx, op, "params", p);
    for (int i = 0; st == NS_OK && i < nbufs; i++)
        st = ref_check_buf(ctx, op, names[i], bufs[i], n);
    return st;
}

ns_status ref_sgd_update(void *vctx, const ns_sgd_params *p, ns_buf *w, const ns_buf *g,
                         ns_buf *velocity, size_t n)
{
    ref_ctx *ctx = vctx;
    const char *names[] = {"w", "g", "velocity"};
    const ns_buf *bufs[] = {w, g, velocity};
    ns_status st = check_state(ctx, "sgd_update", p, 3, names, bufs, n);
    if (st != NS_OK)
        return st;
    float lr = p->lr, mom = p->momentum, wd = p->weight_decay;
    int nesterov = p->nesterov;
    float *ws = w->data, *vs = velocity->data;
    const float *gs = g->data;
#pragma omp parallel for schedule(static) num_threads(ref_team(ctx, (double)n))
    for (size_t i = 0; i < n; i++) {
        float gi = gs[i] + wd * ws[i];
        float vi = mom * vs[i] + gi;
        vs[i] = vi;
        float update = nesterov ? gi + mom * vi : vi;
        ws[i] -= lr * update;
    }
    return NS_OK;
}

ns_status ref_adam_update(void *vctx, const ns_adam_params *p, ns_buf *w, const ns_buf *g,
                          ns_buf *m, ns_buf *v, size_t n)
{
    ref_ctx *ctx = vctx;
    const char *op = "adam_update";
    const char *names[] = {"w", "g", "m", "v"};
    const ns_buf *bufs[] = {w, g, m, v};
    ns_status st = check_state(ctx, op, p, 4, names, bufs, n);
    if (st != NS_OK)
        return st;
    if (p->step < 1)
        return REF_FAIL(ctx, NS_ERR_INVALID_ARG, "%s: step is %d, expected >= 1 (it starts at 1)",
                        op, p->step);
    float lr = p->lr, b1 = p->beta1, b2 = p->beta2, eps = p->eps, wd = p->weight_decay;
    float bc1 = (float)(1.0 - pow(b1, p->step));
    float bc2 = (float)(1.0 - pow(b2, p->step));
    float *ws = w->data, *ms = m->data, *vs = v->data;
    const float *gs = g->data;
#pragma omp parallel for schedule(static) num_threads(ref_team(ctx, (double)n))
    for (size_t i = 0; i < n; i++) {
        float gi = gs[i] + wd * ws[i];
        float mi = b1 * ms[i] + (1.0f - b1) * gi;
        float vi = b2 * vs[i] + (1.0f - b2) * gi * gi;
        ms[i] = mi;
        vs[i] = vi;
        ws[i] -= lr * (mi / bc1) / (sqrtf(vi / bc2) + eps);
    }
    return NS_OK;
}
