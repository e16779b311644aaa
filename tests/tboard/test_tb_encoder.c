/* The TensorBoard encoder by itself: CRC-32C against published vectors, the
 * mask, varints at their edges, fixed-width fields, and whole framed records
 * taken apart again by the small reader below (an independent decoder of
 * the same wire format, written from the protobuf encoding rules). */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "report/png_memory.h"
#include "report/tb_crc32c.h"
#include "report/tb_event.h"
#include "report/tb_proto.h"

/* ---- a minimal reader ---- */

typedef struct rd {
    const uint8_t *p;
    size_t n, pos;
} rd;

static uint64_t rd_varint(rd *r)
{
    uint64_t v = 0;
    for (int shift = 0; shift < 70; shift += 7) {
        assert_true(r->pos < r->n);
        uint8_t b = r->p[r->pos++];
        v |= (uint64_t)(b & 0x7F) << shift;
        if (!(b & 0x80))
            return v;
    }
    fail_msg("varint longer than 10 bytes");
    return 0;
}

static uint64_t rd_le(rd *r, int n)
{
    assert_true(r->pos + (size_t)n <= r->n);
    uint64_t v = 0;
    for (int i = 0; i < n; i++)
        v |= (uint64_t)r->p[r->pos++] << (8 * i);
    return v;
}

/* One field: its number, wire type, and either the integer value or the
 * bytes (length-delimited) as a sub-reader. */
typedef struct field {
    int number, type;
    uint64_t u;
    rd sub;
} field;

static int rd_field(rd *r, field *f)
{
    if (r->pos >= r->n)
        return 0;
    uint64_t key = rd_varint(r);
    f->number = (int)(key >> 3);
    f->type = (int)(key & 7);
    switch (f->type) {
    case 0: f->u = rd_varint(r); break;
    case 1: f->u = rd_le(r, 8); break;
    case 5: f->u = rd_le(r, 4); break;
    case 2: {
        uint64_t len = rd_varint(r);
        assert_true(r->pos + len <= r->n);
        f->sub = (rd){r->p + r->pos, (size_t)len, 0};
        r->pos += (size_t)len;
        break;
    }
    default: fail_msg("wire type %d", f->type);
    }
    return 1;
}

/* The single field `number` of message r (asserts it is there). */
static field rd_find(rd r, int number)
{
    field f;
    while (rd_field(&r, &f))
        if (f.number == number)
            return f;
    fail_msg("field %d missing", number);
    return f;
}

static int rd_has(rd r, int number)
{
    field f;
    while (rd_field(&r, &f))
        if (f.number == number)
            return 1;
    return 0;
}

static double as_double(uint64_t u)
{
    double d;
    memcpy(&d, &u, sizeof d);
    return d;
}

static float as_float(uint64_t u)
{
    uint32_t w = (uint32_t)u;
    float f;
    memcpy(&f, &w, sizeof f);
    return f;
}

/* Unframes the record at *pos of buf, checking both masked CRCs; returns its data. */
static rd unframe(const ns_pb *buf, size_t *pos)
{
    assert_true(*pos + 12 <= buf->len);
    const uint8_t *h = buf->data + *pos;
    uint64_t len = 0;
    for (int i = 0; i < 8; i++)
        len |= (uint64_t)h[i] << (8 * i);
    uint32_t hcrc = (uint32_t)h[8] | (uint32_t)h[9] << 8 | (uint32_t)h[10] << 16 | (uint32_t)h[11] << 24;
    assert_int_equal(hcrc, ns_crc32c_mask(ns_crc32c(h, 8)));
    assert_true(*pos + 16 + len <= buf->len);
    const uint8_t *d = h + 12, *t = d + len;
    uint32_t dcrc = (uint32_t)t[0] | (uint32_t)t[1] << 8 | (uint32_t)t[2] << 16 | (uint32_t)t[3] << 24;
    assert_int_equal(dcrc, ns_crc32c_mask(ns_crc32c(d, (size_t)len)));
    *pos += 16 + (size_t)len;
    return (rd){d, (size_t)len, 0};
}

/* ---- tests ---- */

