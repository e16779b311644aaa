/* .nsds packed shards (data/nsds.h, data/pack.h): every field round-trips,
 * shards join into one dataset, corruption and truncation are refused with
 * the byte offset, mixed shards are refused, and the mapped dataset trains
 * and feeds a student exactly as the in-memory one does. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <cmocka.h>

#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include "data/nsds.h"
#include "data/class_folder_source.h"
#include "data/pack.h"
#include "data/source.h"
#include "ns_test_ref.h"
#include "plugin/backend_loader.h"
#include "data/image_load.h"
#include "selftrain/label_file.h"
#include "selftrain/pseudo_set.h"
#include "if_images.h"
#include "synthetic_data.h"
#include "train/trainer.h"
#include "util/error.h"

static char tmp[1024];

static void msg_has(const char *needle)
{
    if (!strstr(ns_last_error(), needle))
        fail_msg("message '%s' lacks '%s'", ns_last_error(), needle);
}

/* An in-memory dataset with every kind of field value. */
static void make_set(ns_dataset *d, size_t n, int c, int h, int w, int with_names, unsigned salt)
{
    assert_int_equal(ns_dataset_alloc(d, n, h, w, c), NS_OK);
    for (size_t i = 0; i < n * ns_dataset_image_bytes(d); i++)
        d->images[i] = (uint8_t)((i * 131u + salt * 7u + (i >> 8)) & 0xff);
    for (size_t i = 0; i < n; i++)
        d->labels[i] = (i % 5 == 4) ? -1 : (int32_t)(i % 4); /* unknown labels too */
    ns_dataset_count_classes(d);
    if (with_names) {
        const char *names[] = {"T-shirt/top", "caf\xc3\xa9 \"quoted\"", "c,omma", "four"};
        assert_int_equal(ns_class_names_set(&d->class_names, 4, names), NS_OK);
    }
}

typedef struct from_set {
    const ns_dataset *d;
    size_t pos, end;
} from_set;

/* ns_nsds_pull_fn over an in-memory dataset, odd batch sizes on purpose. */
static ns_status pull_set(void *user, size_t max, uint8_t *pixels, int32_t *labels, size_t *got)
{
    from_set *f = user;
    size_t n = f->end - f->pos;
    if (n > max)
        n = max;
    if (n > 7)
        n = 7;
    memcpy(pixels, ns_dataset_image(f->d, f->pos), n * ns_dataset_image_bytes(f->d));
    memcpy(labels, f->d->labels + f->pos, n * sizeof *labels);
    f->pos += n;
    *got = n;
    return NS_OK;
}

static void write_range(const char *path, const ns_dataset *d, size_t first, size_t end)
{
    from_set f = {d, first, end};
    size_t wrote = 0;
    assert_int_equal(ns_nsds_write(path, d->c, d->h, d->w, &d->class_names, 0, pull_set, &f, &wrote), NS_OK);
    assert_int_equal(wrote, end - first);
}

static const char *at(const char *name)
{
    static char buf[4][1200];
    static int k;
    k = (k + 1) % 4;
    snprintf(buf[k], sizeof buf[k], "%s/%s", tmp, name);
    return buf[k];
}

/* Same images, labels, shape and class names. */
static void assert_same_set(const ns_dataset *a, const ns_dataset *b)
{
    assert_int_equal(a->n, b->n);
    assert_int_equal(a->c, b->c);
    assert_int_equal(a->h, b->h);
    assert_int_equal(a->w, b->w);
    assert_true(ns_class_names_equal(&a->class_names, &b->class_names));
    for (size_t i = 0; i < a->n; i++) {
        assert_int_equal(a->labels[i], b->labels[i]);
        assert_memory_equal(ns_dataset_image(a, i), ns_dataset_image(b, i), ns_dataset_image_bytes(a));
    }
}

