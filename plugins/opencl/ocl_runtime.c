/* The process-wide OpenCL state: one context, one in-order queue and one program
 * per process, shared (refcounted) by every backend context. A second backend
 * context asking for a different device is refused rather than silently given
 * the first one. */
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "ocl_internal.h"
#include "ocl_kernel_source.h"

/* The program's build options: OpenCL C 1.2 keeps the kernels portable to every
 * driver (PoCL, AMD, Intel, NVIDIA); no fast-math, so results track `ref`. */
#define OCL_BUILD_OPTIONS "-cl-std=CL1.2"

static pthread_mutex_t rt_lock = PTHREAD_MUTEX_INITIALIZER;
static ocl_runtime *rt_shared;

static const char *const kernel_names[OCL_K_COUNT] = {
    [OCL_K_MASK_BERNOULLI] = "ns_mask_bernoulli",
    [OCL_K_RELU_FORWARD] = "ns_relu_forward",
    [OCL_K_RELU_BACKWARD] = "ns_relu_backward",
    [OCL_K_ADD] = "ns_add",
    [OCL_K_AXPBY] = "ns_axpby",
    [OCL_K_MUL] = "ns_mul",
    [OCL_K_MUL_ROWS] = "ns_mul_rows",
    [OCL_K_GAP_FORWARD] = "ns_gap_forward",
    [OCL_K_GAP_BACKWARD] = "ns_gap_backward",
    [OCL_K_GEMM_NN] = "ns_gemm_nn",
    [OCL_K_GEMM_NT] = "ns_gemm_nt",
    [OCL_K_IM2COL] = "ns_im2col",
    [OCL_K_COL2IM] = "ns_col2im",
    [OCL_K_NCHW_TO_CN] = "ns_nchw_to_cn",
    [OCL_K_CN_TO_NCHW] = "ns_cn_to_nchw",
    [OCL_K_PAD_PLANES] = "ns_pad_planes",
    [OCL_K_FLIP_WEIGHTS] = "ns_flip_weights",
    [OCL_K_CONV_DIRECT] = "ns_conv_direct",
    [OCL_K_CONV_DIRECT_DW] = "ns_conv_direct_dw",
    [OCL_K_BN_FORWARD_TRAIN] = "ns_bn_forward_train",
    [OCL_K_BN_BACKWARD] = "ns_bn_backward",
    [OCL_K_BN_FORWARD_TRAIN_V16] = "ns_bn_forward_train_v16",
    [OCL_K_BN_BACKWARD_V16] = "ns_bn_backward_v16",
    [OCL_K_BN_FORWARD_INFER] = "ns_bn_forward_infer",
    [OCL_K_BIAS_ADD] = "ns_bias_add",
    [OCL_K_COLUMN_SUM] = "ns_column_sum",
    [OCL_K_SOFTMAX_XENT] = "ns_softmax_xent",
    [OCL_K_SOFTMAX] = "ns_softmax",
    [OCL_K_SGD_UPDATE] = "ns_sgd_update",
    [OCL_K_ADAM_UPDATE] = "ns_adam_update",
    [OCL_K_REDUCE_PARTIAL] = "ns_reduce_partial",
    [OCL_K_COUNT_NONFINITE] = "ns_count_nonfinite",
};

const char *ocl_kernel_name(ocl_kernel_id k) { return kernel_names[k]; }

/* All embedded .cl files, in build order, as one source string (malloc'd). */
static char *joined_source(void)
{
    size_t total = 1;
    for (int i = 0; i < NS_OCL_SOURCE_COUNT; i++)
        total += strlen(ns_ocl_sources[i].text) + 1;
    char *s = malloc(total), *p = s;
    if (!s)
        return NULL;
    for (int i = 0; i < NS_OCL_SOURCE_COUNT; i++) {
        size_t n = strlen(ns_ocl_sources[i].text);
        memcpy(p, ns_ocl_sources[i].text, n);
        p += n;
        *p++ = '\n';
    }
    *p = '\0';
    return s;
}

static void runtime_free(ocl_runtime *rt)
{
    /* CLBlast caches programs per context; they hold our context alive. */
    if (rt->context)
        CLBlastClearCache();
    if (rt->program)
        clReleaseProgram(rt->program);
    if (rt->queue)
        clReleaseCommandQueue(rt->queue);
    if (rt->context)
        clReleaseContext(rt->context);
    free(rt);
}

