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
