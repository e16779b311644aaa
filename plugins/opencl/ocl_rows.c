/* Softmax and the fused soft-target cross-entropy: one work-item per row. */
#include "ocl_internal.h"

static ns_status check_rows(ocl_ctx *c, const char *op, int n, int classes)
{
    if (n < 0 || classes <= 0) {
        c->host->set_error("opencl %s: bad sizes n=%d classes=%d (expected n >= 0, classes > 0)",
                           op, n, classes);
        return NS_ERR_INVALID_ARG;
    }
    return NS_OK;
}

ns_status ocl_softmax_cross_entropy(void *ctx, int n, int classes, const ns_buf *logits,
                                    const ns_buf *targets, float grad_scale, ns_buf *loss,
                                    ns_buf *dlogits)
{
    ocl_ctx *c = ctx;
    const char *op = "softmax_cross_entropy";
    ns_status st = check_rows(c, op, n, classes);
    size_t total = (size_t)n * (size_t)classes;
    if (st == NS_OK)
        st = ocl_need(c, op, "logits", logits, total);
    if (st == NS_OK)
        st = ocl_need(c, op, "targets", targets, total);
    if (st == NS_OK)
        st = ocl_need(c, op, "loss", loss, (size_t)n);
    if (st == NS_OK && dlogits)
        st = ocl_need(c, op, "dlogits", dlogits, total);
    if (st != NS_OK || n == 0)
        return st;
    /* Without dlogits the kernel still takes a valid buffer argument; it never
     * writes it. */
    cl_mem dl = dlogits ? dlogits->mem : loss->mem;
    return ocl_launch(c, op, OCL_K_SOFTMAX_XENT, (size_t)n,
                      OCL_ARGS(OCL_MEM(logits->mem), OCL_MEM(targets->mem), OCL_F32(grad_scale),
                               OCL_MEM(loss->mem), OCL_MEM(dl), OCL_I32(dlogits != NULL),
                               OCL_U32((cl_uint)n), OCL_U32((cl_uint)classes)));
}

ns_status ocl_softmax(void *ctx, int n, int classes, const ns_buf *logits, ns_buf *probs)
{
    ocl_ctx *c = ctx;
    const char *op = "softmax";
    ns_status st = check_rows(c, op, n, classes);
    size_t total = (size_t)n * (size_t)classes;
    if (st == NS_OK)
        st = ocl_need(c, op, "logits", logits, total);
    if (st == NS_OK)
        st = ocl_need(c, op, "probs", probs, total);
    if (st != NS_OK || n == 0)
        return st;
    return ocl_launch(c, op, OCL_K_SOFTMAX, (size_t)n,
                      OCL_ARGS(OCL_MEM(logits->mem), OCL_MEM(probs->mem), OCL_U32((cl_uint)n),
                               OCL_U32((cl_uint)classes)));
}
