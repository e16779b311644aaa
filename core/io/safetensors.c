/* Safetensors reader and writer (see safetensors.h for the format).
 *
 * Checks done by ns_safetensors_open, each refused with NS_ERR_FORMAT and a
 * line naming the file and the tensor/key:
 *   - file shorter than the 8-byte length prefix;
 *   - header length over NS_ST_MAX_HEADER_BYTES, or past the end of the file;
 *   - header not valid UTF-8 JSON, duplicate keys, or not an object;
 *   - "__metadata__" not an object, or a value in it not a string;
 *   - a tensor entry that is not an object, lacks dtype/shape/data_offsets,
 *     has another key, or has a value of the wrong JSON type;
 *   - unknown dtype; negative dimension; size overflow;
 *   - data_offsets not two non-negative integers, end < begin, end past the
 *     data buffer; end - begin != product(shape) * dtype size;
 *   - after sorting by offset: overlapping ranges, gaps between ranges, and
 *     bytes at the end of the buffer that no tensor covers.
 * Rank above NS_ST_MAX_DIMS and the sub-byte dtypes (F4, F6_*) are
 * NS_ERR_UNSUPPORTED: valid files, beyond what this reader handles.
 */
#include "io/safetensors.h"

#include <jansson.h>
#include <stdbool.h>
#include <stdlib.h>
#include <errno.h>
#include <string.h>

#include "io/atomic_file.h"
#include "io/file_util.h"
#include "util/error.h"

#define META_KEY "__metadata__"

static const struct {
    const char *name;
    size_t size;
} dtype_info[NS_ST_DTYPE_COUNT] = {
    [NS_ST_BOOL] = {"BOOL", 1},       [NS_ST_U8] = {"U8", 1},
    [NS_ST_I8] = {"I8", 1},           [NS_ST_F8_E5M2] = {"F8_E5M2", 1},
    [NS_ST_F8_E4M3] = {"F8_E4M3", 1}, [NS_ST_I16] = {"I16", 2},
    [NS_ST_U16] = {"U16", 2},         [NS_ST_F16] = {"F16", 2},
    [NS_ST_BF16] = {"BF16", 2},       [NS_ST_I32] = {"I32", 4},
    [NS_ST_U32] = {"U32", 4},         [NS_ST_F32] = {"F32", 4},
    [NS_ST_F64] = {"F64", 8},         [NS_ST_I64] = {"I64", 8},
    [NS_ST_U64] = {"U64", 8},         [NS_ST_F8_E8M0] = {"F8_E8M0", 1},
    [NS_ST_C64] = {"C64", 8},
};

/* In the spec, but not addressable per element in whole bytes. */
static const char *const sub_byte_dtypes[] = {"F4", "F6_E2M3", "F6_E3M2"};

const char *ns_st_dtype_name(ns_st_dtype dt)
{
    return (unsigned)dt < NS_ST_DTYPE_COUNT ? dtype_info[dt].name : NULL;
}

size_t ns_st_dtype_size(ns_st_dtype dt)
{
    return (unsigned)dt < NS_ST_DTYPE_COUNT ? dtype_info[dt].size : 0;
}

ns_status ns_st_dtype_from_name(const char *name, ns_st_dtype *out)
{
    for (int i = 0; i < NS_ST_DTYPE_COUNT; i++) {
        if (strcmp(dtype_info[i].name, name) == 0) {
            *out = (ns_st_dtype)i;
            return NS_OK;
        }
    }
    return ns_fail(NS_ERR_NOT_FOUND, "unknown safetensors dtype \"%s\"", name);
}

/* The u64 length prefix is little-endian whatever the host is. */
static void store_le64(unsigned char *p, uint64_t v)
{
    for (int i = 0; i < 8; i++)
        p[i] = (unsigned char)(v >> (8 * i));
}

static uint64_t load_le64(const unsigned char *p)
{
    uint64_t v = 0;
    for (int i = 0; i < 8; i++)
        v |= (uint64_t)p[i] << (8 * i);
    return v;
}

