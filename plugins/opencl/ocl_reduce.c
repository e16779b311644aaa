/* Statistics of a buffer: per-work-group partials on the device, finished in
 * double on the host. */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "ocl_internal.h"

#define OCL_REDUCE_GROUPS 64

ns_status ocl_reduce(void *ctx, const ns_buf *x, size_t n, ns_reduce_result *out)
{
    ocl_ctx *c = ctx;
    const char *op = "reduce";
    if (!out) {
        c->host->set_error("opencl %s: out is NULL", op);
        return NS_ERR_INVALID_ARG;
    }
    memset(out, 0, sizeof *out);
    ns_status st = ocl_need(c, op, "x", x, n);
    if (st != NS_OK || n == 0)
        return st;
    size_t local = c->local[OCL_K_REDUCE_PARTIAL];
    size_t groups = (n + local - 1) / local;
    if (groups > OCL_REDUCE_GROUPS)
        groups = OCL_REDUCE_GROUPS;
    st = ocl_scratch_reserve(c, op, &c->red_part, groups * 3 * sizeof(float));
    if (st == NS_OK)
        st = ocl_scratch_reserve(c, op, &c->red_count, groups * sizeof(cl_uint));
    if (st == NS_OK)
        st = ocl_launch_groups(c, op, OCL_K_REDUCE_PARTIAL, groups,
                               OCL_ARGS(OCL_MEM(x->mem), OCL_U64(n), OCL_MEM(c->red_part.mem),
                                        OCL_MEM(c->red_count.mem),
                                        OCL_LOCAL(local * sizeof(float)),
                                        OCL_LOCAL(local * sizeof(float)),
                                        OCL_LOCAL(local * sizeof(float)),
                                        OCL_LOCAL(local * sizeof(cl_uint))));
    if (st != NS_OK)
        return st;
    float part[OCL_REDUCE_GROUPS * 3];
    cl_uint count[OCL_REDUCE_GROUPS];
    cl_int err = clEnqueueReadBuffer(c->rt->queue, c->red_part.mem, CL_TRUE, 0,
                                     groups * 3 * sizeof(float), part, 0, NULL, NULL);
    if (err == CL_SUCCESS)
        err = clEnqueueReadBuffer(c->rt->queue, c->red_count.mem, CL_TRUE, 0,
                                  groups * sizeof(cl_uint), count, 0, NULL, NULL);
    if (err != CL_SUCCESS)
        return ocl_fail_cl(c->host, op, "clEnqueueReadBuffer", err);
    for (size_t g = 0; g < groups; g++) {
        out->sum += part[3 * g];
        out->sum_sq += part[3 * g + 1];
        if (part[3 * g + 2] > out->max_abs)
            out->max_abs = part[3 * g + 2];
        out->nonfinite += count[g];
    }
    return NS_OK;
}

/* The training step's NaN/Inf guard over many buffers (ABI 1.2): one kernel
 * launch per buffer into its own counter, queued back to back, and ONE
 * blocking read of all the counters: one host sync per step. */
ns_status ocl_count_nonfinite(void *ctx, size_t count, const ns_buf *const *xs, const size_t *ns,
                              uint64_t *out)
{
    ocl_ctx *c = ctx;
    const char *op = "count_nonfinite";
    if (!out) {
        c->host->set_error("opencl %s: out is NULL", op);
        return NS_ERR_INVALID_ARG;
    }
    *out = 0;
    if (count && (!xs || !ns)) {
        c->host->set_error("opencl %s: %s is NULL for %zu buffers", op, !xs ? "xs" : "ns", count);
        return NS_ERR_INVALID_ARG;
    }
    ns_status st = NS_OK;
    for (size_t i = 0; st == NS_OK && i < count; i++)
        st = ocl_need(c, op, "xs[i]", xs[i], ns[i]);
    if (st != NS_OK || count == 0)
        return st;
    if (count > 0xffffffffu) {
        c->host->set_error("opencl %s: %zu buffers, at most 2^32-1 in one call", op, count);
        return NS_ERR_INVALID_ARG;
    }
    st = ocl_scratch_reserve(c, op, &c->red_nf, count * sizeof(cl_uint));
    if (st != NS_OK)
        return st;
    const cl_uint zero = 0;
    cl_int err = clEnqueueFillBuffer(c->rt->queue, c->red_nf.mem, &zero, sizeof zero, 0, count * sizeof(cl_uint),
                                     0, NULL, NULL);
    if (err != CL_SUCCESS)
        return ocl_fail_cl(c->host, op, "clEnqueueFillBuffer", err);
    const size_t local = c->local[OCL_K_COUNT_NONFINITE];
    for (size_t i = 0; st == NS_OK && i < count; i++) {
        if (ns[i] == 0)
            continue;
        size_t groups = (ns[i] + local - 1) / local;
        if (groups > OCL_REDUCE_GROUPS)
            groups = OCL_REDUCE_GROUPS;
        st = ocl_launch_groups(c, op, OCL_K_COUNT_NONFINITE, groups,
                               OCL_ARGS(OCL_MEM(xs[i]->mem), OCL_U64(ns[i]), OCL_MEM(c->red_nf.mem),
                                        OCL_U32((cl_uint)i)));
    }
    if (st != NS_OK)
        return st;
    cl_uint *counts = malloc(count * sizeof *counts);
    if (!counts) {
        c->host->set_error("opencl %s: out of host memory for %zu counters", op, count);
        return NS_ERR_NOMEM;
    }
    err = clEnqueueReadBuffer(c->rt->queue, c->red_nf.mem, CL_TRUE, 0, count * sizeof(cl_uint), counts, 0, NULL,
                              NULL);
    if (err == CL_SUCCESS)
        for (size_t i = 0; i < count; i++)
            *out += counts[i];
    free(counts);
    return err == CL_SUCCESS ? NS_OK : ocl_fail_cl(c->host, op, "clEnqueueReadBuffer", err);
}
