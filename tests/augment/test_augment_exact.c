/* Exact results of the op sets on crafted images: point ops on every value,
 * geometry on position-coded images, identity where the reference is one. */
#include "augment_test_util.h"

#include <math.h>
#include <string.h>

#define W 16
#define H 16

static ns_augment_opset *ra, *seed;

static int setup(void **state)
{
    (void)state;
    ra = open_set_or_fail("randaugment");
    seed = open_set_or_fail("seed");
    return 0;
}

static int teardown(void **state)
{
    (void)state;
    ns_augment_opset_close(ra);
    ns_augment_opset_close(seed);
    return 0;
}

/* Runs `op` of set `s` on img at magnitude m with rng (seed 1, stream 2). */
static void run(ns_augment_opset *s, const char *op, ns_image *img, float m)
{
    uint8_t scratch[W * H * 3 * 4];
    ns_rng rng = ns_rng_make(1, 2);
    ns_status st = ns_augment_opset_apply(s, op_index_or_fail(s, op), img, scratch, m, &rng);
    assert_int_equal(st, NS_OK);
}

/* The sign the op will draw first from the same rng as run(). */
static double first_sign(void)
{
    ns_rng rng = ns_rng_make(1, 2);
    return ns_rng_uniform(&rng) < 0.5f ? -1.0 : 1.0;
}

/* A 1-channel 16x16 image holding every value 0..255 once. */
static void all_values(uint8_t *buf, ns_image *img)
{
    *img = (ns_image){buf, W, H, 1};
    for (int v = 0; v < 256; v++)
        buf[v] = (uint8_t)v;
}

static void test_invert(void **state)
{
    (void)state;
    uint8_t buf[256];
    ns_image img;
    all_values(buf, &img);
    run(ra, "invert", &img, 13.0f);
    for (int v = 0; v < 256; v++)
        assert_int_equal(buf[v], 255 - v);
}

static void test_posterize(void **state)
{
    (void)state;
    /* m -> bits int(4*m/10): 10 -> 4, 5 -> 2, 0 -> 0 (black), 27 -> 10 (identity) */
    const float m[] = {10, 5, 0, 27, 17.5f};
    const int bits[] = {4, 2, 0, 8, 7};
    for (size_t k = 0; k < sizeof m / sizeof m[0]; k++) {
        uint8_t buf[256];
        ns_image img;
        all_values(buf, &img);
        run(ra, "posterize", &img, m[k]);
        for (int v = 0; v < 256; v++)
            assert_int_equal(buf[v], v & (0xFF << (8 - bits[k]) & 0xFF));
    }
}

static void test_solarize(void **state)
{
    (void)state;
    /* threshold int(256*m/10): 5 -> 128, 0 -> 0 (all inverted), 10 -> 256 (identity) */
    const float m[] = {5, 0, 10, 27};
    const int thr[] = {128, 0, 256, 691};
    for (size_t k = 0; k < sizeof m / sizeof m[0]; k++) {
        uint8_t buf[256];
        ns_image img;
        all_values(buf, &img);
        run(ra, "solarize", &img, m[k]);
        for (int v = 0; v < 256; v++)
            assert_int_equal(buf[v], v < thr[k] ? v : 255 - v);
    }
}

static void test_solarize_add(void **state)
{
    (void)state;
    /* addition int(110*m/10) to values below 128: 10 -> 110, 27 -> 297, 0 -> identity */
    const float m[] = {10, 27, 0, 3};
    const int add[] = {110, 297, 0, 33};
    for (size_t k = 0; k < sizeof m / sizeof m[0]; k++) {
        uint8_t buf[256];
        ns_image img;
        all_values(buf, &img);
        run(ra, "solarize_add", &img, m[k]);
        for (int v = 0; v < 256; v++)
            assert_int_equal(buf[v], v < 128 ? (v + add[k] > 255 ? 255 : v + add[k]) : v);
    }
}

