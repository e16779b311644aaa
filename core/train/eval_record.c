#include "train/eval_record.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "io/atomic_file.h"
#include "io/run_dir.h"
#include "util/error.h"
#include "util/csv.h"

void ns_eval_record_free(ns_eval_record *r)
{
    if (!r)
        return;
    ns_confusion_free(&r->conf);
    free(r->predicted);
    free(r->truth);
    ns_class_names_free(&r->names);
    memset(r, 0, sizeof *r);
}

typedef struct sink {
    ns_eval_record *r;
} sink;

static ns_status on_probs(void *user, const uint32_t *index, const float *probs, int n, int classes)
{
    ns_eval_record *r = ((sink *)user)->r;
    for (int i = 0; i < n; i++)
        r->predicted[index[i]] = ns_argmax(probs + (size_t)i * classes, classes);
    return NS_OK;
}

ns_status ns_eval_record_run(ns_model *m, const ns_dataset *d, const float *mean, const float *std, int batch,
                             ns_eval_record *out)
{
    memset(out, 0, sizeof *out);
    ns_status st = ns_confusion_init(&out->conf, ns_model_classes(m));
    out->n = d->n;
    if (st == NS_OK) {
        out->predicted = calloc(d->n ? d->n : 1, sizeof *out->predicted);
        out->truth = malloc((d->n ? d->n : 1) * sizeof *out->truth);
        if (!out->predicted || !out->truth)
            st = ns_fail(NS_ERR_NOMEM, "evaluate: out of memory for %zu predictions", d->n);
    }
    if (st == NS_OK) {
        memcpy(out->truth, d->labels, d->n * sizeof *out->truth);
        st = ns_class_names_copy(&out->names, ns_model_class_names(m));
    }
    if (st == NS_OK) {
        snprintf(out->data, sizeof out->data, "%s", d->source);
        snprintf(out->split, sizeof out->split, "test");
        sink s = {out};
        ns_eval_config ec = {batch, mean, std, on_probs, &s, 0, NS_TTA_NONE};
        st = ns_evaluate(m, d, NULL, &ec, &out->conf);
    }
    if (st != NS_OK)
        ns_eval_record_free(out);
    return st;
}

static json_t *num_or_null(double v)
{
    return isfinite(v) ? json_real(v) : json_null();
}

static const char hexd[] = "0123456789abcdef";

json_t *ns_eval_record_to_json(const ns_eval_record *r)
{
    const ns_confusion *c = &r->conf;
    const int wide = c->classes > 256;
    const size_t digits = wide ? 4 : 2;
    char *pred = malloc(r->n * digits + 1), *bits = malloc((r->n + 7) / 8 * 2 + 1);
    json_t *names = json_array(), *per = json_array(), *conf = json_array(), *j = NULL;
    if (!pred || !bits || !names || !per || !conf)
        goto done;
    for (size_t i = 0; i < r->n; i++) {
        uint32_t p = (uint32_t)r->predicted[i];
        for (size_t k = 0; k < digits; k++)
            pred[i * digits + k] = hexd[(p >> (4 * (digits - 1 - k))) & 15];
    }
    pred[r->n * digits] = 0;
    for (size_t b = 0; b < (r->n + 7) / 8; b++) {
        unsigned byte = 0;
        for (size_t i = b * 8; i < b * 8 + 8 && i < r->n; i++)
            byte |= (unsigned)(r->truth[i] >= 0 && r->truth[i] == r->predicted[i]) << (i % 8);
        bits[2 * b] = hexd[byte >> 4];
        bits[2 * b + 1] = hexd[byte & 15];
    }
    bits[(r->n + 7) / 8 * 2] = 0;
    for (int k = 0; k < c->classes; k++) {
        char buf[16];
        const char *name = ns_class_name(&r->names, k, buf);
        uint64_t row = 0;
        json_t *cr = json_array();
        for (int p = 0; p < c->classes; p++) {
            row += c->counts[(size_t)k * c->classes + p];
            json_array_append_new(cr, json_integer((json_int_t)c->counts[(size_t)k * c->classes + p]));
        }
        json_array_append_new(conf, cr);
        json_array_append_new(names, json_string(name));
        json_array_append_new(per, json_pack("{s:s, s:I, s:I, s:o}", "name", name, "images", (json_int_t)row,
                                             "correct", (json_int_t)c->counts[(size_t)k * c->classes + k],
                                             "accuracy", num_or_null(ns_confusion_class_accuracy(c, k))));
    }
    j = json_pack("{s:s, s:i, s:s, s:s, s:s, s:I, s:I, s:o, s:O, s:O, s:O, s:s, s:s}", "format",
                  "noisystudent-eval", "version", 1, "data", r->data, "split", r->split, "backend", r->backend,
                  "images", (json_int_t)c->total, "correct", (json_int_t)c->correct, "accuracy",
                  num_or_null(ns_confusion_accuracy(c)), "class_names", names, "per_class", per, "confusion", conf,
                  "predicted_hex", pred, "correct_bits", bits);
done:
    json_decref(names);
    json_decref(per);
    json_decref(conf);
    free(pred);
    free(bits);
    return j;
}

