/* Context lifecycle (create/destroy/describe) and the helpers every op uses. */
#include "cuda_context.h"
#ifdef NS_CUDA_HAVE_NCCL
#include "cuda_nccl.h"
#endif

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cuda_conv_plan.h"
#include "cuda_options.h"
#include "cuda_ops.h"
#include "cuda_probe.h"

ns_status ns_cuda_fail_rt(ns_cuda_ctx *c, const char *op, const char *what, cudaError_t e)
{
    c->host->set_error("%s: %s failed: %s (%s)", op, what, cudaGetErrorName(e),
                       cudaGetErrorString(e));
    return e == cudaErrorMemoryAllocation ? NS_ERR_NOMEM : NS_ERR_DEVICE;
}

ns_status ns_cuda_fail_dnn(ns_cuda_ctx *c, const char *op, const char *what, cudnnStatus_t s)
{
    char detail[256];
    detail[0] = '\0';
    cudnnGetLastErrorString(detail, sizeof detail);
    for (char *p = detail; *p; p++)
        if (*p == '\n' || *p == '\r')
            *p = ' ';
    c->host->set_error("%s: %s failed: %s%s%s", op, what, cudnnGetErrorString(s),
                       detail[0] ? ": " : "", detail);
    return NS_ERR_DEVICE;
}

ns_status ns_cuda_fail_blas(ns_cuda_ctx *c, const char *op, const char *what, cublasStatus_t s)
{
    c->host->set_error("%s: %s failed: %s (%s)", op, what, cublasGetStatusName(s),
                       cublasGetStatusString(s));
    return s == CUBLAS_STATUS_ALLOC_FAILED ? NS_ERR_NOMEM : NS_ERR_DEVICE;
}

ns_status ns_cuda_need(ns_cuda_ctx *c, const char *op, const char *arg, const ns_buf *b,
                       size_t need)
{
    if (!b) {
        c->host->set_error("%s: %s is NULL, expected a buffer of %zu floats", op, arg, need);
        return NS_ERR_INVALID_ARG;
    }
    if (b->n < need) {
        c->host->set_error("%s: %s holds %zu floats, expected at least %zu", op, arg, b->n, need);
        return NS_ERR_INVALID_ARG;
    }
    return NS_OK;
}

/* Grows a pooled device area to at least `bytes`; the old block goes back to
 * the allocator (safe: all work using it is queued on the one stream). */
static ns_status grow(ns_cuda_ctx *c, const char *op, size_t bytes, void **area, size_t *have)
{
    if (bytes <= *have && *area)
        return NS_OK;
    if (*area)
        ns_cuda_alloc_put(&c->alloc, *area, *have);
    *area = NULL;
    *have = 0;
    void *p;
    size_t reserved;
    cudaError_t e = ns_cuda_alloc_get(&c->alloc, bytes ? bytes : 1, &p, &reserved);
    if (e != cudaSuccess)
        return ns_cuda_fail_rt(c, op, "workspace cudaMalloc", e);
    *area = p;
    *have = reserved;
    return NS_OK;
}

ns_status ns_cuda_workspace(ns_cuda_ctx *c, const char *op, size_t bytes, void **out)
{
    if (bytes == 0) {
        *out = NULL;
        return NS_OK;
    }
    NS_CUDA_TRY(grow(c, op, bytes, &c->workspace, &c->workspace_bytes));
    *out = c->workspace;
    return NS_OK;
}

ns_status ns_cuda_scratch(ns_cuda_ctx *c, const char *op, size_t bytes, void **out)
{
    NS_CUDA_TRY(grow(c, op, bytes, &c->scratch, &c->scratch_bytes));
    *out = c->scratch;
    return NS_OK;
}

ns_status ns_cuda_enter(ns_cuda_ctx *c, const char *op)
{
    NS_CUDA_RT(c, op, cudaSetDevice(c->device));
    if (c->sync) {
        /* Everything the previous op queued has run (or faulted) before this
         * one starts, so an asynchronous fault is charged to the op that
         * launched it, not to whichever later call happened to see it. */
        cudaError_t e = cudaStreamSynchronize(c->stream);
        if (e == cudaSuccess)
            e = cudaGetLastError();
        if (e != cudaSuccess) {
            c->host->set_error("%s: sync=1: the device failed in the op before it, %s: %s (%s)", op,
                               c->last_op ? c->last_op : "create", cudaGetErrorName(e),
                               cudaGetErrorString(e));
            return e == cudaErrorMemoryAllocation ? NS_ERR_NOMEM : NS_ERR_DEVICE;
        }
        c->last_op = op;
    }
    return NS_OK;
}

