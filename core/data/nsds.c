#include "data/nsds.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

#include <zlib.h>

#include "io/file_util.h"
#include "io/atomic_file.h"
#include "util/error.h"

/* Header field offsets (docs/nsds-format.md). */
enum {
    H_MAGIC = 0,
    H_VERSION = 8,
    H_HEADER_BYTES = 12,
    H_C = 16,
    H_H = 20,
    H_W = 24,
    H_FLAGS = 28,
    H_COUNT = 32,
    H_PIXELS_OFF = 40,
    H_PIXELS_BYTES = 48,
    H_LABELS_OFF = 56,
    H_LABELS_BYTES = 64,
    H_NAMES_OFF = 72,
    H_NAMES_BYTES = 80,
    H_CHUNKS_OFF = 88,
    H_CHUNK_BYTES = 96,
    H_CHUNK_COUNT = 100,
    H_FILE_BYTES = 104,
    H_LABELS_CRC = 112,
    H_NAMES_CRC = 116,
    H_CHUNKS_CRC = 120,
    H_HEADER_CRC = 124,
    H_USED = 128 /* bytes 128..4095 are zero */
};

static void put32(uint8_t *p, uint32_t v)
{
    for (int i = 0; i < 4; i++)
        p[i] = (uint8_t)(v >> (8 * i));
}

static void put64(uint8_t *p, uint64_t v)
{
    for (int i = 0; i < 8; i++)
        p[i] = (uint8_t)(v >> (8 * i));
}

static uint32_t get32(const uint8_t *p)
{
    return (uint32_t)p[0] | (uint32_t)p[1] << 8 | (uint32_t)p[2] << 16 | (uint32_t)p[3] << 24;
}

static uint64_t get64(const uint8_t *p)
{
    return (uint64_t)get32(p) | (uint64_t)get32(p + 4) << 32;
}

static uint32_t crc(const void *p, size_t n)
{
    return (uint32_t)crc32_z(crc32_z(0, Z_NULL, 0), p, n);
}

static uint64_t align_up(uint64_t v, uint64_t a)
{
    return (v + a - 1) / a * a;
}

/* ---------------------------------------------------------------- writing */

typedef struct write_job {
    int c, h, w;
    const char *names_json;
    size_t max_images;
    ns_nsds_pull_fn pull;
    void *user;
    size_t count;
    int32_t *labels;
    size_t labels_cap;
    uint32_t *chunk_crc;
    size_t chunks, chunks_cap;
    uint32_t cur_crc;  /* of the chunk being filled */
    size_t cur_bytes;
} write_job;

static ns_status push_chunk(write_job *j)
{
    if (j->chunks == j->chunks_cap) {
        size_t cap = j->chunks_cap ? 2 * j->chunks_cap : 256;
        uint32_t *p = realloc(j->chunk_crc, cap * sizeof *p);
        if (!p)
            return ns_fail(NS_ERR_NOMEM, "out of memory for the chunk table");
        j->chunk_crc = p;
        j->chunks_cap = cap;
    }
    j->chunk_crc[j->chunks++] = j->cur_crc;
    j->cur_crc = (uint32_t)crc32_z(0, Z_NULL, 0);
    j->cur_bytes = 0;
    return NS_OK;
}

/* Feeds pixel bytes to the per-chunk CRCs. */
static ns_status crc_pixels(write_job *j, const uint8_t *p, size_t n)
{
    while (n) {
        size_t take = NS_NSDS_CHUNK_BYTES - j->cur_bytes;
        if (take > n)
            take = n;
        j->cur_crc = (uint32_t)crc32_z(j->cur_crc, p, take);
        j->cur_bytes += take;
        p += take;
        n -= take;
        if (j->cur_bytes == NS_NSDS_CHUNK_BYTES)
            NS_TRY(push_chunk(j));
    }
    return NS_OK;
}

static ns_status fwrite_all(FILE *f, const void *p, size_t n, const char *what)
{
    if (n && fwrite(p, 1, n, f) != n)
        return ns_fail(NS_ERR_IO, "writing %s (%zu bytes) failed: %s", what, n, strerror(errno));
    return NS_OK;
}

