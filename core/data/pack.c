#include "data/pack.h"

#include <dirent.h>
#include <errno.h>
#include <limits.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/stat.h>
#include <unistd.h>

#include <zlib.h>

#include "data/nsds.h"
#include "data/source.h"
#include "data/class_folder_source.h"
#include "data/file_list.h"
#include "data/image_load.h"
#include "train/progress.h"
#include "util/error.h"

enum { SRC_IDX, SRC_DATASET, SRC_FOLDER };

typedef struct pack_src {
    int kind;
    char name[PATH_MAX];
    int sc, sh, sw;  /* the source's shape */
    int c, h, w;     /* the shards' shape */
    size_t total;    /* images (or files) in the source */
    size_t pos;      /* next one to read */
    int threads;
    size_t skipped;
    ns_class_names names;
    /* idx */
    gzFile img, lab;
    char img_path[PATH_MAX], lab_path[PATH_MAX];
    uint64_t img_off, lab_off; /* bytes consumed (after decompression), for errors */
    uint8_t *raw;              /* one batch of source images */
    uint8_t *raw_labels;
    size_t raw_cap;
    /* dataset */
    ns_dataset d;
    /* folder: the files, their labels, each one's decode status in a batch */
    ns_file_list files;
    ns_status *file_status;
} pack_src;

/* ------------------------------------------------------------ conversion */

/* src (sh x sw x sc) -> dst (h x w x c); sc, c in {1, 3} unless equal. */
static ns_status convert(const uint8_t *src, int sc, int sh, int sw, uint8_t *dst, int c, int h, int w)
{
    if (sc == c)
        return ns_image_resize(src, sh, sw, c, dst, h, w);
    if (sc == 1 && c == 3) { /* gray -> RGB: resize once, replicate */
        uint8_t *g = malloc((size_t)h * w);
        if (!g)
            return ns_fail(NS_ERR_NOMEM, "pack: out of memory");
        ns_status st = ns_image_resize(src, sh, sw, 1, g, h, w);
        for (size_t i = 0; st == NS_OK && i < (size_t)h * w; i++)
            dst[3 * i] = dst[3 * i + 1] = dst[3 * i + 2] = g[i];
        free(g);
        return st;
    }
    /* RGB -> gray with the ITU-R 601 weights (Pillow's "L"), then resize. */
    uint8_t *g = malloc((size_t)sh * sw);
    if (!g)
        return ns_fail(NS_ERR_NOMEM, "pack: out of memory");
    for (size_t i = 0; i < (size_t)sh * sw; i++) {
        const uint8_t *p = src + (size_t)sc * i;
        g[i] = (uint8_t)((p[0] * 299u + p[1] * 587u + p[2] * 114u + 500u) / 1000u);
    }
    ns_status st = ns_image_resize(g, sh, sw, 1, dst, h, w);
    free(g);
    return st;
}

/* ------------------------------------------------------- parallel for */

typedef struct par_job {
    pack_src *s;
    size_t first, n;      /* this batch: source items first .. first+n */
    uint8_t *out;         /* n target images (folder: slot per file) */
    size_t lo, hi;        /* this thread's range */
    ns_status st;
    char err[NS_ERROR_MAX];
} par_job;

static void *work(void *arg)
{
    par_job *j = arg;
    pack_src *s = j->s;
    const size_t img = (size_t)s->c * s->h * s->w, simg = (size_t)s->sc * s->sh * s->sw;
    for (size_t i = j->lo; i < j->hi && j->st == NS_OK; i++) {
        uint8_t *dst = j->out + i * img;
        if (s->kind == SRC_FOLDER) {
            /* Each file's own status: a bad file is skipped, not fatal. */
            s->file_status[i] = ns_image_load(s->files.paths[j->first + i], s->c, s->h, s->w, dst);
            if (s->file_status[i] == NS_ERR_NOMEM)
                j->st = NS_ERR_NOMEM;
            else if (s->file_status[i] != NS_OK)
                ns_log(0, "pack: skipped %s", ns_last_error());
            continue;
        }
        const uint8_t *from = s->kind == SRC_IDX ? s->raw + i * simg : ns_dataset_image(&s->d, j->first + i);
        j->st = convert(from, s->sc, s->sh, s->sw, dst, s->c, s->h, s->w);
    }
    if (j->st != NS_OK)
        snprintf(j->err, sizeof j->err, "%s", ns_last_error());
    return NULL;
}

