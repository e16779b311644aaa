/* The OpenCL backend plugin: descriptor, probe, context lifecycle and vtable.
 *
 * Device choice, first match wins: ns_backend_options.device >= 0 (the CLI's
 * --device N, counting devices over all platforms in order), extra
 * "device=P:D", $NS_OPENCL_DEVICE=P:D, else the first GPU, else the first
 * device. Other extra keys: "workspace_mb=N" caps the convolution workspace;
 * "gemm=auto|clblast|native" (or $NS_OPENCL_GEMM) picks the SGEMM (auto: the
 * plugin's own float16 kernels on CPU devices, where they beat CLBlast's
 * generic tuning several times over, CLBlast on GPUs);
 * "conv=auto|im2col|direct" (or $NS_OPENCL_CONV) picks the convolution path
 * (auto: direct stride-1 kernels wherever the native SGEMM runs and the shape
 * fits, see ocl_conv.c; im2col + SGEMM otherwise). $NS_OPENCL_GEMM_TILE
 * overrides the native SGEMM's register tile (ocl_gemm_tile.c).
 * NS_OPENCL_PROFILE=1 times every kernel and SGEMM (synchronously) and logs the
 * totals when the context is destroyed. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "ocl_internal.h"

#define OCL_PLUGIN_VERSION "0.1.0"
/* The convolution workspace (im2col columns) per chunk of images. On a CPU a
 * cache-sized chunk is ~1.5x faster than one big chunk, since the columns are
 * still in cache when the SGEMM reads them; a GPU wants big chunks. */
#define OCL_WORKSPACE_MB_CPU 4
#define OCL_WORKSPACE_MB_GPU 128
#define OCL_PREFERRED_LOCAL 256

typedef struct ocl_extra {
    char device[32];
    long workspace_mb;
    int gemm; /* -1 auto (native on CPU devices), 0 CLBlast, 1 native */
    int conv; /* -1 auto (direct with the native SGEMM), 0 im2col, 1 direct */
} ocl_extra;

static ns_status parse_extra(const ns_host_api *host, const char *extra, ocl_extra *out)
{
    out->device[0] = '\0';
    out->workspace_mb = -1; /* by device type */
    out->gemm = -1;
    out->conv = -1;
    if (!extra)
        return NS_OK;
    const char *p = extra;
    while (*p) {
        const char *end = strchr(p, ',');
        size_t len = end ? (size_t)(end - p) : strlen(p);
        char item[128];
        if (len >= sizeof item) {
            host->set_error("opencl create: extra option \"%.40s...\" is too long", p);
            return NS_ERR_INVALID_ARG;
        }
        memcpy(item, p, len);
        item[len] = '\0';
        char *eq = strchr(item, '=');
        if (len > 0) {
            if (!eq) {
                host->set_error("opencl create: extra option \"%s\": expected key=value", item);
                return NS_ERR_INVALID_ARG;
            }
            *eq = '\0';
            const char *val = eq + 1;
            if (strcmp(item, "device") == 0) {
                snprintf(out->device, sizeof out->device, "%s", val);
            } else if (strcmp(item, "workspace_mb") == 0) {
                char *e = NULL;
                long mb = strtol(val, &e, 10);
                if (e == val || *e || mb < 1 || mb > (1L << 20)) {
                    host->set_error("opencl create: workspace_mb=\"%s\": expected 1..1048576",
                                    val);
                    return NS_ERR_INVALID_ARG;
                }
                out->workspace_mb = mb;
            } else if (strcmp(item, "gemm") == 0) {
                if (strcmp(val, "auto") == 0)
                    out->gemm = -1;
                else if (strcmp(val, "clblast") == 0)
                    out->gemm = 0;
                else if (strcmp(val, "native") == 0)
                    out->gemm = 1;
                else {
                    host->set_error("opencl create: gemm=\"%s\": expected auto, clblast or "
                                    "native", val);
                    return NS_ERR_INVALID_ARG;
                }
            } else if (strcmp(item, "conv") == 0) {
                if (strcmp(val, "auto") == 0)
                    out->conv = -1;
                else if (strcmp(val, "im2col") == 0)
                    out->conv = 0;
                else if (strcmp(val, "direct") == 0)
                    out->conv = 1;
                else {
                    host->set_error("opencl create: conv=\"%s\": expected auto, im2col or "
                                    "direct", val);
                    return NS_ERR_INVALID_ARG;
                }
            } else {
                host->set_error("opencl create: unknown extra option \"%s\" (known: device=P:D, "
                                "workspace_mb=N, gemm=auto|clblast|native, "
                                "conv=auto|im2col|direct)", item);
                return NS_ERR_INVALID_ARG;
            }
        }
        p += len;
        if (*p == ',')
            p++;
    }
    return NS_OK;
}

