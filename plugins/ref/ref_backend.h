/* Internals of the ref backend shared by its source files: the context, the
 * buffer, argument checks, and one prototype per op of ns_backend_api.
 * Compiled against the public SDK only (include/noisystudent/). */
#ifndef NS_REF_BACKEND_H
#define NS_REF_BACKEND_H

#include <stddef.h>
#include <stdint.h>

#include <noisystudent/backend.h>

#ifdef _OPENMP
#include <omp.h>
#endif

/* Host memory, 64-byte aligned. Live buffers are kept on a list in their
 * context so destroy() can free what the host forgot. */
struct ns_buf {
    size_t n;
    float *data;
    struct ns_buf *prev, *next;
};

typedef struct ref_ctx {
    const ns_host_api *host;
    int threads;          /* OpenMP team size for every parallel loop */
    struct ns_buf live;   /* sentinel of the list of live buffers */
    float *workspace;     /* im2col/col2im scratch, grown on demand, never shrunk */
    size_t workspace_n;
    char description[160];
} ref_ctx;

/* Writes the one-line message through the host and evaluates to `st`. */
#define REF_FAIL(ctx, st, ...) ((ctx)->host->set_error(__VA_ARGS__), (st))

/* Thread index inside a parallel region (0 without OpenMP). */
static inline int ref_thread_id(void)
{
#ifdef _OPENMP
    return omp_get_thread_num();
#else
    return 0;
#endif
}

/* Team size for a loop doing about `work` elementary operations: one thread
 * below REF_PARALLEL_MIN, where starting and joining a team costs more than it
 * saves (and, on a loaded machine, threads spin waiting for each other). */
#define REF_PARALLEL_MIN 32768.0
static inline int ref_team(const ref_ctx *ctx, double work)
{
    return work < REF_PARALLEL_MIN ? 1 : ctx->threads;
}

/* ---- argument checks: NS_OK or NS_ERR_INVALID_ARG with a message naming op and field ---- */
ns_status ref_check_buf(ref_ctx *ctx, const char *op, const char *field, const ns_buf *b,
                        size_t need);
/* b must hold [offset, offset+n). */
ns_status ref_check_range(ref_ctx *ctx, const char *op, const char *field, const ns_buf *b,
                          size_t offset, size_t n);
ns_status ref_check_ptr(ref_ctx *ctx, const char *op, const char *field, const void *p);
/* Every dim > 0 and the product fits comfortably in size_t; *count = product. */
ns_status ref_check_dims(ref_ctx *ctx, const char *op, const char *fields, size_t *count,
                         int ndims, const int *dims);
ns_status ref_check_conv(ref_ctx *ctx, const char *op, const ns_conv_desc *d);
ns_status ref_check_bn(ref_ctx *ctx, const char *op, const ns_bn_desc *d);
ns_status ref_check_dense(ref_ctx *ctx, const char *op, const ns_dense_desc *d);

/* Scratch of at least n floats owned by the context; NULL (with the message
 * set) when it cannot grow. Valid until the next call. */
float *ref_workspace(ref_ctx *ctx, const char *op, size_t n);

/* ---- ops (semantics: include/noisystudent/backend.h) ---- */
ns_status ref_buf_alloc(void *ctx, size_t n, ns_buf **out);
void ref_buf_free(void *ctx, ns_buf *b);
void ref_free_all_buffers(ref_ctx *ctx);
ns_status ref_upload(void *ctx, ns_buf *dst, size_t offset, const float *src, size_t n);
ns_status ref_download(void *ctx, const ns_buf *src, size_t offset, float *dst, size_t n);
ns_status ref_fill(void *ctx, ns_buf *dst, size_t n, float value);
ns_status ref_copy(void *ctx, ns_buf *dst, const ns_buf *src, size_t n);

ns_status ref_conv2d_forward(void *ctx, const ns_conv_desc *d, const ns_buf *x, const ns_buf *w,
                             ns_buf *y);
ns_status ref_conv2d_backward_data(void *ctx, const ns_conv_desc *d, const ns_buf *dy,
                                   const ns_buf *w, ns_buf *dx);
