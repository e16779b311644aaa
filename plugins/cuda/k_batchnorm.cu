/* Spatial batch normalisation (see ns_bn_desc): per-channel sums over N and
 * H*W in double precision, split over blocks and combined with atomics, then
 * element-wise normalisation. Own kernels because cuDNN 9 deprecates its
 * legacy batchnorm calls. */
#include <math.h>

#include "k_block_reduce.cuh"
#include "kernels.h"

/* Blocks per channel: enough blocks in total to fill the device. */
static int bn_splits(int n, int c)
{
    int s = (1024 + c - 1) / c;
    if (s > n)
        s = n;
    return s < 1 ? 1 : s;
}

/* The (n-range, channel) slice that block (blockIdx.x = channel, blockIdx.y =
 * split) sums over: samples [n0, n1). */
static __device__ void slice(int n, int *n0, int *n1)
{
    int per = (n + gridDim.y - 1) / gridDim.y;
    *n0 = blockIdx.y * per;
    *n1 = min(n, *n0 + per);
}

static __global__ void k_bn_sums(const float *x, int n, int c, int hw, double *acc)
{
    int ch = blockIdx.x, n0, n1;
    slice(n, &n0, &n1);
    double s = 0.0, sq = 0.0;
    unsigned count = n1 > n0 ? (unsigned)(n1 - n0) * (unsigned)hw : 0u;
    for (unsigned j = threadIdx.x; j < count; j += blockDim.x) {
        unsigned nn = (unsigned)n0 + j / (unsigned)hw, i = j % (unsigned)hw;
        double v = x[((size_t)nn * c + ch) * hw + i];
        s += v;
        sq += v * v;
    }
    s = ns_k_block_reduce(s, ns_k_sum());
    sq = ns_k_block_reduce(sq, ns_k_sum());
    if (threadIdx.x == 0) {
        atomicAdd(&acc[ch], s);
        atomicAdd(&acc[c + ch], sq);
    }
}

static __global__ void k_bn_finalize_train(const double *acc, int c, double m, float eps,
                                           float momentum, float *running_mean,
                                           float *running_var, float *save_mean,
                                           float *save_invstd)
{
    int ch = blockIdx.x * blockDim.x + threadIdx.x;
    if (ch >= c)
        return;
    double mean = acc[ch] / m;
    double var = acc[c + ch] / m - mean * mean;
    if (var < 0.0)
        var = 0.0; /* rounding can push a constant channel's variance below zero */
    double unbiased = m > 1.0 ? var * m / (m - 1.0) : var;
    save_mean[ch] = (float)mean;
    save_invstd[ch] = (float)(1.0 / sqrt(var + (double)eps));
    running_mean[ch] = (1.0f - momentum) * running_mean[ch] + momentum * (float)mean;
    running_var[ch] = (1.0f - momentum) * running_var[ch] + momentum * (float)unbiased;
}

template <typename I>
static __global__ void k_bn_apply(const float *x, float *y, const float *mean, const float *invstd,
                                  const float *gamma, const float *beta, I total, I c, I hw)
{
    NS_K_GRID_STRIDE_T(I, i, total)
    {
        I ch = (i / hw) % c;
        y[i] = gamma[ch] * (x[i] - mean[ch]) * invstd[ch] + beta[ch];
    }
}

template <typename I>
static __global__ void k_bn_infer(const float *x, float *y, const float *running_mean,
                                  const float *running_var, const float *gamma, const float *beta,
                                  float eps, I total, I c, I hw)
{
    NS_K_GRID_STRIDE_T(I, i, total)
    {
        I ch = (i / hw) % c;
        y[i] = gamma[ch] * (x[i] - running_mean[ch]) / sqrtf(running_var[ch] + eps) + beta[ch];
    }
}

static __global__ void k_bn_backward_sums(const float *x, const float *dy, const float *mean,
                                          const float *invstd, int n, int c, int hw, double *acc)
{
    int ch = blockIdx.x, n0, n1;
    slice(n, &n0, &n1);
    float mu = mean[ch], is = invstd[ch];
    double sdy = 0.0, sdyx = 0.0;
    unsigned count = n1 > n0 ? (unsigned)(n1 - n0) * (unsigned)hw : 0u;
    for (unsigned j = threadIdx.x; j < count; j += blockDim.x) {
        unsigned nn = (unsigned)n0 + j / (unsigned)hw, i = j % (unsigned)hw;
        size_t at = ((size_t)nn * c + ch) * hw + i;
        double g = dy[at];
        sdy += g;
        sdyx += g * (double)((x[at] - mu) * is);
    }
    sdy = ns_k_block_reduce(sdy, ns_k_sum());
    sdyx = ns_k_block_reduce(sdyx, ns_k_sum());
    if (threadIdx.x == 0) {
        atomicAdd(&acc[ch], sdy);
        atomicAdd(&acc[c + ch], sdyx);
    }
}

