/* The Noisy Student loop end to end on a small synthetic task (ref backend):
 * the student beats its teacher, and a run paused inside the teacher stage,
 * inside the student stage and between stages ends bit-identical to an
 * uninterrupted one. */
#include <math.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "nn/model_spec.h"
#include "train/checkpoint.h"

#include "plugin/backend_loader.h"
#include "selftrain/selftrain.h"
#include "ns_test_ref.h"
#include "synthetic_data.h"
#include "util/error.h"

static char data_dir[1024];

static int setup(void **state)
{
    ns_backend *be = NULL;
    *state = NULL;
    if (ns_test_require_ref(&be) != 0)
        return -1; /* ref is always built: its absence fails the suite */
    ns_test_fresh_dir("selftrain_data", data_dir, sizeof data_dir);
    if (ns_test_write_synthetic_hard(data_dir, 100, 100, 23, 80, 160) != 0)
        return -1;
    *state = be;
    return 0;
}

static int teardown(void **state)
{
    ns_backend_close(*state);
    return 0;
}

/* fresh: empty the run directory first. */
static ns_selftrain_config tiny(const char *name, int fresh)
{
    ns_selftrain_config c;
    assert_int_equal(ns_selftrain_preset("quick", &c), NS_OK);
    ns_train_config *t = &c.teacher, *s = &c.student;
    snprintf(t->data, sizeof t->data, "%s", data_dir);
    t->labels_per_class = 3;
    snprintf(t->model, sizeof t->model, "resnet8:width=4");
    snprintf(s->model, sizeof s->model, "resnet8:width=4");
    t->epochs = 8;
    s->epochs = 3;
    t->batch = s->batch = 4;
    t->lr = s->lr = 0.05f;
    t->flip = s->flip = 0; /* a flip moves the quadrant that defines the class */
    t->pad_crop = s->pad_crop = 0;
    t->loader_threads = s->loader_threads = 1;
    snprintf(s->augment, sizeof s->augment, "none");
    s->noise.dropout = 0.1f;
    s->unlabeled_ratio = 4.0f;
    s->pseudo_per_class = 0;
    c.iterations = 1; /* tests that want more say so; the preset's count is not theirs */
    char dir[1024];
    if (fresh)
        ns_test_fresh_dir(name, dir, sizeof dir);
    else
        snprintf(dir, sizeof dir, "%s/%s", getenv("NS_TEST_TMP") ? getenv("NS_TEST_TMP") : "/tmp", name);
    snprintf(c.run_dir, sizeof c.run_dir, "%s", dir);
    return c;
}


static void test_student_beats_teacher(void **state)
{
    ns_backend *be = *state;
    ns_selftrain_config c = tiny("selftrain_whole", 1);
    ns_selftrain_result r;
    assert_int_equal(ns_selftrain(&c, be, 0, NULL, &r), NS_OK);
    assert_true(r.done);
    print_message("teacher %.4f -> student %.4f\n", r.teacher_acc, r.student_acc[0]);
    assert_true(r.student_acc[0] >= r.teacher_acc + 0.05);
    /* the report says how right the labels the student learned were */
    char path[1200];
    snprintf(path, sizeof path, "%s/report.json", c.run_dir);
    json_t *rep = json_load_file(path, 0, NULL);
    assert_non_null(rep);
    json_t *acc = json_array_get(json_object_get(rep, "student_pseudo_label_acc"), 0);
    assert_true(json_is_number(acc));
    print_message("its pseudo-labels: %.4f correct\n", json_number_value(acc));
    assert_true(json_number_value(acc) > 0.0 && json_number_value(acc) <= 1.0);
    json_decref(rep);
}

static void assert_same_student_of(const ns_selftrain_config *x, const ns_selftrain_config *y, int iter)
{
    char a[1200], b[1200];
    snprintf(a, sizeof a, "%s/iter%d/student/model.safetensors", x->run_dir, iter);
    snprintf(b, sizeof b, "%s/iter%d/student/model.safetensors", y->run_dir, iter);
    assert_true(ns_test_same_weights(a, b));
}

static void assert_same_student(const ns_selftrain_config *x, const ns_selftrain_config *y)
{
    assert_same_student_of(x, y, 1);
}

static void test_paused_in_each_training_stage_is_exact(void **state)
{
    ns_backend *be = *state;
    ns_selftrain_config whole = tiny("selftrain_whole", 0); /* written by the test above */
    ns_selftrain_config c = tiny("selftrain_paused", 1);
    ns_selftrain_result r;
    c.teacher.stop_after_epoch = 3; /* inside the teacher stage */
    assert_int_equal(ns_selftrain(&c, be, 0, NULL, &r), NS_OK);
    assert_false(r.done);
    assert_int_equal(ns_selftrain(&c, be, 0, NULL, &r), NS_ERR_USAGE); /* not twice from scratch */
    c.teacher.stop_after_epoch = 0;
    c.student.stop_after_epoch = 1; /* inside the student stage */
    assert_int_equal(ns_selftrain(&c, be, 1, NULL, &r), NS_OK);
    assert_false(r.done);
    c.student.stop_after_epoch = 0;
    assert_int_equal(ns_selftrain(&c, be, 1, NULL, &r), NS_OK);
    assert_true(r.done);
    assert_same_student(&whole, &c);
}

