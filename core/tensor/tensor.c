#include "tensor/tensor.h"

#include <string.h>

#include "util/error.h"

ns_status ns_tensor_alloc(ns_backend *be, int n, int c, int h, int w, ns_tensor *t)
{
    memset(t, 0, sizeof *t);
    if (!be)
        return ns_fail(NS_ERR_INVALID_ARG, "tensor_alloc: backend is NULL");
    if (n < 1 || c < 1 || h < 1 || w < 1)
        return ns_fail(NS_ERR_INVALID_ARG,
                       "tensor_alloc: shape %dx%dx%dx%d, expected every dimension >= 1", n, c, h,
                       w);
    size_t size = (size_t)n * (size_t)c * (size_t)h * (size_t)w;
    ns_buf *buf = NULL;
    ns_status st = be->api->buf_alloc(be->ctx, size, &buf);
    if (st != NS_OK) {
        ns_error_prefix("tensor_alloc %dx%dx%dx%d", n, c, h, w);
        return st;
    }
    t->be = be;
    t->buf = buf;
    t->n = n;
    t->c = c;
    t->h = h;
    t->w = w;
    t->size = size;
    return NS_OK;
}

void ns_tensor_free(ns_tensor *t)
{
    if (!t)
        return;
    if (t->be && t->buf)
        t->be->api->buf_free(t->be->ctx, t->buf);
    memset(t, 0, sizeof *t);
}

ns_status ns_tensor_upload(ns_tensor *t, const float *src)
{
    if (!t || !t->buf || !src)
        return ns_fail(NS_ERR_INVALID_ARG, "tensor_upload: tensor not allocated or src NULL");
    return t->be->api->upload(t->be->ctx, t->buf, 0, src, t->size);
}

ns_status ns_tensor_download(const ns_tensor *t, float *dst)
{
    if (!t || !t->buf || !dst)
        return ns_fail(NS_ERR_INVALID_ARG, "tensor_download: tensor not allocated or dst NULL");
    return t->be->api->download(t->be->ctx, t->buf, 0, dst, t->size);
}
