/* Philox4x32-10 against the Random123 known-answer vectors (kat_vectors,
 * "philox4x32 10"), and the stream conventions every backend relies on. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include <noisystudent/rng.h>

static void check(const uint32_t ctr[4], const uint32_t key[2], const uint32_t want[4])
{
    uint32_t out[4];
    ns_philox4x32_10(ctr, key, out);
    for (int i = 0; i < 4; i++)
        assert_int_equal(out[i], want[i]);
}

static void test_kat_zero(void **state)
{
    (void)state;
    const uint32_t ctr[4] = {0, 0, 0, 0}, key[2] = {0, 0};
    const uint32_t want[4] = {0x6627e8d5u, 0xe169c58du, 0xbc57ac4cu, 0x9b00dbd8u};
    check(ctr, key, want);
}

static void test_kat_ones(void **state)
{
    (void)state;
    const uint32_t ctr[4] = {0xffffffffu, 0xffffffffu, 0xffffffffu, 0xffffffffu};
    const uint32_t key[2] = {0xffffffffu, 0xffffffffu};
    const uint32_t want[4] = {0x408f276du, 0x41c83b0eu, 0xa20bc7c6u, 0x6d5451fdu};
    check(ctr, key, want);
}

static void test_kat_pi(void **state)
{
    (void)state;
    const uint32_t ctr[4] = {0x243f6a88u, 0x85a308d3u, 0x13198a2eu, 0x03707344u};
    const uint32_t key[2] = {0xa4093822u, 0x299f31d0u};
    const uint32_t want[4] = {0xd16cfe09u, 0x94fdccebu, 0x5001e420u, 0x24126ea1u};
    check(ctr, key, want);
}

static void test_stream_layout(void **state)
{
    (void)state;
    /* Element i of (seed, stream) is word i%4 of block {i/4, stream} under key seed. */
    uint64_t seed = 0x0123456789abcdefull, stream = 0xfedcba9876543210ull;
    for (uint64_t i = 0; i < 16; i++) {
        uint32_t ctr[4] = {(uint32_t)(i / 4), 0, (uint32_t)stream, (uint32_t)(stream >> 32)};
        uint32_t key[2] = {(uint32_t)seed, (uint32_t)(seed >> 32)};
        uint32_t out[4];
        ns_philox4x32_10(ctr, key, out);
        assert_int_equal(ns_philox_u32_at(seed, stream, i), out[i % 4]);
    }
    ns_rng r = ns_rng_make(seed, stream);
    for (uint64_t i = 0; i < 10; i++)
        assert_int_equal(ns_rng_u32(&r), ns_philox_u32_at(seed, stream, i));
}

static void test_uniform_range_and_mean(void **state)
{
    (void)state;
    ns_rng r = ns_rng_make(7, 1);
    double sum = 0;
    const int n = 100000;
    for (int i = 0; i < n; i++) {
        float u = ns_rng_uniform(&r);
        assert_true(u >= 0.0f && u < 1.0f);
        sum += u;
    }
    assert_true(sum / n > 0.49 && sum / n < 0.51);
    assert_true(ns_u32_to_unit(0xffffffffu) < 1.0f);
    assert_true(ns_u32_to_unit(0) == 0.0f);
    for (int i = 0; i < 1000; i++)
        assert_true(ns_rng_below(&r, 7) < 7);
}

static void test_stream_ids_disjoint(void **state)
{
    (void)state;
    assert_true(ns_rng_stream_id(1, 0, 0) != ns_rng_stream_id(0, 1, 0));
    assert_true(ns_rng_stream_id(0, 1, 0) != ns_rng_stream_id(0, 0, 1));
    assert_int_equal(ns_rng_stream_id(0, 0, 5), 5);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_kat_zero),          cmocka_unit_test(test_kat_ones),
        cmocka_unit_test(test_kat_pi),            cmocka_unit_test(test_stream_layout),
        cmocka_unit_test(test_uniform_range_and_mean), cmocka_unit_test(test_stream_ids_disjoint),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
