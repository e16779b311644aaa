/* The `randaugment` op set: the 16 ops of the paper's reference code
 * (tensorflow/tpu efficientnet autoaugment.py, distort_image_with_randaugment,
 * which google-research/noisystudent's randaugment.py repeats), with level
 * L = magnitude / 10 and no clamp, on Pillow-exact kernels.
 *
 * Translate and cutout are the two ops whose reference magnitude is in pixels,
 * not relative to the image: the reference shifts by L * translate_const px
 * and cuts a square of side 2 * int(L * cutout_const) px, with the constants
 * given by the caller. The Noisy Student code calls it in two ways:
 *   - ImageNet-size images (224 px and up): translate_const = 100,
 *     cutout_const = 40 (the function's defaults): at 224 px, L = 1 moves the
 *     content by 45% of the width, at 331 px by 30%;
 *   - its 32x32 images (CIFAR-10, SVHN; preprocessing.py, the small-image
 *     path): translate_const = cutout_const = image_size // 8 = 4 px, i.e.
 *     12.5% of the width per level (and, outside RandAugment, one more
 *     cutout of pad image_size // 4 on every image).
 * The images here are 28x28 (Fashion-MNIST) and 32x32 (CIFAR-10), so "level 1"
 * follows the small-image call: a shift of size // 8 px (4 px at 32, 3 px at
 * 28: integer division, as image_size // 8 is) and a cutout pad of
 * int(L * (size // 8)). Carrying the ImageNet constant over in proportion
 * instead (100/224 of the width, 14 px at 32 px) would move the content out
 * of the image entirely from L = 2.3 on, i.e. at the paper's m=27 nearly every
 * translate would leave a flat gray image: the reason the authors' own
 * small-image path scales the constant with the image. For ImageNet-size
 * input the large-image call is one option away:
 *   --augment randaugment:n=2,m=27,translate_const=100,cutout_const=40
 * (pixels per level; "auto", the default, is size // 8 of the image at hand:
 * width for translate_x, height for translate_y, the smaller side for cutout).
 *
 * Where the reference negates a parameter at random (_randomly_negate_tensor),
 * the op's first draw from rng decides: ns_rng_uniform(rng) < 0.5 -> negative.
 * Cutout draws its centre row, then column, with ns_rng_below. */
#include <stdlib.h>
#include <string.h>

#include <noisystudent/augment.h>
#include <noisystudent/plugin.h>

#include "../common/level.h"
#include "../common/pil_ops.h"

#define RA_VERSION "0.2.0" /* 0.2.0: translate and cutout follow the small-image call exactly */

static double level_of(float magnitude) { return ns_aug_sane_magnitude(magnitude) / 10.0; }

/* Pixels per level; a negative value means "auto" (size // 8 of the image). */
typedef struct ra_ctx {
    double translate_const;
    double cutout_const;
} ra_ctx;

#define RA_AUTO (-1.0)
#define RA_CONST_MAX 10000.0
#define RA_OPTIONS "translate_const=PX|auto, cutout_const=PX|auto (pixels at m=10, 0..10000)"

