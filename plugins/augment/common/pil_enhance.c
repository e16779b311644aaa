/* ImageEnhance: blend the image with a "degenerate" version of itself. */
#include "pil_ops.h"

#include <string.h>

/* PIL's "L" conversion (ITU-R 601-2 in 16-bit fixed point, rounded). */
static inline int luma(const uint8_t *rgb)
{
    return (rgb[0] * 19595 + rgb[1] * 38470 + rgb[2] * 7471 + 0x8000) >> 16;
}

void pil_brightness(ns_image *img, float factor)
{
    uint8_t lut[256];
    pil_lut_blend_constant(lut, 0, factor);
    pil_lut_apply(img, lut);
}

void pil_contrast(ns_image *img, float factor)
{
    size_t n = (size_t)img->width * (size_t)img->height;
    uint64_t sum = 0;
    const uint8_t *p = img->data;
    if (img->channels == 3)
        for (size_t i = 0; i < n; i++, p += 3)
            sum += (uint64_t)luma(p);
    else
        for (size_t i = 0; i < n; i++)
            sum += p[i];
    /* ImageStat mean, then int(mean + 0.5). */
    int mean = (int)((double)sum / (double)n + 0.5);
    uint8_t lut[256];
    pil_lut_blend_constant(lut, mean, factor);
    pil_lut_apply(img, lut);
}

void pil_color(ns_image *img, uint8_t *scratch, float factor)
{
    if (img->channels != 3)
        return; /* a gray image is its own luminance: blend is the identity */
    size_t n = (size_t)img->width * (size_t)img->height;
    uint8_t *p = img->data;
    /* The degenerate image (luminance in all three channels) first, then one
     * flat blend loop the compiler can vectorise. */
    for (size_t i = 0; i < n; i++) {
        uint8_t g = (uint8_t)luma(p + 3 * i);
        scratch[3 * i] = scratch[3 * i + 1] = scratch[3 * i + 2] = g;
    }
    for (size_t i = 0; i < 3 * n; i++)
        p[i] = pil_blend_px(scratch[i], p[i], factor);
}

void pil_sharpness(ns_image *img, uint8_t *scratch, float factor)
{
    int w = img->width, h = img->height, c = img->channels;
    if (w < 3 || h < 3)
        return; /* PIL's filter returns a copy: degenerate == image */
    size_t row = (size_t)w * (size_t)c;
    memcpy(scratch, img->data, row * (size_t)h);
    const uint8_t *src = scratch;
    /* Border pixels: degenerate == image, so the blend leaves them unchanged. */
    for (int y = 1; y < h - 1; y++) {
        const uint8_t *up = src + (size_t)(y - 1) * row, *mid = up + row, *dn = mid + row;
        uint8_t *out = img->data + (size_t)y * row;
        for (size_t x = (size_t)c; x < row - (size_t)c; x++) {
            int s = up[x - c] + up[x] + up[x + c] + mid[x - c] + 5 * mid[x] + mid[x + c] + dn[x - c] +
                    dn[x] + dn[x + c];
            /* Pillow rounds the filtered value; s/13 is never exactly k+0.5. */
            int smooth = (2 * s + 13) / 26;
            out[x] = pil_blend_px(smooth, mid[x], factor);
        }
    }
}
