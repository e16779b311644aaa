#include "selftrain/label_file.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <zlib.h>

#include "io/atomic_file.h"
#include "io/file_util.h"
#include "util/error.h"

#define HEADER_V1 20u /* magic, version, classes, count, source_len */
#define HEADER_V2 (HEADER_V1 + NS_SHA256_BYTES) /* ... and labeled_by */
#define RECORD_FIXED 16u /* source_id, true_label, top, confidence */
/* A label file of the largest pool we expect (JFT-sized) stays far below this. */
#define MAX_FILE_BYTES ((size_t)64 << 30)

ns_status ns_label_set_alloc(ns_label_set *s, size_t count, int classes)
{
    memset(s, 0, sizeof *s);
    if (classes < 1 || (unsigned)classes > NS_LABEL_FILE_MAX_CLASSES)
        return ns_fail(NS_ERR_INVALID_ARG, "label set: %d classes, expected 1..%u", classes,
                       NS_LABEL_FILE_MAX_CLASSES);
    if (count > UINT32_MAX)
        return ns_fail(NS_ERR_INVALID_ARG, "label set: %zu images, at most %u fit in a label file", count,
                       UINT32_MAX);
    const size_t n = count ? count : 1; /* malloc(0) may return NULL */
    s->source_id = calloc(n, sizeof *s->source_id);
    s->true_label = malloc(n * sizeof *s->true_label);
    s->top = calloc(n, sizeof *s->top);
    s->confidence = calloc(n, sizeof *s->confidence);
    s->probs = calloc(n * (size_t)classes, sizeof *s->probs);
    if (!s->source_id || !s->true_label || !s->top || !s->confidence || !s->probs) {
        ns_label_set_free(s);
        return ns_fail(NS_ERR_NOMEM, "label set: out of memory for %zu images x %d classes", count, classes);
    }
    for (size_t i = 0; i < count; i++)
        s->true_label[i] = -1;
    s->classes = classes;
    s->count = count;
    return NS_OK;
}

void ns_label_set_free(ns_label_set *s)
{
    if (!s)
        return;
    free(s->source_id);
    free(s->true_label);
    free(s->top);
    free(s->confidence);
    free(s->probs);
    ns_class_names_free(&s->class_names);
    memset(s, 0, sizeof *s);
}

void ns_label_set_update_top(ns_label_set *s, size_t i)
{
    const float *p = s->probs + i * (size_t)s->classes;
    int best = 0;
    for (int k = 1; k < s->classes; k++)
        if (p[k] > p[best])
            best = k;
    s->top[i] = best;
    s->confidence[i] = p[best];
}

static void put_u32(unsigned char *p, uint32_t v)
{
    p[0] = (unsigned char)v;
    p[1] = (unsigned char)(v >> 8);
    p[2] = (unsigned char)(v >> 16);
    p[3] = (unsigned char)(v >> 24);
}

static uint32_t get_u32(const unsigned char *p)
{
    return (uint32_t)p[0] | (uint32_t)p[1] << 8 | (uint32_t)p[2] << 16 | (uint32_t)p[3] << 24;
}

static void put_f32(unsigned char *p, float f)
{
    uint32_t v;
    memcpy(&v, &f, sizeof v);
    put_u32(p, v);
}

static float get_f32(const unsigned char *p)
{
    uint32_t v = get_u32(p);
    float f;
    memcpy(&f, &v, sizeof f);
    return f;
}

/* zlib's crc32 takes a uInt length: feed it in chunks. */
static uint32_t crc_of(const unsigned char *p, size_t n)
{
    uLong crc = crc32(0L, Z_NULL, 0);
    while (n) {
        uInt chunk = n > (1u << 30) ? (1u << 30) : (uInt)n;
        crc = crc32(crc, p, chunk);
        p += chunk;
        n -= chunk;
    }
    return (uint32_t)crc;
}

static size_t record_bytes(int classes)
{
    return RECORD_FIXED + 4u * (size_t)classes;
}

/* A row is a probability vector: every value finite in [0, 1] and the sum 1
 * within NS_LABEL_FILE_SUM_TOLERANCE (a float softmax over many classes is off
 * by a few ulp per class; anything further is not a teacher's softmax: logits,
 * a shifted or truncated row, an unnormalised temperature). Returns 0 when it
 * is one, else fills why[] (what is wrong, for the caller's message). */
