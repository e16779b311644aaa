/* Element-wise kernels: fill, relu, add, axpby, mul, per-row scaling. */
#include "k_launch.cuh"
#include "kernels.h"

static __global__ void k_fill(float *y, size_t n, float value)
{
    NS_K_GRID_STRIDE(i, n) y[i] = value;
}

static __global__ void k_relu_forward(const float *x, float *y, size_t n)
{
    NS_K_GRID_STRIDE(i, n) y[i] = x[i] > 0.0f ? x[i] : 0.0f;
}

static __global__ void k_relu_backward(const float *y, const float *dy, float *dx, size_t n)
{
    NS_K_GRID_STRIDE(i, n) dx[i] = y[i] > 0.0f ? dy[i] : 0.0f;
}

static __global__ void k_add(const float *a, const float *b, float *y, size_t n)
{
    NS_K_GRID_STRIDE(i, n) y[i] = a[i] + b[i];
}

static __global__ void k_axpby(const float *x, float *y, size_t n, float alpha, float beta)
{
    if (beta == 0.0f) {
        NS_K_GRID_STRIDE(i, n) y[i] = alpha * x[i];
    } else {
        NS_K_GRID_STRIDE(i, n) y[i] = alpha * x[i] + beta * y[i];
    }
}

static __global__ void k_mul(const float *a, const float *b, float *y, size_t n)
{
    NS_K_GRID_STRIDE(i, n) y[i] = a[i] * b[i];
}

template <typename I>
static __global__ void k_mul_rows(const float *x, const float *scale, float *y, I n, I cols)
{
    NS_K_GRID_STRIDE_T(I, i, n) y[i] = x[i] * scale[i / cols];
}

extern "C" cudaError_t ns_k_fill(cudaStream_t s, float *y, size_t n, float value)
{
    if (n == 0)
        return cudaSuccess;
    k_fill<<<ns_k_blocks(n), NS_K_THREADS, 0, s>>>(y, n, value);
    return cudaGetLastError();
}

extern "C" cudaError_t ns_k_relu_forward(cudaStream_t s, const float *x, float *y, size_t n)
{
    if (n == 0)
        return cudaSuccess;
    k_relu_forward<<<ns_k_blocks(n), NS_K_THREADS, 0, s>>>(x, y, n);
    return cudaGetLastError();
}

extern "C" cudaError_t ns_k_relu_backward(cudaStream_t s, const float *y, const float *dy,
                                          float *dx, size_t n)
{
    if (n == 0)
        return cudaSuccess;
    k_relu_backward<<<ns_k_blocks(n), NS_K_THREADS, 0, s>>>(y, dy, dx, n);
    return cudaGetLastError();
}

extern "C" cudaError_t ns_k_add(cudaStream_t s, const float *a, const float *b, float *y, size_t n)
{
    if (n == 0)
        return cudaSuccess;
    k_add<<<ns_k_blocks(n), NS_K_THREADS, 0, s>>>(a, b, y, n);
    return cudaGetLastError();
}

extern "C" cudaError_t ns_k_axpby(cudaStream_t s, const float *x, float *y, size_t n, float alpha,
                                  float beta)
{
    if (n == 0)
        return cudaSuccess;
    k_axpby<<<ns_k_blocks(n), NS_K_THREADS, 0, s>>>(x, y, n, alpha, beta);
    return cudaGetLastError();
}

extern "C" cudaError_t ns_k_mul(cudaStream_t s, const float *a, const float *b, float *y, size_t n)
{
    if (n == 0)
        return cudaSuccess;
    k_mul<<<ns_k_blocks(n), NS_K_THREADS, 0, s>>>(a, b, y, n);
    return cudaGetLastError();
}

extern "C" cudaError_t ns_k_mul_rows(cudaStream_t s, const float *x, const float *scale, float *y,
                                     size_t rows, size_t cols)
{
    size_t n = rows * cols;
    if (n == 0)
        return cudaSuccess;
    if (ns_k_small(n))
        k_mul_rows<unsigned><<<ns_k_blocks(n), NS_K_THREADS, 0, s>>>(x, scale, y, (unsigned)n,
                                                                    (unsigned)cols);
    else
        k_mul_rows<size_t><<<ns_k_blocks(n), NS_K_THREADS, 0, s>>>(x, scale, y, n, cols);
    return cudaGetLastError();
}
