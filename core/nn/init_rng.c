#include "nn/init_rng.h"

#include <math.h>
#include <stdlib.h>

#include <noisystudent/rng.h>

#include "util/error.h"

void ns_init_normal(float *dst, size_t n, float std, uint64_t seed, uint64_t stream)
{
    ns_rng r = ns_rng_make(seed, stream);
    const double two_pi = 6.283185307179586;
    for (size_t i = 0; i < n; i += 2) {
        /* 1-u keeps the log argument in (0, 1]. */
        double u1 = 1.0 - (double)ns_rng_uniform(&r);
        double u2 = (double)ns_rng_uniform(&r);
        double rad = sqrt(-2.0 * log(u1));
        dst[i] = (float)(std * rad * cos(two_pi * u2));
        if (i + 1 < n)
            dst[i + 1] = (float)(std * rad * sin(two_pi * u2));
    }
}

void ns_init_uniform(float *dst, size_t n, float bound, uint64_t seed, uint64_t stream)
{
    ns_rng r = ns_rng_make(seed, stream);
    for (size_t i = 0; i < n; i++)
        dst[i] = (float)((2.0 * (double)ns_rng_uniform(&r) - 1.0) * bound);
}

ns_status ns_init_param(ns_backend *be, ns_param *p, char kind, float a, uint64_t seed,
                        uint64_t stream)
{
    if (kind == 'c')
        return be->api->fill(be->ctx, p->value, p->size, a);
    float *host = malloc(p->size * sizeof *host);
    if (!host)
        return ns_fail(NS_ERR_NOMEM, "init %s: %zu floats on the host", p->name, p->size);
    if (kind == 'n')
        ns_init_normal(host, p->size, a, seed, stream);
    else
        ns_init_uniform(host, p->size, a, seed, stream);
    ns_status st = be->api->upload(be->ctx, p->value, 0, host, p->size);
    free(host);
    if (st != NS_OK)
        ns_error_prefix("init %s", p->name);
    return st;
}
