/* OpenCL backend internals shared by the plugin's files (never seen by the host).
 *
 * One OpenCL context, queue and program per process (ocl_runtime, refcounted:
 * every backend context created in the process shares them, so PoCL and CLBlast
 * compile each kernel once). Each backend context (ocl_ctx) has its own kernel
 * objects (clSetKernelArg is not thread-safe), its own buffers and workspaces. */
#ifndef NS_OCL_INTERNAL_H
#define NS_OCL_INTERNAL_H

#include <stddef.h>
#include <stdint.h>

#include <CL/cl.h>
#include <clblast_c.h>
#include <noisystudent/backend.h>

#include "ocl_api.h"

/* Every OpenCL / CLBlast call goes through the run-time table (ocl_api.h). */
#define OCL_API_REDIRECT(name) ocl_fn.name
#define clGetPlatformIDs OCL_API_REDIRECT(clGetPlatformIDs)
#define clGetPlatformInfo OCL_API_REDIRECT(clGetPlatformInfo)
#define clGetDeviceIDs OCL_API_REDIRECT(clGetDeviceIDs)
#define clGetDeviceInfo OCL_API_REDIRECT(clGetDeviceInfo)
#define clCreateContext OCL_API_REDIRECT(clCreateContext)
#define clReleaseContext OCL_API_REDIRECT(clReleaseContext)
#define clCreateCommandQueue OCL_API_REDIRECT(clCreateCommandQueue)
#define clReleaseCommandQueue OCL_API_REDIRECT(clReleaseCommandQueue)
#define clCreateProgramWithSource OCL_API_REDIRECT(clCreateProgramWithSource)
#define clCreateProgramWithBinary OCL_API_REDIRECT(clCreateProgramWithBinary)
#define clBuildProgram OCL_API_REDIRECT(clBuildProgram)
#define clGetProgramBuildInfo OCL_API_REDIRECT(clGetProgramBuildInfo)
#define clGetProgramInfo OCL_API_REDIRECT(clGetProgramInfo)
#define clReleaseProgram OCL_API_REDIRECT(clReleaseProgram)
#define clCreateKernel OCL_API_REDIRECT(clCreateKernel)
#define clReleaseKernel OCL_API_REDIRECT(clReleaseKernel)
#define clGetKernelWorkGroupInfo OCL_API_REDIRECT(clGetKernelWorkGroupInfo)
#define clSetKernelArg OCL_API_REDIRECT(clSetKernelArg)
#define clEnqueueNDRangeKernel OCL_API_REDIRECT(clEnqueueNDRangeKernel)
#define clCreateBuffer OCL_API_REDIRECT(clCreateBuffer)
#define clReleaseMemObject OCL_API_REDIRECT(clReleaseMemObject)
#define clEnqueueWriteBuffer OCL_API_REDIRECT(clEnqueueWriteBuffer)
#define clEnqueueReadBuffer OCL_API_REDIRECT(clEnqueueReadBuffer)
#define clEnqueueFillBuffer OCL_API_REDIRECT(clEnqueueFillBuffer)
#define clEnqueueCopyBuffer OCL_API_REDIRECT(clEnqueueCopyBuffer)
#define clFinish OCL_API_REDIRECT(clFinish)
#define CLBlastSgemm OCL_API_REDIRECT(CLBlastSgemm)
#define CLBlastClearCache OCL_API_REDIRECT(CLBlastClearCache)

#define OCL_NAME_MAX 128

/* Every kernel of the kernels folder that the host side launches. */
typedef enum ocl_kernel_id {
    OCL_K_MASK_BERNOULLI,
    OCL_K_RELU_FORWARD,
    OCL_K_RELU_BACKWARD,
    OCL_K_ADD,
    OCL_K_AXPBY,
    OCL_K_MUL,
    OCL_K_MUL_ROWS,
    OCL_K_GAP_FORWARD,
    OCL_K_GAP_BACKWARD,
    OCL_K_GEMM_NN,
    OCL_K_GEMM_NT,
    OCL_K_IM2COL,
    OCL_K_COL2IM,
    OCL_K_NCHW_TO_CN,
    OCL_K_CN_TO_NCHW,
    OCL_K_PAD_PLANES,
    OCL_K_FLIP_WEIGHTS,
    OCL_K_CONV_DIRECT,
    OCL_K_CONV_DIRECT_DW,
    OCL_K_BN_FORWARD_TRAIN,
    OCL_K_BN_BACKWARD,
    OCL_K_BN_FORWARD_TRAIN_V16,
    OCL_K_BN_BACKWARD_V16,
    OCL_K_BN_FORWARD_INFER,
    OCL_K_BIAS_ADD,
    OCL_K_COLUMN_SUM,
    OCL_K_SOFTMAX_XENT,
    OCL_K_SOFTMAX,
    OCL_K_SGD_UPDATE,
    OCL_K_ADAM_UPDATE,
    OCL_K_REDUCE_PARTIAL,
    OCL_K_COUNT_NONFINITE,
    OCL_K_COUNT
} ocl_kernel_id;

