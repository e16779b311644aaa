/* The command line as a user meets it: exit status 2 for usage errors, 1 for
 * failures, one line on stderr naming the flag or file, and a small train ->
 * eval round trip that works. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>

#include <jansson.h>

#include <cmocka.h>

#include "io/file_util.h"
#include "cli_run.h"
#include "synthetic_data.h"

static char dir[1024], data_dir[1100];

static int setup(void **state)
{
    (void)state;
    ns_test_fresh_dir("cli", dir, sizeof dir);
    snprintf(data_dir, sizeof data_dir, "%s/data", dir);
    ns_cli_init(dir);
    return ns_test_write_synthetic(data_dir, 16, 8, 5);
}

static void test_usage_errors_exit_2(void **state)
{
    (void)state;
    assert_int_equal(ns_cli_run("frobnicate"), 2);
    ns_cli_assert_one_line_error("unknown command 'frobnicate'");
    assert_int_equal(ns_cli_run("train --bogus"), 2);
    ns_cli_assert_one_line_error("unknown option --bogus");
    assert_int_equal(ns_cli_run("train --epochs abc"), 2);
    ns_cli_assert_one_line_error("--epochs abc: expected an integer");
    assert_int_equal(ns_cli_run("train --epochs 0"), 2);
    ns_cli_assert_one_line_error("--epochs 0");
    assert_int_equal(ns_cli_run("train --lr"), 2);
    ns_cli_assert_one_line_error("--lr: expected LR after it");
    assert_int_equal(ns_cli_run("train --model resnet9"), 2);
    ns_cli_assert_one_line_error("resnet9");
    assert_int_equal(ns_cli_run("train --resume /nonexistent --epochs 3"), 2);
    ns_cli_assert_one_line_error("keeps its own configuration");
    assert_int_equal(ns_cli_run("eval"), 2);
    ns_cli_assert_one_line_error("--model PATH is required");
    assert_int_equal(ns_cli_run("train --precision fp8"), 2);
    ns_cli_assert_one_line_error("--precision fp8: expected fp32, bf16, fp16 or auto");
    assert_int_equal(ns_cli_run("selftrain --preset huge"), 2);
    ns_cli_assert_one_line_error("--preset huge: expected quick or full");
    assert_int_equal(ns_cli_run("selftrain --resume /nonexistent --student-epochs 3"), 2);
    ns_cli_assert_one_line_error("keeps its own configuration");
    assert_int_equal(ns_cli_run("train --unlabeled-ratio 0"), 2);
    ns_cli_assert_one_line_error("--unlabeled-ratio 0");
    assert_int_equal(ns_cli_run("train --augment randaugment:n=2,bogus_key"), 2);
    ns_cli_assert_one_line_error("bogus_key");
    assert_int_equal(ns_cli_run("label --model m.safetensors --unlabeled pool --out x.nspl --tta rotate"), 2);
    ns_cli_assert_one_line_error("label --tta rotate: expected none, flip or flip+crops");
    assert_int_equal(ns_cli_run("label --model m.safetensors --unlabeled pool --out x.nspl --tta flip+"), 2);
    ns_cli_assert_one_line_error("label --tta flip+: expected none, flip or flip+crops");
    assert_int_equal(ns_cli_run("selftrain --label-tta crops --print-config"), 2);
    ns_cli_assert_one_line_error("selftrain --label-tta crops: expected none, flip or flip+crops");
}

static void test_failures_exit_1(void **state)
{
    (void)state;
    char args[2048];
    assert_int_equal(ns_cli_run("train --backend nosuch --epochs 1"), 1);
    ns_cli_assert_one_line_error("backend 'nosuch' not found");
    assert_non_null(strstr(ns_cli_err, "ns_backend_nosuch.so in "));

    snprintf(args, sizeof args, "train --backend ref --data /nonexistent/data --run-dir '%s/r0'", dir);
    assert_int_equal(ns_cli_run("%s", args), 1);
    ns_cli_assert_one_line_error("/nonexistent/data");

    /* A truncated image file. */
    char bad_dir[1200], cmd[4096];
    snprintf(bad_dir, sizeof bad_dir, "%s/bad", dir);
    snprintf(cmd, sizeof cmd, "cp -r '%s' '%s' && truncate -s 100 '%s/train-images-idx3-ubyte'", data_dir, bad_dir,
             bad_dir);
    assert_int_equal(system(cmd), 0);
    snprintf(args, sizeof args, "train --backend ref --data '%s' --run-dir '%s/r1'", bad_dir, dir);
    assert_int_equal(ns_cli_run("%s", args), 1);
    ns_cli_assert_one_line_error("train-images-idx3-ubyte");

    snprintf(args, sizeof args, "eval --backend ref --model '%s/train-labels-idx1-ubyte'", data_dir);
    assert_int_equal(ns_cli_run("%s", args), 1);
    ns_cli_assert_one_line_error("train-labels-idx1-ubyte");
}

