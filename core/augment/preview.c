#include "augment/preview.h"

#include <png.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "io/atomic_file.h"
#include "util/error.h"

#define GAP 2
#define GAP_VALUE 255
#define PREVIEW_STREAM 0x5052u /* "PR": keeps preview draws apart from training's */

typedef struct sheet {
    uint8_t *px;  /* sheet_h rows of sheet_w pixels of `channels` bytes */
    int channels; /* 1 (gray PNG) or 3 (RGB PNG), as the images */
    int sheet_w, sheet_h;
    int cell_w, cell_h;
    char *legend;
} sheet;

int ns_augment_preview_rows(const ns_augment_policy *p, const ns_augment_preview_config *cfg)
{
    return 1 + (int)ns_augment_policy_op_count(p) * cfg->n_magnitudes + cfg->policy_rows;
}

static ns_status check_config(const ns_augment_policy *p, const ns_augment_preview_config *c)
{
    if (!ns_augment_policy_opset(p))
        return ns_fail(NS_ERR_USAGE, "augment preview: --augment none has no ops to show");
    if (!c->images || c->count < 1 || c->count > 1024)
        return ns_fail(NS_ERR_INVALID_ARG, "augment preview: count=%d, expected 1..1024 images", c->count);
    if (c->width < 1 || c->height < 1 || c->width > 4096 || c->height > 4096 ||
        (c->channels != 1 && c->channels != 3))
        return ns_fail(NS_ERR_INVALID_ARG, "augment preview: images are %dx%dx%d, expected 1..4096 pixels a "
                       "side and 1 or 3 channels", c->width, c->height, c->channels);
    if (c->n_magnitudes < 0 || (c->n_magnitudes > 0 && !c->magnitudes) || c->n_magnitudes > 64)
        return ns_fail(NS_ERR_INVALID_ARG, "augment preview: %d magnitudes, expected 0..64", c->n_magnitudes);
    if (c->policy_rows < 0 || c->policy_rows > 64)
        return ns_fail(NS_ERR_INVALID_ARG, "augment preview: policy_rows=%d, expected 0..64", c->policy_rows);
    if (c->scale < 1 || c->scale > 16)
        return ns_fail(NS_ERR_INVALID_ARG, "augment preview: scale=%d, expected 1..16", c->scale);
    int rows = ns_augment_preview_rows(p, c);
    if ((double)rows * (c->height * c->scale + GAP) * c->count * (c->width * c->scale + GAP) > 2e8)
        return ns_fail(NS_ERR_INVALID_ARG, "augment preview: a %d x %d sheet of %dx%d images is too large; "
                       "lower --count or the magnitudes", rows, c->count, c->width, c->height);
    return NS_OK;
}

/* Copies one image into cell (row, col), scaled by nearest replication. */
static void put_cell(sheet *s, const ns_augment_preview_config *c, int row, int col, const uint8_t *img)
{
    int x0 = GAP + col * (s->cell_w + GAP), y0 = GAP + row * (s->cell_h + GAP), ch = s->channels;
    for (int y = 0; y < s->cell_h; y++) {
        const uint8_t *src_row = img + (size_t)(y / c->scale) * c->width * ch;
        uint8_t *dst = s->px + ((size_t)(y0 + y) * s->sheet_w + x0) * ch;
        for (int x = 0; x < s->cell_w; x++, dst += ch)
            memcpy(dst, src_row + (size_t)(x / c->scale) * ch, (size_t)ch);
    }
}

static ns_status legend_line(sheet *s, size_t *used, size_t cap, const char *fmt, ...)
    __attribute__((format(printf, 4, 5)));

static ns_status legend_line(sheet *s, size_t *used, size_t cap, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    int n = vsnprintf(s->legend + *used, cap - *used, fmt, ap);
    va_end(ap);
    if (n < 0 || (size_t)n >= cap - *used)
        return ns_fail(NS_ERR_INTERNAL, "augment preview: legend longer than its buffer");
    *used += (size_t)n;
    return NS_OK;
}

/* Runs op `op` (or the whole policy when op < 0) on every original and puts
 * the results in `row`. */
static ns_status render_row(const ns_augment_policy *p, const ns_augment_preview_config *c, sheet *s, int row,
                            long op, float magnitude, uint8_t *work, uint8_t *scratch)
{
    size_t img_bytes = (size_t)c->width * c->height * c->channels;
    for (int col = 0; col < c->count; col++) {
        memcpy(work, c->images + (size_t)col * img_bytes, img_bytes);
        ns_image img = {work, c->width, c->height, c->channels};
        ns_rng rng = ns_rng_make(c->seed, ns_rng_stream_id(PREVIEW_STREAM, (uint64_t)row, (uint64_t)col));
        NS_TRY(op < 0 ? ns_augment_policy_apply((void *)p, &img, scratch, &rng)
                      : ns_augment_opset_apply(ns_augment_policy_opset(p), (size_t)op, &img, scratch, magnitude,
                                               &rng));
        put_cell(s, c, row, col, work);
    }
    return NS_OK;
}