static ns_status write_shard(FILE *f, void *user)
{
    write_job *j = user;
    const size_t img = (size_t)j->c * j->h * j->w;
    uint8_t zero[NS_NSDS_HEADER_BYTES];
    memset(zero, 0, sizeof zero);
    NS_TRY(fwrite_all(f, zero, sizeof zero, "the header placeholder"));
    /* Pull in batches of about 4 MiB. */
    size_t batch = (4u << 20) / img;
    if (batch < 1)
        batch = 1;
    uint8_t *buf = malloc(batch * img);
    if (!buf)
        return ns_fail(NS_ERR_NOMEM, "out of memory for a batch of %zu images", batch);
    j->cur_crc = (uint32_t)crc32_z(0, Z_NULL, 0);
    ns_status st = NS_OK;
    for (;;) {
        size_t want = batch;
        if (j->max_images && j->max_images - j->count < want)
            want = j->max_images - j->count;
        if (want == 0)
            break;
        if (j->count + want > j->labels_cap) {
            size_t cap = j->labels_cap ? 2 * j->labels_cap : 4096;
            while (cap < j->count + want)
                cap *= 2;
            int32_t *p = realloc(j->labels, cap * sizeof *p);
            if (!p) {
                st = ns_fail(NS_ERR_NOMEM, "out of memory for %zu labels", cap);
                break;
            }
            j->labels = p;
            j->labels_cap = cap;
        }
        size_t got = 0;
        st = j->pull(j->user, want, buf, j->labels + j->count, &got);
        if (st != NS_OK || got == 0)
            break;
        if (got > want) {
            st = ns_fail(NS_ERR_INTERNAL, "nsds writer: the source gave %zu images for %zu asked", got, want);
            break;
        }
        st = fwrite_all(f, buf, got * img, "pixels");
        if (st == NS_OK)
            st = crc_pixels(j, buf, got * img);
        if (st != NS_OK)
            break;
        j->count += got;
    }
    free(buf);
    NS_TRY(st);
    if (j->cur_bytes)
        NS_TRY(push_chunk(j));

    const uint64_t pix_off = NS_NSDS_HEADER_BYTES, pix_bytes = (uint64_t)j->count * img;
    const uint64_t lab_off = align_up(pix_off + pix_bytes, 8), lab_bytes = (uint64_t)j->count * 4;
    const uint64_t names_off = lab_off + lab_bytes, names_bytes = strlen(j->names_json);
    const uint64_t chunks_off = align_up(names_off + names_bytes, 4), chunks_bytes = (uint64_t)j->chunks * 4;
    const uint64_t file_bytes = chunks_off + chunks_bytes;
    NS_TRY(fwrite_all(f, zero, (size_t)(lab_off - pix_off - pix_bytes), "padding"));
    /* Labels and the chunk table little-endian whatever the host. */
    uint8_t *tail = malloc(lab_bytes + chunks_bytes + 1);
    if (!tail)
        return ns_fail(NS_ERR_NOMEM, "out of memory for %zu labels", j->count);
    for (size_t i = 0; i < j->count; i++)
        put32(tail + 4 * i, (uint32_t)j->labels[i]);
    for (size_t i = 0; i < j->chunks; i++)
        put32(tail + lab_bytes + 4 * i, j->chunk_crc[i]);
    uint8_t hdr[H_USED];
    memset(hdr, 0, sizeof hdr);
    memcpy(hdr + H_MAGIC, NS_NSDS_MAGIC, 8);
    put32(hdr + H_VERSION, NS_NSDS_VERSION);
    put32(hdr + H_HEADER_BYTES, NS_NSDS_HEADER_BYTES);
    put32(hdr + H_C, (uint32_t)j->c);
    put32(hdr + H_H, (uint32_t)j->h);
    put32(hdr + H_W, (uint32_t)j->w);
    put64(hdr + H_COUNT, j->count);
    put64(hdr + H_PIXELS_OFF, pix_off);
    put64(hdr + H_PIXELS_BYTES, pix_bytes);
    put64(hdr + H_LABELS_OFF, lab_off);
    put64(hdr + H_LABELS_BYTES, lab_bytes);
    put64(hdr + H_NAMES_OFF, names_off);
    put64(hdr + H_NAMES_BYTES, names_bytes);
    put64(hdr + H_CHUNKS_OFF, chunks_off);
    put32(hdr + H_CHUNK_BYTES, NS_NSDS_CHUNK_BYTES);
    put32(hdr + H_CHUNK_COUNT, (uint32_t)j->chunks);
    put64(hdr + H_FILE_BYTES, file_bytes);
    put32(hdr + H_LABELS_CRC, crc(tail, lab_bytes));
    put32(hdr + H_NAMES_CRC, crc(j->names_json, names_bytes));
    put32(hdr + H_CHUNKS_CRC, crc(tail + lab_bytes, chunks_bytes));
    put32(hdr + H_HEADER_CRC, crc(hdr, H_HEADER_CRC));
    st = fwrite_all(f, tail, lab_bytes, "labels");
    if (st == NS_OK)
        st = fwrite_all(f, j->names_json, names_bytes, "class names");
    if (st == NS_OK)
        st = fwrite_all(f, zero, (size_t)(chunks_off - names_off - names_bytes), "padding");
    if (st == NS_OK)
        st = fwrite_all(f, tail + lab_bytes, chunks_bytes, "the chunk table");
    free(tail);
    NS_TRY(st);
    if (fflush(f) != 0 || fseeko(f, 0, SEEK_SET) != 0)
        return ns_fail(NS_ERR_IO, "seeking back to the header failed: %s", strerror(errno));
    return fwrite_all(f, hdr, sizeof hdr, "the header");
}

