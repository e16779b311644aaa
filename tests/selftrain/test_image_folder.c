/* Image-folder source: a PNG, a JPEG and a gray PNG load (converted and
 * resized); a huge-dimension header, a zero-byte file and a text file named
 * .png are reported by path and skipped; the resize filter's values. */
#include <fcntl.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cmocka.h>

#include "io/file_util.h"
#include "data/image_load.h"
#include "selftrain/image_folder.h"
#include "selftrain_test_images.h"
#include "selftrain_test_util.h"
#include "util/error.h"

static char g_dir[512];

static const char *in_dir(const char *name)
{
    static char buf[4][600];
    static int slot;
    slot = (slot + 1) % 4;
    snprintf(buf[slot], sizeof buf[slot], "%s/%s", g_dir, name);
    return buf[slot];
}

static int setup(void **state)
{
    (void)state;
    st_path(g_dir, sizeof g_dir, "folder");
    if (ns_mkdir_p(g_dir) != NS_OK)
        return -1;
    uint8_t rgb[12 * 16 * 3], flat[24 * 24 * 3], gray[8 * 8];
    for (int i = 0; i < 12 * 16 * 3; i++)
        rgb[i] = (uint8_t)(i * 5);
    for (int i = 0; i < 24 * 24; i++) {
        flat[3 * i] = 200;
        flat[3 * i + 1] = 100;
        flat[3 * i + 2] = 50;
    }
    for (int i = 0; i < 64; i++)
        gray[i] = (uint8_t)(i * 4);
    int bad = 0;
    bad |= st_write_png(in_dir("a.png"), rgb, 12, 16, 3);
    bad |= st_write_jpeg(in_dir("b.JPG"), flat, 24, 24, 3, 95);
    bad |= st_write_png(in_dir("c_gray.png"), gray, 8, 8, 1);
    bad |= st_write_png_header_only(in_dir("d_huge.png"), 100000, 100000);
    bad |= st_write_bytes(in_dir("e_empty.png"), "", 0);
    bad |= st_write_bytes(in_dir("f_text.png"), "not an image\n", 13);
    bad |= st_write_bytes(in_dir("notes.txt"), "ignored\n", 8);
    bad |= mkdir(in_dir("subdir.png"), 0755) != 0;
    return bad ? -1 : 0;
}

/* Runs the load with stderr captured into *log (malloc'd). */
static ns_status load_capturing(int c, int h, int w, ns_dataset *d, uint32_t **ord, size_t *skipped, char **log)
{
    char logpath[512];
    st_path(logpath, sizeof logpath, "stderr.log");
    fflush(stderr);
    int saved = dup(2), fd = open(logpath, O_CREAT | O_TRUNC | O_WRONLY, 0600);
    dup2(fd, 2);
    close(fd);
    ns_status st = ns_image_folder_load(g_dir, c, h, w, d, ord, skipped);
    fflush(stderr);
    dup2(saved, 2);
    close(saved);
    size_t n;
    unsigned char *text = NULL;
    if (ns_read_file(logpath, 1 << 20, &text, &n) != NS_OK)
        text = NULL;
    *log = (char *)text;
    unlink(logpath);
    return st;
}

