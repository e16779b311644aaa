/* Buffer statistics on the device; only the 32-byte result crosses to the host. */
#include <string.h>

#include "cuda_context.h"
#include "cuda_ops.h"
#include "kernels.h"

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
    NS_CUDA_TRY(ns_cuda_enter(c, op));
    void *scratch;
    NS_CUDA_TRY(ns_cuda_scratch(c, op, sizeof(ns_k_reduce_acc), &scratch));
    ns_k_reduce_acc *acc = scratch;
    NS_CUDA_RT(c, op, cudaMemsetAsync(acc, 0, sizeof *acc, c->stream));
    NS_CUDA_RT(c, op, ns_k_reduce(c->stream, x->ptr, n, acc));
    ns_k_reduce_acc h;
    NS_CUDA_RT(c, op, cudaMemcpyAsync(&h, acc, sizeof h, cudaMemcpyDeviceToHost, c->stream));
    NS_CUDA_RT(c, op, cudaStreamSynchronize(c->stream));
    out->sum = h.sum;
    out->sum_sq = h.sum_sq;
    memcpy(&out->max_abs, &h.max_abs_bits, sizeof out->max_abs);
    out->nonfinite = h.nonfinite;
    return NS_OK;
}
