#include "nn/batchnorm.h"

#include <stdio.h>
#include <string.h>

#include "dist/dist.h"
#include "nn/batchnorm_sync.h"
#include "util/error.h"

ns_status ns_batchnorm_create(ns_backend *be, ns_batchnorm *l, const char *name, int c, int relu)
{
    memset(l, 0, sizeof *l);
    l->c = c;
    l->relu = relu;
    char full[128];
    int shape[1] = {c};
    ns_status st;
    snprintf(full, sizeof full, "%s.weight", name);
    st = ns_param_alloc(be, &l->gamma, full, 1, shape, 0, 1);
    snprintf(full, sizeof full, "%s.bias", name);
    if (st == NS_OK)
        st = ns_param_alloc(be, &l->beta, full, 1, shape, 0, 1);
    snprintf(full, sizeof full, "%s.running_mean", name);
    if (st == NS_OK)
        st = ns_param_alloc(be, &l->running_mean, full, 1, shape, 0, 0);
    snprintf(full, sizeof full, "%s.running_var", name);
    if (st == NS_OK)
        st = ns_param_alloc(be, &l->running_var, full, 1, shape, 0, 0);
    if (st == NS_OK)
        st = be->api->buf_alloc(be->ctx, (size_t)c, &l->save_mean);
    if (st == NS_OK)
        st = be->api->buf_alloc(be->ctx, (size_t)c, &l->save_invstd);
    return st;
}

void ns_batchnorm_destroy(ns_backend *be, ns_batchnorm *l)
{
    ns_param_free(be, &l->gamma);
    ns_param_free(be, &l->beta);
    ns_param_free(be, &l->running_mean);
    ns_param_free(be, &l->running_var);
    be->api->buf_free(be->ctx, l->save_mean);
    be->api->buf_free(be->ctx, l->save_invstd);
    l->save_mean = l->save_invstd = NULL;
    ns_act_free(be, &l->out);
}

ns_bn_desc ns_batchnorm_desc(const ns_batchnorm *l, int n, int hw)
{
    ns_bn_desc d;
    d.n = n;
    d.c = l->c;
    d.hw = hw;
    d.eps = NS_BN_EPS;
    d.momentum = NS_BN_MOMENTUM;
    return d;
}

ns_status ns_batchnorm_forward(ns_backend *be, ns_batchnorm *l, const ns_buf *x, int n, int hw,
                               int training)
{
    ns_bn_desc d = ns_batchnorm_desc(l, n, hw);
    size_t size = (size_t)n * (size_t)l->c * (size_t)hw;
    NS_TRY(ns_act_reserve(be, &l->out, size));
    ns_status st;
    if (training && l->sync && ns_dist_size() > 1)
        st = ns_batchnorm_sync_forward(be, l, x, n, hw);
    else if (training)
        st = be->api->batchnorm_forward_train(be->ctx, &d, x, l->gamma.value, l->beta.value,
                                              l->running_mean.value, l->running_var.value,
                                              l->out.buf, l->save_mean, l->save_invstd);
    else
        st = be->api->batchnorm_forward_infer(be->ctx, &d, x, l->gamma.value, l->beta.value,
                                              l->running_mean.value, l->running_var.value,
                                              l->out.buf);
    if (st == NS_OK && l->relu)
        st = be->api->relu_forward(be->ctx, l->out.buf, l->out.buf, size);
    if (st != NS_OK)
        ns_error_prefix("%s", l->gamma.name);
    return st;
}

ns_status ns_batchnorm_backward(ns_backend *be, ns_batchnorm *l, const ns_buf *x, int n, int hw,
                                ns_buf *dy, ns_buf *dx)
{
    ns_bn_desc d = ns_batchnorm_desc(l, n, hw);
    size_t size = (size_t)n * (size_t)l->c * (size_t)hw;
    ns_status st = NS_OK;
    if (l->relu)
        st = be->api->relu_backward(be->ctx, l->out.buf, dy, dy, size);
    if (st == NS_OK && l->sync && ns_dist_size() > 1)
        st = ns_batchnorm_sync_backward(be, l, x, n, hw, dy, dx);
    else if (st == NS_OK)
        st = be->api->batchnorm_backward(be->ctx, &d, x, dy, l->gamma.value, l->save_mean,
                                         l->save_invstd, dx, l->gamma.grad, l->beta.grad);
    if (st != NS_OK)
        ns_error_prefix("%s backward", l->gamma.name);
    return st;
}

ns_status ns_batchnorm_init(ns_backend *be, ns_batchnorm *l)
{
    size_t c = (size_t)l->c;
    NS_TRY(be->api->fill(be->ctx, l->gamma.value, c, 1.0f));
    NS_TRY(be->api->fill(be->ctx, l->beta.value, c, 0.0f));
    NS_TRY(be->api->fill(be->ctx, l->running_mean.value, c, 0.0f));
    return be->api->fill(be->ctx, l->running_var.value, c, 1.0f);
}