static void test_good_images_load_bad_ones_are_reported(void **state)
{
    (void)state;
    ns_dataset d;
    uint32_t *ord = NULL;
    size_t skipped = 0;
    char *log = NULL;
    assert_int_equal(load_capturing(3, 8, 8, &d, &ord, &skipped, &log), NS_OK);
    assert_int_equal(d.n, 3);
    assert_int_equal(skipped, 3);
    assert_int_equal(d.c, 3);
    assert_int_equal(d.h, 8);
    /* ordinals: positions in the sorted list of image-named files */
    assert_int_equal(ord[0], 0);
    assert_int_equal(ord[1], 1);
    assert_int_equal(ord[2], 2);
    for (size_t i = 0; i < d.n; i++)
        assert_int_equal(d.labels[i], -1);
    /* the flat JPEG, shrunk 24 -> 8, keeps its colour */
    const uint8_t *b = ns_dataset_image(&d, 1);
    for (int p = 0; p < 64; p++) {
        assert_in_range(b[3 * p], 197, 203);
        assert_in_range(b[3 * p + 1], 97, 103);
        assert_in_range(b[3 * p + 2], 47, 53);
    }
    /* the gray PNG, same size, becomes R = G = B = its exact values */
    const uint8_t *g = ns_dataset_image(&d, 2);
    for (int p = 0; p < 64; p++) {
        assert_int_equal(g[3 * p], p * 4);
        assert_int_equal(g[3 * p + 1], p * 4);
        assert_int_equal(g[3 * p + 2], p * 4);
    }
    assert_int_equal(strncmp(d.source, "folder:", 7), 0);
    assert_non_null(strstr(d.source, g_dir));
    /* every bad file reported by path on stderr, the good ones and the .txt not */
    assert_non_null(log);
    if (!strstr(log, "d_huge.png: header says 100000x100000 pixels"))
        fail_msg("log: %s", log);
    assert_non_null(strstr(log, "e_empty.png: empty file"));
    assert_non_null(strstr(log, "f_text.png: starts with"));
    assert_null(strstr(log, "a.png"));
    assert_null(strstr(log, "notes.txt"));
    assert_null(strstr(log, "subdir"));
    free(log);
    free(ord);
    ns_dataset_free(&d);
}

static void test_gray_model_converts_colour(void **state)
{
    (void)state;
    ns_dataset d;
    uint32_t *ord = NULL;
    size_t skipped = 0;
    char *log = NULL;
    assert_int_equal(load_capturing(1, 6, 6, &d, &ord, &skipped, &log), NS_OK);
    free(log);
    assert_int_equal(d.n, 3);
    assert_int_equal(d.c, 1);
    /* JPEG gray from (200,100,50): 0.299 R + 0.587 G + 0.114 B = 124.2 */
    const uint8_t *b = ns_dataset_image(&d, 1);
    for (int p = 0; p < 36; p++)
        assert_in_range(b[p], 121, 127);
    free(ord);
    ns_dataset_free(&d);
}

static void test_each_bad_file_names_its_path(void **state)
{
    (void)state;
    uint8_t out[8 * 8 * 3];
    const char *bad[] = {"d_huge.png", "e_empty.png", "f_text.png"};
    for (int i = 0; i < 3; i++) {
        assert_int_equal(ns_image_load(in_dir(bad[i]), 3, 8, 8, out), NS_ERR_FORMAT);
        assert_non_null(strstr(ns_last_error(), in_dir(bad[i])));
    }
    /* a PNG cut in its pixel data */
    unsigned char *png = NULL;
    size_t n = 0;
    assert_int_equal(ns_read_file(in_dir("a.png"), 1 << 20, &png, &n), NS_OK);
    assert_int_equal(st_write_bytes(in_dir("cut.png"), png, n / 2), 0);
    assert_int_equal(ns_image_load(in_dir("cut.png"), 3, 8, 8, out), NS_ERR_FORMAT);
    assert_non_null(strstr(ns_last_error(), "cut.png: PNG"));
    unlink(in_dir("cut.png"));
    free(png);
    /* a JPEG cut after its header */
    unsigned char *jpg = NULL;
    assert_int_equal(ns_read_file(in_dir("b.JPG"), 1 << 20, &jpg, &n), NS_OK);
    assert_int_equal(st_write_bytes(in_dir("cut.jpg"), jpg, 40), 0);
    assert_int_equal(ns_image_load(in_dir("cut.jpg"), 3, 8, 8, out), NS_ERR_FORMAT);
    assert_non_null(strstr(ns_last_error(), "cut.jpg: JPEG"));
    unlink(in_dir("cut.jpg"));
    free(jpg);
    assert_int_equal(ns_image_load(in_dir("missing.png"), 3, 8, 8, out), NS_ERR_NOT_FOUND);
}

