/* Helpers shared by the nn suites: the ref backend, host<->device copies. */
#ifndef NS_TESTS_NN_UTIL_H
#define NS_TESTS_NN_UTIL_H

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <noisystudent/rng.h>

#include "nn/model.h"
#include "plugin/backend_loader.h"
#include "util/error.h"

static inline ns_backend *nn_open_ref(void)
{
    ns_backend_options opt = ns_backend_options_default();
    opt.threads = 2;
    ns_backend *be = NULL;
    ns_status st = ns_backend_open("ref", &opt, &be);
    if (st != NS_OK) {
        fprintf(stderr, "ref backend: %s\n", ns_last_error());
        return NULL;
    }
    return be;
}

static inline ns_buf *nn_buf_from(ns_backend *be, const float *src, size_t n)
{
    ns_buf *b = NULL;
    if (be->api->buf_alloc(be->ctx, n, &b) != NS_OK)
        return NULL;
    if (be->api->upload(be->ctx, b, 0, src, n) != NS_OK) {
        be->api->buf_free(be->ctx, b);
        return NULL;
    }
    return b;
}

/* Host copy of n floats; caller frees. */
static inline float *nn_download(ns_backend *be, const ns_buf *b, size_t n)
{
    float *h = malloc(n * sizeof *h);
    if (h && be->api->download(be->ctx, b, 0, h, n) != NS_OK) {
        free(h);
        return NULL;
    }
    return h;
}

static inline void nn_fill_uniform(float *dst, size_t n, float lo, float hi, uint64_t stream)
{
    for (size_t i = 0; i < n; i++)
        dst[i] = lo + (hi - lo) * ns_philox_uniform_at(12345, stream, i);
}

#endif
