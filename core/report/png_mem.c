#include "report/png_mem.h"

#include <png.h>
#include <setjmp.h>
#include <stdlib.h>
#include <string.h>

#include "util/error.h"

typedef struct membuf {
    uint8_t *p;
    size_t n, cap;
    int oom;
    char why[128];
} membuf;

static void on_write(png_structp png, png_bytep data, png_size_t len)
{
    membuf *m = png_get_io_ptr(png);
    if (m->oom)
        return;
    if (m->n + len > m->cap) {
        size_t cap = m->cap ? m->cap * 2 : 1024;
        while (cap < m->n + len)
            cap *= 2;
        uint8_t *p = realloc(m->p, cap);
        if (!p) {
            m->oom = 1;
            return;
        }
        m->p = p;
        m->cap = cap;
    }
    memcpy(m->p + m->n, data, len);
    m->n += len;
}

static void on_flush(png_structp png)
{
    (void)png;
}

static void on_error(png_structp png, png_const_charp msg)
{
    membuf *m = png_get_error_ptr(png);
    snprintf(m->why, sizeof m->why, "%s", msg);
    png_longjmp(png, 1);
}

static void on_warning(png_structp png, png_const_charp msg)
{
    (void)png;
    (void)msg;
}

ns_status ns_png_encode(const uint8_t *px, int w, int h, int c, uint8_t **out, size_t *n)
{
    *out = NULL;
    *n = 0;
    if (!px || w < 1 || h < 1 || w > 65535 || h > 65535 || (c != 1 && c != 3))
        return ns_fail(NS_ERR_INVALID_ARG, "png: a %dx%d image of %d channels, expected 1 or 3 channels", w, h, c);
    membuf m;
    memset(&m, 0, sizeof m);
    png_structp png = png_create_write_struct(PNG_LIBPNG_VER_STRING, &m, on_error, on_warning);
    png_infop info = png ? png_create_info_struct(png) : NULL;
    if (!png || !info) {
        png_destroy_write_struct(&png, &info);
        return ns_fail(NS_ERR_NOMEM, "png: out of memory");
    }
    if (setjmp(png_jmpbuf(png))) {
        png_destroy_write_struct(&png, &info);
        free(m.p);
        return ns_fail(NS_ERR_INTERNAL, "png: libpng: %s", m.why);
    }
    png_set_write_fn(png, &m, on_write, on_flush);
    png_set_IHDR(png, info, (png_uint_32)w, (png_uint_32)h, 8, c == 1 ? PNG_COLOR_TYPE_GRAY : PNG_COLOR_TYPE_RGB,
                 PNG_INTERLACE_NONE, PNG_COMPRESSION_TYPE_DEFAULT, PNG_FILTER_TYPE_DEFAULT);
    png_write_info(png, info);
    for (int y = 0; y < h; y++)
        png_write_row(png, (png_const_bytep)(px + (size_t)y * w * c));
    png_write_end(png, NULL);
    png_destroy_write_struct(&png, &info);
    if (m.oom) {
        free(m.p);
        return ns_fail(NS_ERR_NOMEM, "png: out of memory");
    }
    *out = m.p;
    *n = m.n;
    return NS_OK;
}
