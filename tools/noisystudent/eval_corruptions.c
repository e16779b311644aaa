/* eval --corruptions (eval_corruptions.h). */
#include "eval_corruptions.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <jansson.h>

#include "data/index_list.h"
#include "dist/dist.h"
#include "train/evaluate.h"
#include "train/progress.h"
#include "util/clock.h"
#include "util/error.h"

/* Error (fraction) of mm on the first n images of d. */
static ns_status error_of(const ns_corruption_model *mm, const ns_dataset *d, const ns_index_list *subset, int batch,
                          double *err)
{
    ns_confusion conf;
    ns_status st = ns_confusion_init(&conf, ns_model_classes(mm->model));
    if (st != NS_OK)
        return st;
    ns_eval_config ec = {batch, mm->mean, mm->std, NULL, NULL, 0, NS_TTA_NONE};
    st = ns_evaluate_ranks(mm->model, d, subset, &ec, &conf);
    if (st == NS_OK && conf.total == 0)
        st = ns_fail(NS_ERR_INVALID_ARG, "eval --corruptions: %s has no labeled images to score", d->source);
    if (st == NS_OK)
        *err = 1.0 - ns_confusion_accuracy(&conf);
    ns_confusion_free(&conf);
    if (st != NS_OK)
        ns_error_prefix("%s", mm->path);
    return st;
}

static json_t *numbers(const double *v, int n, double scale)
{
    json_t *a = json_array();
    for (int i = 0; a && i < n; i++)
        json_array_append_new(a, isfinite(v[i]) ? json_real(scale * v[i]) : json_null());
    return a;
}

static json_t *num_or_null(double v) { return isfinite(v) ? json_real(v) : json_null(); }

static double mean_of(const double *v, size_t n)
{
    double s = 0.0;
    for (size_t i = 0; i < n; i++)
        s += v[i];
    return n ? s / (double)n : NAN;
}

static void print_table(const ns_corruption_model *m, const ns_corruption_model *ref, const ns_corruptions *c,
                        size_t n, const char *data_spec, double clean, double ref_clean, const double *err,
                        const double *ref_err, const double *ce, double mce)
{
    const int ns = c->n_sev, has_ref = ref->model != NULL;
    printf("%s on %s, %zu images, corrupted by %s %s:\n", m->path, data_spec, n, ns_augment_opset_name(c->set),
           ns_augment_opset_version(c->set));
    printf("accuracy %% per severity%s\n\n", has_ref ? "; CE = sum of errors over severities / the reference's" : "");
    printf("%-16s", "corruption");
    for (int s = 0; s < ns; s++)
        printf("  sev %d", c->sev[s]);
    printf("    mean%s\n", has_ref ? "  ref mean     CE" : "");
    printf("%-16s", "clean");
    for (int s = 0; s < ns; s++)
        printf("  %5s", "");
    printf("  %6.2f", 100 * (1 - clean));
    if (has_ref)
        printf("    %6.2f", 100 * (1 - ref_clean));
    printf("\n");
    for (size_t k = 0; k < c->n_ops; k++) {
        const double *e = err + k * ns;
        printf("%-16s", ns_augment_opset_op(c->set, c->ops[k])->name);
        for (int s = 0; s < ns; s++)
            printf("  %5.2f", 100 * (1 - e[s]));
        printf("  %6.2f", 100 * (1 - mean_of(e, ns)));
        if (has_ref)
            printf("    %6.2f  %5.3f", 100 * (1 - mean_of(ref_err + k * ns, ns)), ce[k]);
        printf("\n");
    }
    const double mean_err = mean_of(err, c->n_ops * ns);
    printf("\nmean corrupted accuracy %.2f%% (clean %.2f%%)\n", 100 * (1 - mean_err), 100 * (1 - clean));
    if (has_ref)
        printf("mCE %.3f relative to %s (mean corrupted accuracy %.2f%%, clean %.2f%%); below 1: more robust\n", mce,
               ref->path, 100 * (1 - mean_of(ref_err, c->n_ops * ns)), 100 * (1 - ref_clean));
    else
        printf("mean corruption error %.2f%% (unnormalised: no --reference, so the mean error over corruptions "
               "and severities, not an mCE)\n", 100 * mean_err);
}