ns_status ns_nsds_write(const char *path, int c, int h, int w, const ns_class_names *names, size_t max_images,
                        ns_nsds_pull_fn pull, void *user, size_t *written)
{
    if (written)
        *written = 0;
    if (c < 1 || c > 4 || h < 1 || w < 1 || (unsigned)h > NS_NSDS_MAX_SIDE || (unsigned)w > NS_NSDS_MAX_SIDE)
        return ns_fail(NS_ERR_INVALID_ARG, "%s: image shape %dx%dx%d, expected c 1..4 and sides 1..%u", path, c, h,
                       w, NS_NSDS_MAX_SIDE);
    char *json = NULL;
    if (names && names->n > 0)
        NS_TRY(ns_class_names_to_json(names, &json));
    write_job j;
    memset(&j, 0, sizeof j);
    j.c = c;
    j.h = h;
    j.w = w;
    j.names_json = json ? json : "";
    j.max_images = max_images;
    j.pull = pull;
    j.user = user;
    ns_status st = ns_atomic_write(path, write_shard, &j);
    if (st == NS_OK && written)
        *written = j.count;
    free(json);
    free(j.labels);
    free(j.chunk_crc);
    return st;
}

/* ---------------------------------------------------------------- reading */

/* One shard as opened: its header fields, checked. */
typedef struct shard {
    char path[PATH_MAX];
    int fd;
    uint64_t size;
    int c, h, w;
    uint64_t count, pix_off, pix_bytes, lab_off, lab_bytes, names_off, names_bytes, chunks_off, file_bytes;
    uint32_t chunk_bytes, chunk_count, labels_crc, names_crc, chunks_crc;
    int32_t *labels; /* count, owned */
    ns_class_names names;
    uint32_t *chunk_crc; /* chunk_count, owned */
} shard;

static void shard_close(shard *s)
{
    if (s->fd >= 0)
        close(s->fd);
    s->fd = -1;
    free(s->labels);
    free(s->chunk_crc);
    s->labels = NULL;
    s->chunk_crc = NULL;
    ns_class_names_free(&s->names);
}

/* pread of exactly n bytes at off; a short read is truncation at off + got. */
static ns_status read_at(shard *s, void *buf, size_t n, uint64_t off, const char *what)
{
    size_t got = 0;
    while (got < n) {
        ssize_t r = pread(s->fd, (uint8_t *)buf + got, n - got, (off_t)(off + got));
        if (r < 0) {
            if (errno == EINTR)
                continue;
            return ns_fail(NS_ERR_IO, "%s: reading %s at byte %llu: %s", s->path, what,
                           (unsigned long long)(off + got), strerror(errno));
        }
        if (r == 0)
            return ns_fail(NS_ERR_FORMAT, "%s: truncated at byte %llu inside %s (bytes %llu..%llu)", s->path,
                           (unsigned long long)(off + got), what, (unsigned long long)off,
                           (unsigned long long)(off + n));
        got += (size_t)r;
    }
    return NS_OK;
}

/* A section [off, off+bytes) must lie in the file after the header. */
static ns_status check_section(const shard *s, const char *what, uint64_t off, uint64_t bytes, uint64_t field)
{
    if (off < NS_NSDS_HEADER_BYTES || off > s->file_bytes || bytes > s->file_bytes - off)
        return ns_fail(NS_ERR_FORMAT, "%s: header byte %llu: %s at %llu..%llu lies outside the file's %llu bytes",
                       s->path, (unsigned long long)field, what, (unsigned long long)off,
                       (unsigned long long)(off + bytes), (unsigned long long)s->file_bytes);
    return NS_OK;
}

