/* One image file (PNG or JPEG, told apart by their signatures, not by the
 * name) decoded with libpng / libjpeg-turbo, turned upright, converted to 1
 * (gray) or 3 (RGB) channels and resized to h x w.
 *
 * Accepted: every PNG kind (gray, gray+alpha, RGB, RGBA, palette, tRNS, 1..16
 * bits per sample; alpha is dropped as Pillow's convert() does, 16-bit is
 * reduced to 8) and baseline/progressive JPEG in gray, YCbCr/RGB, CMYK or
 * YCCK (Adobe-inverted CMYK recognised by its APP14 marker). A JPEG's EXIF
 * Orientation (APP1) is applied, so phone photos come out upright.
 * Gray -> RGB repeats the sample; RGB -> gray is ITU-R 601 luma.
 * Resizing: separable antialiased bilinear (Pillow's BILINEAR, which
 * torchvision's Resize uses: the triangle kernel widens by the scale when
 * shrinking); see ns_image_resize. */
#ifndef NS_DATA_IMAGE_LOAD_H
#define NS_DATA_IMAGE_LOAD_H

#include <stddef.h>
#include <stdint.h>

#include <noisystudent/status.h>

/* Refused from the header, before the pixels are allocated. */
#define NS_IMAGE_MAX_SIDE 65535u
#ifndef FUZZING_BUILD_MODE_UNSAFE_FOR_PRODUCTION
#define NS_IMAGE_MAX_PIXELS (64u << 20)
#else
/* The fuzz build (fuzz/) refuses big images earlier: a 20-byte JPEG header
 * claiming 8000x8000 pixels would cost each execution seconds of decoding
 * garbage, with no code path that a small image does not also take
 * (65536 pixels: sides up to the real 65535 still pass, as 65535 x 1). */
#define NS_IMAGE_MAX_PIXELS (1u << 16)
#endif
#define NS_IMAGE_MAX_FILE_BYTES ((size_t)256 << 20)

/* Decodes `path` into out_hwc (caller's buffer of h*w*c bytes, HWC
 * interleaved), c = 1 or 3, h, w >= 1. Thread-safe (no shared state), so
 * many files may load at once. Errors (one line naming the path):
 * NS_ERR_NOT_FOUND / NS_ERR_IO (cannot read), NS_ERR_FORMAT (empty file,
 * neither PNG nor JPEG, a corrupt stream with the decoder's message,
 * dimensions above the limits), NS_ERR_INVALID_ARG (c or h/w out of range),
 * NS_ERR_NOMEM. out_hwc is unspecified on error. */
ns_status ns_image_load(const char *path, int c, int h, int w, uint8_t *out_hwc);

/* Resizes an sh x sw x c HWC image to dh x dw x c (antialiased bilinear, as
 * above). Exact copy when the sizes match. NS_ERR_NOMEM on allocation failure. */
ns_status ns_image_resize(const uint8_t *src, int sh, int sw, int c, uint8_t *dst, int dh, int dw);

#endif
