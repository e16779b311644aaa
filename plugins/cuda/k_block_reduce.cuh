/* Block-wide reductions for kernels launched with NS_K_THREADS threads. Every
 * thread of the block must call them; every thread gets the result. */
#ifndef NS_CUDA_K_BLOCK_REDUCE_CUH
#define NS_CUDA_K_BLOCK_REDUCE_CUH

#include "k_launch.cuh"

template <typename T, typename Op>
static __device__ T ns_k_block_reduce(T v, Op op)
{
    __shared__ T partial[NS_K_THREADS / 32u];
    unsigned lane = threadIdx.x % 32u, warp = threadIdx.x / 32u;
    for (int off = 16; off > 0; off /= 2)
        v = op(v, __shfl_down_sync(0xffffffffu, v, off));
    __syncthreads(); /* partial may still be read by a previous call */
    if (lane == 0)
        partial[warp] = v;
    __syncthreads();
    T r = partial[0];
    for (unsigned w = 1; w < blockDim.x / 32u; w++)
        r = op(r, partial[w]);
    return r;
}

struct ns_k_sum {
    template <typename T> __device__ T operator()(T a, T b) const { return a + b; }
};
struct ns_k_max {
    template <typename T> __device__ T operator()(T a, T b) const { return a > b ? a : b; }
};

#endif
