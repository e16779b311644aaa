/* noisystudent SDK — compute backends.
 *
 * Op-level, not graph-level: the host drives the layers and calls primitives on
 * opaque device buffers. The exchange format is float32 NCHW: the LOGICAL
 * content of every ns_buf is a float32 array, and tensors are N,C,H,W row-major.
 * A backend may hold a buffer in any physical layout or precision internally
 * (blocked layouts, bf16/fp16 with fp32 master copies) as long as upload,
 * download and every op behave as if it were plain float32 NCHW, within the
 * per-op tolerances of the parity suite (tests/backend).
 *
 * Weight layouts: convolution [K][C][R][S] (OIHW); dense [out][in]; vectors
 * (bias, gamma, beta, running statistics) are [C].
 *
 * Threading: a context is used by one host thread at a time. Ops may run
 * asynchronously on a device queue; download() and synchronize() are the only
 * calls after which results are guaranteed visible to the host. upload()
 * finishes reading `src` before it returns, so the caller may reuse it.
 *
 * Errors: every op returns ns_status and, on failure, has written one line
 * through host->set_error naming the op and what was wrong. A failed op leaves
 * its output buffers unspecified but every other buffer intact.
 *
 * Output extent: a compute op writes its outputs' logical extent (the sizes
 * its arguments give). When an output buffer holds more floats than that, the
 * floats beyond it are unspecified afterwards: a backend that keeps buffers in
 * a blocked layout need not convert content the op is about to overwrite.
 * upload, fill and copy are the exceptions: they leave the rest of the buffer
 * as it was.
 *
 * Aliasing: unless an op says "may alias", outputs must not overlap inputs.
 *
 * Optional slots may be NULL; the comment beside each says what the host does
 * instead. Mandatory slots are marked [required].
 */
#ifndef NS_BACKEND_H
#define NS_BACKEND_H

#include <stddef.h>
#include <stdint.h>

#include "plugin.h"
#include "status.h"

