#include "data/dataset.h"

#include <stdlib.h>
#include <string.h>

#include "util/error.h"

ns_status ns_dataset_alloc(ns_dataset *d, size_t n, int h, int w, int c)
{
    memset(d, 0, sizeof *d);
    if (h <= 0 || w <= 0 || c <= 0)
        return ns_fail(NS_ERR_INVALID_ARG, "dataset: image shape %dx%dx%d, expected positive h, w, c",
                       h, w, c);
    size_t per = (size_t)h * (size_t)w * (size_t)c;
    if (n > 0 && per > SIZE_MAX / n)
        return ns_fail(NS_ERR_NOMEM, "dataset: %zu images of %zu bytes overflow size_t", n, per);
    /* calloc(0) may return NULL; keep a valid pointer for empty sets. */
    d->images = calloc(n * per > 0 ? n * per : 1, 1);
    d->labels = malloc((n ? n : 1) * sizeof *d->labels);
    if (!d->images || !d->labels) {
        free(d->images);
        free(d->labels);
        memset(d, 0, sizeof *d);
        return ns_fail(NS_ERR_NOMEM, "dataset: cannot allocate %zu images of %dx%dx%d (%zu bytes)", n,
                       h, w, c, n * per);
    }
    for (size_t i = 0; i < n; i++)
        d->labels[i] = -1;
    d->n = n;
    d->h = h;
    d->w = w;
    d->c = c;
    return NS_OK;
}

void ns_dataset_free(ns_dataset *d)
{
    if (!d)
        return;
    free(d->images);
    free(d->labels);
    ns_class_names_free(&d->class_names);
    memset(d, 0, sizeof *d);
}

void ns_dataset_count_classes(ns_dataset *d)
{
    int32_t max = -1;
    for (size_t i = 0; i < d->n; i++)
        if (d->labels[i] > max)
            max = d->labels[i];
    d->num_classes = (int)(max + 1);
}
