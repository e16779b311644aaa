#include "nn/dense.h"

#include <math.h>
#include <stdio.h>
#include <string.h>

#include "nn/init_rng.h"
#include "util/error.h"

ns_status ns_dense_create(ns_backend *be, ns_dense *l, const char *name, int in, int out)
{
    memset(l, 0, sizeof *l);
    l->in = in;
    l->out = out;
    char full[128];
    int wshape[2] = {out, in}, bshape[1] = {out};
    snprintf(full, sizeof full, "%s.weight", name);
    NS_TRY(ns_param_alloc(be, &l->weight, full, 2, wshape, 1, 1));
    snprintf(full, sizeof full, "%s.bias", name);
    return ns_param_alloc(be, &l->bias, full, 1, bshape, 0, 1);
}

void ns_dense_destroy(ns_backend *be, ns_dense *l)
{
    ns_param_free(be, &l->weight);
    ns_param_free(be, &l->bias);
    ns_act_free(be, &l->y);
}

ns_status ns_dense_forward(ns_backend *be, ns_dense *l, const ns_buf *x, int n)
{
    ns_dense_desc d = {n, l->in, l->out};
    NS_TRY(ns_act_reserve(be, &l->y, (size_t)n * (size_t)l->out));
    ns_status st = be->api->dense_forward(be->ctx, &d, x, l->weight.value, l->bias.value, l->y.buf);
    if (st != NS_OK)
        ns_error_prefix("%s", l->weight.name);
    return st;
}

ns_status ns_dense_backward(ns_backend *be, ns_dense *l, const ns_buf *x, int n, const ns_buf *dy,
                            ns_buf *dx)
{
    ns_dense_desc d = {n, l->in, l->out};
    ns_status st = be->api->dense_backward(be->ctx, &d, x, l->weight.value, dy, dx, l->weight.grad,
                                           l->bias.grad);
    if (st != NS_OK)
        ns_error_prefix("%s backward", l->weight.name);
    return st;
}

ns_status ns_dense_init(ns_backend *be, ns_dense *l, uint64_t seed, uint64_t weight_stream,
                        uint64_t bias_stream)
{
    float bound = (float)(1.0 / sqrt((double)l->in));
    NS_TRY(ns_init_param(be, &l->weight, 'u', bound, seed, weight_stream));
    return ns_init_param(be, &l->bias, 'u', bound, seed, bias_stream);
}
