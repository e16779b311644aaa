#include "if_images.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include <jpeglib.h>
#include <png.h>

int if_mkdirs(const char *path, int dir)
{
    char buf[4096];
    snprintf(buf, sizeof buf, "%s", path);
    if (!dir) {
        char *slash = strrchr(buf, '/');
        if (!slash)
            return 0;
        *slash = '\0';
    }
    for (char *p = buf + 1; *p; p++)
        if (*p == '/') {
            *p = '\0';
            mkdir(buf, 0755);
            *p = '/';
        }
    mkdir(buf, 0755);
    struct stat st;
    return stat(buf, &st) == 0 && S_ISDIR(st.st_mode) ? 0 : -1;
}

int if_write_bytes(const char *path, const void *data, size_t n)
{
    if (if_mkdirs(path, 0))
        return -1;
    FILE *f = fopen(path, "wb");
    if (!f)
        return -1;
    int bad = fwrite(data, 1, n, f) != n;
    return fclose(f) != 0 || bad ? -1 : 0;
}

static int channels_of(int type)
{
    switch (type) {
    case PNG_COLOR_TYPE_GRAY: return 1;
    case PNG_COLOR_TYPE_GRAY_ALPHA: return 2;
    case PNG_COLOR_TYPE_RGB: return 3;
    case PNG_COLOR_TYPE_RGB_ALPHA: return 4;
    default: return 1;
    }
}

static int write_png(const char *path, int type, int bits, const uint8_t *samples, int h, int w, const uint8_t *pal,
                     int n_pal, const uint8_t *trns, int n_trns)
{
    if (if_mkdirs(path, 0))
        return -1;
    FILE *f = fopen(path, "wb");
    if (!f)
        return -1;
    png_structp png = png_create_write_struct(PNG_LIBPNG_VER_STRING, NULL, NULL, NULL);
    png_infop info = png ? png_create_info_struct(png) : NULL;
    if (!info || setjmp(png_jmpbuf(png))) {
        png_destroy_write_struct(&png, &info);
        fclose(f);
        return -1;
    }
    png_init_io(png, f);
    png_set_IHDR(png, info, (png_uint_32)w, (png_uint_32)h, bits, type, PNG_INTERLACE_NONE,
                 PNG_COMPRESSION_TYPE_DEFAULT, PNG_FILTER_TYPE_DEFAULT);
    if (pal) {
        png_color colors[256];
        for (int k = 0; k < n_pal; k++)
            colors[k].red = pal[3 * k], colors[k].green = pal[3 * k + 1], colors[k].blue = pal[3 * k + 2];
        png_set_PLTE(png, info, colors, n_pal);
        if (trns)
            png_set_tRNS(png, info, trns, n_trns, NULL);
    }
    png_write_info(png, info);
    const size_t stride = (size_t)w * channels_of(type) * (bits / 8);
    for (int y = 0; y < h; y++)
        png_write_row(png, samples + (size_t)y * stride);
    png_write_end(png, NULL);
    png_destroy_write_struct(&png, &info);
    return fclose(f) != 0 ? -1 : 0;
}

int if_write_png(const char *path, int type, int bits, const uint8_t *samples, int h, int w)
{
    return write_png(path, type, bits, samples, h, w, NULL, 0, NULL, 0);
}

int if_write_png_palette(const char *path, const uint8_t *index, int h, int w, const uint8_t *pal, int n_pal,
                         const uint8_t *trns, int n_trns)
{
    return write_png(path, PNG_COLOR_TYPE_PALETTE, 8, index, h, w, pal, n_pal, trns, n_trns);
}

