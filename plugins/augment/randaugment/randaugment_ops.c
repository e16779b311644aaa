/* The `randaugment` op set: the 16 ops of the paper's reference code
 * (tensorflow/tpu efficientnet autoaugment.py, distort_image_with_randaugment),
 * with level L = magnitude / 10 and no clamp, on Pillow-exact kernels.
 *
 * Where the reference negates a parameter at random (_randomly_negate_tensor),
 * the op's first draw from rng decides: ns_rng_uniform(rng) < 0.5 -> negative.
 * Cutout draws its centre row, then column, with ns_rng_below. */
#include <noisystudent/augment.h>
#include <noisystudent/plugin.h>

#include "../common/level.h"
#include "../common/pil_ops.h"

#define RA_VERSION "0.1.0"

static double level_of(float magnitude) { return ns_aug_sane_magnitude(magnitude) / 10.0; }

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

static ns_status op_invert(void *ctx, ns_image *img, uint8_t *scratch, float magnitude, ns_rng *rng)
{
    (void)ctx, (void)scratch, (void)magnitude, (void)rng;
    uint8_t lut[256];
    pil_lut_invert(lut);
    pil_lut_apply(img, lut);
    return NS_OK;
}

static ns_status op_rotate(void *ctx, ns_image *img, uint8_t *scratch, float magnitude, ns_rng *rng)
{
    (void)ctx;
    double degrees = level_of(magnitude) * 30.0 * ns_aug_random_sign(rng);
    pil_rotate(img, scratch, degrees);
    return NS_OK;
}

static ns_status op_posterize(void *ctx, ns_image *img, uint8_t *scratch, float magnitude, ns_rng *rng)
{
    (void)ctx, (void)scratch, (void)rng;
    uint8_t lut[256];
    pil_lut_posterize(lut, (int)(level_of(magnitude) * 4.0));
    pil_lut_apply(img, lut);
    return NS_OK;
}

static ns_status op_solarize(void *ctx, ns_image *img, uint8_t *scratch, float magnitude, ns_rng *rng)
{
    (void)ctx, (void)scratch, (void)rng;
    uint8_t lut[256];
    pil_lut_solarize(lut, (double)(int)(level_of(magnitude) * 256.0));
    pil_lut_apply(img, lut);
    return NS_OK;
}

static ns_status op_solarize_add(void *ctx, ns_image *img, uint8_t *scratch, float magnitude, ns_rng *rng)
{
    (void)ctx, (void)scratch, (void)rng;
    uint8_t lut[256];
    pil_lut_solarize_add(lut, (int)(level_of(magnitude) * 110.0), 128);
    pil_lut_apply(img, lut);
    return NS_OK;
}

/* _enhance_level_to_arg: factor 1.8 L + 0.1 (0.1 at level 0: not the identity). */
static float enhance_factor(float magnitude) { return (float)(level_of(magnitude) * 1.8 + 0.1); }

static ns_status op_color(void *ctx, ns_image *img, uint8_t *scratch, float magnitude, ns_rng *rng)
{
    (void)ctx, (void)rng;
    pil_color(img, scratch, enhance_factor(magnitude));
    return NS_OK;
}

static ns_status op_contrast(void *ctx, ns_image *img, uint8_t *scratch, float magnitude, ns_rng *rng)
{
    (void)ctx, (void)scratch, (void)rng;
    pil_contrast(img, enhance_factor(magnitude));
    return NS_OK;
}

static ns_status op_brightness(void *ctx, ns_image *img, uint8_t *scratch, float magnitude, ns_rng *rng)
{
    (void)ctx, (void)scratch, (void)rng;
    pil_brightness(img, enhance_factor(magnitude));
    return NS_OK;
}

static ns_status op_sharpness(void *ctx, ns_image *img, uint8_t *scratch, float magnitude, ns_rng *rng)
{
    (void)ctx, (void)rng;
    pil_sharpness(img, scratch, enhance_factor(magnitude));
    return NS_OK;
}