/* product(shape) * elem, or false on overflow (of size_t or of int64). */
static bool shape_bytes(const int64_t *shape, int ndim, size_t elem, size_t *out)
{
    uint64_t total = elem;
    for (int d = 0; d < ndim; d++) {
        uint64_t dim = (uint64_t)shape[d];
        if (dim != 0 && total > (uint64_t)INT64_MAX / dim)
            return false;
        total *= dim;
    }
    if (total > SIZE_MAX)
        return false;
    *out = (size_t)total;
    return true;
}

/* ---------------------------------------------------------------- writer */

typedef struct write_job {
    const char *header; /* compact JSON */
    size_t header_len;
    size_t padded_len;
    const ns_st_tensor *t;
    const size_t *nbytes;
    size_t n;
} write_job;

static ns_status write_body(FILE *f, void *user)
{
    const write_job *job = user;
    unsigned char len[8];
    store_le64(len, job->padded_len);
    if (fwrite(len, 1, 8, f) != 8 || fwrite(job->header, 1, job->header_len, f) != job->header_len)
        return ns_fail(NS_ERR_IO, "writing the safetensors header failed: %s", strerror(errno));
    for (size_t i = job->header_len; i < job->padded_len; i++)
        if (fputc(' ', f) == EOF)
            return ns_fail(NS_ERR_IO, "writing the safetensors header padding failed: %s", strerror(errno));
    for (size_t i = 0; i < job->n; i++)
        if (job->nbytes[i] && fwrite(job->t[i].data, 1, job->nbytes[i], f) != job->nbytes[i])
            return ns_fail(NS_ERR_IO, "writing the data of tensor '%s' (%zu bytes) failed: %s",
                           job->t[i].name, job->nbytes[i], strerror(errno));
    return NS_OK;
}

static ns_status build_meta(const char *path, const ns_st_meta *meta, size_t n_meta, json_t *root)
{
    json_t *obj = json_object();
    if (!obj || json_object_set_new(root, META_KEY, obj) != 0)
        return ns_fail(NS_ERR_NOMEM, "%s: out of memory building the header", path);
    for (size_t i = 0; i < n_meta; i++) {
        const char *k = meta[i].key, *v = meta[i].value;
        if (!k || !v)
            return ns_fail(NS_ERR_INVALID_ARG, "%s: metadata entry %zu has a NULL key or value",
                           path, i);
        if (json_object_get(obj, k))
            return ns_fail(NS_ERR_INVALID_ARG, "%s: metadata key '%s' given twice", path, k);
        json_t *s = json_string(v);
        if (!s)
            return ns_fail(NS_ERR_INVALID_ARG,
                           "%s: metadata '%s': value is not valid UTF-8, expected a UTF-8 string",
                           path, k);
        if (json_object_set_new(obj, k, s) != 0)
            return ns_fail(NS_ERR_INVALID_ARG, "%s: metadata key #%zu is not valid UTF-8", path, i);
    }
    return NS_OK;
}

static ns_status build_entry(const char *path, const ns_st_tensor *t, size_t begin, size_t nbytes,
                             json_t *root)
{
    json_t *shape = json_array();
    json_t *offs = json_array();
    json_t *entry = json_object();
    if (!shape || !offs || !entry) {
        json_decref(shape);
        json_decref(offs);
        json_decref(entry);
        return ns_fail(NS_ERR_NOMEM, "%s: out of memory building the header", path);
    }
    int rc = json_object_set_new(entry, "dtype", json_string(ns_st_dtype_name(t->dtype)));
    rc |= json_object_set_new(entry, "shape", shape);
    rc |= json_object_set_new(entry, "data_offsets", offs);
    for (int d = 0; d < t->ndim; d++)
        rc |= json_array_append_new(shape, json_integer(t->shape[d]));
    rc |= json_array_append_new(offs, json_integer((json_int_t)begin));
    rc |= json_array_append_new(offs, json_integer((json_int_t)(begin + nbytes)));
    if (rc != 0) {
        json_decref(entry);
        return ns_fail(NS_ERR_NOMEM, "%s: out of memory building the header", path);
    }
    /* Fails only for a name that is not valid UTF-8 (or memory). */
    if (json_object_set_new(root, t->name, entry) != 0)
        return ns_fail(NS_ERR_INVALID_ARG, "%s: tensor name '%s' is not valid UTF-8", path,
                       t->name);
    return NS_OK;
}

