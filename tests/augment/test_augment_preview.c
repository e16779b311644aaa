/* The preview sheet: a real PNG (read back with libpng) with the documented
 * layout (gray or RGB as the images), originals in row 0, and clear errors for bad configurations. */
#include "augment_test_util.h"

#include <png.h>
#include <stdio.h>
#include <string.h>

#include "augment/preview.h"

#define CELL(scale, side) ((side) * (scale) + 2)

/* Reads an 8-bit PNG of `channels` (1: gray, 3: RGB) channels. */
static uint8_t *read_png(const char *path, int channels, unsigned *w, unsigned *h, char *desc, size_t desc_len)
{
    FILE *f = fopen(path, "rb");
    assert_non_null(f);
    png_structp png = png_create_read_struct(PNG_LIBPNG_VER_STRING, NULL, NULL, NULL);
    png_infop info = png_create_info_struct(png);
    assert_non_null(info);
    if (setjmp(png_jmpbuf(png)))
        fail_msg("libpng could not read %s", path);
    png_init_io(png, f);
    png_read_info(png, info);
    *w = png_get_image_width(png, info);
    *h = png_get_image_height(png, info);
    assert_int_equal(png_get_color_type(png, info), channels == 3 ? PNG_COLOR_TYPE_RGB : PNG_COLOR_TYPE_GRAY);
    assert_int_equal(png_get_bit_depth(png, info), 8);
    uint8_t *px = malloc((size_t)*w * *h * channels);
    assert_non_null(px);
    for (unsigned y = 0; y < *h; y++)
        png_read_row(png, px + (size_t)y * *w * channels, NULL);
    png_read_end(png, info);
    png_textp text;
    int n_text = 0;
    desc[0] = '\0';
    png_get_text(png, info, &text, &n_text);
    for (int i = 0; i < n_text; i++)
        if (strcmp(text[i].key, "Description") == 0)
            snprintf(desc, desc_len, "%s", text[i].text);
    png_destroy_read_struct(&png, &info, NULL);
    fclose(f);
    return px;
}

static void check_sheet(int channels)
{
    const int count = 3, side = 10, scale = 2;
    uint8_t images[3 * 10 * 10 * 3];
    ns_image all = {images, side, side * count, channels};
    fill_random(&all, 4);
    const float mags[] = {0, 10};
    ns_augment_policy *p = NULL;
    assert_int_equal(ns_augment_policy_open("randaugment:n=1,m=10,ops=invert+rotate", &p), NS_OK);
    ns_augment_preview_config cfg = {images, count, side, side, channels, mags, 2, 1, scale, 7};
    assert_int_equal(ns_augment_preview_rows(p, &cfg), 1 + 2 * 2 + 1);
    char path[1024];
    snprintf(path, sizeof path, "%s/augment_preview_%d.png", getenv("NS_TEST_TMP"), channels);
    if (ns_augment_preview_write(p, &cfg, path) != NS_OK)
        fail_msg("preview: %s", ns_last_error());
    unsigned w, h;
    char desc[2048];
    uint8_t *px = read_png(path, channels, &w, &h, desc, sizeof desc);
    assert_int_equal(w, 2 + count * CELL(scale, side));
    assert_int_equal(h, 2 + 6 * CELL(scale, side));
    /* row 0, image 1, pixel (3, 4), scaled */
    size_t x = 2 + CELL(scale, side) + 3 * scale + 1, y = 2 + 4 * scale + 1;
    const uint8_t *want = images + ((size_t)side * side + 4 * side + 3) * channels;
    for (int ch = 0; ch < channels; ch++)
        assert_int_equal(px[(y * w + x) * channels + ch], want[ch]);
    /* row 1 is invert at magnitude 0 */
    y += CELL(scale, side);
    for (int ch = 0; ch < channels; ch++)
        assert_int_equal(px[(y * w + x) * channels + ch], 255 - want[ch]);
    /* the gap between cells is white */
    assert_int_equal(px[(1 * w + 1) * channels], 255);
    assert_non_null(strstr(desc, "row 1: invert at magnitude 0"));
    assert_non_null(strstr(desc, "row 4: rotate at magnitude 10"));
    assert_non_null(strstr(desc, "row 5: the policy randaugment:n=1,m=10"));
    free(px);
    ns_augment_policy_close(p);
}

static void test_sheet_layout_gray(void **state)
{
    (void)state;
    check_sheet(1);
}

static void test_sheet_layout_rgb(void **state)
{
    (void)state;
    check_sheet(3);
}

static void test_bad_configs(void **state)
{
    (void)state;
    uint8_t img[4] = {0};
    const float mags[] = {5};
    char path[1024];
    snprintf(path, sizeof path, "%s/augment_preview_bad.png", getenv("NS_TEST_TMP"));
    ns_augment_policy *none = NULL, *p = NULL;
    assert_int_equal(ns_augment_policy_open("none", &none), NS_OK);
    assert_int_equal(ns_augment_policy_open("seed", &p), NS_OK);
    ns_augment_preview_config cfg = {img, 1, 2, 2, 1, mags, 1, 0, 1, 0};
    assert_int_equal(ns_augment_preview_write(none, &cfg, path), NS_ERR_USAGE);
    assert_non_null(strstr(ns_last_error(), "none"));
    cfg.channels = 2;
    assert_int_equal(ns_augment_preview_write(p, &cfg, path), NS_ERR_INVALID_ARG);
    assert_non_null(strstr(ns_last_error(), "2x2x2"));
    cfg.channels = 1;
    cfg.scale = 0;
    assert_int_equal(ns_augment_preview_write(p, &cfg, path), NS_ERR_INVALID_ARG);
    cfg.scale = 1;
    assert_int_equal(ns_augment_preview_write(p, &cfg, "/nonexistent-dir/x.png"), NS_ERR_IO);
    assert_non_null(strstr(ns_last_error(), "/nonexistent-dir/x.png"));
    FILE *f = fopen(path, "rb");
    assert_null(f); /* nothing half-written from the failures above */
    ns_augment_policy_close(none);
    ns_augment_policy_close(p);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_sheet_layout_gray),
        cmocka_unit_test(test_sheet_layout_rgb),
        cmocka_unit_test(test_bad_configs),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
