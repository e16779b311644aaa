#include "nn/batchnorm_sync.h"

#include <math.h>
#include <stdlib.h>

#include "dist/dist.h"
#include "util/error.h"

/* Host copies of one layer's tensors for one call. */
typedef struct host {
    float *x, *y, *g, *b, *rm, *rv, *mean, *invstd;
    double *acc; /* 2c + 1 */
} host;

static void host_free(host *h)
{
    free(h->x);
    free(h->y);
    free(h->g);
    free(h->b);
    free(h->rm);
    free(h->rv);
    free(h->mean);
    free(h->invstd);
    free(h->acc);
}

static ns_status host_alloc(host *h, size_t total, size_t c)
{
    h->x = malloc((total ? total : 1) * sizeof(float));
    h->y = malloc((total ? total : 1) * sizeof(float));
    h->g = malloc(c * sizeof(float));
    h->b = malloc(c * sizeof(float));
    h->rm = malloc(c * sizeof(float));
    h->rv = malloc(c * sizeof(float));
    h->mean = malloc(c * sizeof(float));
    h->invstd = malloc(c * sizeof(float));
    h->acc = malloc((2 * c + 1) * sizeof(double));
    if (!h->x || !h->y || !h->g || !h->b || !h->rm || !h->rv || !h->mean || !h->invstd || !h->acc)
        return ns_fail(NS_ERR_NOMEM, "sync batchnorm: out of memory for %zu values", total);
    return NS_OK;
}

static inline size_t at(int c, int hw, int i, int ch, int j) { return ((size_t)i * c + ch) * hw + j; }

ns_status ns_batchnorm_sync_forward(ns_backend *be, ns_batchnorm *l, const ns_buf *x, int n, int hw)
{
    const int C = l->c;
    const size_t c = (size_t)C, total = (size_t)n * c * (size_t)hw;
    host h = {0};
    ns_status st = host_alloc(&h, total, c);
    if (st == NS_OK)
        st = be->api->download(be->ctx, x, 0, h.x, total);
    if (st == NS_OK)
        st = be->api->download(be->ctx, l->gamma.value, 0, h.g, c);
    if (st == NS_OK)
        st = be->api->download(be->ctx, l->beta.value, 0, h.b, c);
    if (st == NS_OK)
        st = be->api->download(be->ctx, l->running_mean.value, 0, h.rm, c);
    if (st == NS_OK)
        st = be->api->download(be->ctx, l->running_var.value, 0, h.rv, c);
    if (st != NS_OK)
        goto done;
    /* Pass 1: sums and the global count -> mean. */
    for (int ch = 0; ch < C; ch++) {
        double s = 0.0;
        for (int i = 0; i < n; i++)
            for (int j = 0; j < hw; j++)
                s += h.x[at(C, hw, i, ch, j)];
        h.acc[ch] = s;
    }
    h.acc[c] = (double)n * hw;
    if ((st = ns_dist_allreduce_sum_f64(h.acc, c + 1)) != NS_OK)
        goto done;
    const double m = h.acc[c];
    /* Pass 2 in its own buffer: sum of squared deviations (two passes, as the
     * reference backend, for the same rounding behaviour). */
    double *gm = malloc(2 * c * sizeof *gm);
    if (!gm) {
        st = ns_fail(NS_ERR_NOMEM, "sync batchnorm: out of memory");
        goto done;
    }
    for (int ch = 0; ch < C; ch++) {
        gm[ch] = h.acc[ch] / m;
        double sq = 0.0;
        for (int i = 0; i < n; i++)
            for (int j = 0; j < hw; j++) {
                double dev = h.x[at(C, hw, i, ch, j)] - gm[ch];
                sq += dev * dev;
            }
        gm[c + ch] = sq;
    }
    if ((st = ns_dist_allreduce_sum_f64(gm + c, c)) != NS_OK) {
        free(gm);
        goto done;
    }
    const double mom = NS_BN_MOMENTUM;
    for (int ch = 0; ch < C; ch++) {
        double var = gm[c + ch] / m;
        double invstd = 1.0 / sqrt(var + NS_BN_EPS);
        double g = h.g[ch], b = h.b[ch];
        for (int i = 0; i < n; i++)
            for (int j = 0; j < hw; j++) {
                size_t k = at(C, hw, i, ch, j);
                h.y[k] = (float)(g * ((h.x[k] - gm[ch]) * invstd) + b);
            }
        double unbiased = m > 1.0 ? var * m / (m - 1.0) : var;
        h.rm[ch] = (float)((1.0 - mom) * h.rm[ch] + mom * gm[ch]);
        h.rv[ch] = (float)((1.0 - mom) * h.rv[ch] + mom * unbiased);
        h.mean[ch] = (float)gm[ch];
        h.invstd[ch] = (float)invstd;
    }
    free(gm);
    st = be->api->upload(be->ctx, l->out.buf, 0, h.y, total);
    if (st == NS_OK)
        st = be->api->upload(be->ctx, l->running_mean.value, 0, h.rm, c);
    if (st == NS_OK)
        st = be->api->upload(be->ctx, l->running_var.value, 0, h.rv, c);
    if (st == NS_OK)
        st = be->api->upload(be->ctx, l->save_mean, 0, h.mean, c);
    if (st == NS_OK)
        st = be->api->upload(be->ctx, l->save_invstd, 0, h.invstd, c);
done:
    host_free(&h);
    return st;
}

