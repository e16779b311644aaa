/* Every op of every built-in set, at every level 0..30, on sizes from 1x1 to
 * 64x64 with 1 and 3 channels. Buffers are allocated to the exact size with
 * guard bytes behind them, so an out-of-bounds write shows up here even
 * without sanitizers (and under NS_SANITIZE, ASan catches reads too). */
#include "augment_test_util.h"

#include <math.h>
#include <string.h>

#define GUARD 64
#define GUARD_BYTE 0xA5

static const int sizes[] = {1, 2, 3, 4, 7, 8, 17, 28, 32, 33, 64};
#define N_SIZES (sizeof sizes / sizeof sizes[0])

static void check_guard(const uint8_t *p, size_t n, const char *what, const char *set, const char *op, int level,
                        int w, int h, int c)
{
    for (size_t i = 0; i < GUARD; i++)
        if (p[n + i] != GUARD_BYTE)
            fail_msg("%s %s level %d on %dx%dx%d wrote past the end of the %s", set, op, level, w, h, c, what);
}

static void sweep_set(const char *name)
{
    ns_augment_opset *s = open_set_or_fail(name);
    size_t calls = 0;
    for (size_t wi = 0; wi < N_SIZES; wi++)
        for (size_t hi = 0; hi < N_SIZES; hi++)
            for (int c = 1; c <= 3; c += 2) {
                int w = sizes[wi], h = sizes[hi];
                size_t n = (size_t)w * h * c;
                uint8_t *data = malloc(n + GUARD), *scratch = malloc(n + GUARD), *again = malloc(n);
                assert_non_null(data);
                assert_non_null(scratch);
                assert_non_null(again);
                for (size_t op = 0; op < ns_augment_opset_count(s); op++) {
                    const char *op_name = ns_augment_opset_op(s, op)->name;
                    for (int level = 0; level <= 30; level++) {
                        ns_image img = {data, w, h, c};
                        fill_random(&img, (uint64_t)level * 31 + op);
                        memset(data + n, GUARD_BYTE, GUARD);
                        memset(scratch, 0x11, n);
                        memset(scratch + n, GUARD_BYTE, GUARD);
                        ns_rng rng = ns_rng_make(42, (uint64_t)level);
                        ns_status st = ns_augment_opset_apply(s, op, &img, scratch, (float)level, &rng);
                        if (st != NS_OK)
                            fail_msg("%s: %s", op_name, ns_last_error());
                        /* the op set keeps the shape (apply checks pointer and shape) */
                        assert_int_equal(img.width, w);
                        assert_int_equal(img.height, h);
                        check_guard(data, n, "image", name, op_name, level, w, h, c);
                        check_guard(scratch, n, "scratch", name, op_name, level, w, h, c);
                        /* same rng, same input -> same output; scratch contents do not matter */
                        memcpy(again, data, n);
                        fill_random(&img, (uint64_t)level * 31 + op);
                        memset(scratch, 0xEE, n);
                        rng = ns_rng_make(42, (uint64_t)level);
                        assert_int_equal(ns_augment_opset_apply(s, op, &img, scratch, (float)level, &rng), NS_OK);
                        if (memcmp(again, data, n) != 0)
                            fail_msg("%s %s level %d on %dx%dx%d is not deterministic", name, op_name, level, w,
                                     h, c);
                        calls += 2;
                    }
                }
                free(data);
                free(scratch);
                free(again);
            }
    assert_true(calls > 0);
    ns_augment_opset_close(s);
}

static void test_randaugment_sweep(void **state)
{
    (void)state;
    sweep_set("randaugment");
}

static void test_seed_sweep(void **state)
{
    (void)state;
    sweep_set("seed");
}

/* Magnitudes the policy never produces still must not crash an op (a
 * third-party host may pass them): negative, huge, NaN. */
static void test_odd_magnitudes(void **state)
{
    (void)state;
    const char *sets[] = {"randaugment", "seed"};
    const float mags[] = {-5.0f, -1e9f, 1e9f, 1e30f, NAN, INFINITY, -INFINITY};
    for (int si = 0; si < 2; si++) {
        ns_augment_opset *s = open_set_or_fail(sets[si]);
        uint8_t data[9 * 7 * 3], scratch[9 * 7 * 3];
        for (size_t op = 0; op < ns_augment_opset_count(s); op++)
            for (size_t m = 0; m < sizeof mags / sizeof mags[0]; m++) {
                ns_image img = {data, 9, 7, 3};
                fill_random(&img, m);
                ns_rng rng = ns_rng_make(3, m);
                assert_int_equal(ns_augment_opset_apply(s, op, &img, scratch, mags[m], &rng), NS_OK);
            }
        ns_augment_opset_close(s);
    }
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_randaugment_sweep),
        cmocka_unit_test(test_seed_sweep),
        cmocka_unit_test(test_odd_magnitudes),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
