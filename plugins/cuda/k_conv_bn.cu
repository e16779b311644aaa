/* The epilogue of the fused inference unit (conv2d_bn_infer): after the
 * convolution wrote y, one pass applies the batchnorm inference formula, adds
 * the residual and applies the ReLU in place, instead of three passes (bn,
 * add, relu) over the activations. The arithmetic is that of the separate
 * ops, in their order (k_batchnorm.cu's k_bn_infer, then add, then relu), so
 * in float32 the fused unit matches the composition bit for bit. */
#include <math.h>

#include "k_half.cuh"
#include "k_launch.cuh"
#include "kernels.h"

static __device__ __forceinline__ float bn_res_relu(float v, float g, float b, float m, float var,
                                                    float eps, float res, int relu)
{
    v = g * (v - m) / sqrtf(var + eps) + b;
    v = v + res;
    return relu ? (v > 0.0f ? v : 0.0f) : v;
}

/* float32 NCHW: channel = (i / hw) % k */
template <typename I>
static __global__ void k_epilogue_f32(float *y, const float *res, const float *gamma,
                                      const float *beta, const float *mean, const float *var,
                                      float eps, int relu, I total, I k, I hw)
{
    NS_K_GRID_STRIDE_T(I, i, total)
    {
        I ch = (i / hw) % k;
        y[i] = bn_res_relu(y[i], gamma[ch], beta[ch], mean[ch], var[ch], eps,
                           res ? res[i] : 0.0f, relu);
    }
}

/* 16-bit NHWC: channel = i % k; res in the same layout and type (or NULL) */
template <typename T, typename I>
static __global__ void k_epilogue_16(T *y, const T *res, const float *gamma, const float *beta,
                                     const float *mean, const float *var, float eps, int relu,
                                     I total, I k)
{
    NS_K_GRID_STRIDE_T(I, i, total)
    {
        I ch = i % k;
        y[i] = ns_k_h<T>(bn_res_relu(ns_k_f(y[i]), gamma[ch], beta[ch], mean[ch], var[ch], eps,
                                     res ? ns_k_f(res[i]) : 0.0f, relu));
    }
}

extern "C" cudaError_t ns_k_conv_bn_epilogue(cudaStream_t s, float *y, const float *res,
                                             const float *gamma, const float *beta,
                                             const float *mean, const float *var, float eps,
                                             int relu, int n, int k, int hw)
{
    size_t total = (size_t)n * k * hw;
    if (total == 0)
        return cudaSuccess;
    if (ns_k_small(total))
        k_epilogue_f32<unsigned><<<ns_k_blocks(total), NS_K_THREADS, 0, s>>>(
            y, res, gamma, beta, mean, var, eps, relu, (unsigned)total, (unsigned)k, (unsigned)hw);
    else
        k_epilogue_f32<size_t><<<ns_k_blocks(total), NS_K_THREADS, 0, s>>>(
            y, res, gamma, beta, mean, var, eps, relu, total, (size_t)k, (size_t)hw);
    return cudaGetLastError();
}

extern "C" cudaError_t ns_k16_conv_bn_epilogue(cudaStream_t s, void *y, const void *res,
                                               const float *gamma, const float *beta,
                                               const float *mean, const float *var, float eps,
                                               int relu, size_t rows, int k, int bf16)
{
    size_t total = rows * (size_t)k;
    if (total == 0)
        return cudaSuccess;
    NS_K_DISPATCH16(bf16, total,
                    k_epilogue_16<T_, I_><<<ns_k_blocks(total), NS_K_THREADS, 0, s>>>(
                        (T_ *)y, (const T_ *)res, gamma, beta, mean, var, eps, relu, (I_)total,
                        (I_)k));
    return cudaGetLastError();
}
