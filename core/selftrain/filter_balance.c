#include "selftrain/filter_balance.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

#include <noisystudent/rng.h>

#include "train/targets.h"
#include "util/error.h"

/* Philox purpose of the stochastic-rounding draws: stream (purpose, class, 0),
 * element = the image's rank in its class. */
#define NS_RNG_PURPOSE_BALANCE 0x1E0u

ns_filter_config ns_filter_config_default(void)
{
    ns_filter_config c = {0.3f, 0, 0, 1, 0, 1.0f, 0.0f};
    return c;
}

void ns_student_set_free(ns_student_set *s)
{
    if (!s)
        return;
    free(s->source_id);
    free(s->record);
    free(s->label);
    free(s->targets);
    memset(s, 0, sizeof *s);
}

void ns_class_table_free(ns_class_table *t)
{
    if (!t)
        return;
    free(t->rows);
    ns_class_names_free(&t->names);
    memset(t, 0, sizeof *t);
}

double ns_class_row_accuracy(const ns_class_row *r)
{
    return r->known ? (double)r->correct / (double)r->known : NAN;
}

static ns_status check_config(const ns_filter_config *c)
{
    if (!(c->threshold >= 0.0f && c->threshold <= 1.0f))
        return ns_fail(NS_ERR_INVALID_ARG, "filter: threshold %g, expected 0..1", (double)c->threshold);
    if (!c->hard && !(c->temperature > 0.0f && isfinite(c->temperature)))
        return ns_fail(NS_ERR_INVALID_ARG, "filter: temperature %g, expected > 0", (double)c->temperature);
    if (c->hard && !(c->smoothing >= 0.0f && c->smoothing < 1.0f))
        return ns_fail(NS_ERR_INVALID_ARG, "filter: label smoothing %g, expected 0 <= s < 1", (double)c->smoothing);
    return NS_OK;
}

/* Sort keys copied out of the label set, so the comparison needs no context. */
typedef struct ranked {
    float confidence;
    uint32_t source_id, record;
} ranked;

/* Most confident first; ties by source id, then record, so the order is total. */
static int by_confidence(const void *a, const void *b)
{
    const ranked *x = a, *y = b;
    if (x->confidence != y->confidence)
        return x->confidence > y->confidence ? -1 : 1;
    if (x->source_id != y->source_id)
        return x->source_id < y->source_id ? -1 : 1;
    return (x->record > y->record) - (x->record < y->record);
}

static int cmp_size(const void *a, const void *b)
{
    const size_t x = *(const size_t *)a, y = *(const size_t *)b;
    return (x > y) - (x < y);
}

/* `scratch` holds `classes` entries. */
static size_t median_target(const size_t *passed, int classes, size_t *scratch)
{
    size_t n = 0;
    for (int k = 0; k < classes; k++)
        if (passed[k])
            scratch[n++] = passed[k];
    qsort(scratch, n, sizeof *scratch, cmp_size);
    return n ? scratch[n / 2] : 0;
}

/* Copies of the image at `rank` of a class of `c` passing images brought to `target`. */
static size_t copies_of(size_t rank, size_t c, size_t target, const ns_filter_config *cfg, int k)
{
    const size_t q = target / c, r = target % c;
    if (!cfg->stochastic)
        return q + (rank < r);
    const float frac = (float)r / (float)c;
    const uint64_t stream = ns_rng_stream_id(NS_RNG_PURPOSE_BALANCE, (uint64_t)k, 0);
    return q + (ns_philox_uniform_at(cfg->seed, stream, rank) < frac);
}

static void soft_target(const float *p, int classes, float temperature, float *out)
{
    double mx = -INFINITY, sum = 0;
    for (int k = 0; k < classes; k++) {
        double l = p[k] > 0 ? log((double)p[k]) / temperature : -INFINITY;
        out[k] = (float)l;
        if (l > mx)
            mx = l;
    }
    for (int k = 0; k < classes; k++) {
        double e = isinf(out[k]) ? 0.0 : exp((double)out[k] - mx);
        out[k] = (float)e;
        sum += e;
    }
    for (int k = 0; k < classes; k++)
        out[k] = (float)(out[k] / sum);
}

typedef struct work {
    ranked *order;    /* passing images grouped by class, sorted within each */
    size_t *start;    /* classes + 1 offsets into order */
    size_t *passed;
    size_t *scratch;  /* classes entries */
} work;

static void work_free(work *w)
{
    free(w->order);
    free(w->start);
    free(w->passed);
    free(w->scratch);
}