ns_status ns_eval_record_write(const char *dir, const ns_eval_record *r)
{
    json_t *j = ns_eval_record_to_json(r);
    if (!j)
        return ns_fail(NS_ERR_NOMEM, "%s/%s: out of memory", dir, NS_EVAL_FILE);
    ns_status st = ns_run_dir_write_json(dir, NS_EVAL_FILE, j);
    json_decref(j);
    return st;
}

static int hexval(char ch)
{
    return ch >= '0' && ch <= '9' ? ch - '0' : ch >= 'a' && ch <= 'f' ? ch - 'a' + 10 : -1;
}

static ns_status read_json(const char *path, json_t *j, ns_eval_record *out)
{
    json_t *conf = json_object_get(j, "confusion"), *names = json_object_get(j, "class_names");
    const char *pred = json_string_value(json_object_get(j, "predicted_hex"));
    if (!json_is_array(conf) || json_array_size(conf) < 1 || json_array_size(conf) > NS_CLASS_NAMES_MAX)
        return ns_fail(NS_ERR_FORMAT, "%s: \"confusion\" must be a non-empty square array", path);
    const int classes = (int)json_array_size(conf);
    NS_TRY(ns_confusion_init(&out->conf, classes));
    for (int k = 0; k < classes; k++) {
        json_t *row = json_array_get(conf, (size_t)k);
        if (!json_is_array(row) || json_array_size(row) != (size_t)classes)
            return ns_fail(NS_ERR_FORMAT, "%s: \"confusion\" row %d is not %d counts", path, k, classes);
        for (int p = 0; p < classes; p++) {
            json_t *v = json_array_get(row, (size_t)p);
            if (!json_is_integer(v) || json_integer_value(v) < 0)
                return ns_fail(NS_ERR_FORMAT, "%s: \"confusion\"[%d][%d] is not a count", path, k, p);
            uint64_t cnt = (uint64_t)json_integer_value(v);
            out->conf.counts[(size_t)k * classes + p] = cnt;
            out->conf.total += cnt;
            if (k == p)
                out->conf.correct += cnt;
        }
    }
    if (json_is_array(names) && json_array_size(names) == (size_t)classes) {
        const char **v = calloc((size_t)classes, sizeof *v);
        if (!v)
            return ns_fail(NS_ERR_NOMEM, "%s: out of memory", path);
        for (int k = 0; k < classes; k++)
            v[k] = json_string_value(json_array_get(names, (size_t)k));
        int all = 1;
        for (int k = 0; k < classes; k++)
            all &= v[k] != NULL;
        ns_status st = all ? ns_class_names_set(&out->names, classes, v)
                           : ns_fail(NS_ERR_FORMAT, "%s: \"class_names\" holds a non-string", path);
        free(v);
        if (st != NS_OK) {
            char why[256];
            snprintf(why, sizeof why, "%s", ns_last_error());
            return ns_fail(NS_ERR_FORMAT, "%s: \"class_names\": %s", path, why);
        }
    }
    const size_t digits = classes > 256 ? 4 : 2;
    if (pred) {
        size_t len = strlen(pred);
        if (len % digits)
            return ns_fail(NS_ERR_FORMAT, "%s: \"predicted_hex\" has %zu digits, not a multiple of %zu", path, len,
                           digits);
        out->n = len / digits;
        out->predicted = malloc((out->n ? out->n : 1) * sizeof *out->predicted);
        if (!out->predicted)
            return ns_fail(NS_ERR_NOMEM, "%s: out of memory", path);
        for (size_t i = 0; i < out->n; i++) {
            int v = 0;
            for (size_t k = 0; k < digits; k++) {
                int h = hexval(pred[i * digits + k]);
                if (h < 0)
                    return ns_fail(NS_ERR_FORMAT, "%s: \"predicted_hex\" digit %zu is not lower-case hex", path,
                                   i * digits + k);
                v = v * 16 + h;
            }
            if (v >= classes)
                return ns_fail(NS_ERR_FORMAT, "%s: image %zu predicted class %d of %d", path, i, v, classes);
            out->predicted[i] = v;
        }
    }
    const char *s;
    if ((s = json_string_value(json_object_get(j, "data"))))
        snprintf(out->data, sizeof out->data, "%s", s);
    if ((s = json_string_value(json_object_get(j, "split"))))
        snprintf(out->split, sizeof out->split, "%s", s);
    if ((s = json_string_value(json_object_get(j, "backend"))))
        snprintf(out->backend, sizeof out->backend, "%s", s);
    return NS_OK;
}

