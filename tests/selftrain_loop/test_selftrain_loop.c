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
#include <unistd.h>

#include <cmocka.h>

#include "nn/model_spec.h"
#include "train/checkpoint.h"

#include "plugin/backend_loader.h"
#include "selftrain/label_file.h"
#include "selftrain/pseudo_set.h"
#include "selftrain/selftrain.h"
#include "ns_test_ref.h"
#include "util/digest.h"
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
    snprintf(t->schedule, sizeof t->schedule, "cosine"); /* the tests' tiny runs, not the preset's warm-up */
    snprintf(s->schedule, sizeof s->schedule, "cosine");
    t->flip = s->flip = 0; /* a flip moves the quadrant that defines the class */
    t->pad_crop = s->pad_crop = 0;
    t->loader_threads = s->loader_threads = 1;
    snprintf(s->augment, sizeof s->augment, "none");
    s->noise.dropout = 0.1f;
    s->unlabeled_ratio = 4.0f;
    s->pseudo_per_class = 0;
    c.iterations = 1; /* tests that want more say so; the preset's count is not theirs */
    c.label_tta = NS_TTA_NONE; /* nor its flip TTA: a flip moves the class's quadrant here too */
    c.budget_s = 0;   /* nor its time budget: test_budget_shares_and_resume has its own */
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
    /* labels made without TTA are not what a run with label_tta flip learns */
    for (int t = NS_TTA_FLIP; t <= NS_TTA_FLIP_CROPS; t++) {
        other = c;
        other.label_tta = (ns_tta)t;
        assert_int_equal(ns_selftrain(&other, be, 1, NULL, &r), NS_ERR_USAGE);
        print_message("%s\n", ns_last_error());
        assert_non_null(strstr(ns_last_error(), "iter1/labels.nspl: labeled with test-time augmentation none"));
        assert_non_null(strstr(ns_last_error(), t == NS_TTA_FLIP ? "label_tta flip;" : "label_tta flip+crops;"));
    }
}

static void copy_run(const ns_selftrain_config *from, const ns_selftrain_config *to)
{
    char cmd[3000];
    snprintf(cmd, sizeof cmd, "cp -r '%s'/. '%s'/", from->run_dir, to->run_dir);
    assert_int_equal(system(cmd), 0);
}

static void remove_path(const char *run_dir, const char *rel)
{
    char cmd[3000];
    snprintf(cmd, sizeof cmd, "rm -rf '%s/%s'", run_dir, rel);
    assert_int_equal(system(cmd), 0);
}

static void assert_error_has(const char *needle)
{
    if (!strstr(ns_last_error(), needle))
        fail_msg("error '%s' lacks '%s'", ns_last_error(), needle);
}

/* The teacher-mismatch error says to remove teacher/; doing so trains a new
 * teacher, and then the labels of the old one must not be reused (nor the
 * student that learned them): selftrain stops naming the label file, both
 * digests and what to remove; removed, the iteration is labeled by the new
 * teacher and its student trained again. */
static void test_retrained_teacher_is_not_followed_by_stale_labels(void **state)
{
    ns_backend *be = *state;
    if (!be)
        skip();
    ns_selftrain_config whole = tiny("selftrain_whole", 0);
    ns_selftrain_config c = tiny("selftrain_new_teacher", 1);
    copy_run(&whole, &c);
    c.teacher.epochs = 1; /* another recipe (and a cheap one): another teacher */
    ns_selftrain_result r;
    assert_int_equal(ns_selftrain(&c, be, 1, NULL, &r), NS_ERR_USAGE);
    assert_error_has("teacher/config.json");
    remove_path(c.run_dir, "teacher"); /* as that error advises */
    assert_int_equal(ns_selftrain(&c, be, 1, NULL, &r), NS_ERR_USAGE);
    print_message("%s\n", ns_last_error());
    assert_error_has("iter1/labels.nspl: labeled by a model with SHA-256 ");
    assert_error_has("teacher/model.safetensors now has ");
    assert_error_has("iter1 and the iterations after it");
    remove_path(c.run_dir, "iter1"); /* as this one advises */
    assert_int_equal(ns_selftrain(&c, be, 1, NULL, &r), NS_OK);
    assert_true(r.done);
    /* the labels are the new teacher's, the student learned them */
    char path[1200];
    uint8_t teacher_digest[NS_SHA256_BYTES], labels_digest[NS_SHA256_BYTES];
    snprintf(path, sizeof path, "%s/teacher/model.safetensors", c.run_dir);
    assert_int_equal(ns_sha256_file(path, teacher_digest), NS_OK);
    ns_label_set labels;
    snprintf(path, sizeof path, "%s/iter1/labels.nspl", c.run_dir);
    assert_int_equal(ns_label_file_read(path, &labels), NS_OK);
    assert_memory_equal(labels.labeled_by, teacher_digest, NS_SHA256_BYTES);
    ns_label_set_free(&labels);
    assert_int_equal(ns_sha256_file(path, labels_digest), NS_OK);
    char hex[NS_SHA256_HEX];
    ns_sha256_hex(labels_digest, hex);
    snprintf(path, sizeof path, "%s/iter1/student/config.json", c.run_dir);
    json_t *j = json_load_file(path, 0, NULL);
    assert_non_null(j);
    assert_string_equal(json_string_value(json_object_get(j, "pseudo_sha256")), hex);
    json_decref(j);
    char a[1200], b[1200];
    snprintf(a, sizeof a, "%s/iter1/student/model.safetensors", whole.run_dir);
    snprintf(b, sizeof b, "%s/iter1/student/model.safetensors", c.run_dir);
    assert_false(ns_test_same_weights(a, b)); /* trained again, on other labels */
}

