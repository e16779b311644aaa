/* A set of 8-bit images with optional labels: a view whose pixels are either
 * in memory (malloc'd, `images`) or memory-mapped from .nsds shards (nsds.h,
 * `map`). Code reads image i through ns_dataset_image whatever the storage;
 * mapped pixels are read-only (PROT_READ), so nothing may write into an image
 * of a dataset it did not allocate itself with ns_dataset_alloc.
 *
 * Images are stored HWC interleaved (one image after another) because the
 * augmenters (noisystudent/augment.h, ns_image) work on HWC uint8; the loader
 * converts to float CHW only when it builds a batch.
 */
#ifndef NS_DATA_DATASET_H
#define NS_DATA_DATASET_H

#include <stddef.h>
#include <stdint.h>

#include <noisystudent/status.h>

#include "data/class_names.h"

/* The mapped storage of an .nsds dataset (owned by the dataset; nsds.c makes
 * it, ns_dataset_free unmaps it). */
typedef struct ns_dataset_map {
    size_t shards;
    size_t *first;          /* shards + 1 entries: first image of shard k; first[shards] = n */
    const uint8_t **pixels; /* shards entries: image first[k] of shard k */
    void **addr;            /* shards entries: each shard's own mapping (NULL when inside `reserved`) */
    size_t *len;
    void *reserved;         /* one address range holding every shard's pixels back to back, or NULL */
    size_t reserved_len;
} ns_dataset_map;

typedef struct ns_dataset {
    /* n*h*w*c bytes, image i at images + i*h*w*c, HWC interleaved; for mapped
     * data it points into the mapping when the shards sit back to back in one
     * address range, else NULL (ns_dataset_image finds the shard). */
    uint8_t *images;
    int32_t *labels;  /* n entries; -1 = unknown */
    size_t n;
    int c, h, w;
    int num_classes;  /* max known label + 1 (0 when no label is known) */
    char source[512]; /* where it came from, for logs and reports */
    ns_class_names class_names; /* owned; empty when the source has none (classes print as numbers) */
    ns_dataset_map *map;        /* owned; NULL for in-memory data */
} ns_dataset;

/* Bytes of one image (h*w*c). */
static inline size_t ns_dataset_image_bytes(const ns_dataset *d)
{
    return (size_t)d->h * (size_t)d->w * (size_t)d->c;
}

/* Image i of mapped shards that are not back to back (binary search). */
uint8_t *ns_dataset_shard_image(const ns_dataset *d, size_t i);

/* Pointer to image i (no bounds check: i < d->n is the caller's contract).
 * Writable only for a dataset made by ns_dataset_alloc (see above). */
static inline uint8_t *ns_dataset_image(const ns_dataset *d, size_t i)
{
    if (d->images)
        return d->images + i * ns_dataset_image_bytes(d);
    return ns_dataset_shard_image(d, i);
}

/* 1 when the dataset has pixels to read (in memory or mapped). */
static inline int ns_dataset_has_pixels(const ns_dataset *d)
{
    return d->images != NULL || d->map != NULL;
}

/* Access hints for mapped data (no-ops in memory): RANDOM for training
 * (no read-ahead of neighbours that will not be used), SEQUENTIAL for a pass
 * in index order (labeling, packing). */
typedef enum { NS_DATASET_ADVISE_RANDOM, NS_DATASET_ADVISE_SEQUENTIAL } ns_dataset_advice;
void ns_dataset_advise(const ns_dataset *d, ns_dataset_advice advice);

/* Drops this process's page-table references to the mapped pixels (the page
 * cache keeps them; the next read faults them back in cheaply), so that the
 * resident set of a pass over a pool bigger than RAM stays bounded. Safe
 * while other threads read the dataset. No-op in memory. */
void ns_dataset_trim(const ns_dataset *d);

/* Allocates images and labels for n images of h x w x c (labels set to -1,
 * images zeroed) and records the shape. On failure *d is left empty
 * (NS_ERR_NOMEM or NS_ERR_INVALID_ARG with a message). Free with ns_dataset_free. */
ns_status ns_dataset_alloc(ns_dataset *d, size_t n, int h, int w, int c);

/* Frees what ns_dataset_alloc or a reader allocated and zeroes *d. NULL-safe;
 * safe on a zeroed struct and twice in a row. */
void ns_dataset_free(ns_dataset *d);

/* Recomputes num_classes as max label + 1 over known labels. */
void ns_dataset_count_classes(ns_dataset *d);

#endif
