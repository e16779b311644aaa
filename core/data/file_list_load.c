#include "data/file_list_load.h"

#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "data/image_load.h"
#include "train/progress.h"
#include "util/error.h"

typedef struct job {
    const ns_file_list *l;
    int c, h, w;
    ns_dataset *d;     /* slot i holds file i until the compaction */
    ns_status *status; /* per file */
    char **message;    /* per failed file, malloc'd */
    atomic_size_t next, done;
} job;

/* Decodes the next unclaimed file; returns how many are done, 0 when none was left. */
static size_t one(job *j)
{
    const size_t i = atomic_fetch_add(&j->next, 1);
    if (i >= j->l->n)
        return 0;
    ns_status st = ns_image_load(j->l->paths[i], j->c, j->h, j->w, ns_dataset_image(j->d, i));
    j->status[i] = st;
    if (st != NS_OK) /* the error buffer is per thread: keep this file's line */
        j->message[i] = strdup(ns_last_error());
    return atomic_fetch_add(&j->done, 1) + 1;
}

static void *work(void *arg)
{
    while (one(arg))
        ;
    return NULL;
}

ns_status ns_file_list_load(const ns_file_list *l, int c, int h, int w, const char *what, ns_dataset *out,
                            uint32_t **kept, size_t *skipped)
{
    memset(out, 0, sizeof *out);
    if (kept)
        *kept = NULL;
    *skipped = 0;
    if ((c != 1 && c != 3) || h < 1 || w < 1 || h > 4096 || w > 4096)
        return ns_fail(NS_ERR_INVALID_ARG, "%s: images convert to %dx%dx%d, expected 1 or 3 channels and sides 1..4096",
                       what, c, h, w);
    if (l->n > UINT32_MAX)
        return ns_fail(NS_ERR_UNSUPPORTED, "%s: %zu images, at most %u are supported", what, l->n, UINT32_MAX);
    NS_TRY(ns_dataset_alloc(out, l->n, h, w, c));
    job j = {.l = l, .c = c, .h = h, .w = w, .d = out};
    j.status = calloc(l->n ? l->n : 1, sizeof *j.status);
    j.message = calloc(l->n ? l->n : 1, sizeof *j.message);
    uint32_t *map = malloc((l->n ? l->n : 1) * sizeof *map);
    ns_status st = NS_OK;
    if (!j.status || !j.message || !map)
        st = ns_fail(NS_ERR_NOMEM, "%s: out of memory", what);
    if (st == NS_OK) {
        long cores = sysconf(_SC_NPROCESSORS_ONLN);
        size_t threads = cores < 1 ? 1 : (size_t)cores;
        if (threads > NS_FILE_LOAD_MAX_THREADS)
            threads = NS_FILE_LOAD_MAX_THREADS;
        if (threads > l->n)
            threads = l->n ? l->n : 1;
        ns_progress progress;
        char label[64];
        snprintf(label, sizeof label, "decoding %zu images", l->n);
        ns_progress_begin(&progress, label, l->n);
        pthread_t tid[NS_FILE_LOAD_MAX_THREADS];
        size_t started = 0;
        for (size_t t = 1; t < threads; t++) /* the caller is worker 0 and the only one that draws */
            if (pthread_create(&tid[started], NULL, work, &j) == 0)
                started++;
        /* ns_progress is not shared between threads: only the caller draws. */
        for (size_t done; (done = one(&j));)
            ns_progress_update(&progress, done, -1);
        for (size_t t = 0; t < started; t++)
            pthread_join(tid[t], NULL);
        ns_progress_end(&progress);
    }
    /* Compact in list order; the warnings come out in that order too. */
    size_t n_kept = 0;
    const size_t bytes = ns_dataset_image_bytes(out);
    for (size_t i = 0; st == NS_OK && i < l->n; i++) {
        if (j.status[i] == NS_ERR_NOMEM) {
            st = ns_fail(NS_ERR_NOMEM, "%s", j.message[i] ? j.message[i] : "out of memory decoding images");
        } else if (j.status[i] != NS_OK) {
            ns_log(0, "skipped %s", j.message[i] ? j.message[i] : l->paths[i]);
            (*skipped)++;
        } else {
            if (n_kept != i)
                memcpy(ns_dataset_image(out, n_kept), ns_dataset_image(out, i), bytes);
            out->labels[n_kept] = l->labels ? l->labels[i] : -1;
            map[n_kept++] = (uint32_t)i;
        }
    }
    if (st == NS_OK && *skipped)
        ns_log(0, "%s: %zu of %zu image files could not be read and were skipped", what, *skipped, l->n);
    if (st == NS_OK && n_kept == 0)
        st = ns_fail(NS_ERR_FORMAT, "%s: none of its %zu image files could be decoded", what, l->n);
    if (st == NS_OK)
        st = ns_class_names_copy(&out->class_names, &l->classes);
    for (size_t i = 0; j.message && i < l->n; i++)
        free(j.message[i]);
    free(j.message);
    free(j.status);
    if (st != NS_OK) {
        free(map);
        ns_dataset_free(out);
        return st;
    }
    out->n = n_kept;
    ns_dataset_count_classes(out);
    if (out->num_classes < l->classes.n) /* a class whose every file failed still exists */
        out->num_classes = l->classes.n;
    snprintf(out->source, sizeof out->source, "%s", what);
    if (kept)
        *kept = map;
    else
        free(map);
    ns_clear_error();
    return NS_OK;
}
