#include "ref_test_harness.h"

#include <math.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>

#include <cmocka.h>
#include <noisystudent/rng.h>

#include "util/error.h"

ns_backend *rt_open_ref(void)
{
    ns_backend *be = NULL;
    ns_status st = ns_backend_open("ref", NULL, &be);
    if (st != NS_OK)
        fail_msg("cannot open the ref backend: %s", ns_last_error());
    return be;
}

ns_buf *rt_buf(ns_backend *be, const float *host, size_t n)
{
    ns_buf *b = NULL;
    if (be->api->buf_alloc(be->ctx, n, &b) != NS_OK)
        fail_msg("buf_alloc(%zu): %s", n, ns_last_error());
    if (host)
        rt_upload(be, b, host, n);
    return b;
}

void rt_upload(ns_backend *be, ns_buf *b, const float *host, size_t n)
{
    if (be->api->upload(be->ctx, b, 0, host, n) != NS_OK)
        fail_msg("upload(%zu): %s", n, ns_last_error());
}

void rt_download(ns_backend *be, const ns_buf *b, float *host, size_t n)
{
    if (be->api->download(be->ctx, b, 0, host, n) != NS_OK)
        fail_msg("download(%zu): %s", n, ns_last_error());
}

void rt_free(ns_backend *be, ns_buf *b)
{
    be->api->buf_free(be->ctx, b);
}

void rt_fill_uniform(float *host, size_t n, uint64_t seed, uint64_t stream, float lo, float hi)
{
    for (size_t i = 0; i < n; i++)
        host[i] = lo + (hi - lo) * ns_philox_uniform_at(seed, stream, i);
}

void rt_fill_away_from_zero(float *host, size_t n, uint64_t seed, uint64_t stream, float min_abs,
                            float hi)
{
    for (size_t i = 0; i < n; i++) {
        float u = ns_philox_uniform_at(seed, stream, 2 * i);
        float sign = ns_philox_uniform_at(seed, stream, 2 * i + 1) < 0.5f ? -1.0f : 1.0f;
        host[i] = sign * (min_abs + (hi - min_abs) * u);
    }
}

float *rt_alloc(size_t n)
{
    float *p = calloc(n ? n : 1, sizeof *p);
    if (!p)
        fail_msg("out of memory for %zu floats", n);
    return p;
}

double rt_dot(const float *r, const float *out, size_t n)
{
    double s = 0.0;
    for (size_t i = 0; i < n; i++)
        s += (double)r[i] * out[i];
    return s;
}

void rt_check_gradient(const char *what, float *param, size_t n, const float *analytic,
                       rt_loss_fn loss, void *state, float eps, double rel_tol,
                       size_t max_points)
{
    size_t points = n < max_points ? n : max_points;
    double diff2 = 0.0, num2 = 0.0, ana2 = 0.0, worst = -1.0;
    size_t worst_i = 0;
    double worst_num = 0.0;
    for (size_t k = 0; k < points; k++) {
        /* Evenly spread, always including the first and the last element. */
        size_t i = points > 1 ? k * (n - 1) / (points - 1) : 0;
        float saved = param[i];
        param[i] = saved + eps;
        double lp = loss(state);
        param[i] = saved - eps;
        double lm = loss(state);
        param[i] = saved;
        /* The step actually taken in float, not the nominal eps. */
        double h = (double)(saved + eps) - (double)(saved - eps);
        double num = (lp - lm) / h;
        double d = num - analytic[i];
        diff2 += d * d;
        num2 += num * num;
        ana2 += (double)analytic[i] * analytic[i];
        if (fabs(d) > worst) {
            worst = fabs(d);
            worst_i = i;
            worst_num = num;
        }
    }
    double scale = fmax(fmax(sqrt(num2), sqrt(ana2)), 1e-6);
    double rel = sqrt(diff2) / scale;
    if (!(rel <= rel_tol))
        fail_msg("%s: relative gradient error %.3g > %.3g over %zu points (worst index %zu: "
                 "numeric %.6g, analytic %.6g)",
                 what, rel, rel_tol, points, worst_i, worst_num, (double)analytic[worst_i]);
}
