/* Image files for the image-folder tests, written with libpng / libjpeg. */
#ifndef NS_TESTS_SELFTRAIN_IMAGES_H
#define NS_TESTS_SELFTRAIN_IMAGES_H

#include <stddef.h>
#include <stdint.h>

/* c = 1 (gray) or 3 (RGB), HWC pixels. Return 0 on success. */
int st_write_png(const char *path, const uint8_t *pix, int h, int w, int c);
int st_write_jpeg(const char *path, const uint8_t *pix, int h, int w, int c, int quality);
/* A PNG signature, a valid IHDR (correct CRC) claiming w x h, a tiny IDAT and IEND. */
int st_write_png_header_only(const char *path, uint32_t w, uint32_t h);
int st_write_bytes(const char *path, const void *data, size_t n);

#endif
