/* The .nspl label file: round trip, and every kind of damage refused with one
 * line naming the file and what was expected. */
#include <math.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>

#include <cmocka.h>
#include <zlib.h>

#include "io/atomic_file.h"
#include "io/file_util.h"
#include "selftrain/label_file.h"
#include "selftrain_test_util.h"
#include "util/digest.h"
#include "util/error.h"

static void make_sample(ns_label_set *s, size_t n, int classes)
{
    assert_int_equal(ns_label_set_alloc(s, n, classes), NS_OK);
    snprintf(s->source, sizeof s->source, "folder:/data/unlabeled photos");
    for (int i = 0; i < NS_SHA256_BYTES; i++)
        s->labeled_by[i] = (uint8_t)(0xa0 + i);
    for (size_t i = 0; i < n; i++) {
        float *row = s->probs + i * (size_t)classes;
        float sum = 0;
        for (int k = 0; k < classes; k++)
            sum += row[k] = 1.0f + (float)((i * 7 + (size_t)k * 3) % 11);
        for (int k = 0; k < classes; k++)
            row[k] /= sum;
        s->source_id[i] = (uint32_t)(1000 + 3 * i);
        s->true_label[i] = i % 4 == 0 ? -1 : (int32_t)(i % (size_t)classes);
        ns_label_set_update_top(s, i);
    }
}

static void assert_sets_equal(const ns_label_set *a, const ns_label_set *b)
{
    assert_int_equal(a->classes, b->classes);
    assert_int_equal(a->count, b->count);
    assert_string_equal(a->source, b->source);
    assert_memory_equal(a->labeled_by, b->labeled_by, NS_SHA256_BYTES);
    assert_memory_equal(a->source_id, b->source_id, a->count * sizeof *a->source_id);
    assert_memory_equal(a->true_label, b->true_label, a->count * sizeof *a->true_label);
    assert_memory_equal(a->top, b->top, a->count * sizeof *a->top);
    assert_memory_equal(a->confidence, b->confidence, a->count * sizeof *a->confidence);
    assert_memory_equal(a->probs, b->probs, a->count * (size_t)a->classes * sizeof *a->probs);
}

static void test_round_trip(void **state)
{
    (void)state;
    char path[512];
    st_path(path, sizeof path, "round.nspl");
    ns_label_set a, b;
    make_sample(&a, 37, 10);
    assert_int_equal(ns_label_file_write(path, &a), NS_OK);
    assert_int_equal(ns_label_file_read(path, &b), NS_OK);
    assert_sets_equal(&a, &b);
    /* top/confidence follow the row: argmax, first on ties */
    for (size_t i = 0; i < b.count; i++)
        assert_float_equal(b.confidence[i], b.probs[i * 10 + (size_t)b.top[i]], 0);
    /* the reader knows the digest of the bytes it read (what a student records) */
    uint8_t file_digest[NS_SHA256_BYTES];
    assert_int_equal(ns_sha256_file(path, file_digest), NS_OK);
    assert_memory_equal(b.file_sha256, file_digest, NS_SHA256_BYTES);
    assert_false(ns_sha256_is_zero(b.file_sha256));
    ns_label_set_free(&b);
    ns_label_set_free(&a);
    /* an empty set round-trips too */
    make_sample(&a, 0, 3);
    assert_int_equal(ns_label_file_write(path, &a), NS_OK);
    assert_int_equal(ns_label_file_read(path, &b), NS_OK);
    assert_int_equal(b.count, 0);
    assert_int_equal(b.classes, 3);
    ns_label_set_free(&b);
    ns_label_set_free(&a);
    unlink(path);
}

/* Writes `bytes` to path and asserts the read is refused with `want` and a
 * message containing the path and `needle`. */
static void expect_refused(const char *path, const unsigned char *bytes, size_t n, ns_status want,
                           const char *needle)
{
    assert_int_equal(ns_atomic_write_buffer(path, bytes, n), NS_OK);
    ns_label_set s;
    memset(&s, 0x5a, sizeof s);
    ns_status st = ns_label_file_read(path, &s);
    if (st != want || !strstr(ns_last_error(), needle) || !strstr(ns_last_error(), path))
        fail_msg("%zu bytes: status %d, message '%s'; expected %d with '%s'", n, st, ns_last_error(), want, needle);
    assert_null(s.probs);
    assert_int_equal(s.count, 0);
}

