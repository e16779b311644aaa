/* Device all-reduce across processes with NCCL (ABI 1.3 slots). libnccl is
 * opened with dlopen on first use, so the plugin loads, and every other op
 * runs, on a machine without it; only these slots then say
 * NS_ERR_UNSUPPORTED and the host keeps its MPI path. Private to plugins/cuda. */
#ifndef NS_CUDA_NCCL_H
#define NS_CUDA_NCCL_H

#include <stddef.h>

#include <noisystudent/backend.h>

ns_status ns_cuda_dist_unique_id(void *ctx, void *id, size_t cap, size_t *id_bytes);
ns_status ns_cuda_dist_attach(void *ctx, int rank, int size, const void *id, size_t id_bytes);
ns_status ns_cuda_allreduce_sum(void *ctx, size_t count, ns_buf *const *bufs, const size_t *ns, float scale);

/* destroy(): the communicator goes before the stream it was used on. */
void ns_cuda_nccl_release(void *ctx);

#endif
