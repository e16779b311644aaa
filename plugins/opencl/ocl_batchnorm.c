/* Spatial batch normalisation (see ns_bn_desc): one work-group per channel for
 * training and backward, one work-item per element for inference. */
#include "ocl_internal.h"

static ns_status check_desc(ocl_ctx *c, const char *op, const ns_bn_desc *d)
{
    if (!d) {
        c->host->set_error("opencl %s: descriptor is NULL", op);
        return NS_ERR_INVALID_ARG;
    }
    if (d->n <= 0 || d->c <= 0 || d->hw <= 0 || !(d->eps > 0.0f)) {
        c->host->set_error("opencl %s: bad descriptor n=%d c=%d hw=%d eps=%g (expected positive)",
                           op, d->n, d->c, d->hw, (double)d->eps);
        return NS_ERR_INVALID_ARG;
    }
    if ((size_t)d->n * (size_t)d->hw > 0xffffffffu) {
        c->host->set_error("opencl %s: n*hw = %zu exceeds 2^32 per channel", op,
                           (size_t)d->n * (size_t)d->hw);
        return NS_ERR_UNSUPPORTED;
    }
    return NS_OK;
}

#define NEED(name, buf, count)                                   \
    do {                                                         \
        if (st == NS_OK)                                         \
            st = ocl_need(c, op, name, buf, count);              \
    } while (0)

ns_status ocl_batchnorm_forward_train(void *ctx, const ns_bn_desc *d, const ns_buf *x,
                                      const ns_buf *gamma, const ns_buf *beta,
                                      ns_buf *running_mean, ns_buf *running_var, ns_buf *y,
                                      ns_buf *save_mean, ns_buf *save_invstd)
{
    ocl_ctx *c = ctx;
    const char *op = "batchnorm_forward_train";
    ns_status st = check_desc(c, op, d);
    if (st != NS_OK)
        return st;
    size_t total = (size_t)d->n * d->c * d->hw, ch = (size_t)d->c;
    NEED("x", x, total);
    NEED("gamma", gamma, ch);
    NEED("beta", beta, ch);
    NEED("running_mean", running_mean, ch);
    NEED("running_var", running_var, ch);
    NEED("y", y, total);
    NEED("save_mean", save_mean, ch);
    NEED("save_invstd", save_invstd, ch);
    if (st != NS_OK)
        return st;
    ocl_kernel_id k = d->hw % 16 == 0 ? OCL_K_BN_FORWARD_TRAIN_V16 : OCL_K_BN_FORWARD_TRAIN;
    size_t local = c->local[k];
    return ocl_launch_groups(
        c, op, k, ch,
        OCL_ARGS(OCL_MEM(x->mem), OCL_MEM(gamma->mem), OCL_MEM(beta->mem),
                 OCL_MEM(running_mean->mem), OCL_MEM(running_var->mem), OCL_MEM(y->mem),
                 OCL_MEM(save_mean->mem), OCL_MEM(save_invstd->mem), OCL_U32((cl_uint)d->n),
                 OCL_U32((cl_uint)d->c), OCL_U32((cl_uint)d->hw), OCL_F32(d->eps),
                 OCL_F32(d->momentum), OCL_LOCAL(local * sizeof(float))));
}

ns_status ocl_batchnorm_forward_infer(void *ctx, const ns_bn_desc *d, const ns_buf *x,
                                      const ns_buf *gamma, const ns_buf *beta,
                                      const ns_buf *running_mean, const ns_buf *running_var,
                                      ns_buf *y)
{
    ocl_ctx *c = ctx;
    const char *op = "batchnorm_forward_infer";
    ns_status st = check_desc(c, op, d);
    if (st != NS_OK)
        return st;
    size_t total = (size_t)d->n * d->c * d->hw, ch = (size_t)d->c;
    NEED("x", x, total);
    NEED("gamma", gamma, ch);
    NEED("beta", beta, ch);
    NEED("running_mean", running_mean, ch);
    NEED("running_var", running_var, ch);
    NEED("y", y, total);
    if (st != NS_OK)
        return st;
    size_t planes = (size_t)d->n * d->c;
    if (planes > 0xffffffffu) {
        c->host->set_error("opencl %s: n*c = %zu exceeds 2^32", op, planes);
        return NS_ERR_UNSUPPORTED;
    }
    return ocl_launch(c, op, OCL_K_BN_FORWARD_INFER, planes,
                         OCL_ARGS(OCL_MEM(x->mem), OCL_MEM(gamma->mem), OCL_MEM(beta->mem),
                                  OCL_MEM(running_mean->mem), OCL_MEM(running_var->mem),
                                  OCL_MEM(y->mem), OCL_U32((cl_uint)planes),
                                  OCL_U32((cl_uint)d->c), OCL_U32((cl_uint)d->hw),
                                  OCL_F32(d->eps)));
}

ns_status ocl_batchnorm_backward(void *ctx, const ns_bn_desc *d, const ns_buf *x,
                                 const ns_buf *dy, const ns_buf *gamma, const ns_buf *save_mean,
                                 const ns_buf *save_invstd, ns_buf *dx, ns_buf *dgamma,
                                 ns_buf *dbeta)
{
    ocl_ctx *c = ctx;
    const char *op = "batchnorm_backward";
    ns_status st = check_desc(c, op, d);
    if (st != NS_OK)
        return st;
    size_t total = (size_t)d->n * d->c * d->hw, ch = (size_t)d->c;
    NEED("x", x, total);
    NEED("dy", dy, total);
    NEED("gamma", gamma, ch);
    NEED("save_mean", save_mean, ch);
    NEED("save_invstd", save_invstd, ch);
    NEED("dx", dx, total);
    NEED("dgamma", dgamma, ch);
    NEED("dbeta", dbeta, ch);
    if (st != NS_OK)
        return st;
    ocl_kernel_id k = d->hw % 16 == 0 ? OCL_K_BN_BACKWARD_V16 : OCL_K_BN_BACKWARD;
    size_t local = c->local[k];
    return ocl_launch_groups(
        c, op, k, ch,
        OCL_ARGS(OCL_MEM(x->mem), OCL_MEM(dy->mem), OCL_MEM(gamma->mem), OCL_MEM(save_mean->mem),
                 OCL_MEM(save_invstd->mem), OCL_MEM(dx->mem), OCL_MEM(dgamma->mem),
                 OCL_MEM(dbeta->mem), OCL_U32((cl_uint)d->n), OCL_U32((cl_uint)d->c),
                 OCL_U32((cl_uint)d->hw), OCL_LOCAL(local * sizeof(float))));
}
