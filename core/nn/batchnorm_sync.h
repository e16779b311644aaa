/* Synchronised batch normalisation (data parallelism, `--sync-bn`): the
 * training forward and backward of a batchnorm layer with the statistics of
 * the GLOBAL batch, i.e. of every rank's rows together, exactly as one
 * process normalising the whole batch would (the formulas of backend.h's
 * ns_bn_desc, in double on the host):
 *
 *   forward:  per channel, all-reduce (sum x, count) -> mean; all-reduce
 *             sum (x - mean)^2 -> biased var; y = gamma*(x-mean)*invstd + beta;
 *             running statistics updated with the global mean and unbiased var
 *             (so they are the same on every rank);
 *   backward: all-reduce (sum dy, sum dy*xhat) -> dx with the global sums
 *             and count; dgamma/dbeta are left as THIS rank's sums, because
 *             the step's fused gradient all-reduce sums them over ranks.
 *
 * It is a host path (download, reduce, upload): correct on any backend, not
 * fast; it is taken only when a layer's `sync` flag is set and the world has
 * more than one rank, so the single-process path is untouched. Every rank
 * must run the same layers in the same order (they do: same model, same step). */
#ifndef NS_NN_BATCHNORM_SYNC_H
#define NS_NN_BATCHNORM_SYNC_H

#include "nn/batchnorm.h"

ns_status ns_batchnorm_sync_forward(ns_backend *be, ns_batchnorm *l, const ns_buf *x, int n, int hw);
/* dy: the gradient at the batchnorm output (after the ReLU's backward). */
ns_status ns_batchnorm_sync_backward(ns_backend *be, ns_batchnorm *l, const ns_buf *x, int n, int hw,
                                     const ns_buf *dy, ns_buf *dx);

#endif
