/* Filter and balance on constructed probability tables: exact counts,
 * duplication, truncation by confidence, ties, empty classes, all below the
 * threshold, targets, stochastic rounding, the printed table. */
#include <math.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>

#include <cmocka.h>

#include "selftrain/filter_balance.h"
#include "selftrain_test_util.h"
#include "util/error.h"

typedef struct rec {
    uint32_t sid;
    int truth, top;
    float conf;
} rec;

static void make_set(ns_label_set *s, int classes, const rec *r, size_t n)
{
    assert_int_equal(ns_label_set_alloc(s, n, classes), NS_OK);
    for (size_t i = 0; i < n; i++)
        st_set_record(s, i, r[i].sid, r[i].truth, r[i].top, r[i].conf);
}

/* Three classes of 5, 2 (+1 below) and 3 passing images; median target 3. */
static const rec three_classes[] = {
    {10, 0, 0, 0.7f}, {11, 0, 0, 0.9f}, {12, 1, 0, 0.5f}, {13, 0, 0, 0.8f}, {14, 0, 0, 0.6f},
    {20, 1, 1, 0.4f}, {21, 1, 1, 0.9f}, {22, 2, 1, 0.2f},
    {30, 2, 2, 0.35f}, {31, -1, 2, 0.95f}, {32, 0, 2, 0.5f},
};

static void test_median_target_exact_counts(void **state)
{
    (void)state;
    ns_label_set s;
    make_set(&s, 3, three_classes, sizeof three_classes / sizeof *three_classes);
    ns_filter_config c = ns_filter_config_default();
    ns_student_set out;
    ns_class_table t;
    assert_int_equal(ns_filter_balance(&s, &c, &out, &t), NS_OK);
    assert_int_equal(t.target, 3);
    assert_int_equal(out.n, 9);
    /* class 0: 5 found, the 3 most confident kept (11, 13, 10), 2 dropped */
    assert_int_equal(t.rows[0].found, 5);
    assert_int_equal(t.rows[0].passed, 5);
    assert_int_equal(t.rows[0].kept, 3);
    assert_int_equal(t.rows[0].duplicated, 0);
    assert_int_equal(t.rows[0].dropped, 2);
    const uint32_t want[9] = {11, 13, 10, 21, 21, 20, 31, 32, 30};
    const int want_label[9] = {0, 0, 0, 1, 1, 1, 2, 2, 2};
    for (int i = 0; i < 9; i++) {
        assert_int_equal(out.source_id[i], want[i]);
        assert_int_equal(out.label[i], want_label[i]);
        assert_int_equal(s.source_id[out.record[i]], want[i]);
    }
    /* class 1: 0.2 is below 0.3 (dropped); 2 kept, the most confident duplicated once */
    assert_int_equal(t.rows[1].found, 3);
    assert_int_equal(t.rows[1].passed, 2);
    assert_int_equal(t.rows[1].kept, 2);
    assert_int_equal(t.rows[1].duplicated, 1);
    assert_int_equal(t.rows[1].dropped, 1);
    assert_float_equal(t.rows[0].mean_confidence, (0.9 + 0.8 + 0.7) / 3, 1e-6);
    /* pseudo-label accuracy over kept images with a known label: class 2 keeps 31 (unknown), 32 (wrong), 30 (right) */
    assert_int_equal(t.rows[0].known, 3);
    assert_int_equal(t.rows[0].correct, 3);
    assert_int_equal(t.rows[2].known, 2);
    assert_int_equal(t.rows[2].correct, 1);
    assert_float_equal(ns_class_row_accuracy(&t.rows[2]), 0.5, 1e-12);
    ns_student_set_free(&out);
    ns_class_table_free(&t);
    ns_label_set_free(&s);
}