static ns_status op_shear_x(void *ctx, ns_image *img, uint8_t *scratch, float magnitude, ns_rng *rng)
{
    (void)ctx;
    double s = level_of(magnitude) * 0.3 * ns_aug_random_sign(rng);
    const double m[6] = {1.0, s, 0.0, 0.0, 1.0, 0.0};
    pil_affine(img, scratch, m);
    return NS_OK;
}

static ns_status op_shear_y(void *ctx, ns_image *img, uint8_t *scratch, float magnitude, ns_rng *rng)
{
    (void)ctx;
    double s = level_of(magnitude) * 0.3 * ns_aug_random_sign(rng);
    const double m[6] = {1.0, 0.0, 0.0, s, 1.0, 0.0};
    pil_affine(img, scratch, m);
    return NS_OK;
}

/* translate_const scaled to the image: L * size / 8 pixels (the reference's
 * 100 px on 224-331 px images). Positive moves the content left/up. */
static ns_status op_translate_x(void *ctx, ns_image *img, uint8_t *scratch, float magnitude, ns_rng *rng)
{
    (void)ctx;
    double px = level_of(magnitude) * img->width / 8.0 * ns_aug_random_sign(rng);
    const double m[6] = {1.0, 0.0, px, 0.0, 1.0, 0.0};
    pil_affine(img, scratch, m);
    return NS_OK;
}

static ns_status op_translate_y(void *ctx, ns_image *img, uint8_t *scratch, float magnitude, ns_rng *rng)
{
    (void)ctx;
    double px = level_of(magnitude) * img->height / 8.0 * ns_aug_random_sign(rng);
    const double m[6] = {1.0, 0.0, 0.0, 0.0, 1.0, px};
    pil_affine(img, scratch, m);
    return NS_OK;
}

static ns_status op_cutout(void *ctx, ns_image *img, uint8_t *scratch, float magnitude, ns_rng *rng)
{
    (void)ctx, (void)scratch;
    int size = img->width < img->height ? img->width : img->height;
    int half = (int)(level_of(magnitude) * size / 8.0);
    int cy = (int)ns_rng_below(rng, (uint32_t)img->height);
    int cx = (int)ns_rng_below(rng, (uint32_t)img->width);
    pil_cutout(img, cx, cy, half);
    return NS_OK;
}

static const ns_augment_op ops[] = {
    {"autocontrast", "stretch each channel's min..max to 0..255; ignores magnitude", op_autocontrast},
    {"equalize", "equalise each channel's histogram (PIL); ignores magnitude", op_equalize},
    {"invert", "255 - v; ignores magnitude", op_invert},
    {"rotate", "rotate by +-30*L degrees about the centre, fill 128", op_rotate},
    {"posterize", "keep the top int(4*L) bits (0 bits at L=0: black, >= 8: identity)", op_posterize},
    {"solarize", "invert values >= int(256*L) (L=0 inverts all, L>=1 is identity)", op_solarize},
    {"solarize_add", "add int(110*L) to values below 128, saturating", op_solarize_add},
    {"color", "saturation: blend with luminance at factor 1.8*L+0.1 (identity on gray)", op_color},
    {"contrast", "blend with the mean luminance at factor 1.8*L+0.1", op_contrast},
    {"brightness", "blend with black at factor 1.8*L+0.1", op_brightness},
    {"sharpness", "blend with PIL's SMOOTH filter at factor 1.8*L+0.1", op_sharpness},
    {"shear_x", "x += +-0.3*L * y, nearest, fill 128", op_shear_x},
    {"shear_y", "y += +-0.3*L * x, nearest, fill 128", op_shear_y},
    {"translate_x", "shift by +-L*width/8 pixels, fill 128", op_translate_x},
    {"translate_y", "shift by +-L*height/8 pixels, fill 128", op_translate_y},
    {"cutout", "gray (128) square of side 2*int(L*min(w,h)/8) at a random centre", op_cutout},
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
    .name = "randaugment",
    .version = RA_VERSION,
    .description = "RandAugment, the paper's 16 ops (efficientnet autoaugment.py), level = M/10",
    .probe = NULL,
    .vtable = &api,
};

NS_PLUGIN_EXPORT const ns_plugin *ns_plugin_entry(void) { return &descriptor; }