static void round_trip(void **state)
{
    (void)state;
    for (int names = 0; names < 2; names++) {
        ns_dataset d, m;
        make_set(&d, 1000, 3, 5, 7, names, 1); /* 105 bytes an image: 100 KiB, crosses no page evenly */
        write_range(at("rt.nsds"), &d, 0, d.n);
        assert_int_equal(ns_dataset_open(at("rt.nsds"), 1, &m), NS_OK);
        assert_non_null(m.map);              /* mapped, not copied */
        assert_non_null(m.images);           /* one shard: read in place */
        assert_int_equal(m.num_classes, 4);
        assert_int_equal(m.class_names.n, names ? 4 : 0);
        assert_same_set(&d, &m);
        assert_non_null(strstr(m.source, "rt.nsds"));
        /* the test split of a plain file is the same images (like idx:) */
        ns_dataset t;
        assert_int_equal(ns_dataset_open(at("rt.nsds"), 0, &t), NS_OK);
        assert_same_set(&d, &t);
        ns_dataset_free(&t);
        size_t count = 0;
        assert_int_equal(ns_nsds_check(at("rt.nsds"), &count), NS_OK);
        assert_int_equal(count, 1000);
        ns_dataset_free(&m);
        ns_dataset_free(&m); /* twice is safe */
        ns_dataset_free(&d);
    }
    /* an empty shard is a valid, empty dataset */
    ns_dataset d, m;
    make_set(&d, 3, 1, 2, 2, 0, 2);
    write_range(at("empty.nsds"), &d, 0, 0);
    assert_int_equal(ns_dataset_open(at("empty.nsds"), 1, &m), NS_OK);
    assert_int_equal(m.n, 0);
    ns_dataset_free(&m);
    ns_dataset_free(&d);
}

static void multi_shard(void **state)
{
    (void)state;
    ns_dataset d, m;
    make_set(&d, 1000, 3, 5, 7, 1, 3);
    /* a comma list of shards whose pixels do not end on a page: separate mappings */
    write_range(at("a.nsds"), &d, 0, 333);
    write_range(at("b.nsds"), &d, 333, 334);
    write_range(at("c.nsds"), &d, 334, 1000);
    char list[4000];
    snprintf(list, sizeof list, "%s,%s,%s", at("a.nsds"), at("b.nsds"), at("c.nsds"));
    assert_int_equal(ns_dataset_open(list, 1, &m), NS_OK);
    assert_null(m.images); /* found by shard */
    assert_int_equal(m.map->shards, 3);
    assert_same_set(&d, &m);
    ns_dataset_free(&m);

    /* pack's series: shards of whole pages, mapped back to back (48-byte
     * images: 256 of them fill 3 pages, so 100 rounds up to 256) */
    ns_dataset e;
    make_set(&e, 1000, 3, 4, 4, 1, 9);
    write_range(at("e.nsds"), &e, 0, e.n);
    ns_pack_options o = {at("e.nsds"), at("s.nsds"), 1, 0, 0, 0, 100, 0, 2, 0, 0, 1, NULL};
    ns_pack_result r;
    assert_int_equal(ns_pack(&o, &r), NS_OK);
    assert_int_equal(r.images, 1000);
    assert_int_equal(r.shards, 4);
    struct stat sb;
    assert_int_equal(stat(at("s-00003.nsds"), &sb), 0);
    assert_int_not_equal(stat(at("s-00004.nsds"), &sb), 0);
    assert_int_not_equal(stat(at("s.nsds"), &sb), 0);
    assert_int_equal(ns_dataset_open(at("s.nsds"), 1, &m), NS_OK);
    assert_non_null(m.images);
    assert_int_equal(m.map->shards, 4);
    assert_int_equal(m.map->first[1], 256);
    assert_same_set(&e, &m);
    ns_dataset_free(&m);
    /* a shorter series over a longer one leaves no stale shard behind */
    o.shard_images = 600;
    assert_int_equal(ns_pack(&o, &r), NS_OK);
    assert_int_equal(r.shards, 2);
    assert_int_not_equal(stat(at("s-00002.nsds"), &sb), 0);
    assert_int_equal(ns_dataset_open(at("s.nsds"), 1, &m), NS_OK);
    assert_same_set(&e, &m);
    ns_dataset_free(&m);
    /* --shard-bytes: at most 20000 pixel bytes -> 256 images (12288 bytes) */
    o.shard_images = 0;
    o.shard_bytes = 20000;
    assert_int_equal(ns_pack(&o, &r), NS_OK);
    assert_int_equal(r.shards, 4);
    ns_dataset_free(&e);

    /* a directory of shards, and train/ + test/ splits */
    char dir[1200];
    snprintf(dir, sizeof dir, "%s/dir", tmp);
    mkdir(dir, 0777);
    snprintf(dir, sizeof dir, "%s/dir/train", tmp);
    mkdir(dir, 0777);
    write_range(at("dir/train/1.nsds"), &d, 0, 500);
    write_range(at("dir/train/2.nsds"), &d, 500, 1000);
    snprintf(dir, sizeof dir, "%s/dir", tmp);
    assert_true(ns_nsds_spec_is(dir));
    assert_int_equal(ns_dataset_open(dir, 0, &m), NS_ERR_NOT_FOUND);
    msg_has("test");
    snprintf(dir, sizeof dir, "%s/dir/test", tmp);
    mkdir(dir, 0777);
    write_range(at("dir/test/x.nsds"), &d, 10, 20);
    snprintf(dir, sizeof dir, "%s/dir", tmp);
    assert_int_equal(ns_dataset_open(dir, 1, &m), NS_OK);
    assert_same_set(&d, &m);
    ns_dataset_free(&m);
    assert_int_equal(ns_dataset_open(dir, 0, &m), NS_OK);
    assert_int_equal(m.n, 10);
    assert_memory_equal(ns_dataset_image(&m, 0), ns_dataset_image(&d, 10), ns_dataset_image_bytes(&d));
    ns_dataset_free(&m);
    assert_int_equal(ns_dataset_open(at("missing.nsds"), 1, &m), NS_ERR_NOT_FOUND);
    msg_has("missing.nsds");
    ns_dataset_free(&d);
}

