/* Element-wise ops on 16-bit tensors of the resident path: the operands share
 * one layout and dims (cuda_elementwise.c checks), so position i is the same
 * logical element in each and the layout does not matter here. Loads widen
 * to float, the result is rounded once. */
#include "k_half.cuh"
#include "k_launch.cuh"
#include "kernels.h"

template <typename T>
static __global__ void k16_relu(const T *x, T *y, size_t n)
{
    NS_K_GRID_STRIDE(i, n)
    {
        float v = ns_k_f(x[i]);
        y[i] = ns_k_h<T>(v > 0.0f ? v : 0.0f);
    }
}

template <typename T>
static __global__ void k16_relu_backward(const T *y, const T *dy, T *dx, size_t n)
{
    NS_K_GRID_STRIDE(i, n) dx[i] = ns_k_h<T>(ns_k_f(y[i]) > 0.0f ? ns_k_f(dy[i]) : 0.0f);
}

template <typename T>
static __global__ void k16_add(const T *a, const T *b, T *y, size_t n)
{
    NS_K_GRID_STRIDE(i, n) y[i] = ns_k_h<T>(ns_k_f(a[i]) + ns_k_f(b[i]));
}

template <typename T>
static __global__ void k16_axpby(const T *x, T *y, size_t n, float alpha, float beta)
{
    if (beta == 0.0f) { /* backend.h: the old y is ignored, even NaN */
        NS_K_GRID_STRIDE(i, n) y[i] = ns_k_h<T>(alpha * ns_k_f(x[i]));
    } else {
        NS_K_GRID_STRIDE(i, n) y[i] = ns_k_h<T>(alpha * ns_k_f(x[i]) + beta * ns_k_f(y[i]));
    }
}

/* per-sample scale: the sample index is outermost in NHWC as in NCHW, so
 * element i of a tensor of `cols` elements per sample belongs to row i / cols
 * in either layout */
template <typename T, typename I>
static __global__ void k16_mul_rows(const T *x, const float *scale, T *y, I n, I cols)
{
    NS_K_GRID_STRIDE_T(I, i, n) y[i] = ns_k_h<T>(ns_k_f(x[i]) * scale[i / cols]);
}

#define NS_K16(bf16, ...)                  \
    do {                                   \
        if (bf16) {                        \
            typedef __nv_bfloat16 T_;      \
            __VA_ARGS__;                   \
        } else {                           \
            typedef __half T_;             \
            __VA_ARGS__;                   \
        }                                  \
    } while (0)

extern "C" cudaError_t ns_k16_relu_forward(cudaStream_t s, const void *x, void *y, size_t n,
                                           int bf16)
{
    if (n == 0)
        return cudaSuccess;
    NS_K16(bf16, k16_relu<<<ns_k_blocks(n), NS_K_THREADS, 0, s>>>((const T_ *)x, (T_ *)y, n));
    return cudaGetLastError();
}

extern "C" cudaError_t ns_k16_relu_backward(cudaStream_t s, const void *y, const void *dy,
                                            void *dx, size_t n, int bf16)
{
    if (n == 0)
        return cudaSuccess;
    NS_K16(bf16, k16_relu_backward<<<ns_k_blocks(n), NS_K_THREADS, 0, s>>>(
                     (const T_ *)y, (const T_ *)dy, (T_ *)dx, n));
    return cudaGetLastError();
}

extern "C" cudaError_t ns_k16_add(cudaStream_t s, const void *a, const void *b, void *y, size_t n,
                                  int bf16)
{
    if (n == 0)
        return cudaSuccess;
    NS_K16(bf16, k16_add<<<ns_k_blocks(n), NS_K_THREADS, 0, s>>>((const T_ *)a, (const T_ *)b,
                                                                  (T_ *)y, n));
    return cudaGetLastError();
}

extern "C" cudaError_t ns_k16_axpby(cudaStream_t s, const void *x, void *y, size_t n, float alpha,
                                    float beta, int bf16)
{
    if (n == 0)
        return cudaSuccess;
    NS_K16(bf16, k16_axpby<<<ns_k_blocks(n), NS_K_THREADS, 0, s>>>((const T_ *)x, (T_ *)y, n,
                                                                    alpha, beta));
    return cudaGetLastError();
}

extern "C" cudaError_t ns_k16_mul_rows(cudaStream_t s, const void *x, const float *scale, void *y,
                                       size_t rows, size_t cols, int bf16)
{
    size_t n = rows * cols;
    if (n == 0)
        return cudaSuccess;
    NS_K_DISPATCH16(bf16, n,
                    k16_mul_rows<T_, I_><<<ns_k_blocks(n), NS_K_THREADS, 0, s>>>(
                        (const T_ *)x, scale, (T_ *)y, (I_)n, (I_)cols));
    return cudaGetLastError();
}
