/* Fully connected layers on CLBlast SGEMM (row-major, weights [out][in]). */
#include "ocl_internal.h"

static ns_status check_desc(ocl_ctx *c, const char *op, const ns_dense_desc *d)
{
    if (!d) {
        c->host->set_error("opencl %s: descriptor is NULL", op);
        return NS_ERR_INVALID_ARG;
    }
    if (d->n < 0 || d->in <= 0 || d->out <= 0) {
        c->host->set_error("opencl %s: bad descriptor n=%d in=%d out=%d (expected n >= 0, in, "
                           "out > 0)", op, d->n, d->in, d->out);
        return NS_ERR_INVALID_ARG;
    }
    return NS_OK;
}

ns_status ocl_dense_forward(void *ctx, const ns_dense_desc *d, const ns_buf *x, const ns_buf *w,
                            const ns_buf *b, ns_buf *y)
{
    ocl_ctx *c = ctx;
    const char *op = "dense_forward";
    ns_status st = check_desc(c, op, d);
    if (st != NS_OK)
        return st;
    size_t n = (size_t)d->n, in = (size_t)d->in, out = (size_t)d->out;
    st = ocl_need(c, op, "x", x, n * in);
    if (st == NS_OK)
        st = ocl_need(c, op, "w", w, out * in);
    if (st == NS_OK && b)
        st = ocl_need(c, op, "b", b, out);
    if (st == NS_OK)
        st = ocl_need(c, op, "y", y, n * out);
    if (st != NS_OK || n == 0)
        return st;
    st = ocl_sgemm(c, op, 0, 1, n, out, in, 1.0f, x->mem, in, w->mem, in, 0.0f, y->mem);
    if (st == NS_OK && b)
        st = ocl_launch_2d(c, op, OCL_K_BIAS_ADD, out, n,
                           OCL_ARGS(OCL_MEM(y->mem), OCL_MEM(b->mem), OCL_U32((cl_uint)n),
                                    OCL_U32((cl_uint)out)));
    return st;
}

ns_status ocl_dense_backward(void *ctx, const ns_dense_desc *d, const ns_buf *x, const ns_buf *w,
                             const ns_buf *dy, ns_buf *dx, ns_buf *dw, ns_buf *db)
{
    ocl_ctx *c = ctx;
    const char *op = "dense_backward";
    ns_status st = check_desc(c, op, d);
    if (st != NS_OK)
        return st;
    size_t n = (size_t)d->n, in = (size_t)d->in, out = (size_t)d->out;
    st = ocl_need(c, op, "x", x, n * in);
    if (st == NS_OK)
        st = ocl_need(c, op, "w", w, out * in);
    if (st == NS_OK)
        st = ocl_need(c, op, "dy", dy, n * out);
    if (st == NS_OK && dx)
        st = ocl_need(c, op, "dx", dx, n * in);
    if (st == NS_OK)
        st = ocl_need(c, op, "dw", dw, out * in);
    if (st == NS_OK && db)
        st = ocl_need(c, op, "db", db, out);
    if (st != NS_OK)
        return st;
    if (n == 0) { /* no samples: zero gradients */
        float zero = 0.0f;
        cl_int err = clEnqueueFillBuffer(c->rt->queue, dw->mem, &zero, sizeof zero, 0,
                                         out * in * sizeof(float), 0, NULL, NULL);
        if (err == CL_SUCCESS && db)
            err = clEnqueueFillBuffer(c->rt->queue, db->mem, &zero, sizeof zero, 0,
                                      out * sizeof(float), 0, NULL, NULL);
        return err == CL_SUCCESS ? NS_OK : ocl_fail_cl(c->host, op, "clEnqueueFillBuffer", err);
    }
    if (dx)
        st = ocl_sgemm(c, op, 0, 0, n, in, out, 1.0f, dy->mem, out, w->mem, in, 0.0f, dx->mem);
    if (st == NS_OK)
        st = ocl_sgemm(c, op, 1, 0, out, in, n, 1.0f, dy->mem, out, x->mem, in, 0.0f, dw->mem);
    if (st == NS_OK && db)
        st = ocl_launch(c, op, OCL_K_COLUMN_SUM, out,
                        OCL_ARGS(OCL_MEM(dy->mem), OCL_MEM(db->mem), OCL_U32((cl_uint)n),
                                 OCL_U32((cl_uint)out)));
    return st;
}
