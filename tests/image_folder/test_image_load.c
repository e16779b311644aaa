/* ns_image_load (core/data/image_load.h): every PNG kind and JPEG colour
 * space the loader promises, EXIF orientation, channel conversion, odd
 * sizes and corrupt files, each checked against the pixels written. */
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

#include "data/image_load.h"
#include "if_images.h"
#include "util/error.h"

static char g_dir[512];

static const char *at(const char *name)
{
    static char buf[4][700];
    static int slot;
    slot = (slot + 1) % 4;
    snprintf(buf[slot], sizeof buf[slot], "%s/%s", g_dir, name);
    return buf[slot];
}

static int setup(void **state)
{
    (void)state;
    const char *tmp = getenv("NS_TEST_TMP");
    snprintf(g_dir, sizeof g_dir, "%s/image-load-%ld", tmp && *tmp ? tmp : "/tmp", (long)getpid());
    return if_mkdirs(g_dir, 1);
}

static int teardown(void **state)
{
    (void)state;
    char cmd[600];
    snprintf(cmd, sizeof cmd, "rm -rf '%s'", g_dir);
    return system(cmd) == 0 ? 0 : -1;
}

/* A 3x4 RGB pattern with every value distinct enough to tell pixels apart. */
static void pattern(uint8_t *rgb, int h, int w)
{
    for (int i = 0; i < h * w; i++) {
        rgb[3 * i] = (uint8_t)(20 * i + 10);
        rgb[3 * i + 1] = (uint8_t)(250 - 15 * i);
        rgb[3 * i + 2] = (uint8_t)(i * 37 % 256);
    }
}

static void test_png_rgb_and_rgba_keep_colour_drop_alpha(void **state)
{
    (void)state;
    uint8_t rgb[12 * 3], rgba[12 * 4], out[12 * 3];
    pattern(rgb, 3, 4);
    for (int i = 0; i < 12; i++) {
        memcpy(rgba + 4 * i, rgb + 3 * i, 3);
        rgba[4 * i + 3] = (uint8_t)(i * 21); /* alpha 0 on pixel 0: the colour still comes through */
    }
    assert_int_equal(if_write_png(at("rgb.png"), PNG_COLOR_TYPE_RGB, 8, rgb, 3, 4), 0);
    assert_int_equal(if_write_png(at("rgba.png"), PNG_COLOR_TYPE_RGB_ALPHA, 8, rgba, 3, 4), 0);
    assert_int_equal(ns_image_load(at("rgb.png"), 3, 3, 4, out), NS_OK);
    assert_memory_equal(out, rgb, sizeof out);
    assert_int_equal(ns_image_load(at("rgba.png"), 3, 3, 4, out), NS_OK);
    assert_memory_equal(out, rgb, sizeof out);
}

static void test_png_gray_gray_alpha_and_16_bit(void **state)
{
    (void)state;
    uint8_t gray[12], ga[24], rgb16[12 * 6], out[12 * 3], out1[12];
    uint8_t rgb[12 * 3];
    pattern(rgb, 3, 4);
    for (int i = 0; i < 12; i++) {
        gray[i] = (uint8_t)(i * 20 + 3);
        ga[2 * i] = gray[i];
        ga[2 * i + 1] = (uint8_t)(255 - i);
        for (int k = 0; k < 3; k++) { /* 16-bit big-endian: high byte = the 8-bit value, low byte noise */
            rgb16[6 * i + 2 * k] = rgb[3 * i + k];
            rgb16[6 * i + 2 * k + 1] = (uint8_t)(i * 13 + k);
        }
    }
    assert_int_equal(if_write_png(at("gray.png"), PNG_COLOR_TYPE_GRAY, 8, gray, 3, 4), 0);
    assert_int_equal(if_write_png(at("ga.png"), PNG_COLOR_TYPE_GRAY_ALPHA, 8, ga, 3, 4), 0);
    assert_int_equal(if_write_png(at("rgb16.png"), PNG_COLOR_TYPE_RGB, 16, rgb16, 3, 4), 0);
    /* gray -> 3 channels repeats the sample; gray -> 1 is exact */
    assert_int_equal(ns_image_load(at("gray.png"), 3, 3, 4, out), NS_OK);
    for (int i = 0; i < 12; i++)
        for (int k = 0; k < 3; k++)
            assert_int_equal(out[3 * i + k], gray[i]);
    assert_int_equal(ns_image_load(at("ga.png"), 1, 3, 4, out1), NS_OK);
    assert_memory_equal(out1, gray, 12);
    /* 16 bits: the high byte (within 1 for rounding), not a gamma-converted value */
    assert_int_equal(ns_image_load(at("rgb16.png"), 3, 3, 4, out), NS_OK);
    for (int i = 0; i < 36; i++)
        if (abs((int)out[i] - (int)rgb[i]) > 1)
            fail_msg("16-bit sample %d: got %d, expected %d", i, out[i], rgb[i]);
}