static void test_plugins_lists_ref(void **state)
{
    (void)state;
    assert_int_equal(ns_cli_run("plugins"), 0);
    /* ref is built with every tree: a listing without it is a failure */
    assert_non_null(strstr(ns_cli_out, "ref"));
    assert_non_null(strstr(ns_cli_out, "backend"));
    assert_non_null(strstr(ns_cli_out, "usable"));
}

static void test_train_then_eval(void **state)
{
    (void)state;
    char args[2048];
    snprintf(args, sizeof args,
             "train --backend ref --data '%s' --model resnet8:width=4 --epochs 2 --batch 16 --no-flip "
             "--run-dir '%s/run'", data_dir, dir);
    int rc = ns_cli_run("%s", args);
    if (rc != 0)
        print_message("stdout: %s\nstderr: %s\n", ns_cli_out, ns_cli_err);
    assert_int_equal(rc, 0);
    assert_non_null(strstr(ns_cli_out, "epoch   2/2"));
    assert_non_null(strstr(ns_cli_out, "test accuracy"));
    /* The same run directory is not silently overwritten. */
    assert_int_equal(ns_cli_run("%s", args), 2);
    ns_cli_assert_one_line_error("already holds a run");

    /* --precision auto: ref has no bf16, so it falls back to fp32 (and says which it ran). */
    snprintf(args, sizeof args, "eval --backend ref --precision auto --data '%s' --model '%s/run/model.safetensors'",
             data_dir, dir);
    assert_int_equal(ns_cli_run("%s", args), 0);
    assert_non_null(strstr(ns_cli_out, "accuracy"));
    assert_int_equal(ns_cli_run("bench --backend ref --precision auto --model resnet8:width=4 --input 1x8x8 --batch 2 "
                         "--steps 1 --warmup 0"),
                     0);
    assert_non_null(strstr(ns_cli_out, "precision fp32"));

    snprintf(args, sizeof args, "eval --backend ref --data '%s' --model '%s/run/model.safetensors'", data_dir, dir);
    assert_int_equal(ns_cli_run("%s", args), 0);
    assert_non_null(strstr(ns_cli_out, "accuracy"));
    assert_non_null(strstr(ns_cli_out, "confusion matrix"));
}

static int path_exists(const char *path)
{
    struct stat st;
    return stat(path, &st) == 0;
}

/* A bad value anywhere in the configuration exits 2 with one line naming the
 * flag or key, before anything is written: no run directory is left behind
 * (train's plateau without validation data used to fail after an epoch, with
 * config.json and a checkpoint written). */
