/* Sharded labeling: under `mpirun -np N` each rank labels one contiguous
 * shard of the source and rank 0 gathers the records into the one label set
 * that it writes. The shards are made of WHOLE batches of the single-process
 * run (rank r gets batches [nb*r/N, nb*(r+1)/N) of nb), so every forward pass
 * sees exactly the images it would see in one process and the label file is
 * the same bytes for any N. In one process (N == 1) the shard is everything. */
#ifndef NS_SELFTRAIN_LABEL_SHARD_H
#define NS_SELFTRAIN_LABEL_SHARD_H

#include <stddef.h>

#include "selftrain/label_file.h"

/* Records [*lo, *hi) of `count` (taken `batch` at a time) belong to `rank` of
 * `size`: contiguous, in rank order, together exactly [0, count); a shard may
 * be empty when there are fewer batches than ranks. batch <= 0 counts as 1. */
void ns_label_shard_range(size_t count, int batch, int rank, int size, size_t *lo, size_t *hi);

/* Collective: every rank of the world calls it once, with `local` the status
 * of labeling its own shard into `part` (records lo..hi of ns_label_shard_range
 * for this rank; part may be empty when local is not NS_OK) and `count` the
 * whole source's size.
 * First the ranks agree that all succeeded and saw the same count; then
 * rank 0 receives every record, in source order, into *whole (allocated here
 * for `count` records of part->classes, source, labeled_by and tta copied
 * from part, top and confidence recomputed); on the other ranks *whole has
 * count 0 (no arrays; source and classes set): only rank 0 writes the file.
 * Errors: `local` itself on a rank that failed (its message kept); on the
 * others NS_ERR_IO naming a failed rank, or NS_ERR_FORMAT when the ranks saw
 * different counts (different files on different hosts); the collectives'
 * errors. On error *whole is empty. Ownership: part stays the caller's. */
ns_status ns_label_shard_gather(ns_status local, const ns_label_set *part, size_t count, int batch,
                                ns_label_set *whole);

#endif