#define OCL_PROFILE_SLOTS (OCL_K_COUNT + 4)

/* A chosen device: indices as `NS_OPENCL_DEVICE=platform:device` names them. */
typedef struct ocl_device_ref {
    cl_platform_id platform;
    cl_device_id device;
    int platform_index, device_index;
} ocl_device_ref;

/* The native SGEMM kernels' register tile (kernels/gemm.cl, ocl_gemm_tile.c). */
typedef struct ocl_gemm_tile {
    int tm, vw;   /* ns_gemm_nn: rows x columns of C per work-item */
    int ntb, ntv; /* ns_gemm_nt: ntb x ntb block, dot products in vectors of ntv */
} ocl_gemm_tile;

typedef struct ocl_runtime {
    int refs;
    ocl_device_ref dev;
    cl_context context;
    cl_command_queue queue;
    cl_program program;
    char device_name[OCL_NAME_MAX];
    char platform_name[OCL_NAME_MAX];
    char driver_version[64];
    size_t max_alloc_bytes;
    ocl_gemm_tile tile;        /* built into the program (-D options) */
    cl_uint native_float_width; /* CL_DEVICE_NATIVE_VECTOR_WIDTH_FLOAT, 0 if unknown */
    char program_origin[256]; /* "built from source, cached in <dir>" or "loaded from <file>" */
} ocl_runtime;

struct ns_buf {
    cl_mem mem; /* NULL when n == 0 (OpenCL has no empty buffers) */
    size_t n;
    struct ns_buf *prev, *next; /* the owning context's list, freed by destroy() */
};

/* A grow-only device scratch buffer. */
typedef struct ocl_scratch {
    cl_mem mem;
    size_t bytes;
} ocl_scratch;

typedef struct ocl_ctx {
    const ns_host_api *host;
    ocl_runtime *rt;
    cl_kernel kernel[OCL_K_COUNT];
    size_t local[OCL_K_COUNT]; /* power-of-two work-group size each kernel runs with */
    ns_buf *bufs;
    ocl_scratch ws_col, ws_k; /* convolution workspaces (ocl_conv.c) */
    ocl_scratch ws_wt;        /* flipped weights of the direct data gradient */
    ocl_scratch red_part, red_count; /* reduce partials */
    ocl_scratch red_nf;              /* count_nonfinite: one counter per buffer */
    size_t ws_cap_floats;     /* largest workspace chunk the convolution may use */
    int native_gemm;          /* own SGEMM kernels (CPU devices) instead of CLBlast */
    int direct_conv;          /* stride-1 convolutions on ns_conv_direct where shapes fit */
    /* NS_OPENCL_PROFILE=1: every launch is waited for and timed, the totals are
     * logged when the context is destroyed (kernels, then SGEMM by transposes). */
    int profile;
    double prof_seconds[OCL_PROFILE_SLOTS];
    long prof_calls[OCL_PROFILE_SLOTS];
    char describe[512];
} ocl_ctx;

/* ---- ocl_error.c ---- */
const char *ocl_cl_error_name(cl_int err);
const char *ocl_clblast_error_name(CLBlastStatusCode st);
/* NS_ERR_NOMEM for allocation failures, NS_ERR_DEVICE otherwise. */
ns_status ocl_status_of(cl_int err);
/* "<op>: <call> failed: CL_... (<code>)", returns ocl_status_of(err). */
ns_status ocl_fail_cl(const ns_host_api *host, const char *op, const char *call, cl_int err);
/* "<op>: CLBlast <call> failed: <name> (<code>)". */
ns_status ocl_fail_blast(const ns_host_api *host, const char *op, const char *call,
                         CLBlastStatusCode st);

/* ---- ocl_device.c ---- */
/* Resolves the device to use: `flat_index` >= 0 (the --device N of the CLI,
 * counting devices over all platforms in order) wins, then `spec` ("p:d", from
 * extra or NS_OPENCL_DEVICE), then the first GPU, then the first device. Fails
 * with a message naming what was missing (no platform/device, index out of range). */
ns_status ocl_device_select(const ns_host_api *host, int flat_index, const char *spec,
                            ocl_device_ref *out);
/* Parses "p:d" (NS_OPENCL_DEVICE, extra device=). host may be NULL (no message). */
ns_status ocl_device_parse_spec(const ns_host_api *host, const char *spec, int *pi, int *di);
/* "p:d name (type); ..." for every device seen, into buf (truncated). */
void ocl_device_list(char *buf, size_t len);
/* Device or platform string property, "" on failure. */
void ocl_device_string(cl_device_id d, cl_device_info what, char *buf, size_t len);
void ocl_platform_string(cl_platform_id p, cl_platform_info what, char *buf, size_t len);