/* Work-group size: 256 for light kernels; the SGEMM items each do a lot of
 * work, so small groups keep every core busy on small matrices. */
static size_t pick_local(ocl_kernel_id id, cl_kernel k, cl_device_id dev)
{
    size_t preferred =
        (id == OCL_K_GEMM_NN || id == OCL_K_GEMM_NT || id == OCL_K_CONV_DIRECT ||
         id == OCL_K_CONV_DIRECT_DW)
            ? 16
            : OCL_PREFERRED_LOCAL;
    size_t max_wg = 0, dims[3] = {0, 0, 0};
    if (clGetKernelWorkGroupInfo(k, dev, CL_KERNEL_WORK_GROUP_SIZE, sizeof max_wg, &max_wg,
                                 NULL) != CL_SUCCESS ||
        max_wg == 0)
        max_wg = 1;
    if (clGetDeviceInfo(dev, CL_DEVICE_MAX_WORK_ITEM_SIZES, sizeof dims, dims, NULL) ==
            CL_SUCCESS &&
        dims[0] > 0 && dims[0] < max_wg)
        max_wg = dims[0];
    size_t local = 1;
    while (local * 2 <= max_wg && local * 2 <= preferred)
        local *= 2;
    return local;
}

static void ocl_destroy(void *ctx)
{
    ocl_ctx *c = ctx;
    if (!c)
        return;
    if (c->rt)
        clFinish(c->rt->queue);
    if (c->profile)
        ocl_profile_report(c);
    while (c->bufs)
        ocl_buf_free(c, c->bufs);
    ocl_scratch *scratch[] = {&c->ws_col, &c->ws_k,     &c->ws_wt,
                              &c->red_part, &c->red_count, &c->red_nf};
    for (size_t i = 0; i < sizeof scratch / sizeof scratch[0]; i++)
        if (scratch[i]->mem)
            clReleaseMemObject(scratch[i]->mem);
    for (int k = 0; k < OCL_K_COUNT; k++)
        if (c->kernel[k])
            clReleaseKernel(c->kernel[k]);
    if (c->rt)
        ocl_runtime_release(c->rt);
    free(c);
}

