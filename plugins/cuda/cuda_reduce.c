/* Buffer statistics on the device; only the 32-byte result crosses to the host. */
#include <string.h>

#include "cuda_context.h"
#include "cuda_ops.h"
#include "kernels.h"

/* Runs the reduce kernel over each buffer into ONE zeroed accumulator, queued
 * back to back on the stream, and copies that accumulator back: one host sync
 * however many buffers. */
static ns_status reduce_to_host(ns_cuda_ctx *c, const char *op, size_t count, const ns_buf *const *xs,
                                const size_t *ns, ns_k_reduce_acc *h)
{
    NS_CUDA_TRY(ns_cuda_enter(c, op));
    void *scratch;
    NS_CUDA_TRY(ns_cuda_scratch(c, op, sizeof(ns_k_reduce_acc), &scratch));
    ns_k_reduce_acc *acc = scratch;
    NS_CUDA_RT(c, op, cudaMemsetAsync(acc, 0, sizeof *acc, c->stream));
    for (size_t i = 0; i < count; i++) {
        const float *xp;
        NS_CUDA_TRY(ns_cuda_rd(c, op, xs[i], &xp));
        NS_CUDA_RT(c, op, ns_k_reduce(c->stream, xp, ns[i], acc));
    }
    NS_CUDA_RT(c, op, cudaMemcpyAsync(h, acc, sizeof *h, cudaMemcpyDeviceToHost, c->stream));
    NS_CUDA_RT(c, op, cudaStreamSynchronize(c->stream));
    return NS_OK;
}

ns_status ns_cuda_reduce(void *ctx, const ns_buf *x, size_t n, ns_reduce_result *out)
{
    ns_cuda_ctx *c = ctx;
    const char *op = "reduce";
    NS_CUDA_TRY(ns_cuda_need(c, op, "x", x, n));
    if (!out) {
        c->host->set_error("reduce: out is NULL");
        return NS_ERR_INVALID_ARG;
    }
    memset(out, 0, sizeof *out);
    if (n == 0)
        return NS_OK;
    ns_k_reduce_acc h;
    NS_CUDA_TRY(reduce_to_host(c, op, 1, &x, &n, &h));
    out->sum = h.sum;
    out->sum_sq = h.sum_sq;
    memcpy(&out->max_abs, &h.max_abs_bits, sizeof out->max_abs);
    out->nonfinite = h.nonfinite;
    return NS_OK;
}

/* The training step's NaN/Inf guard over many buffers (ABI 1.2): one
 * accumulator for all of them (reduce_to_host), so one host sync per step
 * instead of one per parameter tensor. Only its non-finite count is used (the
 * sums of different buffers added together mean nothing). */
ns_status ns_cuda_count_nonfinite(void *ctx, size_t count, const ns_buf *const *xs, const size_t *ns,
                                  uint64_t *out)
{
    ns_cuda_ctx *c = ctx;
    const char *op = "count_nonfinite";
    if (!out) {
        c->host->set_error("count_nonfinite: out is NULL");
        return NS_ERR_INVALID_ARG;
    }
    *out = 0;
    if (count && (!xs || !ns)) {
        c->host->set_error("count_nonfinite: %s is NULL for %zu buffers", !xs ? "xs" : "ns", count);
        return NS_ERR_INVALID_ARG;
    }
    for (size_t i = 0; i < count; i++)
        NS_CUDA_TRY(ns_cuda_need(c, op, "xs[i]", xs[i], ns[i]));
    if (count == 0)
        return NS_OK;
    ns_k_reduce_acc h;
    NS_CUDA_TRY(reduce_to_host(c, op, count, xs, ns, &h));
    *out = h.nonfinite;
    return NS_OK;
}
