#include "report/report.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>

#include <jansson.h>

#include "io/file_util.h"
#include "data/source.h"
#include "io/atomic_file.h"
#include "io/run_dir.h"
#include "report/grids.h"
#include "report/svg.h"
#include "train/eval_record.h"
#include "util/error.h"

#define MAX_STAGES 34 /* a teacher and up to 33 students */

typedef struct stage {
    char name[32], id[16], dir[1100], labels[1200];
    int student; /* index k of iterK, 0 for a teacher or a plain run */
    json_t *metrics, *config, *pseudo;
    ns_eval_record eval;
    int has_eval, finished, has_ckpt;
    char eval_error[256];
} stage;

typedef struct report {
    const char *dir;
    int selftrain;
    json_t *selftrain_cfg;
    stage st[MAX_STAGES];
    int n;
    ns_report_images img;
    ns_html *h;
} report;

static int exists(const char *path)
{
    struct stat sb;
    return stat(path, &sb) == 0;
}

static double num(json_t *v)
{
    return json_is_number(v) ? json_number_value(v) : NAN;
}

static const char *cfg_str(const stage *s, const char *key)
{
    return s->config ? json_string_value(json_object_get(s->config, key)) : NULL;
}

static ns_status load_json_opt(const char *path, json_t **out)
{
    *out = NULL;
    if (!exists(path))
        return NS_OK;
    json_error_t err;
    *out = json_load_file(path, 0, &err);
    if (!*out)
        return ns_fail(NS_ERR_FORMAT, "%s: not JSON: %s (line %d)", path, err.text, err.line);
    return NS_OK;
}

static ns_status load_stage(stage *s)
{
    char p[1300];
    NS_TRY(ns_metrics_read(s->dir, &s->metrics));
    snprintf(p, sizeof p, "%s/config.json", s->dir);
    NS_TRY(load_json_opt(p, &s->config));
    snprintf(p, sizeof p, "%s/pseudo_labels.json", s->dir);
    NS_TRY(load_json_opt(p, &s->pseudo));
    snprintf(p, sizeof p, "%s/model.safetensors", s->dir);
    s->finished = exists(p);
    snprintf(p, sizeof p, "%s/checkpoint.safetensors", s->dir);
    s->has_ckpt = exists(p);
    snprintf(p, sizeof p, "%s/%s", s->dir, NS_EVAL_FILE);
    ns_status st = ns_eval_record_read(p, &s->eval);
    s->has_eval = st == NS_OK;
    if (st != NS_OK && st != NS_ERR_NOT_FOUND)
        snprintf(s->eval_error, sizeof s->eval_error, "%s", ns_last_error());
    if (!s->labels[0] && cfg_str(s, "pseudo") && *cfg_str(s, "pseudo"))
        snprintf(s->labels, sizeof s->labels, "%s", cfg_str(s, "pseudo"));
    return NS_OK;
}

static void free_report(report *r)
{
    for (int i = 0; i < r->n; i++) {
        json_decref(r->st[i].metrics);
        json_decref(r->st[i].config);
        json_decref(r->st[i].pseudo);
        ns_eval_record_free(&r->st[i].eval);
    }
    json_decref(r->selftrain_cfg);
    ns_report_images_free(&r->img);
}

static ns_status find_stages(report *r)
{
    char p[1300];
    snprintf(p, sizeof p, "%s/selftrain.json", r->dir);
    r->selftrain = exists(p);
    if (r->selftrain) {
        NS_TRY(load_json_opt(p, &r->selftrain_cfg));
        stage *t = &r->st[r->n++];
        snprintf(t->name, sizeof t->name, "teacher");
        snprintf(t->id, sizeof t->id, "teacher");
        snprintf(t->dir, sizeof t->dir, "%s/teacher", r->dir);
        for (int k = 1; r->n < MAX_STAGES; k++) {
            snprintf(p, sizeof p, "%s/iter%d", r->dir, k);
            if (!ns_path_is_dir(p))
                break;
            stage *s = &r->st[r->n++];
            s->student = k;
            snprintf(s->name, sizeof s->name, "student %d", k);
            snprintf(s->id, sizeof s->id, "s%d", k);
            snprintf(s->dir, sizeof s->dir, "%s/iter%d/student", r->dir, k);
            snprintf(s->labels, sizeof s->labels, "%s/iter%d/labels.nspl", r->dir, k);
        }
    } else {
        snprintf(p, sizeof p, "%s/config.json", r->dir);
        char q[1300];
        snprintf(q, sizeof q, "%s/%s", r->dir, NS_METRICS_FILE);
        if (!exists(p) && !exists(q))
            return ns_fail(NS_ERR_NOT_FOUND, "%s: not a run directory (no selftrain.json, config.json or %s)",
                           r->dir, NS_METRICS_FILE);
        stage *s = &r->st[r->n++];
        snprintf(s->name, sizeof s->name, "run");
        snprintf(s->id, sizeof s->id, "run");
        snprintf(s->dir, sizeof s->dir, "%s", r->dir);
    }
    for (int i = 0; i < r->n; i++) {
        if (!ns_path_is_dir(r->st[i].dir)) {
            r->st[i].metrics = json_array();
            continue;
        }
        NS_TRY(load_stage(&r->st[i]));
    }
    return NS_OK;
}

