/* From pseudo-labels to the student's training set: filter by confidence,
 * balance the classes, turn probabilities into targets.
 *
 * Per class (an image's class is the teacher's top class):
 *  1. keep images whose confidence >= threshold (the paper: 0.3; the blog: 0.75);
 *  2. bring the class to a target count: the most confident kept when there are
 *     too many (ties: lower source id first), duplicated when there are too few;
 *     a class with no image above the threshold stays empty;
 *  3. targets: soft, softmax(log p / T) (T = 1 reproduces p), or hard, one-hot
 *     of the top class with label smoothing s ((1 - s) + s/K on it, s/K elsewhere).
 *
 * Target count: the paper fixes it per class (130K on JFT for ImageNet); its
 * ImageNet value means nothing on another pool, so per_class = N sets it and
 * the default (per_class = 0) is the MEDIAN of the per-class counts that pass
 * the threshold (the upper middle one for an even number of non-empty classes):
 * big classes are trimmed to their most confident images, small ones
 * duplicated, and the set keeps about the size of the filtered pool.
 * per_class < 0 switches balancing off (every passing image once).
 *
 * Duplication: deterministic by default (each image floor(T/c) copies, the
 * T mod c most confident one more: exactly T); stochastic = 1 is the official
 * code's stochastic rounding (each image floor(T/c) copies plus one with
 * probability frac(T/c), drawn from Philox under `seed`: T in expectation).
 */
#ifndef NS_SELFTRAIN_FILTER_BALANCE_H
#define NS_SELFTRAIN_FILTER_BALANCE_H

#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

#include <jansson.h>

#include "data/class_names.h"
#include "selftrain/label_file.h"

typedef struct ns_filter_config {
    float threshold;   /* keep confidence >= threshold, in [0,1] (default 0.3) */
    int per_class;     /* > 0: fixed target; 0: median rule (default); < 0: no balancing */
    int stochastic;    /* 1: stochastic rounding of duplicates (default 0) */
    uint64_t seed;     /* for stochastic rounding (default 1) */
    int hard;          /* 0: soft targets (default), 1: one-hot */
    float temperature; /* soft targets: > 0 (default 1) */
    float smoothing;   /* hard targets: label smoothing in [0,1) (default 0) */
} ns_filter_config;

ns_filter_config ns_filter_config_default(void);

/* The student's pseudo-labeled set: n images (duplicates repeated), each with
 * its source id, the label set record it came from, the teacher's top class
 * and a target row. Grouped by class, most confident first. */
typedef struct ns_student_set {
    size_t n;
    int classes;
    uint32_t *source_id; /* n, owned */
    uint32_t *record;    /* n, index into the ns_label_set, owned */
    int32_t *label;      /* n, top class (for reports; the loss uses targets), owned */
    float *targets;      /* n * classes, owned */
} ns_student_set;

void ns_student_set_free(ns_student_set *s); /* NULL-safe, zeroes */

/* One row per class. dropped = found - kept (below the threshold, or beyond
 * the target); the class ends with kept + duplicated images. */
typedef struct ns_class_row {
    size_t found;           /* images whose top class is this one */
    size_t passed;          /* of those, confidence >= threshold */
    size_t kept;            /* distinct images in the student set */
    size_t duplicated;      /* extra copies added */
    size_t dropped;
    double mean_confidence; /* over the kept images; NaN when none */
    size_t known;           /* kept images whose true label is known */
    size_t correct;         /* of those, top class == true label */
} ns_class_row;

typedef struct ns_class_table {
    int classes;
    float threshold;
    size_t target;       /* the per-class target used (0 when balancing is off) */
    ns_class_row *rows;  /* classes entries, owned */
    ns_class_names names; /* the label set's class names (owned; empty: classes print as numbers) */
} ns_class_table;

void ns_class_table_free(ns_class_table *t); /* NULL-safe, zeroes */

/* Pseudo-label accuracy of a row (correct / known), NaN when no true label is known. */
double ns_class_row_accuracy(const ns_class_row *r);

/* Prints the table (one line per class, by name when known, and a total) to f. */
void ns_class_table_print(FILE *f, const ns_class_table *t);

/* The table as a new JSON object (the caller owns it; NULL when out of
 * memory): threshold, target, one object per class with the row's counts,
 * mean confidence and accuracy (null where unknown), and the same for "total". */
json_t *ns_class_table_to_json(const ns_class_table *t);

/* Filters and balances `labels` into *out and *table (either may be NULL when
 * not wanted; both zeroed first, the caller frees them).
 * Errors: NS_ERR_INVALID_ARG for a config out of range (naming the field), or
 * when no image reaches the threshold (naming the threshold, the image count
 * and the highest confidence found); NS_ERR_NOMEM. On error both are empty. */
ns_status ns_filter_balance(const ns_label_set *labels, const ns_filter_config *cfg, ns_student_set *out,
                            ns_class_table *table);

#endif
