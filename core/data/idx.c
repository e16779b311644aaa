#include "data/idx.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <zlib.h>

#include "util/error.h"

typedef struct idx_file {
    const char *path;
    gzFile gz;
    int compressed;
    long long raw_size; /* bytes on disk, for the truncation check before allocating */
} idx_file;

static ns_status idx_open(idx_file *f, const char *path)
{
    memset(f, 0, sizeof *f);
    f->path = path;
    FILE *probe = fopen(path, "rb");
    if (!probe)
        return ns_fail(NS_ERR_IO, "%s: cannot open: %s", path, strerror(errno));
    unsigned char magic[2] = {0, 0};
    size_t got = fread(magic, 1, 2, probe);
    struct stat st;
    f->raw_size = fstat(fileno(probe), &st) == 0 ? (long long)st.st_size : -1;
    fclose(probe);
    f->compressed = got == 2 && magic[0] == 0x1f && magic[1] == 0x8b;
    f->gz = gzopen(path, "rb");
    if (!f->gz)
        return ns_fail(NS_ERR_IO, "%s: cannot open: %s", path, strerror(errno ? errno : ENOMEM));
    gzbuffer(f->gz, 1 << 17);
    return NS_OK;
}

static void idx_close(idx_file *f)
{
    if (f->gz)
        gzclose(f->gz);
    f->gz = NULL;
}

/* zlib prefixes gzerror() with the path, which our message already names. */
static const char *zlib_message(const idx_file *f, const char *msg)
{
    size_t len = strlen(f->path);
    if (msg && strncmp(msg, f->path, len) == 0 && msg[len] == ':' && msg[len + 1] == ' ')
        return msg + len + 2;
    return msg ? msg : "unknown zlib error";
}

/* Reads exactly n bytes; `what` names the part for the message ("header",
 * "image data"), `before` bytes of that part were read already and `total`
 * is what the part should hold in all (for the message). */
static ns_status idx_read_part(idx_file *f, void *buf, size_t n, const char *what, size_t before, size_t total)
{
    size_t done = 0;
    while (done < n) {
        size_t chunk = n - done > (1u << 30) ? (1u << 30) : n - done;
        int r = gzread(f->gz, (char *)buf + done, (unsigned)chunk);
        if (r > 0) {
            done += (size_t)r;
            continue;
        }
        int errnum = Z_OK;
        const char *msg = gzerror(f->gz, &errnum);
        if (errnum == Z_BUF_ERROR) /* zlib's "unexpected end of file": the stream stops early */
            return ns_fail(NS_ERR_FORMAT, "%s: truncated: expected %zu bytes of %s, got %zu (zlib: %s)",
                           f->path, total, what, before + done, zlib_message(f, msg));
        if (r < 0 || errnum != Z_OK)
            return ns_fail(NS_ERR_FORMAT, "%s: gzip data is corrupt (zlib: %s) while reading %s, %zu of %zu bytes in",
                           f->path, zlib_message(f, msg), what, before + done, total);
        return ns_fail(NS_ERR_FORMAT, "%s: truncated: expected %zu bytes of %s, got %zu", f->path, total,
                       what, before + done);
    }
    return NS_OK;
}

static ns_status idx_read(idx_file *f, void *buf, size_t n, const char *what, size_t before)
{
    return idx_read_part(f, buf, n, what, before, before + n);
}

/* A gzip stream's length is known only once it is read, so a compressed
 * payload is read into a buffer that grows as data arrives (doubling from
 * 1 MiB): a 100-byte file whose header claims gigabytes then fails as
 * truncated instead of allocating them first (fuzz/fuzz_idx found that). On
 * success *out holds exactly n bytes, owned by the caller. */
