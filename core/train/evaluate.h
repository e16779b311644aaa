/* Evaluation: the model in inference mode (batchnorm running statistics, no
 * noise, no augmentation) over a dataset, producing a confusion matrix and,
 * optionally, every image's softmax probabilities (what the labeler needs). */
#ifndef NS_TRAIN_EVALUATE_H
#define NS_TRAIN_EVALUATE_H

#include <stddef.h>
#include <stdint.h>

#include "data/dataset.h"
#include "data/index_list.h"
#include "nn/model.h"
#include "predict/tta.h"

typedef struct ns_confusion {
    int classes;
    uint64_t *counts; /* [true][predicted], classes*classes, owned (ns_confusion_free) */
    uint64_t total, correct;
    uint64_t unlabeled; /* images without a known label (not counted above) */
} ns_confusion;

/* Index of the largest of v[0..n) (the first on ties). */
int ns_argmax(const float *v, int n);

ns_status ns_confusion_init(ns_confusion *c, int classes);
void ns_confusion_free(ns_confusion *c);
void ns_confusion_add(ns_confusion *c, int truth, int predicted);
double ns_confusion_accuracy(const ns_confusion *c);           /* 0..1; NaN when empty */
double ns_confusion_class_accuracy(const ns_confusion *c, int k); /* recall of class k */

/* Receives probabilities of `n` images (rows of `classes`), in order; `index`
 * are the dataset indices of the rows. Returning non-OK stops the evaluation. */
typedef ns_status (*ns_probs_fn)(void *user, const uint32_t *index, const float *probs, int n,
                                 int classes);

typedef struct ns_eval_config {
    int batch;                       /* images per forward (default 256) */
    const float *mean, *std;         /* per-channel normalisation (c floats each) */
    ns_probs_fn on_probs;            /* optional */
    void *user;
    /* A progress bar on stderr when it is a terminal (train/progress.h):
     * 0 none, 1 labeled "evaluating", NS_EVAL_PROGRESS_LABELING "labeling". */
    int progress;
    /* Test-time augmentation (predict/tta.h): each image's probabilities are
     * the mean over its views' softmax rows; NS_TTA_NONE (0) is one plain
     * forward. The confusion matrix counts the argmax of that mean. */
    ns_tta tta;
} ns_eval_config;

#define NS_EVAL_PROGRESS_LABELING 2

/* Runs m over the images `subset` of d (NULL: all). When conf is non-NULL it
 * must be initialised for ns_model_classes(m) classes; labels -1 are counted as
 * unlabeled. Input shape must match the model's (error names both). */
ns_status ns_evaluate(ns_model *m, const ns_dataset *d, const ns_index_list *subset,
                      const ns_eval_config *cfg, ns_confusion *conf);

/* ns_evaluate under data parallelism (core/dist): each rank evaluates a
 * contiguous share of the images and the confusion counts are summed, so
 * every rank gets one process's matrix (the ranks must hold the same
 * weights and running statistics). on_probs sees only the rank's share.
 * One process: exactly ns_evaluate. Every rank must call it. */
ns_status ns_evaluate_ranks(ns_model *m, const ns_dataset *d, const ns_index_list *subset,
                            const ns_eval_config *cfg, ns_confusion *conf);

#endif