static void test_png_palette_with_trns(void **state)
{
    (void)state;
    const uint8_t pal[9] = {255, 0, 0, 0, 128, 0, 10, 20, 30};
    const uint8_t trns[2] = {0, 128};
    const uint8_t idx[6] = {0, 1, 2, 2, 1, 0};
    uint8_t out[18];
    assert_int_equal(if_write_png_palette(at("pal.png"), idx, 2, 3, pal, 3, trns, 2), 0);
    assert_int_equal(ns_image_load(at("pal.png"), 3, 2, 3, out), NS_OK);
    for (int i = 0; i < 6; i++)
        assert_memory_equal(out + 3 * i, pal + 3 * idx[i], 3);
}

static void test_rgb_to_gray_is_601_luma(void **state)
{
    (void)state;
    uint8_t rgb[12 * 3], out[12];
    pattern(rgb, 3, 4);
    assert_int_equal(if_write_png(at("luma.png"), PNG_COLOR_TYPE_RGB, 8, rgb, 3, 4), 0);
    assert_int_equal(ns_image_load(at("luma.png"), 1, 3, 4, out), NS_OK);
    for (int i = 0; i < 12; i++) {
        const double y = 0.299 * rgb[3 * i] + 0.587 * rgb[3 * i + 1] + 0.114 * rgb[3 * i + 2];
        if (abs((int)out[i] - (int)(y + 0.5)) > 1)
            fail_msg("pixel %d: %d, expected %.1f", i, out[i], y);
    }
}

/* A flat colour CMYK JPEG reads back as that colour in RGB. */
static void check_cmyk(const char *name, int adobe, int ycck)
{
    /* target RGB (200, 40, 120): C = 55, M = 215, Y = 135, K = 0 in "ink" terms */
    const uint8_t ink[4] = {55, 215, 135, 0};
    uint8_t cmyk[16 * 16 * 4], out[16 * 16 * 3];
    for (int i = 0; i < 256; i++)
        for (int k = 0; k < 4; k++) /* with an Adobe marker the file stores inverted ink */
            cmyk[4 * i + k] = adobe ? (uint8_t)(255 - ink[k]) : ink[k];
    assert_int_equal(if_write_jpeg_cmyk(at(name), cmyk, 16, 16, adobe, ycck), 0);
    assert_int_equal(ns_image_load(at(name), 3, 16, 16, out), NS_OK);
    const int want[3] = {200, 40, 120};
    for (int i = 0; i < 256; i++)
        for (int k = 0; k < 3; k++)
            if (abs((int)out[3 * i + k] - want[k]) > 4)
                fail_msg("%s pixel %d channel %d: %d, expected %d", name, i, k, out[3 * i + k], want[k]);
}

static void test_jpeg_cmyk_adobe_plain_and_ycck(void **state)
{
    (void)state;
    check_cmyk("adobe.jpg", 1, 0);
    check_cmyk("plain.jpg", 0, 0);
    check_cmyk("ycck.jpg", 1, 1);
}

