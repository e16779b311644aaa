/* Class-folder trees: the scan (classes, nesting, order, hidden entries),
 * the flat unlabeled scan, trees as datasets (stratified seeded holdout,
 * train/ + test/ or val/), unreadable files skipped with one line each and a
 * count, and each error a user can make, with its message. */
#include <fcntl.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <cmocka.h>
#include <png.h>

#include "data/file_list.h"
#include "data/source.h"
#include "if_images.h"
#include "io/file_util.h"
#include "util/error.h"

static char g_root[512];

static const char *at(const char *rel)
{
    static char buf[4][700];
    static int slot;
    slot = (slot + 1) % 4;
    snprintf(buf[slot], sizeof buf[slot], "%s/%s", g_root, rel);
    return buf[slot];
}

/* A 4x4 gray PNG whose every pixel is v: the loaded image tells which file it was. */
static int tag_png(const char *rel, uint8_t v)
{
    uint8_t px[16];
    memset(px, v, sizeof px);
    return if_write_png(at(rel), PNG_COLOR_TYPE_GRAY, 8, px, 4, 4);
}

/* "holdout": cat 10 files (nested, mixed case, a JPEG), dog 5, zebra 1; noise beside them. */
static int make_holdout_tree(void)
{
    int bad = 0;
    for (int i = 0; i < 8; i++) {
        char rel[64];
        snprintf(rel, sizeof rel, "holdout/cat/%s%d.%s", i < 4 ? "" : "sub/deeper/", i, i % 2 ? "PNG" : "png");
        bad |= tag_png(rel, (uint8_t)(10 + i));
    }
    uint8_t flat[16 * 16];
    memset(flat, 18, sizeof flat);
    bad |= if_write_jpeg(at("holdout/cat/sub/8.JpEg"), flat, 16, 16, 1, 0, 0);
    bad |= tag_png("holdout/cat/9.png", 19);
    for (int i = 0; i < 5; i++) {
        char rel[64];
        snprintf(rel, sizeof rel, "holdout/dog/%d.png", i);
        bad |= tag_png(rel, (uint8_t)(100 + i));
    }
    bad |= tag_png("holdout/zebra/only.png", 200);
    bad |= tag_png("holdout/.ipynb_checkpoints/x.png", 250);
    bad |= tag_png("holdout/cat/.hidden.png", 251);
    bad |= tag_png("holdout/in-root.png", 252);
    bad |= if_write_bytes(at("holdout/cat/notes.txt"), "x", 1);
    return bad;
}

static int setup(void **state)
{
    (void)state;
    const char *tmp = getenv("NS_TEST_TMP");
    snprintf(g_root, sizeof g_root, "%s/class-folder-%ld", tmp && *tmp ? tmp : "/tmp", (long)getpid());
    int bad = if_mkdirs(g_root, 1) | make_holdout_tree();
    /* given splits: train/{ant,bee}, val/{bee}; test/ absent */
    bad |= tag_png("tv/train/ant/1.png", 1) | tag_png("tv/train/bee/1.png", 2) | tag_png("tv/train/bee/2.png", 3);
    bad |= tag_png("tv/val/bee/1.png", 4);
    /* errors */
    bad |= tag_png("empty-class/cat/1.png", 1) | if_mkdirs(at("empty-class/dog"), 1);
    bad |= if_mkdirs(at("no-images/a"), 1) | if_mkdirs(at("no-images/b"), 1) |
           if_write_bytes(at("no-images/a/readme.md"), "x", 1);
    bad |= tag_png("unknown-test/train/a/1.png", 1) | tag_png("unknown-test/train/a/2.png", 1) |
           tag_png("unknown-test/test/a/1.png", 1) | tag_png("unknown-test/test/zz/1.png", 1);
    /* unreadable files among good ones */
    bad |= tag_png("corrupt/a/good1.png", 1) | tag_png("corrupt/a/good2.png", 2) | tag_png("corrupt/b/good.png", 3);
    bad |= if_write_bytes(at("corrupt/a/text.png"), "not an image", 12);
    bad |= if_write_bytes(at("corrupt/b/empty.jpg"), "", 0);
    return bad ? -1 : 0;
}

