/* Row-wise softmax and the fused soft-target cross-entropy (one block per row). */
#include <math.h>

#include "k_block_reduce.cuh"
#include "kernels.h"

/* Row max and sum of exp(x - max), shared by both kernels. */
static __device__ void row_stats(const float *x, int classes, float *max_out, float *sum_out)
{
    float m = -INFINITY;
    for (int j = threadIdx.x; j < classes; j += blockDim.x)
        m = fmaxf(m, x[j]);
    m = ns_k_block_reduce(m, ns_k_max());
    float acc = 0.0f;
    for (int j = threadIdx.x; j < classes; j += blockDim.x)
        acc += expf(x[j] - m);
    *sum_out = ns_k_block_reduce(acc, ns_k_sum());
    *max_out = m;
}

static __global__ void k_softmax_cross_entropy(int classes, const float *logits,
                                               const float *targets, float grad_scale, float *loss,
                                               float *dlogits)
{
    size_t row = blockIdx.x;
    const float *x = logits + row * classes;
    const float *t = targets + row * classes;
    float m, sum;
    row_stats(x, classes, &m, &sum);
    float log_sum = logf(sum);
    /* -sum_j t_j * log p_j with log p_j = x_j - m - log_sum; a zero target adds nothing. */
    float l = 0.0f, tsum = 0.0f;
    for (int j = threadIdx.x; j < classes; j += blockDim.x) {
        float tj = t[j];
        if (tj != 0.0f)
            l -= tj * (x[j] - m - log_sum);
        tsum += tj;
    }
    l = ns_k_block_reduce(l, ns_k_sum());
    tsum = ns_k_block_reduce(tsum, ns_k_sum());
    if (threadIdx.x == 0)
        loss[row] = l;
    if (dlogits) {
        float *d = dlogits + row * classes;
        for (int j = threadIdx.x; j < classes; j += blockDim.x) {
            float p = expf(x[j] - m) / sum;
            d[j] = grad_scale * (p * tsum - t[j]);
        }
    }
}

static __global__ void k_softmax(int classes, const float *logits, float *probs)
{
    size_t row = blockIdx.x;
    const float *x = logits + row * classes;
    float *p = probs + row * classes;
    float m, sum;
    row_stats(x, classes, &m, &sum);
    /* each thread rewrites only the elements it read: probs may alias logits */
    for (int j = threadIdx.x; j < classes; j += blockDim.x)
        p[j] = expf(x[j] - m) / sum;
}

extern "C" cudaError_t ns_k_softmax_cross_entropy(cudaStream_t s, int n, int classes,
                                                  const float *logits, const float *targets,
                                                  float grad_scale, float *loss, float *dlogits)
{
    if (n <= 0 || classes <= 0)
        return cudaSuccess;
    k_softmax_cross_entropy<<<(unsigned)n, NS_K_THREADS, 0, s>>>(classes, logits, targets,
                                                                grad_scale, loss, dlogits);
    return cudaGetLastError();
}

extern "C" cudaError_t ns_k_softmax(cudaStream_t s, int n, int classes, const float *logits,
                                    float *probs)
{
    if (n <= 0 || classes <= 0)
        return cudaSuccess;
    k_softmax<<<(unsigned)n, NS_K_THREADS, 0, s>>>(classes, logits, probs);
    return cudaGetLastError();
}
