/* Batch loader: background threads (pthreads) build batches ahead of the
 * consumer into a bounded ring of slots, so augmentation and conversion
 * overlap the backend's compute.
 *
 * Determinism: the epoch order is a Philox shuffle keyed by (seed, stream
 * (LOADER_ORDER, epoch, 0)); image k of the list (position k in `indices`)
 * is augmented with its own generator ns_rng_make(seed, ns_rng_stream_id(
 * LOADER_AUGMENT, epoch, k)) (shuffle.h), so batches are bit-identical for
 * any thread count. Positions rather than dataset indices key the noise so
 * that an image listed twice (class balancing duplicates) gets two different
 * augmentations. Stream fields are 21 bits: lists longer than 2^21 reuse
 * streams for positions 2^21 apart (still deterministic).
 *
 * Per image, in order: copy -> pad-crop (if pad_crop) -> flip (if flip) ->
 * cfg->augment (if set) -> ns_image_to_chw with mean/std (normalize.h).
 *
 * Lifecycle: create -> (start_epoch -> next/release ... -> next returns NULL)*
 * -> destroy. One consumer thread calls start_epoch/next/release. destroy may
 * be called at any point (mid-epoch too); it waits for each worker to finish
 * the image batch in hand and joins them.
 */
#ifndef NS_DATA_LOADER_H
#define NS_DATA_LOADER_H

#include <stddef.h>
#include <stdint.h>

#include <noisystudent/augment.h>

#include "data/dataset.h"

typedef struct ns_loader_config {
    const ns_dataset *data;   /* borrowed; must outlive the loader */
    const uint32_t *indices;  /* count dataset indices (repeats allowed); borrowed */
    size_t count;
    /* count x classes, row i is the target of indices[i]; caller-owned, borrowed.
     * NULL: one-hot rows from the dataset labels (all-zero rows for label -1,
     * meant for inference passes that ignore targets). */
    const float *targets;
    int classes;              /* target width; 0 = data->num_classes */
    int batch;                /* images per batch, >= 1 */
    int drop_last;            /* drop a final partial batch */
    int shuffle;              /* shuffle the order each epoch (else list order) */
    uint64_t seed;
    int threads;              /* worker threads; <= 0 means 1 */
    int prefetch;             /* ring slots; <= 0 means max(2, 2*threads) */
    int pad_crop;             /* light noise flags (light_augment.h) */
    int flip;
    const float *mean, *std;  /* data->c entries each, borrowed; NULL = 0 / 1 */
    /* Optional extra noise (the RandAugment policy) applied after light aug.
     * Runs concurrently on worker threads: must be thread-safe on `user` and
     * take all randomness from rng. A non-OK status stops the loader; its
     * message is returned by ns_loader_next. scratch holds h*w*c bytes. */
    ns_status (*augment)(void *user, ns_image *img, uint8_t *scratch, ns_rng *rng);
    void *augment_user;
    /* Data parallelism (core/dist): with shard_count > 1 every batch above is
     * a GLOBAL batch, of which this loader builds only slice shard_rank:
     * global rows [n*r/N, n*(r+1)/N) (slices differ by at most one row when
     * N does not divide n). Order, batch count and each image's noise are
     * those of the whole run, so they do not depend on N. 0/0: the whole batch. */
    int shard_rank, shard_count;
} ns_loader_config;

/* One batch in host memory, owned by the loader: valid from ns_loader_next
 * until ns_loader_release (or destroy). */
typedef struct ns_batch {
    float *x;         /* n x c x h x w, normalised */
    float *targets;   /* n x classes */
    int32_t *labels;  /* n, copied from the dataset, -1 if unknown */
    uint32_t *index;  /* n dataset indices */
    int n;            /* images in this batch (the last may be partial) */
    int global_n;     /* images in the whole global batch (== n unless sharded) */
    int global_row;   /* this slice's first row within the global batch */
    int c, h, w, classes;
    size_t number;    /* batch number within the epoch, from 0 */
} ns_batch;

typedef struct ns_loader ns_loader;

typedef struct ns_loader_stats {
    double wait_seconds;  /* total time the consumer blocked in ns_loader_next */
    uint64_t batches;     /* batches handed out since create */
    uint64_t waits;       /* calls of ns_loader_next that had to block */
} ns_loader_stats;

/* Validates cfg (shape, indices in range, batch >= 1, ...), allocates the ring
 * and starts the worker threads (idle until start_epoch). The config is
 * copied; what it points to is borrowed. Errors: NS_ERR_INVALID_ARG naming
 * the field, NS_ERR_NOMEM, NS_ERR_INTERNAL if a thread cannot start. */
ns_status ns_loader_create(const ns_loader_config *cfg, ns_loader **out);

/* Starts (or restarts) epoch `epoch`: abandons whatever of the previous epoch
 * was not consumed. Every batch handed out must have been released first
 * (NS_ERR_INVALID_ARG otherwise). */
ns_status ns_loader_start_epoch(ns_loader *l, int epoch);

/* Hands out the next batch in order, blocking until it is ready; *batch is
 * NULL at the end of the epoch (status NS_OK). The consumer may hold up to
 * `prefetch` batches at once; asking for one more is NS_ERR_INVALID_ARG
 * rather than a deadlock. An augment failure is returned here (its status and
 * message) and repeats until the next start_epoch. */
ns_status ns_loader_next(ns_loader *l, ns_batch **batch);

/* Returns a batch's slot to the workers. NULL is ignored. */
void ns_loader_release(ns_loader *l, ns_batch *batch);

/* Number of batches per epoch (depends on count, batch and drop_last). */
size_t ns_loader_batches_per_epoch(const ns_loader *l);

ns_loader_stats ns_loader_get_stats(const ns_loader *l);

/* Stops and joins the workers and frees everything (NULL-safe). Batches not
 * released become invalid. */
void ns_loader_destroy(ns_loader *l);

#endif