static void test_autocontrast_per_channel(void **state)
{
    (void)state;
    /* channel 0 spans 50..100, channel 1 is flat, channel 2 spans 0..255 */
    uint8_t buf[W * H * 3];
    ns_image img = {buf, W, H, 3};
    for (int i = 0; i < W * H; i++) {
        buf[3 * i] = (uint8_t)(50 + i % 51);
        buf[3 * i + 1] = 7;
        buf[3 * i + 2] = (uint8_t)i;
    }
    run(ra, "autocontrast", &img, 0.0f);
    for (int i = 0; i < W * H; i++) {
        int v = 50 + i % 51;
        double scale = 255.0 / 50.0; /* Pillow: v * scale + offset, truncated */
        assert_int_equal(buf[3 * i], (int)(v * scale - 50 * scale));
        assert_int_equal(buf[3 * i + 1], 7);
        assert_int_equal(buf[3 * i + 2], i);
    }
}

static void test_equalize(void **state)
{
    (void)state;
    /* 32x32 gray: 512 pixels of 10, 300 of 20, 212 of 30.
     * step = (1024 - 212) / 255 = 3; lut: 10 -> 1/3 = 0, 20 -> 513/3 = 171,
     * 30 -> 813/3 = 271 clipped to 255 (what Pillow's point() does). */
    uint8_t buf[32 * 32];
    ns_image img = {buf, 32, 32, 1};
    for (int i = 0; i < 1024; i++)
        buf[i] = i < 512 ? 10 : i < 812 ? 20 : 30;
    run(ra, "equalize", &img, 0.0f);
    for (int i = 0; i < 1024; i++)
        assert_int_equal(buf[i], i < 512 ? 0 : i < 812 ? 171 : 255);
    /* the seed's equalize is the same op now (the blog's returned the image) */
    for (int i = 0; i < 1024; i++)
        buf[i] = i < 512 ? 10 : i < 812 ? 20 : 30;
    run(seed, "equalize", &img, 5.0f);
    assert_int_equal(buf[0], 0);
    assert_int_equal(buf[600], 171);
}

static void coded(uint8_t *buf, ns_image *img, int c)
{
    *img = (ns_image){buf, W, H, c};
    fill_coded(img);
}

static void test_translate(void **state)
{
    (void)state;
    /* m=8: L*16/8 = 1.6 px; nearest at pixel centres: floor(x + 0.5 + 1.6 s) = x + 2 s */
    for (int c = 1; c <= 3; c += 2) {
        uint8_t buf[W * H * 3];
        ns_image img;
        coded(buf, &img, c);
        run(ra, "translate_x", &img, 8.0f);
        int s = (int)first_sign();
        for (int y = 0; y < H; y++)
            for (int x = 0; x < W; x++)
                for (int ch = 0; ch < c; ch++) {
                    int sx = x + 2 * s;
                    int want = sx >= 0 && sx < W ? coded_px(sx, y, ch) : NS_AUGMENT_FILL;
                    assert_int_equal(buf[(y * W + x) * c + ch], want);
                }
        coded(buf, &img, c);
        run(ra, "translate_y", &img, 8.0f);
        for (int y = 0; y < H; y++)
            for (int x = 0; x < W; x++) {
                int sy = y + 2 * s;
                assert_int_equal(buf[(y * W + x) * c], sy >= 0 && sy < H ? coded_px(x, sy, 0) : NS_AUGMENT_FILL);
            }
    }
}

static void test_rotate_quarter_turns(void **state)
{
    (void)state;
    uint8_t buf[W * H * 3];
    ns_image img;
    /* m=30: 90 degrees; counter-clockwise when positive (PIL): out(x,y) = in(W-1-y, x) */
    coded(buf, &img, 3);
    run(ra, "rotate", &img, 30.0f);
    int s = (int)first_sign();
    for (int y = 0; y < H; y++)
        for (int x = 0; x < W; x++) {
            int sx = s > 0 ? W - 1 - y : y, sy = s > 0 ? x : H - 1 - x;
            for (int ch = 0; ch < 3; ch++)
                assert_int_equal(buf[(y * W + x) * 3 + ch], coded_px(sx, sy, ch));
        }
    /* m=60: 180 degrees either way */
    coded(buf, &img, 1);
    run(ra, "rotate", &img, 60.0f);
    for (int y = 0; y < H; y++)
        for (int x = 0; x < W; x++)
            assert_int_equal(buf[y * W + x], coded_px(W - 1 - x, H - 1 - y, 0));
}

