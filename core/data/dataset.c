#include "data/dataset.h"

#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>

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
    if (d->map) {
        ns_dataset_map *m = d->map;
        for (size_t k = 0; k < m->shards; k++)
            if (m->addr && m->addr[k])
                munmap(m->addr[k], m->len[k]);
        if (m->reserved)
            munmap(m->reserved, m->reserved_len);
        free(m->first);
        free(m->pixels);
        free(m->addr);
        free(m->len);
        free(m);
    } else {
        free(d->images);
    }
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

uint8_t *ns_dataset_shard_image(const ns_dataset *d, size_t i)
{
    const ns_dataset_map *m = d->map;
    size_t lo = 0, hi = m->shards; /* first[lo] <= i < first[hi] */
    while (hi - lo > 1) {
        size_t mid = lo + (hi - lo) / 2;
        if (m->first[mid] <= i)
            lo = mid;
        else
            hi = mid;
    }
    return (uint8_t *)m->pixels[lo] + (i - m->first[lo]) * ns_dataset_image_bytes(d);
}

/* Calls madvise over every mapped range (the pages the pixels occupy). */
static void advise_all(const ns_dataset *d, int advice)
{
    const ns_dataset_map *m = d->map;
    if (!m)
        return;
    if (m->reserved) {
        madvise(m->reserved, m->reserved_len, advice);
        return;
    }
    for (size_t k = 0; k < m->shards; k++)
        if (m->addr[k])
            madvise(m->addr[k], m->len[k], advice);
}

void ns_dataset_advise(const ns_dataset *d, ns_dataset_advice advice)
{
    /* A hint only: a failure changes speed, never results. */
    advise_all(d, advice == NS_DATASET_ADVISE_RANDOM ? MADV_RANDOM : MADV_SEQUENTIAL);
}

void ns_dataset_trim(const ns_dataset *d)
{
    /* MADV_DONTNEED on a read-only shared file mapping only unmaps: the data
     * stays in the page cache and in the file, so concurrent readers see the
     * same bytes (refaulted). */
    advise_all(d, MADV_DONTNEED);
}
