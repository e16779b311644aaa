/* Softmax and the fused softmax cross-entropy against soft targets. Each row
 * is computed in double after subtracting its max, so large logits neither
 * overflow nor lose the small probabilities. */
#include "ref_backend.h"

#include <math.h>

static ns_status check_rows(ref_ctx *ctx, const char *op, int n, int classes, size_t *count)
{
    int dims[] = {n, classes};
    return ref_check_dims(ctx, op, "n,classes", count, 2, dims);
}

/* max and log(sum exp(z - max)) of one row. */
static void row_lse(const float *z, int classes, double *max_out, double *log_sum_out)
{
    double max = z[0];
    for (int j = 1; j < classes; j++)
        if (z[j] > max)
            max = z[j];
    double sum = 0.0;
    for (int j = 0; j < classes; j++)
        sum += exp(z[j] - max);
    *max_out = max;
    *log_sum_out = log(sum);
}

ns_status ref_softmax_cross_entropy(void *vctx, int n, int classes, const ns_buf *logits,
                                    const ns_buf *targets, float grad_scale, ns_buf *loss,
                                    ns_buf *dlogits)
{
    ref_ctx *ctx = vctx;
    const char *op = "softmax_cross_entropy";
    size_t count;
    ns_status st = check_rows(ctx, op, n, classes, &count);
    if (st == NS_OK)
        st = ref_check_buf(ctx, op, "logits", logits, count);
    if (st == NS_OK)
        st = ref_check_buf(ctx, op, "targets", targets, count);
    if (st == NS_OK)
        st = ref_check_buf(ctx, op, "loss", loss, (size_t)n);
    if (st == NS_OK && dlogits)
        st = ref_check_buf(ctx, op, "dlogits", dlogits, count);
    if (st != NS_OK)
        return st;
#pragma omp parallel for schedule(static) num_threads(ref_team(ctx, 4.0 * count))
    for (int i = 0; i < n; i++) {
        const float *z = logits->data + (size_t)i * classes;
        const float *t = targets->data + (size_t)i * classes;
        double max, log_sum;
        row_lse(z, classes, &max, &log_sum);
        double l = 0.0, total = 0.0;
        for (int j = 0; j < classes; j++) {
            total += t[j];
            if (t[j] != 0.0f)
                l -= t[j] * (z[j] - max - log_sum);
        }
        loss->data[i] = (float)l;
        if (dlogits) {
            float *g = dlogits->data + (size_t)i * classes;
            for (int j = 0; j < classes; j++) {
                double p = exp(z[j] - max - log_sum);
                g[j] = (float)(grad_scale * (p * total - t[j]));
            }
        }
    }
    return NS_OK;
}

ns_status ref_softmax(void *vctx, int n, int classes, const ns_buf *logits, ns_buf *probs)
{
    ref_ctx *ctx = vctx;
    const char *op = "softmax";
    size_t count;
    ns_status st = check_rows(ctx, op, n, classes, &count);
    if (st == NS_OK)
        st = ref_check_buf(ctx, op, "logits", logits, count);
    if (st == NS_OK)
        st = ref_check_buf(ctx, op, "probs", probs, count);
    if (st != NS_OK)
        return st;
#pragma omp parallel for schedule(static) num_threads(ref_team(ctx, 4.0 * count))
    for (int i = 0; i < n; i++) {
        const float *z = logits->data + (size_t)i * classes;
        float *p = probs->data + (size_t)i * classes; /* may be z: z[j] is read before p[j] is written */
        double max, log_sum;
        row_lse(z, classes, &max, &log_sum);
        for (int j = 0; j < classes; j++)
            p[j] = (float)exp(z[j] - max - log_sum);
    }
    return NS_OK;
}
