/* The `corrupt` op set: twelve common image corruptions, each at severities
 * 1..5, for measuring robustness (`noisystudent eval --corruptions
 * corrupt:all`), in the spirit of ImageNet-C (Hendrycks & Dietterich, 2019)
 * but with our own parameter tables sized for 28x28 and 32x32 images.
 *
 * Magnitude = severity (corrupt.h): rounded to the nearest integer, <= 0 is
 * the identity, > 5 reads as 5. Randomness comes only from the rng handed in,
 * so an image's corruption depends on nothing but (image, severity, rng). */
#include <math.h>
#include <stdlib.h>

#include "corrupt.h"

#define CORRUPT_VERSION "0.1.0"

/* The severity a magnitude stands for: 0 (leave the image alone) .. 5. */
static int severity_of(float magnitude)
{
    if (!(magnitude >= 0.5f)) /* NaN, negative, or rounds to 0 */
        return 0;
    if (magnitude >= 4.5f)
        return CORRUPT_SEVERITIES;
    return (int)floorf(magnitude + 0.5f);
}

static ns_status run(corrupt_fn fn, void *ctx, ns_image *img, uint8_t *scratch, float magnitude, ns_rng *rng)
{
    int sev = severity_of(magnitude);
    if (sev == 0 || img->width < 1 || img->height < 1)
        return NS_OK;
    return fn((const corrupt_ctx *)ctx, img, scratch, sev, rng);
}

#define CORRUPT_OP(name)                                                                                   \
    static ns_status op_##name(void *ctx, ns_image *img, uint8_t *scratch, float magnitude, ns_rng *rng) \
    {                                                                                                      \
        return run(corrupt_##name, ctx, img, scratch, magnitude, rng);                                     \
    }
CORRUPT_OP(gaussian_noise)
CORRUPT_OP(shot_noise)
CORRUPT_OP(impulse_noise)
CORRUPT_OP(defocus_blur)
CORRUPT_OP(motion_blur)
CORRUPT_OP(zoom_blur)
CORRUPT_OP(contrast)
CORRUPT_OP(brightness)
CORRUPT_OP(fog)
CORRUPT_OP(pixelate)
CORRUPT_OP(jpeg)
CORRUPT_OP(elastic)

/* Descriptions: what severity 1..5 sets (m = severity, 1..5). */
static const ns_augment_op ops[] = {
    {"gaussian_noise", "add N(0, s) per value, s = 5,9,13,19,27% of 255 at m = severity 1..5", op_gaussian_noise},
    {"shot_noise", "Poisson photon noise, 150,60,25,12,6 photons at white, m = severity 1..5", op_shot_noise},
    {"impulse_noise", "salt and pepper on 2,5,9,14,20% of values, m = severity 1..5", op_impulse_noise},
    {"defocus_blur", "disk average, radius 1,1.5,2,2.5,3 px, m = severity 1..5", op_defocus_blur},
    {"motion_blur", "line average 3,5,7,9,12 px at a random angle, m = severity 1..5", op_motion_blur},
    {"zoom_blur", "average of zooms 1..1.06,1.11,1.16,1.22,1.30 about the centre, m = severity 1..5", op_zoom_blur},
    {"contrast", "keep 60,45,32,22,14% of the contrast about the mean, m = severity 1..5", op_contrast},
    {"brightness", "HSV value +10,20,30,40,50% of 255 (gray: v+that), m = severity 1..5", op_brightness},
    {"fog", "blend in a low-frequency haze at 25,35,45,55,65%, m = severity 1..5", op_fog},
    {"pixelate", "area-average to 80,65,50,40,30% of the side, nearest back, m = severity 1..5", op_pixelate},
    {"jpeg", "libjpeg round trip at quality 40,25,15,10,6, m = severity 1..5", op_jpeg},
    {"elastic", "smooth random warp up to +-1.5,2.5,3.5,4.5,5.5 px (typically a third), m = severity 1..5", op_elastic},
};

static ns_status corrupt_create(const ns_host_api *host, const char *options, void **ctx)
{
    if (options && *options) {
        host->set_error("corrupt takes no options, got '%s' (severity is m=1..5)", options);
        return NS_ERR_USAGE;
    }
    corrupt_ctx *cx = malloc(sizeof *cx);
    if (!cx) {
        host->set_error("corrupt: out of memory");
        return NS_ERR_NOMEM;
    }
    cx->host = host;
    *ctx = cx;
    return NS_OK;
}

static void corrupt_destroy(void *ctx) { free(ctx); }

static const ns_augment_api api = {
    .struct_size = sizeof(ns_augment_api),
    .create = corrupt_create,
    .destroy = corrupt_destroy,
    .n_ops = sizeof ops / sizeof ops[0],
    .ops = ops,
};

static const ns_plugin descriptor = {
    .abi_version = NS_ABI_VERSION,
    .struct_size = sizeof(ns_plugin),
    .kind = NS_PLUGIN_AUGMENT,
    .name = "corrupt",
    .version = CORRUPT_VERSION,
    .description = "12 common corruptions (noise, blur, weather, digital) at severity m = 1..5, for eval --corruptions",
    .probe = NULL,
    .vtable = &api,
};

NS_PLUGIN_EXPORT const ns_plugin *ns_plugin_entry(void) { return &descriptor; }
