/* The two 16-bit element types of the resident path and their float
 * conversions, so one template serves both (fp32 arithmetic inside every
 * kernel: loads widen, stores round to nearest even once). */
#ifndef NS_CUDA_K_HALF_CUH
#define NS_CUDA_K_HALF_CUH

#include <cuda_bf16.h>
#include <cuda_fp16.h>

static __device__ __forceinline__ float ns_k_f(__half v) { return __half2float(v); }
static __device__ __forceinline__ float ns_k_f(__nv_bfloat16 v) { return __bfloat162float(v); }

template <typename T> static __device__ __forceinline__ T ns_k_h(float v);
template <> __device__ __forceinline__ __half ns_k_h<__half>(float v) { return __float2half_rn(v); }
template <> __device__ __forceinline__ __nv_bfloat16 ns_k_h<__nv_bfloat16>(float v)
{
    return __float2bfloat16_rn(v);
}

/* Runs the statement in the variadic tail with T_ the element type (bf16 or
 * fp16) and I_ the index type: 32-bit when `total` allows it, since 64-bit
 * division costs more than the memory traffic it serves. */
#define NS_K_DISPATCH16(bf16, total, ...)                        \
    do {                                                         \
        if (bf16) {                                              \
            typedef __nv_bfloat16 T_;                            \
            if (ns_k_small(total)) {                             \
                typedef unsigned I_;                             \
                __VA_ARGS__;                                     \
            } else {                                             \
                typedef size_t I_;                               \
                __VA_ARGS__;                                     \
            }                                                    \
        } else {                                                 \
            typedef __half T_;                                   \
            if (ns_k_small(total)) {                             \
                typedef unsigned I_;                             \
                __VA_ARGS__;                                     \
            } else {                                             \
                typedef size_t I_;                               \
                __VA_ARGS__;                                     \
            }                                                    \
        }                                                        \
    } while (0)

#endif