static ns_status parse_header(shard *s, const uint8_t *hdr)
{
    if (memcmp(hdr + H_MAGIC, NS_NSDS_MAGIC, 8) != 0)
        return ns_fail(NS_ERR_FORMAT, "%s: byte 0: not an .nsds shard (magic \\x89NSDS\\r\\n\\x1a expected)", s->path);
    uint32_t version = get32(hdr + H_VERSION);
    if (version != NS_NSDS_VERSION)
        return ns_fail(NS_ERR_FORMAT, "%s: byte %d: format version %u, this build reads version %u", s->path,
                       H_VERSION, version, NS_NSDS_VERSION);
    uint32_t want = get32(hdr + H_HEADER_CRC), got = crc(hdr, H_HEADER_CRC);
    if (want != got)
        return ns_fail(NS_ERR_FORMAT, "%s: header bytes 0..%d fail their CRC32 (stored at byte %d: %08x, computed "
                       "%08x): the header is corrupt", s->path, H_HEADER_CRC, H_HEADER_CRC, want, got);
    for (int i = H_USED; i < (int)NS_NSDS_HEADER_BYTES; i++)
        if (hdr[i] != 0)
            return ns_fail(NS_ERR_FORMAT, "%s: byte %d: reserved header byte is %u, expected 0", s->path, i, hdr[i]);
    if (get32(hdr + H_HEADER_BYTES) != NS_NSDS_HEADER_BYTES || get32(hdr + H_FLAGS) != 0)
        return ns_fail(NS_ERR_FORMAT, "%s: byte %d: header size %u and flags %u, expected %u and 0", s->path,
                       H_HEADER_BYTES, get32(hdr + H_HEADER_BYTES), get32(hdr + H_FLAGS), NS_NSDS_HEADER_BYTES);
    uint32_t c = get32(hdr + H_C), h = get32(hdr + H_H), w = get32(hdr + H_W);
    if (c < 1 || c > 4 || h < 1 || w < 1 || h > NS_NSDS_MAX_SIDE || w > NS_NSDS_MAX_SIDE)
        return ns_fail(NS_ERR_FORMAT, "%s: byte %d: image shape %ux%ux%u, expected c 1..4 and sides 1..%u", s->path,
                       H_C, c, h, w, NS_NSDS_MAX_SIDE);
    s->c = (int)c;
    s->h = (int)h;
    s->w = (int)w;
    s->count = get64(hdr + H_COUNT);
    s->pix_off = get64(hdr + H_PIXELS_OFF);
    s->pix_bytes = get64(hdr + H_PIXELS_BYTES);
    s->lab_off = get64(hdr + H_LABELS_OFF);
    s->lab_bytes = get64(hdr + H_LABELS_BYTES);
    s->names_off = get64(hdr + H_NAMES_OFF);
    s->names_bytes = get64(hdr + H_NAMES_BYTES);
    s->chunks_off = get64(hdr + H_CHUNKS_OFF);
    s->chunk_bytes = get32(hdr + H_CHUNK_BYTES);
    s->chunk_count = get32(hdr + H_CHUNK_COUNT);
    s->file_bytes = get64(hdr + H_FILE_BYTES);
    s->labels_crc = get32(hdr + H_LABELS_CRC);
    s->names_crc = get32(hdr + H_NAMES_CRC);
    s->chunks_crc = get32(hdr + H_CHUNKS_CRC);
    const uint64_t img = (uint64_t)c * h * w;
    if (s->count > UINT32_MAX || s->pix_bytes != s->count * img || s->lab_bytes != s->count * 4 ||
        s->pix_off != NS_NSDS_HEADER_BYTES)
        return ns_fail(NS_ERR_FORMAT, "%s: byte %d: %llu images of %llu bytes do not match %llu pixel bytes at %llu "
                       "and %llu label bytes (at most 2^32-1 images per shard)", s->path, H_COUNT,
                       (unsigned long long)s->count, (unsigned long long)img, (unsigned long long)s->pix_bytes,
                       (unsigned long long)s->pix_off, (unsigned long long)s->lab_bytes);
    if (s->chunk_bytes != NS_NSDS_CHUNK_BYTES ||
        s->chunk_count != (s->pix_bytes + s->chunk_bytes - 1) / s->chunk_bytes)
        return ns_fail(NS_ERR_FORMAT, "%s: byte %d: %u chunks of %u bytes do not cover %llu pixel bytes", s->path,
                       H_CHUNK_BYTES, s->chunk_count, s->chunk_bytes, (unsigned long long)s->pix_bytes);
    /* The size on disk against the header: truncation is caught here, before
     * any section is read or mapped. */
    if (s->size != s->file_bytes)
        return ns_fail(NS_ERR_FORMAT, "%s: %s at byte %llu: the header (byte %d) says the file has %llu bytes",
                       s->path, s->size < s->file_bytes ? "truncated" : "unexpected data", (unsigned long long)
                       (s->size < s->file_bytes ? s->size : s->file_bytes), H_FILE_BYTES,
                       (unsigned long long)s->file_bytes);
    NS_TRY(check_section(s, "pixels", s->pix_off, s->pix_bytes, H_PIXELS_OFF));
    NS_TRY(check_section(s, "labels", s->lab_off, s->lab_bytes, H_LABELS_OFF));
    NS_TRY(check_section(s, "class names", s->names_off, s->names_bytes, H_NAMES_OFF));
    NS_TRY(check_section(s, "chunk table", s->chunks_off, (uint64_t)s->chunk_count * 4, H_CHUNKS_OFF));
    if (s->lab_off < s->pix_off + s->pix_bytes || s->names_bytes > (1u << 24))
        return ns_fail(NS_ERR_FORMAT, "%s: byte %d: labels at %llu overlap the pixels ending at %llu, or class names "
                       "of %llu bytes (at most 16 MiB)", s->path, H_LABELS_OFF, (unsigned long long)s->lab_off,
                       (unsigned long long)(s->pix_off + s->pix_bytes), (unsigned long long)s->names_bytes);
    return NS_OK;
}