/* ---- pieces of the page ---- */

static const char css[] =
    "body{font:14px/1.4 system-ui,-apple-system,'Segoe UI',sans-serif;margin:1.5em auto;max-width:1200px;"
    "padding:0 1em;color:#222}h1{font-size:1.5em}h2{border-bottom:1px solid #ccc;margin-top:2em}"
    "table{border-collapse:collapse;margin:.5em 0}td,th{border:1px solid #ddd;padding:3px 8px;text-align:right}"
    "th{background:#f4f4f4}td.l,th.l{text-align:left}.charts{display:flex;flex-wrap:wrap;gap:12px}"
    "figure{margin:0}figure.chart figcaption{font-weight:600}.plot{fill:#fafafa;stroke:#bbb}"
    ".grid line,line.grid{stroke:#e4e4e4}.ytick{font-size:10px;text-anchor:end}.xtick{font-size:10px;"
    "text-anchor:middle}.xlabel{font-size:11px;text-anchor:middle}.empty{text-anchor:middle;fill:#888}"
    "line.ref{stroke:#555;stroke-dasharray:5 3}.legend span{margin-right:1em;font-size:12px}"
    ".legend i{display:inline-block;width:12px;height:3px;margin-right:4px;vertical-align:middle}"
    ".legend i.refkey{border-top:2px dashed #555;height:0}.blabel{font-size:11px;text-anchor:end}"
    ".bval{font-size:10px}rect.bar{fill:#4a7fb5}.cnum{font-size:9px;text-anchor:middle}.cnum.inv{fill:#fff}"
    "rect.seg-correct{fill:#3a9a4a}rect.seg-wrong{fill:#d0483c}rect.seg-unknown{fill:#999}"
    ".imggrid{display:flex;flex-wrap:wrap;gap:4px;margin:.3em 0 1em}.thumb{text-align:center;font-size:10px;"
    "width:64px;overflow:hidden}.thumb img{width:56px;height:56px;image-rendering:pixelated;border:3px solid "
    "transparent}.thumb.wrong img{border-color:#d0483c}.thumb.right img{border-color:#3a9a4a}"
    ".rowlabel{font-size:12px;font-weight:600;margin-top:.5em}.missing{color:#a05a00}pre{background:#f6f6f6;"
    "padding:.5em;overflow:auto;max-height:30em;font-size:12px}.side{display:flex;flex-wrap:wrap;gap:24px}";

static void missing(ns_html *h, const char *what)
{
    ns_html_raw(h, "<p class=\"missing\">");
    ns_html_text(h, what);
    ns_html_raw(h, "</p>\n");
}

static double stage_test_acc(const stage *s)
{
    if (s->has_eval)
        return ns_confusion_accuracy(&s->eval.conf);
    double v = NAN;
    for (size_t i = 0; i < json_array_size(s->metrics); i++) {
        double t = num(json_object_get(json_array_get(s->metrics, i), "test_acc"));
        if (isfinite(t))
            v = t;
    }
    return v;
}

static double stage_seconds(const stage *s)
{
    double t = 0;
    for (size_t i = 0; i < json_array_size(s->metrics); i++)
        t += fmax(0, num(json_object_get(json_array_get(s->metrics, i), "seconds")) * 1.0);
    return t;
}