static void wrong_mix(void **state)
{
    (void)state;
    ns_dataset d, e, f, m;
    make_set(&d, 20, 3, 5, 7, 1, 4);
    make_set(&e, 20, 3, 7, 5, 1, 4); /* same bytes per image, other shape */
    make_set(&f, 20, 3, 5, 7, 0, 4); /* no class names */
    write_range(at("m1.nsds"), &d, 0, 20);
    write_range(at("m2.nsds"), &e, 0, 20);
    write_range(at("m3.nsds"), &f, 0, 20);
    char list[4000];
    snprintf(list, sizeof list, "%s,%s", at("m1.nsds"), at("m2.nsds"));
    assert_int_equal(ns_dataset_open(list, 1, &m), NS_ERR_FORMAT);
    msg_has("m2.nsds");
    msg_has("shape");
    snprintf(list, sizeof list, "%s,%s", at("m1.nsds"), at("m3.nsds"));
    assert_int_equal(ns_dataset_open(list, 1, &m), NS_ERR_FORMAT);
    msg_has("class names");
    assert_null(m.map);
    ns_dataset_free(&d);
    ns_dataset_free(&e);
    ns_dataset_free(&f);
}

static uint8_t *slurp(const char *path, size_t *n)
{
    FILE *fp = fopen(path, "rb");
    assert_non_null(fp);
    fseek(fp, 0, SEEK_END);
    *n = (size_t)ftell(fp);
    fseek(fp, 0, SEEK_SET);
    uint8_t *b = malloc(*n);
    assert_int_equal(fread(b, 1, *n, fp), *n);
    fclose(fp);
    return b;
}

static void spit(const char *path, const uint8_t *b, size_t n)
{
    FILE *fp = fopen(path, "wb");
    assert_non_null(fp);
    assert_int_equal(fwrite(b, 1, n, fp), n);
    fclose(fp);
}

static uint64_t le64(const uint8_t *p)
{
    uint64_t v = 0;
    for (int i = 7; i >= 0; i--)
        v = v << 8 | p[i];
    return v;
}

/* Flips byte `off` of a good shard; open (and check) must name `needle`. */
static void expect_corrupt(const uint8_t *good, size_t n, size_t off, int open_fails, const char *needle)
{
    uint8_t *b = malloc(n);
    memcpy(b, good, n);
    b[off] ^= 0x10;
    spit(at("bad.nsds"), b, n);
    free(b);
    ns_dataset m;
    ns_status st = ns_dataset_open(at("bad.nsds"), 1, &m);
    if (open_fails) {
        if (st == NS_OK)
            fail_msg("a flip of byte %zu was accepted at open", off);
        assert_int_equal(st, NS_ERR_FORMAT);
        msg_has("bad.nsds");
        msg_has(needle);
        assert_null(m.map);
    } else {
        assert_int_equal(st, NS_OK);
        ns_dataset_free(&m);
    }
    size_t count;
    assert_int_equal(ns_nsds_check(at("bad.nsds"), &count), NS_ERR_FORMAT);
    msg_has(needle);
}