static int teardown(void **state)
{
    (void)state;
    char cmd[600];
    snprintf(cmd, sizeof cmd, "rm -rf '%s'", g_root);
    return system(cmd) == 0 ? 0 : -1;
}

static void test_scan_classes_nesting_order(void **state)
{
    (void)state;
    ns_file_list l;
    assert_int_equal(ns_class_folder_scan(at("holdout"), &l), NS_OK);
    assert_int_equal(l.classes.n, 3);
    assert_string_equal(l.classes.names[0], "cat");
    assert_string_equal(l.classes.names[1], "dog");
    assert_string_equal(l.classes.names[2], "zebra");
    assert_int_equal(l.n, 16); /* hidden, root-level and .txt files are not listed */
    /* byte order of the paths within a class: "9.png" < "sub/..." */
    static const char *cat[10] = {"cat/0.png", "cat/1.PNG", "cat/2.png", "cat/3.PNG", "cat/9.png",
                                  "cat/sub/8.JpEg", "cat/sub/deeper/4.png", "cat/sub/deeper/5.PNG",
                                  "cat/sub/deeper/6.png", "cat/sub/deeper/7.PNG"};
    for (int i = 0; i < 10; i++) {
        char want[700];
        snprintf(want, sizeof want, "%s/holdout/%s", g_root, cat[i]);
        assert_string_equal(l.paths[i], want);
        assert_int_equal(l.labels[i], 0);
    }
    for (int i = 10; i < 15; i++)
        assert_int_equal(l.labels[i], 1);
    assert_int_equal(l.labels[15], 2);
    ns_file_list_free(&l);
    ns_file_list_free(&l); /* safe twice */
}

static void test_flat_scan_is_unlabeled_and_not_recursive(void **state)
{
    (void)state;
    ns_file_list l;
    assert_int_equal(ns_flat_folder_scan(at("holdout/cat"), &l), NS_OK);
    assert_int_equal(l.n, 5);
    assert_int_equal(l.classes.n, 0);
    for (size_t i = 0; i < l.n; i++)
        assert_int_equal(l.labels[i], -1);
    assert_non_null(strstr(l.paths[4], "/cat/9.png"));
    ns_file_list_free(&l);
}

static ns_data_options gray4(double fraction, uint64_t seed)
{
    ns_data_options o = ns_data_options_default();
    o.c = 1, o.h = 4, o.w = 4, o.test_fraction = fraction, o.seed = seed;
    return o;
}

/* Which tags (pixel values) a dataset holds, as a 256-entry presence map, and its per-class counts. */
static void tags_of(const ns_dataset *d, uint8_t *seen, int *per_class)
{
    memset(seen, 0, 256);
    for (int k = 0; k < 3; k++)
        per_class[k] = 0;
    for (size_t i = 0; i < d->n; i++) {
        seen[ns_dataset_image(d, i)[5]]++;
        per_class[d->labels[i]]++;
    }
}

