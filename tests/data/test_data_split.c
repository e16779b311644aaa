/* Splits, normalisation and light augmentation. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <cmocka.h>

#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "data/light_augment.h"
#include "data/normalize.h"
#include "data/split.h"
#include "util/error.h"

/* n images of 2x2x1; label i % classes, except every 7th unknown when with_unknown. */
static ns_dataset make_set(size_t n, int classes, int with_unknown)
{
    ns_dataset d;
    assert_int_equal(ns_dataset_alloc(&d, n, 2, 2, 1), NS_OK);
    for (size_t i = 0; i < n; i++) {
        d.labels[i] = (int32_t)(i % (size_t)classes);
        if (with_unknown && i % 7 == 6)
            d.labels[i] = -1;
        memset(ns_dataset_image(&d, i), (int)(i & 255), 4);
    }
    ns_dataset_count_classes(&d);
    return d;
}

static void split_per_class_counts(void **state)
{
    (void)state;
    ns_dataset d = make_set(500, 5, 1);
    ns_index_list lab, rest;
    assert_int_equal(ns_split_per_class(&d, 20, 42, &lab, &rest), NS_OK);
    assert_int_equal(lab.n, 100);
    assert_int_equal(rest.n, 400);
    int per[5] = {0};
    uint8_t *seen = calloc(d.n, 1);
    for (size_t i = 0; i < lab.n; i++) {
        assert_true(d.labels[lab.idx[i]] >= 0);
        per[d.labels[lab.idx[i]]]++;
        assert_int_equal(seen[lab.idx[i]]++, 0);
        if (i)
            assert_true(lab.idx[i] > lab.idx[i - 1]);
    }
    for (size_t i = 0; i < rest.n; i++)
        assert_int_equal(seen[rest.idx[i]]++, 0);
    for (size_t i = 0; i < d.n; i++)
        assert_int_equal(seen[i], 1); /* disjoint and complete */
    for (int c = 0; c < 5; c++)
        assert_int_equal(per[c], 20);
    /* Same seed, same split; another seed, another split. */
    ns_index_list lab2, rest2;
    assert_int_equal(ns_split_per_class(&d, 20, 42, &lab2, &rest2), NS_OK);
    assert_memory_equal(lab.idx, lab2.idx, lab.n * sizeof *lab.idx);
    ns_index_list_free(&lab2);
    ns_index_list_free(&rest2);
    assert_int_equal(ns_split_per_class(&d, 20, 43, &lab2, &rest2), NS_OK);
    assert_memory_not_equal(lab.idx, lab2.idx, lab.n * sizeof *lab.idx);
    ns_index_list_free(&lab2);
    ns_index_list_free(&rest2);
    free(seen);
    ns_index_list_free(&lab);
    ns_index_list_free(&rest);
    ns_dataset_free(&d);
}

static void split_per_class_errors(void **state)
{
    (void)state;
    ns_dataset d = make_set(50, 5, 0);
    d.labels[3] = 0; /* class 3 now has 9 images */
    ns_index_list lab, rest;
    assert_int_equal(ns_split_per_class(&d, 10, 1, &lab, &rest), NS_ERR_FORMAT);
    assert_non_null(strstr(ns_last_error(), "class 3"));
    assert_non_null(strstr(ns_last_error(), "9 images"));
    assert_null(lab.idx);
    assert_null(rest.idx);
    assert_int_equal(ns_split_per_class(&d, 0, 1, &lab, &rest), NS_ERR_INVALID_ARG);
    ns_dataset_free(&d);
}