ns_status ns_eval_record_read(const char *path, ns_eval_record *out)
{
    memset(out, 0, sizeof *out);
    json_error_t err;
    FILE *f = fopen(path, "rb");
    if (!f)
        return ns_fail(NS_ERR_NOT_FOUND, "%s: not found", path);
    json_t *j = json_loadf(f, 0, &err);
    fclose(f);
    if (!j)
        return ns_fail(NS_ERR_FORMAT, "%s: not JSON: %s (line %d)", path, err.text, err.line);
    ns_status st = read_json(path, j, out);
    json_decref(j);
    if (st != NS_OK)
        ns_eval_record_free(out);
    return st;
}

void ns_eval_print_per_class(FILE *f, const ns_confusion *c, const ns_class_names *names)
{
    int width = 5;
    char buf[16];
    for (int k = 0; k < c->classes; k++) {
        int l = (int)strlen(ns_class_name(names, k, buf));
        width = l > width ? (l > 40 ? 40 : l) : width;
    }
    fprintf(f, "  %-*s  %8s  %8s  %8s\n", width, "class", "images", "correct", "accuracy");
    for (int k = 0; k < c->classes; k++) {
        uint64_t row = 0;
        for (int p = 0; p < c->classes; p++)
            row += c->counts[(size_t)k * c->classes + p];
        double acc = ns_confusion_class_accuracy(c, k);
        fprintf(f, "  %-*.40s  %8llu  %8llu  ", width, ns_class_name(names, k, buf), (unsigned long long)row,
                (unsigned long long)c->counts[(size_t)k * c->classes + k]);
        if (isnan(acc))
            fprintf(f, "%8s\n", "-");
        else
            fprintf(f, "%7.2f%%\n", 100 * acc);
    }
}

void ns_eval_print_confusion(FILE *f, const ns_confusion *c, const ns_class_names *names, int max_classes)
{
    if (c->classes > max_classes) {
        fprintf(f, "confusion matrix: %d classes are too many to print readably; write it as CSV with "
                   "--confusion-out FILE\n", c->classes);
        return;
    }
    /* Columns are numbered (names do not fit side by side); the rows carry
     * the names and their number, so a column is looked up by its row. */
    int width = 5;
    char buf[16];
    for (int k = 0; k < c->classes; k++) {
        int l = (int)strlen(ns_class_name(names, k, buf));
        width = l > width ? (l > 24 ? 24 : l) : width;
    }
    fprintf(f, "confusion matrix (rows: true class, columns: predicted class number):\n  %*s    ", width, "");
    for (int k = 0; k < c->classes; k++)
        fprintf(f, "%6d", k);
    fprintf(f, "\n");
    for (int t = 0; t < c->classes; t++) {
        if (names && names->n)
            fprintf(f, "  %*.24s %2d ", width, ns_class_name(names, t, buf), t);
        else
            fprintf(f, "  %*s %2d ", width, "", t);
        for (int p = 0; p < c->classes; p++)
            fprintf(f, "%6llu", (unsigned long long)c->counts[(size_t)t * c->classes + p]);
        fprintf(f, "\n");
    }
}

typedef struct csv_job {
    const ns_confusion *c;
    const ns_class_names *names;
} csv_job;

static ns_status write_csv(FILE *f, void *user)
{
    const csv_job *j = user;
    char buf[16];
    fprintf(f, "\"true \\ predicted\"");
    for (int k = 0; k < j->c->classes; k++) {
        fputc(',', f);
        ns_csv_cell(f, ns_class_name(j->names, k, buf), 1);
    }
    fputc('\n', f);
    for (int t = 0; t < j->c->classes; t++) {
        ns_csv_cell(f, ns_class_name(j->names, t, buf), 1);
        for (int p = 0; p < j->c->classes; p++)
            fprintf(f, ",%llu", (unsigned long long)j->c->counts[(size_t)t * j->c->classes + p]);
        fputc('\n', f);
    }
    return NS_OK;
}

ns_status ns_eval_write_confusion_csv(const char *path, const ns_confusion *c, const ns_class_names *names)
{
    csv_job j = {c, names};
    return ns_atomic_write(path, write_csv, &j);
}