static void test_rotate_fills_corners(void **state)
{
    (void)state;
    /* 45 degrees (m=15): the corners come from outside the image */
    uint8_t buf[W * H];
    ns_image img;
    coded(buf, &img, 1);
    run(ra, "rotate", &img, 15.0f);
    assert_int_equal(buf[0], NS_AUGMENT_FILL);
    assert_int_equal(buf[W - 1], NS_AUGMENT_FILL);
    assert_int_equal(buf[(H - 1) * W], NS_AUGMENT_FILL);
    assert_int_equal(buf[H * W - 1], NS_AUGMENT_FILL);
    /* the centre pixel stays near the centre */
    int v = buf[(H / 2) * W + W / 2], sx = v % 16, sy = v / 16;
    assert_true(abs(sx - W / 2) <= 1 && abs(sy - H / 2) <= 1);
}

static void test_shear(void **state)
{
    (void)state;
    /* m=10: x_src = floor(x + 0.5 + 0.3 s (y + 0.5)) */
    uint8_t buf[W * H];
    ns_image img;
    coded(buf, &img, 1);
    run(ra, "shear_x", &img, 10.0f);
    double s = first_sign() * 0.3;
    for (int y = 0; y < H; y++)
        for (int x = 0; x < W; x++) {
            int sx = (int)floor(x + 0.5 + s * (y + 0.5));
            assert_int_equal(buf[y * W + x], sx >= 0 && sx < W ? coded_px(sx, y, 0) : NS_AUGMENT_FILL);
        }
    coded(buf, &img, 1);
    run(ra, "shear_y", &img, 10.0f);
    for (int y = 0; y < H; y++)
        for (int x = 0; x < W; x++) {
            int sy = (int)floor(y + 0.5 + s * (x + 0.5));
            assert_int_equal(buf[y * W + x], sy >= 0 && sy < H ? coded_px(x, sy, 0) : NS_AUGMENT_FILL);
        }
}

static void test_cutout(void **state)
{
    (void)state;
    /* m=10 on 16x16: half = int(1 * 16 / 8) = 2, a 4x4 gray square at (cx, cy) */
    uint8_t buf[W * H * 3];
    ns_image img;
    coded(buf, &img, 3);
    run(ra, "cutout", &img, 10.0f);
    ns_rng rng = ns_rng_make(1, 2);
    int cy = (int)ns_rng_below(&rng, H), cx = (int)ns_rng_below(&rng, W);
    int filled = 0;
    for (int y = 0; y < H; y++)
        for (int x = 0; x < W; x++) {
            int in = x >= cx - 2 && x < cx + 2 && y >= cy - 2 && y < cy + 2;
            filled += in;
            for (int ch = 0; ch < 3; ch++)
                assert_int_equal(buf[(y * W + x) * 3 + ch], in ? NS_AUGMENT_FILL : coded_px(x, y, ch));
        }
    assert_true(filled > 0 && filled <= 16);
}

static void assert_identity(ns_augment_opset *s, const char *op, float m)
{
    const int sizes[][3] = {{16, 16, 3}, {28, 28, 1}, {5, 3, 3}, {1, 1, 1}};
    for (size_t k = 0; k < 4; k++) {
        uint8_t buf[28 * 28 * 3], orig[28 * 28 * 3];
        ns_image img = {buf, sizes[k][0], sizes[k][1], sizes[k][2]};
        fill_random(&img, 99 + k);
        memcpy(orig, buf, sizeof buf);
        run(s, op, &img, m);
        if (memcmp(orig, buf, (size_t)img.width * img.height * img.channels) != 0)
            fail_msg("%s %s at magnitude %g changed a %dx%dx%d image", ns_augment_opset_name(s), op, m,
                     img.width, img.height, img.channels);
    }
}

