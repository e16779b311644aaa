#include "io_test_util.h"

#include <jansson.h>
#include <limits.h>
#include <stdint.h>

#include "io/atomic_file.h"
#include "io/safetensors.h"

static char dir[PATH_MAX];

static int setup(void **state)
{
    (void)state;
    io_scratch(dir, sizeof dir, "safetensors");
    return 0;
}

static int teardown(void **state)
{
    (void)state;
    io_rm_rf(dir);
    return 0;
}

static void file_path(char *buf, const char *name)
{
    io_join(buf, PATH_MAX, dir, name);
}

static const ns_st_view *find_ok(const ns_safetensors *st, const char *name)
{
    const ns_st_view *v = ns_safetensors_find(st, name);
    if (!v)
        fail_msg("tensor '%s' not found", name);
    return v;
}

static void test_round_trip(void **state)
{
    (void)state;
    char path[PATH_MAX];
    file_path(path, "round.safetensors");
    const float w[6] = {1.5f, -2.0f, 3.25f, 0.0f, -0.0f, 1e-30f};
    const int64_t steps[4] = {0, -1, INT64_MAX, INT64_MIN};
    const uint8_t mask[3] = {0, 255, 7};
    const float scalar = 42.0f;
    /* U8 first so that the F32 after it sits at an odd offset in the file:
     * the reader must still hand out aligned data. */
    const ns_st_tensor t[] = {
        {.name = "mask", .dtype = NS_ST_U8, .ndim = 1, .shape = {3}, .data = mask},
        {.name = "layer1.weight", .dtype = NS_ST_F32, .ndim = 2, .shape = {2, 3}, .data = w},
        {.name = "step", .dtype = NS_ST_I64, .ndim = 1, .shape = {4}, .data = steps},
        {.name = "empty", .dtype = NS_ST_F32, .ndim = 2, .shape = {0, 5}, .data = NULL},
        {.name = "scale", .dtype = NS_ST_F32, .ndim = 0, .data = &scalar},
    };
    const ns_st_meta meta[] = {{"format", "pt"}, {"epoch", "12"}, {"note", "caf\xc3\xa9"}};
    assert_int_equal(ns_safetensors_write(path, t, 5, meta, 3), NS_OK);
    assert_int_equal(io_count_matching(dir, ".tmp."), 0);

    ns_safetensors *st;
    assert_int_equal(ns_safetensors_open(path, &st), NS_OK);
    assert_string_equal(ns_safetensors_path(st), path);
    assert_int_equal(ns_safetensors_count(st), 5);

    const ns_st_view *v = find_ok(st, "layer1.weight");
    assert_int_equal(v->dtype, NS_ST_F32);
    assert_int_equal(v->ndim, 2);
    assert_int_equal(v->shape[0], 2);
    assert_int_equal(v->shape[1], 3);
    assert_int_equal(v->nbytes, sizeof w);
    assert_int_equal((uintptr_t)v->data % 4, 0);
    assert_memory_equal(v->data, w, sizeof w);

    v = find_ok(st, "step");
    assert_int_equal(v->dtype, NS_ST_I64);
    assert_int_equal((uintptr_t)v->data % 8, 0);
    assert_memory_equal(v->data, steps, sizeof steps);
    assert_int_equal(((const int64_t *)v->data)[2], INT64_MAX);

    v = find_ok(st, "mask");
    assert_int_equal(v->dtype, NS_ST_U8);
    assert_int_equal(v->nbytes, 3);
    assert_memory_equal(v->data, mask, 3);

    v = find_ok(st, "empty");
    assert_int_equal(v->nbytes, 0);
    assert_int_equal(v->shape[1], 5);

    v = find_ok(st, "scale");
    assert_int_equal(v->ndim, 0);
    assert_int_equal(v->nbytes, 4);
    assert_true(*(const float *)v->data == 42.0f);

    assert_null(ns_safetensors_find(st, "nope"));
    assert_null(ns_safetensors_find(st, ""));

    /* tensor(i) follows the data order, which is the order written */
    assert_string_equal(ns_safetensors_tensor(st, 0)->name, "mask");
    assert_string_equal(ns_safetensors_tensor(st, 1)->name, "layer1.weight");
    assert_string_equal(ns_safetensors_tensor(st, 2)->name, "step");
    assert_null(ns_safetensors_tensor(st, 5));

    assert_string_equal(ns_safetensors_meta(st, "format"), "pt");
    assert_string_equal(ns_safetensors_meta(st, "epoch"), "12");
    assert_string_equal(ns_safetensors_meta(st, "note"), "caf\xc3\xa9");
    assert_null(ns_safetensors_meta(st, "absent"));
    assert_int_equal(ns_safetensors_meta_count(st), 3);
    const char *k, *val;
    assert_int_equal(ns_safetensors_meta_at(st, 1, &k, &val), 1);
    assert_string_equal(k, "epoch");
    assert_string_equal(val, "12");
    assert_int_equal(ns_safetensors_meta_at(st, 3, &k, &val), 0);
    ns_safetensors_close(st);

    /* no tensors, no metadata: the header is "{}" padded to 8 */
    assert_int_equal(ns_safetensors_write(path, NULL, 0, NULL, 0), NS_OK);
    assert_int_equal(ns_safetensors_open(path, &st), NS_OK);
    assert_int_equal(ns_safetensors_count(st), 0);
    assert_int_equal(ns_safetensors_meta_count(st), 0);
    ns_safetensors_close(st);
}