static void pct(ns_html *h, double v)
{
    if (isfinite(v))
        ns_html_printf(h, "%.2f%%", 100 * v);
    else
        ns_html_raw(h, "-");
}

static void summary(report *r)
{
    ns_html *h = r->h;
    const double teacher = r->selftrain ? stage_test_acc(&r->st[0]) : NAN;
    ns_html_raw(h, "<h2 id=\"summary\">Summary</h2>\n<table id=\"summary-table\"><tr><th class=\"l\">stage</th>"
                   "<th class=\"l\">model</th><th>epochs</th><th>test accuracy</th><th>vs teacher</th>"
                   "<th>pseudo-labels it learned, correct</th><th>training time</th><th class=\"l\">backend</th>"
                   "<th class=\"l\">state</th></tr>\n");
    for (int i = 0; i < r->n; i++) {
        const stage *s = &r->st[i];
        double acc = stage_test_acc(s);
        ns_html_printf(h, "<tr data-stage=\"%s\"><td class=\"l\">", s->id);
        ns_html_text(h, s->name);
        ns_html_raw(h, "</td><td class=\"l\">");
        ns_html_text(h, cfg_str(s, "model") ? cfg_str(s, "model") : "-");
        json_t *ep = s->config ? json_object_get(s->config, "epochs") : NULL;
        ns_html_printf(h, "</td><td>%zu/", json_array_size(s->metrics));
        if (json_is_integer(ep))
            ns_html_printf(h, "%lld", (long long)json_integer_value(ep));
        else
            ns_html_raw(h, "?");
        ns_html_raw(h, "</td><td>");
        pct(h, acc);
        ns_html_raw(h, "</td><td>");
        if (s->student && isfinite(acc) && isfinite(teacher))
            ns_html_printf(h, "%+.2f", 100 * (acc - teacher));
        else
            ns_html_raw(h, "-");
        ns_html_raw(h, "</td><td>");
        pct(h, s->pseudo ? num(json_object_get(json_object_get(s->pseudo, "total"), "accuracy")) : NAN);
        double sec = stage_seconds(s);
        ns_html_printf(h, "</td><td>%.0f min %02.0f s</td><td class=\"l\">", floor(sec / 60), fmod(sec, 60));
        ns_html_text(h, s->has_eval && s->eval.backend[0] ? s->eval.backend : "-");
        ns_html_raw(h, "</td><td class=\"l\">");
        ns_html_raw(h, s->finished ? "finished" : s->has_ckpt ? "in progress or stopped"
                                   : ns_path_is_dir(s->dir) ? "started" : "not started");
        ns_html_raw(h, "</td></tr>\n");
    }
    ns_html_raw(h, "</table>\n<p>Training time: the epochs' seconds in metrics.jsonl (labeling and the final "
                   "evaluation not included). Test accuracy: eval.json, else the last test accuracy in "
                   "metrics.jsonl.</p>\n");
    if (!r->st[0].has_eval && r->st[0].finished)
        missing(h, "The backend is recorded in eval.json, which runs made before the report existed lack; "
                   "the test accuracy then comes from metrics.jsonl.");
}

static void metric_series(const stage *s, const char *key, double *x, double *y)
{
    for (size_t i = 0; i < json_array_size(s->metrics); i++) {
        json_t *rec = json_array_get(s->metrics, i);
        json_t *e = json_object_get(rec, "epoch");
        x[i] = json_is_integer(e) ? (double)json_integer_value(e) : (double)(i + 1);
        y[i] = num(json_object_get(rec, key));
    }
}

