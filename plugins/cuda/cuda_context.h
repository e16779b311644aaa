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
#include "cuda_resident.h"

/* The ns_buf of this backend: a float32 device array in plain NCHW order and,
 * on the resident 16-bit path, a second array holding the tensor in bf16/fp16
 * NHWC (cuda_resident.h says which of the two is valid). Ops never touch the
 * storage fields directly: they read and write through ns_cuda_rd/_wr/_rw and
 * ns_cuda_h16_rd/_wr below, which keep `res` true (the field names differ
 * from the old `ptr` on purpose, so no access can bypass them unnoticed). */
struct ns_buf {
    float *f32;          /* NULL when n == 0 */
    size_t n;            /* logical floats */
    size_t capacity;     /* bytes reserved by the allocator for f32 */
    void *h16;           /* 16-bit NHWC storage, NULL until first needed */
    size_t h16_capacity; /* bytes reserved for h16 */
    ns_cuda_res res;     /* which copy holds the content */
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
    int nhwc16;        /* bf16/fp16: the resident 16-bit NHWC path (README.md); 0 = per-call conversion */
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
    ns_cuda_conv_plan **plans;           /* convolution plan cache, one per op+shape+dtype+layout */
    char plan_error[384];                /* the last plan-build failure (logged on fallback) */
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

/* ---- access to buffer storage (cuda_buffer16.c) ----
 * Within one op: every read accessor first, then the write accessors (an
 * output may alias an input, and a write marks the other copy stale). A
 * const ns_buf may still change its physical copies (widening, or a rounded
 * 16-bit cache) but never its logical content; one host thread at a time
 * uses a context (backend.h). */

/* b's float32 content: widens a 16-bit-only tensor into f32 first. */
ns_status ns_cuda_rd(ns_cuda_ctx *c, const char *op, const ns_buf *b, const float **out);
/* b's f32 storage for an op that overwrites it (from offset 0, the op's
 * extent): the 16-bit copy becomes stale. */
float *ns_cuda_wr(ns_buf *b);
/* Read-modify-write of f32 (in-place updates; partial writes that must keep
 * the rest: upload at an offset, fill and copy of a prefix). */
ns_status ns_cuda_rw(ns_cuda_ctx *c, const char *op, ns_buf *b, float **out);

/* Makes b float32 only: widens a 16-bit tensor, then forgets the 16-bit
 * copy, so the ops after it take their float32 paths. */
ns_status ns_cuda_make_plain(ns_cuda_ctx *c, const char *op, ns_buf *b);

/* 1 when this context runs the resident 16-bit path (bf16/fp16 and nhwc16). */
int ns_cuda_resident16(const ns_cuda_ctx *c);
/* cuDNN/kernels element type flag of the 16-bit copies: 1 bf16, 0 fp16. */
int ns_cuda_bf16(const ns_cuda_ctx *c);
/* b's content as a 16-bit NHWC tensor of `dims` (which must cover at most
 * b->n floats). need_exact: only a copy that holds the content exactly will
 * do (cuda_resident.h); when there is none, returns NS_ERR_NOT_FOUND WITHOUT
 * setting an error and converts nothing: the caller takes its float32 path.
 * Otherwise rounds the float32 content into the h16 storage when needed. */
ns_status ns_cuda_h16_rd(ns_cuda_ctx *c, const char *op, const ns_buf *b, const int dims[4],
                         int need_exact, const void **out);
/* b's h16 storage, grown to hold a tensor of `dims`, for an op that
 * overwrites it: from now on the 16-bit copy is the content. */
ns_status ns_cuda_h16_wr(ns_cuda_ctx *c, const char *op, ns_buf *b, const int dims[4], void **out);
/* Returns both storages of b to the allocator (buf_free, destroy). */
void ns_cuda_buf_release(ns_cuda_ctx *c, ns_buf *b);

#endif