static ns_status ocl_create(const ns_host_api *host, const ns_backend_options *opt, void **out)
{
    if (!host || !out)
        return NS_ERR_INVALID_ARG;
    int device = -1;
    const char *extra = NULL;
    ns_precision precision = NS_PRECISION_FP32;
    if (opt) {
        /* Read only the fields the host's struct has. */
        if (opt->struct_size >= offsetof(ns_backend_options, device) + sizeof opt->device)
            device = opt->device;
        if (opt->struct_size >= offsetof(ns_backend_options, precision) + sizeof opt->precision)
            precision = opt->precision;
        if (opt->struct_size >= offsetof(ns_backend_options, extra) + sizeof opt->extra)
            extra = opt->extra;
    }
    if (precision != NS_PRECISION_FP32) {
        host->set_error("opencl create: precision %d requested; this backend computes in fp32 "
                        "only", (int)precision);
        return NS_ERR_UNSUPPORTED;
    }
    char why[512];
    if (ocl_api_load(why, sizeof why) != NS_OK) {
        host->set_error("opencl create: %s", why);
        return NS_ERR_UNSUPPORTED;
    }
    ocl_extra ex;
    ns_status st = parse_extra(host, extra, &ex);
    if (st != NS_OK)
        return st;
    const char *gemm_env = getenv("NS_OPENCL_GEMM");
    if (ex.gemm < 0 && gemm_env && *gemm_env) {
        char item[64];
        snprintf(item, sizeof item, "gemm=%s", gemm_env);
        ocl_extra from_env;
        st = parse_extra(host, item, &from_env);
        if (st != NS_OK) {
            host->set_error("opencl create: NS_OPENCL_GEMM=%s: expected auto, clblast or native",
                            gemm_env);
            return st;
        }
        ex.gemm = from_env.gemm;
    }
    const char *conv_env = getenv("NS_OPENCL_CONV");
    if (ex.conv < 0 && conv_env && *conv_env) {
        char item[64];
        snprintf(item, sizeof item, "conv=%s", conv_env);
        ocl_extra from_env;
        st = parse_extra(host, item, &from_env);
        if (st != NS_OK) {
            host->set_error("opencl create: NS_OPENCL_CONV=%s: expected auto, im2col or direct",
                            conv_env);
            return st;
        }
        ex.conv = from_env.conv;
    }
    const char *ws_env = getenv("NS_OPENCL_WORKSPACE_MB");
    if (ex.workspace_mb < 0 && ws_env && *ws_env) {
        char item[64];
        snprintf(item, sizeof item, "workspace_mb=%s", ws_env);
        ocl_extra from_env;
        st = parse_extra(host, item, &from_env);
        if (st != NS_OK)
            return st;
        ex.workspace_mb = from_env.workspace_mb;
    }
    const char *spec = ex.device[0] ? ex.device : getenv("NS_OPENCL_DEVICE");

    ocl_ctx *c = calloc(1, sizeof *c);
    if (!c) {
        host->set_error("opencl create: out of host memory");
        return NS_ERR_NOMEM;
    }
    c->host = host;
    const char *prof = getenv("NS_OPENCL_PROFILE");
    c->profile = prof && *prof && strcmp(prof, "0") != 0;
    st = ocl_runtime_acquire(host, device, spec, &c->rt);
    if (st != NS_OK) {
        free(c);
        return st;
    }
    for (int k = 0; k < OCL_K_COUNT; k++) {
        cl_int err;
        c->kernel[k] = clCreateKernel(c->rt->program, ocl_kernel_name((ocl_kernel_id)k), &err);
        if (err != CL_SUCCESS) {
            char call[96];
            snprintf(call, sizeof call, "clCreateKernel(%s)", ocl_kernel_name((ocl_kernel_id)k));
            st = ocl_fail_cl(host, "create", call, err);
            ocl_destroy(c);
            return st;
        }
        c->local[k] = pick_local((ocl_kernel_id)k, c->kernel[k], c->rt->dev.device);
    }
    cl_device_type type = 0;
    clGetDeviceInfo(c->rt->dev.device, CL_DEVICE_TYPE, sizeof type, &type, NULL);
    c->native_gemm = ex.gemm >= 0 ? ex.gemm : (type & CL_DEVICE_TYPE_CPU) != 0;
    int is_cpu = (type & CL_DEVICE_TYPE_CPU) != 0;
    /* The direct kernel is the native SGEMM's loop: a GPU keeps im2col +
     * CLBlast unless asked. */
    c->direct_conv = ex.conv >= 0 ? ex.conv : c->native_gemm;
    if (ex.workspace_mb < 0)
        ex.workspace_mb = is_cpu ? OCL_WORKSPACE_MB_CPU : OCL_WORKSPACE_MB_GPU;
    size_t cap = (size_t)ex.workspace_mb * (1u << 20) / sizeof(float);
    size_t alloc_cap = c->rt->max_alloc_bytes / sizeof(float);
    c->ws_cap_floats = cap < alloc_cap ? cap : alloc_cap;
    char gemm[96] = "CLBlast";
    if (c->native_gemm)
        snprintf(gemm, sizeof gemm, "native (tile %dx%d, nt %dx%d; float width %u)",
                 c->rt->tile.tm, c->rt->tile.vw, c->rt->tile.ntb, c->rt->tile.ntv,
                 (unsigned)c->rt->native_float_width);
    snprintf(c->describe, sizeof c->describe,
             "OpenCL %d:%d %s (%s, driver %s), %s SGEMM, %s convolutions, fp32, %s",
             c->rt->dev.platform_index, c->rt->dev.device_index, c->rt->device_name,
             c->rt->platform_name, c->rt->driver_version, gemm,
             c->direct_conv ? "direct stride-1" : "im2col", c->rt->program_origin);
    *out = c;
    return NS_OK;
}

