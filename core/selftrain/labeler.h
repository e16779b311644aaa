/* The teacher labels a source: evaluation mode (batchnorm running statistics,
 * no dropout, no stochastic depth, no augmentation), batched on the model's
 * backend (train/evaluate.h), the checkpoint's normalisation. */
#ifndef NS_SELFTRAIN_LABELER_H
#define NS_SELFTRAIN_LABELER_H

#include <stddef.h>

#include "nn/model.h"
#include "selftrain/label_file.h"
#include "train/checkpoint.h"

/* Runs m over `src` and fills *out (zeroed first; caller frees with
 * ns_label_set_free), one record per image in source order; out->source = src.
 *   "pool"        the unlabeled pool withheld when the checkpoint was trained:
 *                 info->config's data, labels_per_class and split_seed give the
 *                 same ns_split_per_class; its `rest` is labeled. Source ids
 *                 are dataset indices of the train split; true labels are kept
 *                 for reporting pseudo-label accuracy.
 *   "folder:DIR"  an image folder (image_folder.h); source ids are file
 *                 ordinals, true labels -1; undecodable files are reported and
 *                 counted in *skipped (may be NULL).
 *   anything else a dataset spec (data/source.h), train split; ids are indices.
 * batch: images per forward (<= 0: 256). tta: each image's probabilities are
 * the mean of its views' softmax rows (predict/tta.h; NS_TTA_NONE: one
 * forward), recorded in out->tta. A progress bar goes to stderr when
 * it is a terminal (train/progress.h).
 * Errors: NS_ERR_FORMAT when the checkpoint has no usable configuration for
 * "pool" or withheld nothing, or the source's labels exceed the model's
 * classes; the source's and the model's errors otherwise. On error *out is empty.
 * Many processes (core/dist, N > 1): a collective, every rank calls it with
 * the same arguments; each labels its shard (label_shard.h) and rank 0's *out
 * holds every record, the same as one process's; the other ranks' *out has
 * count 0 and must not be written. */
ns_status ns_label_source(ns_model *m, const ns_ckpt_info *info, const char *src, int batch, ns_tta tta,
                          ns_label_set *out, size_t *skipped);

/* Loads the checkpoint at model_path on `be` and labels `src` with it
 * (ns_label_source); out->labeled_by is the SHA-256 of the checkpoint file, so
 * the label file says which model made it. Same errors, plus the checkpoint's;
 * on error *out is empty. */
ns_status ns_label_checkpoint(const char *model_path, ns_backend *be, const char *src, int batch, ns_tta tta,
                              ns_label_set *out, size_t *skipped);

#endif