ns_status ref_conv2d_backward_filter(void *ctx, const ns_conv_desc *d, const ns_buf *x,
                                     const ns_buf *dy, ns_buf *dw);

/* Fused inference unit (ABI 1.1): the composition conv2d_forward ->
 * batchnorm_forward_infer -> add -> relu_forward of the ops above. */
ns_status ref_conv2d_bn_infer(void *ctx, const ns_conv_desc *d, const ns_buf *x,
                              const ns_buf *w, const ns_bn_desc *bn, const ns_buf *gamma,
                              const ns_buf *beta, const ns_buf *mean, const ns_buf *var,
                              const ns_buf *residual, int relu, ns_buf *y);

ns_status ref_batchnorm_forward_train(void *ctx, const ns_bn_desc *d, const ns_buf *x,
                                      const ns_buf *gamma, const ns_buf *beta,
                                      ns_buf *running_mean, ns_buf *running_var, ns_buf *y,
                                      ns_buf *save_mean, ns_buf *save_invstd);
ns_status ref_batchnorm_forward_infer(void *ctx, const ns_bn_desc *d, const ns_buf *x,
                                      const ns_buf *gamma, const ns_buf *beta,
                                      const ns_buf *running_mean, const ns_buf *running_var,
                                      ns_buf *y);
ns_status ref_batchnorm_backward(void *ctx, const ns_bn_desc *d, const ns_buf *x,
                                 const ns_buf *dy, const ns_buf *gamma, const ns_buf *save_mean,
                                 const ns_buf *save_invstd, ns_buf *dx, ns_buf *dgamma,
                                 ns_buf *dbeta);

ns_status ref_relu_forward(void *ctx, const ns_buf *x, ns_buf *y, size_t n);
ns_status ref_relu_backward(void *ctx, const ns_buf *y, const ns_buf *dy, ns_buf *dx, size_t n);
ns_status ref_add(void *ctx, const ns_buf *a, const ns_buf *b, ns_buf *y, size_t n);
ns_status ref_axpby(void *ctx, const ns_buf *x, ns_buf *y, size_t n, float alpha, float beta);
ns_status ref_mul(void *ctx, const ns_buf *a, const ns_buf *b, ns_buf *y, size_t n);
ns_status ref_mul_rows(void *ctx, const ns_buf *x, const ns_buf *scale, ns_buf *y, size_t rows,
                       size_t cols);
ns_status ref_mask_bernoulli(void *ctx, ns_buf *mask, size_t n, float keep_prob, float scale,
                             uint64_t seed, uint64_t stream);

ns_status ref_global_avg_pool_forward(void *ctx, const ns_buf *x, ns_buf *y, int n, int c,
                                      int hw);
ns_status ref_global_avg_pool_backward(void *ctx, const ns_buf *dy, ns_buf *dx, int n, int c,
                                       int hw);
ns_status ref_dense_forward(void *ctx, const ns_dense_desc *d, const ns_buf *x, const ns_buf *w,
                            const ns_buf *b, ns_buf *y);
ns_status ref_dense_backward(void *ctx, const ns_dense_desc *d, const ns_buf *x, const ns_buf *w,
                             const ns_buf *dy, ns_buf *dx, ns_buf *dw, ns_buf *db);

ns_status ref_softmax_cross_entropy(void *ctx, int n, int classes, const ns_buf *logits,
                                    const ns_buf *targets, float grad_scale, ns_buf *loss,
                                    ns_buf *dlogits);
ns_status ref_softmax(void *ctx, int n, int classes, const ns_buf *logits, ns_buf *probs);

ns_status ref_sgd_update(void *ctx, const ns_sgd_params *p, ns_buf *w, const ns_buf *g,
                         ns_buf *velocity, size_t n);
ns_status ref_adam_update(void *ctx, const ns_adam_params *p, ns_buf *w, const ns_buf *g,
                          ns_buf *m, ns_buf *v, size_t n);

ns_status ref_reduce(void *ctx, const ns_buf *x, size_t n, ns_reduce_result *out);
ns_status ref_count_nonfinite(void *ctx, size_t count, const ns_buf *const *xs, const size_t *ns,
                              uint64_t *out);

#endif
