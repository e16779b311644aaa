/* What a training run shows in TensorBoard, under RUN_DIR/tb/ (always: a few
 * kilobytes a run, and nothing to remember to switch on before a long run).
 * A selftrain run's stages are train runs of their own (teacher/,
 * iterK/student/), so `tensorboard --logdir SELFTRAIN_DIR` lists each stage
 * as a run ("teacher/tb", "iter1/student/tb", ...) side by side.
 *
 * Tags, all against the global step (training steps completed), so per-step
 * and per-epoch curves share an axis and a resume's restart marker applies to
 * both:
 *   step/loss, step/lr        every ceil(steps per epoch / 10) steps: the mean
 *                             loss of the steps since the last point, and the lr
 *   epoch/<key>               each number of the epoch's metrics.jsonl record
 *                             (lr, train_loss, train_acc, val_acc, test_acc,
 *                             images_per_s, seconds, loader_wait_s; nulls skipped)
 *   epoch/pseudo_label_acc    a student's: how many kept pseudo-labels were right
 *   config                    the resolved configuration (text plugin)
 *   augment/preview           a noised run's RandAugment on 8 training images
 *                             (originals, then 3 rows of the policy); the PNG
 *                             also stays as tb/augment_preview.png
 *   pseudo_labels/most_confident  a student's: per class (row) its 8 most
 *                             confident pseudo-labeled images, a red frame
 *                             where the true label is known (ns_pseudo_set.truth)
 *                             and differs
 * Records are flushed at the end of every epoch. */
#ifndef NS_REPORT_TB_RUN_H
#define NS_REPORT_TB_RUN_H

#include <stdint.h>

#include <jansson.h>

#include "augment/policy.h"
#include "data/dataset.h"
#include "train/trainer.h"

#define NS_TB_DIR "tb"
#define NS_TB_GRID_COLUMNS 8

typedef struct ns_tb_run ns_tb_run;

/* Opens RUN_DIR/tb with a new events file. `step` is where training starts
 * (> 0 on resume: a restart marker makes TensorBoard drop what older files
 * logged from there on, since those steps are trained again). Writes the
 * configuration text. *out: caller's (ns_tb_run_close). */
ns_status ns_tb_run_open(const char *run_dir, const json_t *config, int64_t step, int steps_per_epoch,
                         ns_tb_run **out);
/* Flushes and closes (NULL: no-op). */
ns_status ns_tb_run_close(ns_tb_run *t);

/* After training step `step` (1-based count of steps done) with its loss and lr. */
ns_status ns_tb_run_step(ns_tb_run *t, int64_t step, double loss, double lr);
/* The epoch's metrics record (numbers become epoch/<key>), the pseudo-label
 * accuracy (NaN: not a student or unknown), then a flush. */
ns_status ns_tb_run_epoch(ns_tb_run *t, int64_t step, const json_t *record, double pseudo_label_acc);

/* augment/preview: `policy` on the first 8 of `ids` (count of them) in d. */
ns_status ns_tb_run_augment_preview(ns_tb_run *t, int64_t step, const ns_augment_policy *policy,
                                    const ns_dataset *d, const uint32_t *ids, size_t count, uint64_t seed);
/* pseudo_labels/most_confident from a student's pseudo-labeled set (the
 * confidence of an entry is the largest value of its target row). */
ns_status ns_tb_run_pseudo_grid(ns_tb_run *t, int64_t step, const ns_pseudo_set *p);

/* Layout of the pseudo-label grid for images of w x h: scale and cell border. */
void ns_tb_grid_geometry(int w, int h, int classes, int *scale, int *grid_w, int *grid_h);

/* The kept pseudo-labels' accuracy from a student's summary (ns_pseudo_set.summary:
 * total.accuracy), NaN when absent. */
double ns_tb_pseudo_accuracy(const json_t *summary);

#endif