static ns_status render(const ns_augment_policy *p, const ns_augment_preview_config *c, sheet *s)
{
    size_t img_bytes = (size_t)c->width * c->height * c->channels;
    size_t cap = 256 + (size_t)ns_augment_preview_rows(p, c) * (128 + strlen(ns_augment_policy_describe(p)));
    uint8_t *work = malloc(img_bytes), *scratch = malloc(img_bytes);
    s->legend = malloc(cap);
    ns_status st = work && scratch && s->legend ? NS_OK : ns_fail(NS_ERR_NOMEM, "augment preview: out of memory");
    size_t used = 0;
    int row = 0;
    if (st == NS_OK) {
        for (int col = 0; col < c->count; col++)
            put_cell(s, c, row, col, c->images + (size_t)col * img_bytes);
        st = legend_line(s, &used, cap, "row 0: originals\n");
    }
    const ns_augment_opset *set = ns_augment_policy_opset(p);
    for (size_t k = 0; st == NS_OK && k < ns_augment_policy_op_count(p); k++) {
        size_t op = ns_augment_policy_op_index(p, k);
        for (int mi = 0; st == NS_OK && mi < c->n_magnitudes; mi++) {
            row++;
            st = legend_line(s, &used, cap, "row %d: %s at magnitude %g\n", row, ns_augment_opset_op(set, op)->name,
                             (double)c->magnitudes[mi]);
            if (st == NS_OK)
                st = render_row(p, c, s, row, (long)op, c->magnitudes[mi], work, scratch);
        }
    }
    for (int r = 0; st == NS_OK && r < c->policy_rows; r++) {
        row++;
        st = legend_line(s, &used, cap, "row %d: the policy %s\n", row, ns_augment_policy_describe(p));
        if (st == NS_OK)
            st = render_row(p, c, s, row, -1, 0.0f, work, scratch);
    }
    free(work);
    free(scratch);
    return st;
}

typedef struct png_job {
    const sheet *s;
    char message[256];
} png_job;

static void png_error_fn(png_structp png, png_const_charp msg)
{
    png_job *job = png_get_error_ptr(png);
    snprintf(job->message, sizeof job->message, "%s", msg);
    png_longjmp(png, 1);
}

static void png_warning_fn(png_structp png, png_const_charp msg)
{
    (void)png, (void)msg; /* warnings do not affect the file we write */
}

static ns_status write_png(FILE *f, void *user)
{
    png_job *job = user;
    const sheet *s = job->s;
    png_structp png = png_create_write_struct(PNG_LIBPNG_VER_STRING, job, png_error_fn, png_warning_fn);
    png_infop info = png ? png_create_info_struct(png) : NULL;
    if (!png || !info) {
        png_destroy_write_struct(&png, NULL);
        return ns_fail(NS_ERR_NOMEM, "libpng: cannot create the write structures");
    }
    if (setjmp(png_jmpbuf(png))) {
        png_destroy_write_struct(&png, &info);
        return ns_fail(NS_ERR_IO, "libpng: %s", job->message);
    }
    png_init_io(png, f);
    png_set_IHDR(png, info, (png_uint_32)s->sheet_w, (png_uint_32)s->sheet_h, 8,
                 s->channels == 3 ? PNG_COLOR_TYPE_RGB : PNG_COLOR_TYPE_GRAY,
                 PNG_INTERLACE_NONE, PNG_COMPRESSION_TYPE_DEFAULT, PNG_FILTER_TYPE_DEFAULT);
    png_text text[2];
    memset(text, 0, sizeof text);
    text[0].compression = PNG_TEXT_COMPRESSION_NONE;
    text[0].key = (png_charp) "Software";
    text[0].text = (png_charp) "noisystudent augment preview";
    text[1].compression = PNG_TEXT_COMPRESSION_zTXt;
    text[1].key = (png_charp) "Description";
    text[1].text = s->legend;
    png_set_text(png, info, text, 2);
    png_write_info(png, info);
    for (int y = 0; y < s->sheet_h; y++)
        png_write_row(png, s->px + (size_t)y * s->sheet_w * s->channels);
    png_write_end(png, NULL);
    png_destroy_write_struct(&png, &info);
    return NS_OK;
}

ns_status ns_augment_preview_write(const ns_augment_policy *p, const ns_augment_preview_config *cfg,
                                   const char *path)
{
    NS_TRY(check_config(p, cfg));
    sheet s = {0};
    s.cell_w = cfg->width * cfg->scale;
    s.cell_h = cfg->height * cfg->scale;
    s.sheet_w = GAP + cfg->count * (s.cell_w + GAP);
    s.sheet_h = GAP + ns_augment_preview_rows(p, cfg) * (s.cell_h + GAP);
    s.channels = cfg->channels;
    s.px = malloc((size_t)s.sheet_w * s.sheet_h * s.channels);
    if (!s.px)
        return ns_fail(NS_ERR_NOMEM, "augment preview: out of memory for a %dx%d sheet", s.sheet_w, s.sheet_h);
    memset(s.px, GAP_VALUE, (size_t)s.sheet_w * s.sheet_h * s.channels);
    ns_status st = render(p, cfg, &s);
    if (st == NS_OK) {
        png_job job = {.s = &s};
        st = ns_atomic_write(path, write_png, &job);
    }
    free(s.px);
    free(s.legend);
    return st;
}