static ns_status check_tensor(const char *path, const ns_st_tensor *t, size_t i, size_t *nbytes)
{
    if (!t->name || !*t->name)
        return ns_fail(NS_ERR_INVALID_ARG, "%s: tensor #%zu has no name", path, i);
    if (strcmp(t->name, META_KEY) == 0)
        return ns_fail(NS_ERR_INVALID_ARG, "%s: '%s' is reserved, not a tensor name", path,
                       META_KEY);
    if (!ns_st_dtype_name(t->dtype))
        return ns_fail(NS_ERR_INVALID_ARG, "%s: tensor '%s': dtype %d is not an ns_st_dtype", path,
                       t->name, (int)t->dtype);
    if (t->ndim < 0 || t->ndim > NS_ST_MAX_DIMS)
        return ns_fail(NS_ERR_INVALID_ARG, "%s: tensor '%s': ndim %d, expected 0..%d", path,
                       t->name, t->ndim, NS_ST_MAX_DIMS);
    for (int d = 0; d < t->ndim; d++)
        if (t->shape[d] < 0)
            return ns_fail(NS_ERR_INVALID_ARG, "%s: tensor '%s': shape[%d] = %lld, expected >= 0",
                           path, t->name, d, (long long)t->shape[d]);
    if (!shape_bytes(t->shape, t->ndim, ns_st_dtype_size(t->dtype), nbytes))
        return ns_fail(NS_ERR_INVALID_ARG, "%s: tensor '%s': size in bytes overflows", path,
                       t->name);
    if (*nbytes && !t->data)
        return ns_fail(NS_ERR_INVALID_ARG, "%s: tensor '%s': NULL data for %zu bytes", path,
                       t->name, *nbytes);
    return NS_OK;
}

static ns_status build_header(const char *path, const ns_st_tensor *t, size_t n,
                              const ns_st_meta *meta, size_t n_meta, size_t *nbytes, json_t *root)
{
    if (n_meta)
        NS_TRY(build_meta(path, meta, n_meta, root));
    size_t offset = 0;
    for (size_t i = 0; i < n; i++) {
        NS_TRY(check_tensor(path, &t[i], i, &nbytes[i]));
        if (json_object_get(root, t[i].name))
            return ns_fail(NS_ERR_INVALID_ARG, "%s: tensor name '%s' given twice", path,
                           t[i].name);
        if (nbytes[i] > (size_t)INT64_MAX - offset)
            return ns_fail(NS_ERR_INVALID_ARG, "%s: total data size overflows at tensor '%s'",
                           path, t[i].name);
        NS_TRY(build_entry(path, &t[i], offset, nbytes[i], root));
        offset += nbytes[i];
    }
    return NS_OK;
}

ns_status ns_safetensors_write(const char *path, const ns_st_tensor *t, size_t n,
                               const ns_st_meta *meta, size_t n_meta)
{
    if (!path || (n && !t) || (n_meta && !meta))
        return ns_fail(NS_ERR_INVALID_ARG, "safetensors write: NULL path, tensors or metadata");
    size_t *nbytes = calloc(n ? n : 1, sizeof *nbytes);
    json_t *root = json_object();
    char *header = NULL;
    ns_status st = NS_OK;
    if (!nbytes || !root)
        st = ns_fail(NS_ERR_NOMEM, "%s: out of memory building the header", path);
    if (st == NS_OK)
        st = build_header(path, t, n, meta, n_meta, nbytes, root);
    if (st == NS_OK) {
        header = json_dumps(root, JSON_COMPACT);
        if (!header)
            st = ns_fail(NS_ERR_NOMEM, "%s: out of memory serialising the header", path);
    }
    if (st == NS_OK) {
        size_t len = strlen(header);
        write_job job = {header, len, (len + 7) / 8 * 8, t, nbytes, n};
        st = ns_atomic_write(path, write_body, &job);
    }
    free(header);
    json_decref(root);
    free(nbytes);
    return st;
}

