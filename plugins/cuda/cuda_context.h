/* The CUDA backend's context: one device, one stream, cuDNN and cuBLAS handles,
 * a caching allocator, a pooled workspace, pinned upload staging and the
 * convolution plan cache. Private to plugins/cuda. */
#ifndef NS_CUDA_CONTEXT_H
#define NS_CUDA_CONTEXT_H

#include <stddef.h>
#include <stdint.h>

#include <cublas_v2.h>
#include <cuda_runtime_api.h>
#include <cudnn.h>

#include <noisystudent/backend.h>

#include "cuda_alloc.h"

/* The ns_buf of this backend: a float32 device array in plain NCHW order. */
struct ns_buf {
    float *ptr;          /* NULL when n == 0 */
    size_t n;            /* logical floats */
    size_t capacity;     /* bytes reserved by the allocator */
    struct ns_buf *prev; /* live-buffer list, so destroy() frees leftovers */
    struct ns_buf *next;
};

/* Pinned host staging for uploads: a ring of chunks, each guarded by an event
 * that records when the device has finished reading it. */
#define NS_CUDA_STAGING_CHUNKS 4
#define NS_CUDA_STAGING_BYTES ((size_t)8 << 20)

typedef struct ns_cuda_staging {
    void *host[NS_CUDA_STAGING_CHUNKS];
    cudaEvent_t done[NS_CUDA_STAGING_CHUNKS];
    int in_flight[NS_CUDA_STAGING_CHUNKS];
    int next;
} ns_cuda_staging;

typedef struct ns_cuda_conv_plan ns_cuda_conv_plan; /* cuda_conv_plan.h */

typedef struct ns_cuda_ctx {
    const ns_host_api *host;
    int device;
    ns_precision precision;
    int allow_tf32;    /* fp32 convolutions/GEMMs may use TF32 tensor cores */
    int autotune;      /* time up to this many cuDNN engines per shape; 0 = heuristic pick */
    int sync;          /* NS_CUDA_OPTIONS sync=1: check the device when every op starts */
    const char *last_op; /* with sync=1: the op that entered last (a string literal) */
    cudaStream_t stream;
    cudnnHandle_t cudnn;
    cublasHandle_t cublas;
    cudnnBackendDescriptor_t deviceprop; /* NULL on cuDNN < 9.8 */
    int cudnn_graph_needs_handle;        /* runtime wants the handle on the graph */
    ns_cuda_alloc alloc;
    ns_buf *live;                        /* every buffer handed out and not freed */
    void *workspace;                     /* pooled cuDNN workspace */
    size_t workspace_bytes;
    void *scratch;                       /* small device scratch: BN sums, reductions */
    size_t scratch_bytes;
    ns_cuda_staging staging;
    ns_cuda_conv_plan **plans;           /* convolution plan cache, one per op+shape+dtype */
    size_t n_plans, cap_plans;
    int sm_count;
    char description[256];
    void *nccl_comm;                     /* ncclComm_t once dist_attach joined one (cuda_nccl.c) */
    int nccl_rank, nccl_size;
} ns_cuda_ctx;

/* Error reporting: every helper writes one line through host->set_error naming
 * the op and returns the status to pass up. */
ns_status ns_cuda_fail_rt(ns_cuda_ctx *c, const char *op, const char *what, cudaError_t e);
ns_status ns_cuda_fail_dnn(ns_cuda_ctx *c, const char *op, const char *what, cudnnStatus_t s);
ns_status ns_cuda_fail_blas(ns_cuda_ctx *c, const char *op, const char *what, cublasStatus_t s);

#define NS_CUDA_RT(c, op, call)                                   \
    do {                                                          \
        cudaError_t ns_e_ = (call);                               \
        if (ns_e_ != cudaSuccess)                                 \
            return ns_cuda_fail_rt((c), (op), #call, ns_e_);      \
    } while (0)

#define NS_CUDA_DNN(c, op, call)                                  \
    do {                                                          \
        cudnnStatus_t ns_s_ = (call);                             \
        if (ns_s_ != CUDNN_STATUS_SUCCESS)                        \
            return ns_cuda_fail_dnn((c), (op), #call, ns_s_);     \
    } while (0)

#define NS_CUDA_BLAS(c, op, call)                                 \
    do {                                                          \
        cublasStatus_t ns_b_ = (call);                            \
        if (ns_b_ != CUBLAS_STATUS_SUCCESS)                       \
            return ns_cuda_fail_blas((c), (op), #call, ns_b_);    \
    } while (0)

#define NS_CUDA_TRY(expr)                                         \
    do {                                                          \
        ns_status ns_t_ = (expr);                                 \
        if (ns_t_ != NS_OK)                                       \
            return ns_t_;                                         \
    } while (0)

/* Makes the context's device current on the calling thread (ops may come
 * from a different host thread than create()). With sync=1 it also waits for
 * the stream and fails with NS_ERR_DEVICE naming the op that entered before
 * (whose work faulted) when the device reports an error. */
ns_status ns_cuda_enter(ns_cuda_ctx *c, const char *op);

/* Argument checks shared by every op: `b` must be non-NULL and hold at least
 * `need` floats. Sets the error naming op and argument. */
ns_status ns_cuda_need(ns_cuda_ctx *c, const char *op, const char *arg, const ns_buf *b,
                       size_t need);

/* A device pointer to at least `bytes` of workspace (contents undefined),
 * valid until the next call that asks for more. */
ns_status ns_cuda_workspace(ns_cuda_ctx *c, const char *op, size_t bytes, void **out);
/* Same for the small scratch area (BN sums, reduction results). */
ns_status ns_cuda_scratch(ns_cuda_ctx *c, const char *op, size_t bytes, void **out);

#endif
