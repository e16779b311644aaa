/* Batch normalisation on 16-bit NHWC tensors (the resident path): the
 * channel is the innermost index, so the per-channel sums read rows of C
 * contiguous elements (one warp lane per channel, coalesced), and the
 * element-wise passes find the channel as i % C. Loads widen to float, sums
 * accumulate in double (as the float32 kernels of k_batchnorm.cu, so the
 * statistics match them), each output is rounded to 16 bits once. Same
 * formulas as k_batchnorm.cu. rows = n*h*w. */
#include <math.h>

#include "k_half.cuh"
#include "k_launch.cuh"
#include "kernels.h"

#define BN16_LANES 32u /* channels per block */
#define BN16_ROWS 8u   /* row groups per block: 256 threads */

/* Grid for the sum kernels: channel tiles in x, row splits in y, about 1024
 * blocks in all (enough to fill a large GPU, few atomics per channel). */
static dim3 bn16_grid(size_t rows, int c)
{
    unsigned gx = (unsigned)((c + BN16_LANES - 1) / BN16_LANES);
    size_t gy = 1024u / gx;
    size_t most = (rows + BN16_ROWS - 1) / BN16_ROWS;
    if (gy > most)
        gy = most;
    if (gy < 1)
        gy = 1;
    if (gy > 65535u)
        gy = 65535u;
    return dim3(gx, (unsigned)gy);
}

/* Adds the block's two per-channel partials (one per threadIdx.y) and has
 * one thread per channel add them to acc[ch] and acc[c + ch]. */
static __device__ void bn16_flush(double a, double b, int ch, int c, double *acc)
{
    __shared__ double pa[BN16_ROWS][BN16_LANES], pb[BN16_ROWS][BN16_LANES];
    pa[threadIdx.y][threadIdx.x] = a;
    pb[threadIdx.y][threadIdx.x] = b;
    __syncthreads();
    if (threadIdx.y == 0 && ch < c) {
        for (unsigned r = 1; r < BN16_ROWS; r++) {
            a += pa[r][threadIdx.x];
            b += pb[r][threadIdx.x];
        }
        atomicAdd(&acc[ch], a);
        atomicAdd(&acc[c + ch], b);
    }
}

/* acc[ch] += sum x, acc[c+ch] += sum x^2 */
template <typename T>
static __global__ void k_bn16_sums(const T *x, size_t rows, int c, double *acc)
{
    int ch = (int)(blockIdx.x * BN16_LANES + threadIdx.x);
    double s = 0.0, sq = 0.0;
    if (ch < c)
        for (size_t r = (size_t)blockIdx.y * BN16_ROWS + threadIdx.y; r < rows;
             r += (size_t)gridDim.y * BN16_ROWS) {
            double v = ns_k_f(x[r * c + ch]);
            s += v;
            sq += v * v;
        }
    bn16_flush(s, sq, ch, c, acc);
}

/* acc[ch] += sum dy, acc[c+ch] += sum dy*(x-mean)*invstd */
template <typename T>
static __global__ void k_bn16_backward_sums(const T *x, const T *dy, const float *mean,
                                            const float *invstd, size_t rows, int c, double *acc)
{
    int ch = (int)(blockIdx.x * BN16_LANES + threadIdx.x);
    double sdy = 0.0, sdyx = 0.0;
    if (ch < c) {
        float mu = mean[ch], is = invstd[ch];
        for (size_t r = (size_t)blockIdx.y * BN16_ROWS + threadIdx.y; r < rows;
             r += (size_t)gridDim.y * BN16_ROWS) {
            size_t at = r * c + ch;
            double g = ns_k_f(dy[at]);
            sdy += g;
            sdyx += g * (double)((ns_k_f(x[at]) - mu) * is);
        }
    }
    bn16_flush(sdy, sdyx, ch, c, acc);
}

template <typename T, typename I>
static __global__ void k_bn16_apply(const T *x, T *y, const float *mean, const float *invstd,
                                    const float *gamma, const float *beta, I total, I c)
{
    NS_K_GRID_STRIDE_T(I, i, total)
    {
        I ch = i % c;
        y[i] = ns_k_h<T>(gamma[ch] * (ns_k_f(x[i]) - mean[ch]) * invstd[ch] + beta[ch]);
    }
}

template <typename T, typename I>
static __global__ void k_bn16_infer(const T *x, T *y, const float *running_mean,
                                    const float *running_var, const float *gamma,
                                    const float *beta, float eps, I total, I c)
{
    NS_K_GRID_STRIDE_T(I, i, total)
    {
        I ch = i % c;
        y[i] = ns_k_h<T>(gamma[ch] * (ns_k_f(x[i]) - running_mean[ch]) /
                             sqrtf(running_var[ch] + eps) +
                         beta[ch]);
    }
}

