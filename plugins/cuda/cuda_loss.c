/* Softmax and the fused soft-target cross-entropy. */
#include "cuda_context.h"
#include "cuda_ops.h"
#include "kernels.h"

static ns_status check_rows(ns_cuda_ctx *c, const char *op, int n, int classes)
{
    if (n < 0 || classes < 1) {
        c->host->set_error("%s: n=%d classes=%d, expected n >= 0 and classes >= 1", op, n, classes);
        return NS_ERR_INVALID_ARG;
    }
    return NS_OK;
}

ns_status ns_cuda_softmax_cross_entropy(void *ctx, int n, int classes, const ns_buf *logits,
                                        const ns_buf *targets, float grad_scale, ns_buf *loss,
                                        ns_buf *dlogits)
{
    ns_cuda_ctx *c = ctx;
    const char *op = "softmax_cross_entropy";
    NS_CUDA_TRY(check_rows(c, op, n, classes));
    size_t total = (size_t)n * (size_t)classes;
    NS_CUDA_TRY(ns_cuda_need(c, op, "logits", logits, total));
    NS_CUDA_TRY(ns_cuda_need(c, op, "targets", targets, total));
    NS_CUDA_TRY(ns_cuda_need(c, op, "loss", loss, (size_t)n));
    if (dlogits)
        NS_CUDA_TRY(ns_cuda_need(c, op, "dlogits", dlogits, total));
    NS_CUDA_TRY(ns_cuda_enter(c, op));
    const float *lp, *tp;
    NS_CUDA_TRY(ns_cuda_rd(c, op, logits, &lp));
    NS_CUDA_TRY(ns_cuda_rd(c, op, targets, &tp));
    NS_CUDA_RT(c, op, ns_k_softmax_cross_entropy(c->stream, n, classes, lp, tp, grad_scale,
                                                 ns_cuda_wr(loss),
                                                 dlogits ? ns_cuda_wr(dlogits) : NULL));
    return NS_OK;
}

ns_status ns_cuda_softmax(void *ctx, int n, int classes, const ns_buf *logits, ns_buf *probs)
{
    ns_cuda_ctx *c = ctx;
    const char *op = "softmax";
    NS_CUDA_TRY(check_rows(c, op, n, classes));
    size_t total = (size_t)n * (size_t)classes;
    NS_CUDA_TRY(ns_cuda_need(c, op, "logits", logits, total));
    NS_CUDA_TRY(ns_cuda_need(c, op, "probs", probs, total));
    NS_CUDA_TRY(ns_cuda_enter(c, op));
    const float *lp;
    NS_CUDA_TRY(ns_cuda_rd(c, op, logits, &lp));
    NS_CUDA_RT(c, op, ns_k_softmax(c->stream, n, classes, lp, ns_cuda_wr(probs)));
    return NS_OK;
}