static void test_crc32c_vectors(void **state)
{
    (void)state;
    /* The check value of CRC-32C, and RFC 3720's (iSCSI) B.4 vectors. */
    assert_int_equal(ns_crc32c("123456789", 9), 0xE3069283u);
    uint8_t buf[32];
    memset(buf, 0, sizeof buf);
    assert_int_equal(ns_crc32c(buf, 32), 0x8A9136AAu);
    memset(buf, 0xFF, sizeof buf);
    assert_int_equal(ns_crc32c(buf, 32), 0x62A8AB43u);
    for (int i = 0; i < 32; i++)
        buf[i] = (uint8_t)i;
    assert_int_equal(ns_crc32c(buf, 32), 0x46DD794Eu);
    for (int i = 0; i < 32; i++)
        buf[i] = (uint8_t)(31 - i);
    assert_int_equal(ns_crc32c(buf, 32), 0x113FDB5Cu);
    assert_int_equal(ns_crc32c("", 0), 0u);
}

static void test_crc32c_mask(void **state)
{
    (void)state;
    /* TensorFlow's crc32c::Mask: ((crc >> 15) | (crc << 17)) + 0xa282ead8. */
    assert_int_equal(ns_crc32c_mask(0), 0xa282ead8u);
    assert_int_equal(ns_crc32c_mask(0x00008000u), 0xa282ead9u);
    assert_int_equal(ns_crc32c_mask(0x00000001u), 0xa282ead8u + 0x00020000u);
    assert_int_equal(ns_crc32c_mask(0xE3069283u), ((0xE3069283u >> 15) | (0xE3069283u << 17)) + 0xa282ead8u);
}

static void expect_varint(uint64_t v, const uint8_t *bytes, size_t n)
{
    ns_pb b = {0};
    ns_pb_varint(&b, v);
    assert_int_equal(b.len, n);
    assert_memory_equal(b.data, bytes, n);
    rd r = {b.data, b.len, 0};
    assert_true(rd_varint(&r) == v);
    ns_pb_free(&b);
}

static void test_varint_edges(void **state)
{
    (void)state;
    expect_varint(0, (const uint8_t[]){0x00}, 1);
    expect_varint(1, (const uint8_t[]){0x01}, 1);
    expect_varint(127, (const uint8_t[]){0x7F}, 1);
    expect_varint(128, (const uint8_t[]){0x80, 0x01}, 2);
    expect_varint(300, (const uint8_t[]){0xAC, 0x02}, 2);
    expect_varint(16383, (const uint8_t[]){0xFF, 0x7F}, 2);
    expect_varint(16384, (const uint8_t[]){0x80, 0x80, 0x01}, 3);
    expect_varint(UINT32_MAX, (const uint8_t[]){0xFF, 0xFF, 0xFF, 0xFF, 0x0F}, 5);
    expect_varint(UINT64_MAX, (const uint8_t[]){0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0x01}, 10);
    /* A negative int64 is its two's complement: ten bytes. */
    ns_pb b = {0};
    ns_pb_int(&b, 2, -1);
    assert_int_equal(b.len, 11);
    assert_int_equal(b.data[0], 0x10); /* field 2, varint */
    assert_int_equal(b.data[10], 0x01);
    ns_pb_free(&b);
}

static void test_fixed_and_bytes(void **state)
{
    (void)state;
    ns_pb b = {0};
    ns_pb_double(&b, 1, 1.0);    /* 0x3FF0000000000000 */
    ns_pb_float(&b, 2, -2.0f);   /* 0xC0000000 */
    ns_pb_string(&b, 3, "abc");
    ns_pb_tag(&b, 536870911, 0); /* the largest field number */
    const uint8_t want[] = {0x09, 0, 0, 0, 0, 0, 0, 0xF0, 0x3F, 0x15, 0, 0, 0, 0xC0, 0x1A, 0x03, 'a', 'b', 'c',
                            0xF8, 0xFF, 0xFF, 0xFF, 0x0F};
    assert_int_equal(b.len, sizeof want);
    assert_memory_equal(b.data, want, sizeof want);
    assert_int_equal(ns_pb_status(&b, "t"), NS_OK);
    ns_pb_free(&b);
}

static void test_scalar_record_round_trip(void **state)
{
    (void)state;
    ns_pb out = {0};
    ns_tb_event_file_version(&out, 1700000000.25);
    ns_tb_event_scalar(&out, 1700000001.5, 123456789012LL, "epoch/test_acc", 0.8125f);
    assert_int_equal(ns_pb_status(&out, "t"), NS_OK);

    size_t pos = 0;
    rd ev = unframe(&out, &pos);
    assert_true(as_double(rd_find(ev, 1).u) == 1700000000.25);
    field fv = rd_find(ev, 3);
    assert_int_equal(fv.type, 2);
    assert_int_equal(fv.sub.n, strlen(NS_TB_FILE_VERSION));
    assert_memory_equal(fv.sub.p, NS_TB_FILE_VERSION, fv.sub.n);

    ev = unframe(&out, &pos);
    assert_true(as_double(rd_find(ev, 1).u) == 1700000001.5);
    assert_true(rd_find(ev, 2).u == 123456789012ULL);
    rd value = rd_find(rd_find(ev, 5).sub, 1).sub;
    field tag = rd_find(value, 1);
    assert_int_equal(tag.sub.n, strlen("epoch/test_acc"));
    assert_memory_equal(tag.sub.p, "epoch/test_acc", tag.sub.n);
    field sv = rd_find(value, 2);
    assert_int_equal(sv.type, 5);
    assert_true(as_float(sv.u) == 0.8125f);
    assert_int_equal(pos, out.len);
    ns_pb_free(&out);
}