ns_status ns_filter_balance(const ns_label_set *labels, const ns_filter_config *cfg, ns_student_set *out,
                            ns_class_table *table)
{
    ns_student_set set = {0};
    ns_class_table tab = {0};
    if (out)
        memset(out, 0, sizeof *out);
    if (table)
        memset(table, 0, sizeof *table);
    NS_TRY(check_config(cfg));
    const int K = labels->classes;
    if (K < 1)
        return ns_fail(NS_ERR_INVALID_ARG, "filter: label set of %d classes", K);
    work w = {0};
    w.order = malloc((labels->count ? labels->count : 1) * sizeof *w.order);
    w.start = calloc((size_t)K + 1, sizeof *w.start);
    w.passed = calloc((size_t)K, sizeof *w.passed);
    w.scratch = calloc((size_t)K, sizeof *w.scratch);
    tab.rows = calloc((size_t)K, sizeof *tab.rows);
    ns_status st = NS_OK;
    if (!w.order || !w.start || !w.passed || !w.scratch || !tab.rows)
        st = ns_fail(NS_ERR_NOMEM, "filter: out of memory for %zu images", labels->count);
    for (size_t i = 0; st == NS_OK && i < labels->count; i++)
        if (labels->top[i] < 0 || labels->top[i] >= K)
            st = ns_fail(NS_ERR_INVALID_ARG, "filter: record %zu has top class %d, expected 0..%d", i,
                         (int)labels->top[i], K - 1);

    /* Passing images, bucketed by class (counting sort), then ranked. */
    float best = 0.0f;
    for (size_t i = 0; st == NS_OK && i < labels->count; i++) {
        const int k = labels->top[i];
        tab.rows[k].found++;
        if (labels->confidence[i] > best)
            best = labels->confidence[i];
        if (labels->confidence[i] >= cfg->threshold)
            w.passed[k]++;
    }
    size_t total_passed = 0;
    for (int k = 0; st == NS_OK && k < K; k++) {
        w.start[k + 1] = w.start[k] + w.passed[k];
        total_passed += w.passed[k];
    }
    if (st == NS_OK && total_passed == 0)
        st = ns_fail(NS_ERR_INVALID_ARG,
                     "filter: none of the %zu pseudo-labeled images reaches the confidence threshold %g "
                     "(highest confidence %g); lower --threshold",
                     labels->count, (double)cfg->threshold, (double)best);
    if (st == NS_OK) {
        size_t *fill = calloc((size_t)K, sizeof *fill);
        if (!fill)
            st = ns_fail(NS_ERR_NOMEM, "filter: out of memory");
        for (size_t i = 0; st == NS_OK && i < labels->count; i++) {
            const int k = labels->top[i];
            if (labels->confidence[i] >= cfg->threshold)
                w.order[w.start[k] + fill[k]++] =
                    (ranked){labels->confidence[i], labels->source_id[i], (uint32_t)i};
        }
        free(fill);
        for (int k = 0; st == NS_OK && k < K; k++)
            qsort(w.order + w.start[k], w.passed[k], sizeof *w.order, by_confidence);
    }

    /* Target per class and the size of the student set. */
    size_t target = 0;
    if (st == NS_OK) {
        target = cfg->per_class > 0 ? (size_t)cfg->per_class : cfg->per_class == 0 ? median_target(w.passed, K, w.scratch) : 0;
        tab.target = target;
        for (int k = 0; k < K; k++) {
            const size_t c = w.passed[k];
            ns_class_row *r = &tab.rows[k];
            r->passed = c;
            r->kept = target && c > target ? target : c;
            for (size_t rank = 0; target && c && c < target && rank < c; rank++)
                r->duplicated += copies_of(rank, c, target, cfg, k) - 1;
            r->dropped = r->found - r->kept;
            set.n += r->kept + r->duplicated;
        }
        set.classes = K;
        const size_t n = set.n ? set.n : 1;
        set.source_id = malloc(n * sizeof *set.source_id);
        set.record = malloc(n * sizeof *set.record);
        set.label = malloc(n * sizeof *set.label);
        set.targets = malloc(n * (size_t)K * sizeof *set.targets);
        if (!set.source_id || !set.record || !set.label || !set.targets)
            st = ns_fail(NS_ERR_NOMEM, "filter: out of memory for a student set of %zu images", set.n);
    }

    /* Emit: per class, each kept image `copies` times, most confident first. */
    size_t pos = 0;
    for (int k = 0; st == NS_OK && k < K; k++) {
        ns_class_row *r = &tab.rows[k];
        double conf_sum = 0;
        for (size_t rank = 0; rank < r->kept; rank++) {
            const uint32_t i = w.order[w.start[k] + rank].record;
            conf_sum += labels->confidence[i];
            if (labels->true_label[i] >= 0) {
                r->known++;
                r->correct += labels->true_label[i] == k;
            }
            const size_t copies = target && r->passed < target ? copies_of(rank, r->passed, target, cfg, k) : 1;
            for (size_t j = 0; j < copies; j++, pos++) {
                set.source_id[pos] = labels->source_id[i];
                set.record[pos] = i;
                set.label[pos] = k;
                float *t = set.targets + pos * (size_t)K;
                if (cfg->hard) {
                    const uint32_t zero = 0;
                    ns_targets_one_hot(&set.label[pos], &zero, 1, K, cfg->smoothing, t);
                } else {
                    soft_target(labels->probs + (size_t)i * K, K, cfg->temperature, t);
                }
            }
        }
        r->mean_confidence = r->kept ? conf_sum / (double)r->kept : NAN;
    }
    if (st == NS_OK && pos != set.n)
        st = ns_fail(NS_ERR_INTERNAL, "filter: emitted %zu of %zu images", pos, set.n);

    work_free(&w);
    tab.classes = K;
    tab.threshold = cfg->threshold;
    if (st == NS_OK && table && labels->class_names.n == K)
        st = ns_class_names_copy(&tab.names, &labels->class_names);
    if (st != NS_OK || !out)
        ns_student_set_free(&set);
    if (st != NS_OK || !table)
        ns_class_table_free(&tab);
    if (st == NS_OK && out)
        *out = set;
    if (st == NS_OK && table)
        *table = tab;
    return st;
}