/* ---------------------------------------------------------------- reader */

typedef struct entry {
    ns_st_view view;
    uint64_t begin, end;
    void *owned; /* aligned copy when the file's bytes are misaligned */
} entry;

struct ns_safetensors {
    char *path;
    unsigned char *bytes;
    entry *entries;    /* sorted by data offset */
    size_t n;
    const entry **by_name; /* entries sorted by name, for find */
    char **meta;       /* key0, value0, key1, value1, ... */
    size_t n_meta;
};

static const char *json_type_name(const json_t *j)
{
    switch (json_typeof(j)) {
    case JSON_OBJECT: return "an object";
    case JSON_ARRAY: return "an array";
    case JSON_STRING: return "a string";
    case JSON_INTEGER: return "an integer";
    case JSON_REAL: return "a real number";
    case JSON_TRUE:
    case JSON_FALSE: return "a boolean";
    case JSON_NULL: return "null";
    }
    return "an unknown JSON value";
}

static ns_status read_meta(ns_safetensors *st, json_t *obj)
{
    if (!json_is_object(obj))
        return ns_fail(NS_ERR_FORMAT, "%s: \"%s\" is %s, expected an object of strings",
                       st->path, META_KEY, json_type_name(obj));
    st->meta = calloc(2 * json_object_size(obj) + 1, sizeof *st->meta);
    if (!st->meta)
        return ns_fail(NS_ERR_NOMEM, "%s: out of memory reading metadata", st->path);
    const char *key;
    json_t *val;
    json_object_foreach(obj, key, val) {
        if (!json_is_string(val))
            return ns_fail(NS_ERR_FORMAT, "%s: metadata '%s' is %s, expected a string", st->path,
                           key, json_type_name(val));
        char *k = strdup(key), *v = strdup(json_string_value(val));
        st->meta[2 * st->n_meta] = k;
        st->meta[2 * st->n_meta + 1] = v;
        st->n_meta++;
        if (!k || !v)
            return ns_fail(NS_ERR_NOMEM, "%s: out of memory reading metadata", st->path);
    }
    return NS_OK;
}

/* A non-negative JSON integer, or an error naming what it is. */
static ns_status get_uint(const ns_safetensors *st, const char *name, const char *what,
                          const json_t *j, uint64_t *out)
{
    if (!json_is_integer(j) || json_integer_value(j) < 0)
        return ns_fail(NS_ERR_FORMAT, "%s: tensor '%s': %s is %s, expected a non-negative integer",
                       st->path, name, what, json_is_integer(j) ? "negative" : json_type_name(j));
    *out = (uint64_t)json_integer_value(j);
    return NS_OK;
}

static ns_status read_shape(const ns_safetensors *st, const char *name, const json_t *shape,
                            entry *e)
{
    if (!json_is_array(shape))
        return ns_fail(NS_ERR_FORMAT,
                       "%s: tensor '%s': \"shape\" is %s, expected an array of integers",
                       st->path, name, json_type_name(shape));
    size_t rank = json_array_size(shape);
    if (rank > NS_ST_MAX_DIMS)
        return ns_fail(NS_ERR_UNSUPPORTED, "%s: tensor '%s' has %zu dimensions, at most %d supported",
                       st->path, name, rank, NS_ST_MAX_DIMS);
    e->view.ndim = (int)rank;
    for (size_t d = 0; d < rank; d++) {
        uint64_t dim;
        char what[32];
        snprintf(what, sizeof what, "shape[%zu]", d);
        NS_TRY(get_uint(st, name, what, json_array_get(shape, d), &dim));
        e->view.shape[d] = (int64_t)dim;
    }
    return NS_OK;
}

