/* The `corrupt` op set through the real plugin path: every op is
 * deterministic for a fixed rng, random ops differ between seeds, severity is
 * monotone (the mean absolute change from the clean image grows with it), jpeg
 * really re-compresses, odd sizes are safe; and the benchmark pieces of
 * augment/corruptions.h: spec and severity parsing, per-image streams that do
 * not depend on the thread count, and the CE/mCE arithmetic. */
#include <math.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "augment/corruptions.h"
#include "augment/opset.h"
#include "util/error.h"

static const char *const all_ops[] = {"gaussian_noise", "shot_noise", "impulse_noise", "defocus_blur",
                                      "motion_blur",    "zoom_blur",  "contrast",      "brightness",
                                      "fog",            "pixelate",   "jpeg",          "elastic"};
#define N_OPS (sizeof all_ops / sizeof *all_ops)
/* Ops that draw from the rng (the others must not depend on it). */
static int is_random(const char *op)
{
    return !strcmp(op, "gaussian_noise") || !strcmp(op, "shot_noise") || !strcmp(op, "impulse_noise") ||
           !strcmp(op, "motion_blur") || !strcmp(op, "fog") || !strcmp(op, "elastic");
}

static ns_augment_opset *set;

static int setup(void **state)
{
    (void)state;
    if (ns_augment_opset_open("corrupt", NULL, &set) != NS_OK) {
        print_error("opening corrupt: %s\n", ns_last_error());
        return -1;
    }
    return 0;
}

static int teardown(void **state)
{
    (void)state;
    ns_augment_opset_close(set);
    return 0;
}

/* A garment-like test image: a bright textured blob with a soft edge on a dark
 * background (gray 28x28), or coloured shapes on a gradient (RGB 32x32). */
static void fill_test_image(uint8_t *px, int w, int h, int c)
{
    for (int y = 0; y < h; y++)
        for (int x = 0; x < w; x++) {
            double dx = (x - w / 2.0) / (w / 3.0), dy = (y - h / 2.0) / (h / 2.6), r = dx * dx + dy * dy;
            double inside = r < 1.0 ? 1.0 : r < 1.3 ? (1.3 - r) / 0.3 : 0.0;
            double texture = 0.15 * ((x / 3 + y / 2) % 2) + 0.1 * ((x * 7 + y * 3) % 5) / 4.0;
            for (int ch = 0; ch < c; ch++) {
                double bg = c == 3 ? 40.0 + 120.0 * x / w + 30 * ch : 8.0;
                double fg = (c == 3 ? 90.0 + 60.0 * ch : 190.0) * (1.0 - texture);
                px[((size_t)y * w + x) * c + ch] = (uint8_t)(bg * (1 - inside) + fg * inside);
            }
        }
}

/* Applies op at magnitude m with rng (seed, 0) to a fresh test image. */
static void corrupted(const char *op, int w, int h, int c, float m, uint64_t seed, uint8_t *out)
{
    long k = ns_augment_opset_find(set, op);
    assert_true(k >= 0);
    uint8_t *scratch = malloc((size_t)w * h * c);
    assert_non_null(scratch);
    fill_test_image(out, w, h, c);
    ns_image img = {out, w, h, c};
    ns_rng rng = ns_rng_make(seed, 0);
    ns_status st = ns_augment_opset_apply(set, (size_t)k, &img, scratch, m, &rng);
    if (st != NS_OK)
        fail_msg("%s at %g on %dx%dx%d: %s", op, (double)m, w, h, c, ns_last_error());
    /* The shape stays (the host would refuse a change, and says so). */
    assert_ptr_equal(img.data, out);
    assert_int_equal(img.width, w);
    assert_int_equal(img.height, h);
    assert_int_equal(img.channels, c);
    free(scratch);
}

static double mean_abs_change(const uint8_t *a, int w, int h, int c)
{
    uint8_t *clean = malloc((size_t)w * h * c);
    fill_test_image(clean, w, h, c);
    double s = 0.0;
    for (size_t i = 0; i < (size_t)w * h * c; i++)
        s += fabs((double)a[i] - clean[i]);
    free(clean);
    return s / ((double)w * h * c);
}

static const int shapes[2][3] = {{28, 28, 1}, {32, 32, 3}};

static void test_every_op_listed(void **state)
{
    (void)state;
    assert_int_equal(ns_augment_opset_count(set), N_OPS);
    for (size_t i = 0; i < N_OPS; i++) {
        long k = ns_augment_opset_find(set, all_ops[i]);
        assert_true(k >= 0);
        /* The description states the severity mapping. */
        assert_non_null(strstr(ns_augment_opset_op(set, (size_t)k)->description, "severity"));
    }
}

