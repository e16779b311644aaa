/* The fused inference convolution unit (ABI 1.1), written as what it must
 * equal: conv2d_forward -> batchnorm_forward_infer -> add -> relu_forward,
 * each step ref's own op. ref is the oracle, so clarity wins over the single
 * pass a fast backend makes; the composition also makes ref's slot agree with
 * the host's fallback bit for bit. */
#include "ref_backend.h"

/* The one-line checks of the fused op, under its own name, so a bad call is
 * reported as conv2d_bn_infer rather than as whichever step it reached. */
static ns_status check_args(ref_ctx *ctx, const char *op, const ns_conv_desc *d,
                            const ns_buf *x, const ns_buf *w, const ns_bn_desc *bn,
                            const ns_buf *gamma, const ns_buf *beta, const ns_buf *mean,
                            const ns_buf *var, const ns_buf *residual, const ns_buf *y)
{
    ns_status st = ref_check_conv(ctx, op, d);
    if (st == NS_OK)
        st = ref_check_bn(ctx, op, bn);
    if (st != NS_OK)
        return st;
    long long pq = (long long)d->p * d->q;
    if (bn->n != d->n || bn->c != d->k || bn->hw != pq)
        return REF_FAIL(ctx, NS_ERR_INVALID_ARG,
                        "conv2d_bn_infer: batchnorm n=%d c=%d hw=%d, expected the convolution "
                        "output's n=%d c=k=%d hw=p*q=%lld",
                        bn->n, bn->c, bn->hw, d->n, d->k, pq);
    size_t nx = (size_t)d->n * d->c * d->h * d->w, nw = (size_t)d->k * d->c * d->r * d->s,
           ny = (size_t)d->n * d->k * d->p * d->q, k = (size_t)d->k;
    const char *names[] = {"x", "weight", "gamma", "beta", "mean", "var", "y"};
    const ns_buf *bufs[] = {x, w, gamma, beta, mean, var, y};
    size_t need[] = {nx, nw, k, k, k, k, ny};
    for (int i = 0; i < 7; i++)
        if ((st = ref_check_buf(ctx, op, names[i], bufs[i], need[i])) != NS_OK)
            return st;
    if (residual && (st = ref_check_buf(ctx, op, "residual", residual, ny)) != NS_OK)
        return st;
    if (y == x || y == w || y == residual)
        return REF_FAIL(ctx, NS_ERR_INVALID_ARG,
                        "%s: y is the same buffer as %s (expected a separate output)", op,
                        y == x ? "x" : y == w ? "weight" : "residual");
    return NS_OK;
}

ns_status ref_conv2d_bn_infer(void *vctx, const ns_conv_desc *d, const ns_buf *x,
                              const ns_buf *w, const ns_bn_desc *bn, const ns_buf *gamma,
                              const ns_buf *beta, const ns_buf *mean, const ns_buf *var,
                              const ns_buf *residual, int relu, ns_buf *y)
{
    ref_ctx *ctx = vctx;
    ns_status st = check_args(ctx, "conv2d_bn_infer", d, x, w, bn, gamma, beta, mean, var,
                              residual, y);
    if (st != NS_OK)
        return st;
    size_t ny = (size_t)d->n * d->k * d->p * d->q;
    /* Every step after the convolution runs in place on y: ref's batchnorm
     * inference reads element i before it writes element i and nothing else,
     * and add and relu_forward may alias by contract. */
    if ((st = ref_conv2d_forward(ctx, d, x, w, y)) != NS_OK)
        return st;
    if ((st = ref_batchnorm_forward_infer(ctx, bn, y, gamma, beta, mean, var, y)) != NS_OK)
        return st;
    if (residual && (st = ref_add(ctx, y, residual, y, ny)) != NS_OK)
        return st;
    if (relu && (st = ref_relu_forward(ctx, y, y, ny)) != NS_OK)
        return st;
    return NS_OK;
}
