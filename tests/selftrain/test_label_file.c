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
    assert_int_equal(a->tta, b->tta);
    assert_true(ns_class_names_equal(&a->class_names, &b->class_names));
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

static void fix_crc(unsigned char *b, size_t n)
{
    uint32_t crc = (uint32_t)crc32(crc32(0L, Z_NULL, 0), b, (uInt)(n - 4));
    for (int i = 0; i < 4; i++)
        b[n - 4 + (size_t)i] = (unsigned char)(crc >> (8 * i));
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
    /* version 3: header with labeled_by, the source, then the names "[]" (none) */
    const size_t src_len = strlen("folder:/data/unlabeled photos"), H = 20 + 32, N = 4 + 2;
    assert_int_equal(n, H + src_len + N + 5 * (16 + 4 * 4) + 4);

    /* truncated: empty, inside the header, inside labeled_by, inside the source, inside a record, the CRC cut */
    const size_t cuts[] = {0, 3, 11, 30, H + 5, H + src_len + 2, H + src_len + N + 17, n - 1};
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
    c[4] = 5;
    expect_refused(bad, c, n, NS_ERR_FORMAT, "version 5, expected 1..4");
    memcpy(c, buf, n);
    c[H + src_len + N + 30] ^= 0x40; /* a probability bit */
    expect_refused(bad, c, n, NS_ERR_FORMAT, "CRC-32");
    memcpy(c, buf, n);
    c[H + src_len + 4] = '{'; /* the names are no JSON array; the CRC made to match */
    fix_crc(c, n);
    expect_refused(bad, c, n, NS_ERR_FORMAT, "class_names: expected a JSON array");
    memcpy(c, buf, n);
    c[H + src_len + 2] = 0x10; /* names length 1 MiB + 2, past the end */
    fix_crc(c, n);
    expect_refused(bad, c, n, NS_ERR_FORMAT, "class names of 1048578 bytes");
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

/* Rewrites a version 3 file as an older version: version 1 drops labeled_by
 * (bytes 20..51), both drop the names field after the source; CRC recomputed. */
static size_t downgrade(const unsigned char *v3, size_t n, int version, size_t src_len, size_t names_field,
                        unsigned char *out)
{
    const size_t header = version == 1 ? 20 : 52;
    memcpy(out, v3, 20);
    out[4] = (unsigned char)version;
    if (version >= 2)
        memcpy(out + 20, v3 + 20, 32);
    memcpy(out + header, v3 + 52, src_len);
    const size_t records = n - 52 - src_len - names_field - 4;
    memcpy(out + header + src_len, v3 + 52 + src_len + names_field, records);
    const size_t m = header + src_len + records;
    uint32_t crc = (uint32_t)crc32(crc32(0L, Z_NULL, 0), out, (uInt)m);
    for (int i = 0; i < 4; i++)
        out[m + (size_t)i] = (unsigned char)(crc >> (8 * i));
    return m + 4;
}

/* Versions 1 (before labeled_by) and 2 (before class names) are still read:
 * the same records; version 1 of unknown origin, neither with names. */
static void test_old_versions_still_read(void **state)
{
    (void)state;
    char path[512], old[512];
    st_path(path, sizeof path, "v3.nspl");
    st_path(old, sizeof old, "old.nspl");
    ns_label_set a, b;
    make_sample(&a, 6, 3);
    const char *names[3] = {"T-shirt/top", "ünïcode ok", "x"};
    assert_int_equal(ns_class_names_set(&a.class_names, 3, names), NS_OK);
    assert_int_equal(ns_label_file_write(path, &a), NS_OK);
    unsigned char *buf = NULL;
    size_t n = 0;
    assert_int_equal(ns_read_file(path, 1 << 20, &buf, &n), NS_OK);
    char *json = NULL;
    assert_int_equal(ns_class_names_to_json(&a.class_names, &json), NS_OK);
    const size_t src_len = strlen(a.source), names_field = 4 + strlen(json);
    free(json);
    unsigned char *older = malloc(n);
    for (int version = 1; version <= 2; version++) {
        const size_t m = downgrade(buf, n, version, src_len, names_field, older);
        assert_int_equal(ns_atomic_write_buffer(old, older, m), NS_OK);
        assert_int_equal(ns_label_file_read(old, &b), NS_OK);
        assert_int_equal(b.class_names.n, 0);
        if (version == 1)
            assert_true(ns_sha256_is_zero(b.labeled_by));
        else
            assert_memory_equal(b.labeled_by, a.labeled_by, NS_SHA256_BYTES);
        ns_label_set c;
        memcpy(&c, &a, sizeof c); /* the records and source compared without names / digest */
        memset(&c.class_names, 0, sizeof c.class_names);
        if (version == 1)
            memset(c.labeled_by, 0, sizeof c.labeled_by);
        assert_sets_equal(&c, &b);
        ns_label_set_free(&b);
    }
    /* and version 3 keeps the names */
    assert_int_equal(ns_label_file_read(path, &b), NS_OK);
    assert_int_equal(b.class_names.n, 3);
    assert_string_equal(b.class_names.names[1], "ünïcode ok");
    assert_sets_equal(&a, &b);
    ns_label_set_free(&b);
    ns_label_set_free(&a);
    free(older);
    free(buf);
    unlink(path);
    unlink(old);
}

static void unknown_tta_not_written(const char *path)
{
    ns_label_set a;
    make_sample(&a, 2, 3);
    a.tta = (ns_tta)7;
    unlink(path);
    assert_int_equal(ns_label_file_write(path, &a), NS_ERR_INVALID_ARG);
    assert_non_null(strstr(ns_last_error(), "unknown test-time augmentation 7"));
    assert_int_equal(ns_path_exists(path), 0);
    ns_label_set_free(&a);
}

/* The TTA the teacher labeled with: none writes version 3, the bytes of a
 * build without TTA (the version field, and a size without any TTA field);
 * flip and flip+crops write version 4 with the spelling after the names, and
 * read back as what they were. A damaged spelling or its length is refused. */
static void test_tta_recorded(void **state)
{
    (void)state;
    char path[512], bad[512];
    st_path(path, sizeof path, "tta.nspl");
    st_path(bad, sizeof bad, "tta-bad.nspl");
    const size_t src_len = strlen("folder:/data/unlabeled photos"), H = 20 + 32, N = 4 + 2, R = 5 * (16 + 4 * 4);
    const ns_tta kinds[] = {NS_TTA_NONE, NS_TTA_FLIP, NS_TTA_FLIP_CROPS};
    const char *spelled[] = {"", "flip", "flip+crops"};
    for (int t = 0; t < 3; t++) {
        ns_label_set a, b;
        make_sample(&a, 5, 4);
        a.tta = kinds[t];
        assert_int_equal(ns_label_file_write(path, &a), NS_OK);
        unsigned char *buf = NULL;
        size_t n = 0;
        assert_int_equal(ns_read_file(path, 1 << 20, &buf, &n), NS_OK);
        if (kinds[t] == NS_TTA_NONE) {
            assert_int_equal(buf[4], 3);
            assert_int_equal(n, H + src_len + N + R + 4);
        } else {
            const size_t len = strlen(spelled[t]);
            assert_int_equal(buf[4], 4);
            assert_int_equal(n, H + src_len + N + 4 + len + R + 4);
            assert_int_equal(buf[H + src_len + N], len);
            assert_memory_equal(buf + H + src_len + N + 4, spelled[t], len);
        }
        assert_int_equal(ns_label_file_read(path, &b), NS_OK);
        assert_int_equal(b.tta, kinds[t]);
        assert_sets_equal(&a, &b);
        ns_label_set_free(&b);
        if (kinds[t] == NS_TTA_FLIP) {
            unsigned char *c = malloc(n);
            memcpy(c, buf, n);
            memcpy(c + H + src_len + N + 4, "flop", 4);
            fix_crc(c, n);
            expect_refused(bad, c, n, NS_ERR_FORMAT, "test-time augmentation 'flop'");
            memcpy(c, buf, n);
            c[H + src_len + N + 1] = 1; /* a 260-byte spelling */
            fix_crc(c, n);
            expect_refused(bad, c, n, NS_ERR_FORMAT, "TTA spelling of 260 bytes");
            memcpy(c, buf, n);
            c[H + src_len + N] = 40; /* 40 bytes: past the records' start, so the size is wrong */
            fix_crc(c, n);
            expect_refused(bad, c, n, NS_ERR_FORMAT, "(truncated)");
            /* a version 4 file may say none (another writer): read as none */
            unsigned char *none = malloc(n);
            memcpy(none, buf, H + src_len + N);
            none[H + src_len + N] = 4;
            memset(none + H + src_len + N + 1, 0, 3);
            memcpy(none + H + src_len + N + 4, "none", 4);
            memcpy(none + H + src_len + N + 8, buf + H + src_len + N + 8, n - (H + src_len + N + 8));
            fix_crc(none, n);
            assert_int_equal(ns_atomic_write_buffer(bad, none, n), NS_OK);
            assert_int_equal(ns_label_file_read(bad, &b), NS_OK);
            assert_int_equal(b.tta, NS_TTA_NONE);
            ns_label_set_free(&b);
            free(none);
            free(c);
        }
        ns_label_set_free(&a);
        free(buf);
    }
    unknown_tta_not_written(path);
    unlink(path);
    unlink(bad);
}

static void test_names_must_match_classes(void **state)
{
    (void)state;
    char path[512];
    st_path(path, sizeof path, "names.nspl");
    ns_label_set a;
    make_sample(&a, 3, 4);
    const char *two[2] = {"a", "b"};
    assert_int_equal(ns_class_names_set(&a.class_names, 2, two), NS_OK);
    assert_int_equal(ns_label_file_write(path, &a), NS_ERR_INVALID_ARG);
    assert_non_null(strstr(ns_last_error(), "2 class names for 4 classes"));
    ns_label_set_free(&a);
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
    const size_t rec2 = 20 + 32 + src_len + (4 + 2) + 2 * rec; /* record 2's first byte (v3: after the names "[]") */
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
        cmocka_unit_test(test_old_versions_still_read),
        cmocka_unit_test(test_tta_recorded),
        cmocka_unit_test(test_names_must_match_classes),
        cmocka_unit_test(test_write_refuses_out_of_range_records),
        cmocka_unit_test(test_probabilities_must_be_a_distribution),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