static void test_truncated_and_corrupt_files_are_refused(void **state)
{
    (void)state;
    char path[512], bad[512];
    st_path(path, sizeof path, "good.nspl");
    st_path(bad, sizeof bad, "bad.nspl");
    ns_label_set a;
    make_sample(&a, 5, 4);
    assert_int_equal(ns_label_file_write(path, &a), NS_OK);
    ns_label_set_free(&a);
    unsigned char *buf = NULL;
    size_t n = 0;
    assert_int_equal(ns_read_file(path, 1 << 20, &buf, &n), NS_OK);
    const size_t src_len = strlen("folder:/data/unlabeled photos"), H = 20 + 32; /* version 2 header */
    assert_int_equal(n, H + src_len + 5 * (16 + 4 * 4) + 4);

    /* truncated: empty, inside the header, inside labeled_by, inside the source, inside a record, the CRC cut */
    const size_t cuts[] = {0, 3, 11, 30, H + 5, H + src_len + 17, n - 1};
    expect_refused(bad, buf, 0, NS_ERR_FORMAT, "at least 24");
    for (size_t i = 1; i < sizeof cuts / sizeof *cuts; i++)
        expect_refused(bad, buf, cuts[i], NS_ERR_FORMAT, cuts[i] < 24 ? "at least 24" : "truncated");
    /* trailing bytes */
    unsigned char *longer = malloc(n + 3);
    memcpy(longer, buf, n);
    memset(longer + n, 0, 3);
    expect_refused(bad, longer, n + 3, NS_ERR_FORMAT, "trailing bytes");
    free(longer);

    unsigned char *c = malloc(n);
    memcpy(c, buf, n);
    memcpy(c, "NSPX", 4);
    expect_refused(bad, c, n, NS_ERR_FORMAT, "expected \"NSPL\"");
    memcpy(c, buf, n);
    c[4] = 3;
    expect_refused(bad, c, n, NS_ERR_FORMAT, "version 3, expected 1..2");
    memcpy(c, buf, n);
    c[H + src_len + 30] ^= 0x40; /* a probability bit */
    expect_refused(bad, c, n, NS_ERR_FORMAT, "CRC-32");
    memcpy(c, buf, n);
    c[20 + 7] ^= 0x01; /* a bit of the labeling model's digest */
    expect_refused(bad, c, n, NS_ERR_FORMAT, "CRC-32");
    memcpy(c, buf, n);
    c[n - 2] ^= 1; /* the stored CRC itself */
    expect_refused(bad, c, n, NS_ERR_FORMAT, "corrupt file");
    memcpy(c, buf, n);
    c[12] = 6; /* count 6 but 5 records */
    expect_refused(bad, c, n, NS_ERR_FORMAT, "for 6 images x 4 classes (truncated)");
    free(c);
    free(buf);

    ns_label_set s;
    assert_int_equal(ns_label_file_read(st_path(bad, sizeof bad, "missing.nspl"), &s), NS_ERR_NOT_FOUND);
    unlink(path);
    st_path(bad, sizeof bad, "bad.nspl");
    unlink(bad);
}

/* Version 1 (before labeled_by) is still read, as of unknown origin: the
 * same records, labeled_by all zero. The file is made from a version 2 one
 * by hand: version 1, no digest, the CRC recomputed. */
static void test_version_1_reads_as_unknown_origin(void **state)
{
    (void)state;
    char path[512], old[512];
    st_path(path, sizeof path, "v2.nspl");
    st_path(old, sizeof old, "v1.nspl");
    ns_label_set a, b;
    make_sample(&a, 6, 3);
    assert_int_equal(ns_label_file_write(path, &a), NS_OK);
    unsigned char *buf = NULL;
    size_t n = 0;
    assert_int_equal(ns_read_file(path, 1 << 20, &buf, &n), NS_OK);
    unsigned char *v1 = malloc(n - 32);
    memcpy(v1, buf, 20);
    v1[4] = 1;
    memcpy(v1 + 20, buf + 52, n - 52 - 4);
    uint32_t crc = (uint32_t)crc32(crc32(0L, Z_NULL, 0), v1, (uInt)(n - 32 - 4));
    for (int i = 0; i < 4; i++)
        v1[n - 32 - 4 + (size_t)i] = (unsigned char)(crc >> (8 * i));
    assert_int_equal(ns_atomic_write_buffer(old, v1, n - 32), NS_OK);
    assert_int_equal(ns_label_file_read(old, &b), NS_OK);
    assert_true(ns_sha256_is_zero(b.labeled_by));
    memset(a.labeled_by, 0, sizeof a.labeled_by);
    assert_sets_equal(&a, &b);
    ns_label_set_free(&b);
    ns_label_set_free(&a);
    free(v1);
    free(buf);
    unlink(path);
    unlink(old);
}

static void test_write_refuses_out_of_range_records(void **state)
{
    (void)state;
    char path[512];
    st_path(path, sizeof path, "never.nspl");
    ns_label_set a;
    make_sample(&a, 3, 4);
    a.top[2] = 4;
    assert_int_equal(ns_label_file_write(path, &a), NS_ERR_INVALID_ARG);
    assert_non_null(strstr(ns_last_error(), "record 2 has top 4"));
    a.top[2] = 0;
    a.true_label[1] = -2;
    assert_int_equal(ns_label_file_write(path, &a), NS_ERR_INVALID_ARG);
    assert_false(ns_path_exists(path));
    ns_label_set_free(&a);
    assert_int_equal(ns_label_set_alloc(&a, 1, 0), NS_ERR_INVALID_ARG);
    assert_null(a.probs);
}

