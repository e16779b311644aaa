/* Softmax and fused softmax cross-entropy against soft targets (row-parallel
 * loops; double accumulation so the result does not depend on the thread count).
 * A non-finite loss is an error (NS_ERR_NUMERIC): the outputs are written,
 * but the host learns before any gradient is applied. */
#include <math.h>

#include "cpu_internal.h"

static ns_status loss_args(cpu_ctx *ctx, const char *op, int n, int classes)
{
    if (n <= 0 || classes <= 0)
        return cpu_fail(ctx, NS_ERR_INVALID_ARG, "%s: non-positive n=%d classes=%d", op, n,
                        classes);
    return NS_OK;
}

ns_status cpu_softmax_cross_entropy(void *vctx, int n, int classes, const ns_buf *logits,
                                    const ns_buf *targets, float grad_scale, ns_buf *loss,
                                    ns_buf *dlogits)
{
    cpu_ctx *ctx = vctx;
    const char *op = "softmax_cross_entropy";
    cpu_enter(ctx);
    CPU_TRY(loss_args(ctx, op, n, classes));
    size_t count = (size_t)n * classes;
    CPU_TRY(cpu_check_buf(ctx, op, "logits", logits, count));
    CPU_TRY(cpu_check_buf(ctx, op, "targets", targets, count));
    CPU_TRY(cpu_buf_to_plain(ctx, cpu_mut(logits)));
    CPU_TRY(cpu_buf_to_plain(ctx, cpu_mut(targets)));
    CPU_TRY(cpu_buf_out_plain(ctx, op, "loss", loss, (size_t)n));
    if (dlogits)
        CPU_TRY(cpu_buf_out_plain(ctx, op, "dlogits", dlogits, count));
    const float *pl = logits->data, *pt = targets->data;
    float *ploss = loss->data, *pd = dlogits ? dlogits->data : NULL;
    int bad = 0;
#pragma omp parallel for schedule(static) reduction(+ : bad) if (count > 16384)
    for (int i = 0; i < n; i++) {
        const float *l = pl + (size_t)i * classes, *t = pt + (size_t)i * classes;
        float mx = l[0];
        for (int j = 1; j < classes; j++)
            mx = l[j] > mx ? l[j] : mx;
        double sum = 0.0, tsum = 0.0, tl = 0.0;
        for (int j = 0; j < classes; j++) {
            sum += exp((double)l[j] - mx);
            if (t[j] != 0.0f) {
                tsum += t[j];
                tl += (double)t[j] * ((double)l[j] - mx);
            }
        }
        double lse = log(sum);
        ploss[i] = (float)(tsum * lse - tl); /* -sum t*(l - mx - lse) */
        bad += !isfinite(ploss[i]);
        if (pd) {
            float *g = pd + (size_t)i * classes;
            for (int j = 0; j < classes; j++) {
                double p = exp((double)l[j] - mx - lse);
                g[j] = (float)(grad_scale * (p * tsum - t[j]));
            }
        }
    }
    /* a diverged step stops here, before its gradients can reach the weights */
    if (bad)
        return cpu_fail(ctx, NS_ERR_NUMERIC,
                        "softmax_cross_entropy: %d of %d samples have a non-finite loss "
                        "(NaN/Inf logits or targets); the step must not be applied",
                        bad, n);
    return NS_OK;
}

ns_status cpu_softmax(void *vctx, int n, int classes, const ns_buf *logits, ns_buf *probs)
{
    cpu_ctx *ctx = vctx;
    const char *op = "softmax";
    cpu_enter(ctx);
    CPU_TRY(loss_args(ctx, op, n, classes));
    size_t count = (size_t)n * classes;
    CPU_TRY(cpu_check_buf(ctx, op, "logits", logits, count));
    CPU_TRY(cpu_buf_to_plain(ctx, cpu_mut(logits)));
    if (probs != logits)
        CPU_TRY(cpu_buf_out_plain(ctx, op, "probs", probs, count));
    const float *pl = logits->data;
    float *pp = probs->data;
#pragma omp parallel for schedule(static) if (count > 16384)
    for (int i = 0; i < n; i++) {
        const float *l = pl + (size_t)i * classes;
        float *p = pp + (size_t)i * classes;
        float mx = l[0];
        for (int j = 1; j < classes; j++)
            mx = l[j] > mx ? l[j] : mx;
        double sum = 0.0;
        for (int j = 0; j < classes; j++)
            sum += exp((double)l[j] - mx);
        double inv = 1.0 / sum;
        for (int j = 0; j < classes; j++)
            p[j] = (float)(exp((double)l[j] - mx) * inv);
    }
    return NS_OK;
}