static void test_bad_configuration_leaves_nothing(void **state)
{
    (void)state;
    static const struct {
        const char *args, *needle;
    } cases[] = {
        {"train --schedule plateau", "--schedule plateau: needs validation data; give --val-per-class N"},
        {"train --schedule plateau:patience=x --val-per-class 2 --labels-per-class 8", "patience"},
        {"selftrain --schedule plateau", "--teacher.schedule plateau: needs validation data"},
        {"selftrain --teacher.schedule cosine --student.schedule plateau", "--student.schedule plateau: needs valid"},
        {"selftrain --student.dropout 1.5", "--student.dropout 1.5: expected"},
        {"selftrain --teacher.stochastic-depth 0", "--teacher.stochastic_depth 0: expected"},
        {"selftrain --student.bogus 1", "--student.bogus: unknown key 'bogus'"},
        {"selftrain --student.epochs abc", "--student.epochs abc: expected an integer"},
        {"selftrain --student.data x", "--student.data: not a per-stage setting"},
        {"selftrain --teacher.pseudo_threshold 0.5", "the teacher learns no pseudo-labels"},
        {"selftrain --student.run_dir x", "--student.run_dir: not a per-stage setting"},
        {"selftrain --iterations 3 --grow 'resnet8:width=4|resnet9'", "--grow, iteration 2's student resnet9"},
        {"selftrain --augment randaugment:n=2,bogus=1", "--student.augment"},
        {"selftrain --teacher.augment nosuchset", "--teacher.augment"},
        {"selftrain --student.model resnet7", "--student.model"},
        {"selftrain --drop-path-mode sometimes", "--drop-path-mode sometimes: expected sample or batch"},
        {"selftrain --temperature 0", "--temperature 0"},
        {"selftrain --teacher.labels_per_class 0", "--unlabeled pool: the teacher learns every label"},
        {"selftrain --val-per-class 400", "--teacher.val_per_class 400 must be smaller"},
        {"selftrain --teacher.optimizer rmsprop", "--teacher.optimizer rmsprop: expected sgd or adam"},
        {"selftrain --student.", "expected --student.KEY VALUE"},
    };
    char args[2048], rd[1200];
    snprintf(rd, sizeof rd, "%s/never", dir);
    for (size_t i = 0; i < sizeof cases / sizeof *cases; i++) {
        snprintf(args, sizeof args, "%s --backend ref --data '%s' --run-dir '%s'", cases[i].args, data_dir, rd);
        int rc = ns_cli_run("%s", args);
        if (rc != 2 || !strstr(ns_cli_err, cases[i].needle) || path_exists(rd))
            fail_msg("'%s': exit %d, stderr '%s', run directory %s; expected 2, '%s', none", cases[i].args, rc,
                     ns_cli_err, path_exists(rd) ? "made" : "absent", cases[i].needle);
        ns_cli_assert_one_line_error(cases[i].needle);
    }
    /* What the configuration names is missing: exit 1 naming it, still before
     * selftrain makes its run directory (a typo in --data would otherwise leave a
     * run whose selftrain.json holds it). */
    static const struct {
        const char *args, *needle;
    } missing[] = {
        {"selftrain --data /nonexistent/data", "/nonexistent/data"},
        {"selftrain --data '%s' --labels-per-class 40", "fewer than the 40 per class"},
        {"selftrain --data '%s' --unlabeled folder:/nonexistent/photos", "/nonexistent/photos is not a directory"},
        {"selftrain --data '%s' --unlabeled /nonexistent/pool", "/nonexistent/pool"},
    };
    for (size_t i = 0; i < sizeof missing / sizeof *missing; i++) {
        char base[1024];
        snprintf(base, sizeof base, missing[i].args, data_dir);
        snprintf(args, sizeof args, "%s --backend ref --labels-per-class 4 --run-dir '%s'", base, rd);
        if (strstr(base, "--labels-per-class 40"))
            snprintf(args, sizeof args, "%s --backend ref --run-dir '%s'", base, rd);
        int rc = ns_cli_run("%s", args);
        if (rc != 1 || !strstr(ns_cli_err, missing[i].needle) || path_exists(rd))
            fail_msg("'%s': exit %d, stderr '%s', run directory %s; expected 1, '%s', none", base, rc, ns_cli_err,
                     path_exists(rd) ? "made" : "absent", missing[i].needle);
        ns_cli_assert_one_line_error(missing[i].needle);
    }
}

static double num(const json_t *stage, const char *key)
{
    const json_t *v = json_object_get(stage, key);
    assert_true(json_is_number(v));
    return json_number_value(v);
}

