/* Statistics of a buffer for metrics and the NaN/Inf guard: sum and sum of
 * squares of finite values (double), max |x|, count of non-finite values. */
#include <math.h>

#include "k_block_reduce.cuh"
#include "kernels.h"

static __global__ void k_reduce(const float *x, size_t n, ns_k_reduce_acc *acc)
{
    double sum = 0.0, sum_sq = 0.0;
    float max_abs = 0.0f;
    unsigned long long nonfinite = 0;
    NS_K_GRID_STRIDE(i, n)
    {
        float v = x[i];
        if (isfinite(v)) {
            sum += v;
            sum_sq += (double)v * v;
            max_abs = fmaxf(max_abs, fabsf(v));
        } else {
            nonfinite++;
        }
    }
    sum = ns_k_block_reduce(sum, ns_k_sum());
    sum_sq = ns_k_block_reduce(sum_sq, ns_k_sum());
    max_abs = ns_k_block_reduce(max_abs, ns_k_max());
    nonfinite = ns_k_block_reduce(nonfinite, ns_k_sum());
    if (threadIdx.x == 0) {
        atomicAdd(&acc->sum, sum);
        atomicAdd(&acc->sum_sq, sum_sq);
        atomicAdd(&acc->nonfinite, nonfinite);
        atomicMax(&acc->max_abs_bits, __float_as_uint(max_abs));
    }
}

extern "C" cudaError_t ns_k_reduce(cudaStream_t s, const float *x, size_t n, ns_k_reduce_acc *acc)
{
    if (n == 0)
        return cudaSuccess;
    size_t blocks = ns_k_blocks(n);
    if (blocks > 1024)
        blocks = 1024; /* few blocks: fewer atomics, the loop covers the rest */
    k_reduce<<<(unsigned)blocks, NS_K_THREADS, 0, s>>>(x, n, acc);
    return cudaGetLastError();
}