/* The two-tensor file of test_byte_layout, built by hand from the spec. */
static const char layout_header[] =
    "{\"__metadata__\":{\"format\":\"pt\"},"
    "\"a\":{\"dtype\":\"F32\",\"shape\":[2],\"data_offsets\":[0,8]},"
    "\"b\":{\"dtype\":\"U8\",\"shape\":[3],\"data_offsets\":[8,11]}}";

static void test_byte_layout(void **state)
{
    (void)state;
    char path[PATH_MAX];
    file_path(path, "layout.safetensors");
    const float a[2] = {1.0f, -2.0f};
    const uint8_t b[3] = {1, 2, 3};
    const ns_st_tensor t[] = {
        {.name = "a", .dtype = NS_ST_F32, .ndim = 1, .shape = {2}, .data = a},
        {.name = "b", .dtype = NS_ST_U8, .ndim = 1, .shape = {3}, .data = b},
    };
    const ns_st_meta meta[] = {{"format", "pt"}};
    assert_int_equal(ns_safetensors_write(path, t, 2, meta, 1), NS_OK);

    /* expected: u64 LE N, header padded with spaces to N (a multiple of 8),
     * then a as IEEE-754 little-endian, then b */
    size_t hlen = strlen(layout_header);
    assert_int_equal(hlen, 138);
    const size_t n = 144;
    unsigned char want[8 + 144 + 11];
    const unsigned char prefix[8] = {144, 0, 0, 0, 0, 0, 0, 0};
    memcpy(want, prefix, 8);
    memcpy(want + 8, layout_header, hlen);
    memset(want + 8 + hlen, ' ', n - hlen);
    const unsigned char data[11] = {0x00, 0x00, 0x80, 0x3f, 0x00, 0x00, 0x00, 0xc0, 1, 2, 3};
    memcpy(want + 8 + n, data, sizeof data);

    size_t size;
    char *got = io_slurp(path, &size);
    assert_int_equal(size, sizeof want);
    assert_memory_equal(got, want, sizeof want);

    /* and the same facts read structurally, as a foreign reader would */
    uint64_t len = 0;
    for (int i = 0; i < 8; i++)
        len |= (uint64_t)(unsigned char)got[i] << (8 * i);
    assert_int_equal(len % 8, 0);
    json_error_t err;
    json_t *h = json_loadb(got + 8, (size_t)len, 0, &err);
    assert_non_null(h);
    json_t *offs = json_object_get(json_object_get(h, "b"), "data_offsets");
    assert_int_equal(json_integer_value(json_array_get(offs, 0)), 8);
    assert_int_equal(json_integer_value(json_array_get(offs, 1)), 11);
    json_decref(h);
    assert_memory_equal(got + 8 + len + 8, b, 3);
    free(got);
}

