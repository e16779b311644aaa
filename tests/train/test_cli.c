/* The command line as a user meets it: exit status 2 for usage errors, 1 for
 * failures, one line on stderr naming the flag or file, and a small train ->
 * eval round trip that works. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>

#include <cmocka.h>

#include "synthetic_data.h"

static char dir[1024], data_dir[1100], out_path[1100], err_path[1100];
static char out_text[65536], err_text[65536];

static void slurp(const char *path, char *buf, size_t len)
{
    FILE *f = fopen(path, "rb");
    size_t n = f ? fread(buf, 1, len - 1, f) : 0;
    buf[n] = '\0';
    if (f)
        fclose(f);
}

/* Runs the CLI with `args`; returns its exit status. */
static int run(const char *args)
{
    char cmd[4096];
    snprintf(cmd, sizeof cmd, "'%s' %s >'%s' 2>'%s' </dev/null", NS_CLI_PATH, args, out_path, err_path);
    int rc = system(cmd);
    slurp(out_path, out_text, sizeof out_text);
    slurp(err_path, err_text, sizeof err_text);
    return WIFEXITED(rc) ? WEXITSTATUS(rc) : -1;
}

/* stderr is exactly one line that contains `needle`. */
static void assert_one_line_error(const char *needle)
{
    size_t len = strlen(err_text);
    if (!strstr(err_text, needle))
        print_message("stderr was: %s\n", err_text);
    assert_non_null(strstr(err_text, needle));
    assert_true(len > 0 && err_text[len - 1] == '\n');
    assert_null(memchr(err_text, '\n', len - 1));
    assert_non_null(strstr(err_text, "noisystudent: "));
}

static int setup(void **state)
{
    (void)state;
    ns_test_fresh_dir("cli", dir, sizeof dir);
    snprintf(data_dir, sizeof data_dir, "%s/data", dir);
    snprintf(out_path, sizeof out_path, "%s/out.txt", dir);
    snprintf(err_path, sizeof err_path, "%s/err.txt", dir);
    return ns_test_write_synthetic(data_dir, 16, 8, 5);
}

static void test_usage_errors_exit_2(void **state)
{
    (void)state;
    assert_int_equal(run("frobnicate"), 2);
    assert_one_line_error("unknown command 'frobnicate'");
    assert_int_equal(run("train --bogus"), 2);
    assert_one_line_error("unknown option --bogus");
    assert_int_equal(run("train --epochs abc"), 2);
    assert_one_line_error("--epochs abc: expected an integer");
    assert_int_equal(run("train --epochs 0"), 2);
    assert_one_line_error("--epochs 0");
    assert_int_equal(run("train --lr"), 2);
    assert_one_line_error("--lr: expected LR after it");
    assert_int_equal(run("train --model resnet9"), 2);
    assert_one_line_error("resnet9");
    assert_int_equal(run("train --resume /nonexistent --epochs 3"), 2);
    assert_one_line_error("keeps its own configuration");
    assert_int_equal(run("eval"), 2);
    assert_one_line_error("--model PATH is required");
    assert_int_equal(run("train --precision fp8"), 2);
    assert_one_line_error("--precision fp8: expected fp32, bf16, fp16 or auto");
    assert_int_equal(run("selftrain --preset huge"), 2);
    assert_one_line_error("--preset huge: expected quick or full");
    assert_int_equal(run("selftrain --resume /nonexistent --student-epochs 3"), 2);
    assert_one_line_error("keeps its own configuration");
    assert_int_equal(run("train --unlabeled-ratio 0"), 2);
    assert_one_line_error("--unlabeled-ratio 0");
    assert_int_equal(run("train --augment randaugment:n=2,bogus_key"), 2);
    assert_one_line_error("bogus_key");
}

static void test_failures_exit_1(void **state)
{
    (void)state;
    char args[2048];
    assert_int_equal(run("train --backend nosuch --epochs 1"), 1);
    assert_one_line_error("backend 'nosuch' not found");
    assert_non_null(strstr(err_text, "ns_backend_nosuch.so in "));

    snprintf(args, sizeof args, "train --backend ref --data /nonexistent/data --run-dir '%s/r0'", dir);
    assert_int_equal(run(args), 1);
    assert_one_line_error("/nonexistent/data");

    /* A truncated image file. */
    char bad_dir[1200], cmd[4096];
    snprintf(bad_dir, sizeof bad_dir, "%s/bad", dir);
    snprintf(cmd, sizeof cmd, "cp -r '%s' '%s' && truncate -s 100 '%s/train-images-idx3-ubyte'", data_dir, bad_dir,
             bad_dir);
    assert_int_equal(system(cmd), 0);
    snprintf(args, sizeof args, "train --backend ref --data '%s' --run-dir '%s/r1'", bad_dir, dir);
    assert_int_equal(run(args), 1);
    assert_one_line_error("train-images-idx3-ubyte");

    snprintf(args, sizeof args, "eval --backend ref --model '%s/train-labels-idx1-ubyte'", data_dir);
    assert_int_equal(run(args), 1);
    assert_one_line_error("train-labels-idx1-ubyte");
}

static void test_plugins_lists_ref(void **state)
{
    (void)state;
    assert_int_equal(run("plugins"), 0);
    /* ref is built with every tree: a listing without it is a failure */
    assert_non_null(strstr(out_text, "ref"));
    assert_non_null(strstr(out_text, "backend"));
    assert_non_null(strstr(out_text, "usable"));
}

static void test_train_then_eval(void **state)
{
    (void)state;
    char args[2048];
    snprintf(args, sizeof args,
             "train --backend ref --data '%s' --model resnet8:width=4 --epochs 2 --batch 16 --no-flip "
             "--run-dir '%s/run'", data_dir, dir);
    int rc = run(args);
    if (rc != 0)
        print_message("stdout: %s\nstderr: %s\n", out_text, err_text);
    assert_int_equal(rc, 0);
    assert_non_null(strstr(out_text, "epoch   2/2"));
    assert_non_null(strstr(out_text, "test accuracy"));
    /* The same run directory is not silently overwritten. */
    assert_int_equal(run(args), 2);
    assert_one_line_error("already holds a run");

    /* --precision auto: ref has no bf16, so it falls back to fp32 (and says which it ran). */
    snprintf(args, sizeof args, "eval --backend ref --precision auto --data '%s' --model '%s/run/model.safetensors'",
             data_dir, dir);
    assert_int_equal(run(args), 0);
    assert_non_null(strstr(out_text, "accuracy"));
    assert_int_equal(run("bench --backend ref --precision auto --model resnet8:width=4 --input 1x8x8 --batch 2 "
                         "--steps 1 --warmup 0"),
                     0);
    assert_non_null(strstr(out_text, "precision fp32"));

    snprintf(args, sizeof args, "eval --backend ref --data '%s' --model '%s/run/model.safetensors'", data_dir, dir);
    assert_int_equal(run(args), 0);
    assert_non_null(strstr(out_text, "accuracy"));
    assert_non_null(strstr(out_text, "confusion matrix"));
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_usage_errors_exit_2),
        cmocka_unit_test(test_failures_exit_1),
        cmocka_unit_test(test_plugins_lists_ref),
        cmocka_unit_test(test_train_then_eval),
    };
    return cmocka_run_group_tests(tests, setup, NULL);
}
