/* Sums device buffers across the process world: through the backend's own
 * collective library when it has one (ABI 1.3 slots dist_unique_id,
 * dist_attach, allreduce_sum: NCCL on cuda), otherwise the host path
 * (download into one fused host buffer, MPI all-reduce, upload).
 *
 * Single process (ns_dist_size() == 1): attach does nothing and the
 * all-reduce only scales (scale 1: touches nothing).
 * Collectives: every rank calls them in the same order with the same sizes.
 * Errors: NS_ERR_NOMEM, the backend's status, the world's NS_ERR_IO; the
 * caller fails and main ends every rank. */
#ifndef NS_DIST_DEVICE_ALLREDUCE_H
#define NS_DIST_DEVICE_ALLREDUCE_H

#include <stddef.h>

#include "plugin/backend_loader.h"

/* Sets the backend up for device all-reduces in this world, once per
 * backend (later calls return at once; be->dist_tried records the try): rank 0 asks it for a communicator id, the world broadcasts the
 * bytes, every rank attaches. be->dist_attached becomes 1 only when EVERY
 * rank attached (they agree through one all-reduce); otherwise every rank
 * keeps the host path and *why (may be NULL) says why in a line (e.g. "cpu
 * has no device collectives"). Returns NS_OK in both cases; an error only
 * when the world's own collectives fail. */
ns_status ns_dist_device_attach(ns_backend *be, char *why, size_t why_cap);

/* Host scratch of the fallback path, reused call after call. */
typedef struct ns_dist_fusion {
    float *host;
    size_t cap; /* floats */
} ns_dist_fusion;

/* bufs[i][0 .. ns[i]) = scale * sum over the ranks, in place on every rank,
 * for i < count: the backend's allreduce_sum once attached, else one fused
 * host all-reduce through `f`. */
ns_status ns_dist_device_allreduce(ns_backend *be, ns_dist_fusion *f, size_t count, ns_buf *const *bufs,
                                   const size_t *ns, float scale);

void ns_dist_fusion_free(ns_dist_fusion *f); /* the struct may be reused after */

#endif
