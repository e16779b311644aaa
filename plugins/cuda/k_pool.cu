/* Global average pooling: one warp per (n, c) row forward, element-wise backward. */
#include "k_launch.cuh"
#include "kernels.h"

#define NS_K_WARPS_PER_BLOCK (NS_K_THREADS / 32u)

static __global__ void k_gap_forward(const float *x, float *y, size_t rows, size_t hw)
{
    size_t warp = (size_t)blockIdx.x * NS_K_WARPS_PER_BLOCK + threadIdx.x / 32u;
    unsigned lane = threadIdx.x % 32u;
    size_t warps = (size_t)gridDim.x * NS_K_WARPS_PER_BLOCK;
    for (size_t r = warp; r < rows; r += warps) {
        const float *row = x + r * hw;
        float acc = 0.0f;
        for (size_t i = lane; i < hw; i += 32u)
            acc += row[i];
        for (int off = 16; off > 0; off /= 2)
            acc += __shfl_down_sync(0xffffffffu, acc, off);
        if (lane == 0)
            y[r] = acc / (float)hw;
    }
}

template <typename I>
static __global__ void k_gap_backward(const float *dy, float *dx, I n, I hw)
{
    NS_K_GRID_STRIDE_T(I, i, n) dx[i] = dy[i / hw] / (float)hw;
}

extern "C" cudaError_t ns_k_gap_forward(cudaStream_t s, const float *x, float *y, size_t rows,
                                        size_t hw)
{
    if (rows == 0)
        return cudaSuccess;
    size_t blocks = (rows + NS_K_WARPS_PER_BLOCK - 1) / NS_K_WARPS_PER_BLOCK;
    if (blocks > ((size_t)1 << 19))
        blocks = (size_t)1 << 19;
    k_gap_forward<<<(unsigned)blocks, NS_K_THREADS, 0, s>>>(x, y, rows, hw);
    return cudaGetLastError();
}

extern "C" cudaError_t ns_k_gap_backward(cudaStream_t s, const float *dy, float *dx, size_t rows,
                                         size_t hw)
{
    size_t n = rows * hw;
    if (n == 0)
        return cudaSuccess;
    if (ns_k_small(n))
        k_gap_backward<unsigned><<<ns_k_blocks(n), NS_K_THREADS, 0, s>>>(dy, dx, (unsigned)n,
                                                                        (unsigned)hw);
    else
        k_gap_backward<size_t><<<ns_k_blocks(n), NS_K_THREADS, 0, s>>>(dy, dx, n, hw);
    return cudaGetLastError();
}