/* The rows summed; the mean confidence weighted by each row's kept count. */
static ns_class_row table_total(const ns_class_table *t)
{
    ns_class_row sum = {0};
    double conf_sum = 0;
    for (int k = 0; k < t->classes; k++) {
        const ns_class_row *r = &t->rows[k];
        sum.found += r->found;
        sum.passed += r->passed;
        sum.kept += r->kept;
        sum.duplicated += r->duplicated;
        sum.dropped += r->dropped;
        sum.known += r->known;
        sum.correct += r->correct;
        if (r->kept)
            conf_sum += r->mean_confidence * (double)r->kept;
    }
    sum.mean_confidence = sum.kept ? conf_sum / (double)sum.kept : NAN;
    return sum;
}

static void print_row(FILE *f, int width, const char *label, const ns_class_row *r)
{
    char acc[16] = "      -", conf[16] = "        -";
    if (r->known)
        snprintf(acc, sizeof acc, "%6.2f%%", 100 * ns_class_row_accuracy(r));
    if (r->kept)
        snprintf(conf, sizeof conf, "%9.4f", r->mean_confidence);
    fprintf(f, "  %*s %8zu %8zu %8zu %8zu %8zu  %s  %s\n", width, label, r->found, r->passed, r->kept, r->duplicated,
            r->dropped, conf, acc);
}

void ns_class_table_print(FILE *f, const ns_class_table *t)
{
    if (t->target)
        fprintf(f, "pseudo-labels at threshold %.2f, balanced to %zu images per class\n", (double)t->threshold,
                t->target);
    else
        fprintf(f, "pseudo-labels at threshold %.2f, not balanced\n", (double)t->threshold);
    /* The class column is as wide as the longest name (at least 5, "class"). */
    int width = 5;
    for (int k = 0; k < t->names.n; k++) {
        const int len = (int)strlen(t->names.names[k]);
        width = len > width ? len : width;
    }
    fprintf(f, "  %*s    found   passed     kept  duplic.  dropped  mean conf  pl acc\n", width, "class");
    for (int k = 0; k < t->classes; k++) {
        char buf[16];
        print_row(f, width, ns_class_name(&t->names, k, buf), &t->rows[k]);
    }
    const ns_class_row sum = table_total(t);
    print_row(f, width, "total", &sum);
}

static json_t *number_or_null(double v)
{
    return isnan(v) ? json_null() : json_real(v);
}

static json_t *row_to_json(const ns_class_row *r)
{
    return json_pack("{s:I, s:I, s:I, s:I, s:I, s:o, s:I, s:I, s:o}", "found", (json_int_t)r->found, "passed",
                     (json_int_t)r->passed, "kept", (json_int_t)r->kept, "duplicated", (json_int_t)r->duplicated,
                     "dropped", (json_int_t)r->dropped, "mean_confidence", number_or_null(r->mean_confidence),
                     "known", (json_int_t)r->known, "correct", (json_int_t)r->correct, "accuracy",
                     number_or_null(ns_class_row_accuracy(r)));
}

json_t *ns_class_table_to_json(const ns_class_table *t)
{
    json_t *rows = json_array();
    for (int k = 0; rows && k < t->classes; k++) {
        json_t *row = row_to_json(&t->rows[k]);
        if (row && t->names.n == t->classes) /* by name too, for reports */
            json_object_set_new(row, "name", json_string(t->names.names[k]));
        json_array_append_new(rows, row);
    }
    const ns_class_row sum = table_total(t);
    return json_pack("{s:f, s:I, s:o*, s:o}", "threshold", (double)t->threshold, "target", (json_int_t)t->target,
                     "classes", rows, "total", row_to_json(&sum));
}