static void curves(report *r, const stage *s)
{
    ns_html *h = r->h;
    const int n = (int)json_array_size(s->metrics);
    double *buf = calloc((size_t)(n ? n : 1) * 12, sizeof *buf);
    if (!buf) {
        h->oom = 1;
        return;
    }
    double *x = buf, *loss = buf + n, *tr = buf + 2 * n, *va = buf + 3 * n, *te = buf + 4 * n, *lr = buf + 5 * n,
           *ips = buf + 6 * n;
    metric_series(s, "train_loss", x, loss);
    metric_series(s, "train_acc", x, tr);
    metric_series(s, "val_acc", x, va);
    metric_series(s, "test_acc", x, te);
    metric_series(s, "lr", x, lr);
    metric_series(s, "images_per_s", x, ips);
    char id[64];
    const double teacher = s->student ? stage_test_acc(&r->st[0]) : NAN;
    ns_html_raw(h, "<h3>Learning curves</h3>\n<div class=\"charts\">");
    if (!n)
        missing(h, "metrics.jsonl holds no epoch yet.");
    ns_series sl[] = {{"train loss", x, loss, n}};
    snprintf(id, sizeof id, "%s-loss", s->id);
    ns_line_chart c1 = {id, "loss", "epoch", sl, 1, 0, NAN, NULL};
    ns_svg_line_chart(h, &c1);
    ns_series sa[] = {{"train", x, tr, n}, {"validation", x, va, n}, {"test", x, te, n}};
    int nsa = 3;
    snprintf(id, sizeof id, "%s-acc", s->id);
    ns_line_chart c2 = {id, "accuracy", "epoch", sa, nsa, 1, teacher, "teacher's final test accuracy"};
    ns_svg_line_chart(h, &c2);
    ns_series sr[] = {{"learning rate", x, lr, n}};
    snprintf(id, sizeof id, "%s-lr", s->id);
    ns_line_chart c3 = {id, "learning rate", "epoch", sr, 1, 0, NAN, NULL};
    ns_svg_line_chart(h, &c3);
    ns_series si[] = {{"images/s", x, ips, n}};
    snprintf(id, sizeof id, "%s-ips", s->id);
    ns_line_chart c4 = {id, "training images per second", "epoch", si, 1, 0, NAN, NULL};
    ns_svg_line_chart(h, &c4);
    ns_html_raw(h, "</div>\n");
    free(buf);
}

static void per_class(report *r, const stage *s)
{
    ns_html *h = r->h;
    ns_html_raw(h, "<h3>Per-class test accuracy and confusion matrix</h3>\n");
    if (!s->has_eval) {
        missing(h, s->eval_error[0] ? s->eval_error
                   : s->finished ? "No eval.json: this run was made before per-class evaluation was recorded "
                                   "(noisystudent eval --model MODEL prints it)."
                                 : "Per-class accuracy and the confusion matrix appear when the stage finishes "
                                   "(eval.json).");
        return;
    }
    const ns_confusion *c = &s->eval.conf;
    double *v = malloc((size_t)c->classes * sizeof *v);
    if (!v) {
        h->oom = 1;
        return;
    }
    for (int k = 0; k < c->classes; k++)
        v[k] = ns_confusion_class_accuracy(c, k);
    char id[64];
    ns_html_raw(h, "<div class=\"side\"><div>");
    snprintf(id, sizeof id, "%s-perclass", s->id);
    ns_svg_bars(h, id, &s->eval.names, v, c->classes);
    ns_html_raw(h, "</div><div>");
    snprintf(id, sizeof id, "%s-confusion", s->id);
    ns_svg_heatmap(h, id, &s->eval.names, c->counts, c->classes);
    ns_html_raw(h, "<p>rows: true class, columns: predicted class; each row's shade is its share</p></div></div>\n");
    free(v);
}

static void pseudo_table(report *r, const stage *s)
{
    ns_html *h = r->h;
    json_t *rows = json_object_get(s->pseudo, "classes");
    ns_html_printf(h, "<p>threshold %.3g, per-class target %lld</p>\n",
                   num(json_object_get(s->pseudo, "threshold")),
                   (long long)json_integer_value(json_object_get(s->pseudo, "target")));
    ns_html_printf(h, "<table id=\"%s-pseudo-table\"><tr><th class=\"l\">class</th><th>found</th><th>passed</th>"
                      "<th>kept</th><th>duplicated</th><th>dropped</th><th>mean confidence</th><th>accuracy</th></tr>\n",
                   s->id);
    const ns_class_names *names = r->st[0].has_eval ? &r->st[0].eval.names : s->has_eval ? &s->eval.names : NULL;
    for (size_t k = 0; k <= json_array_size(rows); k++) {
        json_t *row = k < json_array_size(rows) ? json_array_get(rows, k) : json_object_get(s->pseudo, "total");
        char buf[16];
        ns_html_raw(h, "<tr><td class=\"l\">");
        ns_html_text(h, k < json_array_size(rows) ? ns_class_name(names, (int)k, buf) : "total");
        static const char *const keys[] = {"found", "passed", "kept", "duplicated", "dropped"};
        for (int i = 0; i < 5; i++)
            ns_html_printf(h, "</td><td>%lld", (long long)json_integer_value(json_object_get(row, keys[i])));
        double mc = num(json_object_get(row, "mean_confidence"));
        if (isfinite(mc))
            ns_html_printf(h, "</td><td>%.3f", mc);
        else
            ns_html_raw(h, "</td><td>-");
        ns_html_raw(h, "</td><td>");
        pct(h, num(json_object_get(row, "accuracy")));
        ns_html_raw(h, "</td></tr>\n");
    }
    ns_html_raw(h, "</table>\n");
}