static const char *str(const json_t *stage, const char *key)
{
    const json_t *v = json_object_get(stage, key);
    assert_true(json_is_string(v));
    return json_string_value(v);
}

/* The flags `train` has reach selftrain's stages (the noise and targets the
 * students, the schedule and split both), --teacher.KEY/--student.KEY set any
 * key, the more specific flag wins; and a tiny run with them, plateau included,
 * trains every stage with what was asked. */
static void test_selftrain_stage_flags(void **state)
{
    (void)state;
    assert_int_equal(ns_cli_run("selftrain --temperature 0.5 --drop-path-mode batch --dropout 0.3 --stochastic-depth 0.8 "
                         "--schedule cosine:warmup=1 --augment randaugment:n=1,m=3 --student.label-smoothing 0.1 "
                         "--teacher.epochs 5 --student-dropout 0.25 --student.dropout 0.2 --teacher.optimizer adam "
                         "--teacher.weight-decay 0.01 --val-per-class 3 --print-config"),
                     0);
    json_t *j = json_loads(ns_cli_out, 0, NULL);
    assert_non_null(j);
    const json_t *t = json_object_get(j, "teacher"), *s = json_object_get(j, "student");
    assert_float_equal(num(s, "pseudo_temperature"), 0.5, 1e-6);
    assert_string_equal(str(s, "drop_path_mode"), "batch");
    assert_float_equal(num(s, "dropout"), 0.2, 1e-6); /* --student.KEY over --student-X over --dropout */
    assert_float_equal(num(s, "stochastic_depth"), 0.8, 1e-6);
    assert_string_equal(str(s, "schedule"), "cosine:warmup=1");
    assert_string_equal(str(t, "schedule"), "cosine:warmup=1");
    assert_string_equal(str(s, "augment"), "randaugment:n=1,m=3");
    assert_string_equal(str(t, "augment"), "none");
    assert_float_equal(num(s, "label_smoothing"), 0.1, 1e-6);
    assert_float_equal(num(t, "label_smoothing"), 0.0, 0);
    assert_float_equal(num(t, "epochs"), 5, 0);
    assert_string_equal(str(t, "optimizer"), "adam");
    assert_float_equal(num(t, "weight_decay"), 0.01, 1e-6);
    assert_string_equal(str(s, "optimizer"), "sgd");
    assert_float_equal(num(t, "dropout"), 0.0, 0);
    assert_string_equal(str(t, "drop_path_mode"), "sample");
    assert_float_equal(num(t, "val_per_class"), 3, 0);
    json_decref(j);

    char args[2048], path[1200];
    snprintf(args, sizeof args,
             "selftrain --backend ref --data '%s' --labels-per-class 4 --val-per-class 1 --iterations 1 "
             "--schedule plateau:patience=1 --teacher-model resnet8:width=4 --student-model resnet8:width=4 "
             "--teacher.epochs 2 --student.epochs 1 --batch 4 --augment none --dropout 0.2 --drop-path-mode batch "
             "--temperature 0.7 --teacher.flip 0 --label-tta none --run-dir '%s/st'", data_dir, dir);
    int rc = ns_cli_run("%s", args);
    if (rc != 0)
        print_message("stdout: %s\nstderr: %s\n", ns_cli_out, ns_cli_err);
    assert_int_equal(rc, 0);
    snprintf(path, sizeof path, "%s/st/iter1/student/config.json", dir);
    j = json_load_file(path, 0, NULL);
    assert_non_null(j);
    assert_string_equal(str(j, "schedule"), "plateau:patience=1");
    assert_float_equal(num(j, "val_per_class"), 1, 0);
    assert_float_equal(num(j, "pseudo_temperature"), 0.7, 1e-6);
    assert_string_equal(str(j, "drop_path_mode"), "batch");
    assert_float_equal(num(j, "epochs"), 1, 0);
    assert_int_equal(strlen(str(j, "pseudo_sha256")), 64);
    json_decref(j);
    snprintf(path, sizeof path, "%s/st/teacher/config.json", dir);
    j = json_load_file(path, 0, NULL);
    assert_non_null(j);
    assert_float_equal(num(j, "flip"), 0, 0);
    assert_float_equal(num(j, "epochs"), 2, 0);
    assert_float_equal(num(j, "dropout"), 0, 0);
    json_decref(j);
}