static void test_fixed_target_duplicates_exactly(void **state)
{
    (void)state;
    ns_label_set s;
    make_set(&s, 3, three_classes, sizeof three_classes / sizeof *three_classes);
    ns_filter_config c = ns_filter_config_default();
    c.per_class = 7;
    ns_student_set out;
    ns_class_table t;
    assert_int_equal(ns_filter_balance(&s, &c, &out, &t), NS_OK);
    assert_int_equal(out.n, 21);
    /* class 1 has 2 images for 7: 4 copies of the 0.9 one, 3 of the 0.4 one */
    size_t n21 = 0, n20 = 0;
    for (size_t i = 0; i < out.n; i++) {
        n21 += out.source_id[i] == 21;
        n20 += out.source_id[i] == 20;
    }
    assert_int_equal(n21, 4);
    assert_int_equal(n20, 3);
    assert_int_equal(t.rows[1].duplicated, 5);
    assert_int_equal(t.rows[0].duplicated, 2);
    assert_int_equal(t.rows[0].kept, 5);
    assert_int_equal(t.rows[0].dropped, 0);
    for (int k = 0; k < 3; k++)
        assert_int_equal(t.rows[k].kept + t.rows[k].duplicated, 7);
    ns_student_set_free(&out);
    ns_class_table_free(&t);
    ns_label_set_free(&s);
}

static void test_truncation_ties_by_source_id(void **state)
{
    (void)state;
    const rec r[] = {{9, -1, 0, 0.8f}, {3, -1, 0, 0.8f}, {5, -1, 0, 0.8f}, {7, -1, 0, 0.9f}, {1, -1, 0, 0.1f}};
    ns_label_set s;
    make_set(&s, 2, r, 5);
    ns_filter_config c = ns_filter_config_default();
    c.per_class = 3;
    ns_student_set out;
    ns_class_table t;
    assert_int_equal(ns_filter_balance(&s, &c, &out, &t), NS_OK);
    assert_int_equal(out.n, 3);
    assert_int_equal(out.source_id[0], 7);
    assert_int_equal(out.source_id[1], 3);
    assert_int_equal(out.source_id[2], 5);
    assert_int_equal(t.rows[0].dropped, 2);
    /* class 1 is empty: stays empty, reported with NaN confidence and no accuracy */
    assert_int_equal(t.rows[1].found, 0);
    assert_int_equal(t.rows[1].kept, 0);
    assert_int_equal(t.rows[1].duplicated, 0);
    assert_true(isnan(t.rows[1].mean_confidence));
    assert_true(isnan(ns_class_row_accuracy(&t.rows[1])));
    ns_student_set_free(&out);
    ns_class_table_free(&t);
    ns_label_set_free(&s);
}

static void test_empty_classes_do_not_pull_the_median(void **state)
{
    (void)state;
    /* 4 classes, two empty: median over {1, 3} is the upper middle, 3 */
    const rec r[] = {{0, -1, 1, 0.9f}, {1, -1, 3, 0.9f}, {2, -1, 3, 0.8f}, {3, -1, 3, 0.7f}};
    ns_label_set s;
    make_set(&s, 4, r, 4);
    ns_filter_config c = ns_filter_config_default();
    ns_student_set out;
    ns_class_table t;
    assert_int_equal(ns_filter_balance(&s, &c, &out, &t), NS_OK);
    assert_int_equal(t.target, 3);
    assert_int_equal(out.n, 6);
    assert_int_equal(t.rows[1].duplicated, 2);
    assert_int_equal(t.rows[0].kept + t.rows[2].kept, 0);
    ns_student_set_free(&out);
    ns_class_table_free(&t);
    ns_label_set_free(&s);
}

static void test_all_below_threshold_is_a_clear_error(void **state)
{
    (void)state;
    ns_label_set s;
    make_set(&s, 3, three_classes, sizeof three_classes / sizeof *three_classes);
    ns_filter_config c = ns_filter_config_default();
    c.threshold = 0.96f;
    ns_student_set out;
    ns_class_table t;
    assert_int_equal(ns_filter_balance(&s, &c, &out, &t), NS_ERR_INVALID_ARG);
    const char *e = ns_last_error();
    assert_non_null(strstr(e, "none of the 11"));
    assert_non_null(strstr(e, "threshold 0.96"));
    assert_non_null(strstr(e, "highest confidence 0.95"));
    assert_int_equal(out.n, 0);
    assert_null(out.targets);
    assert_null(t.rows);
    /* an empty label set says the same, not a crash */
    ns_label_set empty;
    assert_int_equal(ns_label_set_alloc(&empty, 0, 3), NS_OK);
    assert_int_equal(ns_filter_balance(&empty, &c, &out, &t), NS_ERR_INVALID_ARG);
    assert_non_null(strstr(ns_last_error(), "none of the 0"));
    ns_label_set_free(&empty);
    ns_label_set_free(&s);
}