/* Writes the 8-byte LE length (hlen_override when non-zero, else the header
 * length), the header unpadded, and the data. */
static void write_raw(const char *path, const char *header, uint64_t hlen_override,
                      const void *data, size_t data_len)
{
    size_t h = strlen(header);
    size_t total = 8 + h + data_len;
    unsigned char *buf = malloc(total);
    assert_non_null(buf);
    uint64_t len = hlen_override ? hlen_override : h;
    for (int i = 0; i < 8; i++)
        buf[i] = (unsigned char)(len >> (8 * i));
    memcpy(buf + 8, header, h);
    if (data_len)
        memcpy(buf + 8 + h, data, data_len);
    assert_int_equal(ns_atomic_write_buffer(path, buf, total), NS_OK);
    free(buf);
}

/* Opening must fail with `want` and an error naming the file and `part`. */
static void expect_refused(const char *path, ns_status want, const char *part)
{
    ns_safetensors *st = (ns_safetensors *)1;
    ns_status got = ns_safetensors_open(path, &st);
    if (got != want)
        fail_msg("%s: expected status %d, got %d (%s)", path, want, got, ns_last_error());
    assert_null(st);
    io_expect_error(path, part, NULL);
}

static void refuse_header(const char *name, const char *header, size_t data_len,
                          ns_status want, const char *part)
{
    char path[PATH_MAX];
    file_path(path, name);
    unsigned char data[64] = {0};
    assert_true(data_len <= sizeof data);
    write_raw(path, header, 0, data, data_len);
    expect_refused(path, want, part);
}

static void test_unpadded_header_accepted(void **state)
{
    (void)state;
    char path[PATH_MAX];
    file_path(path, "unpadded.safetensors");
    const float v[2] = {3.0f, 4.0f};
    write_raw(path, "{\"x\":{\"dtype\":\"F32\",\"shape\":[2],\"data_offsets\":[0,8]}}", 0, v, 8);
    ns_safetensors *st;
    assert_int_equal(ns_safetensors_open(path, &st), NS_OK);
    const ns_st_view *x = find_ok(st, "x");
    assert_int_equal((uintptr_t)x->data % 4, 0); /* header of odd length: copied */
    assert_memory_equal(x->data, v, 8);
    ns_safetensors_close(st);
}

static void test_truncated_files(void **state)
{
    (void)state;
    char path[PATH_MAX], cut[PATH_MAX];
    file_path(path, "whole.safetensors");
    file_path(cut, "cut.safetensors");
    const float a[4] = {1, 2, 3, 4};
    const ns_st_tensor t[] = {
        {.name = "a", .dtype = NS_ST_F32, .ndim = 2, .shape = {2, 2}, .data = a},
    };
    assert_int_equal(ns_safetensors_write(path, t, 1, NULL, 0), NS_OK);
    size_t size;
    char *whole = io_slurp(path, &size);
    size_t hlen = size - 8 - sizeof a;
    const size_t cuts[] = {0, 1, 7, 8, 9, 8 + hlen / 2, 8 + hlen - 1, 8 + hlen, 8 + hlen + 3,
                           size - 1};
    for (size_t i = 0; i < sizeof cuts / sizeof cuts[0]; i++) {
        assert_int_equal(ns_atomic_write_buffer(cut, whole, cuts[i]), NS_OK);
        ns_safetensors *st;
        ns_status s = ns_safetensors_open(cut, &st);
        if (s != NS_ERR_FORMAT)
            fail_msg("cut at %zu of %zu: status %d (%s)", cuts[i], size, s, ns_last_error());
        io_expect_error(cut, NULL);
    }
    free(whole);
    assert_int_equal(ns_atomic_write_buffer(cut, "1234567", 7), NS_OK);
    expect_refused(cut, NS_ERR_FORMAT, "shorter than the 8-byte");
}