/* selftrain's label_tta: "flip" in the quick preset, set by --label-tta, and what
 * --print-config prints reads back through --config (the function --resume
 * reads selftrain.json with) as the same TTA; a bad value in a file is one
 * line naming the key and the value. */
static void test_selftrain_label_tta_round_trip(void **state)
{
    (void)state;
    assert_int_equal(ns_cli_run("selftrain --print-config"), 0);
    json_t *j = json_loads(ns_cli_out, 0, NULL);
    assert_non_null(j);
    assert_string_equal(str(j, "label_tta"), "flip"); /* the quick preset's */
    json_decref(j);
    const char *specs[] = {"none", "flip+crops"};
    char cfg[1200], args[1400];
    snprintf(cfg, sizeof cfg, "%s/tta-config.json", dir);
    for (int i = 0; i < 2; i++) {
        snprintf(args, sizeof args, "selftrain --label-tta %s --print-config", specs[i]);
        assert_int_equal(ns_cli_run("%s", args), 0);
        j = json_loads(ns_cli_out, 0, NULL);
        assert_non_null(j);
        assert_string_equal(str(j, "label_tta"), specs[i]);
        assert_int_equal(json_dump_file(j, cfg, 0), 0);
        json_decref(j);
        snprintf(args, sizeof args, "selftrain --config '%s' --print-config", cfg);
        assert_int_equal(ns_cli_run("%s", args), 0);
        j = json_loads(ns_cli_out, 0, NULL);
        assert_non_null(j);
        assert_string_equal(str(j, "label_tta"), specs[i]);
        json_decref(j);
    }
    FILE *f = fopen(cfg, "w");
    assert_non_null(f);
    fputs("{\"label_tta\": \"mirror\"}", f);
    fclose(f);
    snprintf(args, sizeof args, "selftrain --config '%s' --print-config", cfg);
    assert_int_not_equal(ns_cli_run("%s", args), 0);
    ns_cli_assert_one_line_error("label_tta mirror: expected none, flip or flip+crops");
    unlink(cfg);

    /* --resume reads label_tta from selftrain.json: the finished tiny run of
     * test_selftrain_stage_flags, copied, its selftrain.json saying flip, stops
     * at its label file made without TTA (exit 2, naming both) rather than
     * reusing it or the student that learned it. */
    char run_dir[1200], cmd[3000];
    snprintf(run_dir, sizeof run_dir, "%s/st_tta", dir);
    snprintf(cmd, sizeof cmd, "rm -rf '%s' && cp -r '%s/st' '%s'", run_dir, dir, run_dir);
    assert_int_equal(system(cmd), 0);
    snprintf(cfg, sizeof cfg, "%s/selftrain.json", run_dir);
    j = json_load_file(cfg, 0, NULL);
    assert_non_null(j);
    assert_string_equal(str(j, "label_tta"), "none");
    assert_int_equal(json_object_set_new(j, "label_tta", json_string("flip")), 0);
    assert_int_equal(json_dump_file(j, cfg, JSON_INDENT(2)), 0);
    json_decref(j);
    snprintf(args, sizeof args, "selftrain --backend ref --resume '%s'", run_dir);
    assert_int_equal(ns_cli_run("%s", args), 2);
    ns_cli_assert_one_line_error("iter1/labels.nspl: labeled with test-time augmentation none, the run's configuration "
                          "says label_tta flip");
    /* iter1 removed as the error advises: the label stage labels with flip,
     * the same bytes as `label --tta flip` of the run's teacher */
    snprintf(cmd, sizeof cmd, "rm -rf '%s/iter1'", run_dir);
    assert_int_equal(system(cmd), 0);
    assert_int_equal(ns_cli_run("%s", args), 0);
    char by_label[1300], by_selftrain[1300];
    snprintf(by_label, sizeof by_label, "%s/flip.nspl", dir);
    snprintf(by_selftrain, sizeof by_selftrain, "%s/iter1/labels.nspl", run_dir);
    snprintf(args, sizeof args, "label --backend ref --model '%s/teacher/model.safetensors' --unlabeled pool "
             "--tta flip --out '%s'", run_dir, by_label);
    assert_int_equal(ns_cli_run("%s", args), 0);
    assert_non_null(strstr(ns_cli_out, "test-time augmentation flip: the mean of 2 views' probabilities"));
    unsigned char *a = NULL, *b = NULL;
    size_t na = 0, nb = 0;
    assert_int_equal(ns_read_file(by_label, 1 << 26, &a, &na), NS_OK);
    assert_int_equal(ns_read_file(by_selftrain, 1 << 26, &b, &nb), NS_OK);
    assert_int_equal(a[4], 4); /* the version that records a TTA */
    assert_int_equal(na, nb);
    assert_memory_equal(a, b, na);
    free(a);
    free(b);
    unlink(by_label);
}

