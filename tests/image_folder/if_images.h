/* Image files of every kind the loader accepts, written with libpng and
 * libjpeg for the image-folder suites. Each returns 0 on success. */
#ifndef NS_TESTS_IF_IMAGES_H
#define NS_TESTS_IF_IMAGES_H

#include <stddef.h>
#include <stdint.h>

/* PNG of color type `type` (PNG_COLOR_TYPE_*), `bits` per sample (8 or 16),
 * samples row-major with the type's channel count (GRAY 1, GA 2, RGB 3,
 * RGBA 4, PALETTE 1 index); 16-bit samples big-endian as in the file. */
int if_write_png(const char *path, int type, int bits, const uint8_t *samples, int h, int w);

/* A palette PNG: n_pal RGB entries, trns[k] the alpha of entry k (n_trns entries). */
int if_write_png_palette(const char *path, const uint8_t *index, int h, int w, const uint8_t *pal, int n_pal,
                         const uint8_t *trns, int n_trns);

/* JPEG from c = 1 / 3 channel pixels; orientation 0 writes no EXIF, 1..8 an
 * APP1 Exif IFD0 Orientation in little- (le = 1) or big-endian byte order. */
int if_write_jpeg(const char *path, const uint8_t *pix, int h, int w, int c, int orientation, int le);

/* A 4-channel CMYK JPEG from the samples as given (stored as is); adobe = 1
 * keeps libjpeg's Adobe APP14 marker (readers then take the samples as
 * inverted), 0 leaves it out; ycck = 1 stores it transformed to YCCK. */
int if_write_jpeg_cmyk(const char *path, const uint8_t *cmyk, int h, int w, int adobe, int ycck);

int if_write_bytes(const char *path, const void *data, size_t n);

/* mkdir -p of the folder part of path/ (path itself when dir = 1). */
int if_mkdirs(const char *path, int dir);

#endif