static void corrupt_and_truncated(void **state)
{
    (void)state;
    ns_dataset d;
    make_set(&d, 20000, 3, 5, 7, 1, 5); /* 2.1 MB of pixels: three chunks */
    write_range(at("good.nsds"), &d, 0, d.n);
    size_t n;
    uint8_t *good = slurp(at("good.nsds"), &n);
    const uint64_t lab = le64(good + 56), names = le64(good + 72), chunks = le64(good + 88);
    char needle[128];
    /* header fields and their CRC */
    expect_corrupt(good, n, 0, 1, "byte 0: not an .nsds shard");
    expect_corrupt(good, n, 8, 1, "byte 8: format version");
    expect_corrupt(good, n, 20, 1, "header bytes 0..124 fail their CRC32");
    expect_corrupt(good, n, 125, 1, "header bytes 0..124 fail their CRC32");
    expect_corrupt(good, n, 2000, 1, "byte 2000: reserved header byte");
    /* labels, names and the chunk table: the section's offsets */
    snprintf(needle, sizeof needle, "labels at bytes %llu..", (unsigned long long)lab);
    expect_corrupt(good, n, (size_t)lab + 4 * 777, 1, needle);
    snprintf(needle, sizeof needle, "class names at bytes %llu..", (unsigned long long)names);
    expect_corrupt(good, n, (size_t)names + 3, 1, needle);
    snprintf(needle, sizeof needle, "chunk table at bytes %llu..", (unsigned long long)chunks);
    expect_corrupt(good, n, (size_t)chunks + 5, 1, needle);
    /* pixels: open does not read them (by design); check names the chunk */
    expect_corrupt(good, n, 4096, 0, "pixel chunk 0 at bytes 4096..1052672");
    expect_corrupt(good, n, 4096 + (2u << 20) + 5, 0, "pixel chunk 2 at bytes 2101248..");
    /* truncation anywhere: the byte where the file stops */
    const size_t cuts[] = {0, 5, 100, 4095, 4096, 4096 + 1000000, (size_t)lab + 3, (size_t)names, n - 1};
    for (size_t k = 0; k < sizeof cuts / sizeof *cuts; k++) {
        spit(at("cut.nsds"), good, cuts[k]);
        ns_dataset m;
        ns_status st = ns_dataset_open(at("cut.nsds"), 1, &m);
        assert_int_equal(st, NS_ERR_FORMAT);
        if (cuts[k] < 8)
            msg_has("not an .nsds shard");
        else {
            snprintf(needle, sizeof needle, "truncated at byte %zu", cuts[k]);
            msg_has(needle);
        }
        assert_int_equal(ns_nsds_check(at("cut.nsds"), NULL), NS_ERR_FORMAT);
    }
    /* extra bytes are refused too */
    uint8_t *longer = malloc(n + 1);
    memcpy(longer, good, n);
    longer[n] = 0;
    spit(at("cut.nsds"), longer, n + 1);
    free(longer);
    ns_dataset m;
    assert_int_equal(ns_dataset_open(at("cut.nsds"), 1, &m), NS_ERR_FORMAT);
    snprintf(needle, sizeof needle, "unexpected data at byte %zu", n);
    msg_has(needle);
    free(good);
    ns_dataset_free(&d);
}

typedef struct failing {
    from_set f;
    size_t fail_at;
} failing;

static ns_status pull_fail(void *user, size_t max, uint8_t *pixels, int32_t *labels, size_t *got)
{
    failing *g = user;
    if (g->f.pos >= g->fail_at)
        return ns_fail(NS_ERR_IO, "source broke at image %zu", g->f.pos);
    return pull_set(&g->f, max, pixels, labels, got);
}

static void atomic_on_failure(void **state)
{
    (void)state;
    ns_dataset d;
    make_set(&d, 50, 1, 4, 4, 0, 6);
    write_range(at("keep.nsds"), &d, 0, 10);
    failing g = {{&d, 0, 50}, 30};
    assert_int_equal(ns_nsds_write(at("keep.nsds"), 1, 4, 4, NULL, 0, pull_fail, &g, NULL), NS_ERR_IO);
    msg_has("source broke");
    ns_dataset m;
    assert_int_equal(ns_dataset_open(at("keep.nsds"), 1, &m), NS_OK); /* the old shard, whole */
    assert_int_equal(m.n, 10);
    ns_dataset_free(&m);
    ns_dataset_free(&d);
}


/* A 4-dim IDX file (n, h, w, c) and its labels, raw. */
static void write_idx4(const char *img, const char *lab, const ns_dataset *d, size_t keep_bytes)
{
    uint8_t hdr[20] = {0, 0, 8, 4};
    uint32_t dims[4] = {(uint32_t)d->n, (uint32_t)d->h, (uint32_t)d->w, (uint32_t)d->c};
    for (int i = 0; i < 4; i++)
        for (int b = 0; b < 4; b++)
            hdr[4 + 4 * i + b] = (uint8_t)(dims[i] >> (24 - 8 * b));
    size_t bytes = d->n * ns_dataset_image_bytes(d);
    uint8_t *all = malloc(20 + bytes);
    memcpy(all, hdr, 20);
    memcpy(all + 20, d->images, bytes);
    spit(img, all, keep_bytes ? keep_bytes : 20 + bytes);
    free(all);
    uint8_t *l = malloc(8 + d->n);
    memcpy(l, (uint8_t[]){0, 0, 8, 1}, 4);
    memcpy(l + 4, hdr + 4, 4);
    for (size_t i = 0; i < d->n; i++)
        l[8 + i] = (uint8_t)(d->labels[i] < 0 ? 0 : d->labels[i]);
    spit(lab, l, 8 + d->n);
    free(l);
}

