#include "data/image_load.h"

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

/* A decoded picture before conversion: 1 (gray) or 3 (RGB) channels. */
typedef struct raw_image {
    uint8_t *pix;
    int h, w, c;
} raw_image;

/* --- PNG (libpng's simplified API) ------------------------------------- */

/* Every PNG kind (gray, gray+alpha, RGB, RGBA, palette, tRNS, 1..16 bits)
 * arrives as 8-bit GA or RGBA; the alpha channel is then dropped, as Pillow's
 * convert("RGB") / convert("L") do, so an image reads the same here as in a
 * torchvision pipeline. 16-bit samples without gAMA/sRGB are taken as sRGB
 * encoded (PNG_IMAGE_FLAG_16BIT_sRGB), i.e. reduced to their high byte as
 * Pillow does, not gamma-converted as if linear. */
static ns_status decode_png(const char *path, const unsigned char *data, size_t size, raw_image *out)
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
    const int color = (img.format & PNG_FORMAT_FLAG_COLOR) != 0;
    img.format = color ? PNG_FORMAT_RGBA : PNG_FORMAT_GA;
    img.flags |= PNG_IMAGE_FLAG_16BIT_sRGB;
    const int in_c = color ? 4 : 2;
    uint8_t *buf = malloc(PNG_IMAGE_SIZE(img));
    if (!buf) {
        png_image_free(&img);
        return ns_fail(NS_ERR_NOMEM, "%s: out of memory for %ux%u pixels", path, img.width, img.height);
    }
    if (!png_image_finish_read(&img, NULL, buf, 0, NULL)) {
        free(buf);
        return ns_fail(NS_ERR_FORMAT, "%s: PNG data: %s", path, img.message);
    }
    /* Drop alpha in place: the kept channels of pixel i never overtake pixel i's source. */
    const size_t n = (size_t)img.width * img.height;
    const int keep = in_c - 1;
    for (size_t i = 0; i < n; i++)
        for (int k = 0; k < keep; k++)
            buf[i * keep + k] = buf[i * in_c + k];
    out->pix = buf;
    out->h = (int)img.height;
    out->w = (int)img.width;
    out->c = keep;
    return NS_OK;
}

/* --- EXIF orientation ------------------------------------------------------ */

/* The Orientation tag (0x0112) of IFD0 in an APP1 "Exif\0\0" payload, 1..8;
 * 1 (as stored) when absent or malformed. Parsed here rather than through
 * libexif: only this one SHORT in the first IFD matters, it takes 40 lines
 * with every offset bounds-checked, and it keeps a fuzzed input inside code
 * the fuzz target covers. */
static int exif_orientation(const uint8_t *p, size_t n)
{
    if (n < 14 || memcmp(p, "Exif\0\0", 6) != 0)
        return 1;
    p += 6, n -= 6; /* TIFF header: offsets below are relative to it */
    int le;
    if (p[0] == 'I' && p[1] == 'I')
        le = 1;
    else if (p[0] == 'M' && p[1] == 'M')
        le = 0;
    else
        return 1;
#define RD16(q) (le ? (unsigned)(q)[0] | (unsigned)(q)[1] << 8 : (unsigned)(q)[0] << 8 | (unsigned)(q)[1])
#define RD32(q) (le ? (uint32_t)RD16(q) | (uint32_t)RD16((q) + 2) << 16 : (uint32_t)RD16(q) << 16 | RD16((q) + 2))
    if (RD16(p + 2) != 42)
        return 1;
    const uint32_t ifd = RD32(p + 4);
    if (ifd > n || n - ifd < 2)
        return 1;
    const unsigned count = RD16(p + ifd);
    for (unsigned i = 0; i < count; i++) {
        const size_t at = (size_t)ifd + 2 + (size_t)i * 12;
        if (at + 12 > n)
            return 1;
        if (RD16(p + at) == 0x0112) {
            /* type SHORT (3), count 1: the value sits in the first 2 bytes of the field */
            if (RD16(p + at + 2) != 3 || RD32(p + at + 4) < 1)
                return 1;
            const unsigned v = RD16(p + at + 8);
            return v >= 1 && v <= 8 ? (int)v : 1;
        }
    }
#undef RD16
#undef RD32
    return 1;
}

/* Turns the stored pixels upright as the EXIF orientation says (TIFF 6.0 /
 * EXIF 2.3 meaning of 1..8). Orientations 5..8 swap height and width. */
