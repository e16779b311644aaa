/* Everything that defines a training run, as plain data. It is written to the
 * run directory as config.json (so that --resume continues the same run and a
 * report can say what was run) and read back from it. */
#ifndef NS_TRAIN_CONFIG_H
#define NS_TRAIN_CONFIG_H

#include <stdint.h>

#include <jansson.h>

#include "data/source.h"
#include "nn/model.h"
#include "train/optimizer.h"

typedef struct ns_train_config {
    /* data */
    char data[512];          /* dataset spec (data/source.h), default "fashion-mnist" */
    int labels_per_class;    /* labeled subset size per class; 0 = every training image */
    uint64_t split_seed;
    int val_per_class;       /* validation images per class taken from the labeled set; 0 = none */
    /* Image folders only (data/source.h ns_data_options): the size images are
     * decoded to ("CxHxW", "" = 3x32x32) and the share of each class held out
     * as the test split when the tree has no test/ or val/ (seeded by split_seed). */
    char input[32];
    float test_fraction;
    /* pseudo-labels (a student run): a label file and the ratio R of pseudo-labeled
     * images per labeled image in each step; loss = CE(labeled) + R * CE(pseudo). */
    char pseudo[512];        /* "" = teacher run */
    /* Lower-case hex SHA-256 of the label file as this run first read it ("" =
     * not recorded: a teacher, or a run made before it was): a resumed run, or
     * a selftrain stage that would reuse it, refuses labels that changed. */
    char pseudo_sha256[65];
    float unlabeled_ratio;
    /* How the label file becomes the student set (selftrain/filter_balance.h). */
    float pseudo_threshold;   /* keep confidence >= this (0.3, the paper) */
    int pseudo_per_class;     /* target per class: 0 = median of the classes, < 0 = no balancing */
    int pseudo_stochastic;    /* stochastic rounding of duplication (the official code's variant) */
    int pseudo_hard;          /* one-hot targets (+ label_smoothing) instead of soft */
    float pseudo_temperature; /* soft targets: softmax(log p / T) */
    /* model */
    char model[256];
    /* Weights to start from instead of a random initialisation ("" = random):
     * a model or checkpoint file of the same architecture (its weights and
     * batchnorm statistics; not its optimizer state). In a selftrain student
     * configuration "teacher" means the model that labeled its pseudo-labels. */
    char init[512];
    /* optimisation */
    int epochs, batch;
    float lr;
    ns_optimizer_kind optimizer;
    ns_optimizer_config opt;
    char schedule[256];
    float label_smoothing;
    /* noise */
    ns_noise noise;
    char augment[512];       /* RandAugment policy spec, "none" = off */
    int pad_crop, flip;
    /* run */
    uint64_t seed;
    int loader_threads;
    int eval_every;          /* test-set evaluation every N epochs (and the last); 0 = only the last */
    /* Data parallelism: 1 = batchnorm statistics over the GLOBAL batch (all
     * ranks' rows, exact), 0 = each rank's own rows (PyTorch DDP's default).
     * No effect on one process. */
    int sync_bn;
    char run_dir[512];
    /* A wall-time budget in seconds (0 = none): `epochs` is then an upper
     * bound, and the trainer fits the number of epochs to the budget from
     * the time its first steps take (train/budget.h). Once fitted, `epochs`
     * holds the fitted count and budget_fitted is 1, both saved in
     * config.json, so a resume trains exactly as many epochs. */
    float budget_s;
    int budget_fitted;
    /* Run control, not part of the run's definition (never saved): stop after
     * this many completed epochs in total, leaving a resumable checkpoint
     * (0 = run to the end). Lets a long run be split across sessions. */
    int stop_after_epoch;
} ns_train_config;

/* The image-folder options of c's data: its input size (NS_ERR_USAGE naming
 * "input" when it does not parse), test_fraction and split_seed. */
ns_status ns_train_config_data_options(const ns_train_config *c, ns_data_options *o);

/* The image-folder options for data a checkpoint's model is to see: its
 * input size (in_c x in_h x in_w), and the test fraction and split seed of
 * the run configuration it carries (the defaults when it carries none), so
 * `eval`, `label` and a student split a tree exactly as the run did. */
struct ns_ckpt_info;
void ns_ckpt_data_options(const struct ns_ckpt_info *info, ns_data_options *o);

/* The defaults of `noisystudent train`. */
ns_train_config ns_train_config_default(void);

/* To/from JSON (config.json). from_json starts from the defaults and fails with
 * one line naming the key for a wrong type or value; unknown keys are an error. */
json_t *ns_train_config_to_json(const ns_train_config *c);
ns_status ns_train_config_from_json(const json_t *j, const char *where, ns_train_config *c);

/* Every value of c in range and every spec usable (model, schedule, augment
 * policy: each is parsed/opened and closed again), and what only shows at run
 * time checked now: a plateau schedule needs a validation split. Touches no
 * file but the plugins a spec names, so a caller can run it before it creates
 * anything. NS_ERR_USAGE with one line naming the setting, its value and what
 * was expected. flag_prefix names the settings in that line: NULL for
 * `train`'s flags ("--dropout"), "student." for "--student.dropout". */
ns_status ns_train_config_validate(const ns_train_config *c, const char *flag_prefix);

/* Sets one key of the config.json format from command-line text ("dropout",
 * "0.2"); '-' in key is read as '_' ("stochastic-depth"). Setting "optimizer"
 * resets the optimizer's settings to that optimizer's defaults (like
 * `train --optimizer`). Checks only the value's type (ranges are
 * ns_train_config_validate's job). NS_ERR_USAGE naming `flag` for an unknown
 * key or a value of the wrong type. */
ns_status ns_train_config_set(ns_train_config *c, const char *key, const char *text, const char *flag);

/* The keys of the config.json format, ", "-separated (for help and errors). */
const char *ns_train_config_keys(void);

#endif