static int row_invalid(const float *row, int classes, char *why, size_t len)
{
    double sum = 0;
    for (int k = 0; k < classes; k++) {
        if (!(row[k] >= 0.0f && row[k] <= 1.0f)) { /* NaN fails both */
            snprintf(why, len, "probability %d is %g, expected a finite value in [0, 1]", k, (double)row[k]);
            return 1;
        }
        sum += row[k];
    }
    if (!(fabs(sum - 1.0) <= NS_LABEL_FILE_SUM_TOLERANCE)) {
        snprintf(why, len, "probabilities sum to %.9g, expected 1 (within %g)", sum, NS_LABEL_FILE_SUM_TOLERANCE);
        return 1;
    }
    return 0;
}

ns_status ns_label_file_write(const char *path, const ns_label_set *s)
{
    if (s->classes < 1 || (unsigned)s->classes > NS_LABEL_FILE_MAX_CLASSES || s->count > UINT32_MAX)
        return ns_fail(NS_ERR_INVALID_ARG, "%s: label set of %zu images x %d classes cannot be written", path,
                       s->count, s->classes);
    for (size_t i = 0; i < s->count; i++)
        if (s->top[i] < 0 || s->top[i] >= s->classes || s->true_label[i] < -1 ||
            s->true_label[i] >= s->classes)
            return ns_fail(NS_ERR_INVALID_ARG, "%s: record %zu has top %d, label %d; expected 0..%d (label -1 too)",
                           path, i, (int)s->top[i], (int)s->true_label[i], s->classes - 1);
    for (size_t i = 0; i < s->count; i++) {
        char why[160];
        if (row_invalid(s->probs + i * (size_t)s->classes, s->classes, why, sizeof why))
            return ns_fail(NS_ERR_INVALID_ARG, "%s: record %zu: %s", path, i, why);
    }
    if (s->class_names.n != 0 && s->class_names.n != s->classes)
        return ns_fail(NS_ERR_INVALID_ARG, "%s: %d class names for %d classes", path, s->class_names.n, s->classes);
    char *names = NULL;
    NS_TRY(ns_class_names_to_json(&s->class_names, &names));
    const size_t names_len = strlen(names);
    if (names_len > NS_LABEL_FILE_MAX_NAMES_BYTES) {
        free(names);
        return ns_fail(NS_ERR_INVALID_ARG, "%s: class names take %zu bytes, at most %u", path, names_len,
                       NS_LABEL_FILE_MAX_NAMES_BYTES);
    }
    const char *tta = ns_tta_name(s->tta);
    if (!tta) {
        free(names);
        return ns_fail(NS_ERR_INVALID_ARG, "%s: unknown test-time augmentation %d", path, (int)s->tta);
    }
    /* No TTA: version 3, the bytes written before TTA existed. */
    const uint32_t version = s->tta == NS_TTA_NONE ? 3u : NS_LABEL_FILE_VERSION;
    const size_t tta_field = version >= 4 ? 4 + strlen(tta) : 0;
    const size_t src_len = strnlen(s->source, sizeof s->source);
    const size_t rec = record_bytes(s->classes);
    const size_t total = HEADER_V2 + src_len + 4 + names_len + tta_field + s->count * rec + 4;
    unsigned char *buf = malloc(total);
    if (!buf) {
        free(names);
        return ns_fail(NS_ERR_NOMEM, "%s: out of memory for %zu bytes", path, total);
    }
    unsigned char *p = buf;
    memcpy(p, NS_LABEL_FILE_MAGIC, 4);
    put_u32(p + 4, version);
    put_u32(p + 8, (uint32_t)s->classes);
    put_u32(p + 12, (uint32_t)s->count);
    put_u32(p + 16, (uint32_t)src_len);
    memcpy(p + HEADER_V1, s->labeled_by, NS_SHA256_BYTES);
    memcpy(p + HEADER_V2, s->source, src_len);
    p += HEADER_V2 + src_len;
    put_u32(p, (uint32_t)names_len);
    memcpy(p + 4, names, names_len);
    p += 4 + names_len;
    free(names);
    if (tta_field) {
        put_u32(p, (uint32_t)(tta_field - 4));
        memcpy(p + 4, tta, tta_field - 4);
        p += tta_field;
    }
    for (size_t i = 0; i < s->count; i++, p += rec) {
        put_u32(p, s->source_id[i]);
        put_u32(p + 4, (uint32_t)s->true_label[i]);
        put_u32(p + 8, (uint32_t)s->top[i]);
        put_f32(p + 12, s->confidence[i]);
        const float *row = s->probs + i * (size_t)s->classes;
        for (int k = 0; k < s->classes; k++)
            put_f32(p + RECORD_FIXED + 4u * (size_t)k, row[k]);
    }
    put_u32(p, crc_of(buf, total - 4));
    ns_status st = ns_atomic_write_buffer(path, buf, total);
    free(buf);
    return st;
}

