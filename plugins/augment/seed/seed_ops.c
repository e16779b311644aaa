/* The `seed` op set: the 13 ops of the blog's PIL RandAugment (the project's
 * seed code), with its 10-step magnitude tables, on Pillow-exact kernels.
 *
 * Level: as in the blog (np.random.randint(0, M) per op), each op draws its
 * own table index k = floor(u * magnitude) from its first rng draw u,
 * limited to 0..9 (the tables have 10 steps). So `seed:n=2,m=9` is the blog's
 * Rand_Augment(Numbers=2, max_Magnitude=9). The policy's sample_m=1 would draw
 * twice; leave it off for this set.
 * Random factors: where the blog multiplies by random.uniform(-1, 1), the op's
 * next draw u gives 2u - 1.
 * Two bugs of the blog are fixed: its equalize returned the image unchanged,
 * and its shear/translate filled with black instead of gray 128 (it passed
 * 128 to Image.transform as `fill=`, which Pillow ignores for AFFINE; the
 * colour is `fillcolor=`: tests/augment/pil_parity.py pins this; its rotate
 * did fill 128). Its shear used bicubic resampling; here every affine op is
 * nearest, like its rotate and translate. bench/augment/pil_reference.py is
 * the blog's pipeline as written, black fill included. */
#include <noisystudent/augment.h>
#include <noisystudent/plugin.h>

#include "../common/level.h"
#include "../common/pil_ops.h"

#define SEED_VERSION "0.1.0"
#define SEED_STEPS 10

/* np.linspace(lo, hi, 10)[k] */
static double lin(double lo, double hi, int k) { return lo + (hi - lo) * k / (SEED_STEPS - 1); }

static int draw_step(ns_rng *rng, float magnitude)
{
    float m = ns_aug_sane_magnitude(magnitude);
    float u = ns_rng_uniform(rng);
    int k = m > 0.0f ? (int)(u * m) : 0;
    return k > SEED_STEPS - 1 ? SEED_STEPS - 1 : k;
}

/* random.uniform(-1, 1) */
static double symmetric(ns_rng *rng) { return 2.0 * ns_rng_uniform(rng) - 1.0; }

static ns_status op_shear_x(void *ctx, ns_image *img, uint8_t *scratch, float magnitude, ns_rng *rng)
{
    (void)ctx;
    double v = lin(0.0, 0.3, draw_step(rng, magnitude));
    const double m[6] = {1.0, v * symmetric(rng), 0.0, 0.0, 1.0, 0.0};
    pil_affine(img, scratch, m);
    return NS_OK;
}

static ns_status op_shear_y(void *ctx, ns_image *img, uint8_t *scratch, float magnitude, ns_rng *rng)
{
    (void)ctx;
    double v = lin(0.0, 0.3, draw_step(rng, magnitude));
    const double m[6] = {1.0, 0.0, 0.0, v * symmetric(rng), 1.0, 0.0};
    pil_affine(img, scratch, m);
    return NS_OK;
}

static ns_status op_translate_x(void *ctx, ns_image *img, uint8_t *scratch, float magnitude, ns_rng *rng)
{
    (void)ctx;
    double v = lin(0.0, 0.2, draw_step(rng, magnitude));
    const double m[6] = {1.0, 0.0, v * img->width * symmetric(rng), 0.0, 1.0, 0.0};
    pil_affine(img, scratch, m);
    return NS_OK;
}

static ns_status op_translate_y(void *ctx, ns_image *img, uint8_t *scratch, float magnitude, ns_rng *rng)
{
    (void)ctx;
    double v = lin(0.0, 0.2, draw_step(rng, magnitude));
    const double m[6] = {1.0, 0.0, 0.0, 0.0, 1.0, v * img->height * symmetric(rng)};
    pil_affine(img, scratch, m);
    return NS_OK;
}

static ns_status op_rotate(void *ctx, ns_image *img, uint8_t *scratch, float magnitude, ns_rng *rng)
{
    (void)ctx;
    pil_rotate(img, scratch, lin(0.0, 360.0, draw_step(rng, magnitude)));
    return NS_OK;
}

/* ImageEnhance ops: factor 1 + v * uniform(-1, 1). */
static float enhance_factor(ns_rng *rng, float magnitude, double hi)
{
    double v = lin(0.0, hi, draw_step(rng, magnitude));
    return (float)(1.0 + v * symmetric(rng));
}

static ns_status op_color(void *ctx, ns_image *img, uint8_t *scratch, float magnitude, ns_rng *rng)
{
    (void)ctx;
    pil_color(img, scratch, enhance_factor(rng, magnitude, 0.9));
    return NS_OK;
}