static void test_text_image_session_records(void **state)
{
    (void)state;
    ns_pb out = {0};
    ns_tb_event_text(&out, 1.0, 0, "config", "    {\"a\": 1}");
    const uint8_t fake_png[5] = {1, 2, 3, 4, 5};
    ns_tb_event_image(&out, 2.0, 7, "augment/preview", fake_png, 5, 40, 30, 3);
    ns_tb_event_session_start(&out, 3.0, 42);
    size_t pos = 0;

    rd value = rd_find(rd_find(unframe(&out, &pos), 5).sub, 1).sub;
    rd tensor = rd_find(value, 8).sub;
    assert_int_equal(rd_find(tensor, 1).u, 7); /* DT_STRING */
    assert_int_equal(rd_find(tensor, 2).sub.n, 0); /* a scalar: no dims */
    field sv = rd_find(tensor, 8);
    assert_int_equal(sv.sub.n, strlen("    {\"a\": 1}"));
    rd plugin = rd_find(rd_find(value, 9).sub, 1).sub;
    field name = rd_find(plugin, 1);
    assert_int_equal(name.sub.n, 4);
    assert_memory_equal(name.sub.p, "text", 4);

    rd ev = unframe(&out, &pos);
    assert_int_equal(rd_find(ev, 2).u, 7);
    rd img = rd_find(rd_find(rd_find(ev, 5).sub, 1).sub, 4).sub;
    assert_int_equal(rd_find(img, 1).u, 30); /* height */
    assert_int_equal(rd_find(img, 2).u, 40); /* width */
    assert_int_equal(rd_find(img, 3).u, 3);  /* RGB */
    field enc = rd_find(img, 4);
    assert_int_equal(enc.sub.n, 5);
    assert_memory_equal(enc.sub.p, fake_png, 5);

    ev = unframe(&out, &pos);
    assert_int_equal(rd_find(ev, 2).u, 42);
    assert_false(rd_has(ev, 5));
    assert_int_equal(rd_find(rd_find(ev, 6).sub, 1).u, 1); /* SessionLog.START */
    assert_int_equal(pos, out.len);
    ns_pb_free(&out);
}

static void test_frame_detects_corruption(void **state)
{
    (void)state;
    /* The reader above trusts nothing: a flipped data byte changes the CRC. */
    ns_pb out = {0};
    ns_tb_event_scalar(&out, 1.0, 1, "x", 1.0f);
    uint32_t before = ns_crc32c(out.data + 12, out.len - 16);
    out.data[14] ^= 1;
    assert_int_not_equal(before, ns_crc32c(out.data + 12, out.len - 16));
    ns_pb_free(&out);
}

static void test_png_encode(void **state)
{
    (void)state;
    uint8_t px[6 * 4 * 3];
    for (size_t i = 0; i < sizeof px; i++)
        px[i] = (uint8_t)(i * 7);
    uint8_t *png;
    size_t len;
    assert_int_equal(ns_png_encode(px, 6, 4, 3, &png, &len), NS_OK);
    assert_true(len > 33);
    assert_memory_equal(png, "\x89PNG\r\n\x1a\n", 8);
    assert_int_equal(png[19], 6); /* width */
    assert_int_equal(png[23], 4); /* height */
    assert_int_equal(png[25], 2); /* RGB */
    free(png);
    assert_int_equal(ns_png_encode(px, 6, 4, 5, &png, &len), NS_ERR_INVALID_ARG);
    assert_null(png);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_crc32c_vectors),
        cmocka_unit_test(test_crc32c_mask),
        cmocka_unit_test(test_varint_edges),
        cmocka_unit_test(test_fixed_and_bytes),
        cmocka_unit_test(test_scalar_record_round_trip),
        cmocka_unit_test(test_text_image_session_records),
        cmocka_unit_test(test_frame_detects_corruption),
        cmocka_unit_test(test_png_encode),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
