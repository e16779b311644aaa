#include "selftrain/image_decode.h"

#include <math.h>
#include <setjmp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <jpeglib.h>
#include <png.h>

#include "io/file_util.h"
#include "util/error.h"

static ns_status check_dims(const char *path, unsigned long width, unsigned long height)
{
    if (width == 0 || height == 0 || width > NS_IMAGE_MAX_SIDE || height > NS_IMAGE_MAX_SIDE ||
        (unsigned long long)width * height > NS_IMAGE_MAX_PIXELS)
        return ns_fail(NS_ERR_FORMAT, "%s: header says %lux%lu pixels, expected sides 1..%u and at most %u pixels",
                       path, width, height, NS_IMAGE_MAX_SIDE, NS_IMAGE_MAX_PIXELS);
    return NS_OK;
}

/* --- PNG (libpng's simplified API) ------------------------------------- */

static ns_status decode_png(const char *path, const unsigned char *data, size_t size, int c, uint8_t **pix,
                            int *ph, int *pw)
{
    png_image img;
    memset(&img, 0, sizeof img);
    img.version = PNG_IMAGE_VERSION;
    if (!png_image_begin_read_from_memory(&img, data, size))
        return ns_fail(NS_ERR_FORMAT, "%s: PNG header: %s", path, img.message);
    ns_status st = check_dims(path, img.width, img.height);
    if (st != NS_OK) {
        png_image_free(&img);
        return st;
    }
    img.format = c == 1 ? PNG_FORMAT_GRAY : PNG_FORMAT_RGB;
    *pix = malloc(PNG_IMAGE_SIZE(img));
    if (!*pix) {
        png_image_free(&img);
        return ns_fail(NS_ERR_NOMEM, "%s: out of memory for %ux%u pixels", path, img.width, img.height);
    }
    if (!png_image_finish_read(&img, NULL, *pix, 0, NULL)) {
        free(*pix);
        *pix = NULL;
        return ns_fail(NS_ERR_FORMAT, "%s: PNG data: %s", path, img.message);
    }
    *ph = (int)img.height;
    *pw = (int)img.width;
    return NS_OK;
}

/* --- JPEG (libjpeg-turbo) ---------------------------------------------- */

typedef struct jpeg_err {
    struct jpeg_error_mgr mgr;
    jmp_buf jump;
    char message[JMSG_LENGTH_MAX];
} jpeg_err;

static void jpeg_on_error(j_common_ptr cinfo)
{
    jpeg_err *e = (jpeg_err *)cinfo->err;
    (*cinfo->err->format_message)(cinfo, e->message);
    longjmp(e->jump, 1);
}

/* libjpeg prints warnings to stderr by default; library code must not. */
static void jpeg_on_message(j_common_ptr cinfo)
{
    char msg[JMSG_LENGTH_MAX];
    (*cinfo->err->format_message)(cinfo, msg);
    ns_log(2, "libjpeg: %s", msg);
}

static ns_status decode_jpeg(const char *path, const unsigned char *data, size_t size, int c, uint8_t **pix,
                             int *ph, int *pw)
{
    struct jpeg_decompress_struct cinfo;
    jpeg_err err;
    /* Written after setjmp and read after a longjmp: must be volatile. */
    uint8_t *volatile out = NULL;
    volatile ns_status st = NS_OK;
    cinfo.err = jpeg_std_error(&err.mgr);
    err.mgr.error_exit = jpeg_on_error;
    err.mgr.output_message = jpeg_on_message;
    if (setjmp(err.jump)) {
        jpeg_destroy_decompress(&cinfo);
        free(out);
        if (st != NS_OK)
            return st;
        return ns_fail(NS_ERR_FORMAT, "%s: JPEG: %s", path, err.message);
    }
    jpeg_create_decompress(&cinfo);
    jpeg_mem_src(&cinfo, data, (unsigned long)size);
    jpeg_read_header(&cinfo, TRUE);
    st = check_dims(path, cinfo.image_width, cinfo.image_height);
    if (st != NS_OK) {
        jpeg_destroy_decompress(&cinfo);
        return st;
    }
    cinfo.out_color_space = c == 1 ? JCS_GRAYSCALE : JCS_RGB;
    jpeg_start_decompress(&cinfo);
    const size_t stride = (size_t)cinfo.output_width * (size_t)cinfo.output_components;
    out = malloc(stride * cinfo.output_height);
    if (!out) {
        jpeg_destroy_decompress(&cinfo);
        return ns_fail(NS_ERR_NOMEM, "%s: out of memory for %ux%u pixels", path, cinfo.output_width,
                       cinfo.output_height);
    }
    while (cinfo.output_scanline < cinfo.output_height) {
        JSAMPROW row = out + (size_t)cinfo.output_scanline * stride;
        jpeg_read_scanlines(&cinfo, &row, 1);
    }
    jpeg_finish_decompress(&cinfo);
    *ph = (int)cinfo.output_height;
    *pw = (int)cinfo.output_width;
    jpeg_destroy_decompress(&cinfo);
    *pix = out;
    return NS_OK;
}

/* --- resize ---------------------------------------------------------------- */