static ns_status runtime_create(const ns_host_api *host, const ocl_device_ref *dev,
                                ocl_runtime **out)
{
    ocl_runtime *rt = calloc(1, sizeof *rt);
    if (!rt) {
        host->set_error("opencl create: out of host memory");
        return NS_ERR_NOMEM;
    }
    rt->dev = *dev;
    ocl_device_string(dev->device, CL_DEVICE_NAME, rt->device_name, sizeof rt->device_name);
    ocl_device_string(dev->device, CL_DRIVER_VERSION, rt->driver_version,
                      sizeof rt->driver_version);
    ocl_platform_string(dev->platform, CL_PLATFORM_NAME, rt->platform_name,
                        sizeof rt->platform_name);
    cl_ulong max_alloc = 0;
    clGetDeviceInfo(dev->device, CL_DEVICE_MAX_MEM_ALLOC_SIZE, sizeof max_alloc, &max_alloc, NULL);
    rt->max_alloc_bytes = max_alloc ? (size_t)max_alloc : ((size_t)1 << 28);

    cl_int err;
    cl_context_properties props[] = {CL_CONTEXT_PLATFORM, (cl_context_properties)dev->platform,
                                     0};
    rt->context = clCreateContext(props, 1, &dev->device, NULL, NULL, &err);
    if (err != CL_SUCCESS) {
        runtime_free(rt);
        return ocl_fail_cl(host, "create", "clCreateContext", err);
    }
    rt->queue = clCreateCommandQueue(rt->context, dev->device, 0, &err);
    if (err != CL_SUCCESS) {
        runtime_free(rt);
        return ocl_fail_cl(host, "create", "clCreateCommandQueue", err);
    }
    char *src = joined_source();
    if (!src) {
        runtime_free(rt);
        host->set_error("opencl create: out of host memory joining kernel sources");
        return NS_ERR_NOMEM;
    }
    ns_status st =
        ocl_gemm_tile_choose(host, dev->device, &rt->tile, &rt->native_float_width);
    char options[160];
    snprintf(options, sizeof options, "%s", OCL_BUILD_OPTIONS);
    ocl_gemm_tile_options(&rt->tile, options + strlen(options), sizeof options - strlen(options));
    if (st == NS_OK)
        st = ocl_program_build(host, rt, src, options, &rt->program);
    free(src);
    if (st != NS_OK) {
        runtime_free(rt);
        return st;
    }
    *out = rt;
    return NS_OK;
}

ns_status ocl_runtime_acquire(const ns_host_api *host, int flat_index, const char *spec,
                              ocl_runtime **out)
{
    ns_status st = NS_OK;
    pthread_mutex_lock(&rt_lock);
    int explicit_choice = flat_index >= 0 || (spec && *spec);
    if (rt_shared && !explicit_choice) {
        rt_shared->refs++;
        *out = rt_shared;
        goto done;
    }
    ocl_device_ref dev;
    st = ocl_device_select(host, flat_index, spec, &dev);
    if (st != NS_OK)
        goto done;
    if (rt_shared) {
        if (rt_shared->dev.device != dev.device) {
            host->set_error("opencl create: device %d:%d requested but this process already "
                            "runs on %d:%d (%s); one OpenCL device per process",
                            dev.platform_index, dev.device_index,
                            rt_shared->dev.platform_index, rt_shared->dev.device_index,
                            rt_shared->device_name);
            st = NS_ERR_UNSUPPORTED;
            goto done;
        }
        rt_shared->refs++;
        *out = rt_shared;
        goto done;
    }
    st = runtime_create(host, &dev, &rt_shared);
    if (st == NS_OK) {
        rt_shared->refs = 1;
        *out = rt_shared;
    }
done:
    pthread_mutex_unlock(&rt_lock);
    return st;
}

void ocl_runtime_release(ocl_runtime *rt)
{
    pthread_mutex_lock(&rt_lock);
    if (rt && --rt->refs == 0) {
        clFinish(rt->queue);
        runtime_free(rt);
        rt_shared = NULL;
    }
    pthread_mutex_unlock(&rt_lock);
}