static void pack_sources(void **state)
{
    (void)state;
    ns_dataset d, m, idx;
    make_set(&d, 300, 3, 6, 4, 0, 11);
    for (size_t i = 0; i < d.n; i++)
        if (d.labels[i] < 0)
            d.labels[i] = 0; /* IDX labels are unsigned */
    write_idx4(at("i4.idx"), at("l4.idx"), &d, 0);
    char spec[3000];
    snprintf(spec, sizeof spec, "idx:%s,%s", at("i4.idx"), at("l4.idx"));
    /* the in-memory reader takes 4-dim IDX too */
    assert_int_equal(ns_dataset_open(spec, 1, &idx), NS_OK);
    assert_int_equal(idx.c, 3);
    for (size_t i = 0; i < d.n; i++) {
        assert_int_equal(idx.labels[i], d.labels[i]);
        assert_memory_equal(ns_dataset_image(&idx, i), ns_dataset_image(&d, i), ns_dataset_image_bytes(&d));
    }
    ns_dataset_free(&idx);
    /* streamed by pack, small batches */
    ns_pack_options o = {spec, at("i4.nsds"), 1, 0, 0, 0, 0, 0, 3, 0, 0, 1, NULL};
    ns_pack_result r;
    assert_int_equal(ns_pack(&o, &r), NS_OK);
    assert_int_equal(r.images, 300);
    assert_int_equal(ns_dataset_open(at("i4.nsds"), 1, &m), NS_OK);
    d.class_names.n = 0;
    assert_same_set(&d, &m);
    ns_dataset_free(&m);
    /* --input 1x6x4: ITU-R 601 luminance */
    o.c = 1, o.h = 6, o.w = 4;
    assert_int_equal(ns_pack(&o, &r), NS_OK);
    assert_int_equal(ns_dataset_open(at("i4.nsds"), 1, &m), NS_OK);
    assert_int_equal(m.c, 1);
    for (size_t i = 0; i < d.n; i++)
        for (int p = 0; p < 24; p++) {
            const uint8_t *rgb = ns_dataset_image(&d, i) + 3 * p;
            assert_int_equal(ns_dataset_image(&m, i)[p], (rgb[0] * 299 + rgb[1] * 587 + rgb[2] * 114 + 500) / 1000);
        }
    /* ... and back to 3 channels, resized: gray replicated, the library's resize */
    ns_dataset gray = m;
    memset(&m, 0, sizeof m);
    snprintf(spec, sizeof spec, "%s", at("i4.nsds"));
    ns_pack_options o2 = {spec, at("i5.nsds"), 1, 3, 3, 2, 0, 0, 2, 0, 0, 1, NULL};
    assert_int_equal(ns_pack(&o2, &r), NS_OK);
    assert_int_equal(ns_dataset_open(at("i5.nsds"), 1, &m), NS_OK);
    assert_int_equal(m.c, 3);
    assert_int_equal(m.h, 3);
    uint8_t small[6];
    for (size_t i = 0; i < d.n; i++) {
        assert_int_equal(ns_image_resize(ns_dataset_image(&gray, i), 6, 4, 1, small, 3, 2), NS_OK);
        for (int p = 0; p < 6; p++)
            for (int k = 0; k < 3; k++)
                assert_int_equal(ns_dataset_image(&m, i)[3 * p + k], small[p]);
    }
    ns_dataset_free(&m);
    ns_dataset_free(&gray);
    /* a truncated stream: refused with the offset, nothing written */
    write_idx4(at("i4.idx"), at("l4.idx"), &d, 20 + 72 * 200 + 5);
    snprintf(spec, sizeof spec, "idx:%s,%s", at("i4.idx"), at("l4.idx"));
    ns_pack_options o3 = {spec, at("t.nsds"), 1, 0, 0, 0, 64, 0, 2, 0, 0, 1, NULL};
    assert_int_equal(ns_pack(&o3, &r), NS_ERR_FORMAT);
    msg_has("truncated at byte 14425");
    struct stat sb;
    assert_int_not_equal(stat(at("t-00000.nsds"), &sb), 0); /* the shards already written went too */
    /* cancelled (the CLI's Ctrl-C): refused, nothing left */
    static volatile sig_atomic_t stop = 1;
    ns_pack_options o4 = {at("i5.nsds"), at("cancel.nsds"), 1, 0, 0, 0, 0, 0, 2, 0, 0, 1, &stop};
    assert_int_equal(ns_pack(&o4, &r), NS_ERR_IO);
    msg_has("interrupted");
    assert_int_not_equal(stat(at("cancel.nsds"), &sb), 0);
    ns_dataset_free(&d);
}

