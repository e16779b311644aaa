/* Optimizer updates, PyTorch semantics (see ns_sgd_params / ns_adam_params). */
#include <math.h>

#include "k_launch.cuh"
#include "kernels.h"

static __global__ void k_sgd(float *w, const float *g, float *v, size_t n, float lr,
                             float momentum, float weight_decay, int nesterov)
{
    NS_K_GRID_STRIDE(i, n)
    {
        float gi = g[i] + weight_decay * w[i];
        float vi = momentum * v[i] + gi;
        v[i] = vi;
        float update = nesterov ? gi + momentum * vi : vi;
        w[i] -= lr * update;
    }
}

static __global__ void k_adam(float *w, const float *g, float *m, float *v, size_t n, float lr,
                              float beta1, float beta2, float eps, float weight_decay, float bc1,
                              float bc2)
{
    NS_K_GRID_STRIDE(i, n)
    {
        float gi = g[i] + weight_decay * w[i];
        float mi = beta1 * m[i] + (1.0f - beta1) * gi;
        float vi = beta2 * v[i] + (1.0f - beta2) * gi * gi;
        m[i] = mi;
        v[i] = vi;
        w[i] -= lr * (mi / bc1) / (sqrtf(vi / bc2) + eps);
    }
}

extern "C" cudaError_t ns_k_sgd(cudaStream_t s, float *w, const float *g, float *v, size_t n,
                                float lr, float momentum, float weight_decay, int nesterov)
{
    if (n == 0)
        return cudaSuccess;
    k_sgd<<<ns_k_blocks(n), NS_K_THREADS, 0, s>>>(w, g, v, n, lr, momentum, weight_decay, nesterov);
    return cudaGetLastError();
}

extern "C" cudaError_t ns_k_adam(cudaStream_t s, float *w, const float *g, float *m, float *v,
                                 size_t n, float lr, float beta1, float beta2, float eps,
                                 float weight_decay, float bc1, float bc2)
{
    if (n == 0)
        return cudaSuccess;
    k_adam<<<ns_k_blocks(n), NS_K_THREADS, 0, s>>>(w, g, m, v, n, lr, beta1, beta2, eps,
                                                   weight_decay, bc1, bc2);
    return cudaGetLastError();
}
