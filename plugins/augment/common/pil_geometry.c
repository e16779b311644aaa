/* Affine ops with Pillow's nearest sampling, and cutout.
 *
 * Pillow's ImagingTransformAffine takes one of two paths and we take the
 * same, so results match bit for bit: a pure scale/translate matrix
 * (m1 == m3 == 0) samples each axis independently in double precision;
 * anything else steps through the image in 16.16 fixed point with the
 * matrix rounded to 1/65536 (Pillow's affine_fixed). */
#include "pil_ops.h"

#include <math.h>
#include <string.h>

static void fill_all(uint8_t *p, size_t n) { memset(p, NS_AUGMENT_FILL, n); }

static inline void copy_px(uint8_t *dst, const uint8_t *src, int c)
{
    dst[0] = src[0];
    if (c == 3) {
        dst[1] = src[1];
        dst[2] = src[2];
    }
}

/* Pillow's COORD(): -1 for anything left of 0, else truncation. */
static inline int coord(double v) { return v < 0.0 ? -1 : (int)fmin(v, 2147483647.0); }

static void affine_separable(ns_image *img, const uint8_t *src, const double m[6])
{
    int w = img->width, h = img->height, c = img->channels;
    size_t row = (size_t)w * (size_t)c;
    /* A pure shift (m0 == 1, the translate ops): xo = m2 + 0.5 + x exactly, so
     * the source column is x + floor(m2 + 0.5) and each row is one memcpy. */
    int shift_only = m[0] == 1.0 && fabs(m[2]) < 1e9;
    long sh = shift_only ? (long)floor(m[2] + 0.5) : 0;
    long x_lo = sh < 0 ? -sh : 0, x_hi = sh > 0 ? w - sh : w; /* valid output columns */
    double yo = m[5] + m[4] * 0.5;
    for (int y = 0; y < h; y++, yo += m[4]) {
        uint8_t *out = img->data + (size_t)y * row;
        int yin = coord(yo);
        if (yin < 0 || yin >= h) {
            fill_all(out, row);
            continue;
        }
        const uint8_t *in = src + (size_t)yin * row;
        if (shift_only) {
            if (x_hi <= x_lo) {
                fill_all(out, row);
                continue;
            }
            fill_all(out, (size_t)x_lo * (size_t)c);
            memcpy(out + (size_t)x_lo * (size_t)c, in + (size_t)(x_lo + sh) * (size_t)c,
                   (size_t)(x_hi - x_lo) * (size_t)c);
            fill_all(out + (size_t)x_hi * (size_t)c, (size_t)(w - x_hi) * (size_t)c);
            continue;
        }
        double xo = m[2] + m[0] * 0.5;
        for (int x = 0; x < w; x++, xo += m[0], out += c) {
            int xin = coord(xo);
            if (xin < 0 || xin >= w)
                memset(out, NS_AUGMENT_FILL, (size_t)c);
            else
                copy_px(out, in + (size_t)xin * (size_t)c, c);
        }
    }
}

/* Pillow's FIX(): round to 16.16. int64 so that large images cannot overflow
 * where Pillow would have fallen back to its float path. */
static inline int64_t fix16(double v) { return (int64_t)floor(v * 65536.0 + 0.5); }

static void affine_fixed(ns_image *img, const uint8_t *src, const double m[6])
{
    int w = img->width, h = img->height, c = img->channels;
    int64_t a0 = fix16(m[0]), a1 = fix16(m[1]), a3 = fix16(m[3]), a4 = fix16(m[4]);
    int64_t a2 = fix16(m[2] + m[0] * 0.5 + m[1] * 0.5);
    int64_t a5 = fix16(m[5] + m[3] * 0.5 + m[4] * 0.5);
    uint8_t *out = img->data;
    for (int y = 0; y < h; y++, a2 += a1, a5 += a4) {
        int64_t xx = a2, yy = a5;
        for (int x = 0; x < w; x++, xx += a0, yy += a3, out += c) {
            /* Arithmetic shift floors negatives, as Pillow's `>> 16` does. */
            int64_t xin = xx >> 16, yin = yy >> 16;
            if (xin >= 0 && xin < w && yin >= 0 && yin < h)
                copy_px(out, src + ((size_t)yin * (size_t)w + (size_t)xin) * (size_t)c, c);
            else
                memset(out, NS_AUGMENT_FILL, (size_t)c);
        }
    }
}

void pil_affine(ns_image *img, uint8_t *scratch, const double m[6])
{
    size_t bytes = (size_t)img->width * (size_t)img->height * (size_t)img->channels;
    memcpy(scratch, img->data, bytes);
    if (m[1] == 0.0 && m[3] == 0.0)
        affine_separable(img, scratch, m);
    else
        affine_fixed(img, scratch, m);
}

/* Python's round(v, 15), which Image.rotate applies to the matrix so that
 * multiples of 90 degrees give exact zeros and ones. */
static double round15(double v) { return round(v * 1e15) / 1e15; }

void pil_rotate(ns_image *img, uint8_t *scratch, double degrees)
{
    degrees = fmod(degrees, 360.0);
    if (degrees < 0)
        degrees += 360.0;
    if (degrees == 0.0)
        return; /* Image.rotate returns a copy */
    double rad = -degrees * (3.14159265358979323846 / 180.0);
    double cx = img->width / 2.0, cy = img->height / 2.0;
    double m[6] = {round15(cos(rad)), round15(sin(rad)), 0.0, round15(-sin(rad)), round15(cos(rad)), 0.0};
    m[2] = m[0] * -cx + m[1] * -cy + cx;
    m[5] = m[3] * -cx + m[4] * -cy + cy;
    pil_affine(img, scratch, m);
}

void pil_cutout(ns_image *img, int cx, int cy, int half)
{
    if (half <= 0)
        return;
    int x0 = cx - half < 0 ? 0 : cx - half, x1 = cx + half > img->width ? img->width : cx + half;
    int y0 = cy - half < 0 ? 0 : cy - half, y1 = cy + half > img->height ? img->height : cy + half;
    if (x1 <= x0)
        return;
    size_t c = (size_t)img->channels;
    for (int y = y0; y < y1; y++)
        memset(img->data + ((size_t)y * (size_t)img->width + (size_t)x0) * c, NS_AUGMENT_FILL,
               (size_t)(x1 - x0) * c);
}
