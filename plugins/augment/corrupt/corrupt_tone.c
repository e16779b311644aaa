/* Tone corruptions: contrast (values pulled towards the image's mean),
 * brightness (HSV value raised) and fog (a low-frequency haze blended in).
 * Tables are ours; fog's haze is corrupt_smooth_field (one field for all
 * channels: fog is grey). */
#include <stdlib.h>

#include "corrupt.h"

/* Contrast kept: v' = mean + c * (v - mean). */
static const double contrast_keep[CORRUPT_SEVERITIES] = {0.6, 0.45, 0.32, 0.22, 0.14};
/* Added to the HSV value (fraction of 255). */
static const double brightness_add[CORRUPT_SEVERITIES] = {0.1, 0.2, 0.3, 0.4, 0.5};
/* Weight of the haze: v' = (1 - t) v + t * 255 * field. */
static const double fog_weight[CORRUPT_SEVERITIES] = {0.25, 0.35, 0.45, 0.55, 0.65};

ns_status corrupt_contrast(const corrupt_ctx *cx, ns_image *img, uint8_t *scratch, int sev, ns_rng *rng)
{
    (void)cx, (void)scratch, (void)rng;
    const size_t n = (size_t)img->width * img->height * img->channels;
    double mean = 0.0;
    for (size_t i = 0; i < n; i++)
        mean += img->data[i];
    mean /= (double)n;
    const double k = contrast_keep[sev - 1];
    for (size_t i = 0; i < n; i++)
        img->data[i] = corrupt_u8(mean + k * (img->data[i] - mean));
    return NS_OK;
}

/* HSV's value is max(r, g, b); scaling all three channels by V'/V keeps hue
 * and saturation, which is exactly "V += c" in HSV. A black pixel (V = 0) has
 * no hue and turns grey V'. Gray images: v' = v + c. */
ns_status corrupt_brightness(const corrupt_ctx *cx, ns_image *img, uint8_t *scratch, int sev, ns_rng *rng)
{
    (void)cx, (void)scratch, (void)rng;
    const double add = 255.0 * brightness_add[sev - 1];
    const size_t pixels = (size_t)img->width * img->height;
    const int c = img->channels;
    for (size_t p = 0; p < pixels; p++) {
        uint8_t *px = img->data + p * c;
        double v = px[0];
        for (int ch = 1; ch < c; ch++)
            v = px[ch] > v ? px[ch] : v;
        double v2 = v + add > 255.0 ? 255.0 : v + add;
        for (int ch = 0; ch < c; ch++)
            px[ch] = corrupt_u8(v > 0.0 ? px[ch] * v2 / v : v2);
    }
    return NS_OK;
}

ns_status corrupt_fog(const corrupt_ctx *cx, ns_image *img, uint8_t *scratch, int sev, ns_rng *rng)
{
    (void)scratch;
    const int w = img->width, h = img->height, c = img->channels;
    float *field = corrupt_floats(cx, "fog", (size_t)w * h);
    if (!field)
        return NS_ERR_NOMEM;
    corrupt_smooth_field(field, w, h, rng);
    const double t = fog_weight[sev - 1];
    for (size_t p = 0; p < (size_t)w * h; p++)
        for (int ch = 0; ch < c; ch++)
            img->data[p * c + ch] = corrupt_u8((1.0 - t) * img->data[p * c + ch] + t * 255.0 * field[p]);
    free(field);
    return NS_OK;
}
