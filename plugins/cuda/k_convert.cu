/* float32 <-> fp16 / bf16 conversion around tensor-core convolutions. */
#include <cuda_bf16.h>
#include <cuda_fp16.h>

#include "k_launch.cuh"
#include "kernels.h"

static __global__ void k_to_fp16(const float *x, __half *y, size_t n)
{
    NS_K_GRID_STRIDE(i, n) y[i] = __float2half_rn(x[i]);
}

static __global__ void k_to_bf16(const float *x, __nv_bfloat16 *y, size_t n)
{
    NS_K_GRID_STRIDE(i, n) y[i] = __float2bfloat16_rn(x[i]);
}

static __global__ void k_from_fp16(const __half *x, float *y, size_t n)
{
    NS_K_GRID_STRIDE(i, n) y[i] = __half2float(x[i]);
}

static __global__ void k_from_bf16(const __nv_bfloat16 *x, float *y, size_t n)
{
    NS_K_GRID_STRIDE(i, n) y[i] = __bfloat162float(x[i]);
}

extern "C" cudaError_t ns_k_to_half(cudaStream_t s, const float *x, void *y, size_t n, int bf16)
{
    if (n == 0)
        return cudaSuccess;
    if (bf16)
        k_to_bf16<<<ns_k_blocks(n), NS_K_THREADS, 0, s>>>(x, (__nv_bfloat16 *)y, n);
    else
        k_to_fp16<<<ns_k_blocks(n), NS_K_THREADS, 0, s>>>(x, (__half *)y, n);
    return cudaGetLastError();
}

extern "C" cudaError_t ns_k_from_half(cudaStream_t s, const void *x, float *y, size_t n, int bf16)
{
    if (n == 0)
        return cudaSuccess;
    if (bf16)
        k_from_bf16<<<ns_k_blocks(n), NS_K_THREADS, 0, s>>>((const __nv_bfloat16 *)x, y, n);
    else
        k_from_fp16<<<ns_k_blocks(n), NS_K_THREADS, 0, s>>>((const __half *)x, y, n);
    return cudaGetLastError();
}