static void test_no_balancing_keeps_every_passing_image_once(void **state)
{
    (void)state;
    ns_label_set s;
    make_set(&s, 3, three_classes, sizeof three_classes / sizeof *three_classes);
    ns_filter_config c = ns_filter_config_default();
    c.per_class = -1;
    ns_student_set out;
    ns_class_table t;
    assert_int_equal(ns_filter_balance(&s, &c, &out, &t), NS_OK);
    assert_int_equal(t.target, 0);
    assert_int_equal(out.n, 10);
    for (int k = 0; k < 3; k++)
        assert_int_equal(t.rows[k].duplicated, 0);
    ns_student_set_free(&out);
    ns_class_table_free(&t);
    ns_label_set_free(&s);
}

static void test_soft_and_hard_targets(void **state)
{
    (void)state;
    const rec r[] = {{0, -1, 0, 0.6f}};
    ns_label_set s;
    make_set(&s, 3, r, 1); /* row 0.6, 0.2, 0.2 */
    ns_filter_config c = ns_filter_config_default();
    ns_student_set out;
    assert_int_equal(ns_filter_balance(&s, &c, &out, NULL), NS_OK);
    assert_float_equal(out.targets[0], 0.6, 1e-6);
    assert_float_equal(out.targets[1], 0.2, 1e-6);
    ns_student_set_free(&out);
    c.temperature = 2.0f; /* sqrt(p) normalised */
    assert_int_equal(ns_filter_balance(&s, &c, &out, NULL), NS_OK);
    const double z = sqrt(0.6) + 2 * sqrt(0.2);
    assert_float_equal(out.targets[0], sqrt(0.6) / z, 1e-6);
    assert_float_equal(out.targets[2], sqrt(0.2) / z, 1e-6);
    ns_student_set_free(&out);
    c.hard = 1;
    c.smoothing = 0.3f;
    assert_int_equal(ns_filter_balance(&s, &c, &out, NULL), NS_OK);
    assert_float_equal(out.targets[0], 0.7 + 0.1, 1e-6);
    assert_float_equal(out.targets[1], 0.1, 1e-6);
    ns_student_set_free(&out);
    /* a zero probability stays zero at any temperature */
    s.probs[1] = 0.0f;
    s.probs[2] = 0.4f;
    c.hard = 0;
    c.temperature = 0.5f;
    assert_int_equal(ns_filter_balance(&s, &c, &out, NULL), NS_OK);
    assert_float_equal(out.targets[1], 0.0, 0);
    assert_float_equal(out.targets[0], 0.36 / (0.36 + 0.16), 1e-6);
    ns_student_set_free(&out);
    ns_label_set_free(&s);
}

static void test_stochastic_rounding(void **state)
{
    (void)state;
    enum { N = 1000 };
    ns_label_set s;
    assert_int_equal(ns_label_set_alloc(&s, N, 2), NS_OK);
    for (size_t i = 0; i < N; i++)
        st_set_record(&s, i, (uint32_t)i, -1, 0, 0.5f + 0.4f * (float)i / N);
    ns_filter_config c = ns_filter_config_default();
    c.per_class = 1500;
    c.stochastic = 1;
    ns_student_set a, b;
    ns_class_table t;
    assert_int_equal(ns_filter_balance(&s, &c, &a, &t), NS_OK);
    /* each image 1 or 2 copies; the total is 1500 in expectation (sd ~16) */
    assert_true(a.n > 1400 && a.n < 1600);
    assert_int_equal(t.rows[0].kept + t.rows[0].duplicated, a.n);
    assert_int_equal(t.rows[0].kept, N);
    assert_int_equal(ns_filter_balance(&s, &c, &b, NULL), NS_OK);
    assert_int_equal(a.n, b.n);
    assert_memory_equal(a.source_id, b.source_id, a.n * sizeof *a.source_id);
    ns_student_set_free(&b);
    c.seed = 2;
    assert_int_equal(ns_filter_balance(&s, &c, &b, NULL), NS_OK);
    int differs = a.n != b.n || memcmp(a.source_id, b.source_id, a.n * sizeof *a.source_id) != 0;
    assert_true(differs);
    ns_student_set_free(&a);
    ns_student_set_free(&b);
    ns_class_table_free(&t);
    ns_label_set_free(&s);
}