static const char *precision_name(ns_precision p)
{
    switch (p) {
    case NS_PRECISION_FP32: return "fp32";
    case NS_PRECISION_BF16: return "bf16";
    case NS_PRECISION_FP16: return "fp16";
    }
    return "?";
}

/* cuDNN >= 9.8 takes the device through a DEVICEPROP descriptor instead of
 * the (deprecated) handle attribute on the operation graph. */
static void make_deviceprop(ns_cuda_ctx *c)
{
    c->deviceprop = NULL;
    c->cudnn_graph_needs_handle = 1;
    if (cudnnGetVersion() < 90800)
        return;
    cudnnBackendDescriptor_t d;
    if (cudnnBackendCreateDescriptor(CUDNN_BACKEND_DEVICEPROP_DESCRIPTOR, &d) != CUDNN_STATUS_SUCCESS)
        return;
    int32_t device = c->device;
    if (cudnnBackendSetAttribute(d, CUDNN_ATTR_DEVICEPROP_HANDLE, CUDNN_TYPE_HANDLE, 1, &c->cudnn) !=
            CUDNN_STATUS_SUCCESS ||
        cudnnBackendSetAttribute(d, CUDNN_ATTR_DEVICEPROP_DEVICE_ID, CUDNN_TYPE_INT32, 1, &device) !=
            CUDNN_STATUS_SUCCESS ||
        cudnnBackendFinalize(d) != CUDNN_STATUS_SUCCESS) {
        cudnnBackendDestroyDescriptor(d);
        return;
    }
    c->deviceprop = d;
    c->cudnn_graph_needs_handle = 0;
}

static ns_status open_device(ns_cuda_ctx *c)
{
    const char *op = "create";
    char why[256];
    if (ns_cuda_probe(c->host, why, sizeof why) != NS_OK) {
        c->host->set_error("create: %s", why);
        return NS_ERR_UNSUPPORTED;
    }
    int count = 0;
    NS_CUDA_RT(c, op, cudaGetDeviceCount(&count));
    if (c->device >= count) {
        c->host->set_error("create: device %d requested, this machine has %d CUDA device(s)",
                           c->device, count);
        return NS_ERR_INVALID_ARG;
    }
    NS_CUDA_RT(c, op, cudaSetDevice(c->device));
    struct cudaDeviceProp prop;
    NS_CUDA_RT(c, op, cudaGetDeviceProperties(&prop, c->device));
    if (prop.major < 8) {
        c->host->set_error("create: %s is sm_%d%d; this build has code for sm_80 and newer",
                           prop.name, prop.major, prop.minor);
        return NS_ERR_UNSUPPORTED;
    }
    c->sm_count = prop.multiProcessorCount;
    NS_CUDA_RT(c, op, cudaStreamCreateWithFlags(&c->stream, cudaStreamNonBlocking));
    NS_CUDA_DNN(c, op, cudnnCreate(&c->cudnn));
    NS_CUDA_DNN(c, op, cudnnSetStream(c->cudnn, c->stream));
    NS_CUDA_BLAS(c, op, cublasCreate(&c->cublas));
    NS_CUDA_BLAS(c, op, cublasSetStream(c->cublas, c->stream));
    /* fp32 means fp32 unless TF32 was asked for; bf16/fp16 runs allow TF32 in
     * the GEMMs that stay in float32. */
    cublasMath_t math = (c->allow_tf32 || c->precision != NS_PRECISION_FP32)
                            ? CUBLAS_TF32_TENSOR_OP_MATH
                            : CUBLAS_DEFAULT_MATH;
    NS_CUDA_BLAS(c, op, cublasSetMathMode(c->cublas, math));
    for (int i = 0; i < NS_CUDA_STAGING_CHUNKS; i++)
        NS_CUDA_RT(c, op, cudaEventCreateWithFlags(&c->staging.done[i], cudaEventDisableTiming));
    make_deviceprop(c);

    int rt = 0, drv = 0, blas = 0;
    (void)cudaRuntimeGetVersion(&rt);
    (void)cudaDriverGetVersion(&drv);
    (void)cublasGetVersion(c->cublas, &blas);
    size_t dnn = cudnnGetVersion();
    snprintf(c->description, sizeof c->description,
             "%s (sm_%d%d, %d SMs, %.0f GiB), CUDA runtime %d.%d, driver %d.%d, cuDNN %zu.%zu.%zu, "
             "cuBLAS %d.%d.%d, %s%s%s%s",
             prop.name, prop.major, prop.minor, prop.multiProcessorCount,
             (double)prop.totalGlobalMem / (1024.0 * 1024.0 * 1024.0), rt / 1000, rt % 1000 / 10,
             drv / 1000, drv % 1000 / 10, dnn / 10000, dnn % 10000 / 100, dnn % 100, blas / 10000,
             blas % 10000 / 100, blas % 100, precision_name(c->precision),
             c->allow_tf32 && c->precision == NS_PRECISION_FP32 ? " (TF32 allowed)" : "",
             c->precision == NS_PRECISION_FP32 ? ""
             : c->nhwc16                      ? " resident NHWC"
                                              : " per-call conversion (nhwc16=0)",
             c->sync ? ", sync=1 (device checked as every op starts)" : "");
    return NS_OK;
}

