#include "selftrain/label_shard.h"

#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "dist/dist.h"
#include "util/error.h"

void ns_label_shard_range(size_t count, int batch, int rank, int size, size_t *lo, size_t *hi)
{
    const size_t b = batch > 0 ? (size_t)batch : 1;
    const size_t nb = (count + b - 1) / b;
    /* nb * rank fits easily: nb <= 2^32 (label files hold <= UINT32_MAX
     * records) and rank < 2^31. */
    const size_t first = nb * (size_t)rank / (size_t)size, last = nb * (size_t)(rank + 1) / (size_t)size;
    *lo = first * b < count ? first * b : count;
    *hi = last * b < count ? last * b : count;
}

/* counts[r] = rank r's shard length times `unit` bytes. */
static void shard_bytes(size_t count, int batch, int size, size_t unit, size_t *counts)
{
    for (int r = 0; r < size; r++) {
        size_t lo, hi;
        ns_label_shard_range(count, batch, r, size, &lo, &hi);
        counts[r] = (hi - lo) * unit;
    }
}

ns_status ns_label_shard_gather(ns_status local, const ns_label_set *part, size_t count, int batch,
                                ns_label_set *whole)
{
    memset(whole, 0, sizeof *whole);
    const int rank = ns_dist_rank(), size = ns_dist_size();
    size_t lo, hi;
    ns_label_shard_range(count, batch, rank, size, &lo, &hi);
    if (local == NS_OK && part->count != hi - lo)
        local = ns_fail(NS_ERR_INTERNAL, "label shard: rank %d labeled %zu images, its shard has %zu", rank,
                        part->count, hi - lo);
    /* One all-reduce settles it: the highest failed rank (+1), the largest
     * count and the largest -count (the smallest count, negated). */
    int64_t agree[3] = {local != NS_OK ? rank + 1 : 0, (int64_t)count, -(int64_t)count};
    ns_status st = ns_dist_allreduce_max_i64(agree, 3);
    if (st != NS_OK || local != NS_OK)
        return local != NS_OK ? local : st;
    if (agree[0])
        return ns_fail(NS_ERR_IO, "labeling failed on rank %d of %d (its error is on its stderr)",
                       (int)agree[0] - 1, size);
    if (agree[1] != -agree[2])
        return ns_fail(NS_ERR_FORMAT, "the ranks see sources of different sizes (%lld to %lld images): every "
                       "rank must read the same files", (long long)-agree[2], (long long)agree[1]);

    const int root = rank == 0, classes = part->classes;
    size_t *counts = NULL;
    if (root) {
        counts = malloc((size_t)size * sizeof *counts);
        st = counts ? ns_label_set_alloc(whole, count, classes)
                    : ns_fail(NS_ERR_NOMEM, "label shard: out of memory for %d ranks", size);
    }
    /* Rank 0's allocation failing must not leave the others in a gather:
     * agree on it first. */
    int64_t bad = st != NS_OK;
    ns_status agreed = ns_dist_allreduce_max_i64(&bad, 1);
    if (st == NS_OK && agreed != NS_OK)
        st = agreed;
    if (st == NS_OK && bad)
        st = ns_fail(NS_ERR_NOMEM, "label shard: rank 0 has no memory for %zu records", count);
    /* Three gathers, one per array the file keeps; top and confidence follow
     * from the probabilities. Shards are in rank order, so rank after rank is
     * source order. */
    if (st == NS_OK) {
        if (root)
            shard_bytes(count, batch, size, sizeof *part->source_id, counts);
        st = ns_dist_gatherv(part->source_id, part->count * sizeof *part->source_id,
                             root ? whole->source_id : NULL, counts, 0);
    }
    if (st == NS_OK) {
        if (root)
            shard_bytes(count, batch, size, sizeof *part->true_label, counts);
        st = ns_dist_gatherv(part->true_label, part->count * sizeof *part->true_label,
                             root ? whole->true_label : NULL, counts, 0);
    }
    if (st == NS_OK) {
        if (root)
            shard_bytes(count, batch, size, (size_t)classes * sizeof *part->probs, counts);
        st = ns_dist_gatherv(part->probs, part->count * (size_t)classes * sizeof *part->probs,
                             root ? whole->probs : NULL, counts, 0);
    }
    free(counts);
    if (st != NS_OK) {
        ns_label_set_free(whole);
        return st;
    }
    memcpy(whole->source, part->source, sizeof whole->source);
    memcpy(whole->labeled_by, part->labeled_by, sizeof whole->labeled_by);
    whole->tta = part->tta;
    whole->classes = classes;
    for (size_t i = 0; i < whole->count; i++)
        ns_label_set_update_top(whole, i);
    return NS_OK;
}
