/* float32 NCHW <-> 16-bit NHWC: the only conversions of the resident path
 * (cuda_buffer16.c), run when a float32 tensor first meets a 16-bit op (input
 * images, weights after each optimizer step) and when a 16-bit tensor meets a
 * float32 op (pooling, loss, the optimizer reading a gradient). Each thread
 * writes one output element (coalesced writes; reads are strided, which the
 * L2 absorbs for these one-off passes). */
#include "k_half.cuh"
#include "k_launch.cuh"
#include "kernels.h"

/* y[((n*H + h)*W + w)*C + c] = x[((n*C + c)*H + h)*W + w] */
template <typename T, typename I>
static __global__ void k_narrow(const float *x, T *y, I total, I c, I hw)
{
    NS_K_GRID_STRIDE_T(I, i, total)
    {
        I ch = i % c, t = i / c; /* t = n*hw + pixel */
        I pix = t % hw, n = t / hw;
        y[i] = ns_k_h<T>(x[(n * c + ch) * hw + pix]);
    }
}

template <typename T, typename I>
static __global__ void k_widen(const T *x, float *y, I total, I c, I hw)
{
    NS_K_GRID_STRIDE_T(I, i, total)
    {
        I pix = i % hw, t = i / hw; /* t = n*c + ch */
        I ch = t % c, n = t / c;
        y[i] = ns_k_f(x[(n * hw + pix) * c + ch]);
    }
}

extern "C" cudaError_t ns_k_narrow_nhwc(cudaStream_t s, const float *x, void *y, int n, int c,
                                        int h, int w, int bf16)
{
    size_t total = (size_t)n * c * h * w, hw = (size_t)h * w;
    if (total == 0)
        return cudaSuccess;
    NS_K_DISPATCH16(bf16, total,
                    k_narrow<T_, I_><<<ns_k_blocks(total), NS_K_THREADS, 0, s>>>(
                        x, (T_ *)y, (I_)total, (I_)c, (I_)hw));
    return cudaGetLastError();
}

extern "C" cudaError_t ns_k_widen_nchw(cudaStream_t s, const void *x, float *y, int n, int c,
                                       int h, int w, int bf16)
{
    size_t total = (size_t)n * c * h * w, hw = (size_t)h * w;
    if (total == 0)
        return cudaSuccess;
    NS_K_DISPATCH16(bf16, total,
                    k_widen<T_, I_><<<ns_k_blocks(total), NS_K_THREADS, 0, s>>>(
                        (const T_ *)x, y, (I_)total, (I_)c, (I_)hw));
    return cudaGetLastError();
}