/* Stores float v at byte `at` of buf (little-endian) and recomputes the CRC,
 * so only the probability check can refuse the file. */
static void put_f32_fix_crc(unsigned char *buf, size_t n, size_t at, float v)
{
    uint32_t u;
    memcpy(&u, &v, sizeof u);
    for (int i = 0; i < 4; i++)
        buf[at + (size_t)i] = (unsigned char)(u >> (8 * i));
    uint32_t crc = (uint32_t)crc32(crc32(0L, Z_NULL, 0), buf, (uInt)(n - 4));
    for (int i = 0; i < 4; i++)
        buf[n - 4 + (size_t)i] = (unsigned char)(crc >> (8 * i));
}

/* A record's probabilities must be a distribution: NaN, infinite, negative or
 * > 1 values and rows that do not sum to 1 are refused even under a valid
 * CRC (a buggy writer computes a good CRC too), naming the record and its
 * byte offset; the writer refuses to write such a row at all. */
static void test_probabilities_must_be_a_distribution(void **state)
{
    (void)state;
    char path[512], bad[512], want[256];
    st_path(path, sizeof path, "dist.nspl");
    st_path(bad, sizeof bad, "dist-bad.nspl");
    enum { RECS = 4, CL = 3 };
    ns_label_set a;
    make_sample(&a, RECS, CL);
    assert_int_equal(ns_label_file_write(path, &a), NS_OK);
    unsigned char *buf = NULL, *c = NULL;
    size_t n = 0;
    assert_int_equal(ns_read_file(path, 1 << 20, &buf, &n), NS_OK);
    c = malloc(n);
    const size_t src_len = strlen("folder:/data/unlabeled photos"), rec = 16 + 4 * CL;
    const size_t rec2 = 20 + 32 + src_len + 2 * rec; /* record 2's first byte */
    const float bad_values[] = {NAN, INFINITY, -0.25f, 1.5f};
    const char *shown[] = {"probability 1 is nan", "probability 1 is inf", "probability 1 is -0.25",
                           "probability 1 is 1.5"};
    for (size_t i = 0; i < sizeof bad_values / sizeof *bad_values; i++) {
        memcpy(c, buf, n);
        put_f32_fix_crc(c, n, rec2 + 16 + 4, bad_values[i]);
        snprintf(want, sizeof want, "record 2 at offset %zu: %s", rec2, shown[i]);
        expect_refused(bad, c, n, NS_ERR_FORMAT, want);
    }
    /* a row summing to 0.9 (each value still in [0, 1]) */
    memcpy(c, buf, n);
    for (int k = 0; k < CL; k++)
        put_f32_fix_crc(c, n, rec2 + 16 + 4 * (size_t)k, a.probs[2 * CL + k] * 0.9f);
    snprintf(want, sizeof want, "record 2 at offset %zu: probabilities sum to 0.9", rec2);
    expect_refused(bad, c, n, NS_ERR_FORMAT, want);
    /* within the tolerance (a float softmax's rounding) is fine */
    memcpy(c, buf, n);
    put_f32_fix_crc(c, n, rec2 + 16, a.probs[2 * CL] + 2e-4f);
    assert_int_equal(ns_atomic_write_buffer(bad, c, n), NS_OK);
    ns_label_set b;
    assert_int_equal(ns_label_file_read(bad, &b), NS_OK);
    ns_label_set_free(&b);

    /* the writer: nothing written for a NaN or an unnormalised row */
    unlink(bad);
    a.probs[1 * CL + 2] = NAN;
    assert_int_equal(ns_label_file_write(bad, &a), NS_ERR_INVALID_ARG);
    assert_non_null(strstr(ns_last_error(), "record 1: probability 2 is nan"));
    assert_false(ns_path_exists(bad));
    a.probs[1 * CL + 2] = 0.7f;
    assert_int_equal(ns_label_file_write(bad, &a), NS_ERR_INVALID_ARG);
    assert_non_null(strstr(ns_last_error(), "record 1: probabilities sum to"));
    assert_false(ns_path_exists(bad));
    ns_label_set_free(&a);
    free(c);
    free(buf);
    unlink(path);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_round_trip),
        cmocka_unit_test(test_truncated_and_corrupt_files_are_refused),
        cmocka_unit_test(test_version_1_reads_as_unknown_origin),
        cmocka_unit_test(test_write_refuses_out_of_range_records),
        cmocka_unit_test(test_probabilities_must_be_a_distribution),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