/* ---- ocl_program.c ---- */
/* Builds `source` for rt's device, from the on-disk binary cache when an entry
 * for (device, driver, options, source) exists, otherwise from source, then
 * stores the binary. A compile failure reports the first lines of the build log. */
ns_status ocl_program_build(const ns_host_api *host, ocl_runtime *rt, const char *source,
                            const char *options, cl_program *out);

/* ---- ocl_gemm_tile.c ---- */
/* The tile for a device whose native float vector is `width` wide (the table). */
void ocl_gemm_tile_for_width(cl_uint width, ocl_gemm_tile *t);
/* "TMxVW,NTBxNTV" (NS_OPENCL_GEMM_TILE); fails naming the expected form (host may be NULL). */
ns_status ocl_gemm_tile_parse(const ns_host_api *host, const char *spec, ocl_gemm_tile *t);
/* The tile for dev: NS_OPENCL_GEMM_TILE when set, else the table; *native_width
 * gets the device's native float width (0 if it does not say). */
ns_status ocl_gemm_tile_choose(const ns_host_api *host, cl_device_id dev, ocl_gemm_tile *t,
                               cl_uint *native_width);
/* The -D build options that select tile t (leading space). */
void ocl_gemm_tile_options(const ocl_gemm_tile *t, char *buf, size_t len);

/* ---- ocl_runtime.c ---- */
/* Takes a reference to the process-wide runtime, creating it on the first call. */
ns_status ocl_runtime_acquire(const ns_host_api *host, int flat_index, const char *spec,
                              ocl_runtime **out);
void ocl_runtime_release(ocl_runtime *rt);
const char *ocl_kernel_name(ocl_kernel_id k);

/* ---- ocl_launch.c ---- */
typedef struct ocl_arg {
    size_t size;
    const void *value; /* NULL: __local memory of `size` bytes */
} ocl_arg;
#define OCL_MEM(b) ((ocl_arg){sizeof(cl_mem), &(cl_mem){(b)}})
#define OCL_F32(v) ((ocl_arg){sizeof(cl_float), &(cl_float){(v)}})
#define OCL_I32(v) ((ocl_arg){sizeof(cl_int), &(cl_int){(v)}})
#define OCL_U32(v) ((ocl_arg){sizeof(cl_uint), &(cl_uint){(v)}})
#define OCL_U64(v) ((ocl_arg){sizeof(cl_ulong), &(cl_ulong){(v)}})
#define OCL_LOCAL(bytes) ((ocl_arg){(bytes), NULL})

/* Enqueues kernel k over `items` work-items (rounded up to the kernel's
 * work-group size; kernels check their bound). */
ns_status ocl_launch(ocl_ctx *c, const char *op, ocl_kernel_id k, size_t items,
                     const ocl_arg *args, int nargs);
/* Enqueues kernel k over an items0 x items1 range (dimension 0 contiguous);
 * kernels check both bounds. */
ns_status ocl_launch_2d(ocl_ctx *c, const char *op, ocl_kernel_id k, size_t items0,
                        size_t items1, const ocl_arg *args, int nargs);
/* Enqueues kernel k as `groups` work-groups of c->local[k] items each. */
ns_status ocl_launch_groups(ocl_ctx *c, const char *op, ocl_kernel_id k, size_t groups,
                            const ocl_arg *args, int nargs);
#define OCL_ARGS(...) (const ocl_arg[]){__VA_ARGS__}, \
    (int)(sizeof((ocl_arg[]){__VA_ARGS__}) / sizeof(ocl_arg))

/* Row-major C[m][n] = alpha * op(A) op(B) + beta * C through CLBlast, with
 * leading dimensions as CLBlast takes them and C contiguous (ldc = n). A zero
 * inner dimension gives beta*C (beta 0: zeros). */
ns_status ocl_sgemm(ocl_ctx *c, const char *op, int trans_a, int trans_b, size_t m, size_t n,
                    size_t k, float alpha, cl_mem a, size_t lda, cl_mem b, size_t ldb, float beta,
                    cl_mem cmat);

/* Per-launch timing when c->profile is set (see ocl_ctx); no-ops otherwise. */
double ocl_profile_begin(ocl_ctx *c);
void ocl_profile_end(ocl_ctx *c, int slot, double t0);
void ocl_profile_report(ocl_ctx *c);

/* Makes s hold at least `bytes` (contents not kept). */
ns_status ocl_scratch_reserve(ocl_ctx *c, const char *op, ocl_scratch *s, size_t bytes);

/* Argument check: fails with "<op>: <what> holds N floats, expected at least M" when
 * b is NULL or too small. */