static void test_jpeg_gray_and_rgb(void **state)
{
    (void)state;
    uint8_t gray[16 * 16], rgb[16 * 16 * 3], out[16 * 16 * 3];
    memset(gray, 90, sizeof gray);
    for (int i = 0; i < 256; i++)
        rgb[3 * i] = 200, rgb[3 * i + 1] = 100, rgb[3 * i + 2] = 50;
    assert_int_equal(if_write_jpeg(at("g.jpg"), gray, 16, 16, 1, 0, 0), 0);
    assert_int_equal(if_write_jpeg(at("c.jpeg"), rgb, 16, 16, 3, 0, 0), 0);
    assert_int_equal(ns_image_load(at("g.jpg"), 3, 16, 16, out), NS_OK);
    for (int i = 0; i < 256 * 3; i++)
        assert_in_range(out[i], 88, 92);
    assert_int_equal(ns_image_load(at("c.jpeg"), 1, 16, 16, out), NS_OK);
    for (int i = 0; i < 256; i++) /* 0.299*200 + 0.587*100 + 0.114*50 = 124.2 */
        assert_in_range(out[i], 121, 127);
}

/* 2 x 3 blocks of 16 px, six distinct colours; the stored (unrotated) image. */
static const uint8_t block_colour[6][3] = {{230, 20, 20}, {20, 230, 20}, {20, 20, 230},
                                           {230, 230, 20}, {20, 230, 230}, {230, 20, 230}};

static void blocks(uint8_t *rgb)
{
    for (int y = 0; y < 32; y++)
        for (int x = 0; x < 48; x++)
            memcpy(rgb + 3 * (y * 48 + x), block_colour[(y / 16) * 3 + x / 16], 3);
}

/* The stored block (by, bx) that shows at upright block (uy, ux) for an orientation. */
static int stored_block(int o, int uy, int ux)
{
    const int H = 2, W = 3; /* stored blocks */
    int sy, sx;
    switch (o) {
    case 1: sy = uy, sx = ux; break;
    case 2: sy = uy, sx = W - 1 - ux; break;
    case 3: sy = H - 1 - uy, sx = W - 1 - ux; break;
    case 4: sy = H - 1 - uy, sx = ux; break;
    case 5: sy = ux, sx = uy; break;
    case 6: sy = H - 1 - ux, sx = uy; break;
    case 7: sy = H - 1 - ux, sx = W - 1 - uy; break;
    default: sy = ux, sx = W - 1 - uy; break;
    }
    return sy * 3 + sx;
}

static void test_exif_orientation_turns_upright(void **state)
{
    (void)state;
    uint8_t rgb[32 * 48 * 3], out[48 * 48 * 3];
    blocks(rgb);
    for (int le = 0; le <= 1; le++)
        for (int o = 1; o <= 8; o++) {
            char name[32];
            snprintf(name, sizeof name, "exif-%d-%s.jpg", o, le ? "II" : "MM");
            assert_int_equal(if_write_jpeg(at(name), rgb, 32, 48, 3, o, le), 0);
            const int swap = o >= 5, uh = swap ? 48 : 32, uw = swap ? 32 : 48;
            assert_int_equal(ns_image_load(at(name), 3, uh, uw, out), NS_OK);
            for (int by = 0; by < uh / 16; by++)
                for (int bx = 0; bx < uw / 16; bx++) {
                    const uint8_t *p = out + 3 * ((by * 16 + 8) * uw + bx * 16 + 8);
                    const uint8_t *want = block_colour[stored_block(o, by, bx)];
                    for (int k = 0; k < 3; k++)
                        if (abs((int)p[k] - (int)want[k]) > 12)
                            fail_msg("%s: upright block (%d,%d) channel %d is %d, expected %d", name, by, bx, k,
                                     p[k], want[k]);
                }
        }
    /* a malformed EXIF block (IFD offset past the end) is ignored: stored orientation */
    assert_int_equal(if_write_jpeg(at("exif-0.jpg"), rgb, 32, 48, 3, 0, 1), 0);
    unsigned char raw[64 * 1024];
    FILE *f = fopen(at("exif-6-II.jpg"), "rb");
    assert_non_null(f);
    size_t n = fread(raw, 1, sizeof raw, f);
    fclose(f);
    unsigned char *tiff = memmem(raw, n, "Exif\0\0II", 8);
    assert_non_null(tiff);
    tiff[6 + 4] = 0xF0; /* IFD0 offset 0x...F0: past the segment */
    assert_int_equal(if_write_bytes(at("exif-bad.jpg"), raw, n), 0);
    assert_int_equal(ns_image_load(at("exif-bad.jpg"), 3, 32, 48, out), NS_OK);
    assert_in_range(out[3 * (8 * 48 + 8)], 218, 242); /* block 0 (red) stays top-left */
    assert_in_range(out[3 * (8 * 48 + 8) + 1], 8, 32);
}