/* APP1 payload "Exif\0\0" + TIFF header + IFD0 with one Orientation entry. */
static size_t exif_payload(uint8_t *p, int orientation, int le)
{
    memcpy(p, "Exif\0\0", 6);
    uint8_t *t = p + 6;
#define W16(q, v) (le ? ((q)[0] = (uint8_t)(v), (q)[1] = (uint8_t)((v) >> 8)) : ((q)[0] = (uint8_t)((v) >> 8), (q)[1] = (uint8_t)(v)))
#define W32(q, v) (le ? (W16(q, (v) & 0xFFFF), W16((q) + 2, (v) >> 16)) : (W16(q, (v) >> 16), W16((q) + 2, (v) & 0xFFFF)))
    t[0] = t[1] = le ? 'I' : 'M';
    W16(t + 2, 42);
    W32(t + 4, 8u);
    W16(t + 8, 2); /* two entries: a harmless one first, then Orientation */
    W16(t + 10, 0x010F); /* Make, ASCII, 4 bytes inline: "ns\0\0" */
    W16(t + 12, 2);
    W32(t + 14, 4u);
    memcpy(t + 18, "ns\0\0", 4);
    W16(t + 22, 0x0112);
    W16(t + 24, 3);
    W32(t + 26, 1u);
    W16(t + 30, (unsigned)orientation);
    W16(t + 32, 0);
    W32(t + 34, 0u); /* no next IFD */
#undef W16
#undef W32
    return 6 + 38;
}

int if_write_jpeg(const char *path, const uint8_t *pix, int h, int w, int c, int orientation, int le)
{
    if (if_mkdirs(path, 0))
        return -1;
    FILE *f = fopen(path, "wb");
    if (!f)
        return -1;
    struct jpeg_compress_struct cinfo;
    struct jpeg_error_mgr err;
    cinfo.err = jpeg_std_error(&err);
    jpeg_create_compress(&cinfo);
    jpeg_stdio_dest(&cinfo, f);
    cinfo.image_width = (JDIMENSION)w;
    cinfo.image_height = (JDIMENSION)h;
    cinfo.input_components = c;
    cinfo.in_color_space = c == 1 ? JCS_GRAYSCALE : JCS_RGB;
    jpeg_set_defaults(&cinfo);
    jpeg_set_quality(&cinfo, 95, TRUE);
    jpeg_start_compress(&cinfo, TRUE);
    if (orientation) {
        uint8_t app1[64];
        jpeg_write_marker(&cinfo, JPEG_APP0 + 1, app1, (unsigned)exif_payload(app1, orientation, le));
    }
    while (cinfo.next_scanline < cinfo.image_height) {
        JSAMPROW row = (JSAMPROW)(pix + (size_t)cinfo.next_scanline * w * c);
        jpeg_write_scanlines(&cinfo, &row, 1);
    }
    jpeg_finish_compress(&cinfo);
    jpeg_destroy_compress(&cinfo);
    return fclose(f) != 0 ? -1 : 0;
}

int if_write_jpeg_cmyk(const char *path, const uint8_t *cmyk, int h, int w, int adobe, int ycck)
{
    if (if_mkdirs(path, 0))
        return -1;
    FILE *f = fopen(path, "wb");
    if (!f)
        return -1;
    struct jpeg_compress_struct cinfo;
    struct jpeg_error_mgr err;
    cinfo.err = jpeg_std_error(&err);
    jpeg_create_compress(&cinfo);
    jpeg_stdio_dest(&cinfo, f);
    cinfo.image_width = (JDIMENSION)w;
    cinfo.image_height = (JDIMENSION)h;
    cinfo.input_components = 4;
    cinfo.in_color_space = JCS_CMYK;
    jpeg_set_defaults(&cinfo);
    jpeg_set_colorspace(&cinfo, ycck ? JCS_YCCK : JCS_CMYK);
    cinfo.write_Adobe_marker = adobe ? TRUE : FALSE;
    jpeg_set_quality(&cinfo, 98, TRUE);
    jpeg_start_compress(&cinfo, TRUE);
    while (cinfo.next_scanline < cinfo.image_height) {
        JSAMPROW row = (JSAMPROW)(cmyk + (size_t)cinfo.next_scanline * w * 4);
        jpeg_write_scanlines(&cinfo, &row, 1);
    }
    jpeg_finish_compress(&cinfo);
    jpeg_destroy_compress(&cinfo);
    return fclose(f) != 0 ? -1 : 0;
}