static void holdout_stratified(void **state)
{
    (void)state;
    ns_dataset d = make_set(400, 4, 0);
    ns_index_list all;
    assert_int_equal(ns_index_list_range(&all, d.n), NS_OK);
    ns_index_list train, val;
    assert_int_equal(ns_split_holdout(&all, &d, 0.1, 0, 9, &train, &val), NS_OK);
    assert_int_equal(val.n, 40);
    assert_int_equal(train.n, 360);
    int per[4] = {0};
    uint8_t *seen = calloc(d.n, 1);
    for (size_t i = 0; i < val.n; i++) {
        per[d.labels[val.idx[i]]]++;
        seen[val.idx[i]]++;
    }
    for (size_t i = 0; i < train.n; i++)
        seen[train.idx[i]]++;
    for (size_t i = 0; i < d.n; i++)
        assert_int_equal(seen[i], 1);
    for (int c = 0; c < 4; c++)
        assert_int_equal(per[c], 10);
    ns_index_list_free(&train);
    ns_index_list_free(&val);
    assert_int_equal(ns_split_holdout(&all, &d, 0.0, 3, 9, &train, &val), NS_OK);
    assert_int_equal(val.n, 12);
    ns_index_list_free(&train);
    ns_index_list_free(&val);
    assert_int_equal(ns_split_holdout(&all, &d, 0.0, 101, 9, &train, &val), NS_ERR_FORMAT);
    assert_non_null(strstr(ns_last_error(), "class 0 has 100 images"));
    assert_int_equal(ns_split_holdout(&all, &d, 0.5, 3, 9, &train, &val), NS_ERR_INVALID_ARG);
    assert_int_equal(ns_split_holdout(&all, &d, 0.0, 0, 9, &train, &val), NS_ERR_INVALID_ARG);
    d.labels[17] = -1;
    assert_int_equal(ns_split_holdout(&all, &d, 0.1, 0, 9, &train, &val), NS_ERR_INVALID_ARG);
    assert_non_null(strstr(ns_last_error(), "image 17"));
    free(seen);
    ns_index_list_free(&all);
    ns_dataset_free(&d);
}

static void normalize_stats_and_chw(void **state)
{
    (void)state;
    /* Two 1x2 RGB images: R = {0, 255, 255, 0} -> mean 0.5, std 0.5;
     * G = {51, 51, 51, 51} constant; B = {0, 0, 0, 255}. */
    ns_dataset d;
    assert_int_equal(ns_dataset_alloc(&d, 2, 1, 2, 3), NS_OK);
    const uint8_t px[12] = {0, 51, 0, 255, 51, 0, 255, 51, 0, 0, 51, 255};
    memcpy(d.images, px, sizeof px);
    float mean[3], std[3];
    assert_int_equal(ns_normalize_stats(&d, NULL, mean, std), NS_ERR_INVALID_ARG);
    assert_non_null(strstr(ns_last_error(), "channel 1"));
    d.images[4] = 153; /* G = {51, 153, 51, 51}: mean 76.5, variance 1950.75 */
    assert_int_equal(ns_normalize_stats(&d, NULL, mean, std), NS_OK);
    assert_float_equal(mean[0], 0.5f, 1e-6);
    assert_float_equal(std[0], 0.5f, 1e-6);
    assert_float_equal(mean[1], 76.5f / 255.0f, 1e-6);
    assert_float_equal(std[1], (float)(sqrt(1950.75) / 255.0), 1e-6);
    assert_float_equal(mean[2], 0.25f, 1e-6);
    assert_float_equal(std[2], (float)sqrt(0.25 * 0.75), 1e-6);
    float full_mean[3], full_std[3];
    memcpy(full_mean, mean, sizeof mean);
    memcpy(full_std, std, sizeof std);
    /* Subsets: image 1 alone has a constant G; images {1, 0} equal the whole set. */
    ns_index_list sub;
    assert_int_equal(ns_index_list_alloc(&sub, 1), NS_OK);
    sub.idx[0] = 1;
    assert_int_equal(ns_normalize_stats(&d, &sub, mean, std), NS_ERR_INVALID_ARG);
    assert_non_null(strstr(ns_last_error(), "channel 1"));
    sub.idx[0] = 2;
    assert_int_equal(ns_normalize_stats(&d, &sub, mean, std), NS_ERR_INVALID_ARG);
    assert_non_null(strstr(ns_last_error(), "index 2"));
    ns_index_list_free(&sub);
    assert_int_equal(ns_index_list_alloc(&sub, 2), NS_OK);
    sub.idx[0] = 1;
    sub.idx[1] = 0;
    float mean2[3], std2[3];
    assert_int_equal(ns_normalize_stats(&d, &sub, mean2, std2), NS_OK);
    assert_memory_equal(full_mean, mean2, sizeof mean2);
    assert_memory_equal(full_std, std2, sizeof std2);
    ns_index_list_free(&sub);
    /* CHW conversion of image 0 with known mean/std. */
    const float m[3] = {0.5f, 0.2f, 0.0f}, s[3] = {0.5f, 1.0f, 0.25f};
    float out[6];
    ns_image_to_chw(d.images, 1, 2, 3, m, s, out);
    const float want[6] = {-1.0f, 1.0f, 51.0f / 255.0f - 0.2f, 153.0f / 255.0f - 0.2f, 0.0f, 0.0f};
    for (int k = 0; k < 6; k++)
        assert_float_equal(out[k], want[k], 1e-5);
    ns_image_to_chw(d.images, 1, 2, 3, NULL, NULL, out);
    assert_float_equal(out[1], 1.0f, 1e-7);
    assert_float_equal(out[2], 51.0f / 255.0f, 1e-7);
    ns_dataset_free(&d);
}

