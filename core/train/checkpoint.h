/* Checkpoints: a model's parameters and running statistics, optionally the
 * optimizer state, and the training position, in one safetensors file
 * (io/safetensors.h) written atomically. Everything a resumed run needs to
 * continue bit-identically is in it; everything a labeler or evaluator needs to
 * rebuild the model (spec, input shape, classes, normalisation) is in
 * __metadata__.
 *
 * Tensor names: the model's parameter/state names ("stage1.block0.conv1.weight",
 * ".running_mean"), and "optimizer.<param>.momentum|adam_m|adam_v".
 * Metadata keys: format ("noisystudent-checkpoint"), format_version ("1"),
 * model (canonical spec), input ("CxHxW"), classes, epoch (completed epochs),
 * step (global steps), optimizer, optimizer_steps, seed, scheduler_state,
 * loss_scale_state (only when the fp16 loss scaler is on), class_names (a JSON
 * array of the model's class names, only when the model has names),
 * normalize_mean and normalize_std ("m0,m1,m2" in %a hex floats: exact),
 * drop_path_mode ("sample" | "batch") and drop_path_survival (one %a float per
 * residual block): the model's inference drop-path (nn/model.h), and
 * free-form keys the caller adds (the run configuration as JSON).
 * Loading (ns_checkpoint_load_model, ns_checkpoint_restore) sets the model's
 * inference drop-path from those two keys; a file without them (written before
 * they existed) gets it from its config's drop_path_mode and stochastic_depth,
 * and per-sample (branches unscaled) when that says nothing. NS_ERR_FORMAT
 * when only one key is there, the mode is neither word, or the list is not
 * one probability in (0, 1] per block. */
#ifndef NS_TRAIN_CHECKPOINT_H
#define NS_TRAIN_CHECKPOINT_H

#include <stdint.h>

#include "nn/model.h"
#include "train/optimizer.h"

#define NS_CKPT_FORMAT "noisystudent-checkpoint"
#define NS_CKPT_VERSION "1"

typedef struct ns_ckpt_info {
    char model[256];     /* canonical spec */
    int in_c, in_h, in_w;
    int classes;
    int epoch;           /* completed epochs */
    int64_t step;        /* global optimizer steps taken */
    int optimizer_steps;
    char optimizer[16];  /* "sgd", "adam" or "" (weights only) */
    uint64_t seed;
    char scheduler_state[256];
    char loss_scale_state[64]; /* fp16 loss scaler (train_step.h), "" when off: the key is then not written */
    float mean[4], std[4]; /* per channel (in_c entries) */
    char config[8192];   /* the run configuration (JSON) or "" */
} ns_ckpt_info;

/* Writes m (and o's state when o is not NULL) plus info to `path` atomically:
 * on failure the previous file at path is untouched. info->model, input shape and classes
 * are taken from m, not from info. */
ns_status ns_checkpoint_save(const char *path, ns_model *m, ns_optimizer *o, const ns_ckpt_info *info);

/* Reads only the metadata (validates the whole file first). */
ns_status ns_checkpoint_read_info(const char *path, ns_ckpt_info *info);

/* Builds a model from the checkpoint's spec on `be` and loads its weights,
 * running statistics and class names. The caller owns *out. */
ns_status ns_checkpoint_load_model(const char *path, ns_backend *be, ns_model **out, ns_ckpt_info *info);

/* The checkpoint's class names (*out zeroed first; empty when the file has
 * none; caller frees with ns_class_names_free). NS_ERR_FORMAT when the key is
 * not a JSON array of exactly `classes` valid names. */
ns_status ns_checkpoint_read_class_names(const char *path, ns_class_names *out);

/* Loads weights, statistics and (when o is not NULL) the optimizer state into
 * an existing model/optimizer. Every tensor must exist with dtype F32 and the
 * exact shape; an error names the file, the tensor and both shapes. */
ns_status ns_checkpoint_restore(const char *path, ns_model *m, ns_optimizer *o, ns_ckpt_info *info);

#endif
