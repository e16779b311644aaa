/* The ref backend's descriptor, vtable and context lifecycle. */
#include "ref_backend.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#ifndef NS_REF_VERSION
#define NS_REF_VERSION "0.1.0"
#endif

static int default_threads(void)
{
#ifdef _OPENMP
    return omp_get_num_procs();
#else
    return 1;
#endif
}

static ns_status ref_probe(const ns_host_api *host, char *why, size_t why_len)
{
    (void)host;
    if (why && why_len)
        snprintf(why, why_len, "float32, %d OpenMP thread%s", default_threads(),
                 default_threads() == 1 ? "" : "s");
    return NS_OK;
}

/* Reads the options a host of any minor passed: fields beyond its struct_size
 * keep their defaults. */
static ns_backend_options read_options(const ns_backend_options *opt)
{
    ns_backend_options o = {sizeof o, 0, -1, NS_PRECISION_FP32, NULL};
    if (!opt)
        return o;
    size_t have = opt->struct_size;
    if (have >= offsetof(ns_backend_options, threads) + sizeof o.threads)
        o.threads = opt->threads;
    if (have >= offsetof(ns_backend_options, device) + sizeof o.device)
        o.device = opt->device;
    if (have >= offsetof(ns_backend_options, precision) + sizeof o.precision)
        o.precision = opt->precision;
    if (have >= offsetof(ns_backend_options, extra) + sizeof o.extra)
        o.extra = opt->extra;
    return o;
}

static ns_status ref_create(const ns_host_api *host, const ns_backend_options *opt, void **out)
{
    if (!host || !out)
        return NS_ERR_INVALID_ARG; /* no host to report through */
    ns_backend_options o = read_options(opt);
    if (o.precision != NS_PRECISION_FP32) {
        host->set_error("ref backend computes float32 only (precision %d requested)",
                        (int)o.precision);
        return NS_ERR_UNSUPPORTED;
    }
    if (o.threads < 0) {
        host->set_error("ref backend: threads is %d, expected >= 0 (0 = one per core)", o.threads);
        return NS_ERR_INVALID_ARG;
    }
    if (o.device > 0) {
        host->set_error("ref backend: device %d requested, the host CPU is the only device "
                        "(expected -1 or 0)",
                        o.device);
        return NS_ERR_INVALID_ARG;
    }
    /* extra is backend-specific: a string meant for another backend may reach
     * ref through --backend auto, so it is not an error here. */
    if (o.extra && o.extra[0] && host->log)
        host->log(0, "ref backend: ignoring extra options '%s' (ref takes none)", o.extra);
    ref_ctx *ctx = calloc(1, sizeof *ctx);
    if (!ctx) {
        host->set_error("ref backend: out of memory creating the context");
        return NS_ERR_NOMEM;
    }
    ctx->host = host;
    ctx->threads = o.threads > 0 ? o.threads : default_threads();
    ctx->live.prev = ctx->live.next = &ctx->live;
    snprintf(ctx->description, sizeof ctx->description,
             "ref: portable C11 reference, float32, %d OpenMP thread%s", ctx->threads,
             ctx->threads == 1 ? "" : "s");
    *out = ctx;
    return NS_OK;
}

static void ref_destroy(void *vctx)
{
    ref_ctx *ctx = vctx;
    if (!ctx)
        return;
    ref_free_all_buffers(ctx);
    free(ctx->workspace);
    free(ctx);
}

static const char *ref_describe(void *vctx)
{
    return ((ref_ctx *)vctx)->description;
}

float *ref_workspace(ref_ctx *ctx, const char *op, size_t n)
{
    if (n <= ctx->workspace_n)
        return ctx->workspace;
    size_t bytes = (n * sizeof(float) + 63) / 64 * 64;
    float *p = aligned_alloc(64, bytes);
    if (!p) {
        ctx->host->set_error("%s: cannot allocate %zu bytes of workspace", op, bytes);
        return NULL;
    }
    free(ctx->workspace);
    ctx->workspace = p;
    ctx->workspace_n = n;
    return p;
}

static const ns_backend_api ref_api = {
    .struct_size = sizeof(ns_backend_api),
    .create = ref_create,
    .destroy = ref_destroy,
    .describe = ref_describe,
    .buf_alloc = ref_buf_alloc,
    .buf_free = ref_buf_free,
    .upload = ref_upload,
    .download = ref_download,
    .fill = ref_fill,
    .copy = ref_copy,
    .synchronize = NULL, /* every op is synchronous */
    .conv2d_forward = ref_conv2d_forward,
    .conv2d_backward_data = ref_conv2d_backward_data,
    .conv2d_backward_filter = ref_conv2d_backward_filter,
    .batchnorm_forward_train = ref_batchnorm_forward_train,
    .batchnorm_forward_infer = ref_batchnorm_forward_infer,
    .batchnorm_backward = ref_batchnorm_backward,
    .relu_forward = ref_relu_forward,
    .relu_backward = ref_relu_backward,
    .add = ref_add,
    .axpby = ref_axpby,
    .mul = ref_mul,
    .mul_rows = ref_mul_rows,
    .mask_bernoulli = ref_mask_bernoulli,
    .global_avg_pool_forward = ref_global_avg_pool_forward,
    .global_avg_pool_backward = ref_global_avg_pool_backward,
    .dense_forward = ref_dense_forward,
    .dense_backward = ref_dense_backward,
    .softmax_cross_entropy = ref_softmax_cross_entropy,
    .softmax = ref_softmax,
    .sgd_update = ref_sgd_update,
    .adam_update = ref_adam_update,
    .reduce = ref_reduce,
    .conv2d_bn_infer = ref_conv2d_bn_infer,
    .count_nonfinite = ref_count_nonfinite,
};

static const ns_plugin ref_plugin = {
    .abi_version = NS_ABI_VERSION,
    .struct_size = sizeof(ns_plugin),
    .kind = NS_PLUGIN_BACKEND,
    .name = "ref",
    .version = NS_REF_VERSION,
    .description = "portable C11 reference backend (float32, OpenMP)",
    .probe = ref_probe,
    .vtable = &ref_api,
};

NS_PLUGIN_EXPORT const ns_plugin *ns_plugin_entry(void)
{
    return &ref_plugin;
}
