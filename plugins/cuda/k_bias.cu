/* Dense-layer bias: broadcast add over rows, and its gradient (column sums). */
#include "k_launch.cuh"
#include "kernels.h"

template <typename I>
static __global__ void k_bias_add(float *y, const float *b, I n, I cols)
{
    NS_K_GRID_STRIDE_T(I, i, n) y[i] += b[i % cols];
}

/* One thread per column: consecutive threads read consecutive columns of a row. */
static __global__ void k_column_sum(const float *dy, float *db, size_t rows, size_t cols)
{
    NS_K_GRID_STRIDE(j, cols)
    {
        double acc = 0.0;
        for (size_t r = 0; r < rows; r++)
            acc += dy[r * cols + j];
        db[j] = (float)acc;
    }
}

extern "C" cudaError_t ns_k_bias_add(cudaStream_t s, float *y, const float *b, size_t rows,
                                     size_t cols)
{
    size_t n = rows * cols;
    if (n == 0)
        return cudaSuccess;
    if (ns_k_small(n))
        k_bias_add<unsigned><<<ns_k_blocks(n), NS_K_THREADS, 0, s>>>(y, b, (unsigned)n,
                                                                    (unsigned)cols);
    else
        k_bias_add<size_t><<<ns_k_blocks(n), NS_K_THREADS, 0, s>>>(y, b, n, cols);
    return cudaGetLastError();
}

extern "C" cudaError_t ns_k_column_sum(cudaStream_t s, const float *dy, float *db, size_t rows,
                                       size_t cols)
{
    if (cols == 0)
        return cudaSuccess;
    k_column_sum<<<ns_k_blocks(cols), NS_K_THREADS, 0, s>>>(dy, db, rows, cols);
    return cudaGetLastError();
}