template <typename I>
static __global__ void k_bn_backward_dx(const float *x, const float *dy, const float *mean,
                                        const float *invstd, const float *gamma, const double *acc,
                                        I total, I c, I hw, float m, float *dx, float *dgamma,
                                        float *dbeta)
{
    I t = (I)blockIdx.x * blockDim.x + threadIdx.x;
    if (t < c) {
        dbeta[t] = (float)acc[t];
        dgamma[t] = (float)acc[c + t];
    }
    NS_K_GRID_STRIDE_T(I, i, total)
    {
        I ch = (i / hw) % c;
        float is = invstd[ch];
        float xhat = (x[i] - mean[ch]) * is;
        float sdy = (float)acc[ch], sdyx = (float)acc[c + ch];
        dx[i] = gamma[ch] * is * (dy[i] - (sdy + xhat * sdyx) / m);
    }
}

extern "C" cudaError_t ns_k_bn_sums(cudaStream_t s, const float *x, int n, int c, int hw,
                                    double *acc)
{
    if (n <= 0 || c <= 0 || hw <= 0)
        return cudaSuccess;
    if (!ns_k_small((size_t)n * hw))
        return cudaErrorInvalidValue; /* > 2^31 values per channel: not a real tensor */
    dim3 grid((unsigned)c, (unsigned)bn_splits(n, c));
    k_bn_sums<<<grid, NS_K_THREADS, 0, s>>>(x, n, c, hw, acc);
    return cudaGetLastError();
}

extern "C" cudaError_t ns_k_bn_finalize_train(cudaStream_t s, const double *acc, int c, double m,
                                              float eps, float momentum, float *running_mean,
                                              float *running_var, float *save_mean,
                                              float *save_invstd)
{
    if (c <= 0)
        return cudaSuccess;
    k_bn_finalize_train<<<ns_k_blocks((size_t)c), NS_K_THREADS, 0, s>>>(
        acc, c, m, eps, momentum, running_mean, running_var, save_mean, save_invstd);
    return cudaGetLastError();
}

extern "C" cudaError_t ns_k_bn_apply(cudaStream_t s, const float *x, float *y, const float *mean,
                                     const float *invstd, const float *gamma, const float *beta,
                                     int n, int c, int hw)
{
    size_t total = (size_t)n * c * hw;
    if (total == 0)
        return cudaSuccess;
    if (ns_k_small(total))
        k_bn_apply<unsigned><<<ns_k_blocks(total), NS_K_THREADS, 0, s>>>(
            x, y, mean, invstd, gamma, beta, (unsigned)total, (unsigned)c, (unsigned)hw);
    else
        k_bn_apply<size_t><<<ns_k_blocks(total), NS_K_THREADS, 0, s>>>(
            x, y, mean, invstd, gamma, beta, total, (size_t)c, (size_t)hw);
    return cudaGetLastError();
}

extern "C" cudaError_t ns_k_bn_infer(cudaStream_t s, const float *x, float *y,
                                     const float *running_mean, const float *running_var,
                                     const float *gamma, const float *beta, float eps, int n, int c,
                                     int hw)
{
    size_t total = (size_t)n * c * hw;
    if (total == 0)
        return cudaSuccess;
    if (ns_k_small(total))
        k_bn_infer<unsigned><<<ns_k_blocks(total), NS_K_THREADS, 0, s>>>(
            x, y, running_mean, running_var, gamma, beta, eps, (unsigned)total, (unsigned)c,
            (unsigned)hw);
    else
        k_bn_infer<size_t><<<ns_k_blocks(total), NS_K_THREADS, 0, s>>>(
            x, y, running_mean, running_var, gamma, beta, eps, total, (size_t)c, (size_t)hw);
    return cudaGetLastError();
}

extern "C" cudaError_t ns_k_bn_backward_sums(cudaStream_t s, const float *x, const float *dy,
                                             const float *mean, const float *invstd, int n, int c,
                                             int hw, double *acc)
{
    if (n <= 0 || c <= 0 || hw <= 0)
        return cudaSuccess;
    if (!ns_k_small((size_t)n * hw))
        return cudaErrorInvalidValue;
    dim3 grid((unsigned)c, (unsigned)bn_splits(n, c));
    k_bn_backward_sums<<<grid, NS_K_THREADS, 0, s>>>(x, dy, mean, invstd, n, c, hw, acc);
    return cudaGetLastError();
}

extern "C" cudaError_t ns_k_bn_backward_dx(cudaStream_t s, const float *x, const float *dy,
                                           const float *mean, const float *invstd,
                                           const float *gamma, const double *acc, int n, int c,
                                           int hw, float *dx, float *dgamma, float *dbeta)
{
    size_t total = (size_t)n * c * hw;
    if (total == 0)
        return cudaSuccess;
    float m = (float)((double)n * hw);
    if (ns_k_small(total))
        k_bn_backward_dx<unsigned><<<ns_k_blocks(total), NS_K_THREADS, 0, s>>>(
            x, dy, mean, invstd, gamma, acc, (unsigned)total, (unsigned)c, (unsigned)hw, m, dx,
            dgamma, dbeta);
    else
        k_bn_backward_dx<size_t><<<ns_k_blocks(total), NS_K_THREADS, 0, s>>>(
            x, dy, mean, invstd, gamma, acc, total, (size_t)c, (size_t)hw, m, dx, dgamma, dbeta);
    return cudaGetLastError();
}
