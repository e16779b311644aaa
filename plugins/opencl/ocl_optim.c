/* Optimizer updates in place (PyTorch semantics, see backend.h). */
#include <math.h>

#include "ocl_internal.h"

static ns_status check3(ocl_ctx *c, const char *op, const char *state, const ns_buf *w,
                        const ns_buf *g, const ns_buf *s, size_t n)
{
    ns_status st = ocl_need(c, op, "w", w, n);
    if (st == NS_OK)
        st = ocl_need(c, op, "g", g, n);
    if (st == NS_OK)
        st = ocl_need(c, op, state, s, n);
    return st;
}

ns_status ocl_sgd_update(void *ctx, const ns_sgd_params *p, ns_buf *w, const ns_buf *g,
                         ns_buf *velocity, size_t n)
{
    ocl_ctx *c = ctx;
    const char *op = "sgd_update";
    if (!p) {
        c->host->set_error("opencl %s: params is NULL", op);
        return NS_ERR_INVALID_ARG;
    }
    ns_status st = check3(c, op, "velocity", w, g, velocity, n);
    if (st != NS_OK)
        return st;
    return ocl_launch(c, op, OCL_K_SGD_UPDATE, n,
                      OCL_ARGS(OCL_MEM(w->mem), OCL_MEM(g->mem), OCL_MEM(velocity->mem),
                               OCL_U64(n), OCL_F32(p->lr), OCL_F32(p->momentum),
                               OCL_F32(p->weight_decay), OCL_I32(p->nesterov != 0)));
}

ns_status ocl_adam_update(void *ctx, const ns_adam_params *p, ns_buf *w, const ns_buf *g,
                          ns_buf *m, ns_buf *v, size_t n)
{
    ocl_ctx *c = ctx;
    const char *op = "adam_update";
    if (!p) {
        c->host->set_error("opencl %s: params is NULL", op);
        return NS_ERR_INVALID_ARG;
    }
    if (p->step < 1) {
        c->host->set_error("opencl %s: step %d, expected >= 1", op, p->step);
        return NS_ERR_INVALID_ARG;
    }
    ns_status st = check3(c, op, "m", w, g, m, n);
    if (st == NS_OK)
        st = ocl_need(c, op, "v", v, n);
    if (st != NS_OK)
        return st;
    float bc1 = (float)(1.0 - pow((double)p->beta1, (double)p->step));
    float bc2 = (float)(1.0 - pow((double)p->beta2, (double)p->step));
    return ocl_launch(c, op, OCL_K_ADAM_UPDATE, n,
                      OCL_ARGS(OCL_MEM(w->mem), OCL_MEM(g->mem), OCL_MEM(m->mem),
                               OCL_MEM(v->mem), OCL_U64(n), OCL_F32(p->lr), OCL_F32(p->beta1),
                               OCL_F32(p->beta2), OCL_F32(p->eps), OCL_F32(p->weight_decay),
                               OCL_F32(bc1), OCL_F32(bc2)));
}
