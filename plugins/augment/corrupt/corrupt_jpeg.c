/* JPEG: a real round trip through libjpeg (the encoder and decoder every
 * camera and browser pipeline uses), at a quality per severity. RGB images are
 * stored YCbCr with libjpeg's default 4:2:0 chroma subsampling, gray images as
 * one component. The integer DCT (JDCT_ISLOW, libjpeg's default) is exact
 * arithmetic, so the result is the same on every machine with the same libjpeg.
 * Qualities are ours: a 28x28 image is only 16 blocks, so the lowest ImageNet-C
 * qualities (single digits) would leave little more than block averages. */
/* jpeglib.h needs size_t and FILE declared before it. */
#include <setjmp.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <jpeglib.h>

#include "corrupt.h"

static const int jpeg_quality[CORRUPT_SEVERITIES] = {40, 25, 15, 10, 6};

/* libjpeg's default error handler exit()s and prints: a plugin may do
 * neither, so errors longjmp back here with libjpeg's message kept. */
typedef struct jerr {
    struct jpeg_error_mgr mgr;
    jmp_buf jump;
    char message[JMSG_LENGTH_MAX];
} jerr;

static void on_error(j_common_ptr cinfo)
{
    jerr *e = (jerr *)cinfo->err;
    cinfo->err->format_message(cinfo, e->message);
    longjmp(e->jump, 1);
}

static void on_message(j_common_ptr cinfo) { (void)cinfo; /* warnings: stay silent */ }

/* Encodes img into a new buffer (*out, *out_len; free() it). 0 on success. */
static int encode(const ns_image *img, int quality, jerr *e, unsigned char **out, unsigned long *out_len)
{
    struct jpeg_compress_struct ci;
    ci.err = jpeg_std_error(&e->mgr);
    e->mgr.error_exit = on_error;
    e->mgr.output_message = on_message;
    if (setjmp(e->jump)) {
        jpeg_destroy_compress(&ci);
        return -1;
    }
    jpeg_create_compress(&ci);
    jpeg_mem_dest(&ci, out, out_len);
    ci.image_width = (JDIMENSION)img->width;
    ci.image_height = (JDIMENSION)img->height;
    ci.input_components = img->channels;
    ci.in_color_space = img->channels == 3 ? JCS_RGB : JCS_GRAYSCALE;
    jpeg_set_defaults(&ci);
    jpeg_set_quality(&ci, quality, TRUE);
    ci.dct_method = JDCT_ISLOW;
    jpeg_start_compress(&ci, TRUE);
    while (ci.next_scanline < ci.image_height) {
        JSAMPROW row = img->data + (size_t)ci.next_scanline * img->width * img->channels;
        jpeg_write_scanlines(&ci, &row, 1);
    }
    jpeg_finish_compress(&ci);
    jpeg_destroy_compress(&ci);
    return 0;
}

/* Decodes buf into img (same shape, checked). 0 on success. */
static int decode(const unsigned char *buf, unsigned long len, ns_image *img, jerr *e)
{
    struct jpeg_decompress_struct di;
    di.err = jpeg_std_error(&e->mgr);
    e->mgr.error_exit = on_error;
    e->mgr.output_message = on_message;
    if (setjmp(e->jump)) {
        jpeg_destroy_decompress(&di);
        return -1;
    }
    jpeg_create_decompress(&di);
    jpeg_mem_src(&di, buf, len);
    jpeg_read_header(&di, TRUE);
    di.out_color_space = img->channels == 3 ? JCS_RGB : JCS_GRAYSCALE;
    di.dct_method = JDCT_ISLOW;
    jpeg_start_decompress(&di);
    if ((int)di.output_width != img->width || (int)di.output_height != img->height ||
        di.output_components != img->channels) {
        snprintf(e->message, sizeof e->message, "decoded %ux%ux%d, expected %dx%dx%d", di.output_width,
                 di.output_height, di.output_components, img->width, img->height, img->channels);
        jpeg_destroy_decompress(&di);
        return -1;
    }
    while (di.output_scanline < di.output_height) {
        JSAMPROW row = img->data + (size_t)di.output_scanline * img->width * img->channels;
        jpeg_read_scanlines(&di, &row, 1);
    }
    jpeg_finish_decompress(&di);
    jpeg_destroy_decompress(&di);
    return 0;
}

ns_status corrupt_jpeg(const corrupt_ctx *cx, ns_image *img, uint8_t *scratch, int sev, ns_rng *rng)
{
    (void)scratch, (void)rng;
    jerr e;
    memset(&e, 0, sizeof e);
    unsigned char *buf = NULL;
    unsigned long len = 0;
    int bad = encode(img, jpeg_quality[sev - 1], &e, &buf, &len);
    if (!bad)
        bad = decode(buf, len, img, &e);
    free(buf);
    if (bad) {
        cx->host->set_error("corrupt jpeg (quality %d): libjpeg: %s", jpeg_quality[sev - 1], e.message);
        return NS_ERR_INTERNAL;
    }
    return NS_OK;
}
