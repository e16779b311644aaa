/* Kernel launches, argument checks and scratch buffers shared by the op files. */
#include <limits.h>
#include <stdio.h>
#include <time.h>
#include "ocl_internal.h"


static double now_s(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + 1e-9 * (double)ts.tv_nsec;
}

double ocl_profile_begin(ocl_ctx *c)
{
    if (!c->profile)
        return 0.0;
    clFinish(c->rt->queue);
    return now_s();
}

void ocl_profile_end(ocl_ctx *c, int slot, double t0)
{
    if (!c->profile)
        return;
    clFinish(c->rt->queue);
    c->prof_seconds[slot] += now_s() - t0;
    c->prof_calls[slot]++;
}

void ocl_profile_report(ocl_ctx *c)
{
    static const char *const gemm[4] = {"CLBlastSgemm NN", "CLBlastSgemm TN", "CLBlastSgemm NT",
                                        "CLBlastSgemm TT"};
    for (int i = 0; i < OCL_PROFILE_SLOTS; i++)
        if (c->prof_calls[i])
            c->host->log(0, "opencl profile: %-20s %7ld calls %9.3f s",
                         i < OCL_K_COUNT ? ocl_kernel_name((ocl_kernel_id)i) : gemm[i - OCL_K_COUNT],
                         c->prof_calls[i], c->prof_seconds[i]);
}

static ns_status set_args(ocl_ctx *c, const char *op, ocl_kernel_id k, const ocl_arg *args,
                          int nargs)
{
    for (int i = 0; i < nargs; i++) {
        cl_int err = clSetKernelArg(c->kernel[k], (cl_uint)i, args[i].size, args[i].value);
        if (err != CL_SUCCESS) {
            char call[96];
            snprintf(call, sizeof call, "clSetKernelArg(%s, %d)", ocl_kernel_name(k), i);
            return ocl_fail_cl(c->host, op, call, err);
        }
    }
    return NS_OK;
}

static ns_status enqueue_nd(ocl_ctx *c, const char *op, ocl_kernel_id k, cl_uint dims,
                            const size_t *global, const size_t *local)
{
    cl_int err = clEnqueueNDRangeKernel(c->rt->queue, c->kernel[k], dims, NULL, global, local, 0,
                                        NULL, NULL);
    if (err != CL_SUCCESS) {
        char call[96];
        snprintf(call, sizeof call, "clEnqueueNDRangeKernel(%s)", ocl_kernel_name(k));
        return ocl_fail_cl(c->host, op, call, err);
    }
    return NS_OK;
}

static ns_status enqueue(ocl_ctx *c, const char *op, ocl_kernel_id k, size_t global, size_t local)
{
    return enqueue_nd(c, op, k, 1, &global, &local);
}

ns_status ocl_launch(ocl_ctx *c, const char *op, ocl_kernel_id k, size_t items,
                     const ocl_arg *args, int nargs)
{
    if (items == 0)
        return NS_OK;
    ns_status st = set_args(c, op, k, args, nargs);
    if (st != NS_OK)
        return st;
    size_t local = c->local[k];
    double t0 = ocl_profile_begin(c);
    st = enqueue(c, op, k, (items + local - 1) / local * local, local);
    ocl_profile_end(c, k, t0);
    return st;
}

ns_status ocl_launch_2d(ocl_ctx *c, const char *op, ocl_kernel_id k, size_t items0,
                        size_t items1, const ocl_arg *args, int nargs)
{
    if (items0 == 0 || items1 == 0)
        return NS_OK;
    ns_status st = set_args(c, op, k, args, nargs);
    if (st != NS_OK)
        return st;
    /* A short row (an 8x8 plane) would leave most of a 256-wide group idle:
     * shrink dimension 0 to the row and stack rows in dimension 1 instead. */
    size_t l0 = c->local[k], l1 = 1;
    while (l0 / 2 >= items0 && l0 > 1) {
        l0 /= 2;
        l1 *= 2;
    }
    size_t local[2] = {l0, l1};
    size_t global[2] = {(items0 + l0 - 1) / l0 * l0, (items1 + l1 - 1) / l1 * l1};
    double t0 = ocl_profile_begin(c);
    st = enqueue_nd(c, op, k, 2, global, local);
    ocl_profile_end(c, k, t0);
    return st;
}

ns_status ocl_launch_groups(ocl_ctx *c, const char *op, ocl_kernel_id k, size_t groups,
                            const ocl_arg *args, int nargs)
{
    if (groups == 0)
        return NS_OK;
    ns_status st = set_args(c, op, k, args, nargs);
    if (st != NS_OK)
        return st;
    double t0 = ocl_profile_begin(c);
    st = enqueue(c, op, k, groups * c->local[k], c->local[k]);
    ocl_profile_end(c, k, t0);
    return st;
}

