#include "cuda_alloc.h"

#include <stdlib.h>

size_t ns_cuda_alloc_round(size_t bytes)
{
    /* Small blocks in 512-byte steps, large ones in 2 MiB steps: the sizes of
     * one model's tensors then fall into few classes. */
    const size_t small = 512, large = (size_t)2 << 20;
    if (bytes <= ((size_t)1 << 20))
        return (bytes + small - 1) / small * small;
    return (bytes + large - 1) / large * large;
}

cudaError_t ns_cuda_alloc_get(ns_cuda_alloc *a, size_t bytes, void **ptr, size_t *reserved)
{
    size_t want = ns_cuda_alloc_round(bytes);
    size_t best = (size_t)-1;
    for (size_t i = 0; i < a->n_free; i++) {
        size_t have = a->free_blocks[i].bytes;
        if (have >= want && have <= 2 * want && (best == (size_t)-1 || have < a->free_blocks[best].bytes))
            best = i;
    }
    if (best != (size_t)-1) {
        *ptr = a->free_blocks[best].ptr;
        *reserved = a->free_blocks[best].bytes;
        a->bytes_cached -= *reserved;
        a->free_blocks[best] = a->free_blocks[--a->n_free];
        a->bytes_in_use += *reserved;
        return cudaSuccess;
    }
    cudaError_t e = cudaMalloc(ptr, want);
    if (e == cudaErrorMemoryAllocation) {
        (void)cudaGetLastError(); /* clear the sticky-free error before retrying */
        ns_cuda_alloc_release(a);
        e = cudaMalloc(ptr, want);
    }
    if (e != cudaSuccess) {
        *ptr = NULL;
        return e;
    }
    *reserved = want;
    a->bytes_in_use += want;
    return cudaSuccess;
}

void ns_cuda_alloc_put(ns_cuda_alloc *a, void *ptr, size_t reserved)
{
    if (!ptr)
        return;
    a->bytes_in_use -= reserved;
    if (a->n_free == a->cap_free) {
        size_t cap = a->cap_free ? 2 * a->cap_free : 64;
        ns_cuda_block *nb = realloc(a->free_blocks, cap * sizeof *nb);
        if (!nb) { /* cannot cache it: give it back to the driver */
            (void)cudaFree(ptr);
            return;
        }
        a->free_blocks = nb;
        a->cap_free = cap;
    }
    a->free_blocks[a->n_free].ptr = ptr;
    a->free_blocks[a->n_free].bytes = reserved;
    a->n_free++;
    a->bytes_cached += reserved;
}

void ns_cuda_alloc_release(ns_cuda_alloc *a)
{
    for (size_t i = 0; i < a->n_free; i++)
        (void)cudaFree(a->free_blocks[i].ptr);
    a->n_free = 0;
    a->bytes_cached = 0;
}

void ns_cuda_alloc_destroy(ns_cuda_alloc *a)
{
    ns_cuda_alloc_release(a);
    free(a->free_blocks);
    a->free_blocks = NULL;
    a->cap_free = 0;
}
