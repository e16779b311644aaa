/* Every slot of ns_backend_api as this backend implements it; the semantics are
 * those written in include/noisystudent/backend.h. `ctx` is an ns_cuda_ctx. */
#ifndef NS_CUDA_OPS_H
#define NS_CUDA_OPS_H

#include <noisystudent/backend.h>

/* cuda_context.c */
ns_status ns_cuda_create(const ns_host_api *host, const ns_backend_options *opt, void **ctx);
void ns_cuda_destroy(void *ctx);
const char *ns_cuda_describe(void *ctx);

/* cuda_memory.c */
ns_status ns_cuda_buf_alloc(void *ctx, size_t n, ns_buf **out);
void ns_cuda_buf_free(void *ctx, ns_buf *b);
ns_status ns_cuda_upload(void *ctx, ns_buf *dst, size_t offset, const float *src, size_t n);
ns_status ns_cuda_download(void *ctx, const ns_buf *src, size_t offset, float *dst, size_t n);
ns_status ns_cuda_fill(void *ctx, ns_buf *dst, size_t n, float value);
ns_status ns_cuda_copy(void *ctx, ns_buf *dst, const ns_buf *src, size_t n);
ns_status ns_cuda_synchronize(void *ctx);

/* cuda_conv.c */
ns_status ns_cuda_conv2d_forward(void *ctx, const ns_conv_desc *d, const ns_buf *x,
                                 const ns_buf *w, ns_buf *y);
ns_status ns_cuda_conv2d_backward_data(void *ctx, const ns_conv_desc *d, const ns_buf *dy,
                                       const ns_buf *w, ns_buf *dx);
ns_status ns_cuda_conv2d_backward_filter(void *ctx, const ns_conv_desc *d, const ns_buf *x,
                                         const ns_buf *dy, ns_buf *dw);

/* cuda_conv_bn.c (ABI 1.1) */
ns_status ns_cuda_conv2d_bn_infer(void *ctx, const ns_conv_desc *d, const ns_buf *x,
                                  const ns_buf *w, const ns_bn_desc *bn, const ns_buf *gamma,
                                  const ns_buf *beta, const ns_buf *mean, const ns_buf *var,
                                  const ns_buf *residual, int relu, ns_buf *y);

/* cuda_batchnorm.c */
ns_status ns_cuda_batchnorm_forward_train(void *ctx, const ns_bn_desc *d, const ns_buf *x,
                                          const ns_buf *gamma, const ns_buf *beta,
                                          ns_buf *running_mean, ns_buf *running_var, ns_buf *y,
                                          ns_buf *save_mean, ns_buf *save_invstd);
ns_status ns_cuda_batchnorm_forward_infer(void *ctx, const ns_bn_desc *d, const ns_buf *x,
                                          const ns_buf *gamma, const ns_buf *beta,
                                          const ns_buf *running_mean, const ns_buf *running_var,
                                          ns_buf *y);
ns_status ns_cuda_batchnorm_backward(void *ctx, const ns_bn_desc *d, const ns_buf *x,
                                     const ns_buf *dy, const ns_buf *gamma,
                                     const ns_buf *save_mean, const ns_buf *save_invstd,
                                     ns_buf *dx, ns_buf *dgamma, ns_buf *dbeta);

/* cuda_elementwise.c */
ns_status ns_cuda_relu_forward(void *ctx, const ns_buf *x, ns_buf *y, size_t n);
ns_status ns_cuda_relu_backward(void *ctx, const ns_buf *y, const ns_buf *dy, ns_buf *dx,
                                size_t n);
ns_status ns_cuda_add(void *ctx, const ns_buf *a, const ns_buf *b, ns_buf *y, size_t n);
ns_status ns_cuda_axpby(void *ctx, const ns_buf *x, ns_buf *y, size_t n, float alpha, float beta);
ns_status ns_cuda_mul(void *ctx, const ns_buf *a, const ns_buf *b, ns_buf *y, size_t n);
ns_status ns_cuda_mul_rows(void *ctx, const ns_buf *x, const ns_buf *scale, ns_buf *y,
                           size_t rows, size_t cols);
ns_status ns_cuda_mask_bernoulli(void *ctx, ns_buf *mask, size_t n, float keep_prob, float scale,
                                 uint64_t seed, uint64_t stream);

/* cuda_pool.c */
ns_status ns_cuda_global_avg_pool_forward(void *ctx, const ns_buf *x, ns_buf *y, int n, int c,
                                          int hw);
ns_status ns_cuda_global_avg_pool_backward(void *ctx, const ns_buf *dy, ns_buf *dx, int n, int c,
                                           int hw);

/* cuda_dense.c */
ns_status ns_cuda_dense_forward(void *ctx, const ns_dense_desc *d, const ns_buf *x,
                                const ns_buf *w, const ns_buf *b, ns_buf *y);
ns_status ns_cuda_dense_backward(void *ctx, const ns_dense_desc *d, const ns_buf *x,
                                 const ns_buf *w, const ns_buf *dy, ns_buf *dx, ns_buf *dw,
                                 ns_buf *db);

/* cuda_loss.c */
ns_status ns_cuda_softmax_cross_entropy(void *ctx, int n, int classes, const ns_buf *logits,
                                        const ns_buf *targets, float grad_scale, ns_buf *loss,
                                        ns_buf *dlogits);
ns_status ns_cuda_softmax(void *ctx, int n, int classes, const ns_buf *logits, ns_buf *probs);

/* cuda_optim.c */
ns_status ns_cuda_sgd_update(void *ctx, const ns_sgd_params *p, ns_buf *w, const ns_buf *g,
                             ns_buf *velocity, size_t n);
ns_status ns_cuda_adam_update(void *ctx, const ns_adam_params *p, ns_buf *w, const ns_buf *g,
                              ns_buf *m, ns_buf *v, size_t n);

/* cuda_reduce.c */
ns_status ns_cuda_reduce(void *ctx, const ns_buf *x, size_t n, ns_reduce_result *out);
ns_status ns_cuda_count_nonfinite(void *ctx, size_t count, const ns_buf *const *xs, const size_t *ns,
                                  uint64_t *out);

#endif