static json_t *to_json(const ns_corruption_model *m, const ns_corruption_model *ref, const ns_corruptions *c,
                       const char *spec, size_t n, const char *data_spec, double clean, double ref_clean,
                       const double *err, const double *ref_err, const double *ce, double mce)
{
    const int ns = c->n_sev, has_ref = ref->model != NULL;
    json_t *sev = json_array(), *rows = json_array();
    for (int s = 0; sev && s < ns; s++)
        json_array_append_new(sev, json_integer(c->sev[s]));
    for (size_t k = 0; rows && k < c->n_ops; k++) {
        const double *e = err + k * ns;
        double acc[NS_CORRUPTION_MAX_SEVERITY];
        for (int s = 0; s < ns; s++)
            acc[s] = 1 - e[s];
        json_t *row = json_pack("{s:s, s:o, s:o, s:f}", "name", ns_augment_opset_op(c->set, c->ops[k])->name,
                                "accuracy", numbers(acc, ns, 1.0), "error", numbers(e, ns, 1.0), "mean_accuracy",
                                1 - mean_of(e, ns));
        if (row && has_ref) {
            json_object_set_new(row, "reference_error", numbers(ref_err + k * ns, ns, 1.0));
            json_object_set_new(row, "ce", num_or_null(ce[k]));
        }
        json_array_append_new(rows, row);
    }
    const double mean_err = mean_of(err, c->n_ops * ns);
    json_t *j = json_pack("{s:s, s:s, s:s, s:s, s:s, s:I, s:o, s:I, s:f, s:o, s:f, s:f}", "spec", spec, "op_set",
                          ns_augment_opset_name(c->set), "op_set_version", ns_augment_opset_version(c->set), "model",
                          m->path, "data", data_spec, "images", (json_int_t)n, "severities", sev, "seed",
                          (json_int_t)NS_CORRUPTION_SEED, "clean_accuracy", 1 - clean, "per_corruption", rows,
                          "mean_corrupted_accuracy", 1 - mean_err, "mean_error", mean_err);
    if (j) {
        json_object_set_new(j, "reference", has_ref ? json_string(ref->path) : json_null());
        json_object_set_new(j, "reference_clean_accuracy", has_ref ? json_real(1 - ref_clean) : json_null());
        json_object_set_new(j, "reference_mean_corrupted_accuracy",
                            has_ref ? json_real(1 - mean_of(ref_err, c->n_ops * ns)) : json_null());
        json_object_set_new(j, "mce", has_ref ? num_or_null(mce) : json_null());
    }
    return j;
}

ns_status ns_eval_corruptions(const ns_corruption_model *m, const ns_corruption_model *ref, const ns_dataset *d,
                              size_t n, const char *data_spec, const ns_corruptions *c, const char *spec, int batch,
                              int threads, const char *json_path)
{
    const int ns = c->n_sev, has_ref = ref->model != NULL;
    const size_t cells = c->n_ops * (size_t)ns;
    double *err = calloc(cells ? 2 * cells : 2, sizeof *err), *ce = calloc(c->n_ops ? c->n_ops : 1, sizeof *ce);
    double *ref_err = err ? err + cells : NULL;
    ns_index_list first = {0};
    ns_dataset bad;
    memset(&bad, 0, sizeof bad);
    ns_status st = err && ce ? NS_OK : ns_fail(NS_ERR_NOMEM, "eval --corruptions: out of memory");
    if (st == NS_OK)
        st = ns_index_list_range(&first, n);
    if (st == NS_OK)
        st = ns_dataset_alloc(&bad, n, d->h, d->w, d->c);
    if (st == NS_OK) {
        snprintf(bad.source, sizeof bad.source, "%s (corrupted)", d->source);
        bad.num_classes = d->num_classes;
    }
    /* One bar over every image every model sees, drawn only on a terminal. */
    ns_progress bar = {0};
    const size_t per_model = (1 + cells) * n, total = per_model * (has_ref ? 2 : 1);
    size_t done = 0;
    const double t0 = ns_now();
    if (st == NS_OK && ns_dist_is_root())
        ns_progress_begin(&bar, "corruptions", total);
    double clean = NAN, ref_clean = NAN;
    if (st == NS_OK)
        st = error_of(m, d, &first, batch, &clean);
    if (st == NS_OK && has_ref)
        st = error_of(ref, d, &first, batch, &ref_clean);
    done += n * (has_ref ? 2 : 1);
    for (size_t k = 0; st == NS_OK && k < c->n_ops; k++)
        for (int s = 0; st == NS_OK && s < ns; s++) {
            if (ns_dist_is_root())
                ns_progress_update(&bar, done, -1);
            st = ns_corruptions_apply(c, k, c->sev[s], d, &bad, threads);
            if (st == NS_OK)
                st = error_of(m, &bad, NULL, batch, &err[k * ns + s]);
            if (st == NS_OK && has_ref)
                st = error_of(ref, &bad, NULL, batch, &ref_err[k * ns + s]);
            done += n * (has_ref ? 2 : 1);
        }
    if (ns_dist_is_root() && bar.total)
        ns_progress_end(&bar);
    double mce = NAN;
    if (st == NS_OK && has_ref)
        mce = ns_corruption_mce(err, ref_err, c->n_ops, ns, ce);
    if (st == NS_OK && ns_dist_is_root()) {
        print_table(m, ref, c, n, data_spec, clean, ref_clean, err, ref_err, ce, mce);
        ns_log(1, "eval --corruptions: %zu cells x %zu images x %d model(s) in %.1f s", cells + 1, n,
               has_ref ? 2 : 1, ns_now() - t0);
    }
    if (st == NS_OK && json_path && ns_dist_is_root()) {
        json_t *j = to_json(m, ref, c, spec, n, data_spec, clean, ref_clean, err, ref_err, ce, mce);
        st = j ? ns_json_file_set_key(json_path, "corruptions", j) : ns_fail(NS_ERR_NOMEM, "%s: out of memory", json_path);
        json_decref(j);
        if (st == NS_OK)
            printf("written under \"corruptions\" in %s\n", json_path);
    }
    ns_dataset_free(&bad);
    ns_index_list_free(&first);
    free(err);
    free(ce);
    return st;
}