ns_status ocl_scratch_reserve(ocl_ctx *c, const char *op, ocl_scratch *s, size_t bytes)
{
    if (bytes <= s->bytes)
        return NS_OK;
    /* The queue is in order and OpenCL keeps a released buffer alive until the
     * commands using it finish, so the old one can go right away. */
    if (s->mem)
        clReleaseMemObject(s->mem);
    s->mem = NULL;
    s->bytes = 0;
    cl_int err;
    s->mem = clCreateBuffer(c->rt->context, CL_MEM_READ_WRITE, bytes, NULL, &err);
    if (err != CL_SUCCESS) {
        char call[96];
        snprintf(call, sizeof call, "clCreateBuffer(workspace, %zu bytes)", bytes);
        return ocl_fail_cl(c->host, op, call, err);
    }
    s->bytes = bytes;
    return NS_OK;
}

ns_status ocl_need(ocl_ctx *c, const char *op, const char *what, const ns_buf *b, size_t floats)
{
    if (!b) {
        c->host->set_error("opencl %s: %s is NULL, expected a buffer of %zu floats", op, what,
                           floats);
        return NS_ERR_INVALID_ARG;
    }
    if (b->n < floats) {
        c->host->set_error("opencl %s: %s holds %zu floats, expected at least %zu", op, what, b->n,
                           floats);
        return NS_ERR_INVALID_ARG;
    }
    return NS_OK;
}

ns_status ocl_sgemm(ocl_ctx *c, const char *op, int trans_a, int trans_b, size_t m, size_t n,
                    size_t k, float alpha, cl_mem a, size_t lda, cl_mem b, size_t ldb, float beta,
                    cl_mem cmat)
{
    if (m == 0 || n == 0)
        return NS_OK;
    if (k == 0) {
        if (beta != 0.0f)
            return NS_OK; /* only beta == 1 is used with k == 0: C stays */
        float zero = 0.0f;
        cl_int err = clEnqueueFillBuffer(c->rt->queue, cmat, &zero, sizeof zero, 0,
                                         m * n * sizeof(float), 0, NULL, NULL);
        return err == CL_SUCCESS ? NS_OK : ocl_fail_cl(c->host, op, "clEnqueueFillBuffer", err);
    }
    if (c->native_gemm && !(trans_a && trans_b)) {
        if (m > INT_MAX || n > INT_MAX || k > INT_MAX || lda > INT_MAX || ldb > INT_MAX) {
            c->host->set_error("opencl %s: SGEMM m=%zu n=%zu k=%zu exceeds the native kernel's "
                               "int indices", op, m, n, k);
            return NS_ERR_UNSUPPORTED;
        }
        const ocl_gemm_tile *t = &c->rt->tile;
        size_t tm = (size_t)t->tm, vw = (size_t)t->vw, nb = (size_t)t->ntb;
        if (!trans_b)
            return ocl_launch_2d(c, op, OCL_K_GEMM_NN, (n + vw - 1) / vw, (m + tm - 1) / tm,
                                 OCL_ARGS(OCL_MEM(a), OCL_I32((int)lda), OCL_I32(trans_a),
                                          OCL_MEM(b), OCL_I32((int)ldb), OCL_MEM(cmat),
                                          OCL_I32((int)m), OCL_I32((int)n), OCL_I32((int)k),
                                          OCL_F32(alpha), OCL_F32(beta)));
        return ocl_launch_2d(c, op, OCL_K_GEMM_NT, (n + nb - 1) / nb, (m + nb - 1) / nb,
                             OCL_ARGS(OCL_MEM(a), OCL_I32((int)lda), OCL_MEM(b),
                                      OCL_I32((int)ldb), OCL_MEM(cmat), OCL_I32((int)m),
                                      OCL_I32((int)n), OCL_I32((int)k), OCL_F32(alpha),
                                      OCL_F32(beta)));
    }
    double t0 = ocl_profile_begin(c);
    CLBlastStatusCode st =
        CLBlastSgemm(CLBlastLayoutRowMajor, trans_a ? CLBlastTransposeYes : CLBlastTransposeNo,
                     trans_b ? CLBlastTransposeYes : CLBlastTransposeNo, m, n, k, alpha, a, 0, lda,
                     b, 0, ldb, beta, cmat, 0, n, &c->rt->queue, NULL);
    ocl_profile_end(c, OCL_K_COUNT + (trans_a ? 1 : 0) + (trans_b ? 2 : 0), t0);
    if (st != CLBlastSuccess) {
        char call[96];
        snprintf(call, sizeof call, "CLBlastSgemm(m=%zu n=%zu k=%zu)", m, n, k);
        return ocl_fail_blast(c->host, op, call, st);
    }
    return NS_OK;
}