static ns_status read_entry(const ns_safetensors *st, const char *name, const json_t *obj,
                            uint64_t data_len, entry *e)
{
    if (!json_is_object(obj))
        return ns_fail(NS_ERR_FORMAT,
                       "%s: tensor '%s' is %s, expected an object with dtype, shape, data_offsets",
                       st->path, name, json_type_name(obj));
    const char *key;
    json_t *val;
    json_object_foreach((json_t *)obj, key, val) {
        if (strcmp(key, "dtype") && strcmp(key, "shape") && strcmp(key, "data_offsets"))
            return ns_fail(NS_ERR_FORMAT,
                           "%s: tensor '%s': unexpected key \"%s\", expected only dtype, shape, "
                           "data_offsets", st->path, name, key);
    }
    static const char *const required[] = {"dtype", "shape", "data_offsets"};
    for (int i = 0; i < 3; i++)
        if (!json_object_get(obj, required[i]))
            return ns_fail(NS_ERR_FORMAT, "%s: tensor '%s' has no \"%s\"", st->path, name,
                           required[i]);

    const json_t *dtype = json_object_get(obj, "dtype");
    if (!json_is_string(dtype))
        return ns_fail(NS_ERR_FORMAT, "%s: tensor '%s': \"dtype\" is %s, expected a string",
                       st->path, name, json_type_name(dtype));
    const char *dtname = json_string_value(dtype);
    for (size_t i = 0; i < sizeof sub_byte_dtypes / sizeof sub_byte_dtypes[0]; i++)
        if (strcmp(dtname, sub_byte_dtypes[i]) == 0)
            return ns_fail(NS_ERR_UNSUPPORTED, "%s: tensor '%s': sub-byte dtype \"%s\" is not "
                           "supported", st->path, name, dtname);
    if (ns_st_dtype_from_name(dtname, &e->view.dtype) != NS_OK)
        return ns_fail(NS_ERR_FORMAT, "%s: tensor '%s': unknown dtype \"%s\", expected one of "
                       "BOOL U8 I8 F8_E5M2 F8_E4M3 F8_E8M0 I16 U16 F16 BF16 I32 U32 F32 F64 "
                       "I64 U64 C64", st->path, name, dtname);
    NS_TRY(read_shape(st, name, json_object_get(obj, "shape"), e));

    const json_t *offs = json_object_get(obj, "data_offsets");
    if (!json_is_array(offs) || json_array_size(offs) != 2)
        return ns_fail(NS_ERR_FORMAT,
                       "%s: tensor '%s': \"data_offsets\" is %s, expected [begin, end]", st->path,
                       name, json_is_array(offs) ? "an array of the wrong length" : json_type_name(offs));
    NS_TRY(get_uint(st, name, "data_offsets[0]", json_array_get(offs, 0), &e->begin));
    NS_TRY(get_uint(st, name, "data_offsets[1]", json_array_get(offs, 1), &e->end));
    if (e->end < e->begin)
        return ns_fail(NS_ERR_FORMAT, "%s: tensor '%s': data_offsets [%llu, %llu] end before begin",
                       st->path, name, (unsigned long long)e->begin, (unsigned long long)e->end);
    if (e->end > data_len)
        return ns_fail(NS_ERR_FORMAT,
                       "%s: tensor '%s': data_offsets [%llu, %llu] run past the %llu data bytes",
                       st->path, name, (unsigned long long)e->begin, (unsigned long long)e->end,
                       (unsigned long long)data_len);
    size_t expect;
    if (!shape_bytes(e->view.shape, e->view.ndim, ns_st_dtype_size(e->view.dtype), &expect))
        return ns_fail(NS_ERR_FORMAT, "%s: tensor '%s': shape size overflows", st->path, name);
    if (e->end - e->begin != expect)
        return ns_fail(NS_ERR_FORMAT,
                       "%s: tensor '%s': data_offsets span %llu bytes, expected %zu for its "
                       "%s shape", st->path, name, (unsigned long long)(e->end - e->begin),
                       expect, ns_st_dtype_name(e->view.dtype));
    e->view.nbytes = expect;
    e->view.name = strdup(name);
    if (!e->view.name)
        return ns_fail(NS_ERR_NOMEM, "%s: out of memory", st->path);
    return NS_OK;
}

