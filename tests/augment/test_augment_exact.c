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

/* Runs `op` of s with rng (1, stream) on img; returns the sign the op drew. */
static int run_stream(ns_augment_opset *s, const char *op, ns_image *img, float m, uint64_t stream)
{
    uint8_t *scratch = malloc((size_t)img->width * img->height * img->channels);
    assert_non_null(scratch);
    ns_rng rng = ns_rng_make(1, stream);
    ns_status st = ns_augment_opset_apply(s, op_index_or_fail(s, op), img, scratch, m, &rng);
    free(scratch);
    if (st != NS_OK)
        fail_msg("%s at m=%g: %s", op, (double)m, ns_last_error());
    ns_rng first = ns_rng_make(1, stream);
    return ns_rng_uniform(&first) < 0.5f ? -1 : 1;
}

/* translate_x on a w x 1 gray row holding its column index: each output pixel
 * must come from column x + shift (gray outside) for the hand-computed shift of
 * each sign (nearest at pixel centres: floor(x + 0.5 + px)). */
static void expect_shift_x(ns_augment_opset *s, int w, float m, int shift_pos, int shift_neg)
{
    uint8_t *buf = malloc((size_t)w);
    assert_non_null(buf);
    int seen[2] = {0, 0};
    for (uint64_t stream = 0; stream < 16; stream++) {
        for (int x = 0; x < w; x++)
            buf[x] = (uint8_t)(x % 128); /* never the fill value */
        ns_image img = {buf, w, 1, 1};
        int sign = run_stream(s, "translate_x", &img, m, stream);
        int shift = sign > 0 ? shift_pos : shift_neg;
        seen[sign > 0]++;
        for (int x = 0; x < w; x++) {
            int sx = x + shift, want = sx >= 0 && sx < w ? sx % 128 : NS_AUGMENT_FILL;
            if (buf[x] != want)
                fail_msg("translate_x, width %d, m=%g, sign %+d: pixel %d is %d, expected %d (shift %d px)", w,
                         (double)m, sign, x, buf[x], want, shift);
        }
    }
    assert_true(seen[0] > 0 && seen[1] > 0); /* both signs were checked */
    free(buf);
}

/* The reference's pixel magnitudes (see randaugment_ops.c for the
 * derivation): level L shifts by L * (size // 8) px, the Noisy Student
 * small-image call, or by L * translate_const px when given. The old op moved
 * by L * size / 8 (3.5 px per level at 28 px) and took no constant. */
static void test_translate_reference_pixels(void **state)
{
    (void)state;
    expect_shift_x(ra, 32, 10.0f, 4, -4);   /* 32 // 8 = 4 px at L=1 */
    expect_shift_x(ra, 32, 27.0f, 11, -11); /* 10.8 px: floor(x + 11.3), floor(x - 10.3) */
    expect_shift_x(ra, 28, 10.0f, 3, -3);   /* 28 // 8 = 3 px (not 3.5) */
    expect_shift_x(ra, 28, 20.0f, 6, -6);
    ns_augment_opset *big = NULL;
    if (ns_augment_opset_open("randaugment", "translate_const=100,cutout_const=40", &big) != NS_OK)
        fail_msg("randaugment with constants: %s", ns_last_error());
    expect_shift_x(big, 224, 10.0f, 100, -100); /* the ImageNet call: 100 px at L=1 */
    expect_shift_x(big, 224, 5.0f, 50, -50);
    expect_shift_x(big, 32, 10.0f, 100, -100); /* all gray: moved out entirely */
    ns_augment_opset_close(big);
    /* translate_y on a 1 x 32 column */
    uint8_t col[32];
    for (int y = 0; y < 32; y++)
        col[y] = (uint8_t)y;
    ns_image img = {col, 1, 32, 1};
    int sign = run_stream(ra, "translate_y", &img, 10.0f, 3);
    for (int y = 0; y < 32; y++) {
        int sy = y + 4 * sign;
        assert_int_equal(col[y], sy >= 0 && sy < 32 ? sy : NS_AUGMENT_FILL);
    }
}

/* cutout: a square of side 2 * int(L * cutout_const) px, cutout_const =
 * min(w, h) // 8 by default, centred on (cx, cy) drawn row first. */
static void expect_cutout(ns_augment_opset *s, int w, int h, float m, int half)
{
    uint8_t *buf = malloc((size_t)w * h);
    assert_non_null(buf);
    for (uint64_t stream = 0; stream < 8; stream++) {
        memset(buf, 7, (size_t)w * h);
        ns_image img = {buf, w, h, 1};
        run_stream(s, "cutout", &img, m, stream);
        ns_rng rng = ns_rng_make(1, stream);
        int cy = (int)ns_rng_below(&rng, (uint32_t)h), cx = (int)ns_rng_below(&rng, (uint32_t)w);
        for (int y = 0; y < h; y++)
            for (int x = 0; x < w; x++) {
                int in = x >= cx - half && x < cx + half && y >= cy - half && y < cy + half;
                if (buf[y * w + x] != (in ? NS_AUGMENT_FILL : 7))
                    fail_msg("cutout %dx%d m=%g centre (%d,%d): pixel (%d,%d) is %d, expected a %d-px pad", w, h,
                             (double)m, cx, cy, x, y, buf[y * w + x], half);
            }
    }
    free(buf);
}

static void test_cutout_reference_pixels(void **state)
{
    (void)state;
    expect_cutout(ra, 32, 32, 10.0f, 4);  /* int(1 * 4) */
    expect_cutout(ra, 28, 28, 20.0f, 6);  /* int(2 * 3); the old op: int(2 * 3.5) = 7 */
    expect_cutout(ra, 32, 28, 27.0f, 8);  /* min side 28: int(2.7 * 3) */
    ns_augment_opset *big = NULL;
    if (ns_augment_opset_open("randaugment", "cutout_const=40", &big) != NS_OK)
        fail_msg("randaugment with cutout_const: %s", ns_last_error());
    expect_cutout(big, 96, 96, 5.0f, 20); /* int(0.5 * 40) */
    ns_augment_opset_close(big);
}

/* The constants are checked: a bad value or an unknown key is a usage error
 * naming it (and listing what is accepted). */
static void test_randaugment_options(void **state)
{
    (void)state;
    const struct {
        const char *options, *needle;
    } bad[] = {
        {"translate_const=-1", "translate_const=-1: expected a number of pixels in 0..10000 or 'auto'"},
        {"cutout_const=x", "cutout_const=x: expected"},
        {"translate_const=", "translate_const=: expected"},
        {"translate_const=1e9", "translate_const=1e9: expected"},
        {"shift=3", "unknown option 'shift' (randaugment takes translate_const=PX|auto"},
    };
    for (size_t i = 0; i < sizeof bad / sizeof *bad; i++) {
        ns_augment_opset *s = NULL;
        ns_status st = ns_augment_opset_open("randaugment", bad[i].options, &s);
        if (st != NS_ERR_USAGE || !strstr(ns_last_error(), bad[i].needle))
            fail_msg("%s: expected a usage error with '%s', got %s: %s", bad[i].options, bad[i].needle,
                     ns_status_name(st), ns_last_error());
        assert_null(s);
    }
    ns_augment_opset *s = NULL;
    assert_int_equal(ns_augment_opset_open("randaugment", "translate_const=auto,cutout_const=auto", &s), NS_OK);
    expect_shift_x(s, 32, 10.0f, 4, -4);
    ns_augment_opset_close(s);
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
        cmocka_unit_test(test_translate_reference_pixels),
        cmocka_unit_test(test_cutout_reference_pixels),
        cmocka_unit_test(test_randaugment_options),
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
