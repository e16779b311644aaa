/* Decoding a file list (file_list.h) into an in-memory dataset, many files at
 * once (one thread per core, at most NS_FILE_LOAD_MAX_THREADS), with a
 * progress bar on a terminal (train/progress.h). */
#ifndef NS_DATA_FILE_LIST_LOAD_H
#define NS_DATA_FILE_LIST_LOAD_H

#include "data/dataset.h"
#include "data/file_list.h"

#define NS_FILE_LOAD_MAX_THREADS 16

/* Decodes every file of `l` as h x w x c (image_load.h) into *out (zeroed
 * first; free with ns_dataset_free), in list order, labels from l->labels
 * and class names copied from l->classes. A file that does not decode is
 * left out with one warning line on stderr (ns_log level 0: "skipped PATH:
 * reason"), in list order whatever the threads did; *skipped counts them.
 * When kept is not NULL, *kept (malloc'd, out->n entries, caller frees)
 * maps dataset index -> list index. `what` names the source in errors.
 * Errors: NS_ERR_FORMAT when no file decodes, NS_ERR_NOMEM, NS_ERR_INVALID_ARG
 * for c/h/w; on error *out is empty and *kept NULL. */
ns_status ns_file_list_load(const ns_file_list *l, int c, int h, int w, const char *what, ns_dataset *out,
                            uint32_t **kept, size_t *skipped);

#endif
