/* Device buffers: allocation, host transfers, fill, copy, synchronisation. */
#include <stdlib.h>

#include "ocl_internal.h"

ns_status ocl_buf_alloc(void *ctx, size_t n, ns_buf **out)
{
    ocl_ctx *c = ctx;
    if (!out) {
        c->host->set_error("opencl buf_alloc: out is NULL");
        return NS_ERR_INVALID_ARG;
    }
    if (n > c->rt->max_alloc_bytes / sizeof(float)) {
        c->host->set_error("opencl buf_alloc: %zu floats exceed the device's largest buffer "
                           "(%zu bytes, CL_DEVICE_MAX_MEM_ALLOC_SIZE)",
                           n, c->rt->max_alloc_bytes);
        return NS_ERR_NOMEM;
    }
    ns_buf *b = calloc(1, sizeof *b);
    if (!b) {
        c->host->set_error("opencl buf_alloc: out of host memory");
        return NS_ERR_NOMEM;
    }
    if (n > 0) {
        cl_int err;
        b->mem = clCreateBuffer(c->rt->context, CL_MEM_READ_WRITE, n * sizeof(float), NULL, &err);
        if (err != CL_SUCCESS) {
            free(b);
            return ocl_fail_cl(c->host, "buf_alloc", "clCreateBuffer", err);
        }
    }
    b->n = n;
    b->next = c->bufs;
    if (c->bufs)
        c->bufs->prev = b;
    c->bufs = b;
    *out = b;
    return NS_OK;
}

void ocl_buf_free(void *ctx, ns_buf *b)
{
    ocl_ctx *c = ctx;
    if (!b)
        return;
    if (b->prev)
        b->prev->next = b->next;
    else
        c->bufs = b->next;
    if (b->next)
        b->next->prev = b->prev;
    if (b->mem)
        clReleaseMemObject(b->mem);
    free(b);
}

static ns_status check_range(ocl_ctx *c, const char *op, const ns_buf *b, size_t offset, size_t n)
{
    if (!b) {
        c->host->set_error("opencl %s: buffer is NULL", op);
        return NS_ERR_INVALID_ARG;
    }
    if (offset > b->n || n > b->n - offset) {
        c->host->set_error("opencl %s: range [%zu, %zu) outside a buffer of %zu floats", op,
                           offset, offset + n, b->n);
        return NS_ERR_INVALID_ARG;
    }
    return NS_OK;
}

ns_status ocl_upload(void *ctx, ns_buf *dst, size_t offset, const float *src, size_t n)
{
    ocl_ctx *c = ctx;
    ns_status st = check_range(c, "upload", dst, offset, n);
    if (st != NS_OK || n == 0)
        return st;
    /* Blocking: the caller may reuse src as soon as we return. */
    cl_int err = clEnqueueWriteBuffer(c->rt->queue, dst->mem, CL_TRUE, offset * sizeof(float),
                                      n * sizeof(float), src, 0, NULL, NULL);
    return err == CL_SUCCESS ? NS_OK : ocl_fail_cl(c->host, "upload", "clEnqueueWriteBuffer", err);
}

ns_status ocl_download(void *ctx, const ns_buf *src, size_t offset, float *dst, size_t n)
{
    ocl_ctx *c = ctx;
    ns_status st = check_range(c, "download", src, offset, n);
    if (st != NS_OK || n == 0)
        return st;
    cl_int err = clEnqueueReadBuffer(c->rt->queue, src->mem, CL_TRUE, offset * sizeof(float),
                                     n * sizeof(float), dst, 0, NULL, NULL);
    return err == CL_SUCCESS ? NS_OK
                             : ocl_fail_cl(c->host, "download", "clEnqueueReadBuffer", err);
}

ns_status ocl_fill(void *ctx, ns_buf *dst, size_t n, float value)
{
    ocl_ctx *c = ctx;
    ns_status st = check_range(c, "fill", dst, 0, n);
    if (st != NS_OK || n == 0)
        return st;
    cl_int err = clEnqueueFillBuffer(c->rt->queue, dst->mem, &value, sizeof value, 0,
                                     n * sizeof(float), 0, NULL, NULL);
    return err == CL_SUCCESS ? NS_OK : ocl_fail_cl(c->host, "fill", "clEnqueueFillBuffer", err);
}

ns_status ocl_copy(void *ctx, ns_buf *dst, const ns_buf *src, size_t n)
{
    ocl_ctx *c = ctx;
    ns_status st = check_range(c, "copy", dst, 0, n);
    if (st == NS_OK)
        st = check_range(c, "copy", src, 0, n);
    if (st != NS_OK || n == 0 || dst == src)
        return st;
    cl_int err = clEnqueueCopyBuffer(c->rt->queue, src->mem, dst->mem, 0, 0, n * sizeof(float), 0,
                                     NULL, NULL);
    return err == CL_SUCCESS ? NS_OK : ocl_fail_cl(c->host, "copy", "clEnqueueCopyBuffer", err);
}

ns_status ocl_synchronize(void *ctx)
{
    ocl_ctx *c = ctx;
    cl_int err = clFinish(c->rt->queue);
    return err == CL_SUCCESS ? NS_OK : ocl_fail_cl(c->host, "synchronize", "clFinish", err);
}