static ns_status idx_read_growing(idx_file *f, size_t n, const char *what, uint8_t **out)
{
    size_t cap = n < ((size_t)1 << 20) ? n : ((size_t)1 << 20), done = 0;
    uint8_t *buf = malloc(cap ? cap : 1);
    ns_status st = buf ? NS_OK : ns_fail(NS_ERR_NOMEM, "%s: cannot allocate %zu bytes of %s", f->path, cap, what);
    while (st == NS_OK && done < n) {
        if (done == cap) {
            size_t grown = cap > n / 2 ? n : cap * 2;
            uint8_t *bigger = realloc(buf, grown);
            if (!bigger) {
                st = ns_fail(NS_ERR_NOMEM, "%s: cannot allocate %zu bytes of %s", f->path, grown, what);
                break;
            }
            buf = bigger;
            cap = grown;
        }
        st = idx_read_part(f, buf + done, cap - done, what, done, n);
        done = cap;
    }
    if (st != NS_OK) {
        free(buf);
        buf = NULL;
    }
    *out = buf;
    return st;
}

static uint32_t be32(const unsigned char *p)
{
    return ((uint32_t)p[0] << 24) | ((uint32_t)p[1] << 16) | ((uint32_t)p[2] << 8) | p[3];
}

static ns_status idx_header(idx_file *f, uint32_t want_magic, uint32_t *dims, int ndims)
{
    unsigned char hdr[16];
    size_t len = 4 + 4 * (size_t)ndims;
    NS_TRY(idx_read(f, hdr, 4, "header", 0));
    uint32_t magic = be32(hdr);
    if (magic != want_magic)
        return ns_fail(NS_ERR_FORMAT, "%s: wrong magic 0x%08x, expected 0x%08x (IDX %s)", f->path, magic,
                       want_magic, want_magic == NS_IDX_MAGIC_IMAGES ? "uint8 images, 3 dims" : "uint8 labels, 1 dim");
    NS_TRY(idx_read(f, hdr + 4, len - 4, "header", 4));
    for (int i = 0; i < ndims; i++)
        dims[i] = be32(hdr + 4 + 4 * i);
    return NS_OK;
}

/* For an uncompressed file the size is known: refuse a short file before allocating. */
static ns_status idx_check_raw_size(const idx_file *f, size_t header, size_t payload, const char *what)
{
    if (f->compressed || f->raw_size < 0)
        return NS_OK;
    unsigned long long have = (unsigned long long)f->raw_size > header ? (unsigned long long)f->raw_size - header : 0;
    if (have < payload)
        return ns_fail(NS_ERR_FORMAT, "%s: truncated: expected %zu bytes of %s, got %llu", f->path, payload,
                       what, have);
    return NS_OK;
}

/* Images: 3 dims (n, h, w: gray) or, magic 0x00000804, 4 dims (n, h, w, c:
 * HWC interleaved, c = 1 or 3), what `noisystudent pack` also streams. */
static ns_status image_header(idx_file *f, uint32_t *dims, size_t *header)
{
    unsigned char hdr[20];
    NS_TRY(idx_read(f, hdr, 4, "header", 0));
    uint32_t magic = be32(hdr);
    if (magic != NS_IDX_MAGIC_IMAGES && magic != NS_IDX_MAGIC_IMAGES4)
        return ns_fail(NS_ERR_FORMAT, "%s: wrong magic 0x%08x, expected 0x%08x (IDX uint8 images, 3 dims) or "
                       "0x%08x (4 dims, HWC)", f->path, magic, NS_IDX_MAGIC_IMAGES, NS_IDX_MAGIC_IMAGES4);
    int ndims = magic == NS_IDX_MAGIC_IMAGES ? 3 : 4;
    *header = 4 + 4 * (size_t)ndims;
    NS_TRY(idx_read(f, hdr + 4, 4 * (size_t)ndims, "header", 4));
    for (int i = 0; i < ndims; i++)
        dims[i] = be32(hdr + 4 + 4 * i);
    if (ndims == 3)
        dims[3] = 1;
    else if (dims[3] != 1 && dims[3] != 3)
        return ns_fail(NS_ERR_FORMAT, "%s: %u channels, expected 1 or 3", f->path, dims[3]);
    return NS_OK;
}