static void test_interrupted_while_labeling_is_exact(void **state)
{
    ns_backend *be = *state;
    ns_selftrain_config whole = tiny("selftrain_whole", 0);
    ns_selftrain_config c = tiny("selftrain_relabel", 1);
    ns_selftrain_result r;
    assert_int_equal(ns_selftrain(&c, be, 0, NULL, &r), NS_OK);
    /* As if killed while labeling: no label file (it is written atomically), no student yet. */
    char cmd[1200];
    snprintf(cmd, sizeof cmd, "rm -rf '%s/iter1/labels.nspl' '%s/iter1/student'", c.run_dir, c.run_dir);
    assert_int_equal(system(cmd), 0);
    assert_int_equal(ns_selftrain(&c, be, 1, NULL, &r), NS_OK);
    assert_true(r.done);
    assert_same_student(&whole, &c);
}

/* A copy of a finished run, resumed: with its own configuration it is done at
 * once (and the temp file a crash left is cleaned up); with a teacher of
 * another recipe or another unlabeled pool it is refused, naming what differs,
 * rather than reusing stages that the configuration did not make. */
static void test_reused_stages_must_match(void **state)
{
    ns_backend *be = *state;
    ns_selftrain_config whole = tiny("selftrain_whole", 0);
    ns_selftrain_config c = tiny("selftrain_copied", 1);
    char cmd[3000], stale[1200];
    snprintf(cmd, sizeof cmd, "cp -r '%s'/. '%s'/", whole.run_dir, c.run_dir);
    assert_int_equal(system(cmd), 0);
    snprintf(stale, sizeof stale, "%s/iter1/labels.nspl.tmp.999999999", c.run_dir);
    FILE *f = fopen(stale, "wb");
    assert_non_null(f);
    fclose(f);
    ns_selftrain_result r;
    assert_int_equal(ns_selftrain(&c, be, 1, NULL, &r), NS_OK);
    assert_true(r.done);
    f = fopen(stale, "rb");
    assert_null(f);

    ns_selftrain_config other = c;
    other.teacher.epochs = c.teacher.epochs + 1;
    assert_int_equal(ns_selftrain(&other, be, 1, NULL, &r), NS_ERR_USAGE);
    print_message("%s\n", ns_last_error());
    assert_non_null(strstr(ns_last_error(), "teacher/config.json"));
    assert_non_null(strstr(ns_last_error(), "epochs = 8"));
    other = c;
    other.student.noise.dropout = 0.2f;
    assert_int_equal(ns_selftrain(&other, be, 1, NULL, &r), NS_ERR_USAGE);
    assert_non_null(strstr(ns_last_error(), "student/config.json"));
    assert_non_null(strstr(ns_last_error(), "dropout"));
    other = c;
    snprintf(other.unlabeled, sizeof other.unlabeled, "%s", data_dir);
    assert_int_equal(ns_selftrain(&other, be, 1, NULL, &r), NS_ERR_USAGE);
    print_message("%s\n", ns_last_error());
    assert_non_null(strstr(ns_last_error(), "labels of 'pool'"));
}

/* Two iterations growing the student (the quick preset runs two): the second
 * student is the grown model, learns from the first student's labels, and a
 * run paused inside each student stage ends with the same second student. */
static void test_two_iterations_grow_and_resume(void **state)
{
    ns_backend *be = *state;
    ns_selftrain_config whole = tiny("selftrain_iter2_whole", 1);
    whole.iterations = 2;
    snprintf(whole.grow, sizeof whole.grow, "resnet8:width=4|resnet8:width=6");
    ns_selftrain_result r;
    assert_int_equal(ns_selftrain(&whole, be, 0, NULL, &r), NS_OK);
    assert_true(r.done);
    assert_int_equal(r.iterations_done, 2);
    print_message("teacher %.4f -> students %.4f, %.4f\n", r.teacher_acc, r.student_acc[0], r.student_acc[1]);
    char path[1200];
    ns_ckpt_info info;
    snprintf(path, sizeof path, "%s/iter2/student/model.safetensors", whole.run_dir);
    assert_int_equal(ns_checkpoint_read_info(path, &info), NS_OK);
    ns_model_spec got, grown;
    assert_int_equal(ns_model_spec_parse(info.model, &got), NS_OK);
    assert_int_equal(ns_model_spec_parse("resnet8:width=6", &grown), NS_OK);
    assert_true(ns_model_spec_equal(&got, &grown));
    snprintf(path, sizeof path, "%s/iter2/labels.nspl", whole.run_dir);
    FILE *f = fopen(path, "rb");
    assert_non_null(f); /* labeled again, by the first student */
    fclose(f);

    ns_selftrain_config c = tiny("selftrain_iter2_paused", 1);
    c.iterations = 2;
    snprintf(c.grow, sizeof c.grow, "%s", whole.grow);
    c.student.stop_after_epoch = 2; /* pauses once inside each student stage */
    assert_int_equal(ns_selftrain(&c, be, 0, NULL, &r), NS_OK);
    assert_false(r.done);
    assert_int_equal(ns_selftrain(&c, be, 1, NULL, &r), NS_OK);
    assert_false(r.done);
    assert_int_equal(ns_selftrain(&c, be, 1, NULL, &r), NS_OK);
    assert_true(r.done);
    assert_same_student_of(&whole, &c, 1);
    assert_same_student_of(&whole, &c, 2);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_student_beats_teacher),
        cmocka_unit_test(test_paused_in_each_training_stage_is_exact),
        cmocka_unit_test(test_interrupted_while_labeling_is_exact),
        cmocka_unit_test(test_reused_stages_must_match),
        cmocka_unit_test(test_two_iterations_grow_and_resume),
    };
    return cmocka_run_group_tests(tests, setup, teardown);
}
