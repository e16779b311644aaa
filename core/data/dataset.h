/* An in-memory set of 8-bit images with optional labels.
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

typedef struct ns_dataset {
    uint8_t *images;  /* n*h*w*c bytes, image i at images + i*h*w*c, HWC interleaved */
    int32_t *labels;  /* n entries; -1 = unknown */
    size_t n;
    int c, h, w;
    int num_classes;  /* max known label + 1 (0 when no label is known) */
    char source[512]; /* where it came from, for logs and reports */
    ns_class_names class_names; /* owned; empty when the source has none (classes print as numbers) */
} ns_dataset;

/* Bytes of one image (h*w*c). */
static inline size_t ns_dataset_image_bytes(const ns_dataset *d)
{
    return (size_t)d->h * (size_t)d->w * (size_t)d->c;
}

/* Pointer to image i (no bounds check: i < d->n is the caller's contract). */
static inline uint8_t *ns_dataset_image(const ns_dataset *d, size_t i)
{
    return d->images + i * ns_dataset_image_bytes(d);
}

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
