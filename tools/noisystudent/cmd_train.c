/* noisystudent train: supervised training of a classifier (a teacher). */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <jansson.h>

#include "backend_options.h"
#include "cli_options.h"
#include "commands.h"
#include "dist/dist.h"
#include "io/run_dir.h"
#include "selftrain/pseudo_set.h"
#include "train/trainer.h"
#include "util/duration.h"
#include "util/error.h"

static void copy_str(char *dst, size_t len, const char *src)
{
    if (src)
        snprintf(dst, len, "%s", src);
}

static ns_status load_resume_config(const char *dir, ns_train_config *cfg)
{
    char path[1024];
    NS_TRY(ns_run_dir_path(dir, "config.json", path, sizeof path));
    json_error_t err;
    json_t *j = json_load_file(path, 0, &err);
    if (!j)
        return ns_fail(NS_ERR_FORMAT, "--resume %s: cannot read %s: %s (line %d)", dir, path, err.text, err.line);
    ns_status st = ns_train_config_from_json(j, path, cfg);
    json_decref(j);
    if (st == NS_OK)
        copy_str(cfg->run_dir, sizeof cfg->run_dir, dir);
    return st;
}

int ns_cmd_train(int argc, char **argv)
{
    ns_train_config cfg = ns_train_config_default();
    ns_cli_backend bk = ns_cli_backend_default();
    const char *pseudo = NULL;
    const char *input = NULL;
    const char *data = NULL, *model = NULL, *optimizer = NULL, *schedule = NULL, *augment = NULL, *run_dir = NULL,
               *resume = NULL, *drop_path_mode = NULL, *budget = NULL,
               *init = NULL;
    float weight_decay = -1; /* -1: the optimizer's default */
    int no_pad_crop = 0, no_flip = 0, no_nesterov = 0, decay_all = 0, help = 0;
    int seen_cfg = 0; /* any option that defines the run, refused with --resume */
    const ns_opt opts[] = {
        {"data", NS_OPT_STRING, &data, "SPEC", "dataset: fashion-mnist (default), a folder of IDX or CIFAR-10 "
         "files, cifar10:DIR, idx:IMAGES,LABELS", &seen_cfg, 0, -1},
        {"labels-per-class", NS_OPT_INT, &cfg.labels_per_class, "N", "labeled images per class (default 0: all); "
         "the rest is withheld as the unlabeled pool", &seen_cfg, 0, 1e9},
        {"split-seed", NS_OPT_U64, &cfg.split_seed, "S", "seed of the labeled/unlabeled split (default 1)", &seen_cfg, 0, -1},
        {"input", NS_OPT_STRING, &input, "CxHxW", "image folders: decode and resize every image to C channels (1 "
         "gray, 3 RGB) x H x W (default 3x32x32)", &seen_cfg, 0, -1},
        {"test-fraction", NS_OPT_FLOAT, &cfg.test_fraction, "F", "image folders without test/ or val/: hold out this "
         "share of each class (seeded by --split-seed) as the test split (default 0.2)", &seen_cfg, 0, 1},
        {"val-per-class", NS_OPT_INT, &cfg.val_per_class, "N", "validation images per class taken from the labeled "
         "set (default 0: none)", &seen_cfg, 0, 1e9},
        {"pseudo", NS_OPT_STRING, &pseudo, "FILE", "train a student on these pseudo-labels (.nspl from `label`) "
         "as well as the labeled data", &seen_cfg, 0, -1},
        {"unlabeled-ratio", NS_OPT_FLOAT, &cfg.unlabeled_ratio, "R", "pseudo-labeled images per labeled image in "
         "each step; loss = CE(labeled) + R x CE(pseudo) (default 1)", &seen_cfg, 0.001, 64},
        {"threshold", NS_OPT_FLOAT, &cfg.pseudo_threshold, "T", "keep pseudo-labels with confidence >= T (default "
         "0.3, the paper; the blog used 0.75)", &seen_cfg, 0, 1},
        {"per-class", NS_OPT_INT, &cfg.pseudo_per_class, "N", "balance every class to N pseudo-labeled images "
         "(default 0: the median of the counts that pass --threshold over the classes that have any, the "
         "upper middle one for an even number of such classes; -1: no balancing)", &seen_cfg, -1, 1e9},
        {"stochastic-balance", NS_OPT_FLAG, &cfg.pseudo_stochastic, NULL, "duplicate with stochastic rounding "
         "(the official code's variant)", &seen_cfg, 0, -1},
        {"hard-targets", NS_OPT_FLAG, &cfg.pseudo_hard, NULL, "one-hot pseudo-labels (+ --label-smoothing) instead "
         "of soft probabilities", &seen_cfg, 0, -1},
        {"temperature", NS_OPT_FLOAT, &cfg.pseudo_temperature, "T", "soft targets: softmax(log p / T) (default 1)",
         &seen_cfg, 0.01, 100},
        {"model", NS_OPT_STRING, &model, "SPEC", "resnet8 (default), resnet20, resnet32, resnet56, seed-resnet50, "
         "resnetD:width=W,mult=M, bottleneck:...", &seen_cfg, 0, -1},
        {"init", NS_OPT_STRING, &init, "MODEL", "start from this model's weights (same architecture) instead of a "
         "random initialisation", &seen_cfg, 0, -1},
        {"epochs", NS_OPT_INT, &cfg.epochs, "N", "epochs (default 30; with --budget the most it may fit)", &seen_cfg, 1,
         100000},
        {"budget", NS_OPT_STRING, &budget, "TIME", "fit the epochs to this wall time (900s, 15m, 1.5h), measured over "
         "the first steps and recorded in config.json (default: none, train --epochs)", &seen_cfg, 0, -1},
        {"batch", NS_OPT_INT, &cfg.batch, "N", "batch size (default 128)", &seen_cfg, 1, 65536},
        {"lr", NS_OPT_FLOAT, &cfg.lr, "LR", "base learning rate (default 0.1)", &seen_cfg, 1e-9, 100},
        {"optimizer", NS_OPT_STRING, &optimizer, "NAME", "sgd (default: momentum 0.9, Nesterov) or adam", &seen_cfg, 0, -1},
        {"momentum", NS_OPT_FLOAT, &cfg.opt.momentum, "M", "SGD momentum (default 0.9)", &seen_cfg, 0, 0.999999},
        {"no-nesterov", NS_OPT_FLAG, &no_nesterov, NULL, "plain momentum instead of Nesterov", &seen_cfg, 0, -1},
        {"weight-decay", NS_OPT_FLOAT, &weight_decay, "WD", "L2 on conv/dense weights only (default 5e-4 "
         "for sgd, 0 for adam)", &seen_cfg, 0, 1},
        {"decay-all", NS_OPT_FLAG, &decay_all, NULL, "weight decay on batchnorm scales/shifts and biases too "
         "(PyTorch's plain weight_decay)", &seen_cfg, 0, -1},
        {"schedule", NS_OPT_STRING, &schedule, "SPEC", "cosine[:warmup=E,min=LR] (default), constant, "
         "step[:every=E,gamma=G|milestones=A-B], plateau[:factor=F,patience=P,stop=S], or a plugin", &seen_cfg, 0, -1},
        {"label-smoothing", NS_OPT_FLOAT, &cfg.label_smoothing, "S", "label smoothing of hard labels (default 0)",
         &seen_cfg, 0, 0.999},
        {"dropout", NS_OPT_FLOAT, &cfg.noise.dropout, "P", "dropout rate before the classifier (default 0)",
         &seen_cfg, 0, 0.999},
        {"stochastic-depth", NS_OPT_FLOAT, &cfg.noise.drop_path_pl, "P", "survival probability of the last "
         "residual block, linear decay from 1 (default 1: off; the paper: 0.8)", &seen_cfg, 0.001, 1},
        {"drop-path-mode", NS_OPT_STRING, &drop_path_mode, "M", "sample (default, the paper's code) or batch "
         "(Huang et al., the blog)", &seen_cfg, 0, -1},
        {"augment", NS_OPT_STRING, &augment, "SPEC", "RandAugment policy, e.g. randaugment:n=2,m=9 (default none)",
         &seen_cfg, 0, -1},
        {"no-pad-crop", NS_OPT_FLAG, &no_pad_crop, NULL, "disable pad-4-and-crop", &seen_cfg, 0, -1},
        {"no-flip", NS_OPT_FLAG, &no_flip, NULL, "disable horizontal flips", &seen_cfg, 0, -1},
        {"seed", NS_OPT_U64, &cfg.seed, "S", "seed of initialisation, shuffling, noise (default 1)", &seen_cfg, 0, -1},
        {"loader-threads", NS_OPT_INT, &cfg.loader_threads, "N", "threads preparing batches (default 2)", NULL, 1, 64},
        {"eval-every", NS_OPT_INT, &cfg.eval_every, "N", "evaluate on the test set every N epochs and at the end "
         "(default 1; 0: only at the end)", &seen_cfg, 0, 100000},
        {"sync-bn", NS_OPT_FLAG, &cfg.sync_bn, NULL, "under mpirun: batchnorm statistics over the global batch "
         "(default: each rank's own rows, as PyTorch DDP)", &seen_cfg, 0, -1},
        {"run-dir", NS_OPT_STRING, &run_dir, "DIR", "where config, metrics and checkpoints go (default "
         "runs/train-<time>)", &seen_cfg, 0, -1},
        {"stop-after", NS_OPT_INT, &cfg.stop_after_epoch, "N", "pause after N completed epochs, leaving a "
         "checkpoint to --resume from", NULL, 1, 100000},
        {"resume", NS_OPT_STRING, &resume, "DIR", "continue the run in DIR from its last completed epoch", NULL, 0, -1},
        NS_CLI_BACKEND_OPTS(bk),
    };
    const size_t n_opts = sizeof opts / sizeof *opts;
    ns_status st = ns_cli_parse("train", argc, argv, 1, opts, n_opts, NULL, 0, NULL, &help);
    if (st != NS_OK)
        return ns_cli_fail(st);
    if (help) {
        ns_cli_print_help("train", "[options]",
                          "Trains a classifier with light noise (pad-crop, flip) and optional RandAugment,\n"
                          "dropout and stochastic depth; evaluates on the test set; writes config.json,\n"
                          "metrics.jsonl, checkpoint.safetensors (every epoch) and model.safetensors.",
                          opts, n_opts);
        return 0;
    }
    if (resume) {
        int threads = cfg.loader_threads, stop_after = cfg.stop_after_epoch;
        if (seen_cfg) {
            ns_set_error("train --resume %s: the run keeps its own configuration (config.json); only --backend, "
                         "--threads, --device, --precision, --loader-threads and --stop-after may be given", resume);
            return ns_cli_fail(NS_ERR_USAGE);
        }
        st = load_resume_config(resume, &cfg);
        if (st != NS_OK)
            return ns_cli_fail(st);
        cfg.loader_threads = threads;
        cfg.stop_after_epoch = stop_after;
    } else {
        copy_str(cfg.data, sizeof cfg.data, data);
        copy_str(cfg.input, sizeof cfg.input, input);
        copy_str(cfg.pseudo, sizeof cfg.pseudo, pseudo);
        copy_str(cfg.model, sizeof cfg.model, model);
        copy_str(cfg.init, sizeof cfg.init, init);
        copy_str(cfg.schedule, sizeof cfg.schedule, schedule);
        copy_str(cfg.augment, sizeof cfg.augment, augment);
        if (optimizer) {
            float mom = cfg.opt.momentum;
            st = ns_optimizer_kind_parse(optimizer, &cfg.optimizer);
            if (st != NS_OK)
                return ns_cli_fail(st);
            cfg.opt = ns_optimizer_config_default(cfg.optimizer);
            cfg.opt.momentum = mom;
        }
        if (weight_decay >= 0)
            cfg.opt.weight_decay = weight_decay;
        if (budget) {
            double b;
            st = ns_parse_duration(budget, "--budget", &b);
            if (st != NS_OK)
                return ns_cli_fail(st);
            cfg.budget_s = (float)b;
        }
        cfg.opt.nesterov = !no_nesterov;
        cfg.opt.decay_all = decay_all;
        cfg.pad_crop = !no_pad_crop;
        cfg.flip = !no_flip;
        if (drop_path_mode) {
            if (strcmp(drop_path_mode, "sample") == 0)
                cfg.noise.drop_path_mode = NS_DROP_PATH_PER_SAMPLE;
            else if (strcmp(drop_path_mode, "batch") == 0)
                cfg.noise.drop_path_mode = NS_DROP_PATH_PER_BATCH;
            else {
                ns_set_error("--drop-path-mode %s: expected sample or batch", drop_path_mode);
                return ns_cli_fail(NS_ERR_USAGE);
            }
        }
        if (run_dir)
            copy_str(cfg.run_dir, sizeof cfg.run_dir, run_dir);
        else
            ns_cli_default_run_dir("train", cfg.run_dir, sizeof cfg.run_dir);
    }
    /* The whole configuration before the backend, the label file or the run
     * directory is touched: a bad value costs nothing and leaves nothing. */
    st = ns_train_config_validate(&cfg, NULL);
    if (st != NS_OK)
        return ns_cli_fail(st);
    ns_backend *be;
    st = ns_cli_backend_open(&bk, &be);
    if (st != NS_OK)
        return ns_cli_fail(st);
    ns_train_result res;
    ns_pseudo_data pd;
    memset(&pd, 0, sizeof pd);
    if (cfg.pseudo[0])
        st = ns_pseudo_data_open(&cfg, ns_dist_is_root() ? stdout : NULL, &pd);
    /* A new run records which labels it learned (config.json, the checkpoints'
     * metadata); a resumed one was checked against that record just now. */
    if (st == NS_OK && cfg.pseudo[0] && !resume)
        snprintf(cfg.pseudo_sha256, sizeof cfg.pseudo_sha256, "%s", pd.sha256);
    if (st == NS_OK)
        st = ns_train(&cfg, be, resume != NULL, cfg.pseudo[0] ? &pd.view : NULL, stdout, &res);
    ns_pseudo_data_free(&pd);
    ns_backend_close(be);
    if (st != NS_OK)
        return ns_cli_fail(st);
    if (!ns_dist_is_root())
        return 0; /* rank 0 reports */
    if (res.paused) {
        printf("paused after %d epochs in %.1fs; continue with: noisystudent train --resume %s\n", res.epochs_run,
               res.seconds, cfg.run_dir);
        return 0;
    }
    printf("done: %d epochs in %.1fs, test accuracy %.2f%%%s; model %s\n", res.epochs_run, res.seconds,
           100 * res.test_acc, res.stopped_early ? " (stopped early)" : "", res.model_path);
    return 0;
}
