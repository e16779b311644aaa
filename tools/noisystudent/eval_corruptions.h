/* eval --corruptions: a model (and optionally a reference model) over the
 * corrupted copies of a test set (augment/corruptions.h), as a table of
 * accuracy per corruption x severity with the mean corruption error, printed
 * and stored under "corruptions" in a JSON file. */
#ifndef NS_CLI_EVAL_CORRUPTIONS_H
#define NS_CLI_EVAL_CORRUPTIONS_H

#include <stddef.h>

#include "augment/corruptions.h"
#include "data/dataset.h"
#include "nn/model.h"

typedef struct ns_corruption_model {
    ns_model *model;
    const char *path;
    const float *mean, *std; /* its checkpoint's normalisation */
} ns_corruption_model;

/* Evaluates `m` (and `ref` when ref->model is not NULL) on the first n images
 * of d clean and under every corruption x severity of c; prints the table on
 * stdout (rank 0) and, when json_path is not NULL, sets its "corruptions" key
 * (ns_json_file_set_key). threads: for corrupting images (<= 0: one per core). */
ns_status ns_eval_corruptions(const ns_corruption_model *m, const ns_corruption_model *ref, const ns_dataset *d,
                              size_t n, const char *data_spec, const ns_corruptions *c, const char *spec, int batch,
                              int threads, const char *json_path);

#endif