static void free_buffers(ns_cuda_ctx *c)
{
    ns_buf *b = c->live;
    while (b) {
        ns_buf *next = b->next;
        ns_cuda_buf_release(c, b);
        free(b);
        b = next;
    }
    c->live = NULL;
}

void ns_cuda_destroy(void *ctx)
{
    ns_cuda_ctx *c = ctx;
    if (!c)
        return;
    (void)cudaSetDevice(c->device);
    if (c->stream)
        (void)cudaStreamSynchronize(c->stream);
#ifdef NS_CUDA_HAVE_NCCL
    ns_cuda_nccl_release(c);
#endif
    ns_cuda_conv_plans_free(c);
    free_buffers(c);
    ns_cuda_alloc_put(&c->alloc, c->workspace, c->workspace_bytes);
    ns_cuda_alloc_put(&c->alloc, c->scratch, c->scratch_bytes);
    for (int i = 0; i < NS_CUDA_STAGING_CHUNKS; i++) {
        if (c->staging.host[i])
            (void)cudaFreeHost(c->staging.host[i]);
        if (c->staging.done[i])
            (void)cudaEventDestroy(c->staging.done[i]);
    }
    if (c->deviceprop)
        cudnnBackendDestroyDescriptor(c->deviceprop);
    if (c->cublas)
        cublasDestroy(c->cublas);
    if (c->cudnn)
        cudnnDestroy(c->cudnn);
    if (c->stream)
        (void)cudaStreamDestroy(c->stream);
    ns_cuda_alloc_destroy(&c->alloc);
    free(c);
}

ns_status ns_cuda_create(const ns_host_api *host, const ns_backend_options *opt, void **ctx)
{
    if (!host || !ctx)
        return NS_ERR_INVALID_ARG; /* no host: nowhere to write a message */
    *ctx = NULL;
    ns_cuda_ctx *c = calloc(1, sizeof *c);
    if (!c) {
        host->set_error("create: out of host memory for the CUDA context");
        return NS_ERR_NOMEM;
    }
    c->host = host;
    c->device = 0;
    c->precision = NS_PRECISION_FP32;
    c->allow_tf32 = 0;
    c->autotune = 4;
    /* nhwc16: the resident 16-bit path unless nhwc16=0 (README.md) */
    ns_cuda_options o = {.tf32 = c->allow_tf32, .autotune = c->autotune, .nhwc16 = 1, .sync = 0};
    ns_status st = ns_cuda_options_parse(host, "NS_CUDA_OPTIONS", getenv("NS_CUDA_OPTIONS"), &o);
    if (st != NS_OK) {
        free(c);
        return st;
    }
    if (opt) {
        if (opt->struct_size < offsetof(ns_backend_options, extra) + sizeof opt->extra) {
            host->set_error("create: ns_backend_options.struct_size %u is smaller than the %zu "
                            "bytes this backend reads",
                            opt->struct_size, offsetof(ns_backend_options, extra) + sizeof opt->extra);
            free(c);
            return NS_ERR_ABI;
        }
        c->device = opt->device < 0 ? 0 : opt->device;
        c->precision = opt->precision;
        if (c->precision != NS_PRECISION_FP32 && c->precision != NS_PRECISION_BF16 &&
            c->precision != NS_PRECISION_FP16) {
            host->set_error("create: precision %d unknown, expected fp32, bf16 or fp16",
                            (int)opt->precision);
            free(c);
            return NS_ERR_INVALID_ARG;
        }
        st = ns_cuda_options_parse(host, "backend options extra", opt->extra, &o);
        if (st != NS_OK) {
            free(c);
            return st;
        }
    }
    c->allow_tf32 = o.tf32;
    c->autotune = o.autotune;
    c->nhwc16 = o.nhwc16;
    c->sync = o.sync;
    st = open_device(c);
    if (st != NS_OK) {
        ns_cuda_destroy(c);
        return st;
    }
    *ctx = c;
    return NS_OK;
}

const char *ns_cuda_describe(void *ctx)
{
    return ((ns_cuda_ctx *)ctx)->description;
}
