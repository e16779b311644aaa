#include "report/grids.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "augment/policy.h"
#include "data/source.h"
#include "report/png_memory.h"
#include "report/svg.h"
#include "selftrain/label_file.h"
#include "util/error.h"

#define HIST_BINS 20

void ns_report_images_free(ns_report_images *im)
{
    ns_dataset_free(&im->split[0]);
    ns_dataset_free(&im->split[1]);
    memset(im, 0, sizeof *im);
}

static void note(ns_html *h, const char *what, const char *why)
{
    ns_html_raw(h, "<p class=\"missing\">");
    ns_html_text(h, what);
    if (why) {
        ns_html_raw(h, ": ");
        ns_html_text(h, why);
    }
    ns_html_raw(h, "</p>\n");
}

/* The split of `spec` (train = 1), opened once per report. NULL with why set. */
static const ns_dataset *split(ns_report_images *im, const char *spec, int train, const char **why)
{
    if (!spec || !*spec) {
        *why = "the run's configuration names no data source";
        return NULL;
    }
    if (im->state[train] && strcmp(im->spec[train], spec)) {
        ns_dataset_free(&im->split[train]);
        im->state[train] = 0;
    }
    if (!im->state[train]) {
        snprintf(im->spec[train], sizeof im->spec[train], "%s", spec);
        if (ns_dataset_open(spec, train, &im->split[train]) == NS_OK) {
            im->state[train] = 1;
        } else {
            im->state[train] = -1;
            snprintf(im->why[train], sizeof im->why[train], "%s", ns_last_error());
        }
    }
    *why = im->why[train];
    return im->state[train] == 1 ? &im->split[train] : NULL;
}

/* One thumbnail: <figure class="thumb CLS"><img ...><figcaption>..</figcaption></figure> */
static void thumb(ns_html *h, const ns_dataset *d, size_t i, const char *cls, const char *caption, const char *alt)
{
    uint8_t *png = NULL;
    size_t n = 0;
    ns_html_printf(h, "<figure class=\"thumb %s\"><img alt=\"", cls);
    ns_html_text(h, alt);
    ns_html_raw(h, "\" src=\"data:image/png;base64,");
    if (ns_png_encode(ns_dataset_image(d, i), d->w, d->h, d->c, &png, &n) == NS_OK)
        ns_html_base64(h, png, n);
    free(png);
    ns_html_raw(h, "\"><figcaption>");
    ns_html_text(h, caption);
    ns_html_raw(h, "</figcaption></figure>");
}

static void grid_open(ns_html *h, const char *id, const char *suffix, int n)
{
    ns_html_raw(h, "<div class=\"imggrid\" data-grid=\"");
    ns_html_text(h, id);
    ns_html_text(h, suffix);
    ns_html_printf(h, "\" data-images=\"%d\">", n);
}

typedef struct ranked {
    float conf;
    size_t i;
} ranked;

/* Most confident first; ties in record order, so a report is reproducible. */
static int cmp_conf_desc(const void *a, const void *b)
{
    const ranked *x = a, *y = b;
    if (x->conf != y->conf)
        return x->conf < y->conf ? 1 : -1;
    return x->i < y->i ? -1 : x->i > y->i;
}

static void histogram(ns_html *h, const ns_label_set *s, const char *id)
{
    uint64_t c[HIST_BINS] = {0}, w[HIST_BINS] = {0}, u[HIST_BINS] = {0};
    for (size_t i = 0; i < s->count; i++) {
        int b = (int)(s->confidence[i] * HIST_BINS);
        b = b < 0 ? 0 : b >= HIST_BINS ? HIST_BINS - 1 : b;
        if (s->true_label[i] < 0)
            u[b]++;
        else if (s->true_label[i] == s->top[i])
            c[b]++;
        else
            w[b]++;
    }
    char hid[64];
    snprintf(hid, sizeof hid, "%s-confidence", id);
    ns_html_printf(h, "<figure class=\"chart\"><figcaption>confidence of the teacher's %zu pseudo-labels: "
                      "<span style=\"color:#3a9a4a\">correct</span>, <span style=\"color:#d0483c\">wrong</span>, "
                      "<span style=\"color:#777\">true label unknown</span></figcaption>", s->count);
    ns_svg_histogram(h, hid, c, w, u, HIST_BINS);
    ns_html_raw(h, "</figure>\n");
}