/* Reads a section and checks its CRC. */
static ns_status read_checked(shard *s, void *buf, uint64_t off, uint64_t bytes, uint32_t want, const char *what,
                              int crc_field)
{
    NS_TRY(read_at(s, buf, (size_t)bytes, off, what));
    uint32_t got = crc(buf, (size_t)bytes);
    if (got != want)
        return ns_fail(NS_ERR_FORMAT, "%s: %s at bytes %llu..%llu fail their CRC32 (stored at byte %d: %08x, computed "
                       "%08x): the file is corrupt", s->path, what, (unsigned long long)off,
                       (unsigned long long)(off + bytes), crc_field, want, got);
    return NS_OK;
}

/* Opens, parses and checks everything but the pixels. */
static ns_status shard_open(const char *path, shard *s)
{
    memset(s, 0, sizeof *s);
    s->fd = -1;
    if (strlen(path) >= sizeof s->path)
        return ns_fail(NS_ERR_INVALID_ARG, "%.64s...: path too long", path);
    strcpy(s->path, path);
    s->fd = open(path, O_RDONLY | O_CLOEXEC);
    if (s->fd < 0)
        return ns_fail(errno == ENOENT ? NS_ERR_NOT_FOUND : NS_ERR_IO, "%s: cannot open: %s", path, strerror(errno));
    struct stat st;
    if (fstat(s->fd, &st) != 0 || !S_ISREG(st.st_mode))
        return ns_fail(NS_ERR_IO, "%s: not a regular file", path);
    s->size = (uint64_t)st.st_size;
    uint8_t *hdr = malloc(NS_NSDS_HEADER_BYTES);
    if (!hdr)
        return ns_fail(NS_ERR_NOMEM, "%s: out of memory", path);
    ns_status r = NS_OK;
    if (s->size < NS_NSDS_HEADER_BYTES) {
        /* Still tell a wrong file from a truncated shard. */
        uint8_t m[8] = {0};
        if (s->size >= 8)
            r = read_at(s, m, 8, 0, "magic");
        if (r == NS_OK && (s->size < 8 || memcmp(m, NS_NSDS_MAGIC, 8) != 0))
            r = ns_fail(NS_ERR_FORMAT, "%s: byte 0: not an .nsds shard (magic \\x89NSDS\\r\\n\\x1a expected)", path);
        else if (r == NS_OK)
            r = ns_fail(NS_ERR_FORMAT, "%s: truncated at byte %llu inside the header (bytes 0..%u)", path,
                        (unsigned long long)s->size, NS_NSDS_HEADER_BYTES);
    }
    if (r == NS_OK)
        r = read_at(s, hdr, NS_NSDS_HEADER_BYTES, 0, "the header");
    if (r == NS_OK)
        r = parse_header(s, hdr);
    free(hdr);
    NS_TRY(r);
    s->labels = malloc(s->lab_bytes ? (size_t)s->lab_bytes : 1);
    s->chunk_crc = malloc(s->chunk_count ? (size_t)s->chunk_count * 4 : 1);
    char *json = malloc((size_t)s->names_bytes + 1);
    if (!s->labels || !s->chunk_crc || !json) {
        free(json);
        return ns_fail(NS_ERR_NOMEM, "%s: out of memory for %llu labels", path, (unsigned long long)s->count);
    }
    r = read_checked(s, s->labels, s->lab_off, s->lab_bytes, s->labels_crc, "labels", H_LABELS_CRC);
    if (r == NS_OK)
        r = read_checked(s, json, s->names_off, s->names_bytes, s->names_crc, "class names", H_NAMES_CRC);
    if (r == NS_OK)
        r = read_checked(s, s->chunk_crc, s->chunks_off, (uint64_t)s->chunk_count * 4, s->chunks_crc, "chunk table",
                         H_CHUNKS_CRC);
    if (r == NS_OK && s->names_bytes) {
        json[s->names_bytes] = '\0';
        r = ns_class_names_from_json(json, path, &s->names);
    }
    free(json);
    NS_TRY(r);
    /* In place from little-endian. */
    const uint8_t *raw = (const uint8_t *)s->labels;
    for (uint64_t i = 0; i < s->count; i++) {
        int32_t v = (int32_t)get32(raw + 4 * i);
        if (v < -1 || (s->names.n > 0 && v >= s->names.n))
            return ns_fail(NS_ERR_FORMAT, "%s: byte %llu: label %d of image %llu, expected -1..%d", path,
                           (unsigned long long)(s->lab_off + 4 * i), v, (unsigned long long)i,
                           s->names.n > 0 ? s->names.n - 1 : INT32_MAX);
        s->labels[i] = v;
    }
    const uint8_t *rawc = (const uint8_t *)s->chunk_crc;
    for (uint32_t k = 0; k < s->chunk_count; k++)
        s->chunk_crc[k] = get32(rawc + 4 * k);
    return NS_OK;
}

