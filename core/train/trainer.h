/* The supervised training loop (a teacher run; a student run when the config
 * names a pseudo-label file): data, split, model, optimizer, schedule, noise,
 * per-epoch validation and test evaluation, metrics.jsonl, an atomic
 * checkpoint after every epoch, and exact resumption from it.
 *
 * Run directory contents:
 *   config.json             the resolved configuration (train_config.h)
 *   metrics.jsonl           one JSON record per epoch
 *   checkpoint.safetensors  weights + optimizer + position, replaced after each epoch
 *   model.safetensors       the final weights (written last: its presence means done)
 *   pseudo_labels.json      a student run's pseudo-label summary (ns_pseudo_set.summary)
 */
#ifndef NS_TRAIN_TRAINER_H
#define NS_TRAIN_TRAINER_H

#include "data/dataset.h"
#include "data/index_list.h"
#include "plugin/backend_loader.h"
#include "train/train_config.h"

/* Where a student run keeps ns_pseudo_set.summary in its run directory. */
#define NS_PSEUDO_SUMMARY_FILE "pseudo_labels.json"

/* A student run's pseudo-labeled images: dataset indices into `data` (repeats
 * allowed: balancing duplicates) and one soft target row per entry. Built by
 * the caller from cfg->pseudo (selftrain/), deterministically, so that a
 * resumed run rebuilds the same set. Borrowed by ns_train. */
typedef struct ns_pseudo_set {
    const ns_dataset *data;
    const uint32_t *ids;
    const float *targets; /* count x classes */
    size_t count;
    int classes;
    /* What the filter kept, per class (selftrain/filter_balance.h), or NULL:
     * written as pseudo_labels.json once the run directory is known to be
     * this run's (after the checks that refuse someone else's). */
    const json_t *summary;
    /* The labeling teacher's class names (label file version 3), or NULL /
     * empty when unknown. Names that disagree with the labeled data's are
     * refused; a student whose data has none takes these. */
    const ns_class_names *class_names;
    /* Per entry the image's true label where its source knows it, -1 where
     * not; NULL when unknown altogether. Only for pictures of what the
     * teacher said (report/tb_run.h marks the wrong ones); never the loss. */
    const int32_t *truth;
} ns_pseudo_set;

typedef struct ns_train_result {
    int epochs_run;        /* epochs completed in total (including before a resume) */
    int stopped_early;
    int paused;            /* stopped by stop_after_epoch: no model.safetensors yet */
    double train_acc;      /* last epoch, under noise */
    double val_acc;        /* last epoch; NaN without a validation split */
    double test_acc;       /* last evaluation; NaN when never evaluated */
    double seconds;        /* wall time of this invocation */
    double loader_wait_s;  /* time the backend waited for batches */
    char model_path[1024]; /* the final model.safetensors */
} ns_train_result;

/* Runs cfg on be. With resume set, cfg->run_dir must hold a run started with
 * the same configuration: training continues after its last completed epoch
 * and ends with exactly the weights an uninterrupted run would have. Without
 * resume, a run_dir that already holds a checkpoint is refused. `verbose_out`
 * receives one line per epoch (NULL: silent).
 *
 * With `pseudo` (a student run; cfg->pseudo names its source), each step
 * concatenates a labeled batch of cfg->batch images and a pseudo-labeled
 * batch of R = cfg->unlabeled_ratio times as many into one forward pass, and
 * minimises CE(labeled) + R * CE(pseudo) (the official code's loss); an epoch
 * is one pass over the pseudo-labeled set while the labeled set cycles. */
ns_status ns_train(const ns_train_config *cfg, ns_backend *be, int resume, const ns_pseudo_set *pseudo,
                   FILE *verbose_out, ns_train_result *res);

#endif
