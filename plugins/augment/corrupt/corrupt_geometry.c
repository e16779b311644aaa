/* Geometric corruptions: pixelate (area-averaged down, nearest back up) and
 * elastic (a smooth random displacement field, bilinear resampling, edges
 * repeated). Tables are ours, in pixels and fractions for 28-32 px images. */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "corrupt.h"

/* Side of the small image as a fraction of the original (28 px: 22, 18, 14, 11, 8). */
static const double pixelate_scale[CORRUPT_SEVERITIES] = {0.8, 0.65, 0.5, 0.4, 0.3};
/* Largest displacement in px (the field's values are scaled to +-alpha). */
static const double elastic_alpha[CORRUPT_SEVERITIES] = {1.5, 2.5, 3.5, 4.5, 5.5};

/* Area average of a length-n line `src` (stride `step` floats) into m < n
 * cells, each covering n/m inputs with fractional weights at its ends. */
static void area_line(const float *src, size_t step, int n, float *dst, size_t dstep, int m)
{
    for (int i = 0; i < m; i++) {
        double lo = (double)i * n / m, hi = (double)(i + 1) * n / m, sum = 0.0;
        for (int k = (int)floor(lo); k < n && k < hi; k++) {
            double a = k > lo ? k : lo, b = k + 1 < hi ? k + 1 : hi;
            sum += (b - a) * src[(size_t)k * step];
        }
        dst[(size_t)i * dstep] = (float)(sum / (hi - lo));
    }
}

ns_status corrupt_pixelate(const corrupt_ctx *cx, ns_image *img, uint8_t *scratch, int sev, ns_rng *rng)
{
    (void)scratch, (void)rng;
    const int w = img->width, h = img->height, c = img->channels;
    const double f = pixelate_scale[sev - 1];
    int sw = (int)floor(w * f + 0.5), sh = (int)floor(h * f + 0.5);
    sw = sw < 1 ? 1 : sw > w ? w : sw;
    sh = sh < 1 ? 1 : sh > h ? h : sh;
    /* in: h x w, mid: h x sw, small: sh x sw (each times c). */
    float *in = corrupt_floats(cx, "pixelate", (size_t)c * ((size_t)w * h + (size_t)sw * h + (size_t)sw * sh));
    if (!in)
        return NS_ERR_NOMEM;
    float *mid = in + (size_t)c * w * h, *small = mid + (size_t)c * sw * h;
    for (size_t i = 0; i < (size_t)c * w * h; i++)
        in[i] = img->data[i];
    for (int y = 0; y < h; y++)
        for (int ch = 0; ch < c; ch++)
            area_line(in + (size_t)y * w * c + ch, (size_t)c, w, mid + (size_t)y * sw * c + ch, (size_t)c, sw);
    for (int x = 0; x < sw; x++)
        for (int ch = 0; ch < c; ch++)
            area_line(mid + (size_t)x * c + ch, (size_t)sw * c, h, small + (size_t)x * c + ch, (size_t)sw * c, sh);
    for (int y = 0; y < h; y++) {
        int sy = (int)((2L * y + 1) * sh / (2L * h)); /* the cell under the pixel's centre */
        for (int x = 0; x < w; x++) {
            int sx = (int)((2L * x + 1) * sw / (2L * w));
            for (int ch = 0; ch < c; ch++)
                img->data[((size_t)y * w + x) * c + ch] = corrupt_u8(small[((size_t)sy * sw + sx) * c + ch]);
        }
    }
    free(in);
    return NS_OK;
}

ns_status corrupt_elastic(const corrupt_ctx *cx, ns_image *img, uint8_t *scratch, int sev, ns_rng *rng)
{
    const int w = img->width, h = img->height, c = img->channels;
    const size_t n = (size_t)w * h;
    float *dx = corrupt_floats(cx, "elastic", 2 * n);
    if (!dx)
        return NS_ERR_NOMEM;
    float *dy = dx + n;
    /* Two independent smooth fields in [0,1], centred and scaled to +-alpha
     * (a sum of octaves rarely reaches its ends: typical shifts are about
     * alpha/3). Tables were set by looking at `augment preview` rows. */
    corrupt_smooth_field(dx, w, h, rng);
    corrupt_smooth_field(dy, w, h, rng);
    const double alpha = 2.0 * elastic_alpha[sev - 1];
    memcpy(scratch, img->data, n * c);
    for (int y = 0; y < h; y++)
        for (int x = 0; x < w; x++) {
            size_t p = (size_t)y * w + x;
            double sx = x + alpha * (dx[p] - 0.5), sy = y + alpha * (dy[p] - 0.5);
            for (int ch = 0; ch < c; ch++)
                img->data[p * c + ch] = corrupt_u8(corrupt_bilinear(scratch, w, h, c, ch, sx, sy));
        }
    free(dx);
    return NS_OK;
}
