#include "selftrain/labeler.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <jansson.h>

#include "data/source.h"
#include "data/split.h"
#include "dist/dist.h"
#include "selftrain/label_shard.h"
#include "selftrain/image_folder.h"
#include "train/evaluate.h"
#include "train/train_config.h"
#include "util/digest.h"
#include "util/error.h"
#include "util/fault_point.h"

/* Where the evaluator's rows go: record `pos` onwards, in order. */
typedef struct sink {
    ns_label_set *set;
    size_t pos;
    const ns_dataset *d;
    const uint32_t *ordinal; /* image folder: dataset index -> file ordinal; else NULL */
} sink;

static ns_status on_probs(void *user, const uint32_t *index, const float *probs, int n, int classes)
{
    sink *s = user;
    if (s->pos + (size_t)n > s->set->count || classes != s->set->classes)
        return ns_fail(NS_ERR_INTERNAL, "labeler: %zu+%d rows of %d classes for a set of %zu x %d", s->pos, n,
                       classes, s->set->count, s->set->classes);
    for (int i = 0; i < n; i++, s->pos++) {
        s->set->source_id[s->pos] = s->ordinal ? s->ordinal[index[i]] : index[i];
        s->set->true_label[s->pos] = s->d->labels[index[i]];
        memcpy(s->set->probs + s->pos * (size_t)classes, probs + (size_t)i * classes, (size_t)classes * sizeof *probs);
        ns_label_set_update_top(s->set, s->pos);
    }
    ns_fault_point("label:batch");
    return NS_OK;
}

/* The train split and its withheld pool, as the checkpoint's run made them. */
static ns_status open_pool(const ns_ckpt_info *info, ns_dataset *d, ns_index_list *rest)
{
    if (!info->config[0])
        return ns_fail(NS_ERR_FORMAT, "pool: the checkpoint carries no run configuration (data, "
                                      "labels_per_class, split_seed); give a dataset spec instead");
    json_error_t jerr;
    json_t *j = json_loads(info->config, 0, &jerr);
    if (!j)
        return ns_fail(NS_ERR_FORMAT, "pool: the checkpoint's run configuration is not JSON: %s (line %d)",
                       jerr.text, jerr.line);
    ns_train_config cfg;
    ns_status st = ns_train_config_from_json(j, "pool: checkpoint configuration", &cfg);
    json_decref(j);
    NS_TRY(st);
    if (cfg.labels_per_class < 1)
        return ns_fail(NS_ERR_FORMAT, "pool: the checkpoint was trained on every label of %s "
                                      "(labels_per_class %d): there is no withheld pool",
                       cfg.data, cfg.labels_per_class);
    ns_data_options o;
    ns_ckpt_data_options(info, &o);
    NS_TRY(ns_dataset_open_opts(cfg.data, 1, &o, d));
    ns_index_list labeled = {0};
    st = ns_split_per_class(d, cfg.labels_per_class, cfg.split_seed, &labeled, rest);
    ns_index_list_free(&labeled);
    if (st == NS_OK && rest->n == 0)
        st = ns_fail(NS_ERR_FORMAT, "pool: %s with %d labels per class leaves no unlabeled images", cfg.data,
                     cfg.labels_per_class);
    if (st == NS_OK)
        snprintf(d->source + strlen(d->source), sizeof d->source - strlen(d->source),
                 " (pool of %d labels/class, split seed %llu)", cfg.labels_per_class,
                 (unsigned long long)cfg.split_seed);
    return st;
}

/* Labels the images `subset` of d (NULL: all of d) into *out, in order. */
static ns_status label_images(ns_model *m, const ns_ckpt_info *info, const ns_dataset *d, const ns_index_list *subset,
                              const char *src, int batch, ns_tta tta, const uint32_t *ordinal, ns_label_set *out)
{
    const size_t count = subset ? subset->n : d->n;
    NS_TRY(ns_label_set_alloc(out, count, ns_model_classes(m)));
    snprintf(out->source, sizeof out->source, "%s", src);
    out->tta = tta;
    sink s = {out, 0, d, ordinal};
    /* Progress from rank 0 only: one line on the terminal, not N. */
    ns_eval_config ec = {batch, info->mean, info->std, on_probs, &s, ns_dist_is_root() ? NS_EVAL_PROGRESS_LABELING : 0,
                        tta};
    ns_status st = ns_evaluate(m, d, subset, &ec, NULL);
    if (st == NS_OK && s.pos != count)
        st = ns_fail(NS_ERR_INTERNAL, "labeler: %zu of %zu images labeled", s.pos, count);
    if (st != NS_OK)
        ns_label_set_free(out);
    return st;
}