static void test_odd_sizes_resize_anywhere(void **state)
{
    (void)state;
    uint8_t one[3] = {12, 34, 56}, tall[997 * 3 * 3], out[7 * 5 * 3];
    assert_int_equal(if_write_png(at("one.png"), PNG_COLOR_TYPE_RGB, 8, one, 1, 1), 0);
    assert_int_equal(ns_image_load(at("one.png"), 3, 7, 5, out), NS_OK);
    for (int i = 0; i < 35; i++)
        assert_memory_equal(out + 3 * i, one, 3);
    for (int i = 0; i < 997 * 3; i++)
        tall[3 * i] = 66, tall[3 * i + 1] = 77, tall[3 * i + 2] = 88;
    assert_int_equal(if_write_png(at("tall.png"), PNG_COLOR_TYPE_RGB, 8, tall, 997, 3), 0);
    assert_int_equal(ns_image_load(at("tall.png"), 3, 7, 5, out), NS_OK);
    for (int i = 0; i < 35; i++) {
        assert_int_equal(out[3 * i], 66);
        assert_int_equal(out[3 * i + 2], 88);
    }
}

static void test_corrupt_files_name_path_and_reason(void **state)
{
    (void)state;
    uint8_t out[8 * 8 * 3], cmyk[16 * 16 * 4];
    memset(cmyk, 100, sizeof cmyk);
    assert_int_equal(if_write_jpeg_cmyk(at("cut-src.jpg"), cmyk, 16, 16, 1, 0), 0);
    unsigned char raw[8192];
    FILE *f = fopen(at("cut-src.jpg"), "rb");
    assert_non_null(f);
    size_t n = fread(raw, 1, sizeof raw, f);
    fclose(f);
    assert_int_equal(if_write_bytes(at("cut-cmyk.jpg"), raw, n / 3), 0);
    assert_int_equal(if_write_bytes(at("garbage.png"), "GIF89a....", 10), 0);
    assert_int_equal(if_write_bytes(at("empty.jpg"), "", 0), 0);
    static const struct {
        const char *name, *reason;
        ns_status st;
    } cases[] = {{"cut-cmyk.jpg", "cut-cmyk.jpg: JPEG", NS_ERR_FORMAT},
                 {"garbage.png", "expected a PNG or JPEG signature", NS_ERR_FORMAT},
                 {"empty.jpg", "empty file", NS_ERR_FORMAT},
                 {"missing.jpg", "missing.jpg", NS_ERR_NOT_FOUND}};
    for (size_t i = 0; i < sizeof cases / sizeof *cases; i++) {
        assert_int_equal(ns_image_load(at(cases[i].name), 3, 8, 8, out), cases[i].st);
        if (!strstr(ns_last_error(), cases[i].reason) || !strstr(ns_last_error(), g_dir))
            fail_msg("%s: message '%s' lacks the path or '%s'", cases[i].name, ns_last_error(), cases[i].reason);
    }
    assert_int_equal(ns_image_load(at("one.png"), 2, 8, 8, out), NS_ERR_INVALID_ARG);
}

int main(void)
{
    ns_set_verbosity(-1);
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_png_rgb_and_rgba_keep_colour_drop_alpha),
        cmocka_unit_test(test_png_gray_gray_alpha_and_16_bit),
        cmocka_unit_test(test_png_palette_with_trns),
        cmocka_unit_test(test_rgb_to_gray_is_601_luma),
        cmocka_unit_test(test_jpeg_cmyk_adobe_plain_and_ycck),
        cmocka_unit_test(test_jpeg_gray_and_rgb),
        cmocka_unit_test(test_exif_orientation_turns_upright),
        cmocka_unit_test(test_odd_sizes_resize_anywhere),
        cmocka_unit_test(test_corrupt_files_name_path_and_reason),
    };
    return cmocka_run_group_tests(tests, setup, teardown);
}