static void test_header_length(void **state)
{
    (void)state;
    char path[PATH_MAX];
    file_path(path, "hlen.safetensors");
    write_raw(path, "{}", 1000, NULL, 0);
    expect_refused(path, NS_ERR_FORMAT, "header length 1000 runs past the end");
    write_raw(path, "{}", 1ull << 40, NULL, 0);
    expect_refused(path, NS_ERR_FORMAT, "over the 100000000-byte limit");
    file_path(path, "missing.safetensors");
    expect_refused(path, NS_ERR_NOT_FOUND, "cannot open");
}

static void test_bad_json(void **state)
{
    (void)state;
    refuse_header("json1", "{\"a\":", 0, NS_ERR_FORMAT, "not valid JSON");
    refuse_header("json2", "[1,2]", 0, NS_ERR_FORMAT, "header is an array, expected a JSON object");
    refuse_header("json3", "{\"a\":{\"dtype\":\"U8\",\"shape\":[1],\"data_offsets\":[0,1]},"
                           "\"a\":{\"dtype\":\"U8\",\"shape\":[1],\"data_offsets\":[1,2]}}",
                  2, NS_ERR_FORMAT, "not valid JSON");
    refuse_header("json4", "{\"a\":\"\xff\"}", 0, NS_ERR_FORMAT, "not valid JSON");
    refuse_header("json5", "{} x", 0, NS_ERR_FORMAT, "not valid JSON");
}

static void test_bad_entries(void **state)
{
    (void)state;
    refuse_header("e1", "{\"w\":{\"shape\":[1],\"data_offsets\":[0,4]}}", 4, NS_ERR_FORMAT,
                  "tensor 'w' has no \"dtype\"");
    refuse_header("e2", "{\"w\":{\"dtype\":\"F32\",\"data_offsets\":[0,4]}}", 4, NS_ERR_FORMAT,
                  "tensor 'w' has no \"shape\"");
    refuse_header("e3", "{\"w\":{\"dtype\":\"F32\",\"shape\":[1]}}", 4, NS_ERR_FORMAT,
                  "tensor 'w' has no \"data_offsets\"");
    refuse_header("e4", "{\"w\":{\"dtype\":\"F32\",\"shape\":\"1\",\"data_offsets\":[0,4]}}", 4,
                  NS_ERR_FORMAT, "tensor 'w': \"shape\" is a string, expected an array");
    refuse_header("e5", "{\"w\":{\"dtype\":32,\"shape\":[1],\"data_offsets\":[0,4]}}", 4,
                  NS_ERR_FORMAT, "\"dtype\" is an integer, expected a string");
    refuse_header("e6", "{\"w\":{\"dtype\":\"F32\",\"shape\":[1],\"data_offsets\":[0,4,8]}}", 8,
                  NS_ERR_FORMAT, "expected [begin, end]");
    refuse_header("e7", "{\"w\":{\"dtype\":\"F32\",\"shape\":[1.0],\"data_offsets\":[0,4]}}", 4,
                  NS_ERR_FORMAT, "shape[0] is a real number, expected a non-negative integer");
    refuse_header("e8", "{\"w\":{\"dtype\":\"F32\",\"shape\":[-1],\"data_offsets\":[0,4]}}", 4,
                  NS_ERR_FORMAT, "shape[0] is negative");
    refuse_header("e9", "{\"w\":[1,2]}", 0, NS_ERR_FORMAT, "tensor 'w' is an array");
    refuse_header("e10",
                  "{\"w\":{\"dtype\":\"F32\",\"shape\":[1],\"data_offsets\":[0,4],\"x\":1}}", 4,
                  NS_ERR_FORMAT, "unexpected key \"x\"");
    refuse_header("e11", "{\"w\":{\"dtype\":\"F128\",\"shape\":[1],\"data_offsets\":[0,16]}}", 16,
                  NS_ERR_FORMAT, "tensor 'w': unknown dtype \"F128\"");
    refuse_header("e11b", "{\"w\":{\"dtype\":\"F4\",\"shape\":[2],\"data_offsets\":[0,1]}}", 1,
                  NS_ERR_UNSUPPORTED, "tensor 'w': sub-byte dtype \"F4\"");
    refuse_header("e12", "{\"__metadata__\":{\"k\":1}}", 0, NS_ERR_FORMAT,
                  "metadata 'k' is an integer, expected a string");
    refuse_header("e13", "{\"__metadata__\":[]}", 0, NS_ERR_FORMAT,
                  "\"__metadata__\" is an array, expected an object");
    refuse_header("e14", "{\"w\":{\"dtype\":\"U8\",\"shape\":[1,1,1,1,1,1,1,1,1],"
                         "\"data_offsets\":[0,1]}}",
                  1, NS_ERR_UNSUPPORTED, "9 dimensions");
    refuse_header("e15", "{\"w\":{\"dtype\":\"F32\",\"shape\":[1],\"data_offsets\":[-4,0]}}", 0,
                  NS_ERR_FORMAT, "data_offsets[0] is negative");
}

