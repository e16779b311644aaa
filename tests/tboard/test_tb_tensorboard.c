/* Whole training runs read back by TensorBoard's own reader
 * (check_events.py: EventAccumulator), against metrics.jsonl and
 * config.json: a noised teacher (scalars, config text, augmentation
 * preview), a student (pseudo-label accuracy, the pseudo-label grid), and a
 * paused-and-resumed run (two files that read as one run). Skips when no
 * python with tensorboard is found (NS_TEST_PYTHON, else the repository's
 * .venv made by `tools/setup.sh test`). */
#include <math.h>
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

#include "data/source.h"
#include "ns_test_ref.h"
#include "report/tb_run.h"
#include "synthetic_data.h"
#include "train/trainer.h"
#include "util/error.h"

static char data_dir[1024];
static char python[1024];
static int have_tensorboard;

static int setup(void **state)
{
    ns_backend *be = NULL;
    *state = NULL;
    const char *env = getenv("NS_TEST_PYTHON");
    snprintf(python, sizeof python, "%s", env && *env ? env : NS_TEST_PYTHON_DEFAULT);
    char cmd[1200];
    snprintf(cmd, sizeof cmd, "'%s' -c 'import tensorboard.backend.event_processing.event_accumulator, PIL' "
             ">/dev/null 2>&1", python);
    have_tensorboard = access(python, X_OK) == 0 && system(cmd) == 0;
    if (!have_tensorboard)
        return 0; /* each test skips, saying why */
    if (ns_test_require_ref(&be) != 0)
        return -1;
    ns_test_fresh_dir("tboard_data", data_dir, sizeof data_dir);
    if (ns_test_write_synthetic(data_dir, 64, 8, 5) != 0) /* 256 training images: 16 steps of 16 */
        return -1;
    *state = be;
    return 0;
}

static int teardown(void **state)
{
    ns_backend_close(*state);
    return 0;
}

static void need_tensorboard(void)
{
    if (!have_tensorboard) {
        print_message("SKIP: no python with tensorboard and PIL at %s (set NS_TEST_PYTHON, or run "
                      "`bash tools/setup.sh test` to make .venv)\n", python);
        skip();
    }
}

static ns_train_config tiny(const char *name)
{
    ns_train_config c = ns_train_config_default();
    snprintf(c.data, sizeof c.data, "%s", data_dir);
    snprintf(c.model, sizeof c.model, "resnet8:width=4");
    snprintf(c.schedule, sizeof c.schedule, "constant");
    c.epochs = 3;
    c.batch = 16;
    c.lr = 0.05f;
    c.pad_crop = 0;
    c.flip = 0;
    c.eval_every = 2; /* test_acc on epochs 2 and 3 only: a tag with fewer points */
    c.loader_threads = 1;
    ns_test_fresh_dir(name, c.run_dir, sizeof c.run_dir);
    return c;
}

/* Runs check_events.py on run_dir with `args`; fails the test with its output otherwise. */
static void check_events(const char *run_dir, const char *args)
{
    char cmd[4096], out[8192] = "";
    snprintf(cmd, sizeof cmd, "'%s' '%s' '%s' %s 2>&1", python, NS_CHECK_EVENTS, run_dir, args);
    FILE *p = popen(cmd, "r");
    assert_non_null(p);
    size_t n = fread(out, 1, sizeof out - 1, p);
    out[n] = '\0';
    int rc = pclose(p);
    print_message("%s", out);
    if (rc != 0)
        fail_msg("check_events.py %s %s failed (status %d)", run_dir, args, rc);
}

static void test_teacher_run(void **state)
{
    need_tensorboard();
    ns_train_config c = tiny("tboard_teacher");
    snprintf(c.augment, sizeof c.augment, "randaugment:n=1,m=5");
    ns_train_result res;
    if (ns_train(&c, *state, 0, NULL, NULL, &res) != NS_OK)
        fail_msg("ns_train: %s", ns_last_error());
    char args[2048];
    /* 16 steps an epoch: a step point every 2 steps. */
    snprintf(args, sizeof args, "--every 2 --files 1 --image augment/preview=file:%s/tb/augment_preview.png",
             c.run_dir);
    check_events(c.run_dir, args);
}

static void test_student_run(void **state)
{
    need_tensorboard();
    ns_dataset d;
    assert_int_equal(ns_dataset_open(data_dir, 1, &d), NS_OK);
    enum { COUNT = 64 };
    uint32_t ids[COUNT];
    float targets[COUNT * 4];
    int32_t truth[COUNT];
    memset(targets, 0, sizeof targets);
    for (int i = 0; i < COUNT; i++) {
        ids[i] = (uint32_t)(i * 3 % (int)d.n);
        int k = truth[i] = d.labels[ids[i]];
        if (i % 4 == 3)
            k = (k + 1) % 4; /* a quarter of the pseudo-labels wrong */
        targets[i * 4 + k] = 0.5f + 0.005f * (float)i; /* distinct confidences */
        targets[i * 4 + (k + 2) % 4] = 1.0f - targets[i * 4 + k];
    }
    json_t *summary = json_pack("{s:{s:f}}", "total", "accuracy", 0.75);
    ns_pseudo_set p = {&d, ids, targets, COUNT, 4, summary, NULL, truth};
    ns_train_config c = tiny("tboard_student");
    snprintf(c.pseudo, sizeof c.pseudo, "%s/made-by-the-test.nspl", data_dir);
    c.unlabeled_ratio = 1.0f; /* 64 pseudo images / 16 per step: 4 steps an epoch, a point every step */
    ns_train_result res;
    ns_status st = ns_train(&c, *state, 0, &p, NULL, &res);
    json_decref(summary);
    ns_dataset_free(&d);
    if (st != NS_OK)
        fail_msg("ns_train: %s", ns_last_error());
    int scale, w, h;
    ns_tb_grid_geometry(8, 8, 4, &scale, &w, &h);
    char args[512];
    snprintf(args, sizeof args, "--every 1 --files 1 --pseudo-acc 0.75 --image pseudo_labels/most_confident=%dx%d "
             "--red-in pseudo_labels/most_confident",
             w, h);
    check_events(c.run_dir, args);
}

static void test_paused_and_resumed_run(void **state)
{
    need_tensorboard();
    ns_train_config c = tiny("tboard_resume");
    snprintf(c.augment, sizeof c.augment, "randaugment:n=1,m=5");
    c.stop_after_epoch = 1;
    ns_train_result res;
    if (ns_train(&c, *state, 0, NULL, NULL, &res) != NS_OK)
        fail_msg("ns_train: %s", ns_last_error());
    assert_true(res.paused);
    c.stop_after_epoch = 0;
    if (ns_train(&c, *state, 1, NULL, NULL, &res) != NS_OK)
        fail_msg("ns_train --resume: %s", ns_last_error());
    assert_int_equal(res.epochs_run, 3);
    /* The picture once, from the first file; the config text in both. */
    char args[2048];
    snprintf(args, sizeof args, "--every 2 --files 2 --image augment/preview=file:%s/tb/augment_preview.png",
             c.run_dir);
    check_events(c.run_dir, args);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_teacher_run),
        cmocka_unit_test(test_student_run),
        cmocka_unit_test(test_paused_and_resumed_run),
    };
    return cmocka_run_group_tests(tests, setup, teardown);
}