void ns_report_label_views(ns_html *h, ns_report_images *im, const char *labels, const char *data, const char *id,
                           const ns_class_names *names)
{
    ns_label_set s;
    if (ns_label_file_read(labels, &s) != NS_OK) {
        note(h, "No pseudo-label pictures", ns_last_error());
        return;
    }
    histogram(h, &s, id);
    const char *why = NULL;
    const ns_dataset *d = NULL;
    if (strncmp(s.source, "folder:", 7) == 0)
        why = "the labels come from an image folder; its pictures are not embedded";
    else
        d = split(im, strcmp(s.source, "pool") == 0 ? data : s.source, 1, &why);
    if (d)
        for (size_t i = 0; i < s.count; i++)
            if (s.source_id[i] >= d->n || d->c > 3 || d->c == 2) {
                why = "the label file's images are not in the data source the run names";
                d = NULL;
                break;
            }
    if (!d) {
        note(h, "No pseudo-label pictures", why);
        ns_label_set_free(&s);
        return;
    }
    ranked *order = malloc((s.count ? s.count : 1) * sizeof *order);
    if (!order) {
        h->oom = 1;
        ns_label_set_free(&s);
        return;
    }
    const int classes = s.classes < NS_REPORT_GRID_CLASSES ? s.classes : NS_REPORT_GRID_CLASSES;
    ns_html_printf(h, "<p>Per class, the %d most and the %d least confident images the teacher gave that class "
                      "(red: the true label differs).</p>\n", NS_REPORT_PER_CLASS, NS_REPORT_PER_CLASS);
    if (classes < s.classes)
        ns_html_printf(h, "<p class=\"missing\">Grids of the first %d of %d classes.</p>\n", classes, s.classes);
    for (int k = 0; k < classes; k++) {
        size_t m = 0;
        for (size_t i = 0; i < s.count; i++)
            if (s.top[i] == k)
                order[m++] = (ranked){s.confidence[i], i};
        qsort(order, m, sizeof *order, cmp_conf_desc);
        /* most confident first, then the least confident (no image twice) */
        size_t pick[2 * NS_REPORT_PER_CLASS], np = 0;
        for (size_t i = 0; i < m && i < NS_REPORT_PER_CLASS; i++)
            pick[np++] = order[i].i;
        size_t from = m > NS_REPORT_PER_CLASS ? m - NS_REPORT_PER_CLASS : m;
        if (from < NS_REPORT_PER_CLASS)
            from = m < NS_REPORT_PER_CLASS ? m : NS_REPORT_PER_CLASS;
        for (size_t i = from; i < m; i++)
            pick[np++] = order[i].i;
        char buf[16], suffix[32], cap[NS_CLASS_NAME_MAX + 64], alt[2 * NS_CLASS_NAME_MAX + 64];
        ns_html_raw(h, "<div class=\"rowlabel\">");
        ns_html_text(h, ns_class_name(names, k, buf));
        ns_html_printf(h, " (%zu found)</div>", m);
        snprintf(suffix, sizeof suffix, "-pseudo-%d", k);
        grid_open(h, id, suffix, (int)np);
        for (size_t j = 0; j < np; j++) {
            size_t i = pick[j];
            int wrong = s.true_label[i] >= 0 && s.true_label[i] != s.top[i];
            if (wrong) {
                char tb[16];
                snprintf(cap, sizeof cap, "%.3f, is %s", (double)s.confidence[i],
                         ns_class_name(names, s.true_label[i], tb));
            } else {
                snprintf(cap, sizeof cap, "%.3f", (double)s.confidence[i]);
            }
            snprintf(alt, sizeof alt, "pool image %u labeled %s", (unsigned)s.source_id[i], ns_class_name(names, k, buf));
            thumb(h, d, s.source_id[i], wrong ? "wrong" : "", cap, alt);
        }
        ns_html_raw(h, "</div>\n");
    }
    free(order);
    ns_label_set_free(&s);
}

static void compare_grid(ns_html *h, const ns_dataset *d, const ns_eval_record *t, const ns_eval_record *s,
                         int student_right, const char *id)
{
    size_t pick[NS_REPORT_TEST_IMAGES], np = 0;
    for (size_t i = 0; i < d->n && np < NS_REPORT_TEST_IMAGES; i++) {
        int truth = d->labels[i];
        if (truth < 0)
            continue;
        int sr = s->predicted[i] == truth, tr = t->predicted[i] == truth;
        if (student_right ? (sr && !tr) : (!sr && tr))
            pick[np++] = i;
    }
    size_t total = 0;
    for (size_t i = 0; i < d->n; i++)
        if (d->labels[i] >= 0) {
            int sr = s->predicted[i] == d->labels[i], tr = t->predicted[i] == d->labels[i];
            total += student_right ? (sr && !tr) : (!sr && tr);
        }
    ns_html_printf(h, "<div class=\"rowlabel\">%s (%zu test images%s)</div>",
                   student_right ? "the student gets right, the teacher got wrong"
                                 : "the teacher got right, the student gets wrong",
                   total, total > np ? ", the first ones shown" : "");
    grid_open(h, id, student_right ? "-test-gained" : "-test-lost", (int)np);
    for (size_t j = 0; j < np; j++) {
        size_t i = pick[j];
        char a[16], b[16], c[16], cap[3 * NS_CLASS_NAME_MAX + 32], alt[3 * NS_CLASS_NAME_MAX + 64];
        snprintf(cap, sizeof cap, "%s; T: %s, S: %s", ns_class_name(&s->names, d->labels[i], a),
                 ns_class_name(&s->names, t->predicted[i], b), ns_class_name(&s->names, s->predicted[i], c));
        snprintf(alt, sizeof alt, "test image %zu: %s", i, cap);
        thumb(h, d, i, student_right ? "right" : "wrong", cap, alt);
    }
    ns_html_raw(h, "</div>\n");
}

