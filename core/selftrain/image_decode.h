/* One image file (PNG or JPEG, told apart by their signatures, not by the
 * name) decoded with libpng / libjpeg-turbo, converted to 1 (gray) or 3 (RGB)
 * channels and resized to h x w with a separable antialiased bilinear filter
 * (Pillow's BILINEAR: the triangle kernel widens by the scale when shrinking).
 * PNG alpha is composited onto black; 16-bit PNG is reduced to 8 bits. */
#ifndef NS_SELFTRAIN_IMAGE_DECODE_H
#define NS_SELFTRAIN_IMAGE_DECODE_H

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

/* Decodes `path` into out_hwc (h*w*c bytes, HWC interleaved), c = 1 or 3.
 * Errors (one line naming the path): NS_ERR_NOT_FOUND / NS_ERR_IO (cannot
 * read), NS_ERR_FORMAT (empty file, neither PNG nor JPEG, a corrupt stream
 * with the decoder's message, dimensions above the limits), NS_ERR_NOMEM.
 * out_hwc is unspecified on error. */
ns_status ns_image_decode_file(const char *path, int c, int h, int w, uint8_t *out_hwc);

/* Resizes an sh x sw x c HWC image to dh x dw x c (antialiased bilinear, as
 * above). Exact copy when the sizes match. NS_ERR_NOMEM on allocation failure. */
ns_status ns_image_resize(const uint8_t *src, int sh, int sw, int c, uint8_t *dst, int dh, int dw);

#endif