static ns_status run_parallel(pack_src *s, size_t first, size_t n, uint8_t *out)
{
    int t = s->threads < 1 ? 1 : s->threads;
    if ((size_t)t > n)
        t = (int)(n ? n : 1);
    par_job jobs[64];
    pthread_t tid[64];
    if (t > 64)
        t = 64;
    int started = 0;
    for (int k = 0; k < t; k++) {
        jobs[k] = (par_job){s, first, n, out, n * (size_t)k / (size_t)t, n * (size_t)(k + 1) / (size_t)t, NS_OK, ""};
        if (k > 0 && pthread_create(&tid[k], NULL, work, &jobs[k]) == 0)
            started = k;
        else if (k > 0)
            work(&jobs[k]); /* no thread: do it here */
    }
    work(&jobs[0]);
    for (int k = 1; k <= started; k++)
        pthread_join(tid[k], NULL);
    for (int k = 0; k < t; k++)
        if (jobs[k].st != NS_OK) {
            ns_set_error("%s", jobs[k].err);
            return jobs[k].st;
        }
    return NS_OK;
}

/* -------------------------------------------------------------- sources */

static uint32_t be32(const uint8_t *p)
{
    return (uint32_t)p[0] << 24 | (uint32_t)p[1] << 16 | (uint32_t)p[2] << 8 | p[3];
}

/* Exactly n bytes from a gz stream (raw files read through as they are). */
static ns_status gz_read_all(gzFile f, const char *path, void *buf, size_t n, uint64_t *off, const char *what)
{
    size_t got = 0;
    while (got < n) {
        unsigned chunk = n - got > (1u << 30) ? (1u << 30) : (unsigned)(n - got);
        int r = gzread(f, (uint8_t *)buf + got, chunk);
        if (r < 0) {
            int e;
            const char *msg = gzerror(f, &e);
            return ns_fail(NS_ERR_FORMAT, "%s: %s at byte %llu: %s", path, what, (unsigned long long)(*off + got),
                           e == Z_ERRNO ? strerror(errno) : msg);
        }
        if (r == 0)
            return ns_fail(NS_ERR_FORMAT, "%s: truncated at byte %llu inside %s (%zu more bytes expected)", path,
                           (unsigned long long)(*off + got), what, n - got);
        got += (size_t)r;
    }
    *off += n;
    return NS_OK;
}

static ns_status open_idx(pack_src *s, const char *list)
{
    const char *comma = strchr(list, ',');
    size_t len = comma ? (size_t)(comma - list) : strlen(list);
    if (len == 0 || len >= sizeof s->img_path || (comma && (!comma[1] || strlen(comma + 1) >= sizeof s->lab_path)))
        return ns_fail(NS_ERR_USAGE, "pack: source 'idx:%s': expected idx:IMAGES[,LABELS]", list);
    memcpy(s->img_path, list, len);
    s->img_path[len] = '\0';
    if (comma)
        strcpy(s->lab_path, comma + 1);
    s->img = gzopen(s->img_path, "rb");
    if (!s->img)
        return ns_fail(NS_ERR_IO, "%s: cannot open: %s", s->img_path, strerror(errno));
    gzbuffer(s->img, 1u << 20);
    uint8_t hdr[20];
    NS_TRY(gz_read_all(s->img, s->img_path, hdr, 4, &s->img_off, "the IDX header"));
    uint32_t magic = be32(hdr);
    if (magic != 0x00000803u && magic != 0x00000804u)
        return ns_fail(NS_ERR_FORMAT, "%s: byte 0: IDX magic %08x, expected 00000803 (n,h,w uint8) or 00000804 "
                       "(n,h,w,c uint8)", s->img_path, magic);
    int dims = magic == 0x00000803u ? 3 : 4;
    NS_TRY(gz_read_all(s->img, s->img_path, hdr + 4, 4 * (size_t)dims, &s->img_off, "the IDX header"));
    uint32_t n = be32(hdr + 4), h = be32(hdr + 8), w = be32(hdr + 12), c = dims == 4 ? be32(hdr + 16) : 1;
    if (h < 1 || w < 1 || h > NS_NSDS_MAX_SIDE || w > NS_NSDS_MAX_SIDE || (c != 1 && c != 3))
        return ns_fail(NS_ERR_FORMAT, "%s: byte 8: images %ux%ux%u (HxWxC), expected sides 1..%u and 1 or 3 channels",
                       s->img_path, h, w, c, NS_NSDS_MAX_SIDE);
    s->total = n;
    s->sh = (int)h;
    s->sw = (int)w;
    s->sc = (int)c;
    if (comma) {
        s->lab = gzopen(s->lab_path, "rb");
        if (!s->lab)
            return ns_fail(NS_ERR_IO, "%s: cannot open: %s", s->lab_path, strerror(errno));
        NS_TRY(gz_read_all(s->lab, s->lab_path, hdr, 8, &s->lab_off, "the IDX header"));
        if (be32(hdr) != 0x00000801u || be32(hdr + 4) != n)
            return ns_fail(NS_ERR_FORMAT, "%s: byte 0: IDX labels magic %08x for %u labels, expected 00000801 for the "
                           "%u images of %s", s->lab_path, be32(hdr), be32(hdr + 4), n, s->img_path);
    }
    return NS_OK;
}