static void test_identity_at_level_zero(void **state)
{
    (void)state;
    /* randaugment: the reference is the identity at L=0 for these */
    const char *ra_ops[] = {"rotate", "shear_x", "shear_y", "translate_x", "translate_y", "cutout", "solarize_add"};
    for (size_t i = 0; i < sizeof ra_ops / sizeof ra_ops[0]; i++)
        assert_identity(ra, ra_ops[i], 0.0f);
    /* enhance factor 1.8 L + 0.1 is 1 at m=5 */
    const char *enh[] = {"color", "contrast", "brightness", "sharpness"};
    for (size_t i = 0; i < 4; i++)
        assert_identity(ra, enh[i], 5.0f);
    /* seed: step 0 of every table is the identity */
    for (size_t i = 0; i < ns_augment_opset_count(seed); i++) {
        const char *op = ns_augment_opset_op(seed, i)->name;
        if (strcmp(op, "autocontrast") && strcmp(op, "equalize"))
            assert_identity(seed, op, 0.0f);
    }
}

static void test_enhance_on_gray(void **state)
{
    (void)state;
    /* color on a gray image is the identity at any factor (the header's rule) */
    uint8_t buf[256];
    ns_image img;
    all_values(buf, &img);
    run(ra, "color", &img, 27.0f);
    for (int v = 0; v < 256; v++)
        assert_int_equal(buf[v], v);
    /* brightness at m=0: factor 0.1, v -> trunc(0.1 v) */
    run(ra, "brightness", &img, 0.0f);
    for (int v = 0; v < 256; v++)
        assert_int_equal(buf[v], (int)(0.1f * (float)v));
}

static void test_seed_tables(void **state)
{
    (void)state;
    /* the seed draws its step k = floor(u * m) first; posterize keeps
     * round(linspace(8, 4, 10))[k] bits, solarize thresholds at linspace(256, 231, 10)[k] */
    static const int bits[10] = {8, 8, 7, 7, 6, 6, 5, 5, 4, 4};
    ns_rng rng = ns_rng_make(1, 2);
    int k = (int)(ns_rng_uniform(&rng) * 10.0f);
    uint8_t buf[256];
    ns_image img;
    all_values(buf, &img);
    run(seed, "posterize", &img, 10.0f);
    for (int v = 0; v < 256; v++)
        assert_int_equal(buf[v], v & (0xFF << (8 - bits[k]) & 0xFF));
    all_values(buf, &img);
    run(seed, "solarize", &img, 10.0f);
    double thr = 256.0 - 25.0 * k / 9.0;
    for (int v = 0; v < 256; v++)
        assert_int_equal(buf[v], v < thr ? v : 255 - v);
    /* rotate by 40 k degrees: identity at 0 and 360, gray corners in between */
    uint8_t a[W * H], orig[W * H];
    ns_image ia = {a, W, H, 1};
    fill_coded(&ia);
    memcpy(orig, a, sizeof a);
    run(seed, "rotate", &ia, 10.0f);
    if (k == 0 || k == 9)
        assert_memory_equal(a, orig, sizeof a);
    else
        assert_int_equal(a[0], NS_AUGMENT_FILL);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_invert),
        cmocka_unit_test(test_posterize),
        cmocka_unit_test(test_solarize),
        cmocka_unit_test(test_solarize_add),
        cmocka_unit_test(test_autocontrast_per_channel),
        cmocka_unit_test(test_equalize),
        cmocka_unit_test(test_translate),
        cmocka_unit_test(test_rotate_quarter_turns),
        cmocka_unit_test(test_rotate_fills_corners),
        cmocka_unit_test(test_shear),
        cmocka_unit_test(test_cutout),
        cmocka_unit_test(test_identity_at_level_zero),
        cmocka_unit_test(test_enhance_on_gray),
        cmocka_unit_test(test_seed_tables),
    };
    return cmocka_run_group_tests(tests, setup, teardown);
}