static ns_status load_images(const char *path, ns_dataset *out)
{
    idx_file f;
    NS_TRY(idx_open(&f, path));
    uint32_t dims[4];
    size_t header = 16;
    ns_status st = image_header(&f, dims, &header);
    if (st == NS_OK) {
        if (dims[1] == 0 || dims[2] == 0 || dims[1] > NS_IDX_MAX_SIDE || dims[2] > NS_IDX_MAX_SIDE ||
            dims[0] > NS_IDX_MAX_COUNT ||
            (unsigned long long)dims[0] * dims[1] * dims[2] * dims[3] > NS_IDX_MAX_BYTES)
            st = ns_fail(NS_ERR_FORMAT,
                         "%s: implausible image dimensions %u x %u x %u x %u, expected count <= %u, sides 1..%u, "
                         "at most %llu bytes",
                         path, dims[0], dims[1], dims[2], dims[3], NS_IDX_MAX_COUNT, NS_IDX_MAX_SIDE,
                         NS_IDX_MAX_BYTES);
    }
    size_t bytes = st == NS_OK ? (size_t)dims[0] * dims[1] * dims[2] * dims[3] : 0;
    if (st == NS_OK)
        st = idx_check_raw_size(&f, header, bytes, "image data");
    uint8_t *gz_data = NULL;
    if (st == NS_OK && f.compressed)
        st = idx_read_growing(&f, bytes, "image data", &gz_data);
    if (st == NS_OK)
        st = ns_dataset_alloc(out, dims[0], (int)dims[1], (int)dims[2], (int)dims[3]);
    if (st == NS_OK && gz_data) {
        /* Hand the buffer over instead of copying it (both are plain malloc
         * blocks that ns_dataset_free frees). */
        free(out->images);
        out->images = gz_data;
        gz_data = NULL;
    } else if (st == NS_OK) {
        st = idx_read(&f, out->images, bytes, "image data", 0);
    }
    free(gz_data);
    idx_close(&f);
    if (st != NS_OK)
        ns_dataset_free(out);
    return st;
}

static ns_status load_labels(const char *path, ns_dataset *out)
{
    idx_file f;
    NS_TRY(idx_open(&f, path));
    uint32_t count = 0;
    uint8_t *raw = NULL;
    ns_status st = idx_header(&f, NS_IDX_MAGIC_LABELS, &count, 1);
    if (st == NS_OK && count != out->n)
        st = ns_fail(NS_ERR_FORMAT, "%s: holds %u labels, expected %zu (one per image)", path, count, out->n);
    if (st == NS_OK)
        st = idx_check_raw_size(&f, 8, count, "label data");
    if (st == NS_OK && !(raw = malloc(count ? count : 1)))
        st = ns_fail(NS_ERR_NOMEM, "%s: cannot allocate %u labels", path, count);
    if (st == NS_OK)
        st = idx_read(&f, raw, count, "label data", 0);
    idx_close(&f);
    /* uint8 labels cannot exceed 255, so every value is a valid class id. */
    if (st == NS_OK)
        for (uint32_t i = 0; i < count; i++)
            out->labels[i] = raw[i];
    free(raw);
    return st;
}

ns_status ns_idx_load(const char *images_path, const char *labels_path, ns_dataset *out)
{
    memset(out, 0, sizeof *out);
    if (!images_path)
        return ns_fail(NS_ERR_INVALID_ARG, "idx: images path is NULL");
    NS_TRY(load_images(images_path, out));
    if (labels_path) {
        ns_status st = load_labels(labels_path, out);
        if (st != NS_OK) {
            ns_dataset_free(out);
            return st;
        }
    }
    ns_dataset_count_classes(out);
    snprintf(out->source, sizeof out->source, "idx:%s%s%s", images_path, labels_path ? "," : "",
             labels_path ? labels_path : "");
    return NS_OK;
}
