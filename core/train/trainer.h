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
 */
#ifndef NS_TRAIN_TRAINER_H
#define NS_TRAIN_TRAINER_H

#include "plugin/backend_loader.h"
#include "train/train_config.h"

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
 * receives one line per epoch (NULL: silent). */
ns_status ns_train(const ns_train_config *cfg, ns_backend *be, int resume, FILE *verbose_out,
                   ns_train_result *res);

#endif