/* A flat folder (folder:DIR) or a class-folder tree (its train or test
 * split as training opens it: class_folder_source.h), decoded batch by batch. */
static ns_status open_folder(pack_src *s, const char *dir, int tree, const ns_pack_options *o)
{
    ns_data_options opt = ns_data_options_default();
    if (o->test_fraction > 0)
        opt.test_fraction = o->test_fraction;
    opt.seed = o->seed;
    char what[600];
    if (tree)
        NS_TRY(ns_class_folder_list(dir, o->train, &opt, &s->files, what, sizeof what));
    else
        NS_TRY(ns_flat_folder_scan(dir, &s->files));
    NS_TRY(ns_class_names_copy(&s->names, &s->files.classes));
    s->total = s->files.n;
    if (s->c == 0) { /* no --input: what training decodes a folder to */
        s->c = opt.c;
        s->h = opt.h;
        s->w = opt.w;
    }
    if (s->c != 1 && s->c != 3)
        return ns_fail(NS_ERR_USAGE, "pack --input %dx%dx%d: image files decode to 1 or 3 channels", s->c, s->h, s->w);
    s->sc = s->c;
    s->sh = s->h;
    s->sw = s->w;
    return NS_OK;
}

static void src_close(pack_src *s)
{
    if (s->img)
        gzclose(s->img);
    if (s->lab)
        gzclose(s->lab);
    ns_file_list_free(&s->files);
    free(s->file_status);
    free(s->raw);
    free(s->raw_labels);
    ns_dataset_free(&s->d);
    ns_class_names_free(&s->names);
    memset(s, 0, sizeof *s);
}

static ns_status src_open(const ns_pack_options *o, pack_src *s)
{
    memset(s, 0, sizeof *s);
    snprintf(s->name, sizeof s->name, "%s", o->src);
    s->c = o->c;
    s->h = o->h;
    s->w = o->w;
    s->threads = o->threads;
    ns_status st;
    if (strncmp(o->src, "idx:", 4) == 0) {
        s->kind = SRC_IDX;
        st = open_idx(s, o->src + 4);
    } else if (strncmp(o->src, "folder:", 7) == 0) {
        s->kind = SRC_FOLDER;
        st = open_folder(s, o->src + 7, 0, o);
    } else if (!ns_nsds_spec_is(o->src) && ns_class_folder_source_has(o->src)) {
        s->kind = SRC_FOLDER;
        st = open_folder(s, o->src, 1, o);
    } else {
        s->kind = SRC_DATASET;
        st = ns_dataset_open(o->src, o->train, &s->d);
        if (st == NS_OK) {
            s->total = s->d.n;
            s->sc = s->d.c;
            s->sh = s->d.h;
            s->sw = s->d.w;
            ns_dataset_advise(&s->d, NS_DATASET_ADVISE_SEQUENTIAL);
            st = ns_class_names_copy(&s->names, &s->d.class_names);
        }
    }
    if (st == NS_OK && s->c == 0) {
        s->c = s->sc;
        s->h = s->sh;
        s->w = s->sw;
    }
    if (st == NS_OK && s->c != s->sc && ((s->c != 1 && s->c != 3) || (s->sc != 1 && s->sc != 3)))
        st = ns_fail(NS_ERR_USAGE, "pack: cannot convert %d-channel images of %s to %d channels (1 <-> 3 only)", s->sc,
                     o->src, s->c);
    if (st != NS_OK)
        src_close(s);
    return st;
}

