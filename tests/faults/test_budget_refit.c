/* A budget's refit sees the whole first epoch, not only its steps.
 *
 * The first fit of a budgeted run times its first steps; the refit at the
 * end of the first epoch replaces that with the epoch's whole time, because
 * an epoch also evaluates, writes metrics, a report and a checkpoint, which
 * the steps cannot show (and a run of tiny epochs is mostly that). Here the
 * first epoch is made slow after its steps on purpose: the CLI stops itself
 * at the fault point after epoch 1's metrics (NS_FAULT_ACTION=stop) and this
 * test holds it for HOLD_S seconds before SIGCONT. The steps say hundreds of
 * epochs fit the budget; an epoch that takes HOLD_S says at most a few. Only
 * the refit can tell the two apart, so without it the run would train on
 * for about the whole budget after the hold and this test would see a fit of
 * tens of epochs. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <cmocka.h>
#include <jansson.h>

#include "faults_util.h"
#include "synthetic_data.h"

#define HOLD_S 3
#define BUDGET "8s"

static char root[1024], data[1200], run[1200];

static int setup(void **state)
{
    (void)state;
    ns_test_fresh_dir("faults_budget_refit", root, sizeof root);
    snprintf(data, sizeof data, "%s/data", root);
    snprintf(run, sizeof run, "%s/run", root);
    return ns_test_write_synthetic(data, 32, 16, 3);
}

static void hold(void *user)
{
    (void)user;
    sleep(HOLD_S);
}

static void test_refit_counts_the_whole_first_epoch(void **state)
{
    (void)state;
    char log[1300], err[1300];
    snprintf(log, sizeof log, "%s/train.log", root);
    snprintf(err, sizeof err, "%s/train.err", root);
    char *argv[] = {NS_CLI_PATH, "train", "--backend", "ref", "--threads", "1", "--data", data, "--model",
                    "resnet8:width=4", "--batch", "16", "--lr", "0.05", "--no-flip", "--no-pad-crop", "--epochs",
                    "3000", "--budget", BUDGET, "--run-dir", run, NULL};
    const char *env[] = {"NS_FAULT_KILL_AT=1", "NS_FAULT_KILL_MATCH=train:metrics-written", "NS_FAULT_ACTION=stop",
                         NULL};
    fx_exit e = fx_run_ex(argv, env, log, err, hold, NULL);
    char *out = fx_slurp(log, NULL);
    if (e.code != 0)
        fail_msg("exit %d (signal %d); stderr:\n%s", e.code, e.signal, fx_slurp(err, NULL));
    assert_non_null(out);
    /* Two fits were announced: the steps' (after epoch 1's steps, many
     * epochs) and the refit's (a few); config.json keeps the last. */
    char path[1300];
    snprintf(path, sizeof path, "%s/config.json", run);
    json_t *j = json_load_file(path, 0, NULL);
    assert_non_null(j);
    const int epochs = (int)json_integer_value(json_object_get(j, "epochs"));
    assert_int_equal(json_integer_value(json_object_get(j, "budget_fitted")), 1);
    json_decref(j);
    print_message("fitted %d epochs after a first epoch held %d s (budget %s)\n", epochs, HOLD_S, BUDGET);
    /* Epoch 1 took more than HOLD_S: at most (8 - 3) / 3 + 1 = 2 fit; 3 allows
     * for the hold's rounding. The steps alone (8 of a few ms each) fit hundreds. */
    if (epochs < 1 || epochs > 3)
        fail_msg("fitted %d epochs; output:\n%s", epochs, out);
    snprintf(path, sizeof path, "%s/metrics.jsonl", run);
    assert_int_equal(fx_count_lines(path), epochs);
    free(out);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_refit_counts_the_whole_first_epoch),
    };
    return cmocka_run_group_tests(tests, setup, NULL);
}
