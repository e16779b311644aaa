/* Launchers for the backend's own CUDA kernels (k_*.cu). Each enqueues work
 * on `s` and returns the launch error (cudaSuccess when queued); none of them
 * synchronises. Pointers are device pointers; sizes are element counts.
 * Callers check shapes; these only launch. */
#ifndef NS_CUDA_KERNELS_H
#define NS_CUDA_KERNELS_H

#include <stddef.h>
#include <stdint.h>

#include <cuda_runtime_api.h>

#ifdef __cplusplus
extern "C" {
#endif

/* ---- k_elementwise.cu ---- */
cudaError_t ns_k_fill(cudaStream_t s, float *y, size_t n, float value);
cudaError_t ns_k_relu_forward(cudaStream_t s, const float *x, float *y, size_t n);
cudaError_t ns_k_relu_backward(cudaStream_t s, const float *y, const float *dy, float *dx, size_t n);
cudaError_t ns_k_add(cudaStream_t s, const float *a, const float *b, float *y, size_t n);
/* y = alpha*x + beta*y; beta == 0 never reads y. */
cudaError_t ns_k_axpby(cudaStream_t s, const float *x, float *y, size_t n, float alpha, float beta);
cudaError_t ns_k_mul(cudaStream_t s, const float *a, const float *b, float *y, size_t n);
cudaError_t ns_k_mul_rows(cudaStream_t s, const float *x, const float *scale, float *y, size_t rows,
                          size_t cols);

/* ---- k_mask.cu ---- */
cudaError_t ns_k_mask_bernoulli(cudaStream_t s, float *mask, size_t n, float keep_prob, float scale,
                                uint64_t seed, uint64_t stream);

/* ---- k_pool.cu ---- rows = n*c */
cudaError_t ns_k_gap_forward(cudaStream_t s, const float *x, float *y, size_t rows, size_t hw);
cudaError_t ns_k_gap_backward(cudaStream_t s, const float *dy, float *dx, size_t rows, size_t hw);

/* ---- k_bias.cu ---- y[r][j] += b[j]; db[j] = sum_r dy[r][j] */
cudaError_t ns_k_bias_add(cudaStream_t s, float *y, const float *b, size_t rows, size_t cols);
cudaError_t ns_k_column_sum(cudaStream_t s, const float *dy, float *db, size_t rows, size_t cols);

/* ---- k_loss.cu ---- see backend.h softmax_cross_entropy / softmax; dlogits may be NULL */
cudaError_t ns_k_softmax_cross_entropy(cudaStream_t s, int n, int classes, const float *logits,
                                       const float *targets, float grad_scale, float *loss,
                                       float *dlogits);
cudaError_t ns_k_softmax(cudaStream_t s, int n, int classes, const float *logits, float *probs);

/* ---- k_optim.cu ---- bc1 = 1 - beta1^step, bc2 = 1 - beta2^step */
cudaError_t ns_k_sgd(cudaStream_t s, float *w, const float *g, float *v, size_t n, float lr,
                     float momentum, float weight_decay, int nesterov);
cudaError_t ns_k_adam(cudaStream_t s, float *w, const float *g, float *m, float *v, size_t n,
                      float lr, float beta1, float beta2, float eps, float weight_decay, float bc1,
                      float bc2);

/* ---- k_reduce.cu ---- acc must be zeroed before the launch */
typedef struct ns_k_reduce_acc {
    double sum;
    double sum_sq;
    unsigned long long nonfinite;
    unsigned int max_abs_bits; /* float bits of a non-negative value: ordered as unsigned */
    unsigned int pad;
} ns_k_reduce_acc;
cudaError_t ns_k_reduce(cudaStream_t s, const float *x, size_t n, ns_k_reduce_acc *acc);

/* ---- k_batchnorm.cu ---- acc is double[2*c], zeroed before the *_sums launches */
cudaError_t ns_k_bn_sums(cudaStream_t s, const float *x, int n, int c, int hw, double *acc);
/* From acc (sum, sum of squares): save_mean, save_invstd, running statistics. */
cudaError_t ns_k_bn_finalize_train(cudaStream_t s, const double *acc, int c, double m, float eps,
                                   float momentum, float *running_mean, float *running_var,
                                   float *save_mean, float *save_invstd);
/* y = gamma*(x-mean)*invstd + beta */
cudaError_t ns_k_bn_apply(cudaStream_t s, const float *x, float *y, const float *mean,
                          const float *invstd, const float *gamma, const float *beta, int n, int c,
                          int hw);
/* y = gamma*(x-running_mean)/sqrt(running_var+eps) + beta */
cudaError_t ns_k_bn_infer(cudaStream_t s, const float *x, float *y, const float *running_mean,
                          const float *running_var, const float *gamma, const float *beta,
                          float eps, int n, int c, int hw);
/* acc[ch] = sum dy, acc[c+ch] = sum dy*(x-mean)*invstd */
cudaError_t ns_k_bn_backward_sums(cudaStream_t s, const float *x, const float *dy,
                                  const float *mean, const float *invstd, int n, int c, int hw,
                                  double *acc);
/* dbeta = acc[ch], dgamma = acc[c+ch]; dx = gamma*invstd*(dy - (dbeta + xhat*dgamma)/m) */
cudaError_t ns_k_bn_backward_dx(cudaStream_t s, const float *x, const float *dy,
                                const float *mean, const float *invstd, const float *gamma,
                                const double *acc, int n, int c, int hw, float *dx, float *dgamma,
                                float *dbeta);

/* ---- k_convert.cu ---- half = 0: IEEE fp16, 1: bfloat16 */
cudaError_t ns_k_to_half(cudaStream_t s, const float *x, void *y, size_t n, int bf16);
cudaError_t ns_k_from_half(cudaStream_t s, const void *x, float *y, size_t n, int bf16);

/* ---- the resident 16-bit NHWC path (cuda_buffer16.c, README.md) ----
 * 16-bit pointers are bf16 when bf16 != 0, IEEE fp16 otherwise. A 16-bit
 * tensor of dims (n, c, h, w) is stored NHWC; rows = n*h*w. */
/* k_layout16.cu: float32 NCHW -> 16-bit NHWC and back */
cudaError_t ns_k_narrow_nhwc(cudaStream_t s, const float *x, void *y, int n, int c, int h, int w,
                             int bf16);
cudaError_t ns_k_widen_nchw(cudaStream_t s, const void *x, float *y, int n, int c, int h, int w,
                            int bf16);
/* k_bn16.cu: as the float32 batchnorm kernels above, on NHWC 16-bit x/y/dy/dx */
cudaError_t ns_k_bn16_sums(cudaStream_t s, const void *x, size_t rows, int c, double *acc, int bf16);
cudaError_t ns_k_bn16_backward_sums(cudaStream_t s, const void *x, const void *dy,
                                    const float *mean, const float *invstd, size_t rows, int c,
                                    double *acc, int bf16);
cudaError_t ns_k_bn16_apply(cudaStream_t s, const void *x, void *y, const float *mean,
                            const float *invstd, const float *gamma, const float *beta,
                            size_t rows, int c, int bf16);
cudaError_t ns_k_bn16_infer(cudaStream_t s, const void *x, void *y, const float *running_mean,
                            const float *running_var, const float *gamma, const float *beta,
                            float eps, size_t rows, int c, int bf16);
cudaError_t ns_k_bn16_backward_dx(cudaStream_t s, const void *x, const void *dy,
                                  const float *mean, const float *invstd, const float *gamma,
                                  const double *acc, size_t rows, int c, void *dx, float *dgamma,
                                  float *dbeta, int bf16);
/* k_ew16.cu: element-wise on 16-bit operands of one layout (may alias as backend.h allows) */
cudaError_t ns_k16_relu_forward(cudaStream_t s, const void *x, void *y, size_t n, int bf16);
cudaError_t ns_k16_relu_backward(cudaStream_t s, const void *y, const void *dy, void *dx, size_t n,
                                 int bf16);
cudaError_t ns_k16_add(cudaStream_t s, const void *a, const void *b, void *y, size_t n, int bf16);
cudaError_t ns_k16_axpby(cudaStream_t s, const void *x, void *y, size_t n, float alpha, float beta,
                         int bf16);
/* y[i] = x[i] * scale[i / cols] (rows = the tensor's n, the outermost dim in NHWC too) */
cudaError_t ns_k16_mul_rows(cudaStream_t s, const void *x, const float *scale, void *y, size_t rows,
                            size_t cols, int bf16);
/* k_conv_bn.cu: y = act(bn_infer(y) + res) in place; res may be NULL.
 * float32 NCHW [n][k][hw], or 16-bit NHWC [rows][k] */
cudaError_t ns_k_conv_bn_epilogue(cudaStream_t s, float *y, const float *res, const float *gamma,
                                  const float *beta, const float *mean, const float *var,
                                  float eps, int relu, int n, int k, int hw);
cudaError_t ns_k16_conv_bn_epilogue(cudaStream_t s, void *y, const void *res, const float *gamma,
                                    const float *beta, const float *mean, const float *var,
                                    float eps, int relu, size_t rows, int k, int bf16);

#ifdef __cplusplus
}
#endif
#endif