static void pseudo_section(report *r, stage *s)
{
    ns_html *h = r->h;
    if (!s->labels[0])
        return;
    ns_html_raw(h, "<h3>Pseudo-labels this student learned</h3>\n");
    if (s->pseudo)
        pseudo_table(r, s);
    else
        missing(h, "No pseudo_labels.json yet (written when the student starts).");
    const ns_class_names *names = r->st[0].has_eval ? &r->st[0].eval.names : NULL;
    ns_report_label_views(h, &r->img, s->labels, cfg_str(&r->st[0], "data"), s->id, names);
}

static void test_compare(report *r, stage *s)
{
    if (!s->student)
        return;
    ns_html *h = r->h;
    const stage *t = &r->st[0];
    ns_html_raw(h, "<h3>Test images: student against teacher</h3>\n");
    if (!s->has_eval || !t->has_eval || !s->eval.predicted || !t->eval.predicted) {
        missing(h, "Needs eval.json of the teacher and of this student (written when a stage finishes).");
        return;
    }
    const char *data = cfg_str(t, "data");
    ns_report_test_grids(h, &r->img, data, &t->eval, &s->eval, s->id);
}

static void noise_section(report *r, const stage *s)
{
    ns_html *h = r->h;
    const char *aug = cfg_str(s, "augment");
    json_t *d = s->config ? json_object_get(s->config, "dropout") : NULL;
    json_t *sd = s->config ? json_object_get(s->config, "stochastic_depth") : NULL;
    ns_html_raw(h, "<h3>Noise</h3>\n<p>RandAugment <code>");
    ns_html_text(h, aug ? aug : "?");
    ns_html_printf(h, "</code>, dropout %.3g, stochastic depth (survival of the last block) %.3g, drop-path mode ",
                   num(d), num(sd));
    ns_html_text(h, cfg_str(s, "drop_path_mode") ? cfg_str(s, "drop_path_mode") : "?");
    ns_html_raw(h, "</p>\n");
    if (aug && strcmp(aug, "none"))
        ns_report_noise_row(h, &r->img, cfg_str(s, "data"), aug, s->id);
}

static void config_section(report *r, const stage *s)
{
    ns_html *h = r->h;
    if (!s->config) {
        missing(h, "No config.json.");
        return;
    }
    char *text = json_dumps(s->config, JSON_INDENT(2) | JSON_SORT_KEYS);
    ns_html_raw(h, "<details><summary>resolved configuration (config.json)</summary><pre>");
    ns_html_text(h, text);
    ns_html_raw(h, "</pre></details>\n");
    free(text);
}

static void stage_section(report *r, stage *s)
{
    ns_html *h = r->h;
    ns_html_printf(h, "<section id=\"stage-%s\"><h2>", s->id);
    ns_html_text(h, s->name);
    if (cfg_str(s, "model")) {
        ns_html_raw(h, ": ");
        ns_html_text(h, cfg_str(s, "model"));
    }
    ns_html_raw(h, "</h2>\n<p>");
    ns_html_text(h, s->dir);
    ns_html_raw(h, "</p>\n");
    if (!ns_path_is_dir(s->dir)) {
        missing(h, "Not started yet.");
        ns_html_raw(h, "</section>\n");
        return;
    }
    curves(r, s);
    per_class(r, s);
    pseudo_section(r, s);
    test_compare(r, s);
    noise_section(r, s);
    config_section(r, s);
    ns_html_raw(h, "</section>\n");
}

/* Renders with the caller's image cache (im), so that a stage's report and
 * its selftrain run's report, rebuilt together after every epoch, read the
 * data source once. */