static void pad_crop_and_flip(void **state)
{
    (void)state;
    /* 3x3 gray image 1..9. */
    uint8_t data[9], scratch[9];
    ns_image img = {data, 3, 3, 1};
    for (int i = 0; i < 9; i++)
        data[i] = (uint8_t)(i + 1);
    ns_pad_crop(&img, scratch, 4, 0, 4, 4); /* centre: identity */
    for (int i = 0; i < 9; i++)
        assert_int_equal(data[i], i + 1);
    ns_pad_crop(&img, scratch, 4, 0, 5, 3); /* out(y,x) = in(y+1, x-1) */
    const uint8_t shifted[9] = {0, 4, 5, 0, 7, 8, 0, 0, 0};
    assert_memory_equal(data, shifted, 9);
    ns_pad_crop(&img, scratch, 4, 0, 8, 0); /* fully outside */
    for (int i = 0; i < 9; i++)
        assert_int_equal(data[i], 0);
    /* RGB flip keeps channel order within a pixel. */
    uint8_t rgb[2 * 2 * 3] = {1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12};
    ns_image im2 = {rgb, 2, 2, 3};
    ns_flip_horizontal(&im2);
    const uint8_t flipped[12] = {4, 5, 6, 1, 2, 3, 10, 11, 12, 7, 8, 9};
    assert_memory_equal(rgb, flipped, 12);
    /* The random version: offsets and flip follow the rng's first three draws. */
    for (uint64_t seed = 0; seed < 20; seed++) {
        uint8_t a[36], b[36], sc[36];
        for (int i = 0; i < 36; i++)
            a[i] = b[i] = (uint8_t)(i * 5 + 1);
        ns_image ia = {a, 6, 6, 1}, ib = {b, 6, 6, 1};
        ns_rng r = ns_rng_make(seed, 7);
        ns_light_augment(&ia, sc, 1, 1, &r);
        assert_int_equal(r.index, 3);
        ns_rng q = ns_rng_make(seed, 7);
        int dy = (int)ns_rng_below(&q, 9), dx = (int)ns_rng_below(&q, 9);
        ns_pad_crop(&ib, sc, 4, 0, dy, dx);
        if (ns_rng_uniform(&q) < 0.5f)
            ns_flip_horizontal(&ib);
        assert_memory_equal(a, b, 36);
        ns_rng none = ns_rng_make(seed, 7);
        ns_light_augment(&ia, sc, 0, 0, &none);
        assert_int_equal(none.index, 0);
    }
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(split_per_class_counts),
        cmocka_unit_test(split_per_class_errors),
        cmocka_unit_test(holdout_stratified),
        cmocka_unit_test(normalize_stats_and_chw),
        cmocka_unit_test(pad_crop_and_flip),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
