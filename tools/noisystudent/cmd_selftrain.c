/* noisystudent selftrain: the whole Noisy Student loop from a preset, a config
 * file or flags, resumable per stage and epoch. */
#include <math.h>
#include <stdio.h>
#include <string.h>

#include <jansson.h>

#include "backend_options.h"
#include "cli_options.h"
#include "commands.h"
#include "dist/dist.h"
#include "selftrain/selftrain.h"
#include "util/duration.h"
#include "util/error.h"

static ns_status load_json(const char *path, const char *flag, ns_selftrain_config *c)
{
    json_error_t err;
    json_t *j = json_load_file(path, 0, &err);
    if (!j)
        return ns_fail(NS_ERR_USAGE, "%s %s: %s (line %d)", flag, path, err.text, err.line);
    ns_status st = ns_selftrain_config_from_json(j, path, c);
    json_decref(j);
    return st;
}

static void set_str(char *dst, size_t len, const char *v)
{
    if (v)
        snprintf(dst, len, "%s", v);
}

/* Keys a --teacher.KEY / --student.KEY may not set, and why. */
static const char *refused_key(int student, const char *key, int grow)
{
    if (!strcmp(key, "run_dir") || !strcmp(key, "pseudo") || !strcmp(key, "pseudo_sha256"))
        return "selftrain sets it for every stage (give --run-dir)";
    if (student && (!strcmp(key, "data") || !strcmp(key, "labels_per_class") || !strcmp(key, "split_seed") ||
                    !strcmp(key, "val_per_class") || !strcmp(key, "input") || !strcmp(key, "test_fraction")))
        return "the students learn the teacher's split; give --teacher.KEY or --data, --labels-per-class, "
               "--split-seed, --val-per-class, --input, --test-fraction";
    if (!student && (!strncmp(key, "pseudo_", 7) || !strcmp(key, "unlabeled_ratio")))
        return "the teacher learns no pseudo-labels; give --student.KEY";
    if (student && grow && !strcmp(key, "model"))
        return "--grow names the student of every iteration";
    return NULL;
}

/* Applies --teacher.KEY / --student.KEY in command-line order, an optimizer
 * first (it resets the optimizer's other settings to its defaults). */
static ns_status apply_assignments(const ns_cli_assignments *a, const char *stage, ns_train_config *tc, int grow)
{
    const int student = stage[0] == 's';
    for (int pass = 0; pass < 2; pass++)
        for (int i = 0; i < a->n; i++) {
            char key[64], flag[96];
            snprintf(key, sizeof key, "%s", a->item[i].key);
            for (char *p = key; *p; p++)
                if (*p == '-')
                    *p = '_';
            if ((strcmp(key, "optimizer") == 0) != (pass == 0))
                continue;
            snprintf(flag, sizeof flag, "--%s.%s", stage, a->item[i].key);
            const char *why = refused_key(student, key, grow);
            if (why)
                return ns_fail(NS_ERR_USAGE, "selftrain %s: not a per-stage setting: %s", flag, why);
            NS_TRY(ns_train_config_set(tc, key, a->item[i].value, flag));
        }
    return NS_OK;
}