static ns_status op_contrast(void *ctx, ns_image *img, uint8_t *scratch, float magnitude, ns_rng *rng)
{
    (void)ctx, (void)scratch;
    pil_contrast(img, enhance_factor(rng, magnitude, 0.5));
    return NS_OK;
}

static ns_status op_sharpness(void *ctx, ns_image *img, uint8_t *scratch, float magnitude, ns_rng *rng)
{
    (void)ctx;
    pil_sharpness(img, scratch, enhance_factor(rng, magnitude, 0.9));
    return NS_OK;
}

static ns_status op_brightness(void *ctx, ns_image *img, uint8_t *scratch, float magnitude, ns_rng *rng)
{
    (void)ctx, (void)scratch;
    pil_brightness(img, enhance_factor(rng, magnitude, 0.3));
    return NS_OK;
}

/* np.round(np.linspace(8, 4, 10)) */
static const int posterize_bits[SEED_STEPS] = {8, 8, 7, 7, 6, 6, 5, 5, 4, 4};

static ns_status op_posterize(void *ctx, ns_image *img, uint8_t *scratch, float magnitude, ns_rng *rng)
{
    (void)ctx, (void)scratch;
    uint8_t lut[256];
    pil_lut_posterize(lut, posterize_bits[draw_step(rng, magnitude)]);
    pil_lut_apply(img, lut);
    return NS_OK;
}

static ns_status op_solarize(void *ctx, ns_image *img, uint8_t *scratch, float magnitude, ns_rng *rng)
{
    (void)ctx, (void)scratch;
    uint8_t lut[256];
    pil_lut_solarize(lut, lin(256.0, 231.0, draw_step(rng, magnitude)));
    pil_lut_apply(img, lut);
    return NS_OK;
}

static ns_status op_autocontrast(void *ctx, ns_image *img, uint8_t *scratch, float magnitude, ns_rng *rng)
{
    (void)ctx, (void)scratch, (void)magnitude, (void)rng;
    pil_autocontrast(img);
    return NS_OK;
}

static ns_status op_equalize(void *ctx, ns_image *img, uint8_t *scratch, float magnitude, ns_rng *rng)
{
    (void)ctx, (void)scratch, (void)magnitude, (void)rng;
    pil_equalize(img);
    return NS_OK;
}

static const ns_augment_op ops[] = {
    {"shear_x", "x += v*U(-1,1) * y, v = 0..0.3 in 10 steps, nearest, fill 128", op_shear_x},
    {"shear_y", "y += v*U(-1,1) * x, v = 0..0.3 in 10 steps, nearest, fill 128", op_shear_y},
    {"translate_x", "shift by v*width*U(-1,1), v = 0..0.2 in 10 steps, fill 128", op_translate_x},
    {"translate_y", "shift by v*height*U(-1,1), v = 0..0.2 in 10 steps, fill 128", op_translate_y},
    {"rotate", "rotate counter-clockwise by 0..360 degrees in 10 steps, fill 128", op_rotate},
    {"color", "saturation factor 1+v*U(-1,1), v = 0..0.9 in 10 steps", op_color},
    {"posterize", "keep 8 -> 4 bits in 10 steps", op_posterize},
    {"solarize", "invert values >= threshold, 256 -> 231 in 10 steps", op_solarize},
    {"contrast", "contrast factor 1+v*U(-1,1), v = 0..0.5 in 10 steps", op_contrast},
    {"sharpness", "sharpness factor 1+v*U(-1,1), v = 0..0.9 in 10 steps", op_sharpness},
    {"brightness", "brightness factor 1+v*U(-1,1), v = 0..0.3 in 10 steps", op_brightness},
    {"autocontrast", "stretch each channel's min..max to 0..255", op_autocontrast},
    {"equalize", "equalise each channel's histogram (the blog's did nothing: fixed)", op_equalize},
};

static const ns_augment_api api = {
    .struct_size = sizeof(ns_augment_api),
    .create = NULL,
    .destroy = NULL,
    .n_ops = sizeof ops / sizeof ops[0],
    .ops = ops,
};

static const ns_plugin descriptor = {
    .abi_version = NS_ABI_VERSION,
    .struct_size = sizeof(ns_plugin),
    .kind = NS_PLUGIN_AUGMENT,
    .name = "seed",
    .version = SEED_VERSION,
    .description = "the seed blog's 13 PIL ops with 10-step tables (equalize and gray fill fixed)",
    .probe = NULL,
    .vtable = &api,
};

NS_PLUGIN_EXPORT const ns_plugin *ns_plugin_entry(void) { return &descriptor; }
