/* PIL-exact image kernels shared by the augment op sets.
 *
 * Each kernel reproduces what Pillow 9 does to an 8-bit image, bit for bit, so
 * that our op sets match the reference pipelines (the paper's autoaugment.py
 * and the blog's PIL code) exactly, but in tight C: point ops through a
 * 256-entry LUT, enhance ops with PIL's truncating blend, affine ops with
 * PIL's nearest sampling at pixel centres stepped in 32.32 fixed point.
 *
 * All kernels work in place on an ns_image (HWC, 1 or 3 channels, any size
 * >= 1x1). Those that need a copy of the source use `scratch` (w*h*c bytes).
 * None allocate, none fail: parameters are already valid numbers; callers
 * (the op sets) map magnitude to them. Gray images: the single channel is the
 * luminance, as PIL treats mode "L".
 *
 * Compiled into each op-set plugin; never exported (hidden visibility).
 */
#ifndef NS_AUGMENT_PIL_OPS_H
#define NS_AUGMENT_PIL_OPS_H

#include <stdint.h>

#include <noisystudent/augment.h>

/* Pillow's ImagingBlend of one value: in1 + alpha*(in2 - in1) in float (as
 * Pillow computes it; no FMA under ISO C), truncated toward zero, clamped to
 * [0, 255]. That equals Pillow's two cases, "interpolate: (UINT8)t" and
 * "extrapolate: t <= 0 -> 0, t >= 255 -> 255, else (UINT8)t", since truncation
 * maps (-1, 0) to 0. No branches: on random images they would mispredict. */
static inline uint8_t pil_blend_px(int in1, int in2, float alpha)
{
    int t = (int)((float)in1 + alpha * (float)(in2 - in1));
    t = t < 0 ? 0 : t;
    return (uint8_t)(t > 255 ? 255 : t);
}

/* ---- point ops: build a LUT, then apply it to every channel ---- */
void pil_lut_apply(ns_image *img, const uint8_t lut[256]);
void pil_lut_invert(uint8_t lut[256]);
/* Keeps the top `bits` bits: bits <= 0 gives 0 everywhere (TF reference's
 * shift by 8), bits >= 8 is the identity. */
void pil_lut_posterize(uint8_t lut[256], int bits);
/* v < threshold ? v : 255 - v (threshold 0 inverts all, >= 256 is identity). */
void pil_lut_solarize(uint8_t lut[256], double threshold);
/* v < threshold ? min(255, max(0, v + addition)) : v. */
void pil_lut_solarize_add(uint8_t lut[256], int addition, int threshold);
/* PIL blend of a constant `degenerate` with v at `factor`:
 * d + factor*(v - d), truncated toward zero, clipped to [0,255] when extrapolating. */
void pil_lut_blend_constant(uint8_t lut[256], int degenerate, float factor);

/* Per-channel min/max stretch to [0,255] (ImageOps.autocontrast, cutoff 0);
 * a flat channel is left as is. */
void pil_autocontrast(ns_image *img);
/* Per-channel histogram equalisation (ImageOps.equalize). */
void pil_equalize(ns_image *img);

/* ---- enhance ops (ImageEnhance.*(img).enhance(factor)) ---- */
void pil_brightness(ns_image *img, float factor);
/* Degenerate = the rounded mean of the luminance. */
void pil_contrast(ns_image *img, float factor);
/* Degenerate = luminance (ITU-R 601-2, PIL's integer formula); identity on gray. */
void pil_color(ns_image *img, uint8_t *scratch, float factor);
/* Degenerate = the SMOOTH filter ([[1,1,1],[1,5,1],[1,1,1]]/13, rounded,
 * border pixels copied); images narrower or shorter than 3 are their own
 * degenerate, so sharpness is the identity there. */
void pil_sharpness(ns_image *img, uint8_t *scratch, float factor);

/* ---- geometry ---- */
/* Image.transform(AFFINE, m, NEAREST, fill=128): output pixel (x, y) takes the
 * source pixel floor(m0*(x+.5) + m1*(y+.5) + m2), floor(m3*(x+.5) + m4*(y+.5) + m5),
 * or NS_AUGMENT_FILL in every channel when that lies outside. */
void pil_affine(ns_image *img, uint8_t *scratch, const double m[6]);
/* Image.rotate(degrees, NEAREST, fillcolor=128): counter-clockwise about the
 * centre (w/2, h/2), same size. */
void pil_rotate(ns_image *img, uint8_t *scratch, double degrees);
/* Fills rows [cy-half, cy+half) x columns [cx-half, cx+half), clipped to the
 * image, with NS_AUGMENT_FILL (the reference's cutout). */
void pil_cutout(ns_image *img, int cx, int cy, int half);

#endif