static int cmp_offset(const void *a, const void *b)
{
    const entry *x = a, *y = b;
    if (x->begin != y->begin)
        return x->begin < y->begin ? -1 : 1;
    return (x->end > y->end) - (x->end < y->end);
}

/* The spec requires the ranges to tile the data buffer exactly. */
static ns_status check_coverage(const ns_safetensors *st, uint64_t data_len)
{
    uint64_t pos = 0;
    const char *prev = NULL;
    for (size_t i = 0; i < st->n; i++) {
        const entry *e = &st->entries[i];
        if (e->begin < pos)
            return ns_fail(NS_ERR_FORMAT,
                           "%s: tensor '%s': data_offsets [%llu, %llu] overlap tensor '%s' "
                           "(which ends at %llu)", st->path, e->view.name,
                           (unsigned long long)e->begin, (unsigned long long)e->end, prev,
                           (unsigned long long)pos);
        if (e->begin > pos)
            return ns_fail(NS_ERR_FORMAT,
                           "%s: tensor '%s': data_offsets begin at %llu, leaving a gap of %llu "
                           "bytes after %s%s%s; expected tensors packed with no gaps", st->path,
                           e->view.name, (unsigned long long)e->begin,
                           (unsigned long long)(e->begin - pos), prev ? "tensor '" : "",
                           prev ? prev : "the start of the data", prev ? "'" : "");
        pos = e->end;
        prev = e->view.name;
    }
    if (pos != data_len)
        return ns_fail(NS_ERR_FORMAT,
                       "%s: data bytes [%llu, %llu) belong to no tensor; expected the tensors "
                       "to cover the whole data buffer", st->path, (unsigned long long)pos,
                       (unsigned long long)data_len);
    return NS_OK;
}

/* Points each view at its bytes, copying those that are misaligned. */
static ns_status bind_data(ns_safetensors *st, const unsigned char *data)
{
    for (size_t i = 0; i < st->n; i++) {
        entry *e = &st->entries[i];
        const unsigned char *p = data + e->begin;
        size_t align = ns_st_dtype_size(e->view.dtype);
        if ((uintptr_t)p % align != 0) {
            size_t alloc = (e->view.nbytes + 63) / 64 * 64;
            e->owned = aligned_alloc(64, alloc ? alloc : 64);
            if (!e->owned)
                return ns_fail(NS_ERR_NOMEM, "%s: tensor '%s': cannot allocate %zu bytes",
                               st->path, e->view.name, alloc);
            memcpy(e->owned, p, e->view.nbytes);
            p = e->owned;
        }
        e->view.data = p;
    }
    return NS_OK;
}

static int cmp_name(const void *a, const void *b)
{
    return strcmp((*(const entry *const *)a)->view.name, (*(const entry *const *)b)->view.name);
}

static ns_status parse_header(ns_safetensors *st, size_t size)
{
    if (size < 8)
        return ns_fail(NS_ERR_FORMAT,
                       "%s: file is %zu bytes, shorter than the 8-byte header length prefix",
                       st->path, size);
    uint64_t hlen = load_le64(st->bytes);
    if (hlen > NS_ST_MAX_HEADER_BYTES)
        return ns_fail(NS_ERR_FORMAT, "%s: header length %llu is over the %llu-byte limit",
                       st->path, (unsigned long long)hlen, NS_ST_MAX_HEADER_BYTES);
    if (hlen > size - 8)
        return ns_fail(NS_ERR_FORMAT,
                       "%s: header length %llu runs past the end of the file (%zu bytes after "
                       "the prefix)", st->path, (unsigned long long)hlen, size - 8);
    json_error_t jerr;
    json_t *root = json_loadb((const char *)st->bytes + 8, (size_t)hlen, JSON_REJECT_DUPLICATES,
                              &jerr);
    if (!root)
        return ns_fail(NS_ERR_FORMAT, "%s: header is not valid JSON: %s (header byte %d)",
                       st->path, jerr.text, jerr.position);
    ns_status rc = NS_OK;
    if (!json_is_object(root))
        rc = ns_fail(NS_ERR_FORMAT, "%s: header is %s, expected a JSON object", st->path,
                     json_type_name(root));
    uint64_t data_len = size - 8 - hlen;
    size_t cap = json_object_size(root);
    if (rc == NS_OK && !(st->entries = calloc(cap ? cap : 1, sizeof *st->entries)))
        rc = ns_fail(NS_ERR_NOMEM, "%s: out of memory", st->path);
    if (rc == NS_OK) {
        const char *key;
        json_t *val;
        json_object_foreach(root, key, val) {
            if (strcmp(key, META_KEY) == 0)
                rc = read_meta(st, val);
            else
                rc = read_entry(st, key, val, data_len, &st->entries[st->n++]);
            if (rc != NS_OK)
                break;
        }
    }
    json_decref(root);
    NS_TRY(rc);
    qsort(st->entries, st->n, sizeof *st->entries, cmp_offset);
    NS_TRY(check_coverage(st, data_len));
    return bind_data(st, st->bytes + 8 + hlen);
}

