/* Launch geometry shared by the grid-stride kernels. */
#ifndef NS_CUDA_K_LAUNCH_CUH
#define NS_CUDA_K_LAUNCH_CUH

#include <stddef.h>

#define NS_K_THREADS 256u

/* Enough blocks to cover n once, capped: the kernels loop with a grid stride. */
static inline unsigned ns_k_blocks(size_t n)
{
    size_t b = (n + NS_K_THREADS - 1) / NS_K_THREADS;
    const size_t cap = (size_t)1 << 19;
    if (b > cap)
        b = cap;
    return b ? (unsigned)b : 1u;
}

#define NS_K_GRID_STRIDE(i, n)                                                          \
    for (size_t i = (size_t)blockIdx.x * blockDim.x + threadIdx.x; i < (n);             \
         i += (size_t)gridDim.x * blockDim.x)

/* The same loop with index type T. Kernels that divide an index (to find a
 * channel or a row) run with 32-bit indices when the tensor allows it: 64-bit
 * division costs several times more than the memory traffic it serves. */
#define NS_K_GRID_STRIDE_T(T, i, n)                                                     \
    for (T i = (T)blockIdx.x * blockDim.x + threadIdx.x; i < (n);                       \
         i += (T)gridDim.x * blockDim.x)

/* n small enough for 32-bit indices (with room for the grid stride). */
static inline bool ns_k_small(size_t n)
{
    return n < ((size_t)1 << 31);
}

#endif