static void test_bad_offsets(void **state)
{
    (void)state;
    refuse_header("o1",
                  "{\"a\":{\"dtype\":\"F32\",\"shape\":[2],\"data_offsets\":[0,8]},"
                  "\"b\":{\"dtype\":\"F32\",\"shape\":[2],\"data_offsets\":[4,12]}}",
                  12, NS_ERR_FORMAT, "tensor 'b': data_offsets [4, 12] overlap tensor 'a'");
    refuse_header("o2", "{\"a\":{\"dtype\":\"F32\",\"shape\":[2],\"data_offsets\":[0,8]}}", 4,
                  NS_ERR_FORMAT, "tensor 'a': data_offsets [0, 8] run past the 4 data bytes");
    refuse_header("o3",
                  "{\"a\":{\"dtype\":\"F32\",\"shape\":[1],\"data_offsets\":[0,4]},"
                  "\"b\":{\"dtype\":\"F32\",\"shape\":[1],\"data_offsets\":[8,12]}}",
                  12, NS_ERR_FORMAT, "tensor 'b': data_offsets begin at 8, leaving a gap of 4");
    refuse_header("o4", "{\"a\":{\"dtype\":\"F32\",\"shape\":[1],\"data_offsets\":[4,8]}}", 8,
                  NS_ERR_FORMAT, "gap of 4 bytes after the start of the data");
    refuse_header("o5", "{\"a\":{\"dtype\":\"F32\",\"shape\":[1],\"data_offsets\":[0,4]}}", 8,
                  NS_ERR_FORMAT, "data bytes [4, 8) belong to no tensor");
    refuse_header("o6", "{\"a\":{\"dtype\":\"F32\",\"shape\":[3],\"data_offsets\":[0,8]}}", 8,
                  NS_ERR_FORMAT, "tensor 'a': data_offsets span 8 bytes, expected 12");
    refuse_header("o7", "{\"a\":{\"dtype\":\"F32\",\"shape\":[0],\"data_offsets\":[8,4]}}", 8,
                  NS_ERR_FORMAT, "tensor 'a': data_offsets [8, 4] end before begin");
    refuse_header("o8",
                  "{\"a\":{\"dtype\":\"F32\",\"shape\":[4611686018427387904,4],"
                  "\"data_offsets\":[0,0]}}",
                  0, NS_ERR_FORMAT, "shape size overflows");
}

