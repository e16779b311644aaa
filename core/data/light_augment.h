/* The light noise of the baseline and the teacher: pad-and-crop and a
 * horizontal flip, on uint8 HWC images (noisystudent/augment.h ns_image). */
#ifndef NS_DATA_LIGHT_AUGMENT_H
#define NS_DATA_LIGHT_AUGMENT_H

#include <noisystudent/augment.h>

/* torchvision's RandomCrop(padding=4) with fill 0. */
#define NS_PAD_CROP_PAD 4

/* Shifts the image as if padded by `pad` pixels of `fill` on each side and
 * cropped back at offset (dy, dx) in [0, 2*pad]: out(y, x) = in(y+dy-pad,
 * x+dx-pad), or fill where that falls outside. scratch holds h*w*c bytes. */
void ns_pad_crop(ns_image *img, uint8_t *scratch, int pad, uint8_t fill, int dy, int dx);

/* Mirrors the image left-right in place. */
void ns_flip_horizontal(ns_image *img);

/* Applies, in this order and each only when its flag is set: a pad-crop with
 * pad 4, fill 0 at a random offset (draws dy then dx, each ns_rng_below(9)),
 * then a flip with probability 1/2 (one ns_rng_uniform draw). Draws nothing
 * for a disabled step, so the rng sequence depends only on the flags. */
void ns_light_augment(ns_image *img, uint8_t *scratch, int pad_crop, int flip, ns_rng *rng);

#endif