/* Up to max images into pixels/labels; *got 0 at the end. Folder files that
 * do not decode are skipped (warned, counted) and the rest closed up. */
static ns_status src_read(pack_src *s, size_t max, uint8_t *pixels, int32_t *labels, size_t *got)
{
    *got = 0;
    const size_t img = (size_t)s->c * s->h * s->w;
    while (*got == 0 && s->pos < s->total) {
        size_t n = s->total - s->pos < max ? s->total - s->pos : max;
        if (s->kind == SRC_IDX) {
            const size_t simg = (size_t)s->sc * s->sh * s->sw;
            if (n > s->raw_cap) {
                free(s->raw);
                free(s->raw_labels);
                s->raw = malloc(n * simg);
                s->raw_labels = malloc(n);
                if (!s->raw || !s->raw_labels)
                    return ns_fail(NS_ERR_NOMEM, "pack: out of memory for %zu images", n);
                s->raw_cap = n;
            }
            NS_TRY(gz_read_all(s->img, s->img_path, s->raw, n * simg, &s->img_off, "the image data"));
            if (s->lab)
                NS_TRY(gz_read_all(s->lab, s->lab_path, s->raw_labels, n, &s->lab_off, "the label data"));
            for (size_t i = 0; i < n; i++)
                labels[i] = s->lab ? s->raw_labels[i] : -1;
            NS_TRY(run_parallel(s, s->pos, n, pixels));
            *got = n;
        } else if (s->kind == SRC_DATASET) {
            for (size_t i = 0; i < n; i++)
                labels[i] = s->d.labels[s->pos + i];
            NS_TRY(run_parallel(s, s->pos, n, pixels));
            *got = n;
        } else {
            free(s->file_status);
            if (!(s->file_status = calloc(n, sizeof *s->file_status)))
                return ns_fail(NS_ERR_NOMEM, "pack: out of memory");
            NS_TRY(run_parallel(s, s->pos, n, pixels));
            for (size_t i = 0; i < n; i++) {
                if (s->file_status[i] != NS_OK) {
                    s->skipped++;
                    continue;
                }
                if (*got != i)
                    memmove(pixels + *got * img, pixels + i * img, img);
                labels[(*got)++] = s->files.labels[s->pos + i];
            }
        }
        s->pos += n;
    }
    return NS_OK;
}

/* ---------------------------------------------------------------- driver */

/* The source behind a one-batch look-ahead, so that a shard is only started
 * when there is an image to put in it. */
typedef struct stage {
    pack_src *s;
    uint8_t *pixels;
    int32_t *labels;
    size_t cap, have, at;
    size_t done;
    ns_progress *bar;
    const volatile sig_atomic_t *cancel;
} stage;

static ns_status stage_fill(stage *g)
{
    if (g->at < g->have)
        return NS_OK;
    g->at = g->have = 0;
    return src_read(g->s, g->cap, g->pixels, g->labels, &g->have);
}

static ns_status stage_pull(void *user, size_t max, uint8_t *pixels, int32_t *labels, size_t *got)
{
    stage *g = user;
    *got = 0;
    if (g->cancel && *g->cancel)
        return ns_fail(NS_ERR_IO, "interrupted after %zu images", g->done);
    NS_TRY(stage_fill(g));
    size_t n = g->have - g->at < max ? g->have - g->at : max;
    const size_t img = (size_t)g->s->c * g->s->h * g->s->w;
    memcpy(pixels, g->pixels + g->at * img, n * img);
    memcpy(labels, g->labels + g->at, n * sizeof *labels);
    g->at += n;
    g->done += n;
    *got = n;
    ns_progress_update(g->bar, g->s->pos, -1);
    return NS_OK;
}

static void shard_name(const char *out, int series, unsigned k, char *buf, size_t cap)
{
    if (series)
        snprintf(buf, cap, "%.*s-%05u.nsds", (int)(strlen(out) - 5), out, k);
    else
        snprintf(buf, cap, "%s", out);
}

static size_t gcd(size_t a, size_t b)
{
    while (b) {
        size_t t = a % b;
        a = b;
        b = t;
    }
    return a;
}

