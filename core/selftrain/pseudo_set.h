/* From a student run's configuration to the images and targets it trains on:
 * read the label file (cfg->pseudo), filter and balance it with the run's
 * settings (threshold, per-class target, soft/hard, temperature), and open the
 * images its source ids refer to. Deterministic, so a resumed student run
 * rebuilds exactly the same set. */
#ifndef NS_SELFTRAIN_PSEUDO_SET_H
#define NS_SELFTRAIN_PSEUDO_SET_H

#include <stdio.h>

#include "selftrain/filter_balance.h"
#include "train/trainer.h"

typedef struct ns_pseudo_data {
    ns_dataset images;       /* labels all -1: the pool's truth never reaches training */
    ns_student_set student;
    ns_class_table table;
    json_t *summary;         /* the table as JSON, owned */
    int32_t *truth;          /* student.n true labels from the label file (-1 unknown), owned; view.truth */
    char sha256[65];         /* hex SHA-256 of the label file as read (what a new run records) */
    ns_pseudo_set view;      /* what ns_train takes; points into the above */
} ns_pseudo_data;

/* Images of a folder source are decoded to the shape of cfg->data's images.
 * `report` gets the per-class table (NULL: nothing printed); the view carries
 * it as JSON too (ns_train writes it to the run directory). When
 * cfg->pseudo_sha256 is set (the run recorded its labels), a file whose bytes
 * no longer have that digest is refused (NS_ERR_USAGE, naming the file and
 * both digests): a resumed student must not continue on other labels. Free
 * with ns_pseudo_data_free. */
ns_status ns_pseudo_data_open(const ns_train_config *cfg, FILE *report, ns_pseudo_data *out);
void ns_pseudo_data_free(ns_pseudo_data *p);

#endif
