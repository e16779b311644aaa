#include "selftrain_test_images.h"

#include <stdio.h>
#include <string.h>

#include <jpeglib.h>
#include <png.h>
#include <zlib.h>

int st_write_png(const char *path, const uint8_t *pix, int h, int w, int c)
{
    png_image img;
    memset(&img, 0, sizeof img);
    img.version = PNG_IMAGE_VERSION;
    img.width = (png_uint_32)w;
    img.height = (png_uint_32)h;
    img.format = c == 1 ? PNG_FORMAT_GRAY : PNG_FORMAT_RGB;
    return png_image_write_to_file(&img, path, 0, pix, 0, NULL) ? 0 : -1;
}

int st_write_jpeg(const char *path, const uint8_t *pix, int h, int w, int c, int quality)
{
    FILE *f = fopen(path, "wb");
    if (!f)
        return -1;
    struct jpeg_compress_struct cinfo;
    struct jpeg_error_mgr jerr;
    cinfo.err = jpeg_std_error(&jerr);
    jpeg_create_compress(&cinfo);
    jpeg_stdio_dest(&cinfo, f);
    cinfo.image_width = (JDIMENSION)w;
    cinfo.image_height = (JDIMENSION)h;
    cinfo.input_components = c;
    cinfo.in_color_space = c == 1 ? JCS_GRAYSCALE : JCS_RGB;
    jpeg_set_defaults(&cinfo);
    jpeg_set_quality(&cinfo, quality, TRUE);
    jpeg_start_compress(&cinfo, TRUE);
    while (cinfo.next_scanline < cinfo.image_height) {
        JSAMPROW row = (JSAMPROW)(pix + (size_t)cinfo.next_scanline * (size_t)w * (size_t)c);
        jpeg_write_scanlines(&cinfo, &row, 1);
    }
    jpeg_finish_compress(&cinfo);
    jpeg_destroy_compress(&cinfo);
    return fclose(f) == 0 ? 0 : -1;
}

static void be32(unsigned char *p, uint32_t v)
{
    p[0] = (unsigned char)(v >> 24);
    p[1] = (unsigned char)(v >> 16);
    p[2] = (unsigned char)(v >> 8);
    p[3] = (unsigned char)v;
}

int st_write_png_header_only(const char *path, uint32_t w, uint32_t h)
{
    /* signature, IHDR, a small IDAT (the first row's worth of zlib data, so a
     * reader gets past the header), IEND */
    unsigned char z[64];
    uLongf zn = sizeof z;
    const unsigned char row[16] = {0};
    if (compress(z, &zn, row, sizeof row) != Z_OK)
        return -1;
    unsigned char b[8 + 25 + 12 + 64 + 12];
    static const unsigned char sig[8] = {0x89, 'P', 'N', 'G', '\r', '\n', 0x1a, '\n'};
    size_t o = 0;
    memcpy(b, sig, 8);
    o = 8;
    be32(b + o, 13);
    memcpy(b + o + 4, "IHDR", 4);
    be32(b + o + 8, w);
    be32(b + o + 12, h);
    b[o + 16] = 8; /* bit depth */
    b[o + 17] = 0; /* gray */
    b[o + 18] = b[o + 19] = b[o + 20] = 0;
    be32(b + o + 21, (uint32_t)crc32(0, b + o + 4, 17));
    o += 25;
    be32(b + o, (uint32_t)zn);
    memcpy(b + o + 4, "IDAT", 4);
    memcpy(b + o + 8, z, zn);
    be32(b + o + 8 + zn, (uint32_t)crc32(0, b + o + 4, 4 + (uInt)zn));
    o += 12 + zn;
    be32(b + o, 0);
    memcpy(b + o + 4, "IEND", 4);
    be32(b + o + 8, (uint32_t)crc32(0, b + o + 4, 4));
    o += 12;
    return st_write_bytes(path, b, o);
}

int st_write_bytes(const char *path, const void *data, size_t n)
{
    FILE *f = fopen(path, "wb");
    if (!f)
        return -1;
    size_t put = n ? fwrite(data, 1, n, f) : 0;
    return fclose(f) == 0 && put == n ? 0 : -1;
}