static ns_status apply_orientation(const char *path, raw_image *im, int orientation)
{
    if (orientation <= 1 || orientation > 8)
        return NS_OK;
    const int H = im->h, W = im->w, c = im->c, swap = orientation >= 5;
    const int oh = swap ? W : H, ow = swap ? H : W;
    uint8_t *dst = malloc((size_t)H * W * c);
    if (!dst)
        return ns_fail(NS_ERR_NOMEM, "%s: out of memory turning %dx%d pixels upright", path, W, H);
    for (int y = 0; y < oh; y++)
        for (int x = 0; x < ow; x++) {
            int sy, sx;
            switch (orientation) {
            case 2: sy = y, sx = W - 1 - x; break;                /* mirrored */
            case 3: sy = H - 1 - y, sx = W - 1 - x; break;        /* rotated 180 */
            case 4: sy = H - 1 - y, sx = x; break;                /* flipped */
            case 5: sy = x, sx = y; break;                        /* transposed */
            case 6: sy = H - 1 - x, sx = y; break;                /* needs 90 clockwise */
            case 7: sy = H - 1 - x, sx = W - 1 - y; break;        /* transversed */
            default: sy = x, sx = W - 1 - y; break;               /* 8: needs 90 counter-clockwise */
            }
            memcpy(dst + ((size_t)y * ow + x) * c, im->pix + ((size_t)sy * W + sx) * c, (size_t)c);
        }
    free(im->pix);
    im->pix = dst;
    im->h = oh;
    im->w = ow;
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

static inline uint8_t mul255(unsigned a, unsigned b)
{
    return (uint8_t)((a * b + 127) / 255);
}

/* Gray and YCbCr/RGB JPEGs decode to 1 / 3 channels; CMYK and YCCK ones
 * (libjpeg turns YCCK into CMYK) are converted to RGB here as R = (1-C)(1-K)
 * etc. An Adobe APP14 marker means the CMYK samples are stored inverted
 * (Photoshop's habit, and what libjpeg writes for CMYK), so then R = C'K'. */
static ns_status decode_jpeg(const char *path, const unsigned char *data, size_t size, raw_image *out)
{
    struct jpeg_decompress_struct cinfo;
    jpeg_err err;
    /* Written after setjmp and read after a longjmp: must be volatile. */
    uint8_t *volatile buf = NULL;
    volatile ns_status st = NS_OK;
    cinfo.err = jpeg_std_error(&err.mgr);
    err.mgr.error_exit = jpeg_on_error;
    err.mgr.output_message = jpeg_on_message;
    if (setjmp(err.jump)) {
        jpeg_destroy_decompress(&cinfo);
        free(buf);
        if (st != NS_OK)
            return st;
        return ns_fail(NS_ERR_FORMAT, "%s: JPEG: %s", path, err.message);
    }
    jpeg_create_decompress(&cinfo);
    jpeg_mem_src(&cinfo, data, (unsigned long)size);
    jpeg_save_markers(&cinfo, JPEG_APP0 + 1, 0xFFFF);
    jpeg_read_header(&cinfo, TRUE);
    st = check_dims(path, cinfo.image_width, cinfo.image_height);
    if (st != NS_OK) {
        jpeg_destroy_decompress(&cinfo);
        return st;
    }
    int orientation = 1;
    for (jpeg_saved_marker_ptr m = cinfo.marker_list; m && orientation == 1; m = m->next)
        if (m->marker == JPEG_APP0 + 1)
            orientation = exif_orientation(m->data, m->data_length);
    const int cmyk = cinfo.jpeg_color_space == JCS_CMYK || cinfo.jpeg_color_space == JCS_YCCK;
    const int gray = cinfo.jpeg_color_space == JCS_GRAYSCALE;
    cinfo.out_color_space = cmyk ? JCS_CMYK : gray ? JCS_GRAYSCALE : JCS_RGB;
    jpeg_start_decompress(&cinfo);
    const int oc = cinfo.output_components;
    const size_t stride = (size_t)cinfo.output_width * (size_t)oc;
    buf = malloc(stride * cinfo.output_height);
    if (!buf) {
        st = ns_fail(NS_ERR_NOMEM, "%s: out of memory for %ux%u pixels", path, cinfo.output_width,
                     cinfo.output_height);
        jpeg_destroy_decompress(&cinfo);
        return st;
    }
    while (cinfo.output_scanline < cinfo.output_height) {
        JSAMPROW row = buf + (size_t)cinfo.output_scanline * stride;
        jpeg_read_scanlines(&cinfo, &row, 1);
    }
    jpeg_finish_decompress(&cinfo);
    const int inverted = cinfo.saw_Adobe_marker;
    out->h = (int)cinfo.output_height;
    out->w = (int)cinfo.output_width;
    jpeg_destroy_decompress(&cinfo);
    uint8_t *pix = buf;
    out->c = oc;
    if (cmyk) { /* 4 -> 3 channels in place, front to back */
        const size_t n = (size_t)out->h * out->w;
        for (size_t i = 0; i < n; i++) {
            const uint8_t *q = pix + 4 * i;
            unsigned cc = q[0], mm = q[1], yy = q[2], kk = q[3];
            if (!inverted)
                cc = 255 - cc, mm = 255 - mm, yy = 255 - yy, kk = 255 - kk;
            pix[3 * i] = mul255(cc, kk);
            pix[3 * i + 1] = mul255(mm, kk);
            pix[3 * i + 2] = mul255(yy, kk);
        }
        out->c = 3;
    }
    out->pix = pix;
    st = apply_orientation(path, out, orientation);
    if (st != NS_OK) {
        free(out->pix);
        out->pix = NULL;
    }
    return st;
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

/* Channel conversion into a fresh h*w*c buffer: gray -> RGB repeats the
 * sample; RGB -> gray is ITU-R 601 luma (0.299 R + 0.587 G + 0.114 B, in the
 * same 16-bit fixed point Pillow's convert("L") uses, so both agree). */
static ns_status to_channels(const char *path, raw_image *im, int c)
{
    if (im->c == c)
        return NS_OK;
    const size_t n = (size_t)im->h * im->w;
    uint8_t *dst = malloc(n * (size_t)c);
    if (!dst)
        return ns_fail(NS_ERR_NOMEM, "%s: out of memory converting %dx%d pixels", path, im->w, im->h);
    for (size_t i = 0; i < n; i++) {
        const uint8_t *s = im->pix + i * im->c;
        if (c == 3)
            dst[3 * i] = dst[3 * i + 1] = dst[3 * i + 2] = s[0];
        else
            dst[i] = (uint8_t)((s[0] * 19595u + s[1] * 38470u + s[2] * 7471u + 0x8000u) >> 16);
    }
    free(im->pix);
    im->pix = dst;
    im->c = c;
    return NS_OK;
}

ns_status ns_image_load(const char *path, int c, int h, int w, uint8_t *out_hwc)
{
    if (c != 1 && c != 3)
        return ns_fail(NS_ERR_INVALID_ARG, "%s: the model takes %d channels, images convert to 1 or 3", path, c);
    if (h < 1 || w < 1)
        return ns_fail(NS_ERR_INVALID_ARG, "%s: output size %dx%d, expected at least 1x1", path, w, h);
    unsigned char *data = NULL;
    size_t size = 0;
    NS_TRY(ns_read_file(path, NS_IMAGE_MAX_FILE_BYTES, &data, &size));
    static const unsigned char png_sig[8] = {0x89, 'P', 'N', 'G', '\r', '\n', 0x1a, '\n'};
    raw_image im = {0};
    ns_status st;
    if (size == 0)
        st = ns_fail(NS_ERR_FORMAT, "%s: empty file, expected a PNG or JPEG image", path);
    else if (size >= 8 && memcmp(data, png_sig, 8) == 0)
        st = decode_png(path, data, size, &im);
    else if (size >= 3 && data[0] == 0xFF && data[1] == 0xD8 && data[2] == 0xFF)
        st = decode_jpeg(path, data, size, &im);
    else
        st = ns_fail(NS_ERR_FORMAT, "%s: starts with %02x %02x %02x, expected a PNG or JPEG signature", path,
                     data[0], size > 1 ? data[1] : 0, size > 2 ? data[2] : 0);
    free(data);
    if (st == NS_OK)
        st = to_channels(path, &im, c);
    if (st == NS_OK)
        st = ns_image_resize(im.pix, im.h, im.w, c, out_hwc, h, w);
    free(im.pix);
    return st;
}