/* train --pseudo records the SHA-256 of the labels it learned (config.json)
 * and a resume on labels that changed since is refused, naming the file. */
static void test_student_resume_refuses_changed_labels(void **state)
{
    (void)state;
    char args[2048], teacher[1100], labels[1100], path[1200];
    snprintf(teacher, sizeof teacher, "%s/pl_teacher", dir);
    snprintf(labels, sizeof labels, "%s/pl.nspl", dir);
    snprintf(args, sizeof args, "train --backend ref --data '%s' --model resnet8:width=4 --epochs 2 --batch 16 "
             "--run-dir '%s'", data_dir, teacher);
    assert_int_equal(ns_cli_run("%s", args), 0);
    snprintf(args, sizeof args, "label --backend ref --model '%s/model.safetensors' --unlabeled '%s' --out '%s'",
             teacher, data_dir, labels);
    assert_int_equal(ns_cli_run("%s", args), 0);
    snprintf(args, sizeof args, "train --backend ref --data '%s' --labels-per-class 4 --model resnet8:width=4 "
             "--epochs 2 --batch 8 --pseudo '%s' --stop-after 1 --run-dir '%s/pl_student'", data_dir, labels, dir);
    int rc = ns_cli_run("%s", args);
    if (rc != 0)
        print_message("stdout: %s\nstderr: %s\n", ns_cli_out, ns_cli_err);
    assert_int_equal(rc, 0);
    snprintf(path, sizeof path, "%s/pl_student/config.json", dir);
    json_t *j = json_load_file(path, 0, NULL);
    assert_non_null(j);
    assert_int_equal(strlen(str(j, "pseudo_sha256")), 64);
    json_decref(j);
    /* other labels under the same name: made by the student's own first-epoch checkpoint */
    snprintf(args, sizeof args, "label --backend ref --model '%s/pl_student/checkpoint.safetensors' --unlabeled '%s' "
             "--out '%s'", dir, data_dir, labels);
    assert_int_equal(ns_cli_run("%s", args), 0);
    snprintf(args, sizeof args, "train --backend ref --resume '%s/pl_student'", dir);
    assert_int_equal(ns_cli_run("%s", args), 2);
    ns_cli_assert_one_line_error("changed since the run started");
    assert_non_null(strstr(ns_cli_err, labels));
}

/* --budget: the quick preset's 14 minutes, a flag's value, none, and the
 * refusals (one line, exit 2); --init and --decay-all reach the config. */