static const char *ocl_describe(void *ctx) { return ((ocl_ctx *)ctx)->describe; }

static ns_status ocl_probe(const ns_host_api *host, char *why, size_t why_len)
{
    if (ocl_api_load(why, why_len) != NS_OK)
        return NS_ERR_UNSUPPORTED;
    ocl_device_ref dev;
    const char *spec = getenv("NS_OPENCL_DEVICE");
    int pi, di;
    if (spec && *spec && ocl_device_parse_spec(NULL, spec, &pi, &di) != NS_OK) {
        snprintf(why, why_len, "NS_OPENCL_DEVICE=%s: expected platform:device, e.g. 0:0", spec);
        return NS_ERR_INVALID_ARG;
    }
    ns_status st = ocl_device_select(host, -1, spec, &dev);
    if (st != NS_OK) {
        /* The selection wrote the reason into the host's buffer; repeat it here. */
        char list[256];
        ocl_device_list(list, sizeof list);
        snprintf(why, why_len, "%s", list[0] ? list : "no usable OpenCL device");
        if (spec && *spec && list[0])
            snprintf(why, why_len, "NS_OPENCL_DEVICE=%s does not exist; devices: %s", spec, list);
        else if (!list[0])
            snprintf(why, why_len, "no OpenCL platform or device: the ICD loader found no "
                                   "vendor driver (install pocl-opencl-icd or a GPU driver)");
        return st;
    }
    char name[OCL_NAME_MAX], plat[OCL_NAME_MAX], list[512];
    ocl_device_string(dev.device, CL_DEVICE_NAME, name, sizeof name);
    ocl_platform_string(dev.platform, CL_PLATFORM_NAME, plat, sizeof plat);
    ocl_device_list(list, sizeof list);
    snprintf(why, why_len, "uses %d:%d %s (%s); devices: %s", dev.platform_index,
             dev.device_index, name, plat, list);
    return NS_OK;
}

static const ns_backend_api ocl_api = {
    .struct_size = sizeof(ns_backend_api),
    .create = ocl_create,
    .destroy = ocl_destroy,
    .describe = ocl_describe,
    .buf_alloc = ocl_buf_alloc,
    .buf_free = ocl_buf_free,
    .upload = ocl_upload,
    .download = ocl_download,
    .fill = ocl_fill,
    .copy = ocl_copy,
    .synchronize = ocl_synchronize,
    .conv2d_forward = ocl_conv2d_forward,
    .conv2d_backward_data = ocl_conv2d_backward_data,
    .conv2d_backward_filter = ocl_conv2d_backward_filter,
    .batchnorm_forward_train = ocl_batchnorm_forward_train,
    .batchnorm_forward_infer = ocl_batchnorm_forward_infer,
    .batchnorm_backward = ocl_batchnorm_backward,
    .relu_forward = ocl_relu_forward,
    .relu_backward = ocl_relu_backward,
    .add = ocl_add,
    .axpby = ocl_axpby,
    .mul = ocl_mul,
    .mul_rows = ocl_mul_rows,
    .mask_bernoulli = ocl_mask_bernoulli,
    .global_avg_pool_forward = ocl_global_avg_pool_forward,
    .global_avg_pool_backward = ocl_global_avg_pool_backward,
    .dense_forward = ocl_dense_forward,
    .dense_backward = ocl_dense_backward,
    .softmax_cross_entropy = ocl_softmax_cross_entropy,
    .softmax = ocl_softmax,
    .sgd_update = ocl_sgd_update,
    .adam_update = ocl_adam_update,
    .reduce = ocl_reduce,
    .count_nonfinite = ocl_count_nonfinite,
};

static const ns_plugin ocl_plugin = {
    .abi_version = NS_ABI_VERSION,
    .struct_size = sizeof(ns_plugin),
    .kind = NS_PLUGIN_BACKEND,
    .name = "opencl",
    .version = OCL_PLUGIN_VERSION,
    .description = "OpenCL backend: own kernels, CLBlast SGEMM on GPUs (PoCL, AMD, Intel, NVIDIA)",
    .probe = ocl_probe,
    .vtable = &ocl_api,
};

NS_PLUGIN_EXPORT const ns_plugin *ns_plugin_entry(void) { return &ocl_plugin; }
