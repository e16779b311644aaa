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

#include "plugin/backend_loader.h"
#include "selftrain/selftrain.h"
#include "synthetic_data.h"
#include "util/error.h"

static char data_dir[1024];

static int setup(void **state)
{
    ns_backend *be = NULL;
    *state = NULL;
    if (ns_backend_open("ref", NULL, &be) != NS_OK) {
        print_message("ref backend unavailable: %s\n", ns_last_error());
        return 0;
    }
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
    if (!be)
        skip();
    ns_selftrain_config c = tiny("selftrain_whole", 1);
    ns_selftrain_result r;
    assert_int_equal(ns_selftrain(&c, be, 0, NULL, &r), NS_OK);
    assert_true(r.done);
    print_message("teacher %.4f -> student %.4f\n", r.teacher_acc, r.student_acc[0]);
    assert_true(r.student_acc[0] >= r.teacher_acc + 0.05);
}

static void assert_same_student(const ns_selftrain_config *x, const ns_selftrain_config *y)
{
    char a[1200], b[1200];
    snprintf(a, sizeof a, "%s/iter1/student/model.safetensors", x->run_dir);
    snprintf(b, sizeof b, "%s/iter1/student/model.safetensors", y->run_dir);
    assert_true(ns_test_same_weights(a, b));
}

static void test_paused_in_each_training_stage_is_exact(void **state)
{
    ns_backend *be = *state;
    if (!be)
        skip();
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
    if (!be)
        skip();
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

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_student_beats_teacher),
        cmocka_unit_test(test_paused_in_each_training_stage_is_exact),
        cmocka_unit_test(test_interrupted_while_labeling_is_exact),
    };
    return cmocka_run_group_tests(tests, setup, teardown);
}