int ns_cmd_selftrain(int argc, char **argv)
{
    ns_cli_backend bk = ns_cli_backend_default();
    bk.precision = "auto"; /* the presets are sized for time: bf16 where it is native */
    const char *preset = "quick", *config = NULL, *run_dir = NULL, *resume = NULL, *data = NULL, *unlabeled = NULL,
               *grow = NULL, *t_model = NULL, *s_model = NULL, *t_aug = NULL, *s_aug = NULL, *budget = NULL;
    int lpc = -1, iterations = -1, t_epochs = -1, s_epochs = -1, per_class = -2, hard = 0, stochastic = 0, sync_bn = 0, batch = -1,
        help = 0, seen_cfg = 0, print_config = 0;
    const char *input = NULL;
    float test_fraction = -1, teacher_share = -1;
    float t_drop = -1, s_drop = -1, t_sd = -1, s_sd = -1, ratio = -1, threshold = -1, lr = -1;
    uint64_t seed = 0, split_seed = 0;
    int seen_seed = 0, seen_split = 0;
    /* Flags train has, applied here to the students (noise, targets) or to
     * both stages (the schedule, like --lr and --batch; the split). */
    const char *schedule = NULL, *augment = NULL, *drop_path_mode = NULL, *label_tta = NULL;
    float dropout = -1, sd = -1, temperature = -1;
    int val_per_class = -1;
    ns_cli_assignments t_set, s_set;
    memset(&t_set, 0, sizeof t_set);
    memset(&s_set, 0, sizeof s_set);
    const ns_opt opts[] = {
        {"preset", NS_OPT_STRING, &preset, "NAME", "quick (default: the main job, ResNet-8, one iteration, flip-TTA labels, fitted to a 14-minute --budget) or full (ResNet-20, 3 iterations, no budget: 73 min on 2 cores with bf16, 89.4% -> 92.0%)",
         &seen_cfg, 0, -1},
        {"config", NS_OPT_STRING, &config, "FILE", "start from a JSON configuration (the selftrain.json format)",
         &seen_cfg, 0, -1},
        {"run-dir", NS_OPT_STRING, &run_dir, "DIR", "where every stage writes (default: the --config file's run_dir, else runs/selftrain-<time>)",
         &seen_cfg, 0, -1},
        {"resume", NS_OPT_STRING, &resume, "DIR", "continue the run in DIR from the stage and epoch it reached",
         NULL, 0, -1},
        {"data", NS_OPT_STRING, &data, "SPEC", "dataset (default fashion-mnist)", &seen_cfg, 0, -1},
        {"input", NS_OPT_STRING, &input, "CxHxW", "image folders: decode every image to C channels (1 gray, 3 RGB) "
         "x H x W (default 3x32x32)", &seen_cfg, 0, -1},
        {"test-fraction", NS_OPT_FLOAT, &test_fraction, "F", "image folders without test/ or val/: share of each "
         "class held out as the test split, seeded by --split-seed (default 0.2)", &seen_cfg, 0, 1},
        {"labels-per-class", NS_OPT_INT, &lpc, "N", "labeled images per class (default 400)", &seen_cfg, 1, 1e9},
        {"split-seed", NS_OPT_U64, &split_seed, "S", "seed of the labeled/unlabeled split", &seen_split, 0, -1},
        {"seed", NS_OPT_U64, &seed, "S", "seed of initialisation, order and noise", &seen_seed, 0, -1},
        {"budget", NS_OPT_STRING, &budget, "TIME", "fit the whole run to this wall time (15m, 900s, 1.5h; none: "
         "train the configured epochs): stages fit their epochs (at most the configured ones) to their share, "
         "measured over their first steps (the quick preset's default: 14m)", &seen_cfg, 0, -1},
        {"teacher-share", NS_OPT_FLOAT, &teacher_share, "F", "with a budget: the teacher's share of it (default 0.25; "
         "each student gets what is left shared among the students to come)", &seen_cfg, 0.01, 0.99},
        {"iterations", NS_OPT_INT, &iterations, "K", "teacher -> student rounds (the preset's by default)", &seen_cfg, 1,
         NS_SELFTRAIN_MAX_ITER},
        {"unlabeled", NS_OPT_STRING, &unlabeled, "SRC", "images to pseudo-label: pool (default), a dataset spec "
         "or folder:DIR", &seen_cfg, 0, -1},
        {"label-tta", NS_OPT_STRING, &label_tta, "SPEC", "test-time augmentation of the teachers' labeling: none, "
         "flip (the quick preset's) or flip+crops (label --tta; the mean of the views' probabilities)", &seen_cfg, 0, -1},
        {"grow", NS_OPT_STRING, &grow, "M1|M2..", "student model per iteration (the last repeats)", &seen_cfg, 0, -1},
        {"teacher-model", NS_OPT_STRING, &t_model, "SPEC", "teacher model", &seen_cfg, 0, -1},
        {"student-model", NS_OPT_STRING, &s_model, "SPEC", "student model (equal or larger)", &seen_cfg, 0, -1},
        {"teacher-epochs", NS_OPT_INT, &t_epochs, "N", "teacher epochs", &seen_cfg, 1, 100000},
        {"student-epochs", NS_OPT_INT, &s_epochs, "N", "student epochs (passes over the pseudo-labeled set)",
         &seen_cfg, 1, 100000},
        {"teacher-augment", NS_OPT_STRING, &t_aug, "SPEC", "teacher RandAugment (default none)", &seen_cfg, 0, -1},
        {"student-augment", NS_OPT_STRING, &s_aug, "SPEC", "student RandAugment", &seen_cfg, 0, -1},
        {"teacher-dropout", NS_OPT_FLOAT, &t_drop, "P", "teacher dropout", &seen_cfg, 0, 0.999},
        {"student-dropout", NS_OPT_FLOAT, &s_drop, "P", "student dropout (the paper: 0.5)", &seen_cfg, 0, 0.999},
        {"teacher-stochastic-depth", NS_OPT_FLOAT, &t_sd, "P", "teacher survival prob. of the last block",
         &seen_cfg, 0.001, 1},
        {"student-stochastic-depth", NS_OPT_FLOAT, &s_sd, "P", "student survival prob. of the last block (the "
         "paper: 0.8)", &seen_cfg, 0.001, 1},
        {"unlabeled-ratio", NS_OPT_FLOAT, &ratio, "R", "pseudo-labeled images per labeled image per step",
         &seen_cfg, 0.001, 64},
        {"threshold", NS_OPT_FLOAT, &threshold, "T", "confidence threshold (the paper 0.3, the blog 0.75)",
         &seen_cfg, 0, 1},
        {"per-class", NS_OPT_INT, &per_class, "N", "pseudo-labeled images per class (0: the median of the counts that pass "
         "--threshold over the classes that have any, the upper middle one for an even number; -1: no balancing)",
         &seen_cfg, -1, 1e9},
        {"hard-targets", NS_OPT_FLAG, &hard, NULL, "one-hot pseudo-labels instead of soft", &seen_cfg, 0, -1},
        {"stochastic-balance", NS_OPT_FLAG, &stochastic, NULL, "stochastic rounding when duplicating", &seen_cfg,
         0, -1},
        {"sync-bn", NS_OPT_FLAG, &sync_bn, NULL, "under mpirun: batchnorm statistics over the global batch, both "
         "stages (default: each rank's own rows, as PyTorch DDP)", &seen_cfg, 0, -1},
        {"batch", NS_OPT_INT, &batch, "N", "labeled images per step, both stages (default 128)", &seen_cfg, 1, 65536},
        {"lr", NS_OPT_FLOAT, &lr, "LR", "base learning rate, both stages (default 0.1)", &seen_cfg, 1e-9, 100},
        {"val-per-class", NS_OPT_INT, &val_per_class, "N", "validation images per class, taken from the teacher's "
         "labeled split (the students share it; needed by --schedule plateau)", &seen_cfg, 0, 1e9},
        {"schedule", NS_OPT_STRING, &schedule, "SPEC", "learning-rate schedule of both stages: cosine[:warmup=E,"
         "min=LR], constant, step[:...], plateau[:...] (needs --val-per-class), or a plugin", &seen_cfg, 0, -1},
        {"augment", NS_OPT_STRING, &augment, "SPEC", "the students' RandAugment (as --student-augment)", &seen_cfg,
         0, -1},
        {"dropout", NS_OPT_FLOAT, &dropout, "P", "the students' dropout (as --student-dropout)", &seen_cfg, 0, 0.999},
        {"stochastic-depth", NS_OPT_FLOAT, &sd, "P", "the students' stochastic depth (as --student-stochastic-depth)",
         &seen_cfg, 0.001, 1},
        {"drop-path-mode", NS_OPT_STRING, &drop_path_mode, "M", "the students' stochastic depth: sample (default) "
         "or batch", &seen_cfg, 0, -1},
        {"temperature", NS_OPT_FLOAT, &temperature, "T", "the students' soft targets: softmax(log p / T) (default 1)",
         &seen_cfg, 0.01, 100},
        {"teacher.", NS_OPT_PREFIX, &t_set, "KEY V", "set KEY of the teacher's stage configuration (see below)",
         &seen_cfg, 0, -1},
        {"student.", NS_OPT_PREFIX, &s_set, "KEY V", "set KEY of every student's stage configuration (see below)",
         &seen_cfg, 0, -1},
        {"print-config", NS_OPT_FLAG, &print_config, NULL, "print the resolved configuration (JSON) and exit",
         NULL, 0, -1},
        NS_CLI_BACKEND_OPTS(bk),
    };
    const size_t n_opts = sizeof opts / sizeof *opts;
    ns_status st = ns_cli_parse("selftrain", argc, argv, 1, opts, n_opts, NULL, 0, NULL, &help);
    if (st != NS_OK)
        return ns_cli_fail(st);
    if (help) {
        char desc[4096];
        snprintf(desc, sizeof desc,
                 "Noisy Student self-training: a teacher learns the labeled split, labels the unlabeled\n"
                 "pool without noise, the confident pseudo-labels are filtered and class-balanced, and a\n"
                 "noised student (RandAugment, dropout, stochastic depth) learns labeled + pseudo-labeled\n"
                 "data; the student becomes the next teacher. Ends with the test accuracies side by side.\n"
                 "\n"
                 "Any setting of a stage: --teacher.KEY VALUE or --student.KEY VALUE (every student), KEY a\n"
                 "key of the stage's config.json ('-' reads as '_'), e.g. --student.dropout 0.2\n"
                 "--teacher.epochs 5 --student.label-smoothing 0.1. Keys:\n  %s.\n"
                 "The students share the teacher's split (data, labels_per_class, split_seed, val_per_class:\n"
                 "set them on the teacher); the teacher learns no pseudo-labels (no pseudo_*,\n"
                 "unlabeled_ratio); run_dir and pseudo are selftrain's. Later wins: --preset or --config,\n"
                 "then the plain flags (--dropout ...), then --teacher-X/--student-X, then\n"
                 "--teacher.KEY/--student.KEY. The whole configuration (every stage, every iteration's --grow\n"
                 "model) is checked before anything is written: a bad value exits 2 naming the flag or key\n"
                 "and leaves no run directory.",
                 ns_train_config_keys());
        ns_cli_print_help("selftrain", "[--preset quick|full] [options]", desc, opts, n_opts);
        return 0;
    }
    ns_selftrain_config c;
    if (resume) {
        if (seen_cfg || seen_seed || seen_split) {
            ns_set_error("selftrain --resume %s: the run keeps its own configuration (selftrain.json); only the "
                         "backend flags may be given", resume);
            return ns_cli_fail(NS_ERR_USAGE);
        }
        char path[1100];
        snprintf(path, sizeof path, "%s/selftrain.json", resume);
        st = load_json(path, "--resume", &c);
        set_str(c.run_dir, sizeof c.run_dir, resume);
    } else {
        st = config ? load_json(config, "--config", &c) : ns_selftrain_preset(preset, &c);
    }
    if (st != NS_OK)
        return ns_cli_fail(st);
    if (!resume) {
        ns_train_config *t = &c.teacher, *s = &c.student;
        set_str(t->schedule, sizeof t->schedule, schedule);
        set_str(s->schedule, sizeof s->schedule, schedule);
        set_str(s->augment, sizeof s->augment, augment);
        if (val_per_class >= 0)
            t->val_per_class = val_per_class;
        if (dropout >= 0)
            s->noise.dropout = dropout;
        if (sd > 0)
            s->noise.drop_path_pl = sd;
        if (temperature > 0)
            s->pseudo_temperature = temperature;
        if (drop_path_mode) {
            st = ns_train_config_set(s, "drop_path_mode", drop_path_mode, "--drop-path-mode");
            if (st != NS_OK)
                return ns_cli_fail(st);
        }
        set_str(t->data, sizeof t->data, data);
        set_str(t->input, sizeof t->input, input);
        if (test_fraction >= 0)
            t->test_fraction = test_fraction;
        set_str(c.unlabeled, sizeof c.unlabeled, unlabeled);
        if (label_tta) {
            st = ns_tta_parse(label_tta, "selftrain --label-tta", &c.label_tta);
            if (st != NS_OK)
                return ns_cli_fail(st);
        }
        set_str(c.grow, sizeof c.grow, grow);
        set_str(t->model, sizeof t->model, t_model);
        set_str(s->model, sizeof s->model, s_model);
        set_str(t->augment, sizeof t->augment, t_aug);
        set_str(s->augment, sizeof s->augment, s_aug);
        if (lpc > 0)
            t->labels_per_class = lpc;
        if (seen_split)
            t->split_seed = split_seed;
        if (seen_seed)
            t->seed = s->seed = seed;
        if (iterations > 0)
            c.iterations = iterations;
        if (budget && strcmp(budget, "none") == 0) {
            c.budget_s = 0;
        } else if (budget) {
            st = ns_parse_duration(budget, "--budget", &c.budget_s);
            if (st != NS_OK)
                return ns_cli_fail(st);
        }
        if (teacher_share > 0)
            c.teacher_share = teacher_share;
        if (t_epochs > 0)
            t->epochs = t_epochs;
        if (s_epochs > 0)
            s->epochs = s_epochs;
        if (t_drop >= 0)
            t->noise.dropout = t_drop;
        if (s_drop >= 0)
            s->noise.dropout = s_drop;
        if (t_sd > 0)
            t->noise.drop_path_pl = t_sd;
        if (s_sd > 0)
            s->noise.drop_path_pl = s_sd;
        if (ratio > 0)
            s->unlabeled_ratio = ratio;
        if (threshold >= 0)
            s->pseudo_threshold = threshold;
        if (per_class >= -1)
            s->pseudo_per_class = per_class;
        if (hard)
            s->pseudo_hard = 1;
        if (stochastic)
            s->pseudo_stochastic = 1;
        if (batch > 0)
            t->batch = s->batch = batch;
        if (sync_bn)
            t->sync_bn = s->sync_bn = 1;
        if (lr > 0)
            t->lr = s->lr = lr;
        if (run_dir)
            set_str(c.run_dir, sizeof c.run_dir, run_dir);
        else if (!c.run_dir[0]) /* a --config file may name its own */
            ns_cli_default_run_dir("selftrain", c.run_dir, sizeof c.run_dir);
        st = apply_assignments(&t_set, "teacher", t, 0);
        if (st == NS_OK)
            st = apply_assignments(&s_set, "student", s, c.grow[0] != '\0');
        if (st != NS_OK)
            return ns_cli_fail(st);
    }
    /* Every stage, before the backend is opened or anything written. */
    st = ns_selftrain_config_validate(&c);
    if (st != NS_OK)
        return ns_cli_fail(st);
    if (print_config) {
        /* What a run with these flags would do, in the --config format: a base for
         * variants (experiments/ edits it with jq). */
        json_t *j = ns_selftrain_config_to_json(&c);
        int rc = j && json_dumpf(j, stdout, JSON_INDENT(2) | JSON_SORT_KEYS) == 0 ? 0 : 1;
        json_decref(j);
        printf("\n");
        return rc;
    }
    ns_backend *be;
    st = ns_cli_backend_open(&bk, &be);
    if (st != NS_OK)
        return ns_cli_fail(st);
    ns_selftrain_result res;
    st = ns_selftrain(&c, be, resume != NULL, stdout, &res);
    ns_backend_close(be);
    if (st != NS_OK)
        return ns_cli_fail(st);
    if (!ns_dist_is_root())
        return 0; /* rank 0 reports */
    if (!res.done)
        printf("paused; continue with: noisystudent selftrain --resume %s\n", c.run_dir);
    else
        printf("done in %.0fs: teacher %.2f%% -> student %.2f%% on the test set\n", res.seconds,
               100 * res.teacher_acc, 100 * res.student_acc[res.iterations_done - 1]);
    return 0;
}