static ns_status parse(const char *path, const unsigned char *b, size_t size, ns_label_set *s)
{
    if (size < HEADER_V1 + 4)
        return ns_fail(NS_ERR_FORMAT, "%s: %zu bytes, a label file has at least %u (truncated?)", path, size,
                       HEADER_V1 + 4);
    if (memcmp(b, NS_LABEL_FILE_MAGIC, 4) != 0)
        return ns_fail(NS_ERR_FORMAT, "%s: magic %02x %02x %02x %02x, expected \"NSPL\" (not a label file)", path,
                       b[0], b[1], b[2], b[3]);
    const uint32_t version = get_u32(b + 4), classes = get_u32(b + 8), count = get_u32(b + 12),
                   src_len = get_u32(b + 16);
    if (version < 1 || version > NS_LABEL_FILE_VERSION)
        return ns_fail(NS_ERR_FORMAT, "%s: version %u, expected 1..%u", path, version, NS_LABEL_FILE_VERSION);
    const size_t header = version == 1 ? HEADER_V1 : HEADER_V2;
    if (classes < 1 || classes > NS_LABEL_FILE_MAX_CLASSES)
        return ns_fail(NS_ERR_FORMAT, "%s: header says %u classes, expected 1..%u", path, classes,
                       NS_LABEL_FILE_MAX_CLASSES);
    if (src_len >= NS_LABEL_FILE_MAX_SOURCE)
        return ns_fail(NS_ERR_FORMAT, "%s: source spec of %u bytes, expected < %u", path, src_len,
                       NS_LABEL_FILE_MAX_SOURCE);
    /* Version 3: the class names follow the source spec. */
    const size_t names_at = header + src_len;
    size_t names_len = 0, names_field = 0;
    if (version >= 3) {
        if (size < names_at + 4 + 4)
            return ns_fail(NS_ERR_FORMAT, "%s: %zu bytes, too short for the class names' length at offset %zu "
                                          "(truncated?)",
                           path, size, names_at);
        names_len = get_u32(b + names_at);
        const size_t room = size - names_at - 8;
        if (names_len > NS_LABEL_FILE_MAX_NAMES_BYTES || names_len > room)
            return ns_fail(NS_ERR_FORMAT, "%s: class names of %zu bytes at offset %zu, expected at most %zu "
                                          "(truncated?)",
                           path, names_len, names_at,
                           room < NS_LABEL_FILE_MAX_NAMES_BYTES ? room : (size_t)NS_LABEL_FILE_MAX_NAMES_BYTES);
        names_field = 4 + names_len;
    }
    /* Version 4: the TTA's spelling follows the names. */
    const size_t tta_at = names_at + names_field;
    size_t tta_len = 0, tta_field = 0;
    if (version >= 4) {
        if (size < tta_at + 4 + 4)
            return ns_fail(NS_ERR_FORMAT, "%s: %zu bytes, too short for the TTA's length at offset %zu (truncated?)",
                           path, size, tta_at);
        tta_len = get_u32(b + tta_at);
        if (tta_len > NS_LABEL_FILE_MAX_TTA || tta_len > size - tta_at - 8)
            return ns_fail(NS_ERR_FORMAT, "%s: TTA spelling of %zu bytes at offset %zu, expected at most %u (%s)",
                           path, tta_len, tta_at, NS_LABEL_FILE_MAX_TTA,
                           tta_len > NS_LABEL_FILE_MAX_TTA ? NS_TTA_SPECS : "truncated?");
        tta_field = 4 + tta_len;
    }
    const size_t rec = record_bytes((int)classes);
    const size_t expected = header + src_len + names_field + tta_field + (size_t)count * rec + 4;
    if (size != expected)
        return ns_fail(NS_ERR_FORMAT, "%s: %zu bytes, expected %zu for %u images x %u classes (%s)", path, size,
                       expected, count, classes, size < expected ? "truncated" : "trailing bytes");
    const uint32_t stored = get_u32(b + size - 4), actual = crc_of(b, size - 4);
    if (stored != actual)
        return ns_fail(NS_ERR_FORMAT, "%s: CRC-32 %08x, expected %08x stored at offset %zu (corrupt file)", path,
                       actual, stored, size - 4);
    NS_TRY(ns_label_set_alloc(s, count, (int)classes));
    if (version >= 2)
        memcpy(s->labeled_by, b + HEADER_V1, NS_SHA256_BYTES); /* else unknown: zero */
    memcpy(s->source, b + header, src_len);
    s->source[src_len] = '\0';
    if (names_field) {
        char *json = malloc(names_len + 1);
        ns_status st = json ? NS_OK : ns_fail(NS_ERR_NOMEM, "%s: out of memory", path);
        if (st == NS_OK) {
            memcpy(json, b + names_at + 4, names_len);
            json[names_len] = '\0';
            st = ns_class_names_from_json(json, path, &s->class_names);
        }
        free(json);
        if (st == NS_OK && s->class_names.n != 0 && s->class_names.n != (int)classes)
            st = ns_fail(NS_ERR_FORMAT, "%s: %d class names at offset %zu for %u classes", path, s->class_names.n,
                         names_at + 4, classes);
        if (st != NS_OK) {
            ns_label_set_free(s);
            return st == NS_ERR_NOMEM ? st : NS_ERR_FORMAT;
        }
    }
    if (tta_field) {
        char spec[NS_LABEL_FILE_MAX_TTA + 1];
        memcpy(spec, b + tta_at + 4, tta_len);
        spec[tta_len] = '\0';
        if (strlen(spec) != tta_len || ns_tta_parse(spec, "", &s->tta) != NS_OK) {
            ns_label_set_free(s);
            return ns_fail(NS_ERR_FORMAT, "%s: test-time augmentation '%s' at offset %zu, expected " NS_TTA_SPECS,
                           path, spec, tta_at + 4);
        }
    }
    const unsigned char *p = b + header + src_len + names_field + tta_field;
    for (size_t i = 0; i < count; i++, p += rec) {
        s->source_id[i] = get_u32(p);
        s->true_label[i] = (int32_t)get_u32(p + 4);
        s->top[i] = (int32_t)get_u32(p + 8);
        s->confidence[i] = get_f32(p + 12);
        float *row = s->probs + i * classes;
        for (uint32_t k = 0; k < classes; k++)
            row[k] = get_f32(p + RECORD_FIXED + 4u * (size_t)k);
        if (s->top[i] < 0 || s->top[i] >= (int32_t)classes || s->true_label[i] < -1 ||
            s->true_label[i] >= (int32_t)classes || !(s->confidence[i] >= 0.0f && s->confidence[i] <= 1.0f)) {
            ns_label_set_free(s);
            return ns_fail(NS_ERR_FORMAT,
                           "%s: record %zu at offset %zu has top %d, label %d, confidence %g; expected classes "
                           "0..%u and confidence in [0,1]",
                           path, i, (size_t)(p - b), (int)get_u32(p + 8), (int)get_u32(p + 4),
                           (double)get_f32(p + 12), classes - 1);
        }
        char why[160];
        if (row_invalid(row, (int)classes, why, sizeof why)) {
            ns_label_set_free(s);
            return ns_fail(NS_ERR_FORMAT, "%s: record %zu at offset %zu: %s", path, i, (size_t)(p - b), why);
        }
    }
    return NS_OK;
}

ns_status ns_label_file_read(const char *path, ns_label_set *s)
{
    memset(s, 0, sizeof *s);
    unsigned char *buf = NULL;
    size_t size = 0;
    NS_TRY(ns_read_file(path, MAX_FILE_BYTES, &buf, &size));
    ns_status st = parse(path, buf, size, s);
    if (st == NS_OK)
        ns_sha256_buffer(buf, size, s->file_sha256);
    free(buf);
    return st;
}