static void test_write_refuses_bad_input(void **state)
{
    (void)state;
    char path[PATH_MAX];
    file_path(path, "bad_input.safetensors");
    const float x[2] = {0};
    ns_st_tensor t[2] = {
        {.name = "x", .dtype = NS_ST_F32, .ndim = 1, .shape = {2}, .data = x},
        {.name = "x", .dtype = NS_ST_F32, .ndim = 1, .shape = {2}, .data = x},
    };
    assert_int_equal(ns_safetensors_write(path, t, 2, NULL, 0), NS_ERR_INVALID_ARG);
    io_expect_error(path, "'x' given twice", NULL);
    t[1].name = "__metadata__";
    assert_int_equal(ns_safetensors_write(path, t, 2, NULL, 0), NS_ERR_INVALID_ARG);
    io_expect_error(path, "reserved", NULL);
    t[1].name = "y";
    t[1].data = NULL;
    assert_int_equal(ns_safetensors_write(path, t, 2, NULL, 0), NS_ERR_INVALID_ARG);
    io_expect_error(path, "'y': NULL data for 8 bytes", NULL);
    t[1].data = x;
    t[1].ndim = 9;
    assert_int_equal(ns_safetensors_write(path, t, 2, NULL, 0), NS_ERR_INVALID_ARG);
    io_expect_error(path, "'y': ndim 9", NULL);
    t[1].ndim = 1;
    t[1].shape[0] = -2;
    assert_int_equal(ns_safetensors_write(path, t, 2, NULL, 0), NS_ERR_INVALID_ARG);
    io_expect_error(path, "shape[0] = -2", NULL);
    t[1].shape[0] = 2;
    t[1].dtype = NS_ST_DTYPE_COUNT;
    assert_int_equal(ns_safetensors_write(path, t, 2, NULL, 0), NS_ERR_INVALID_ARG);
    t[1].dtype = NS_ST_F32;
    t[1].name = "bad\xff";
    assert_int_equal(ns_safetensors_write(path, t, 2, NULL, 0), NS_ERR_INVALID_ARG);
    io_expect_error(path, "not valid UTF-8", NULL);
    t[1].name = "y";
    const ns_st_meta dup[] = {{"k", "1"}, {"k", "2"}};
    assert_int_equal(ns_safetensors_write(path, t, 2, dup, 2), NS_ERR_INVALID_ARG);
    io_expect_error(path, "metadata key 'k' given twice", NULL);
    const ns_st_meta bad[] = {{"k", "\xc3"}};
    assert_int_equal(ns_safetensors_write(path, t, 2, bad, 1), NS_ERR_INVALID_ARG);
    io_expect_error(path, "metadata 'k'", "UTF-8", NULL);
    assert_false(ns_path_exists(path));
    assert_int_equal(io_count_matching(dir, ".tmp."), 0);

    assert_int_equal(ns_safetensors_write(path, t, 2, NULL, 0), NS_OK);
}

static void test_dtype_table(void **state)
{
    (void)state;
    ns_st_dtype dt;
    for (int i = 0; i < NS_ST_DTYPE_COUNT; i++) {
        assert_non_null(ns_st_dtype_name((ns_st_dtype)i));
        assert_int_equal(ns_st_dtype_from_name(ns_st_dtype_name((ns_st_dtype)i), &dt), NS_OK);
        assert_int_equal(dt, i);
    }
    assert_int_equal(ns_st_dtype_size(NS_ST_BF16), 2);
    assert_int_equal(ns_st_dtype_size(NS_ST_I64), 8);
    assert_int_equal(ns_st_dtype_size(NS_ST_BOOL), 1);
    assert_int_equal(ns_st_dtype_size(NS_ST_C64), 8);
    assert_int_equal(ns_st_dtype_size(NS_ST_DTYPE_COUNT), 0);
    assert_null(ns_st_dtype_name(NS_ST_DTYPE_COUNT));
    assert_int_equal(ns_st_dtype_from_name("f32", &dt), NS_ERR_NOT_FOUND);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_round_trip),
        cmocka_unit_test(test_byte_layout),
        cmocka_unit_test(test_unpadded_header_accepted),
        cmocka_unit_test(test_truncated_files),
        cmocka_unit_test(test_header_length),
        cmocka_unit_test(test_bad_json),
        cmocka_unit_test(test_bad_entries),
        cmocka_unit_test(test_bad_offsets),
        cmocka_unit_test(test_write_refuses_bad_input),
        cmocka_unit_test(test_dtype_table),
    };
    return cmocka_run_group_tests_name("io_safetensors", tests, setup, teardown);
}
