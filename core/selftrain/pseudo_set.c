#include "selftrain/pseudo_set.h"

#include <stdlib.h>
#include <string.h>

#include "data/class_folder_source.h"
#include "data/source.h"
#include "selftrain/label_file.h"
#include "selftrain/source_images.h"
#include "util/digest.h"
#include "util/error.h"
#include "util/fault_point.h"

void ns_pseudo_data_free(ns_pseudo_data *p)
{
    ns_dataset_free(&p->images);
    ns_student_set_free(&p->student);
    ns_class_table_free(&p->table);
    json_decref(p->summary);
    free(p->truth);
    memset(p, 0, sizeof *p);
}

/* The labeled images' shape, which folder images are decoded to: an image
 * tree's is the run's input option, a binary format's its own. */
static ns_status labeled_shape(const char *data, ns_data_options *o)
{
    if (ns_class_folder_source_has(data))
        return NS_OK;
    ns_dataset d;
    NS_TRY(ns_dataset_open_opts(data, 0, o, &d));
    o->c = d.c;
    o->h = d.h;
    o->w = d.w;
    ns_dataset_free(&d);
    return NS_OK;
}

ns_status ns_pseudo_data_open(const ns_train_config *cfg, FILE *report, ns_pseudo_data *out)
{
    memset(out, 0, sizeof *out);
    ns_label_set labels;
    memset(&labels, 0, sizeof labels);
    NS_TRY(ns_label_file_read(cfg->pseudo, &labels));
    ns_sha256_hex(labels.file_sha256, out->sha256);
    if (cfg->pseudo_sha256[0] && strcmp(cfg->pseudo_sha256, out->sha256) != 0) {
        ns_status bad = ns_fail(NS_ERR_USAGE, "%s: the run learned labels with SHA-256 %.12s..., the file now has "
                                "%.12s...: it changed since the run started; train a new run on it", cfg->pseudo,
                                cfg->pseudo_sha256, out->sha256);
        ns_label_set_free(&labels);
        memset(out, 0, sizeof *out);
        return bad;
    }
    ns_filter_config fc = ns_filter_config_default();
    fc.threshold = cfg->pseudo_threshold;
    fc.per_class = cfg->pseudo_per_class;
    fc.stochastic = cfg->pseudo_stochastic;
    fc.seed = cfg->seed;
    fc.hard = cfg->pseudo_hard;
    fc.temperature = cfg->pseudo_temperature;
    fc.smoothing = cfg->label_smoothing;
    ns_status st = ns_filter_balance(&labels, &fc, &out->student, &out->table);
    if (st != NS_OK)
        ns_error_prefix("%s", cfg->pseudo);
    else
        ns_fault_point("filter:balanced");
    ns_data_options o = ns_data_options_default();
    if (st == NS_OK)
        st = ns_train_config_data_options(cfg, &o);
    if (st == NS_OK && strcmp(labels.source, "pool") != 0)
        st = labeled_shape(cfg->data, &o);
    if (st == NS_OK)
        st = ns_source_images_open(labels.source, cfg->data, &o, &out->images);
    for (size_t i = 0; st == NS_OK && i < out->student.n; i++)
        if (out->student.source_id[i] >= out->images.n)
            st = ns_fail(NS_ERR_FORMAT, "%s: source id %u is past the %zu images of %s", cfg->pseudo,
                         out->student.source_id[i], out->images.n, labels.source);
    if (st == NS_OK) /* the student reads the pool by index in shuffled order */
        ns_dataset_advise(&out->images, NS_DATASET_ADVISE_RANDOM);
    if (st == NS_OK) {
        out->truth = malloc((out->student.n ? out->student.n : 1) * sizeof *out->truth);
        if (!out->truth)
            st = ns_fail(NS_ERR_NOMEM, "%s: out of memory for %zu true labels", cfg->pseudo, out->student.n);
        for (size_t i = 0; st == NS_OK && i < out->student.n; i++)
            out->truth[i] = labels.true_label[out->student.record[i]];
    }
    if (st == NS_OK) {
        out->summary = ns_class_table_to_json(&out->table);
        if (!out->summary)
            st = ns_fail(NS_ERR_NOMEM, "%s: out of memory for the pseudo-label summary", cfg->pseudo);
    }
    if (st == NS_OK && report) {
        fprintf(report, "pseudo-labels %s (%zu images from %s) -> %zu student images:\n", cfg->pseudo, labels.count,
                labels.source, out->student.n);
        ns_class_table_print(report, &out->table);
    }
    ns_label_set_free(&labels);
    if (st != NS_OK) {
        ns_pseudo_data_free(out);
        return st;
    }
    out->view.data = &out->images;
    out->view.ids = out->student.source_id;
    out->view.targets = out->student.targets;
    out->view.count = out->student.n;
    out->view.classes = out->student.classes;
    out->view.summary = out->summary;
    out->view.truth = out->truth;
    out->view.class_names = &out->table.names;
    return NS_OK;
}