ns_status ns_label_source(ns_model *m, const ns_ckpt_info *info, const char *src, int batch, ns_tta tta,
                          ns_label_set *out, size_t *skipped)
{
    memset(out, 0, sizeof *out);
    if (skipped)
        *skipped = 0;
    if (strlen(src) >= sizeof out->source)
        return ns_fail(NS_ERR_INVALID_ARG, "--unlabeled: source spec of %zu bytes, at most %zu", strlen(src),
                       sizeof out->source - 1);
    int c, h, w;
    ns_model_input(m, &c, &h, &w);
    const int classes = ns_model_classes(m);
    ns_dataset d;
    memset(&d, 0, sizeof d);
    ns_index_list rest = {0};
    uint32_t *ordinal = NULL;
    size_t nskip = 0;
    ns_status st;
    if (strcmp(src, "pool") == 0)
        st = open_pool(info, &d, &rest);
    else if (strncmp(src, "folder:", 7) == 0)
        st = ns_image_folder_load(src + 7, c, h, w, &d, &ordinal, &nskip);
    else {
        ns_data_options o;
        ns_ckpt_data_options(info, &o);
        o.c = c, o.h = h, o.w = w; /* what this model takes, whatever info says */
        st = ns_dataset_open_opts(src, 1, &o, &d);
    }
    if (st == NS_OK)
        ns_dataset_advise(&d, NS_DATASET_ADVISE_SEQUENTIAL); /* one pass in index order */
    if (st == NS_OK && d.num_classes > classes)
        st = ns_fail(NS_ERR_FORMAT, "%s has labels up to %d but the model has %d classes", src, d.num_classes - 1,
                     classes);
    const size_t count = rest.idx ? rest.n : d.n;
    const int eval_batch = batch > 0 ? batch : 256;
    if (ns_dist_size() > 1) {
        /* This rank's whole batches of the source (label_shard.h), then rank 0
         * gathers everyone's records into *out. */
        ns_label_set part;
        memset(&part, 0, sizeof part);
        ns_index_list shard = {0};
        size_t lo = 0, hi = 0;
        ns_label_shard_range(count, eval_batch, ns_dist_rank(), ns_dist_size(), &lo, &hi);
        if (st == NS_OK)
            st = ns_index_list_alloc(&shard, hi - lo);
        for (size_t i = 0; st == NS_OK && i < hi - lo; i++)
            shard.idx[i] = rest.idx ? rest.idx[lo + i] : (uint32_t)(lo + i);
        if (st == NS_OK)
            st = label_images(m, info, &d, &shard, src, eval_batch, tta, ordinal, &part);
        ns_index_list_free(&shard);
        st = ns_label_shard_gather(st, &part, count, eval_batch, out);
        ns_label_set_free(&part);
    } else if (st == NS_OK) {
        st = label_images(m, info, &d, rest.idx ? &rest : NULL, src, eval_batch, tta, ordinal, out);
    }
    const ns_class_names *names = ns_model_class_names(m);
    if (st == NS_OK && names && names->n == classes) /* the teacher's names go with its labels */
        st = ns_class_names_copy(&out->class_names, names);
    if (st != NS_OK)
        ns_label_set_free(out);
    else if (skipped)
        *skipped = nskip;
    free(ordinal);
    ns_index_list_free(&rest);
    ns_dataset_free(&d);
    return st;
}

ns_status ns_label_checkpoint(const char *model_path, ns_backend *be, const char *src, int batch, ns_tta tta,
                              ns_label_set *out, size_t *skipped)
{
    memset(out, 0, sizeof *out);
    if (skipped)
        *skipped = 0;
    /* Digest first: the file is not rewritten while it labels (a finished
     * stage's model.safetensors never is), so these are the bytes loaded. */
    uint8_t digest[NS_SHA256_BYTES];
    NS_TRY(ns_sha256_file(model_path, digest));
    ns_model *m;
    ns_ckpt_info info;
    NS_TRY(ns_checkpoint_load_model(model_path, be, &m, &info));
    ns_status st = ns_label_source(m, &info, src, batch, tta, out, skipped);
    if (st == NS_OK)
        memcpy(out->labeled_by, digest, sizeof digest);
    ns_model_destroy(m);
    return st;
}