ns_status ocl_need(ocl_ctx *c, const char *op, const char *what, const ns_buf *b, size_t floats);

/* ---- op files: the vtable slots ---- */
ns_status ocl_buf_alloc(void *ctx, size_t n, ns_buf **out);
void ocl_buf_free(void *ctx, ns_buf *b);
ns_status ocl_upload(void *ctx, ns_buf *dst, size_t offset, const float *src, size_t n);
ns_status ocl_download(void *ctx, const ns_buf *src, size_t offset, float *dst, size_t n);
ns_status ocl_fill(void *ctx, ns_buf *dst, size_t n, float value);
ns_status ocl_copy(void *ctx, ns_buf *dst, const ns_buf *src, size_t n);
ns_status ocl_synchronize(void *ctx);

ns_status ocl_conv2d_forward(void *ctx, const ns_conv_desc *d, const ns_buf *x, const ns_buf *w,
                             ns_buf *y);
ns_status ocl_conv2d_backward_data(void *ctx, const ns_conv_desc *d, const ns_buf *dy,
                                   const ns_buf *w, ns_buf *dx);
ns_status ocl_conv2d_backward_filter(void *ctx, const ns_conv_desc *d, const ns_buf *x,
                                     const ns_buf *dy, ns_buf *dw);

ns_status ocl_batchnorm_forward_train(void *ctx, const ns_bn_desc *d, const ns_buf *x,
                                      const ns_buf *gamma, const ns_buf *beta,
                                      ns_buf *running_mean, ns_buf *running_var, ns_buf *y,
                                      ns_buf *save_mean, ns_buf *save_invstd);
ns_status ocl_batchnorm_forward_infer(void *ctx, const ns_bn_desc *d, const ns_buf *x,
                                      const ns_buf *gamma, const ns_buf *beta,
                                      const ns_buf *running_mean, const ns_buf *running_var,
                                      ns_buf *y);
ns_status ocl_batchnorm_backward(void *ctx, const ns_bn_desc *d, const ns_buf *x,
                                 const ns_buf *dy, const ns_buf *gamma, const ns_buf *save_mean,
                                 const ns_buf *save_invstd, ns_buf *dx, ns_buf *dgamma,
                                 ns_buf *dbeta);

ns_status ocl_relu_forward(void *ctx, const ns_buf *x, ns_buf *y, size_t n);
ns_status ocl_relu_backward(void *ctx, const ns_buf *y, const ns_buf *dy, ns_buf *dx, size_t n);
ns_status ocl_add(void *ctx, const ns_buf *a, const ns_buf *b, ns_buf *y, size_t n);
ns_status ocl_axpby(void *ctx, const ns_buf *x, ns_buf *y, size_t n, float alpha, float beta);
ns_status ocl_mul(void *ctx, const ns_buf *a, const ns_buf *b, ns_buf *y, size_t n);
ns_status ocl_mul_rows(void *ctx, const ns_buf *x, const ns_buf *scale, ns_buf *y, size_t rows,
                       size_t cols);
ns_status ocl_mask_bernoulli(void *ctx, ns_buf *mask, size_t n, float keep_prob, float scale,
                             uint64_t seed, uint64_t stream);
ns_status ocl_global_avg_pool_forward(void *ctx, const ns_buf *x, ns_buf *y, int n, int c,
                                      int hw);
ns_status ocl_global_avg_pool_backward(void *ctx, const ns_buf *dy, ns_buf *dx, int n, int c,
                                       int hw);

ns_status ocl_dense_forward(void *ctx, const ns_dense_desc *d, const ns_buf *x, const ns_buf *w,
                            const ns_buf *b, ns_buf *y);
ns_status ocl_dense_backward(void *ctx, const ns_dense_desc *d, const ns_buf *x, const ns_buf *w,
                             const ns_buf *dy, ns_buf *dx, ns_buf *dw, ns_buf *db);

ns_status ocl_softmax_cross_entropy(void *ctx, int n, int classes, const ns_buf *logits,
                                    const ns_buf *targets, float grad_scale, ns_buf *loss,
                                    ns_buf *dlogits);
ns_status ocl_softmax(void *ctx, int n, int classes, const ns_buf *logits, ns_buf *probs);

ns_status ocl_sgd_update(void *ctx, const ns_sgd_params *p, ns_buf *w, const ns_buf *g,
                         ns_buf *velocity, size_t n);
ns_status ocl_adam_update(void *ctx, const ns_adam_params *p, ns_buf *w, const ns_buf *g,
                          ns_buf *m, ns_buf *v, size_t n);

ns_status ocl_reduce(void *ctx, const ns_buf *x, size_t n, ns_reduce_result *out);
ns_status ocl_count_nonfinite(void *ctx, size_t count, const ns_buf *const *xs, const size_t *ns,
                              uint64_t *out);

#endif