/* "k=v,...": translate_const / cutout_const, each a number of pixels or "auto". */
static ns_status ra_create(const ns_host_api *host, const char *options, void **out)
{
    ra_ctx *c = malloc(sizeof *c);
    if (!c) {
        host->set_error("out of memory for the context");
        return NS_ERR_NOMEM;
    }
    c->translate_const = RA_AUTO;
    c->cutout_const = RA_AUTO;
    char buf[512];
    size_t len = strlen(options ? options : "");
    if (len >= sizeof buf) {
        host->set_error("options '%.40s...' are too long (%zu bytes, at most %zu)", options, len, sizeof buf - 1);
        free(c);
        return NS_ERR_USAGE;
    }
    memcpy(buf, options ? options : "", len + 1);
    for (char *save = NULL, *kv = strtok_r(buf, ",", &save); kv; kv = strtok_r(NULL, ",", &save)) {
        char *eq = strchr(kv, '=');
        if (eq)
            *eq = '\0';
        double *slot = !eq ? NULL : !strcmp(kv, "translate_const") ? &c->translate_const
                                  : !strcmp(kv, "cutout_const")    ? &c->cutout_const : NULL;
        if (!slot) {
            host->set_error("unknown option '%s' (randaugment takes %s; the policy's keys are n, m, sample_m, p, "
                            "ops)", kv, RA_OPTIONS);
            free(c);
            return NS_ERR_USAGE;
        }
        char *end = NULL;
        double v = strcmp(eq + 1, "auto") == 0 ? RA_AUTO : strtod(eq + 1, &end);
        if (end && (end == eq + 1 || *end || !(v >= 0.0 && v <= RA_CONST_MAX))) {
            host->set_error("%s=%s: expected a number of pixels in 0..%g or 'auto'", kv, eq + 1, RA_CONST_MAX);
            free(c);
            return NS_ERR_USAGE;
        }
        *slot = v;
    }
    *out = c;
    return NS_OK;
}

static void ra_destroy(void *ctx) { free(ctx); }

/* Pixels per level: the option, or size // 8 (the small-image call). */
static double per_level(double option, int size) { return option >= 0.0 ? option : (double)(size / 8); }

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

/* L * translate_const px, random sign; positive moves the content left/up
 * (the reference translates by -pixels). */
static ns_status op_translate_x(void *ctx, ns_image *img, uint8_t *scratch, float magnitude, ns_rng *rng)
{
    const ra_ctx *c = ctx;
    double px = level_of(magnitude) * per_level(c ? c->translate_const : RA_AUTO, img->width) *
                ns_aug_random_sign(rng);
    const double m[6] = {1.0, 0.0, px, 0.0, 1.0, 0.0};
    pil_affine(img, scratch, m);
    return NS_OK;
}

static ns_status op_translate_y(void *ctx, ns_image *img, uint8_t *scratch, float magnitude, ns_rng *rng)
{
    const ra_ctx *c = ctx;
    double px = level_of(magnitude) * per_level(c ? c->translate_const : RA_AUTO, img->height) *
                ns_aug_random_sign(rng);
    const double m[6] = {1.0, 0.0, 0.0, 0.0, 1.0, px};
    pil_affine(img, scratch, m);
    return NS_OK;
}

/* A square of side 2 * int(L * cutout_const), clipped to the image, centred
 * at a uniformly drawn pixel (row first, as the reference draws). */
static ns_status op_cutout(void *ctx, ns_image *img, uint8_t *scratch, float magnitude, ns_rng *rng)
{
    (void)scratch;
    const ra_ctx *c = ctx;
    int size = img->width < img->height ? img->width : img->height;
    int half = (int)(level_of(magnitude) * per_level(c ? c->cutout_const : RA_AUTO, size));
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
    {"translate_x", "shift by +-L*(width//8) px (translate_const=PX: +-L*PX), fill 128", op_translate_x},
    {"translate_y", "shift by +-L*(height//8) px (translate_const=PX: +-L*PX), fill 128", op_translate_y},
    {"cutout", "gray (128) square of side 2*int(L*(min(w,h)//8)) (cutout_const=PX: 2*int(L*PX)) at a random "
               "centre", op_cutout},
};

static const ns_augment_api api = {
    .struct_size = sizeof(ns_augment_api),
    .create = ra_create,
    .destroy = ra_destroy,
    .n_ops = sizeof ops / sizeof ops[0],
    .ops = ops,
};

static const ns_plugin descriptor = {
    .abi_version = NS_ABI_VERSION,
    .struct_size = sizeof(ns_plugin),
    .kind = NS_PLUGIN_AUGMENT,
    .name = "randaugment",
    .version = RA_VERSION,
    .description = "RandAugment, the paper's 16 ops (efficientnet autoaugment.py), level = M/10, "
                   "translate/cutout size//8 px per level",
    .probe = NULL,
    .vtable = &api,
};

NS_PLUGIN_EXPORT const ns_plugin *ns_plugin_entry(void) { return &descriptor; }