/* Taps of every output position along one axis: out[i] = sum_k w[i][k] in[first[i]+k]. */
typedef struct taps {
    int *first, *count;
    float *weight; /* out * max_taps */
    int max_taps;
} taps;

static void taps_free(taps *t)
{
    free(t->first);
    free(t->count);
    free(t->weight);
}

static int taps_build(taps *t, int in, int out)
{
    const double scale = (double)in / out, fs = scale > 1 ? scale : 1.0, support = fs;
    t->max_taps = (int)ceil(support) * 2 + 1;
    t->first = malloc((size_t)out * sizeof *t->first);
    t->count = malloc((size_t)out * sizeof *t->count);
    t->weight = calloc((size_t)out * t->max_taps, sizeof *t->weight);
    if (!t->first || !t->count || !t->weight)
        return -1;
    for (int i = 0; i < out; i++) {
        const double center = (i + 0.5) * scale;
        int lo = (int)floor(center - support + 0.5), hi = (int)floor(center + support + 0.5);
        lo = lo < 0 ? 0 : lo;
        hi = hi > in ? in : hi;
        if (hi - lo > t->max_taps)
            hi = lo + t->max_taps;
        float *w = t->weight + (size_t)i * t->max_taps;
        double sum = 0;
        for (int j = lo; j < hi; j++) {
            double x = fabs((j + 0.5 - center) / fs);
            w[j - lo] = (float)(x < 1 ? 1 - x : 0);
            sum += w[j - lo];
        }
        if (sum <= 0) { /* cannot happen for in >= 1, but never divide by zero */
            lo = (int)(center < in ? center : in - 1);
            hi = lo + 1;
            w[0] = 1;
            sum = 1;
        }
        for (int j = 0; j < hi - lo; j++)
            w[j] = (float)(w[j] / sum);
        t->first[i] = lo;
        t->count[i] = hi - lo;
    }
    return 0;
}

ns_status ns_image_resize(const uint8_t *src, int sh, int sw, int c, uint8_t *dst, int dh, int dw)
{
    if (sh == dh && sw == dw) {
        memcpy(dst, src, (size_t)sh * sw * c);
        return NS_OK;
    }
    taps tx = {0}, ty = {0};
    float *mid = malloc((size_t)sh * dw * c * sizeof *mid);
    ns_status st = NS_OK;
    if (!mid || taps_build(&tx, sw, dw) || taps_build(&ty, sh, dh))
        st = ns_fail(NS_ERR_NOMEM, "resize %dx%d -> %dx%d: out of memory", sw, sh, dw, dh);
    for (int y = 0; st == NS_OK && y < sh; y++)
        for (int x = 0; x < dw; x++) {
            const float *w = tx.weight + (size_t)x * tx.max_taps;
            for (int ch = 0; ch < c; ch++) {
                float acc = 0;
                for (int k = 0; k < tx.count[x]; k++)
                    acc += w[k] * src[((size_t)y * sw + tx.first[x] + k) * c + ch];
                mid[((size_t)y * dw + x) * c + ch] = acc;
            }
        }
    for (int y = 0; st == NS_OK && y < dh; y++) {
        const float *w = ty.weight + (size_t)y * ty.max_taps;
        for (int x = 0; x < dw; x++)
            for (int ch = 0; ch < c; ch++) {
                float acc = 0;
                for (int k = 0; k < ty.count[y]; k++)
                    acc += w[k] * mid[((size_t)(ty.first[y] + k) * dw + x) * c + ch];
                long v = lroundf(acc);
                dst[((size_t)y * dw + x) * c + ch] = (uint8_t)(v < 0 ? 0 : v > 255 ? 255 : v);
            }
    }
    taps_free(&tx);
    taps_free(&ty);
    free(mid);
    return st;
}

ns_status ns_image_decode_file(const char *path, int c, int h, int w, uint8_t *out_hwc)
{
    if (c != 1 && c != 3)
        return ns_fail(NS_ERR_INVALID_ARG, "%s: the model takes %d channels, images convert to 1 or 3", path, c);
    unsigned char *data = NULL;
    size_t size = 0;
    NS_TRY(ns_read_file(path, NS_IMAGE_MAX_FILE_BYTES, &data, &size));
    static const unsigned char png_sig[8] = {0x89, 'P', 'N', 'G', '\r', '\n', 0x1a, '\n'};
    uint8_t *pix = NULL;
    int ph = 0, pw = 0;
    ns_status st;
    if (size == 0)
        st = ns_fail(NS_ERR_FORMAT, "%s: empty file, expected a PNG or JPEG image", path);
    else if (size >= 8 && memcmp(data, png_sig, 8) == 0)
        st = decode_png(path, data, size, c, &pix, &ph, &pw);
    else if (size >= 3 && data[0] == 0xFF && data[1] == 0xD8 && data[2] == 0xFF)
        st = decode_jpeg(path, data, size, c, &pix, &ph, &pw);
    else
        st = ns_fail(NS_ERR_FORMAT, "%s: starts with %02x %02x %02x, expected a PNG or JPEG signature", path,
                     data[0], size > 1 ? data[1] : 0, size > 2 ? data[2] : 0);
    free(data);
    if (st == NS_OK)
        st = ns_image_resize(pix, ph, pw, c, out_hwc, h, w);
    free(pix);
    return st;
}
