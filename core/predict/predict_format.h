/* How `noisystudent predict` prints its results, one image at a time:
 *
 *   table  aligned columns for a terminal: the file, then for each of the
 *          top k classes its name and probability in percent;
 *   csv    RFC 4180, a header line "file,rank,class_index,class,probability"
 *          and one row per image and rank (cells with a comma, a quote or a
 *          line break are quoted);
 *   jsonl  one JSON object per line and image:
 *          {"file":..,"top":[{"index":k,"class":name,"probability":p},..]}.
 *
 * Probabilities in csv and jsonl are printed with 9 significant digits, so
 * they read back as the exact float32 values; the table rounds to 0.01%.
 * Classes without a name print as their number (data/class_names.h). */
#ifndef NS_PREDICT_PREDICT_FORMAT_H
#define NS_PREDICT_PREDICT_FORMAT_H

#include <stdio.h>

#include "data/class_names.h"

typedef enum { NS_PREDICT_TABLE, NS_PREDICT_CSV, NS_PREDICT_JSONL } ns_predict_format;

typedef struct ns_predict_writer {
    FILE *out;
    ns_predict_format format;
    int k;                       /* top-k, already clamped to [1, classes] */
    int classes;
    const ns_class_names *names; /* not owned; may be empty */
    int file_width, class_width; /* table column widths */
} ns_predict_writer;

/* Parses "table", "csv" or "jsonl"; NS_ERR_USAGE otherwise (message names the value). */
ns_status ns_predict_format_parse(const char *s, ns_predict_format *out);

/* Prepares w and prints the header (table, csv). `paths` (n of them) are the
 * files that will be printed: the table sizes its file column from them. */
void ns_predict_writer_begin(ns_predict_writer *w, FILE *out, ns_predict_format format, int k, int classes,
                             const ns_class_names *names, char *const *paths, size_t n);

/* Prints one image's result from its probabilities p[0..classes). */
void ns_predict_writer_row(const ns_predict_writer *w, const char *path, const float *p);

#endif