ns_status ns_nsds_check(const char *path, size_t *count)
{
    if (count)
        *count = 0;
    shard s;
    ns_status st = shard_open(path, &s);
    uint8_t *buf = st == NS_OK ? malloc(NS_NSDS_CHUNK_BYTES) : NULL;
    if (st == NS_OK && !buf)
        st = ns_fail(NS_ERR_NOMEM, "%s: out of memory", path);
    for (uint32_t k = 0; st == NS_OK && k < s.chunk_count; k++) {
        uint64_t off = s.pix_off + (uint64_t)k * s.chunk_bytes;
        uint64_t n = s.pix_off + s.pix_bytes - off;
        if (n > s.chunk_bytes)
            n = s.chunk_bytes;
        st = read_at(&s, buf, (size_t)n, off, "pixels");
        if (st == NS_OK && crc(buf, (size_t)n) != s.chunk_crc[k])
            st = ns_fail(NS_ERR_FORMAT, "%s: pixel chunk %u at bytes %llu..%llu (images %llu..%llu) fails its CRC32 "
                         "(table entry at byte %llu): the pixels are corrupt", path, k, (unsigned long long)off,
                         (unsigned long long)(off + n), (unsigned long long)((off - s.pix_off) / ((uint64_t)s.c * s.h * s.w)),
                         (unsigned long long)((off + n - s.pix_off - 1) / ((uint64_t)s.c * s.h * s.w)),
                         (unsigned long long)(s.chunks_off + 4ull * k));
    }
    free(buf);
    if (st == NS_OK && count)
        *count = (size_t)s.count;
    shard_close(&s);
    return st;
}

/* ------------------------------------------------------ specs and datasets */

typedef struct path_list {
    char **p;
    size_t n, cap;
} path_list;

static void paths_free(path_list *l)
{
    for (size_t i = 0; i < l->n; i++)
        free(l->p[i]);
    free(l->p);
    memset(l, 0, sizeof *l);
}

static ns_status paths_add(path_list *l, const char *p)
{
    if (l->n == NS_NSDS_MAX_SHARDS)
        return ns_fail(NS_ERR_INVALID_ARG, "%s: more than %u shards in one dataset", p, NS_NSDS_MAX_SHARDS);
    if (l->n == l->cap) {
        size_t cap = l->cap ? 2 * l->cap : 8;
        char **q = realloc(l->p, cap * sizeof *q);
        if (!q)
            return ns_fail(NS_ERR_NOMEM, "out of memory for the shard list");
        l->p = q;
        l->cap = cap;
    }
    if (!(l->p[l->n] = strdup(p)))
        return ns_fail(NS_ERR_NOMEM, "out of memory for the shard list");
    l->n++;
    return NS_OK;
}

static int ends_nsds(const char *s, size_t len)
{
    return len > 5 && memcmp(s + len - 5, ".nsds", 5) == 0;
}

static int cmp_str(const void *a, const void *b)
{
    return strcmp(*(char *const *)a, *(char *const *)b);
}

/* Every *.nsds file directly in dir, sorted by name. */
static ns_status list_dir(const char *dir, path_list *out)
{
    DIR *d = opendir(dir);
    if (!d)
        return ns_fail(NS_ERR_NOT_FOUND, "%s: cannot list: %s", dir, strerror(errno));
    ns_status st = NS_OK;
    struct dirent *e;
    char p[PATH_MAX];
    while (st == NS_OK && (e = readdir(d)) != NULL) {
        if (!ends_nsds(e->d_name, strlen(e->d_name)))
            continue;
        snprintf(p, sizeof p, "%s/%s", dir, e->d_name);
        if (ns_path_is_file(p))
            st = paths_add(out, p);
    }
    closedir(d);
    if (st == NS_OK && out->n == 0)
        st = ns_fail(NS_ERR_NOT_FOUND, "%s: no *.nsds shard in this directory", dir);
    if (st == NS_OK)
        qsort(out->p, out->n, sizeof *out->p, cmp_str);
    return st;
}