static ns_status render(const char *dir, ns_report_images *im, ns_html *out)
{
    memset(out, 0, sizeof *out);
    if (!ns_path_is_dir(dir))
        return ns_fail(NS_ERR_NOT_FOUND, "%s: no such run directory", dir);
    report *r = calloc(1, sizeof *r);
    if (!r)
        return ns_fail(NS_ERR_NOMEM, "report: out of memory");
    r->dir = dir;
    r->h = out;
    r->img = *im; /* taken over; handed back below */
    ns_status st = find_stages(r);
    if (st == NS_OK) {
        ns_html *h = out;
        time_t now = time(NULL);
        struct tm tm;
        char when[64];
        gmtime_r(&now, &tm);
        strftime(when, sizeof when, "%Y-%m-%d %H:%M:%S UTC", &tm);
        ns_html_raw(h, "<!DOCTYPE html>\n<html lang=\"en\"><head><meta charset=\"utf-8\">"
                       "<meta name=\"viewport\" content=\"width=device-width\"><title>noisystudent report: ");
        ns_html_text(h, dir);
        ns_html_printf(h, "</title><style>%s</style></head><body>\n<h1>%s run: ", css,
                       r->selftrain ? "Noisy Student" : "Training");
        ns_html_text(h, dir);
        ns_html_printf(h, "</h1>\n<p>Written %s; refresh to see a running run's latest epoch.</p>\n", when);
        summary(r);
        for (int i = 0; i < r->n; i++)
            stage_section(r, &r->st[i]);
        if (r->selftrain_cfg) {
            char *text = json_dumps(r->selftrain_cfg, JSON_INDENT(2) | JSON_SORT_KEYS);
            ns_html_raw(h, "<h2>Self-training configuration</h2><details><summary>selftrain.json</summary><pre>");
            ns_html_text(h, text);
            ns_html_raw(h, "</pre></details>\n");
            free(text);
        }
        ns_html_raw(h, "</body></html>\n");
        st = ns_html_status(h, dir);
    }
    *im = r->img;
    memset(&r->img, 0, sizeof r->img);
    free_report(r);
    free(r);
    if (st != NS_OK)
        ns_html_free(out);
    return st;
}

ns_status ns_report_render(const char *dir, ns_html *out)
{
    ns_report_images im;
    memset(&im, 0, sizeof im);
    ns_status st = render(dir, &im, out);
    ns_report_images_free(&im);
    return st;
}

static ns_status write_with(const char *dir, ns_report_images *im, char *path_out, size_t len)
{
    char path[1100];
    NS_TRY(ns_run_dir_path(dir, NS_REPORT_FILE, path, sizeof path));
    ns_html h;
    NS_TRY(render(dir, im, &h));
    ns_status st = ns_atomic_write_buffer(path, h.text, h.len);
    ns_html_free(&h);
    if (st == NS_OK && path_out)
        snprintf(path_out, len, "%s", path);
    return st;
}

ns_status ns_report_write(const char *dir, char *path_out, size_t len)
{
    ns_report_images im;
    memset(&im, 0, sizeof im);
    ns_status st = write_with(dir, &im, path_out, len);
    ns_report_images_free(&im);
    return st;
}

static void refresh_one(const char *dir, ns_report_images *im, FILE *out)
{
    if (write_with(dir, im, NULL, 0) != NS_OK && out)
        fprintf(out, "warning: report not updated: %s\n", ns_last_error());
}

void ns_report_refresh(const char *stage_dir, int with_images, FILE *out)
{
    ns_report_images im;
    memset(&im, 0, sizeof im);
    im.no_data = !with_images;
    refresh_one(stage_dir, &im, out);
    /* teacher/ is one level below a selftrain run, iterK/student/ two */
    char up[1100], p[1200];
    snprintf(up, sizeof up, "%s", stage_dir);
    for (int level = 0; level < 2; level++) {
        char *slash = strrchr(up, '/');
        if (!slash)
            break;
        if (slash == up)
            slash[1] = 0;
        else
            *slash = 0;
        snprintf(p, sizeof p, "%s/selftrain.json", up);
        if (exists(p)) {
            refresh_one(up, &im, out);
            break;
        }
    }
    ns_report_images_free(&im);
}
