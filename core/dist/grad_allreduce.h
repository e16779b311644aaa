/* Data-parallel glue between the process world (dist.h) and a backend's
 * buffers: the fused gradient all-reduce of every training step (Horovod's
 * tensor fusion: one collective over one flat buffer, not one per tensor),
 * and the broadcast that makes every rank hold rank 0's tensors.
 *
 * Single process (ns_dist_size() == 1): every function returns NS_OK without
 * touching a buffer, so the one-process path pays one branch.
 * Every rank must call with the same tensors in the same order (MPI's rule).
 * Errors: NS_ERR_NOMEM, a backend's download/upload status, or the
 * collective's NS_ERR_IO; the caller fails and main ends every rank. */
#ifndef NS_DIST_GRAD_ALLREDUCE_H
#define NS_DIST_GRAD_ALLREDUCE_H

#include <stddef.h>

#include "plugin/backend_loader.h"

/* Fusion buffer: host scratch reused step after step (grown on demand). */
typedef struct ns_grad_fusion {
    float *host;
    size_t cap; /* floats */
    double seconds; /* time spent in the all-reduce (download + reduce + upload), summed */
    unsigned long long calls;
} ns_grad_fusion;

/* Sums bufs[0..n) (sizes[i] floats each) over all ranks, in place on every
 * rank: the n tensors are packed into one flat host buffer, reduced in ONE
 * ns_dist_allreduce_sum_f32, and unpacked. This is the host path; a backend
 * with a device all-reduce slot (NCCL) is called here instead when present. */
ns_status ns_grad_allreduce(ns_backend *be, ns_grad_fusion *f, size_t n, ns_buf *const *bufs, const size_t *sizes);

/* Copies rank `root`'s bufs[0..n) to every rank (one fused broadcast). */
ns_status ns_dist_broadcast_bufs(ns_backend *be, ns_grad_fusion *f, size_t n, ns_buf *const *bufs,
                                 const size_t *sizes, int root);

void ns_grad_fusion_free(ns_grad_fusion *f); /* frees the scratch; the struct may be reused */

#endif
