#include "train/evaluate.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "train/progress.h"
#include "util/error.h"

ns_status ns_confusion_init(ns_confusion *c, int classes)
{
    memset(c, 0, sizeof *c);
    if (classes < 1)
        return ns_fail(NS_ERR_INVALID_ARG, "confusion matrix: %d classes", classes);
    c->counts = calloc((size_t)classes * classes, sizeof *c->counts);
    if (!c->counts)
        return ns_fail(NS_ERR_NOMEM, "confusion matrix: out of memory");
    c->classes = classes;
    return NS_OK;
}

void ns_confusion_free(ns_confusion *c)
{
    free(c->counts);
    memset(c, 0, sizeof *c);
}

void ns_confusion_add(ns_confusion *c, int truth, int predicted)
{
    if (truth < 0 || truth >= c->classes) {
        c->unlabeled++;
        return;
    }
    c->counts[(size_t)truth * c->classes + predicted]++;
    c->total++;
    c->correct += truth == predicted;
}

double ns_confusion_accuracy(const ns_confusion *c)
{
    return c->total ? (double)c->correct / (double)c->total : NAN;
}

double ns_confusion_class_accuracy(const ns_confusion *c, int k)
{
    uint64_t row = 0;
    for (int j = 0; j < c->classes; j++)
        row += c->counts[(size_t)k * c->classes + j];
    return row ? (double)c->counts[(size_t)k * c->classes + k] / (double)row : NAN;
}

int ns_argmax(const float *v, int n)
{
    int best = 0;
    for (int j = 1; j < n; j++)
        if (v[j] > v[best])
            best = j;
    return best;
}

ns_status ns_evaluate(ns_model *m, const ns_dataset *d, const ns_index_list *subset,
                      const ns_eval_config *cfg, ns_confusion *conf)
{
    int c, h, w;
    ns_model_input(m, &c, &h, &w);
    if (d->c != c || d->h != h || d->w != w)
        return ns_fail(NS_ERR_INVALID_ARG, "%s: images are %dx%dx%d (CxHxW), the model expects %dx%dx%d",
                       d->source, d->c, d->h, d->w, c, h, w);
    const int classes = ns_model_classes(m);
    const int batch = cfg->batch > 0 ? cfg->batch : 256;
    const size_t total = subset ? subset->n : d->n;
    const size_t img = (size_t)c * h * w;

    float *probs = malloc((size_t)batch * classes * sizeof *probs);
    uint32_t *index = malloc((size_t)batch * sizeof *index);
    const uint8_t **images = malloc((size_t)batch * sizeof *images);
    ns_tta_runner run;
    memset(&run, 0, sizeof run);
    ns_status st = NS_OK;
    if (!probs || !index || !images)
        st = ns_fail(NS_ERR_NOMEM, "evaluate: out of memory for a batch of %d", batch);
    if (st == NS_OK)
        st = ns_tta_runner_init(&run, m, cfg->tta, batch, cfg->mean, cfg->std);
    ns_progress bar = {0};
    if (cfg->progress)
        ns_progress_begin(&bar, cfg->progress == NS_EVAL_PROGRESS_LABELING ? "labeling" : "evaluating", total);

    size_t read_since_trim = 0;
    for (size_t start = 0; st == NS_OK && start < total; start += (size_t)batch) {
        int n = (int)(total - start < (size_t)batch ? total - start : (size_t)batch);
        /* A mapped pool bigger than RAM: drop the pages already converted so
         * the resident set stays bounded (data/dataset.h, ns_dataset_trim). */
        read_since_trim += (size_t)n * img;
        if (d->map && read_since_trim >= ((size_t)256 << 20)) {
            read_since_trim = 0;
            ns_dataset_trim(d);
        }
        for (int i = 0; i < n; i++) {
            index[i] = subset ? subset->idx[start + i] : (uint32_t)(start + i);
            images[i] = ns_dataset_image(d, index[i]);
        }
        st = ns_tta_runner_probs(&run, images, n, probs, NULL);
        if (st != NS_OK)
            break;
        for (int i = 0; i < n && conf; i++)
            ns_confusion_add(conf, d->labels[index[i]], ns_argmax(probs + (size_t)i * classes, classes));
        if (cfg->on_probs)
            st = cfg->on_probs(cfg->user, index, probs, n, classes);
        if (cfg->progress)
            ns_progress_update(&bar, start + (size_t)n, -1);
    }
    if (cfg->progress)
        ns_progress_end(&bar);
    ns_tta_runner_free(&run);
    free(probs);
    free(index);
    free(images);
    return st;
}