ns_status ns_safetensors_open(const char *path, ns_safetensors **out)
{
    *out = NULL;
    if (!path)
        return ns_fail(NS_ERR_INVALID_ARG, "safetensors open: NULL path");
    ns_safetensors *st = calloc(1, sizeof *st);
    if (!st || !(st->path = strdup(path))) {
        free(st);
        return ns_fail(NS_ERR_NOMEM, "%s: out of memory", path);
    }
    size_t size;
    ns_status rc = ns_read_file(path, SIZE_MAX / 2, &st->bytes, &size);
    if (rc == NS_OK)
        rc = parse_header(st, size);
    if (rc == NS_OK && !(st->by_name = malloc((st->n ? st->n : 1) * sizeof *st->by_name)))
        rc = ns_fail(NS_ERR_NOMEM, "%s: out of memory", path);
    if (rc != NS_OK) {
        ns_safetensors_close(st);
        return rc;
    }
    for (size_t i = 0; i < st->n; i++)
        st->by_name[i] = &st->entries[i];
    qsort(st->by_name, st->n, sizeof *st->by_name, cmp_name);
    *out = st;
    return NS_OK;
}

void ns_safetensors_close(ns_safetensors *st)
{
    if (!st)
        return;
    for (size_t i = 0; i < st->n; i++) {
        free((char *)st->entries[i].view.name);
        free(st->entries[i].owned);
    }
    for (size_t i = 0; i < 2 * st->n_meta; i++)
        free(st->meta[i]);
    free(st->meta);
    free(st->entries);
    free((void *)st->by_name);
    free(st->bytes);
    free(st->path);
    free(st);
}

size_t ns_safetensors_count(const ns_safetensors *st) { return st->n; }

const ns_st_view *ns_safetensors_tensor(const ns_safetensors *st, size_t i)
{
    return i < st->n ? &st->entries[i].view : NULL;
}

const ns_st_view *ns_safetensors_find(const ns_safetensors *st, const char *name)
{
    size_t lo = 0, hi = st->n;
    while (lo < hi) {
        size_t mid = lo + (hi - lo) / 2;
        const entry *e = st->by_name[mid];
        int c = strcmp(name, e->view.name);
        if (c == 0)
            return &e->view;
        if (c < 0)
            hi = mid;
        else
            lo = mid + 1;
    }
    return NULL;
}

const char *ns_safetensors_meta(const ns_safetensors *st, const char *key)
{
    for (size_t i = 0; i < st->n_meta; i++)
        if (strcmp(st->meta[2 * i], key) == 0)
            return st->meta[2 * i + 1];
    return NULL;
}

size_t ns_safetensors_meta_count(const ns_safetensors *st) { return st->n_meta; }

int ns_safetensors_meta_at(const ns_safetensors *st, size_t i, const char **key,
                           const char **value)
{
    if (i >= st->n_meta)
        return 0;
    *key = st->meta[2 * i];
    *value = st->meta[2 * i + 1];
    return 1;
}

const char *ns_safetensors_path(const ns_safetensors *st) { return st->path; }