static void test_bad_config_names_the_field(void **state)
{
    (void)state;
    ns_label_set s;
    make_set(&s, 3, three_classes, 3);
    ns_filter_config c = ns_filter_config_default();
    ns_student_set out;
    c.threshold = 1.5f;
    assert_int_equal(ns_filter_balance(&s, &c, &out, NULL), NS_ERR_INVALID_ARG);
    assert_non_null(strstr(ns_last_error(), "threshold 1.5"));
    c = ns_filter_config_default();
    c.temperature = 0.0f;
    assert_int_equal(ns_filter_balance(&s, &c, &out, NULL), NS_ERR_INVALID_ARG);
    assert_non_null(strstr(ns_last_error(), "temperature"));
    c = ns_filter_config_default();
    s.top[1] = 7;
    assert_int_equal(ns_filter_balance(&s, &c, &out, NULL), NS_ERR_INVALID_ARG);
    assert_non_null(strstr(ns_last_error(), "record 1 has top class 7"));
    ns_label_set_free(&s);
}

static void test_table_prints(void **state)
{
    (void)state;
    ns_label_set s;
    make_set(&s, 3, three_classes, sizeof three_classes / sizeof *three_classes);
    ns_filter_config c = ns_filter_config_default();
    ns_class_table t;
    assert_int_equal(ns_filter_balance(&s, &c, NULL, &t), NS_OK);
    char *text = NULL;
    size_t len = 0;
    FILE *f = open_memstream(&text, &len);
    assert_non_null(f);
    ns_class_table_print(f, &t);
    fclose(f);
    assert_non_null(strstr(text, "balanced to 3 images per class"));
    assert_non_null(strstr(text, "100.00%")); /* class 0 */
    assert_non_null(strstr(text, " 50.00%"));  /* class 2 */
    /* total: found 11, passed 10, kept 8, duplicated 1, dropped 3; 6 of the 7 known labels right */
    assert_non_null(strstr(text, "  total       11       10        8        1        3"));
    assert_non_null(strstr(text, " 85.71%"));
    free(text);

    /* the same table as JSON (pseudo_labels.json in a student's run dir) */
    json_t *j = ns_class_table_to_json(&t);
    assert_non_null(j);
    assert_int_equal(json_array_size(json_object_get(j, "classes")), 3);
    assert_int_equal(json_integer_value(json_object_get(j, "target")), 3);
    json_t *total = json_object_get(j, "total");
    assert_int_equal(json_integer_value(json_object_get(total, "found")), 11);
    assert_int_equal(json_integer_value(json_object_get(total, "kept")), 8);
    assert_int_equal(json_integer_value(json_object_get(total, "dropped")), 3);
    assert_int_equal(json_integer_value(json_object_get(total, "correct")), 6);
    assert_int_equal(json_integer_value(json_object_get(total, "known")), 7);
    assert_float_equal(json_number_value(json_object_get(total, "accuracy")), 6.0 / 7.0, 1e-12);
    json_t *class2 = json_array_get(json_object_get(j, "classes"), 2);
    assert_float_equal(json_number_value(json_object_get(class2, "accuracy")), 0.5, 1e-12);
    json_decref(j);
    ns_class_table_free(&t);
    ns_label_set_free(&s);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_median_target_exact_counts),
        cmocka_unit_test(test_fixed_target_duplicates_exactly),
        cmocka_unit_test(test_truncation_ties_by_source_id),
        cmocka_unit_test(test_empty_classes_do_not_pull_the_median),
        cmocka_unit_test(test_all_below_threshold_is_a_clear_error),
        cmocka_unit_test(test_no_balancing_keeps_every_passing_image_once),
        cmocka_unit_test(test_soft_and_hard_targets),
        cmocka_unit_test(test_stochastic_rounding),
        cmocka_unit_test(test_bad_config_names_the_field),
        cmocka_unit_test(test_table_prints),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
