#include "report/png_memory.h"

#include <png.h>
#include <setjmp.h>
#include <stdlib.h>

#include "report/tb_proto.h"
#include "util/error.h"

typedef struct job {
    ns_pb out; /* used as a growing byte buffer */
    char message[200];
} job;

static void on_error(png_structp png, png_const_charp msg)
{
    job *j = png_get_error_ptr(png);
    snprintf(j->message, sizeof j->message, "%s", msg);
    png_longjmp(png, 1);
}

static void on_warning(png_structp png, png_const_charp msg)
{
    (void)png, (void)msg; /* nothing a warning changes in what we write */
}

static void on_write(png_structp png, png_bytep data, size_t n)
{
    job *j = png_get_io_ptr(png);
    ns_pb_raw(&j->out, data, n);
}

static void on_flush(png_structp png)
{
    (void)png;
}

ns_status ns_png_encode(const uint8_t *pixels, int width, int height, int channels, uint8_t **png_out, size_t *len)
{
    static const int color_type[5] = {0, PNG_COLOR_TYPE_GRAY, PNG_COLOR_TYPE_GRAY_ALPHA, PNG_COLOR_TYPE_RGB,
                                      PNG_COLOR_TYPE_RGB_ALPHA};
    *png_out = NULL;
    *len = 0;
    if (!pixels || width < 1 || height < 1 || width > 16384 || height > 16384 || channels < 1 || channels > 4)
        return ns_fail(NS_ERR_INVALID_ARG, "PNG encode: %dx%d image of %d channels, expected 1..16384 a side and "
                       "1..4 channels", width, height, channels);
    /* volatile: read after the longjmp of a libpng error. */
    job *volatile j = calloc(1, sizeof *j);
    if (!j)
        return ns_fail(NS_ERR_NOMEM, "PNG encode: out of memory");
    png_structp png = png_create_write_struct(PNG_LIBPNG_VER_STRING, j, on_error, on_warning);
    png_infop info = png ? png_create_info_struct(png) : NULL;
    if (!png || !info) {
        png_destroy_write_struct(&png, NULL);
        free(j);
        return ns_fail(NS_ERR_NOMEM, "PNG encode: libpng cannot create its write structures");
    }
    if (setjmp(png_jmpbuf(png))) {
        png_destroy_write_struct(&png, &info);
        ns_status st = ns_fail(NS_ERR_IO, "PNG encode: libpng: %s", j->message);
        ns_pb_free(&j->out);
        free(j);
        return st;
    }
    png_set_write_fn(png, j, on_write, on_flush);
    png_set_IHDR(png, info, (png_uint_32)width, (png_uint_32)height, 8, color_type[channels], PNG_INTERLACE_NONE,
                 PNG_COMPRESSION_TYPE_DEFAULT, PNG_FILTER_TYPE_DEFAULT);
    png_write_info(png, info);
    for (int y = 0; y < height; y++)
        png_write_row(png, (png_const_bytep)(pixels + (size_t)y * width * channels));
    png_write_end(png, NULL);
    png_destroy_write_struct(&png, &info);
    ns_status st = ns_pb_status(&j->out, "PNG encode");
    if (st == NS_OK) {
        *png_out = j->out.data;
        *len = j->out.len;
    } else {
        ns_pb_free(&j->out);
    }
    free(j);
    return st;
}