static int dir_has_nsds(const char *dir)
{
    DIR *d = opendir(dir);
    if (!d)
        return 0;
    int found = 0;
    struct dirent *e;
    while (!found && (e = readdir(d)) != NULL)
        found = ends_nsds(e->d_name, strlen(e->d_name));
    closedir(d);
    return found;
}

int ns_nsds_spec_is(const char *spec)
{
    if (!spec || !*spec)
        return 0;
    const char *comma = strchr(spec, ',');
    if (ends_nsds(spec, comma ? (size_t)(comma - spec) : strlen(spec)))
        return 1;
    if (!ns_path_is_dir(spec))
        return 0;
    char sub[PATH_MAX];
    snprintf(sub, sizeof sub, "%s/train", spec);
    return dir_has_nsds(spec) || dir_has_nsds(sub);
}

/* One name: the file, or its numbered series. */
static ns_status resolve_one(const char *name, path_list *out)
{
    if (ns_path_is_file(name))
        return paths_add(out, name);
    size_t len = strlen(name);
    char p[PATH_MAX];
    for (unsigned k = 0;; k++) {
        if (snprintf(p, sizeof p, "%.*s-%05u.nsds", (int)(len - 5), name, k) >= (int)sizeof p)
            return ns_fail(NS_ERR_INVALID_ARG, "%s: path too long", name);
        if (!ns_path_is_file(p))
            break;
        NS_TRY(paths_add(out, p));
    }
    if (out->n == 0)
        return ns_fail(NS_ERR_NOT_FOUND, "%s: no such shard (nor a series %.*s-00000.nsds, ...)", name,
                       (int)(len - 5), name);
    return NS_OK;
}

static ns_status resolve(const char *spec, int train, path_list *out)
{
    if (ns_path_is_dir(spec)) {
        char sub[PATH_MAX];
        snprintf(sub, sizeof sub, "%s/train", spec);
        if (dir_has_nsds(sub)) {
            snprintf(sub, sizeof sub, "%s/%s", spec, train ? "train" : "test");
            if (!ns_path_is_dir(sub))
                return ns_fail(NS_ERR_NOT_FOUND, "%s: has train/ shards but no test/ folder for the test split", spec);
            return list_dir(sub, out);
        }
        return list_dir(spec, out);
    }
    char *copy = strdup(spec);
    if (!copy)
        return ns_fail(NS_ERR_NOMEM, "out of memory");
    ns_status st = NS_OK;
    char *save = NULL;
    for (char *tok = strtok_r(copy, ",", &save); st == NS_OK && tok; tok = strtok_r(NULL, ",", &save)) {
        if (!ends_nsds(tok, strlen(tok)))
            st = ns_fail(NS_ERR_USAGE, "dataset '%s': '%s' is not an .nsds shard name", spec, tok);
        else {
            path_list one = {0};
            st = resolve_one(tok, &one);
            for (size_t i = 0; st == NS_OK && i < one.n; i++)
                st = paths_add(out, one.p[i]);
            paths_free(&one);
        }
    }
    free(copy);
    return st;
}

/* Maps the shards' pixels: back to back in one reserved range when every
 * shard but the last ends on a page boundary, else one mapping each. */
static ns_status map_pixels(shard *sh, size_t n, ns_dataset *d)
{
    ns_dataset_map *m = calloc(1, sizeof *m);
    if (!m)
        return ns_fail(NS_ERR_NOMEM, "out of memory");
    d->map = m; /* ns_dataset_free undoes whatever is done below */
    m->first = calloc(n + 1, sizeof *m->first);
    m->pixels = calloc(n, sizeof *m->pixels);
    m->addr = calloc(n, sizeof *m->addr);
    m->len = calloc(n, sizeof *m->len);
    if (!m->first || !m->pixels || !m->addr || !m->len)
        return ns_fail(NS_ERR_NOMEM, "out of memory");
    m->shards = n;
    const size_t page = (size_t)sysconf(_SC_PAGESIZE);
    int contiguous = 1;
    uint64_t total = 0;
    for (size_t k = 0; k < n; k++) {
        m->first[k] = (size_t)total;
        total += sh[k].count;
        if (k + 1 < n && sh[k].pix_bytes % page != 0)
            contiguous = 0;
    }
    m->first[n] = (size_t)total;
    const size_t img = ns_dataset_image_bytes(d);
    if (contiguous && total > 0) {
        size_t len = (size_t)align_up(total * img, page);
        void *base = mmap(NULL, len, PROT_NONE, MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE, -1, 0);
        if (base == MAP_FAILED)
            return ns_fail(NS_ERR_NOMEM, "%s: cannot reserve %zu bytes of address space: %s", sh[0].path, len,
                           strerror(errno));
        m->reserved = base;
        m->reserved_len = len;
        for (size_t k = 0; k < n; k++) {
            if (sh[k].pix_bytes == 0)
                continue;
            uint8_t *at = (uint8_t *)base + m->first[k] * img;
            if (mmap(at, (size_t)sh[k].pix_bytes, PROT_READ, MAP_SHARED | MAP_FIXED, sh[k].fd,
                     (off_t)sh[k].pix_off) == MAP_FAILED)
                return ns_fail(NS_ERR_IO, "%s: cannot map %llu pixel bytes: %s", sh[k].path,
                               (unsigned long long)sh[k].pix_bytes, strerror(errno));
            m->pixels[k] = at;
        }
        d->images = base;
        return NS_OK;
    }
    for (size_t k = 0; k < n; k++) {
        if (sh[k].pix_bytes == 0)
            continue;
        void *at = mmap(NULL, (size_t)sh[k].pix_bytes, PROT_READ, MAP_SHARED, sh[k].fd, (off_t)sh[k].pix_off);
        if (at == MAP_FAILED)
            return ns_fail(NS_ERR_IO, "%s: cannot map %llu pixel bytes: %s", sh[k].path,
                           (unsigned long long)sh[k].pix_bytes, strerror(errno));
        m->addr[k] = at;
        m->len[k] = (size_t)sh[k].pix_bytes;
        m->pixels[k] = at;
    }
    return NS_OK;
}