/* Class-folder trees and flat folders: decoded as training decodes them,
 * labels and class names from the folders, a bad file warned and skipped. */
static void pack_folders(void **state)
{
    (void)state;
    char root[1200], p[1400];
    snprintf(root, sizeof root, "%s/tree", tmp);
    const char *classes[] = {"cat", "dog"};
    uint8_t pix[10 * 12 * 3];
    for (int split = 0; split < 2; split++)
        for (int k = 0; k < 2; k++)
            for (int i = 0; i < 5 + k; i++) {
                for (size_t b = 0; b < sizeof pix; b++)
                    pix[b] = (uint8_t)(b * (3 + i) + 50 * k + 17 * split);
                snprintf(p, sizeof p, "%s/%s/%s/%d.%s", root, split ? "test" : "train", classes[k], i,
                         i % 2 ? "jpg" : "png");
                assert_int_equal(if_mkdirs(p, 0), 0);
                if (i % 2)
                    assert_int_equal(if_write_jpeg(p, pix, 10, 12, i % 3 ? 3 : 1, 0, 0), 0);
                else
                    assert_int_equal(if_write_png(p, 2 /* RGB */, 8, pix, 10, 12), 0);
            }
    snprintf(p, sizeof p, "%s/train/dog/zz-broken.png", root);
    assert_int_equal(if_write_bytes(p, "\x89PNG\r\n\x1a\nnot really", 18), 0);
    for (int split = 1; split >= 0; split--) {
        ns_pack_options o = {root, at("tree.nsds"), split, 3, 8, 8, 0, 0, 2, 0, 0, 1, NULL};
        ns_pack_result r;
        assert_int_equal(ns_pack(&o, &r), NS_OK);
        assert_int_equal(r.images, 11);
        assert_int_equal(r.skipped, split ? 1 : 0);
        ns_dataset a, b;
        ns_data_options opt = ns_data_options_default();
        opt.c = 3, opt.h = 8, opt.w = 8;
        assert_int_equal(ns_class_folder_open(root, split, &opt, &a), NS_OK);
        assert_int_equal(ns_dataset_open(at("tree.nsds"), 1, &b), NS_OK);
        assert_int_equal(b.class_names.n, 2);
        assert_string_equal(b.class_names.names[1], "dog");
        assert_int_equal(b.labels[0], 0);
        assert_int_equal(b.labels[10], 1);
        assert_same_set(&a, &b);
        ns_dataset_free(&a);
        ns_dataset_free(&b);
    }
    /* a flat folder: unlabeled, no names */
    snprintf(p, sizeof p, "folder:%s/train/dog", root);
    ns_pack_options o = {p, at("flat.nsds"), 1, 1, 4, 4, 0, 0, 2, 0, 0, 1, NULL};
    ns_pack_result r;
    assert_int_equal(ns_pack(&o, &r), NS_OK);
    assert_int_equal(r.images, 6);
    assert_int_equal(r.skipped, 1);
    ns_dataset b;
    assert_int_equal(ns_dataset_open(at("flat.nsds"), 1, &b), NS_OK);
    assert_int_equal(b.c, 1);
    assert_int_equal(b.class_names.n, 0);
    for (size_t i = 0; i < b.n; i++)
        assert_int_equal(b.labels[i], -1);
    ns_dataset_free(&b);
}

/* ------------------------------------------- mapped == in memory, trained */

static char synth[1024], packed[1200];

static ns_train_config tiny(const char *data, const char *run)
{
    ns_train_config c = ns_train_config_default();
    snprintf(c.data, sizeof c.data, "%s", data);
    snprintf(c.model, sizeof c.model, "resnet8:width=4");
    c.epochs = 1;
    c.batch = 16;
    c.lr = 0.05f;
    c.eval_every = 0;
    c.loader_threads = 2;
    char dir[1024];
    ns_test_fresh_dir(run, dir, sizeof dir);
    snprintf(c.run_dir, sizeof c.run_dir, "%s", dir);
    return c;
}