/* Labels that changed under a trained student (here: the same teacher's file,
 * one probability row edited) do not let the student be reused, nor continued;
 * labels that do not say which model made them (version 1, or a zero digest)
 * are not reused; and a student run resumed on changed labels refuses them. */
static void test_student_is_reused_only_on_its_labels(void **state)
{
    ns_backend *be = *state;
    if (!be)
        skip();
    ns_selftrain_config whole = tiny("selftrain_whole", 0);
    ns_selftrain_config c = tiny("selftrain_labels_changed", 1);
    copy_run(&whole, &c);
    char path[1200];
    snprintf(path, sizeof path, "%s/iter1/labels.nspl", c.run_dir);
    ns_label_set labels;
    assert_int_equal(ns_label_file_read(path, &labels), NS_OK);
    char was_hex[NS_SHA256_HEX];
    ns_sha256_hex(labels.file_sha256, was_hex);
    float *row = labels.probs; /* record 0: all its mass on another class */
    const int other = (labels.top[0] + 1) % labels.classes;
    for (int k = 0; k < labels.classes; k++)
        row[k] = k == other ? 1.0f : 0.0f;
    ns_label_set_update_top(&labels, 0);
    assert_int_equal(ns_label_file_write(path, &labels), NS_OK);

    /* a student run (train --pseudo --resume) that recorded the old digest */
    ns_train_config st = c.student;
    snprintf(st.data, sizeof st.data, "%s", c.teacher.data);
    st.labels_per_class = c.teacher.labels_per_class;
    snprintf(st.pseudo, sizeof st.pseudo, "%s", path);
    snprintf(st.pseudo_sha256, sizeof st.pseudo_sha256, "%s", was_hex);
    ns_pseudo_data pd;
    assert_int_equal(ns_pseudo_data_open(&st, NULL, &pd), NS_ERR_USAGE);
    assert_error_has("changed since the run started");
    st.pseudo_sha256[0] = '\0';
    assert_int_equal(ns_pseudo_data_open(&st, NULL, &pd), NS_OK); /* unrecorded: usable, as by train --pseudo */
    ns_pseudo_data_free(&pd);

    ns_selftrain_result r;
    assert_int_equal(ns_selftrain(&c, be, 1, NULL, &r), NS_ERR_USAGE);
    print_message("%s\n", ns_last_error());
    assert_error_has("iter1/student/config.json: this student learned labels with SHA-256 ");
    assert_error_has("the file changed since");
    /* nor continued from its checkpoint */
    char model[1200];
    snprintf(model, sizeof model, "%s/iter1/student/model.safetensors", c.run_dir);
    assert_int_equal(unlink(model), 0);
    assert_int_equal(ns_selftrain(&c, be, 1, NULL, &r), NS_ERR_USAGE);
    assert_error_has("this student learned labels");

    memset(labels.labeled_by, 0, sizeof labels.labeled_by); /* what a version 1 file reads as */
    assert_int_equal(ns_label_file_write(path, &labels), NS_OK);
    ns_label_set_free(&labels);
    assert_int_equal(ns_selftrain(&c, be, 1, NULL, &r), NS_ERR_USAGE);
    assert_error_has("iter1/labels.nspl: does not record which model labeled it");
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

static ns_train_config stage_config(const char *run_dir, const char *stage)
{
    char path[1200];
    snprintf(path, sizeof path, "%s/%s/config.json", run_dir, stage);
    json_t *j = json_load_file(path, 0, NULL);
    assert_non_null(j);
    ns_train_config c;
    assert_int_equal(ns_train_config_from_json(j, path, &c), NS_OK);
    json_decref(j);
    return c;
}

/* selftrain --budget: the teacher's share is teacher_share (here 0.4), each student gets
 * what is left shared among the students still to come, every stage records
 * its share and fit; a run paused inside a budgeted student resumes with the
 * share and epochs it had (not a new share of what is left now). */
static void test_budget_shares_and_resume(void **state)
{
    ns_backend *be = *state;
    ns_selftrain_config c = tiny("selftrain_budget", 1);
    c.iterations = 2;
    /* r.seconds of this run also sizes the tight budget below */
    c.budget_s = 3600; /* far more than the run needs: every stage keeps its epochs */
    c.teacher_share = 0.4;
    ns_selftrain_result r;
    assert_int_equal(ns_selftrain(&c, be, 0, NULL, &r), NS_OK);
    assert_true(r.done);
    ns_train_config t = stage_config(c.run_dir, "teacher"), s1 = stage_config(c.run_dir, "iter1/student"),
                    s2 = stage_config(c.run_dir, "iter2/student");
    print_message("shares: teacher %.1f s, student 1 %.1f s, student 2 %.1f s (run %.1f s)\n", (double)t.budget_s,
                  (double)s1.budget_s, (double)s2.budget_s, r.seconds);
    assert_true(t.budget_s == 1440.0f);
    assert_true(t.budget_fitted && s1.budget_fitted && s2.budget_fitted);
    assert_int_equal(t.epochs, c.teacher.epochs);
    assert_int_equal(s1.epochs, c.student.epochs);
    /* Half of what the teacher and the first labeling left, then all of the rest. */
    assert_true(s1.budget_s < 1800.0f && s1.budget_s > 1800.0f - r.seconds);
    assert_true(s2.budget_s < 3600.0f && s2.budget_s > 3600.0f - r.seconds);

    /* A budget that binds: far fewer epochs than configured, and a pause inside
     * the first student resumed to exactly the epochs fitted before the pause. */
    ns_selftrain_config b = tiny("selftrain_budget_tight", 1);
    /* The student's share must hold a few epochs on a loaded machine too:
     * 16 s, or more where the unbounded run above was slow (it trained about
     * a third of the epochs the tight run's shares fit on a quiet machine). */
    b.budget_s = r.seconds * 4 > 16 ? r.seconds * 4 : 16;
    b.teacher.epochs = 2000;
    b.student.epochs = 2000;
    b.student.stop_after_epoch = 1;
    assert_int_equal(ns_selftrain(&b, be, 0, NULL, &r), NS_OK);
    ns_train_config bt = stage_config(b.run_dir, "teacher"), bs = stage_config(b.run_dir, "iter1/student");
    print_message("tight budget %.1f s: teacher %d epochs in %.1f s, student %d epochs in %.1f s\n", b.budget_s,
                  bt.epochs, (double)bt.budget_s, bs.epochs, (double)bs.budget_s);
    assert_false(r.done); /* paused after the student's first epoch: it fitted more than one */
    assert_true(bt.epochs < 2000 && bs.epochs < 2000);
    assert_true(bs.budget_s > 0 && bs.budget_s < b.budget_s);
    b.student.stop_after_epoch = 0;
    sleep(1); /* time passes between the invocations: a new share would differ */
    assert_int_equal(ns_selftrain(&b, be, 1, NULL, &r), NS_OK);
    assert_true(r.done);
    ns_train_config after = stage_config(b.run_dir, "iter1/student");
    assert_int_equal(after.epochs, bs.epochs);
    assert_true(after.budget_s == bs.budget_s);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_student_beats_teacher),
        cmocka_unit_test(test_paused_in_each_training_stage_is_exact),
        cmocka_unit_test(test_interrupted_while_labeling_is_exact),
        cmocka_unit_test(test_reused_stages_must_match),
        cmocka_unit_test(test_retrained_teacher_is_not_followed_by_stale_labels),
        cmocka_unit_test(test_student_is_reused_only_on_its_labels),
        cmocka_unit_test(test_two_iterations_grow_and_resume),
        cmocka_unit_test(test_budget_shares_and_resume),
    };
    return cmocka_run_group_tests(tests, setup, teardown);
}