#ifdef __cplusplus
extern "C" {
#endif

/* Opaque device buffer, defined by each backend. */
typedef struct ns_buf ns_buf;

typedef enum ns_precision {
    NS_PRECISION_FP32 = 0, /* everything in float32 */
    NS_PRECISION_BF16 = 1, /* bf16 compute for conv/dense, fp32 master weights and BN statistics */
    NS_PRECISION_FP16 = 2  /* fp16 compute (CUDA), fp32 master weights, host does loss scaling */
} ns_precision;

typedef struct ns_backend_options {
    uint32_t struct_size;   /* sizeof(ns_backend_options) as the host saw it */
    int threads;            /* host threads to use; 0 = one per core */
    int device;             /* device index; -1 = backend default */
    ns_precision precision; /* a backend that cannot do it fails create() with NS_ERR_UNSUPPORTED */
    const char *extra;      /* backend-specific "key=value,key=value" or NULL */
} ns_backend_options;

/* 2-D convolution without bias; square stride and padding, dilation 1.
 * Output size: p = (h + 2*pad - r)/stride + 1, q = (w + 2*pad - s)/stride + 1.
 * The host fills p and q; a backend may rely on them. */
typedef struct ns_conv_desc {
    int n, c, h, w; /* input  N,C,H,W */
    int k, r, s;    /* output channels, kernel height, kernel width */
    int stride, pad;
    int p, q;       /* output height, width */
} ns_conv_desc;

/* Batch normalisation over N and H*W for each of C channels (spatial BN).
 * Training: mean and biased variance over N*hw values; y = gamma*(x-mean)*invstd + beta,
 *   invstd = 1/sqrt(var + eps); running_mean = (1-momentum)*running_mean + momentum*mean;
 *   running_var = (1-momentum)*running_var + momentum*var*m/(m-1), m = N*hw (unbiased,
 *   as PyTorch; for m == 1 the biased variance is used).
 * Inference: y = gamma*(x-running_mean)/sqrt(running_var+eps) + beta. */
typedef struct ns_bn_desc {
    int n, c, hw;
    float eps;      /* 1e-5 by default */
    float momentum; /* 0.1 by default (PyTorch's convention) */
} ns_bn_desc;

/* Fully connected: y[n][out] = x[n][in] . w[out][in]^T + b[out]. */
typedef struct ns_dense_desc {
    int n, in, out;
} ns_dense_desc;

/* SGD (PyTorch semantics): g' = g + weight_decay*w; v = momentum*v + g';
 * update = nesterov ? g' + momentum*v : v; w -= lr*update. */
typedef struct ns_sgd_params {
    float lr, momentum, weight_decay;
    int nesterov;
} ns_sgd_params;

/* Adam (PyTorch semantics, L2 via the gradient): g' = g + weight_decay*w;
 * m = beta1*m + (1-beta1)*g'; v = beta2*v + (1-beta2)*g'^2;
 * w -= lr * (m/(1-beta1^step)) / (sqrt(v/(1-beta2^step)) + eps). step starts at 1. */
typedef struct ns_adam_params {
    float lr, beta1, beta2, eps, weight_decay;
    int step;
} ns_adam_params;

typedef struct ns_reduce_result {
    double sum;       /* sum of finite values */
    double sum_sq;    /* sum of squares of finite values */
    float max_abs;    /* max |x| over finite values */
    uint64_t nonfinite; /* count of NaN and +-Inf */
} ns_reduce_result;

typedef struct ns_backend_api {
    uint32_t struct_size; /* sizeof(ns_backend_api) as the plugin saw it */

    /* ---- lifecycle ---- */
    /* [required] Creates a context. `host` outlives the context. */
    ns_status (*create)(const ns_host_api *host, const ns_backend_options *opt, void **ctx);
    /* [required] Frees the context and any buffer still allocated from it. */
    void (*destroy)(void *ctx);
    /* One line about what runs: "oneDNN 2.6 avx512_core_amx, 2 threads, bf16".
     * Owned by the context. NULL slot: the host shows the plugin description. */
    const char *(*describe)(void *ctx);

    /* ---- memory ---- */
    /* [required] n floats, contents undefined. n == 0 is allowed. */
    ns_status (*buf_alloc)(void *ctx, size_t n, ns_buf **out);
    /* [required] NULL b is a no-op. */
    void (*buf_free)(void *ctx, ns_buf *b);
    /* [required] dst[offset .. offset+n) = src[0..n). */
    ns_status (*upload)(void *ctx, ns_buf *dst, size_t offset, const float *src, size_t n);
    /* [required] dst[0..n) = src[offset .. offset+n); blocks until done. */
    ns_status (*download)(void *ctx, const ns_buf *src, size_t offset, float *dst, size_t n);
    /* [required] dst[0..n) = value. */
    ns_status (*fill)(void *ctx, ns_buf *dst, size_t n, float value);
    /* [required] dst[0..n) = src[0..n). */
    ns_status (*copy)(void *ctx, ns_buf *dst, const ns_buf *src, size_t n);
    /* Waits for all queued work. NULL: ops are synchronous. */
    ns_status (*synchronize)(void *ctx);

    /* ---- convolution (no bias) ---- */
    /* [required] y[n,k,p,q] = sum_{c,r,s} x[n,c,p*stride-pad+r, q*stride-pad+s] * w[k,c,r,s] */
    ns_status (*conv2d_forward)(void *ctx, const ns_conv_desc *d, const ns_buf *x, const ns_buf *w,
                                ns_buf *y);
    /* [required] dx = gradient w.r.t. x given dy (overwrites dx). */
    ns_status (*conv2d_backward_data)(void *ctx, const ns_conv_desc *d, const ns_buf *dy,
                                      const ns_buf *w, ns_buf *dx);
    /* [required] dw = gradient w.r.t. w given x and dy (overwrites dw). */
    ns_status (*conv2d_backward_filter)(void *ctx, const ns_conv_desc *d, const ns_buf *x,
                                        const ns_buf *dy, ns_buf *dw);

    /* ---- batch normalisation (see ns_bn_desc) ---- */
    /* [required] Updates running_mean/var in place; saves batch mean and invstd ([C] each)
     * for the backward pass. */
    ns_status (*batchnorm_forward_train)(void *ctx, const ns_bn_desc *d, const ns_buf *x,
                                         const ns_buf *gamma, const ns_buf *beta,
                                         ns_buf *running_mean, ns_buf *running_var, ns_buf *y,
                                         ns_buf *save_mean, ns_buf *save_invstd);
    /* [required] */
    ns_status (*batchnorm_forward_infer)(void *ctx, const ns_bn_desc *d, const ns_buf *x,
                                         const ns_buf *gamma, const ns_buf *beta,
                                         const ns_buf *running_mean, const ns_buf *running_var,
                                         ns_buf *y);
    /* [required] Overwrites dx, dgamma, dbeta. */
    ns_status (*batchnorm_backward)(void *ctx, const ns_bn_desc *d, const ns_buf *x,
                                    const ns_buf *dy, const ns_buf *gamma,
                                    const ns_buf *save_mean, const ns_buf *save_invstd,
                                    ns_buf *dx, ns_buf *dgamma, ns_buf *dbeta);

    /* ---- element-wise (n elements); these may alias: y may be x (or a) ---- */
    /* [required] y = max(x, 0) */
    ns_status (*relu_forward)(void *ctx, const ns_buf *x, ns_buf *y, size_t n);
    /* [required] dx = y > 0 ? dy : 0, from the forward OUTPUT y. dx may alias dy. */
    ns_status (*relu_backward)(void *ctx, const ns_buf *y, const ns_buf *dy, ns_buf *dx, size_t n);
    /* [required] y = a + b (y may alias a or b) */
    ns_status (*add)(void *ctx, const ns_buf *a, const ns_buf *b, ns_buf *y, size_t n);
    /* [required] y = alpha*x + beta*y; beta == 0 ignores the old y (even NaN). */
    ns_status (*axpby)(void *ctx, const ns_buf *x, ns_buf *y, size_t n, float alpha, float beta);
    /* [required] y = a * b element-wise (y may alias a or b) — dropout forward/backward. */
    ns_status (*mul)(void *ctx, const ns_buf *a, const ns_buf *b, ns_buf *y, size_t n);
    /* [required] y[r][j] = x[r][j] * scale[r] for r < rows, j < cols (y may alias x)
     * — per-sample stochastic depth forward/backward. */
    ns_status (*mul_rows)(void *ctx, const ns_buf *x, const ns_buf *scale, ns_buf *y, size_t rows,
                          size_t cols);
    /* [required] mask[i] = ns_philox_uniform_at(seed, stream, i) < keep_prob ? scale : 0
     * for i < n (rng.h). Every backend draws the same mask for the same arguments. */
    ns_status (*mask_bernoulli)(void *ctx, ns_buf *mask, size_t n, float keep_prob, float scale,
                                uint64_t seed, uint64_t stream);

    /* ---- pooling ---- */
    /* [required] y[n][c] = mean over hw of x[n][c][:] */
    ns_status (*global_avg_pool_forward)(void *ctx, const ns_buf *x, ns_buf *y, int n, int c,
                                         int hw);
    /* [required] dx[n][c][i] = dy[n][c] / hw */
    ns_status (*global_avg_pool_backward)(void *ctx, const ns_buf *dy, ns_buf *dx, int n, int c,
                                          int hw);

    /* ---- dense ---- */
    /* [required] y = x w^T + b; b may be NULL (no bias). */
    ns_status (*dense_forward)(void *ctx, const ns_dense_desc *d, const ns_buf *x,
                               const ns_buf *w, const ns_buf *b, ns_buf *y);
    /* [required] Overwrites dw [out][in] and db [out] (db may be NULL: no bias);
     * dx [n][in] may be NULL (not needed). */
    ns_status (*dense_backward)(void *ctx, const ns_dense_desc *d, const ns_buf *x,
                                const ns_buf *w, const ns_buf *dy, ns_buf *dx, ns_buf *dw,
                                ns_buf *db);

    /* ---- loss ---- */
    /* [required] Fused softmax cross-entropy against soft targets, rows of `classes`.
     * p = softmax(logits[i]) (max-subtracted); loss[i] = -sum_j t[i][j] * log p[j]
     * (log-sum-exp form; a zero target contributes nothing). Targets need not sum to
     * one: the gradient is the exact derivative, dlogits[i][j] = grad_scale * (p[j]*T - t[i][j])
     * with T = sum_j t[i][j], so scaling a row of targets weights that sample.
     * dlogits may be NULL (loss only). loss has n floats. */
    ns_status (*softmax_cross_entropy)(void *ctx, int n, int classes, const ns_buf *logits,
                                       const ns_buf *targets, float grad_scale, ns_buf *loss,
                                       ns_buf *dlogits);
    /* [required] probs = softmax(logits) row-wise (probs may alias logits). */
    ns_status (*softmax)(void *ctx, int n, int classes, const ns_buf *logits, ns_buf *probs);

    /* ---- optimizer updates (in place on w and the state buffers) ---- */
    /* [required] see ns_sgd_params; velocity must start at zero. */
    ns_status (*sgd_update)(void *ctx, const ns_sgd_params *p, ns_buf *w, const ns_buf *g,
                            ns_buf *velocity, size_t n);
    /* [required] see ns_adam_params; m and v must start at zero. */
    ns_status (*adam_update)(void *ctx, const ns_adam_params *p, ns_buf *w, const ns_buf *g,
                             ns_buf *m, ns_buf *v, size_t n);

    /* ---- reductions ---- */
    /* Statistics of x[0..n) (metrics, NaN/Inf guard). NULL: the host downloads x
     * and computes them itself. */
    ns_status (*reduce)(void *ctx, const ns_buf *x, size_t n, ns_reduce_result *out);

    /* ---- ABI 1.1 (a 1.0 plugin's table ends above; the host reads these as NULL) ---- */
    /* Optional. One inference-time convolution unit in a single call:
     *     y = act( bn_infer(conv(x, w)) + residual )
     * with bn_infer the inference formula of ns_bn_desc on gamma, beta, mean, var
     * (running statistics), residual [n][k][p][q] or NULL (nothing added), act the
     * ReLU when relu != 0 and the identity otherwise. bn->n, bn->c and bn->hw must
     * equal d->n, d->k and d->p*d->q. y must not alias x, w or residual.
     * It is exactly the composition conv2d_forward -> batchnorm_forward_infer ->
     * add -> relu_forward (within the parity suite's tolerances for this op); it
     * exists so a backend can fold the batchnorm into the convolution and add the
     * residual and the ReLU while each output tile is still in cache: four passes
     * over the activations become one. NULL: the host calls those four ops. */
    ns_status (*conv2d_bn_infer)(void *ctx, const ns_conv_desc *d, const ns_buf *x,
                                 const ns_buf *w, const ns_bn_desc *bn, const ns_buf *gamma,
                                 const ns_buf *beta, const ns_buf *mean, const ns_buf *var,
                                 const ns_buf *residual, int relu, ns_buf *y);

    /* ---- ABI 1.2 (a 1.1 plugin's table ends above; the host reads these as NULL) ---- */
    /* Optional. *out = the number of NaN and +-Inf values in all `count` buffers
     * together, xs[i][0 .. ns[i]) for i < count, in ONE call. The training step's
     * NaN/Inf guard checks every parameter gradient with it before the update:
     * one call, so one host sync per step on a device queue, instead of one
     * reduce (and one sync) per parameter tensor. count == 0 gives 0; a buffer
     * may appear more than once (it is counted each time); xs and ns are read
     * only during the call. Only the count matters, not which buffer holds the
     * values: the host looks for the first bad tensor itself when the count is
     * not zero. NULL: the host calls reduce (or its own download loop where
     * reduce is NULL too) on each buffer in turn and adds the counts. */
    ns_status (*count_nonfinite)(void *ctx, size_t count, const ns_buf *const *xs,
                                 const size_t *ns, uint64_t *out);

    /* ---- ABI 1.3 (a 1.2 plugin's table ends above; the host reads these as NULL) ---- */
    /* Optional, all three or none (the loader refuses a table with some of
     * them): a collective library on the device (NCCL on cuda) for data-
     * parallel training across processes. The host owns the process world
     * (MPI, core/dist): it tells the backend its rank and hands it the bytes
     * that name the communicator; the backend never talks to MPI itself.
     *
     * dist_unique_id: writes a new communicator's identifier into
     *   id[0 .. *id_bytes), *id_bytes <= cap (NCCL: ncclGetUniqueId, 128
     *   bytes). The host calls it on rank 0 only and broadcasts the bytes.
     *   NS_ERR_UNSUPPORTED when the library is missing at run time (the
     *   plugin MUST still load and work without it).
     * dist_attach: joins the communicator `id` as `rank` of `size`.
     *   Collective: it returns on a rank once every rank has called it.
     *   The host MUST call it at most once per context and before any
     *   allreduce_sum; the context MUST release the communicator in destroy.
     *   A failure leaves the rest of the context usable; every rank then
     *   uses the host path for the whole run (the host makes the ranks
     *   agree on that).
     * allreduce_sum: for i < count, bufs[i][0 .. ns[i]) = scale * (the sum
     *   over every rank of bufs[i][0 .. ns[i])), in place, on every rank.
     *   Collective: every rank MUST call it with the same count and ns in
     *   the same order. It MAY return before the sums are done (queued on
     *   the context's stream): ops queued after it, download and
     *   synchronize see the result. It SHOULD fuse the buffers into as few
     *   collective calls as it can (NCCL: one group). A buffer MUST NOT
     *   appear twice. count == 0 does nothing. NS_ERR_INVALID_ARG when
     *   called before a successful dist_attach.
     * NULL (all three): the host downloads the buffers into one fused host
     * buffer, sums it across the ranks with MPI, scales and uploads. */
    ns_status (*dist_unique_id)(void *ctx, void *id, size_t cap, size_t *id_bytes);
    ns_status (*dist_attach)(void *ctx, int rank, int size, const void *id, size_t id_bytes);
    ns_status (*allreduce_sum)(void *ctx, size_t count, ns_buf *const *bufs, const size_t *ns,
                               float scale);
} ns_backend_api;

/* Size of the ABI 1.0 op table: a backend table at least this large loads; slots
 * beyond the plugin's struct_size read as NULL. */
#define NS_BACKEND_API_SIZE_1_0 offsetof(ns_backend_api, conv2d_bn_infer)
/* Size of the ABI 1.1 op table (1.0 + conv2d_bn_infer). */
#define NS_BACKEND_API_SIZE_1_1 offsetof(ns_backend_api, count_nonfinite)
/* Size of the ABI 1.2 op table (1.1 + count_nonfinite). */
#define NS_BACKEND_API_SIZE_1_2 offsetof(ns_backend_api, dist_unique_id)

#ifdef __cplusplus
}
#endif
#endif