void ns_report_test_grids(ns_html *h, ns_report_images *im, const char *data, const ns_eval_record *teacher,
                          const ns_eval_record *student, const char *id)
{
    const char *why = NULL;
    const ns_dataset *d = split(im, data, 0, &why);
    if (d && (teacher->n != d->n || student->n != d->n || d->c == 2 || d->c > 3)) {
        why = "eval.json does not match the test split of the run's data source";
        d = NULL;
    }
    if (!d) {
        note(h, "No test image pictures", why);
        return;
    }
    ns_html_raw(h, "<p>Captions: the true class; T: the teacher's prediction, S: the student's.</p>\n");
    compare_grid(h, d, teacher, student, 1, id);
    compare_grid(h, d, teacher, student, 0, id);
}

void ns_report_noise_row(ns_html *h, ns_report_images *im, const char *data, const char *augment, const char *id)
{
    const char *why = NULL;
    const ns_dataset *d = split(im, data, 1, &why);
    if (d && (d->c == 2 || d->c > 3 || d->n == 0)) {
        why = "the training images are not 1- or 3-channel";
        d = NULL;
    }
    if (!d) {
        note(h, "No noise pictures", why);
        return;
    }
    ns_augment_policy *p = NULL;
    if (ns_augment_policy_open(augment, &p) != NS_OK) {
        note(h, "No noise pictures", ns_last_error());
        return;
    }
    const int n = (int)(d->n < NS_REPORT_NOISE_IMAGES ? d->n : NS_REPORT_NOISE_IMAGES);
    const size_t bytes = ns_dataset_image_bytes(d);
    /* the noised copies go in a small dataset of their own so thumb() can take them */
    ns_dataset noised;
    memset(&noised, 0, sizeof noised);
    uint8_t *scratch = malloc(bytes);
    size_t idx[NS_REPORT_NOISE_IMAGES];
    ns_status st = scratch ? ns_dataset_alloc(&noised, (size_t)n, d->h, d->w, d->c)
                           : ns_fail(NS_ERR_NOMEM, "report: out of memory");
    for (int i = 0; st == NS_OK && i < n; i++) {
        idx[i] = (size_t)i * d->n / (size_t)n;
        memcpy(ns_dataset_image(&noised, (size_t)i), ns_dataset_image(d, idx[i]), bytes);
        ns_image img = {ns_dataset_image(&noised, (size_t)i), d->w, d->h, d->c};
        ns_rng rng = ns_rng_make(0x5245504fu /* "REPO" */, (uint64_t)i);
        st = ns_augment_policy_apply(p, &img, scratch, &rng);
    }
    if (st != NS_OK) {
        note(h, "No noise pictures", ns_last_error());
    } else {
        ns_html_raw(h, "<div class=\"rowlabel\">training images</div>");
        grid_open(h, id, "-noise-original", n);
        for (int i = 0; i < n; i++) {
            char alt[64];
            snprintf(alt, sizeof alt, "training image %zu", idx[i]);
            thumb(h, d, idx[i], "", "", alt);
        }
        ns_html_raw(h, "</div>\n<div class=\"rowlabel\">the same under ");
        ns_html_text(h, ns_augment_policy_describe(p));
        ns_html_raw(h, " (one draw each)</div>");
        grid_open(h, id, "-noise", n);
        for (int i = 0; i < n; i++) {
            char alt[64];
            snprintf(alt, sizeof alt, "training image %zu, noised", idx[i]);
            thumb(h, &noised, (size_t)i, "", "", alt);
        }
        ns_html_raw(h, "</div>\n");
    }
    free(scratch);
    ns_dataset_free(&noised);
    ns_augment_policy_close(p);
}