static void pack_synthetic(void)
{
    ns_test_fresh_dir("nsds_synth", synth, sizeof synth);
    assert_int_equal(ns_test_write_synthetic(synth, 24, 8, 21), 0);
    snprintf(packed, sizeof packed, "%s/packed", synth);
    char p[1400];
    mkdir(packed, 0777);
    snprintf(p, sizeof p, "%s/train", packed);
    mkdir(p, 0777);
    snprintf(p, sizeof p, "%s/test", packed);
    mkdir(p, 0777);
    ns_pack_result r;
    snprintf(p, sizeof p, "%s/train/s.nsds", packed);
    ns_pack_options o = {synth, p, 1, 0, 0, 0, 32, 0, 2, 0, 0, 1, NULL}; /* 64-byte images: 2 shards of 64 and 32 */
    assert_int_equal(ns_pack(&o, &r), NS_OK);
    assert_int_equal(r.images, 96);
    snprintf(p, sizeof p, "%s/test/s.nsds", packed);
    o.out = p;
    o.train = 0;
    o.shard_images = 0;
    assert_int_equal(ns_pack(&o, &r), NS_OK);
    assert_int_equal(r.images, 32);
    /* what was packed is what the IDX reader reads */
    for (int split = 0; split < 2; split++) {
        ns_dataset a, b;
        assert_int_equal(ns_dataset_open(synth, split, &a), NS_OK);
        assert_int_equal(ns_dataset_open(packed, split, &b), NS_OK);
        assert_non_null(b.map);
        assert_same_set(&a, &b);
        ns_dataset_free(&a);
        ns_dataset_free(&b);
    }
}

static void training_is_bit_identical(void **state)
{
    ns_backend *be = *state;
    pack_synthetic();
    ns_train_config a = tiny(synth, "nsds_run_mem"), b = tiny(packed, "nsds_run_map");
    b.pad_crop = a.pad_crop = 1; /* the loader's light noise too */
    ns_train_result ra, rb;
    assert_int_equal(ns_train(&a, be, 0, NULL, NULL, &ra), NS_OK);
    assert_int_equal(ns_train(&b, be, 0, NULL, NULL, &rb), NS_OK);
    assert_true(ns_test_same_weights(ra.model_path, rb.model_path));
    assert_true(ra.test_acc == rb.test_acc);
}

/* A label file over `source` (ids 3, 5, ... of the train split). */
static void write_labels(const char *path, const char *source)
{
    ns_label_set s;
    assert_int_equal(ns_label_set_alloc(&s, 40, 4), NS_OK);
    snprintf(s.source, sizeof s.source, "%s", source);
    for (size_t r = 0; r < 40; r++) {
        s.source_id[r] = (uint32_t)(3 + 2 * r);
        s.true_label[r] = -1;
        for (int k = 0; k < 4; k++)
            s.probs[r * 4 + k] = k == (int)(r % 4) ? 0.7f : 0.1f;
        ns_label_set_update_top(&s, r);
    }
    assert_int_equal(ns_label_file_write(path, &s), NS_OK);
    ns_label_set_free(&s);
}

static void pseudo_view_equals_copy(void **state)
{
    ns_backend *be = *state;
    if (!packed[0])
        pack_synthetic();
    char mem_labels[1400], map_labels[1400], pool[1400];
    snprintf(mem_labels, sizeof mem_labels, "%s/mem.nspl", synth);
    snprintf(map_labels, sizeof map_labels, "%s/map.nspl", synth);
    snprintf(pool, sizeof pool, "%s/train/s.nsds", packed); /* the series, by its --out name */
    write_labels(mem_labels, synth);
    write_labels(map_labels, pool);
    ns_train_config a = tiny(synth, "nsds_student_mem"), b = tiny(synth, "nsds_student_map");
    snprintf(a.pseudo, sizeof a.pseudo, "%s", mem_labels);
    snprintf(b.pseudo, sizeof b.pseudo, "%s", map_labels);
    a.unlabeled_ratio = b.unlabeled_ratio = 1.0f;
    a.pseudo_threshold = b.pseudo_threshold = 0.0f;
    a.pseudo_per_class = b.pseudo_per_class = -1;
    ns_pseudo_data pa, pb;
    assert_int_equal(ns_pseudo_data_open(&a, NULL, &pa), NS_OK);
    assert_int_equal(ns_pseudo_data_open(&b, NULL, &pb), NS_OK);
    assert_null(pa.images.map);
    assert_non_null(pb.images.map); /* a view into the mapped pool: no image copied */
    assert_int_equal(pa.view.count, pb.view.count);
    assert_int_equal(pa.view.classes, pb.view.classes);
    for (size_t i = 0; i < pa.view.count; i++) {
        assert_int_equal(pa.view.ids[i], pb.view.ids[i]);
        assert_memory_equal(ns_dataset_image(pa.view.data, pa.view.ids[i]),
                            ns_dataset_image(pb.view.data, pb.view.ids[i]), ns_dataset_image_bytes(pa.view.data));
        assert_int_equal(pb.view.data->labels[pb.view.ids[i]], -1); /* the pool's truth never reaches training */
    }
    assert_memory_equal(pa.view.targets, pb.view.targets, pa.view.count * (size_t)pa.view.classes * sizeof(float));
    ns_train_result ra, rb;
    assert_int_equal(ns_train(&a, be, 0, &pa.view, NULL, &ra), NS_OK);
    assert_int_equal(ns_train(&b, be, 0, &pb.view, NULL, &rb), NS_OK);
    assert_true(ns_test_same_weights(ra.model_path, rb.model_path));
    ns_pseudo_data_free(&pa);
    ns_pseudo_data_free(&pb);
}