/* Shards of one dataset agree on shape and class names. */
static ns_status check_mix(const shard *a, const shard *b)
{
    if (a->c != b->c || a->h != b->h || a->w != b->w)
        return ns_fail(NS_ERR_FORMAT, "%s: images are %dx%dx%d (CxHxW) but %s has %dx%dx%d: shards of one dataset "
                       "must have one shape", b->path, b->c, b->h, b->w, a->path, a->c, a->h, a->w);
    if (!ns_class_names_equal(&a->names, &b->names))
        return ns_fail(NS_ERR_FORMAT, "%s: its %d class names differ from the %d of %s: shards of one dataset must "
                       "have the same class names in the same order", b->path, b->names.n, a->names.n, a->path);
    return NS_OK;
}

ns_status ns_nsds_open(const char *spec, int train, ns_dataset *out)
{
    memset(out, 0, sizeof *out);
    path_list paths = {0};
    ns_status st = resolve(spec, train, &paths);
    shard *sh = st == NS_OK ? calloc(paths.n, sizeof *sh) : NULL;
    if (st == NS_OK && !sh)
        st = ns_fail(NS_ERR_NOMEM, "out of memory");
    size_t opened = 0;
    uint64_t total = 0;
    for (; st == NS_OK && opened < paths.n; opened++) {
        st = shard_open(paths.p[opened], &sh[opened]);
        if (st == NS_OK && opened > 0)
            st = check_mix(&sh[0], &sh[opened]);
        total += sh[opened].count;
    }
    if (st == NS_OK && total > UINT32_MAX)
        st = ns_fail(NS_ERR_FORMAT, "%s: %llu images, at most 2^32-1 in one dataset (source ids are 32-bit)", spec,
                     (unsigned long long)total);
    if (st == NS_OK) {
        out->c = sh[0].c;
        out->h = sh[0].h;
        out->w = sh[0].w;
        out->n = (size_t)total;
        out->labels = malloc(total ? total * sizeof *out->labels : 1);
        if (!out->labels)
            st = ns_fail(NS_ERR_NOMEM, "%s: out of memory for %llu labels", spec, (unsigned long long)total);
    }
    size_t at = 0;
    for (size_t k = 0; st == NS_OK && k < paths.n; k++) {
        memcpy(out->labels + at, sh[k].labels, (size_t)sh[k].count * sizeof *out->labels);
        at += (size_t)sh[k].count;
    }
    if (st == NS_OK)
        st = ns_class_names_copy(&out->class_names, &sh[0].names);
    if (st == NS_OK)
        st = map_pixels(sh, paths.n, out);
    if (st == NS_OK) {
        ns_dataset_count_classes(out);
        if (out->class_names.n > out->num_classes && out->num_classes > 0)
            out->num_classes = out->class_names.n;
        snprintf(out->source, sizeof out->source, "%s%s (%zu shard%s, %zu images)", spec,
                 ns_path_is_dir(spec) ? (train ? " train" : " test") : "", paths.n, paths.n == 1 ? "" : "s", out->n);
    }
    /* The mappings hold their own references: the descriptors can go. */
    for (size_t k = 0; k < opened; k++)
        shard_close(&sh[k]);
    free(sh);
    paths_free(&paths);
    if (st != NS_OK)
        ns_dataset_free(out);
    return st;
}
