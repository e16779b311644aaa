/* The record of one evaluation: the confusion matrix, per-class accuracy and
 * what the model predicted for every image, as a JSON document (eval.json in a
 * run directory) that reports read back to compare two models image by image.
 *
 * eval.json (written by ns_eval_record_write, read by ns_eval_record_read):
 *   {"format": "noisystudent-eval", "version": 1,
 *    "data": SPEC, "split": "test", "backend": TEXT,
 *    "images": N, "correct": C, "accuracy": C/N,
 *    "class_names": [..], "per_class": [{"name","images","correct","accuracy"}],
 *    "confusion": [[counts of true k predicted j]...],
 *    "predicted_hex": 2 (classes <= 256) or 4 hex digits per image, big-endian,
 *    "correct_bits": hex of a bitmap, image i is bit (i % 8) of byte i / 8}
 * Hex keeps 10 000 test images in 20 kB of text that any JSON reader opens. */
#ifndef NS_TRAIN_EVAL_RECORD_H
#define NS_TRAIN_EVAL_RECORD_H

#include <jansson.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

#include "data/class_names.h"
#include "train/evaluate.h"

#define NS_EVAL_FILE "eval.json"

typedef struct ns_eval_record {
    ns_confusion conf;         /* owned */
    size_t n;                  /* images evaluated (dataset order) */
    int32_t *predicted;        /* n entries, owned */
    int32_t *truth;            /* n entries, -1 unknown, owned */
    ns_class_names names;      /* owned; may be empty */
    char data[512], split[16], backend[256];
} ns_eval_record;

void ns_eval_record_free(ns_eval_record *r); /* NULL-safe, zeroes */

/* Evaluates every image of d (in order) with m into *out (zeroed first; the
 * caller frees it). Errors of ns_evaluate, NS_ERR_NOMEM. */
ns_status ns_eval_record_run(ns_model *m, const ns_dataset *d, const float *mean, const float *std, int batch,
                             ns_eval_record *out);

/* The record as a new JSON object (NULL when out of memory). */
json_t *ns_eval_record_to_json(const ns_eval_record *r);

/* Writes <dir>/eval.json atomically. */
ns_status ns_eval_record_write(const char *dir, const ns_eval_record *r);

/* Reads an eval.json into *out (zeroed first). NS_ERR_NOT_FOUND when absent,
 * NS_ERR_FORMAT naming the file and the key that is wrong. */
ns_status ns_eval_record_read(const char *path, ns_eval_record *out);

/* Prints the per-class table (name, images, correct, accuracy) to f. */
void ns_eval_print_per_class(FILE *f, const ns_confusion *c, const ns_class_names *names);

/* Prints the confusion matrix with class names (rows: true, columns:
 * predicted) when it has at most max_classes classes; otherwise one line
 * saying how to get it as CSV. */
void ns_eval_print_confusion(FILE *f, const ns_confusion *c, const ns_class_names *names, int max_classes);

/* Writes the confusion matrix as CSV (header row of names, one row per true
 * class) to path atomically. Names are quoted as CSV requires. */
ns_status ns_eval_write_confusion_csv(const char *path, const ns_confusion *c, const ns_class_names *names);

#endif
