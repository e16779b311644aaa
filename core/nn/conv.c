#include "nn/conv.h"

#include <math.h>
#include <stdio.h>
#include <string.h>

#include "nn/init_rng.h"
#include "util/error.h"

ns_status ns_conv_create(ns_backend *be, ns_conv *l, const char *name, int c, int k, int r,
                         int stride)
{
    memset(l, 0, sizeof *l);
    l->c = c;
    l->k = k;
    l->r = r;
    l->stride = stride;
    l->pad = r / 2;
    char full[128];
    snprintf(full, sizeof full, "%s.weight", name);
    int shape[4] = {k, c, r, r};
    return ns_param_alloc(be, &l->weight, full, 4, shape, 1, 1);
}

void ns_conv_destroy(ns_backend *be, ns_conv *l)
{
    ns_param_free(be, &l->weight);
    ns_act_free(be, &l->out);
}

void ns_conv_out_size(const ns_conv *l, int h, int w, int *p, int *q)
{
    *p = (h + 2 * l->pad - l->r) / l->stride + 1;
    *q = (w + 2 * l->pad - l->r) / l->stride + 1;
}

ns_conv_desc ns_conv_make_desc(const ns_conv *l, int n, int h, int w)
{
    ns_conv_desc d;
    d.n = n;
    d.c = l->c;
    d.h = h;
    d.w = w;
    d.k = l->k;
    d.r = l->r;
    d.s = l->r;
    d.stride = l->stride;
    d.pad = l->pad;
    ns_conv_out_size(l, h, w, &d.p, &d.q);
    return d;
}

ns_status ns_conv_forward(ns_backend *be, ns_conv *l, const ns_buf *x, int n, int h, int w)
{
    ns_conv_desc d = ns_conv_make_desc(l, n, h, w);
    NS_TRY(ns_act_reserve(be, &l->out, (size_t)n * (size_t)d.k * (size_t)d.p * (size_t)d.q));
    ns_status st = be->api->conv2d_forward(be->ctx, &d, x, l->weight.value, l->out.buf);
    if (st != NS_OK)
        ns_error_prefix("%s", l->weight.name);
    return st;
}

ns_status ns_conv_backward(ns_backend *be, ns_conv *l, const ns_buf *x, int n, int h, int w,
                           const ns_buf *dy, ns_buf *dx)
{
    ns_conv_desc d = ns_conv_make_desc(l, n, h, w);
    ns_status st = be->api->conv2d_backward_filter(be->ctx, &d, x, dy, l->weight.grad);
    if (st == NS_OK && dx)
        st = be->api->conv2d_backward_data(be->ctx, &d, dy, l->weight.value, dx);
    if (st != NS_OK)
        ns_error_prefix("%s backward", l->weight.name);
    return st;
}

ns_status ns_conv_init(ns_backend *be, ns_conv *l, uint64_t seed, uint64_t stream)
{
    float std = (float)sqrt(2.0 / ((double)l->k * l->r * l->r));
    return ns_init_param(be, &l->weight, 'n', std, seed, stream);
}

double ns_conv_macs(const ns_conv *l, int h, int w)
{
    int p, q;
    ns_conv_out_size(l, h, w, &p, &q);
    return (double)l->k * l->c * l->r * l->r * p * q;
}