static void test_holdout_is_stratified_and_seeded(void **state)
{
    (void)state;
    ns_data_options o = gray4(0.2, 7);
    ns_dataset tr, te;
    assert_int_equal(ns_dataset_open_opts(at("holdout"), 1, &o, &tr), NS_OK);
    assert_int_equal(ns_dataset_open_opts(at("holdout"), 0, &o, &te), NS_OK);
    assert_int_equal(tr.c, 1);
    assert_int_equal(tr.h, 4);
    assert_int_equal(te.class_names.n, 3);
    assert_string_equal(tr.class_names.names[2], "zebra");
    assert_int_equal(tr.num_classes, 3);
    assert_int_equal(te.num_classes, 3); /* zebra has no test image but is still a class */
    uint8_t s_tr[256], s_te[256];
    int c_tr[3], c_te[3];
    tags_of(&tr, s_tr, c_tr);
    tags_of(&te, s_te, c_te);
    /* round(0.2 * 10) = 2, round(0.2 * 5) = 1, round(0.2 * 1) = 0 */
    assert_int_equal(c_te[0], 2);
    assert_int_equal(c_te[1], 1);
    assert_int_equal(c_te[2], 0);
    assert_int_equal(c_tr[0], 8);
    assert_int_equal(c_tr[1], 4);
    assert_int_equal(c_tr[2], 1);
    for (int v = 0; v < 256; v++) /* disjoint, and together every file once */
        assert_int_equal(s_tr[v] + s_te[v], (v >= 10 && v <= 19) || (v >= 100 && v <= 104) || v == 200);
    /* the same seed gives the same split; another seed (one of a few) another */
    ns_dataset again;
    assert_int_equal(ns_dataset_open_opts(at("holdout"), 0, &o, &again), NS_OK);
    assert_int_equal(again.n, te.n);
    assert_memory_equal(again.images, te.images, te.n * 16);
    ns_dataset_free(&again);
    int differs = 0;
    for (uint64_t seed = 8; seed < 12 && !differs; seed++) {
        ns_data_options o2 = gray4(0.2, seed);
        assert_int_equal(ns_dataset_open_opts(at("holdout"), 0, &o2, &again), NS_OK);
        differs = again.n != te.n || memcmp(again.images, te.images, te.n * 16) != 0;
        ns_dataset_free(&again);
    }
    assert_true(differs);
    /* a larger fraction, at most count - 1 per class: zebra keeps its image */
    ns_data_options big = gray4(0.9, 7);
    assert_int_equal(ns_dataset_open_opts(at("holdout"), 1, &big, &again), NS_OK);
    tags_of(&again, s_tr, c_tr);
    assert_int_equal(c_tr[0], 1);
    assert_int_equal(c_tr[1], 1);
    assert_int_equal(c_tr[2], 1);
    ns_dataset_free(&again);
    /* rounding to nearest, halves up: 0.25 * 10 = 2.5 -> 3, 0.25 * 5 = 1.25 -> 1 */
    ns_data_options quarter = gray4(0.25, 7);
    assert_int_equal(ns_dataset_open_opts(at("holdout"), 0, &quarter, &again), NS_OK);
    tags_of(&again, s_te, c_te);
    assert_int_equal(c_te[0], 3);
    assert_int_equal(c_te[1], 1);
    ns_dataset_free(&again);
    ns_dataset_free(&tr);
    ns_dataset_free(&te);
}

static void test_given_splits_map_classes(void **state)
{
    (void)state;
    ns_data_options o = gray4(0.5, 1);
    ns_dataset tr, te;
    assert_int_equal(ns_dataset_open_opts(at("tv"), 1, &o, &tr), NS_OK);
    assert_int_equal(ns_dataset_open_opts(at("tv"), 0, &o, &te), NS_OK);
    assert_int_equal(tr.n, 3);
    assert_int_equal(te.n, 1);
    /* val/ has only "bee": it is class 1 of train's names, not class 0 of its own */
    assert_int_equal(te.labels[0], 1);
    assert_int_equal(ns_dataset_image(&te, 0)[0], 4);
    assert_int_equal(te.class_names.n, 2);
    assert_string_equal(te.class_names.names[0], "ant");
    assert_int_equal(te.num_classes, 2);
    ns_dataset_free(&tr);
    ns_dataset_free(&te);
}

static void expect_error(const char *rel, int train, double fraction, ns_status want, const char *msg)
{
    ns_data_options o = gray4(fraction, 1);
    ns_dataset d;
    assert_int_equal(ns_dataset_open_opts(at(rel), train, &o, &d), want);
    if (!strstr(ns_last_error(), msg))
        fail_msg("%s: '%s' lacks '%s'", rel, ns_last_error(), msg);
    assert_null(d.images);
    assert_int_equal(d.n, 0);
}

