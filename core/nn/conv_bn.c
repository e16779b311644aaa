#include "nn/conv_bn.h"

#include <stdio.h>

#include "util/error.h"

ns_status ns_conv_bn_create(ns_backend *be, ns_conv_bn *u, const char *prefix, const char *suffix,
                            int c, int k, int r, int stride, int relu, int h, int w)
{
    char name[96];
    snprintf(name, sizeof name, "%s.conv%s", prefix, suffix);
    ns_status st = ns_conv_create(be, &u->conv, name, c, k, r, stride);
    snprintf(name, sizeof name, "%s.bn%s", prefix, suffix);
    if (st == NS_OK)
        st = ns_batchnorm_create(be, &u->bn, name, k, relu);
    u->h = h;
    u->w = w;
    ns_conv_out_size(&u->conv, h, w, &u->p, &u->q);
    if (st == NS_OK && (u->p < 1 || u->q < 1))
        st = ns_fail(NS_ERR_INVALID_ARG, "%s: input %dx%d too small for a %dx%d stride-%d conv",
                     u->conv.weight.name, h, w, r, r, stride);
    return st;
}

void ns_conv_bn_destroy(ns_backend *be, ns_conv_bn *u)
{
    ns_conv_destroy(be, &u->conv);
    ns_batchnorm_destroy(be, &u->bn);
    ns_act_free(be, &u->fold_gamma);
    ns_act_free(be, &u->fold_beta);
}

ns_status ns_conv_bn_infer_fused(ns_backend *be, ns_conv_bn *u, const ns_buf *x, int n,
                                 const ns_buf *residual, int relu, float scale, ns_act *out)
{
    ns_conv_desc d = ns_conv_make_desc(&u->conv, n, u->h, u->w);
    ns_bn_desc bd = ns_batchnorm_desc(&u->bn, n, u->p * u->q);
    NS_TRY(ns_act_reserve(be, out, (size_t)n * ns_conv_bn_out_size(u)));
    const ns_batchnorm *bn = &u->bn;
    const ns_buf *gamma = bn->gamma.value, *beta = bn->beta.value;
    if (scale != 1.0f) {
        size_t k = bn->gamma.size;
        NS_TRY(ns_act_reserve(be, &u->fold_gamma, k));
        NS_TRY(ns_act_reserve(be, &u->fold_beta, k));
        NS_TRY(be->api->axpby(be->ctx, gamma, u->fold_gamma.buf, k, scale, 0.0f));
        NS_TRY(be->api->axpby(be->ctx, beta, u->fold_beta.buf, k, scale, 0.0f));
        gamma = u->fold_gamma.buf;
        beta = u->fold_beta.buf;
    }
    ns_status st = be->api->conv2d_bn_infer(be->ctx, &d, x, u->conv.weight.value, &bd, gamma, beta,
                                            bn->running_mean.value, bn->running_var.value, residual, relu,
                                            out->buf);
    if (st != NS_OK)
        ns_error_prefix("%s (inference)", u->conv.weight.name);
    return st;
}

ns_status ns_conv_bn_forward(ns_backend *be, ns_conv_bn *u, const ns_buf *x, int n, int training)
{
    if (!training && be->api->conv2d_bn_infer)
        return ns_conv_bn_infer_fused(be, u, x, n, NULL, u->bn.relu, 1.0f, &u->bn.out);
    NS_TRY(ns_conv_forward(be, &u->conv, x, n, u->h, u->w));
    return ns_batchnorm_forward(be, &u->bn, u->conv.out.buf, n, u->p * u->q, training);
}

ns_status ns_conv_bn_backward(ns_backend *be, ns_conv_bn *u, const ns_buf *x, int n, ns_buf *dy,
                              ns_buf *scratch, ns_buf *dx)
{
    NS_TRY(ns_batchnorm_backward(be, &u->bn, u->conv.out.buf, n, u->p * u->q, dy, scratch));
    return ns_conv_backward(be, &u->conv, x, n, u->h, u->w, scratch, dx);
}

ns_status ns_conv_bn_zero_grad(ns_backend *be, ns_conv_bn *u)
{
    NS_TRY(be->api->fill(be->ctx, u->conv.weight.grad, u->conv.weight.size, 0.0f));
    NS_TRY(be->api->fill(be->ctx, u->bn.gamma.grad, u->bn.gamma.size, 0.0f));
    return be->api->fill(be->ctx, u->bn.beta.grad, u->bn.beta.size, 0.0f);
}

size_t ns_conv_bn_out_size(const ns_conv_bn *u)
{
    return (size_t)u->conv.k * (size_t)u->p * (size_t)u->q;
}
