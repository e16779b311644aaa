#include "predict/predict_format.h"

#include <stdlib.h>
#include <string.h>

#include <jansson.h>

#include "predict/predict.h"
#include "util/error.h"
#include "util/csv.h"

ns_status ns_predict_format_parse(const char *s, ns_predict_format *out)
{
    if (!strcmp(s, "table"))
        *out = NS_PREDICT_TABLE;
    else if (!strcmp(s, "csv"))
        *out = NS_PREDICT_CSV;
    else if (!strcmp(s, "jsonl"))
        *out = NS_PREDICT_JSONL;
    else
        return ns_fail(NS_ERR_USAGE, "--format %s: expected table, csv or jsonl", s);
    return NS_OK;
}

void ns_predict_writer_begin(ns_predict_writer *w, FILE *out, ns_predict_format format, int k, int classes,
                             const ns_class_names *names, char *const *paths, size_t n)
{
    memset(w, 0, sizeof *w);
    w->out = out;
    w->format = format;
    w->classes = classes;
    w->k = k < 1 ? 1 : k > classes ? classes : k;
    w->names = names;
    w->file_width = 4; /* "file" */
    for (size_t i = 0; i < n; i++) {
        int len = (int)strlen(paths[i]);
        if (len > w->file_width)
            w->file_width = len; /* every path fits: the columns stay aligned */
    }
    w->class_width = 5; /* "top-1" */
    char buf[16];
    for (int j = 0; j < classes; j++) {
        int len = (int)strlen(ns_class_name(names, j, buf));
        if (len > w->class_width)
            w->class_width = len;
    }
    if (format == NS_PREDICT_CSV) {
        fputs("file,rank,class_index,class,probability\n", out);
    } else if (format == NS_PREDICT_TABLE) {
        fprintf(out, "%-*s", w->file_width, "file");
        for (int r = 0; r < w->k; r++) {
            char head[16];
            snprintf(head, sizeof head, "top-%d", r + 1);
            fprintf(out, "  %-*s %7s", w->class_width, head, "prob");
        }
        fputc('\n', out);
    }
}

void ns_predict_writer_row(const ns_predict_writer *w, const char *path, const float *p)
{
    int *idx = malloc((size_t)w->k * sizeof *idx);
    if (!idx) {
        ns_log(0, "%s: out of memory printing its result", path);
        return;
    }
    ns_top_k(p, w->classes, w->k, idx);
    char buf[16];
    if (w->format == NS_PREDICT_TABLE) {
        fprintf(w->out, "%-*s", w->file_width, path);
        for (int r = 0; r < w->k; r++)
            fprintf(w->out, "  %-*s %6.2f%%", w->class_width, ns_class_name(w->names, idx[r], buf),
                    100.0 * p[idx[r]]);
        fputc('\n', w->out);
    } else if (w->format == NS_PREDICT_CSV) {
        for (int r = 0; r < w->k; r++) {
            ns_csv_cell(w->out, path, 0);
            fprintf(w->out, ",%d,%d,", r + 1, idx[r]);
            ns_csv_cell(w->out, ns_class_name(w->names, idx[r], buf), 0);
            fprintf(w->out, ",%.9g\n", (double)p[idx[r]]);
        }
    } else {
        json_t *o = json_object(), *top = json_array();
        /* A path that is not UTF-8 cannot be a JSON string: its bytes go
         * through as Latin-1 would be wrong too, so the key says so. */
        json_t *file = json_string(path);
        json_object_set_new(o, "file", file ? file : json_string("(file name not UTF-8)"));
        for (int r = 0; r < w->k; r++) {
            json_t *e = json_object();
            json_object_set_new(e, "index", json_integer(idx[r]));
            json_object_set_new(e, "class", json_string(ns_class_name(w->names, idx[r], buf)));
            json_object_set_new(e, "probability", json_real((double)p[idx[r]]));
            json_array_append_new(top, e);
        }
        json_object_set_new(o, "top", top);
        char *s = json_dumps(o, JSON_COMPACT | JSON_PRESERVE_ORDER | JSON_REAL_PRECISION(9));
        if (s)
            fprintf(w->out, "%s\n", s);
        free(s);
        json_decref(o);
    }
    free(idx);
}
