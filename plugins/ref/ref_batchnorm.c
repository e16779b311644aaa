/* Spatial batch normalisation (semantics in ns_bn_desc). Channels are
 * independent, so the OpenMP team splits them; per-channel sums are taken in
 * double so the statistics do not depend on N*hw being small. */
#include "ref_backend.h"

#include <math.h>

static ns_status check_bufs(ref_ctx *ctx, const char *op, int count, const char *const *names,
                            const ns_buf *const *bufs, const size_t *need)
{
    for (int i = 0; i < count; i++) {
        ns_status st = ref_check_buf(ctx, op, names[i], bufs[i], need[i]);
        if (st != NS_OK)
            return st;
    }
    return NS_OK;
}

/* Element (image i, channel ch, position j) of an N,C,HW tensor. */
static inline size_t at(const ns_bn_desc *d, int i, int ch, int j)
{
    return ((size_t)i * d->c + ch) * d->hw + j;
}

ns_status ref_batchnorm_forward_train(void *vctx, const ns_bn_desc *d, const ns_buf *x,
                                      const ns_buf *gamma, const ns_buf *beta,
                                      ns_buf *running_mean, ns_buf *running_var, ns_buf *y,
                                      ns_buf *save_mean, ns_buf *save_invstd)
{
    ref_ctx *ctx = vctx;
    const char *op = "batchnorm_forward_train";
    ns_status st = ref_check_bn(ctx, op, d);
    if (st != NS_OK)
        return st;
    size_t total = (size_t)d->n * d->c * d->hw, c = (size_t)d->c;
    const char *names[] = {"x", "gamma", "beta", "running_mean", "running_var", "y",
                           "save_mean", "save_invstd"};
    const ns_buf *bufs[] = {x, gamma, beta, running_mean, running_var, y, save_mean, save_invstd};
    size_t need[] = {total, c, c, c, c, total, c, c};
    if ((st = check_bufs(ctx, op, 8, names, bufs, need)) != NS_OK)
        return st;
    double m = (double)d->n * d->hw;
#pragma omp parallel for schedule(static) num_threads(ref_team(ctx, (double)total))
    for (int ch = 0; ch < d->c; ch++) {
        double sum = 0.0;
        for (int i = 0; i < d->n; i++)
            for (int j = 0; j < d->hw; j++)
                sum += x->data[at(d, i, ch, j)];
        double mean = sum / m;
        double sq = 0.0;
        for (int i = 0; i < d->n; i++)
            for (int j = 0; j < d->hw; j++) {
                double dev = x->data[at(d, i, ch, j)] - mean;
                sq += dev * dev;
            }
        double var = sq / m;
        double invstd = 1.0 / sqrt(var + d->eps);
        float g = gamma->data[ch], b = beta->data[ch];
        for (int i = 0; i < d->n; i++)
            for (int j = 0; j < d->hw; j++) {
                size_t k = at(d, i, ch, j);
                y->data[k] = (float)(g * ((x->data[k] - mean) * invstd) + b);
            }
        double unbiased = m > 1.0 ? var * m / (m - 1.0) : var;
        double mom = d->momentum;
        running_mean->data[ch] = (float)((1.0 - mom) * running_mean->data[ch] + mom * mean);
        running_var->data[ch] = (float)((1.0 - mom) * running_var->data[ch] + mom * unbiased);
        save_mean->data[ch] = (float)mean;
        save_invstd->data[ch] = (float)invstd;
    }
    return NS_OK;
}

ns_status ref_batchnorm_forward_infer(void *vctx, const ns_bn_desc *d, const ns_buf *x,
                                      const ns_buf *gamma, const ns_buf *beta,
                                      const ns_buf *running_mean, const ns_buf *running_var,
                                      ns_buf *y)
{
    ref_ctx *ctx = vctx;
    const char *op = "batchnorm_forward_infer";
    ns_status st = ref_check_bn(ctx, op, d);
    if (st != NS_OK)
        return st;
    size_t total = (size_t)d->n * d->c * d->hw, c = (size_t)d->c;
    const char *names[] = {"x", "gamma", "beta", "running_mean", "running_var", "y"};
    const ns_buf *bufs[] = {x, gamma, beta, running_mean, running_var, y};
    size_t need[] = {total, c, c, c, c, total};
    if ((st = check_bufs(ctx, op, 6, names, bufs, need)) != NS_OK)
        return st;
#pragma omp parallel for schedule(static) num_threads(ref_team(ctx, (double)total))
    for (int ch = 0; ch < d->c; ch++) {
        double invstd = 1.0 / sqrt((double)running_var->data[ch] + d->eps);
        double mean = running_mean->data[ch];
        float g = gamma->data[ch], b = beta->data[ch];
        for (int i = 0; i < d->n; i++)
            for (int j = 0; j < d->hw; j++) {
                size_t k = at(d, i, ch, j);
                y->data[k] = (float)(g * ((x->data[k] - mean) * invstd) + b);
            }
    }
    return NS_OK;
}

/* With xhat = (x - mean) * invstd over m = N*hw values per channel:
 *   dbeta = sum dy, dgamma = sum dy*xhat,
 *   dx = gamma*invstd/m * (m*dy - dbeta - xhat*dgamma). */
ns_status ref_batchnorm_backward(void *vctx, const ns_bn_desc *d, const ns_buf *x,
                                 const ns_buf *dy, const ns_buf *gamma, const ns_buf *save_mean,
                                 const ns_buf *save_invstd, ns_buf *dx, ns_buf *dgamma,
                                 ns_buf *dbeta)
{
    ref_ctx *ctx = vctx;
    const char *op = "batchnorm_backward";
    ns_status st = ref_check_bn(ctx, op, d);
    if (st != NS_OK)
        return st;
    size_t total = (size_t)d->n * d->c * d->hw, c = (size_t)d->c;
    const char *names[] = {"x", "dy", "gamma", "save_mean", "save_invstd", "dx", "dgamma",
                           "dbeta"};
    const ns_buf *bufs[] = {x, dy, gamma, save_mean, save_invstd, dx, dgamma, dbeta};
    size_t need[] = {total, total, c, c, c, total, c, c};
    if ((st = check_bufs(ctx, op, 8, names, bufs, need)) != NS_OK)
        return st;
    double m = (double)d->n * d->hw;
#pragma omp parallel for schedule(static) num_threads(ref_team(ctx, (double)total))
    for (int ch = 0; ch < d->c; ch++) {
        double mean = save_mean->data[ch], invstd = save_invstd->data[ch];
        double sum_dy = 0.0, sum_dy_xhat = 0.0;
        for (int i = 0; i < d->n; i++)
            for (int j = 0; j < d->hw; j++) {
                size_t k = at(d, i, ch, j);
                sum_dy += dy->data[k];
                sum_dy_xhat += dy->data[k] * ((x->data[k] - mean) * invstd);
            }
        double scale = gamma->data[ch] * invstd / m;
        for (int i = 0; i < d->n; i++)
            for (int j = 0; j < d->hw; j++) {
                size_t k = at(d, i, ch, j);
                double xhat = (x->data[k] - mean) * invstd;
                dx->data[k] = (float)(scale * (m * dy->data[k] - sum_dy - xhat * sum_dy_xhat));
            }
        dgamma->data[ch] = (float)sum_dy_xhat;
        dbeta->data[ch] = (float)sum_dy;
    }
    return NS_OK;
}