ns_status ns_batchnorm_sync_backward(ns_backend *be, ns_batchnorm *l, const ns_buf *x, int n, int hw,
                                     const ns_buf *dy, ns_buf *dx)
{
    const int C = l->c;
    const size_t c = (size_t)C, total = (size_t)n * c * (size_t)hw;
    host h = {0};
    /* h.y holds dy on the way in and dx on the way out. */
    ns_status st = host_alloc(&h, total, c);
    if (st == NS_OK)
        st = be->api->download(be->ctx, x, 0, h.x, total);
    if (st == NS_OK)
        st = be->api->download(be->ctx, dy, 0, h.y, total);
    if (st == NS_OK)
        st = be->api->download(be->ctx, l->gamma.value, 0, h.g, c);
    if (st == NS_OK)
        st = be->api->download(be->ctx, l->save_mean, 0, h.mean, c);
    if (st == NS_OK)
        st = be->api->download(be->ctx, l->save_invstd, 0, h.invstd, c);
    if (st != NS_OK)
        goto done;
    for (int ch = 0; ch < C; ch++) {
        double mean = h.mean[ch], invstd = h.invstd[ch], sdy = 0.0, sdyx = 0.0;
        for (int i = 0; i < n; i++)
            for (int j = 0; j < hw; j++) {
                size_t k = at(C, hw, i, ch, j);
                sdy += h.y[k];
                sdyx += h.y[k] * ((h.x[k] - mean) * invstd);
            }
        h.acc[ch] = sdy;
        h.acc[c + ch] = sdyx;
        h.b[ch] = (float)sdy; /* this rank's dbeta, dgamma: the step sums them */
        h.rm[ch] = (float)sdyx;
    }
    h.acc[2 * c] = (double)n * hw;
    if ((st = ns_dist_allreduce_sum_f64(h.acc, 2 * c + 1)) != NS_OK)
        goto done;
    const double m = h.acc[2 * c];
    for (int ch = 0; ch < C; ch++) {
        double mean = h.mean[ch], invstd = h.invstd[ch];
        double scale = h.g[ch] * invstd / m, sdy = h.acc[ch], sdyx = h.acc[c + ch];
        for (int i = 0; i < n; i++)
            for (int j = 0; j < hw; j++) {
                size_t k = at(C, hw, i, ch, j);
                double xhat = (h.x[k] - mean) * invstd;
                h.y[k] = (float)(scale * (m * h.y[k] - sdy - xhat * sdyx));
            }
    }
    st = be->api->upload(be->ctx, dx, 0, h.y, total);
    if (st == NS_OK)
        st = be->api->upload(be->ctx, l->gamma.grad, 0, h.rm, c);
    if (st == NS_OK)
        st = be->api->upload(be->ctx, l->beta.grad, 0, h.b, c);
done:
    host_free(&h);
    return st;
}
