/* Dropout / drop-path masks from the project's Philox stream (rng.h), so that
 * every backend draws the same mask for the same (seed, stream). */
#include <noisystudent/rng.h>

#include "k_launch.cuh"
#include "kernels.h"

static __global__ void k_mask_bernoulli(float *mask, size_t n, float keep_prob, float scale,
                                        uint64_t seed, uint64_t stream)
{
    NS_K_GRID_STRIDE(i, n)
    {
        mask[i] = ns_philox_uniform_at(seed, stream, (uint64_t)i) < keep_prob ? scale : 0.0f;
    }
}

extern "C" cudaError_t ns_k_mask_bernoulli(cudaStream_t s, float *mask, size_t n, float keep_prob,
                                           float scale, uint64_t seed, uint64_t stream)
{
    if (n == 0)
        return cudaSuccess;
    k_mask_bernoulli<<<ns_k_blocks(n), NS_K_THREADS, 0, s>>>(mask, n, keep_prob, scale, seed,
                                                             stream);
    return cudaGetLastError();
}
