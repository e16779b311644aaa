/* SGD and Adam updates in place on the weights and their state. */
#include <math.h>

#include "cuda_context.h"
#include "cuda_ops.h"
#include "kernels.h"

ns_status ns_cuda_sgd_update(void *ctx, const ns_sgd_params *p, ns_buf *w, const ns_buf *g,
                             ns_buf *velocity, size_t n)
{
    ns_cuda_ctx *c = ctx;
    const char *op = "sgd_update";
    if (!p) {
        c->host->set_error("sgd_update: params is NULL");
        return NS_ERR_INVALID_ARG;
    }
    NS_CUDA_TRY(ns_cuda_need(c, op, "w", w, n));
    NS_CUDA_TRY(ns_cuda_need(c, op, "g", g, n));
    NS_CUDA_TRY(ns_cuda_need(c, op, "velocity", velocity, n));
    NS_CUDA_TRY(ns_cuda_enter(c, op));
    /* w is written in float32 (the master copy): its 16-bit copy goes stale
     * and the next convolution rounds it again, once per step */
    const float *gp;
    float *wp, *vp;
    NS_CUDA_TRY(ns_cuda_rd(c, op, g, &gp));
    NS_CUDA_TRY(ns_cuda_rw(c, op, w, &wp));
    NS_CUDA_TRY(ns_cuda_rw(c, op, velocity, &vp));
    NS_CUDA_RT(c, op, ns_k_sgd(c->stream, wp, gp, vp, n, p->lr, p->momentum, p->weight_decay,
                               p->nesterov));
    return NS_OK;
}

ns_status ns_cuda_adam_update(void *ctx, const ns_adam_params *p, ns_buf *w, const ns_buf *g,
                              ns_buf *m, ns_buf *v, size_t n)
{
    ns_cuda_ctx *c = ctx;
    const char *op = "adam_update";
    if (!p) {
        c->host->set_error("adam_update: params is NULL");
        return NS_ERR_INVALID_ARG;
    }
    if (p->step < 1) {
        c->host->set_error("adam_update: step %d, expected >= 1", p->step);
        return NS_ERR_INVALID_ARG;
    }
    NS_CUDA_TRY(ns_cuda_need(c, op, "w", w, n));
    NS_CUDA_TRY(ns_cuda_need(c, op, "g", g, n));
    NS_CUDA_TRY(ns_cuda_need(c, op, "m", m, n));
    NS_CUDA_TRY(ns_cuda_need(c, op, "v", v, n));
    NS_CUDA_TRY(ns_cuda_enter(c, op));
    /* bias corrections in double on the host: beta^step underflows gracefully */
    float bc1 = (float)(1.0 - pow((double)p->beta1, (double)p->step));
    float bc2 = (float)(1.0 - pow((double)p->beta2, (double)p->step));
    const float *gp;
    float *wp, *mp, *vp;
    NS_CUDA_TRY(ns_cuda_rd(c, op, g, &gp));
    NS_CUDA_TRY(ns_cuda_rw(c, op, w, &wp));
    NS_CUDA_TRY(ns_cuda_rw(c, op, m, &mp));
    NS_CUDA_TRY(ns_cuda_rw(c, op, v, &vp));
    NS_CUDA_RT(c, op, ns_k_adam(c->stream, wp, gp, mp, vp, n, p->lr, p->beta1, p->beta2, p->eps,
                                p->weight_decay, bc1, bc2));
    return NS_OK;
}