static void test_deterministic_and_seeded(void **state)
{
    (void)state;
    uint8_t a[32 * 32 * 3], b[32 * 32 * 3];
    for (int sh = 0; sh < 2; sh++) {
        const int w = shapes[sh][0], h = shapes[sh][1], c = shapes[sh][2];
        const size_t n = (size_t)w * h * c;
        for (size_t i = 0; i < N_OPS; i++)
            for (int s = 1; s <= 5; s++) {
                corrupted(all_ops[i], w, h, c, (float)s, 11, a);
                corrupted(all_ops[i], w, h, c, (float)s, 11, b);
                if (memcmp(a, b, n))
                    fail_msg("%s severity %d: two runs with the same rng differ", all_ops[i], s);
                corrupted(all_ops[i], w, h, c, (float)s, 12, b);
                int differ = memcmp(a, b, n) != 0;
                if (differ != is_random(all_ops[i]))
                    fail_msg("%s severity %d on %dx%dx%d: seeds 11 and 12 %s", all_ops[i], s, w, h, c,
                             differ ? "differ (the op should not be random)" : "give the same image");
            }
    }
}

static void test_severity_monotone(void **state)
{
    (void)state;
    uint8_t a[32 * 32 * 3];
    int failures = 0; /* every op and shape is reported before failing */
    for (int sh = 0; sh < 2; sh++) {
        const int w = shapes[sh][0], h = shapes[sh][1], c = shapes[sh][2];
        for (size_t i = 0; i < N_OPS; i++) {
            double prev = 0.0;
            for (int s = 0; s <= 5; s++) {
                double d = 0.0;
                for (uint64_t seed = 1; seed <= 4; seed++) {
                    corrupted(all_ops[i], w, h, c, (float)s, seed, a);
                    d += mean_abs_change(a, w, h, c) / 4;
                }
                if (s == 0 && d != 0.0)
                    fail_msg("%s: severity 0 changed the image (mean change %.3f)", all_ops[i], d);
                if (s > 0 && !(d > prev)) {
                    print_message("%s on %dx%dx%d: mean change %.3f at severity %d, not above %.3f at %d\n",
                                  all_ops[i], w, h, c, d, s, prev, s - 1);
                    failures++;
                }
                prev = d;
            }
        }
    }
    assert_int_equal(failures, 0);
}

/* Magnitude is the severity, rounded; above 5 reads as 5, NaN and negatives as 0. */
static void test_magnitude_mapping(void **state)
{
    (void)state;
    uint8_t a[28 * 28], b[28 * 28], clean[28 * 28];
    fill_test_image(clean, 28, 28, 1);
    corrupted("gaussian_noise", 28, 28, 1, 3.0f, 5, a);
    corrupted("gaussian_noise", 28, 28, 1, 3.3f, 5, b);
    assert_memory_equal(a, b, sizeof a);
    corrupted("gaussian_noise", 28, 28, 1, 5.0f, 5, a);
    corrupted("gaussian_noise", 28, 28, 1, 27.0f, 5, b);
    assert_memory_equal(a, b, sizeof a);
    corrupted("gaussian_noise", 28, 28, 1, NAN, 5, a);
    assert_memory_equal(a, clean, sizeof a);
    corrupted("gaussian_noise", 28, 28, 1, -2.0f, 5, a);
    assert_memory_equal(a, clean, sizeof a);
}

/* jpeg: a real lossy round trip, not the identity; lower quality, more loss. */
static void test_jpeg_recompresses(void **state)
{
    (void)state;
    uint8_t a[32 * 32 * 3];
    for (int sh = 0; sh < 2; sh++) {
        const int w = shapes[sh][0], h = shapes[sh][1], c = shapes[sh][2];
        corrupted("jpeg", w, h, c, 1.0f, 1, a);
        size_t changed = 0;
        uint8_t *clean = malloc((size_t)w * h * c);
        fill_test_image(clean, w, h, c);
        for (size_t i = 0; i < (size_t)w * h * c; i++)
            changed += a[i] != clean[i];
        free(clean);
        /* Most values move a little; a decode of the wrong image would move
         * them far: the mean change stays small at quality 40. */
        assert_true(changed > (size_t)w * h * c / 4);
        assert_true(mean_abs_change(a, w, h, c) < 20.0);
    }
}