static void test_errors_one_clear_line(void **state)
{
    (void)state;
    expect_error("empty-class", 1, 0.2, NS_ERR_NOT_FOUND, "empty-class/dog: class folder holds no *.png");
    expect_error("no-images", 1, 0.2, NS_ERR_NOT_FOUND, "class subfolders holding");
    expect_error("unknown-test", 0, 0.2, NS_ERR_FORMAT,
                 "unknown-test/test/zz: class folder in the test split but not in the train split");
    expect_error("holdout", 1, 0.0, NS_ERR_USAGE, "--test-fraction 0");
    expect_error("holdout", 0, 1.0, NS_ERR_USAGE, "expected a fraction in (0, 1)");
    expect_error("holdout", 0, 0.01, NS_ERR_FORMAT, "holds out no image");
    ns_data_options o = ns_data_options_default();
    assert_int_equal(ns_data_options_parse_input("1x28x28", "--input", &o), NS_OK);
    assert_int_equal(o.c * 10000 + o.h * 100 + o.w, 12828);
    const char *bad[] = {"2x8x8", "3x0x8", "3x8", "3x8x8x", "x", "3x8x5000"};
    for (size_t i = 0; i < sizeof bad / sizeof *bad; i++) {
        assert_int_equal(ns_data_options_parse_input(bad[i], "--input", &o), NS_ERR_USAGE);
        assert_non_null(strstr(ns_last_error(), "--input"));
        assert_non_null(strstr(ns_last_error(), "CxHxW"));
    }
}

static int count_of(const char *text, const char *needle)
{
    int n = 0;
    for (const char *p = text; (p = strstr(p, needle)); p++)
        n++;
    return n;
}

static void test_unreadable_files_skipped_one_line_each(void **state)
{
    (void)state;
    char logpath[700];
    snprintf(logpath, sizeof logpath, "%s/stderr.log", g_root);
    fflush(stderr);
    int saved = dup(2), fd = open(logpath, O_CREAT | O_TRUNC | O_WRONLY, 0600);
    dup2(fd, 2);
    close(fd);
    ns_set_verbosity(0);
    ns_data_options o = gray4(0.5, 1);
    ns_dataset d[2];
    ns_status st[2];
    for (int train = 0; train < 2; train++)
        st[train] = ns_dataset_open_opts(at("corrupt"), train, &o, &d[train]);
    fflush(stderr);
    dup2(saved, 2);
    close(saved);
    ns_set_verbosity(-1);
    unsigned char *log = NULL;
    size_t n = 0;
    assert_int_equal(ns_read_file(logpath, 1 << 16, &log, &n), NS_OK);
    assert_int_equal(st[0], NS_OK);
    assert_int_equal(st[1], NS_OK);
    /* the 3 good files, each in exactly one split; the 2 bad ones in neither */
    int seen[4] = {0};
    for (int s = 0; s < 2; s++)
        for (size_t i = 0; i < d[s].n; i++) {
            const uint8_t v = ns_dataset_image(&d[s], i)[0];
            assert_in_range(v, 1, 3);
            seen[v]++;
        }
    assert_int_equal(seen[1] + seen[2] * 10 + seen[3] * 100, 111);
    /* one line per bad file with path and reason, one count line per split that had any */
    const char *text = (const char *)log;
    int lines = 0;
    for (size_t i = 0; i < n; i++)
        lines += log[i] == '\n';
    const int counts = count_of(text, "could not be read and were skipped");
    if (count_of(text, "corrupt/a/text.png: starts with") != 1 || count_of(text, "corrupt/b/empty.jpg: empty file") != 1 ||
        counts < 1 || lines != 2 + counts)
        fail_msg("log (%d lines):\n%s", lines, text);
    free(log);
    ns_dataset_free(&d[0]);
    ns_dataset_free(&d[1]);
}

int main(void)
{
    ns_set_verbosity(-1);
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_scan_classes_nesting_order),
        cmocka_unit_test(test_flat_scan_is_unlabeled_and_not_recursive),
        cmocka_unit_test(test_holdout_is_stratified_and_seeded),
        cmocka_unit_test(test_given_splits_map_classes),
        cmocka_unit_test(test_errors_one_clear_line),
        cmocka_unit_test(test_unreadable_files_skipped_one_line_each),
    };
    return cmocka_run_group_tests(tests, setup, teardown);
}