template <typename T, typename I>
static __global__ void k_bn16_backward_dx(const T *x, const T *dy, const float *mean,
                                          const float *invstd, const float *gamma,
                                          const double *acc, I total, I c, float m, T *dx,
                                          float *dgamma, float *dbeta)
{
    I t = (I)blockIdx.x * blockDim.x + threadIdx.x;
    if (t < c) {
        dbeta[t] = (float)acc[t];
        dgamma[t] = (float)acc[c + t];
    }
    NS_K_GRID_STRIDE_T(I, i, total)
    {
        I ch = i % c;
        float is = invstd[ch];
        float xhat = (ns_k_f(x[i]) - mean[ch]) * is;
        float sdy = (float)acc[ch], sdyx = (float)acc[c + ch];
        dx[i] = ns_k_h<T>(gamma[ch] * is * (ns_k_f(dy[i]) - (sdy + xhat * sdyx) / m));
    }
}

extern "C" cudaError_t ns_k_bn16_sums(cudaStream_t s, const void *x, size_t rows, int c,
                                      double *acc, int bf16)
{
    if (rows == 0 || c <= 0)
        return cudaSuccess;
    dim3 block(BN16_LANES, BN16_ROWS);
    if (bf16)
        k_bn16_sums<<<bn16_grid(rows, c), block, 0, s>>>((const __nv_bfloat16 *)x, rows, c, acc);
    else
        k_bn16_sums<<<bn16_grid(rows, c), block, 0, s>>>((const __half *)x, rows, c, acc);
    return cudaGetLastError();
}

extern "C" cudaError_t ns_k_bn16_backward_sums(cudaStream_t s, const void *x, const void *dy,
                                               const float *mean, const float *invstd,
                                               size_t rows, int c, double *acc, int bf16)
{
    if (rows == 0 || c <= 0)
        return cudaSuccess;
    dim3 block(BN16_LANES, BN16_ROWS);
    if (bf16)
        k_bn16_backward_sums<<<bn16_grid(rows, c), block, 0, s>>>(
            (const __nv_bfloat16 *)x, (const __nv_bfloat16 *)dy, mean, invstd, rows, c, acc);
    else
        k_bn16_backward_sums<<<bn16_grid(rows, c), block, 0, s>>>(
            (const __half *)x, (const __half *)dy, mean, invstd, rows, c, acc);
    return cudaGetLastError();
}

extern "C" cudaError_t ns_k_bn16_apply(cudaStream_t s, const void *x, void *y, const float *mean,
                                       const float *invstd, const float *gamma, const float *beta,
                                       size_t rows, int c, int bf16)
{
    size_t total = rows * (size_t)c;
    if (total == 0)
        return cudaSuccess;
    NS_K_DISPATCH16(bf16, total,
                    k_bn16_apply<T_, I_><<<ns_k_blocks(total), NS_K_THREADS, 0, s>>>(
                        (const T_ *)x, (T_ *)y, mean, invstd, gamma, beta, (I_)total, (I_)c));
    return cudaGetLastError();
}

extern "C" cudaError_t ns_k_bn16_infer(cudaStream_t s, const void *x, void *y,
                                       const float *running_mean, const float *running_var,
                                       const float *gamma, const float *beta, float eps,
                                       size_t rows, int c, int bf16)
{
    size_t total = rows * (size_t)c;
    if (total == 0)
        return cudaSuccess;
    NS_K_DISPATCH16(bf16, total,
                    k_bn16_infer<T_, I_><<<ns_k_blocks(total), NS_K_THREADS, 0, s>>>(
                        (const T_ *)x, (T_ *)y, running_mean, running_var, gamma, beta, eps,
                        (I_)total, (I_)c));
    return cudaGetLastError();
}

extern "C" cudaError_t ns_k_bn16_backward_dx(cudaStream_t s, const void *x, const void *dy,
                                             const float *mean, const float *invstd,
                                             const float *gamma, const double *acc, size_t rows,
                                             int c, void *dx, float *dgamma, float *dbeta,
                                             int bf16)
{
    size_t total = rows * (size_t)c;
    if (total == 0)
        return cudaSuccess;
    float m = (float)rows;
    /* at least c threads in the grid: the first c also write dgamma, dbeta */
    size_t cover = total > (size_t)c ? total : (size_t)c;
    NS_K_DISPATCH16(bf16, total,
                    k_bn16_backward_dx<T_, I_><<<ns_k_blocks(cover), NS_K_THREADS, 0, s>>>(
                        (const T_ *)x, (const T_ *)dy, mean, invstd, gamma, acc, (I_)total,
                        (I_)c, m, (T_ *)dx, dgamma, dbeta));
    return cudaGetLastError();
}
