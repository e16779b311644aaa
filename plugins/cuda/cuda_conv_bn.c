/* conv2d_bn_infer (ABI 1.1): y = act(bn_infer(conv(x, w)) + residual).
 *
 * nhwc16=1 (default): the convolution (16-bit NHWC on the resident path,
 * float32 otherwise) writes y, then ONE epilogue pass applies the batchnorm
 * formula, the residual and the ReLU in place (k_conv_bn.cu): two passes over
 * the activations instead of four. nhwc16=0: the four ops of the plugin one
 * after the other, exactly what the host does when the slot is NULL, so the
 * switch restores the old behaviour. */
#include "cuda_context.h"
#include "cuda_ops.h"
#include "kernels.h"

static ns_status check(ns_cuda_ctx *c, const char *op, const ns_conv_desc *d,
                       const ns_bn_desc *bn, const ns_buf *gamma, const ns_buf *beta,
                       const ns_buf *mean, const ns_buf *var, const ns_buf *residual,
                       const ns_buf *x, const ns_buf *w, const ns_buf *y)
{
    if (!d || !bn) {
        c->host->set_error("%s: %s is NULL", op, !d ? "conv descriptor" : "bn descriptor");
        return NS_ERR_INVALID_ARG;
    }
    if (bn->n != d->n || bn->c != d->k || (long long)bn->hw != (long long)d->p * d->q) {
        c->host->set_error("%s: bn n=%d c=%d hw=%d, expected n=%d c=%d hw=%d from the convolution",
                           op, bn->n, bn->c, bn->hw, d->n, d->k, d->p * d->q);
        return NS_ERR_INVALID_ARG;
    }
    if (!(bn->eps > 0.0f)) {
        c->host->set_error("%s: eps %g, expected > 0", op, (double)bn->eps);
        return NS_ERR_INVALID_ARG;
    }
    size_t k = (size_t)d->k, ny = (size_t)d->n * d->k * d->p * d->q;
    NS_CUDA_TRY(ns_cuda_need(c, op, "gamma", gamma, k));
    NS_CUDA_TRY(ns_cuda_need(c, op, "beta", beta, k));
    NS_CUDA_TRY(ns_cuda_need(c, op, "mean", mean, k));
    NS_CUDA_TRY(ns_cuda_need(c, op, "var", var, k));
    if (residual)
        NS_CUDA_TRY(ns_cuda_need(c, op, "residual", residual, ny));
    if (y && (y == x || y == w || y == residual)) {
        c->host->set_error("%s: y aliases %s, expected a separate output buffer", op,
                           y == x ? "x" : y == w ? "w" : "residual");
        return NS_ERR_INVALID_ARG;
    }
    return NS_OK;
}

ns_status ns_cuda_conv2d_bn_infer(void *ctx, const ns_conv_desc *d, const ns_buf *x,
                                  const ns_buf *w, const ns_bn_desc *bn, const ns_buf *gamma,
                                  const ns_buf *beta, const ns_buf *mean, const ns_buf *var,
                                  const ns_buf *residual, int relu, ns_buf *y)
{
    ns_cuda_ctx *c = ctx;
    const char *op = "conv2d_bn_infer";
    NS_CUDA_TRY(check(c, op, d, bn, gamma, beta, mean, var, residual, x, w, y));
    /* checks x, w, y and the shape, and runs the convolution into y */
    NS_CUDA_TRY(ns_cuda_conv2d_forward(ctx, d, x, w, y));
    size_t ny = (size_t)d->n * d->k * d->p * d->q;
    if (!c->nhwc16) {
        NS_CUDA_TRY(ns_cuda_batchnorm_forward_infer(ctx, bn, y, gamma, beta, mean, var, y));
        if (residual)
            NS_CUDA_TRY(ns_cuda_add(ctx, y, residual, y, ny));
        if (relu)
            NS_CUDA_TRY(ns_cuda_relu_forward(ctx, y, y, ny));
        return NS_OK;
    }
    const float *gp, *bp, *mp, *vp;
    NS_CUDA_TRY(ns_cuda_rd(c, op, gamma, &gp));
    NS_CUDA_TRY(ns_cuda_rd(c, op, beta, &bp));
    NS_CUDA_TRY(ns_cuda_rd(c, op, mean, &mp));
    NS_CUDA_TRY(ns_cuda_rd(c, op, var, &vp));
    int dims[4] = {d->n, d->k, d->p, d->q};
    /* the convolution left y as a 16-bit tensor unless it ran in float32
     * (fp32 precision, or a shape without an NHWC engine) */
    if (ns_cuda_resident16(c) && ns_cuda_res_h16_fits(&y->res, dims, 1)) {
        const void *rp = NULL;
        if (residual) /* rounded into its 16-bit cache when it is float32 */
            NS_CUDA_TRY(ns_cuda_h16_rd(c, op, residual, dims, 0, &rp));
        void *yp;
        NS_CUDA_TRY(ns_cuda_h16_wr(c, op, y, dims, &yp)); /* same dims: the content stays */
        NS_CUDA_RT(c, op, ns_k16_conv_bn_epilogue(c->stream, yp, rp, gp, bp, mp, vp, bn->eps,
                                                  relu, (size_t)d->n * d->p * d->q, d->k,
                                                  ns_cuda_bf16(c)));
        return NS_OK;
    }
    const float *rp = NULL;
    if (residual)
        NS_CUDA_TRY(ns_cuda_rd(c, op, residual, &rp));
    float *yp;
    NS_CUDA_TRY(ns_cuda_rw(c, op, y, &yp));
    NS_CUDA_RT(c, op, ns_k_conv_bn_epilogue(c->stream, yp, rp, gp, bp, mp, vp, bn->eps, relu,
                                            d->n, d->k, d->p * d->q));
    return NS_OK;
}
