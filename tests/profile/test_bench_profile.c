/* `noisystudent bench --profile` as a user runs it, on ref with a tiny model:
 * a training table and a separate inference table (statistics reset between),
 * the normal output untouched without the flag, --mode honoured, and
 * --profile with --check refused as a usage error. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>

#include <cmocka.h>

static char out_text[65536];

/* Runs `noisystudent bench <args>` on a tiny resnet8; stdout (and stderr)
 * into out_text; returns the exit status. */
static int bench(const char *args)
{
    char cmd[2048];
    snprintf(cmd, sizeof cmd,
             "'%s' bench --backend ref --model resnet8:width=4 --input 3x8x8 --batch 2 "
             "--classes 3 --steps 2 --warmup 1 --threads 1 %s 2>&1 </dev/null",
             NS_CLI_PATH, args);
    FILE *p = popen(cmd, "r");
    assert_non_null(p);
    size_t n = fread(out_text, 1, sizeof out_text - 1, p);
    out_text[n] = '\0';
    int rc = pclose(p);
    return WIFEXITED(rc) ? WEXITSTATUS(rc) : -1;
}

static int count(const char *text, const char *needle)
{
    int n = 0;
    for (const char *s = strstr(text, needle); s; s = strstr(s + 1, needle))
        n++;
    return n;
}

static void test_training_and_inference_tables(void **state)
{
    (void)state;
    assert_int_equal(bench("--profile"), 0);
    printf("%s", out_text);
    const char *train = strstr(out_text, "profile: training step on ref, 2 steps");
    const char *infer = strstr(out_text, "profile: inference forward on ref, 2 steps");
    assert_non_null(train);
    assert_non_null(infer);
    assert_true(train < infer);
    assert_true(strstr(out_text, "infer ") < train); /* after the normal timed run */
    assert_int_equal(count(out_text, "all ops"), 2);
    assert_int_equal(count(out_text, "op                            calls"), 2);
    /* training ops only in the first table: the statistics were reset between */
    assert_non_null(strstr(train, "conv2d_backward_filter"));
    assert_non_null(strstr(train, "sgd_update"));
    assert_true(strstr(train, "sgd_update") < infer);
    assert_null(strstr(infer, "sgd_update"));
    assert_null(strstr(infer, "batchnorm_forward_train"));
    assert_non_null(strstr(infer, "dense_forward"));
    /* bench runs train's step: the NaN/Inf guard is one fused count per step
     * (not a reduce per parameter), then the optimizer's update */
    const char *guard = strstr(train, "count_nonfinite");
    assert_non_null(guard);
    assert_true(guard < infer);
    unsigned calls = 0;
    assert_int_equal(sscanf(guard, "count_nonfinite %u", &calls), 1);
    assert_int_equal(calls, 2);
    const char *reduce = strstr(train, "\nreduce ");
    assert_true(reduce == NULL || reduce > infer);
}

static void test_without_flag_nothing_changes(void **state)
{
    (void)state;
    assert_int_equal(bench(""), 0);
    assert_null(strstr(out_text, "profile"));
    assert_null(strstr(out_text, "all ops"));
    assert_non_null(strstr(out_text, "train "));
    assert_non_null(strstr(out_text, "infer "));
}

static void test_mode_train_profiles_training_only(void **state)
{
    (void)state;
    assert_int_equal(bench("--mode train --profile"), 0);
    assert_non_null(strstr(out_text, "profile: training step on ref"));
    assert_null(strstr(out_text, "profile: inference forward"));
    assert_int_equal(count(out_text, "all ops"), 1);
}

static void test_profile_with_check_is_a_usage_error(void **state)
{
    (void)state;
    assert_int_equal(bench("--profile --check ref"), 2);
    assert_non_null(strstr(out_text, "--profile"));
    assert_null(strstr(out_text, "all ops"));
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_training_and_inference_tables),
        cmocka_unit_test(test_without_flag_nothing_changes),
        cmocka_unit_test(test_mode_train_profiles_training_only),
        cmocka_unit_test(test_profile_with_check_is_a_usage_error),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