ns_status ns_pack(const ns_pack_options *o, ns_pack_result *res)
{
    memset(res, 0, sizeof *res);
    size_t olen = o->out ? strlen(o->out) : 0;
    if (olen <= 5 || strcmp(o->out + olen - 5, ".nsds") != 0 || olen + 16 >= PATH_MAX)
        return ns_fail(NS_ERR_USAGE, "pack: --out '%s': expected a file name ending in .nsds", o->out ? o->out : "");
    if ((o->c || o->h || o->w) && (o->c < 1 || o->c > 4 || o->h < 1 || o->w < 1 || o->h > (int)NS_NSDS_MAX_SIDE ||
                                   o->w > (int)NS_NSDS_MAX_SIDE))
        return ns_fail(NS_ERR_USAGE, "pack: --input %dx%dx%d: expected CxHxW with C 1..4 and sides 1..%u", o->c, o->h,
                       o->w, NS_NSDS_MAX_SIDE);
    const double t0 = ns_now();
    pack_src s;
    NS_TRY(src_open(o, &s));
    const size_t img = (size_t)s.c * s.h * s.w;
    /* Shards but the last hold a whole number of pages of pixels. */
    const size_t page = 4096, unit = page / gcd(img, page);
    const int series = o->shard_images > 0 || o->shard_bytes > 0;
    size_t per_shard = 0;
    if (o->shard_images)
        per_shard = (o->shard_images + unit - 1) / unit * unit;
    if (o->shard_bytes) {
        size_t by_bytes = (size_t)(o->shard_bytes / img) / unit * unit;
        if (by_bytes < unit)
            by_bytes = unit;
        if (!per_shard || by_bytes < per_shard)
            per_shard = by_bytes;
    }
    stage g = {&s, NULL, NULL, 0, 0, 0, 0, NULL, o->cancel};
    g.cap = (4u << 20) / img;
    if (g.cap < 1)
        g.cap = 1;
    g.pixels = malloc(g.cap * img);
    g.labels = malloc(g.cap * sizeof *g.labels);
    ns_progress bar;
    ns_progress_begin(&bar, "pack", s.total);
    bar.enabled = bar.enabled && o->progress;
    g.bar = &bar;
    ns_status st = g.pixels && g.labels ? NS_OK : ns_fail(NS_ERR_NOMEM, "pack: out of memory");
    char path[PATH_MAX];
    unsigned k = 0;
    for (; st == NS_OK; k++) {
        st = stage_fill(&g);
        if (st != NS_OK || g.at == g.have) /* exhausted */
            break;
        if (k >= NS_NSDS_MAX_SHARDS) {
            st = ns_fail(NS_ERR_USAGE, "pack: more than %u shards; give a larger --shard-size", NS_NSDS_MAX_SHARDS);
            break;
        }
        shard_name(o->out, series, k, path, sizeof path);
        size_t wrote = 0;
        st = ns_nsds_write(path, s.c, s.h, s.w, &s.names, per_shard, stage_pull, &g, &wrote);
        if (st == NS_OK)
            res->images += wrote;
        else
            break;
    }
    ns_progress_end(&bar);
    if (st == NS_OK && res->images == 0)
        st = ns_fail(NS_ERR_FORMAT, "pack: %s: none of its %zu images could be read", o->src, s.total);
    if (st == NS_OK && s.skipped)
        ns_log(0, "pack: skipped %zu unreadable file%s of %zu", s.skipped, s.skipped == 1 ? "" : "s", s.total);
    if (st != NS_OK) {
        /* No half dataset: the shards of this call go again. */
        for (unsigned j = 0; j < k; j++) {
            shard_name(o->out, series, j, path, sizeof path);
            unlink(path);
        }
    } else {
        /* What an earlier pack to the same name left would join this dataset
         * (nsds.h resolves OUT.nsds before its series): remove it. */
        if (series)
            unlink(o->out);
        for (unsigned j = series ? k : 0;; j++) {
            shard_name(o->out, 1, j, path, sizeof path);
            if (unlink(path) != 0)
                break;
        }
        res->shards = k;
    }
    res->skipped = s.skipped;
    free(g.pixels);
    free(g.labels);
    src_close(&s);
    res->seconds = ns_now() - t0;
    return st;
}