static void test_budget_and_recipe_flags(void **state)
{
    (void)state;
    assert_int_equal(ns_cli_run("selftrain --print-config"), 0);
    json_t *j = json_loads(ns_cli_out, 0, NULL);
    assert_non_null(j);
    assert_float_equal(num(j, "budget_s"), 840, 1e-6);
    assert_float_equal(num(json_object_get(j, "teacher"), "lr"), 0.2, 1e-6);
    assert_string_equal(str(json_object_get(j, "teacher"), "schedule"), "cosine:warmup=5");
    json_decref(j);
    assert_int_equal(ns_cli_run("selftrain --budget 1h30m --student.init teacher --teacher.decay-all 1 --print-config"), 0);
    j = json_loads(ns_cli_out, 0, NULL);
    assert_non_null(j);
    assert_float_equal(num(j, "budget_s"), 5400, 1e-6);
    assert_string_equal(str(json_object_get(j, "student"), "init"), "teacher");
    assert_float_equal(num(json_object_get(j, "teacher"), "decay_all"), 1, 0);
    json_decref(j);
    assert_int_equal(ns_cli_run("selftrain --budget none --print-config"), 0);
    j = json_loads(ns_cli_out, 0, NULL);
    assert_non_null(j);
    assert_float_equal(num(j, "budget_s"), 0, 0);
    json_decref(j);
    assert_int_equal(ns_cli_run("selftrain --budget 15min --print-config"), 2);
    ns_cli_assert_one_line_error("--budget 15min: expected a duration like 900, 900s, 15m, 1.5h or 1h30m");
    assert_int_equal(ns_cli_run("train --budget -3 --epochs 2"), 2);
    ns_cli_assert_one_line_error("--budget -3: expected a duration");
    assert_int_equal(ns_cli_run("selftrain --student.init somewhere.safetensors --print-config"), 2);
    ns_cli_assert_one_line_error("--student.init somewhere.safetensors: expected teacher");
    assert_int_equal(ns_cli_run("selftrain --student.init teacher --grow 'resnet8|resnet20' --iterations 2 --print-config"), 2);
    ns_cli_assert_one_line_error("cannot start from the weights of resnet8");

    /* The teacher's share of a budget: a quarter unless told, set by
     * --teacher-share, read back through --config (what --resume reads),
     * a share of 0 or the whole budget refused on the flag and in a file. */
    assert_int_equal(ns_cli_run("selftrain --print-config"), 0);
    j = json_loads(ns_cli_out, 0, NULL);
    assert_non_null(j);
    assert_float_equal(num(j, "teacher_share"), 0.25, 1e-9);
    json_decref(j);
    assert_int_equal(ns_cli_run("selftrain --teacher-share 0.6 --print-config"), 0);
    j = json_loads(ns_cli_out, 0, NULL);
    assert_non_null(j);
    assert_float_equal(num(j, "teacher_share"), 0.6, 1e-6);
    char cfg[1200];
    snprintf(cfg, sizeof cfg, "%s/share-config.json", dir);
    assert_int_equal(json_dump_file(j, cfg, 0), 0);
    json_decref(j);
    assert_int_equal(ns_cli_run("selftrain --config '%s' --print-config", cfg), 0);
    j = json_loads(ns_cli_out, 0, NULL);
    assert_non_null(j);
    assert_float_equal(num(j, "teacher_share"), 0.6, 1e-6);
    json_decref(j);
    assert_int_equal(ns_cli_run("selftrain --teacher-share 1 --print-config"), 2);
    ns_cli_assert_one_line_error("selftrain --teacher-share 1: expected a value from 0.01 to 0.99");
    FILE *f = fopen(cfg, "w");
    assert_non_null(f);
    fputs("{\"teacher_share\": 0}", f);
    fclose(f);
    assert_int_not_equal(ns_cli_run("selftrain --config '%s' --print-config", cfg), 0);
    ns_cli_assert_one_line_error("teacher_share: expected a fraction of the budget above 0 and below 1");
    unlink(cfg);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_usage_errors_exit_2),
        cmocka_unit_test(test_failures_exit_1),
        cmocka_unit_test(test_plugins_lists_ref),
        cmocka_unit_test(test_train_then_eval),
        cmocka_unit_test(test_bad_configuration_leaves_nothing),
        cmocka_unit_test(test_selftrain_stage_flags),
        cmocka_unit_test(test_selftrain_label_tta_round_trip),
        cmocka_unit_test(test_student_resume_refuses_changed_labels),
        cmocka_unit_test(test_budget_and_recipe_flags),
    };
    return cmocka_run_group_tests(tests, setup, NULL);
}