/* The command: exit codes 0 / 1 / 2 and one-line errors. */
static int cli(const char *args)
{
    char cmd[6000];
    snprintf(cmd, sizeof cmd, "'%s' %s >'%s/cli.out' 2>'%s/cli.err' </dev/null", NS_CLI_PATH, args, tmp, tmp);
    int rc = system(cmd);
    return WIFEXITED(rc) ? WEXITSTATUS(rc) : -1;
}

static int cli_output_has(const char *file, const char *needle)
{
    size_t n;
    uint8_t *b = slurp(at(file), &n);
    b = realloc(b, n + 1);
    b[n] = 0;
    int found = strstr((char *)b, needle) != NULL;
    free(b);
    return found;
}

static void cli_pack(void **state)
{
    (void)state;
    if (!packed[0])
        pack_synthetic();
    char args[4000];
    snprintf(args, sizeof args, "pack '%s' --input 3x8x8 --shard-size 10 --out '%s' --quiet", synth,
             at("cli.nsds"));
    assert_int_equal(cli(args), 0);
    assert_true(cli_output_has("cli.out", "packed 96 images"));
    snprintf(args, sizeof args, "pack --check '%s' '%s'", at("cli-00000.nsds"), at("cli-00001.nsds"));
    assert_int_equal(cli(args), 0);
    assert_true(cli_output_has("cli.out", "cli-00001.nsds: ok, 32 images"));
    size_t n;
    uint8_t *b = slurp(at("cli-00001.nsds"), &n);
    b[4096 + 100] ^= 1;
    spit(at("cli-00001.nsds"), b, n);
    free(b);
    assert_int_equal(cli(args), 1);
    assert_true(cli_output_has("cli.err", "pixel chunk 0 at bytes 4096.."));
    assert_int_equal(cli("pack"), 2);
    snprintf(args, sizeof args, "pack '%s' --out '%s'", synth, at("x.bin"));
    assert_int_equal(cli(args), 2);
    assert_true(cli_output_has("cli.err", "expected a file name ending in .nsds"));
    snprintf(args, sizeof args, "pack '%s' --input 2x8 --out '%s'", synth, at("y.nsds"));
    assert_int_equal(cli(args), 2);
}

static int setup(void **state)
{
    const char *base = getenv("NS_TEST_TMP");
    snprintf(tmp, sizeof tmp, "%s/nsds-%ld", base && *base ? base : "/tmp", (long)getpid());
    mkdir(tmp, 0777);
    ns_backend *be = NULL;
    *state = NULL;
    if (ns_test_require_ref(&be) != 0)
        return -1;
    *state = be;
    return 0;
}

static int teardown(void **state)
{
    ns_backend_close(*state);
    char cmd[1200];
    snprintf(cmd, sizeof cmd, "rm -rf '%s'", tmp);
    if (system(cmd) != 0)
        return -1;
    return 0;
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(round_trip),
        cmocka_unit_test(multi_shard),
        cmocka_unit_test(wrong_mix),
        cmocka_unit_test(corrupt_and_truncated),
        cmocka_unit_test(atomic_on_failure),
        cmocka_unit_test(pack_sources),
        cmocka_unit_test(pack_folders),
        cmocka_unit_test(training_is_bit_identical),
        cmocka_unit_test(pseudo_view_equals_copy),
        cmocka_unit_test(cli_pack),
    };
    return cmocka_run_group_tests(tests, setup, teardown);
}
