/* A float32 NCHW tensor living in one backend buffer.
 *
 * The tensor owns its buffer: ns_tensor_free releases it through the backend
 * that allocated it. Shapes are logical (backend.h: the exchange format is
 * float32 NCHW whatever the backend keeps inside). */
#ifndef NS_TENSOR_TENSOR_H
#define NS_TENSOR_TENSOR_H

#include <stddef.h>

#include <noisystudent/backend.h>

#include "plugin/backend_loader.h"

typedef struct ns_tensor {
    ns_backend *be;
    ns_buf *buf;
    int n, c, h, w;
    size_t size; /* n*c*h*w floats */
} ns_tensor;

/* Allocates an n*c*h*w tensor (contents undefined). Every dimension must be
 * >= 1 (NS_ERR_INVALID_ARG otherwise). On failure *t is zeroed. */
ns_status ns_tensor_alloc(ns_backend *be, int n, int c, int h, int w, ns_tensor *t);
/* Frees the buffer and zeroes *t; safe on a zeroed or already freed tensor. */
void ns_tensor_free(ns_tensor *t);
/* Copies t->size floats from host memory into the whole tensor. */
ns_status ns_tensor_upload(ns_tensor *t, const float *src);
/* Copies the whole tensor (t->size floats) into host memory; blocks until done. */
ns_status ns_tensor_download(const ns_tensor *t, float *dst);

#endif