/* Every size from 1x1 up, and a wide strip: no crash, no overread (run
 * under the sanitizers), severity 5. */
static void test_odd_sizes(void **state)
{
    (void)state;
    static const int sizes[][2] = {{1, 1}, {1, 7}, {7, 1}, {2, 3}, {9, 9}, {5, 40}};
    uint8_t px[5 * 40 * 3], scratch[5 * 40 * 3];
    for (size_t z = 0; z < sizeof sizes / sizeof *sizes; z++)
        for (int c = 1; c <= 3; c += 2)
            for (size_t i = 0; i < N_OPS; i++) {
                ns_image img = {px, sizes[z][0], sizes[z][1], c};
                for (size_t j = 0; j < (size_t)img.width * img.height * c; j++)
                    px[j] = (uint8_t)(j * 37);
                ns_rng rng = ns_rng_make(3, 4);
                ns_status st = ns_augment_opset_apply(set, (size_t)ns_augment_opset_find(set, all_ops[i]), &img,
                                                      scratch, 5.0f, &rng);
                if (st != NS_OK)
                    fail_msg("%s on %dx%dx%d: %s", all_ops[i], img.width, img.height, c, ns_last_error());
            }
}

static void test_options_refused(void **state)
{
    (void)state;
    ns_augment_opset *s = NULL;
    assert_int_equal(ns_augment_opset_open("corrupt", "sigma=3", &s), NS_ERR_USAGE);
    assert_non_null(strstr(ns_last_error(), "takes no options"));
    assert_null(s);
}

static void test_spec_parsing(void **state)
{
    (void)state;
    ns_corruptions c;
    assert_int_equal(ns_corruptions_open("corrupt:all", NULL, &c), NS_OK);
    assert_int_equal(c.n_ops, N_OPS);
    assert_int_equal(c.n_sev, 5);
    ns_corruptions_close(&c);
    assert_int_equal(ns_corruptions_open("corrupt", "1,3-4", &c), NS_OK);
    assert_int_equal(c.n_ops, N_OPS);
    assert_int_equal(c.n_sev, 3);
    assert_int_equal(c.sev[0], 1);
    assert_int_equal(c.sev[1], 3);
    assert_int_equal(c.sev[2], 4);
    ns_corruptions_close(&c);
    assert_int_equal(ns_corruptions_open("corrupt:fog,gaussian_noise", "2", &c), NS_OK);
    assert_int_equal(c.n_ops, 2);
    assert_string_equal(ns_augment_opset_op(c.set, c.ops[0])->name, "fog");
    assert_string_equal(ns_augment_opset_op(c.set, c.ops[1])->name, "gaussian_noise");
    ns_corruptions_close(&c);
    static const char *const bad[][3] = {
        {"corrupt:nosuch", NULL, "'nosuch' is not an op of corrupt"},
        {"corrupt:fog,,jpeg", NULL, "'' is not an op"},
        {"corrupt:fog,fog", NULL, "listed twice"},
        {"corrupt:", NULL, "expected SET:all"},
        {":all", NULL, "expected SET:all"},
        {"nosuchset:all", NULL, "nosuchset"},
        {"corrupt:all", "0", "--severities 0"},
        {"corrupt:all", "6", "--severities 6"},
        {"corrupt:all", "1-", "--severities 1-"},
        {"corrupt:all", "4-2", "--severities 4-2"},
        {"corrupt:all", "1,,2", "--severities 1,,2"},
        {"corrupt:all", "x", "--severities x"},
    };
    for (size_t i = 0; i < sizeof bad / sizeof *bad; i++) {
        ns_status st = ns_corruptions_open(bad[i][0], bad[i][1], &c);
        if (st != NS_ERR_USAGE || !strstr(ns_last_error(), bad[i][2]))
            fail_msg("%s / %s: status %d, error '%s', expected usage naming '%s'", bad[i][0],
                     bad[i][1] ? bad[i][1] : "-", st, ns_last_error(), bad[i][2]);
        assert_null(c.set);
    }
}

/* The corrupted copy of a dataset is the same bytes for 1, 2 and 3 threads;
 * image i's corruption depends on i, not on its neighbours or the spec. */