static void test_folder_errors(void **state)
{
    (void)state;
    ns_dataset d;
    uint32_t *ord = NULL;
    size_t skipped = 0;
    char dir[512];
    assert_int_equal(ns_image_folder_load(st_path(dir, sizeof dir, "nope"), 1, 4, 4, &d, &ord, &skipped),
                     NS_ERR_NOT_FOUND);
    assert_non_null(strstr(ns_last_error(), "cannot open directory"));
    st_path(dir, sizeof dir, "only-bad");
    assert_int_equal(ns_mkdir_p(dir), NS_OK);
    char f[600];
    snprintf(f, sizeof f, "%s/readme.md", dir);
    assert_int_equal(st_write_bytes(f, "x", 1), 0);
    assert_int_equal(ns_image_folder_load(dir, 1, 4, 4, &d, &ord, &skipped), NS_ERR_NOT_FOUND);
    assert_non_null(strstr(ns_last_error(), "no *.png"));
    snprintf(f, sizeof f, "%s/z.png", dir);
    assert_int_equal(st_write_bytes(f, "x", 1), 0);
    fflush(stderr);
    int saved = dup(2), null = open("/dev/null", O_WRONLY);
    dup2(null, 2);
    ns_status st = ns_image_folder_load(dir, 1, 4, 4, &d, &ord, &skipped);
    dup2(saved, 2);
    close(saved);
    close(null);
    assert_int_equal(st, NS_ERR_FORMAT);
    assert_non_null(strstr(ns_last_error(), "none of its 1 image files"));
    assert_null(ord);
    assert_null(d.images);
    unlink(f);
    snprintf(f, sizeof f, "%s/readme.md", dir);
    unlink(f);
    rmdir(dir);
}

static void test_resize_values(void **state)
{
    (void)state;
    /* Pillow's BILINEAR 4 -> 2 of [0 0 100 100]: weights .75 .75 .25 (/1.75) */
    const uint8_t row[4] = {0, 0, 100, 100};
    uint8_t out[2];
    assert_int_equal(ns_image_resize(row, 1, 4, 1, out, 1, 2), NS_OK);
    assert_int_equal(out[0], 14);
    assert_int_equal(out[1], 86);
    /* a constant image stays constant at any size */
    uint8_t flat[5 * 7 * 3], big[13 * 11 * 3], small[2 * 3 * 3];
    memset(flat, 77, sizeof flat);
    assert_int_equal(ns_image_resize(flat, 5, 7, 3, big, 13, 11), NS_OK);
    assert_int_equal(ns_image_resize(flat, 5, 7, 3, small, 2, 3), NS_OK);
    for (size_t i = 0; i < sizeof big; i++)
        assert_int_equal(big[i], 77);
    for (size_t i = 0; i < sizeof small; i++)
        assert_int_equal(small[i], 77);
    /* upscaling 2 -> 4 interpolates: [0 100] -> [0 25 75 100] */
    const uint8_t two[2] = {0, 100};
    uint8_t four[4];
    assert_int_equal(ns_image_resize(two, 1, 2, 1, four, 1, 4), NS_OK);
    assert_int_equal(four[0], 0);
    assert_int_equal(four[1], 25);
    assert_int_equal(four[2], 75);
    assert_int_equal(four[3], 100);
}

static int teardown(void **state)
{
    (void)state;
    const char *names[] = {"a.png", "b.JPG", "c_gray.png", "d_huge.png", "e_empty.png", "f_text.png", "notes.txt"};
    for (size_t i = 0; i < sizeof names / sizeof *names; i++)
        unlink(in_dir(names[i]));
    rmdir(in_dir("subdir.png"));
    rmdir(g_dir);
    return 0;
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_good_images_load_bad_ones_are_reported),
        cmocka_unit_test(test_gray_model_converts_colour),
        cmocka_unit_test(test_each_bad_file_names_its_path),
        cmocka_unit_test(test_folder_errors),
        cmocka_unit_test(test_resize_values),
    };
    return cmocka_run_group_tests(tests, setup, teardown);
}
