/* A caching device allocator. cudaMalloc/cudaFree synchronise the device and
 * cost tens of microseconds, and a training step frees and reallocates the
 * same sizes every step; so freed blocks are kept on a list and handed out
 * again. Safe with one stream: work that used a freed block was queued before
 * any work that reuses it. */
#ifndef NS_CUDA_ALLOC_H
#define NS_CUDA_ALLOC_H

#include <stddef.h>

#include <cuda_runtime_api.h>

typedef struct ns_cuda_block {
    void *ptr;
    size_t bytes;
} ns_cuda_block;

typedef struct ns_cuda_alloc {
    ns_cuda_block *free_blocks; /* cached, not in use */
    size_t n_free, cap_free;
    size_t bytes_cached;        /* sum of free_blocks[].bytes */
    size_t bytes_in_use;
} ns_cuda_alloc;

/* Size actually reserved for a request of `bytes` (rounded so that blocks
 * can be reused across slightly different requests). */
size_t ns_cuda_alloc_round(size_t bytes);

/* A block of at least `bytes` (bytes > 0) into *ptr and its reserved size into
 * *reserved. Reuses a cached block no more than twice the request; otherwise
 * cudaMalloc, and on out-of-memory releases the cache and tries once more.
 * Returns the CUDA error of the last attempt (cudaSuccess on success). */
cudaError_t ns_cuda_alloc_get(ns_cuda_alloc *a, size_t bytes, void **ptr, size_t *reserved);

/* Returns a block from ns_cuda_alloc_get to the cache. */
void ns_cuda_alloc_put(ns_cuda_alloc *a, void *ptr, size_t reserved);

/* cudaFree every cached block. */
void ns_cuda_alloc_release(ns_cuda_alloc *a);

/* Releases the cache and the allocator's own bookkeeping. */
void ns_cuda_alloc_destroy(ns_cuda_alloc *a);

#endif