static void test_apply_threads_and_streams(void **state)
{
    (void)state;
    ns_dataset src, out[3];
    assert_int_equal(ns_dataset_alloc(&src, 23, 28, 28, 1), NS_OK);
    for (size_t i = 0; i < src.n; i++) {
        fill_test_image(ns_dataset_image(&src, i), 28, 28, 1);
        ns_dataset_image(&src, i)[i] ^= 0x55; /* every image a little different */
        src.labels[i] = (int32_t)(i % 4);
    }
    ns_corruptions all, one;
    assert_int_equal(ns_corruptions_open("corrupt:all", NULL, &all), NS_OK);
    assert_int_equal(ns_corruptions_open("corrupt:elastic", NULL, &one), NS_OK);
    const size_t bytes = src.n * ns_dataset_image_bytes(&src);
    for (size_t k = 0; k < all.n_ops; k++) {
        for (int t = 0; t < 3; t++) {
            assert_int_equal(ns_dataset_alloc(&out[t], src.n, 28, 28, 1), NS_OK);
            assert_int_equal(ns_corruptions_apply(&all, k, 4, &src, &out[t], t + 1), NS_OK);
            assert_memory_equal(out[t].labels, src.labels, src.n * sizeof *src.labels);
        }
        if (memcmp(out[0].images, out[1].images, bytes) || memcmp(out[0].images, out[2].images, bytes))
            fail_msg("%s: the corrupted set depends on the thread count", ns_augment_opset_op(all.set, k)->name);
        if (!strcmp(ns_augment_opset_op(all.set, all.ops[k])->name, "elastic")) {
            /* The same op named alone in a spec gives the same images. */
            ns_dataset_free(&out[1]);
            assert_int_equal(ns_dataset_alloc(&out[1], src.n, 28, 28, 1), NS_OK);
            assert_int_equal(ns_corruptions_apply(&one, 0, 4, &src, &out[1], 2), NS_OK);
            assert_memory_equal(out[0].images, out[1].images, bytes);
        }
        for (int t = 0; t < 3; t++)
            ns_dataset_free(&out[t]);
    }
    /* Two identical images at indices 0 and 1 get different noise: the
     * stream is keyed by the image index. */
    memcpy(ns_dataset_image(&src, 1), ns_dataset_image(&src, 0), ns_dataset_image_bytes(&src));
    ns_corruptions noise;
    assert_int_equal(ns_corruptions_open("corrupt:gaussian_noise", NULL, &noise), NS_OK);
    assert_int_equal(ns_dataset_alloc(&out[0], 2, 28, 28, 1), NS_OK);
    assert_int_equal(ns_corruptions_apply(&noise, 0, 1, &src, &out[0], 1), NS_OK);
    assert_memory_not_equal(ns_dataset_image(&out[0], 0), ns_dataset_image(&out[0], 1), ns_dataset_image_bytes(&src));
    ns_dataset_free(&out[0]);
    ns_corruptions_close(&noise);
    assert_int_not_equal(ns_corruption_key("fog", 1), ns_corruption_key("fog", 2));
    assert_int_not_equal(ns_corruption_key("fog", 1), ns_corruption_key("jpeg", 1));
    ns_corruptions_close(&all);
    ns_corruptions_close(&one);
    ns_dataset_free(&src);
}

static void test_ce_arithmetic(void **state)
{
    (void)state;
    /* 2 corruptions x 3 severities, by hand:
     * CE_0 = (0.1+0.2+0.3)/(0.2+0.2+0.2) = 1.0, CE_1 = (0.1+0.1+0.1)/(0.3+0.3+0.6) = 0.25,
     * mCE = 0.625. */
    const double err[6] = {0.1, 0.2, 0.3, 0.1, 0.1, 0.1};
    const double ref[6] = {0.2, 0.2, 0.2, 0.3, 0.3, 0.6};
    double ce[2];
    assert_float_equal(ns_corruption_mce(err, ref, 2, 3, ce), 0.625, 1e-12);
    assert_float_equal(ce[0], 1.0, 1e-12);
    assert_float_equal(ce[1], 0.25, 1e-12);
    assert_true(isnan(ns_corruption_ce(err, (const double[3]){0, 0, 0}, 3)));
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_every_op_listed),     cmocka_unit_test(test_deterministic_and_seeded),
        cmocka_unit_test(test_severity_monotone),   cmocka_unit_test(test_magnitude_mapping),
        cmocka_unit_test(test_jpeg_recompresses),   cmocka_unit_test(test_odd_sizes),
        cmocka_unit_test(test_options_refused),     cmocka_unit_test(test_spec_parsing),
        cmocka_unit_test(test_apply_threads_and_streams), cmocka_unit_test(test_ce_arithmetic),
    };
    return cmocka_run_group_tests(tests, setup, teardown);
}
