#include "report/tb_run.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "augment/preview.h"
#include "io/file_util.h"
#include "io/run_dir.h"
#include "report/tb_writer.h"
#include "util/error.h"

#define GRID_BORDER 2 /* pixels around each grid cell: white, or red for a wrong label */
#define PREVIEW_IMAGES 8
#define PREVIEW_POLICY_ROWS 3

struct ns_tb_run {
    ns_tb_writer *w;
    int every;          /* step scalars every this many steps */
    double loss_sum;    /* since the last step point */
    int loss_steps;
    char dir[1100];
};

ns_status ns_tb_run_open(const char *run_dir, const json_t *config, int64_t step, int steps_per_epoch,
                         ns_tb_run **out)
{
    *out = NULL;
    ns_tb_run *t = calloc(1, sizeof *t);
    if (!t)
        return ns_fail(NS_ERR_NOMEM, "TensorBoard: out of memory");
    snprintf(t->dir, sizeof t->dir, "%s/%s", run_dir, NS_TB_DIR);
    /* About ten points an epoch: enough for a curve, a few KB a run. */
    t->every = steps_per_epoch > 10 ? (steps_per_epoch + 9) / 10 : 1;
    ns_status st = ns_tb_writer_open(t->dir, &t->w);
    /* A kill while tb/augment_preview.png was written leaves its temp. */
    if (st == NS_OK)
        st = ns_run_dir_remove_stale_temps(t->dir, NULL);
    if (st == NS_OK && step > 0)
        st = ns_tb_session_start(t->w, step);
    if (st == NS_OK && config) {
        /* Indented four spaces: a Markdown code block, shown verbatim. */
        char *text = json_dumps(config, JSON_INDENT(2) | JSON_SORT_KEYS);
        size_t n = text ? strlen(text) : 0, lines = 1;
        for (size_t i = 0; i < n; i++)
            lines += text[i] == '\n';
        char *md = text ? malloc(n + 4 * lines + 1) : NULL;
        if (!md) {
            st = ns_fail(NS_ERR_NOMEM, "TensorBoard: out of memory for the configuration text");
        } else {
            char *o = md;
            for (const char *line = text; line;) {
                const char *nl = strchr(line, '\n');
                size_t len = nl ? (size_t)(nl - line + 1) : strlen(line);
                memcpy(o, "    ", 4);
                memcpy(o + 4, line, len);
                o += 4 + len;
                line = nl ? nl + 1 : NULL;
            }
            *o = '\0';
            st = ns_tb_text(t->w, step, "config", md);
        }
        free(md);
        free(text);
    }
    if (st == NS_OK)
        st = ns_tb_flush(t->w);
    if (st != NS_OK) {
        ns_tb_writer_close(t->w);
        free(t);
        return st;
    }
    *out = t;
    return NS_OK;
}

ns_status ns_tb_run_close(ns_tb_run *t)
{
    if (!t)
        return NS_OK;
    ns_status st = ns_tb_writer_close(t->w);
    free(t);
    return st;
}

ns_status ns_tb_run_step(ns_tb_run *t, int64_t step, double loss, double lr)
{
    if (!t) /* no log on this process (not rank 0) */
        return NS_OK;
    t->loss_sum += loss;
    t->loss_steps++;
    if (step % t->every != 0)
        return NS_OK;
    NS_TRY(ns_tb_scalar(t->w, step, "step/loss", t->loss_sum / t->loss_steps));
    t->loss_sum = 0;
    t->loss_steps = 0;
    return ns_tb_scalar(t->w, step, "step/lr", lr);
}

ns_status ns_tb_run_epoch(ns_tb_run *t, int64_t step, const json_t *record, double pseudo_label_acc)
{
    const char *key;
    json_t *v;
    json_object_foreach((json_t *)record, key, v)
    {
        if (!json_is_number(v) || strcmp(key, "epoch") == 0 || strcmp(key, "step") == 0)
            continue; /* the x axis, not a curve */
        char tag[128];
        snprintf(tag, sizeof tag, "epoch/%s", key);
        NS_TRY(ns_tb_scalar(t->w, step, tag, json_number_value(v)));
    }
    if (isfinite(pseudo_label_acc))
        NS_TRY(ns_tb_scalar(t->w, step, "epoch/pseudo_label_acc", pseudo_label_acc));
    return ns_tb_flush(t->w);
}

/* Width and height from a PNG's IHDR (bytes 16..23, big-endian), and its
 * channels from the colour type. */
static int png_header(const uint8_t *p, size_t n, int *w, int *h, int *channels)
{
    static const uint8_t sig[8] = {0x89, 'P', 'N', 'G', '\r', '\n', 0x1a, '\n'};
    if (n < 33 || memcmp(p, sig, 8) != 0 || memcmp(p + 12, "IHDR", 4) != 0)
        return 0;
    *w = (int)((uint32_t)p[16] << 24 | (uint32_t)p[17] << 16 | (uint32_t)p[18] << 8 | p[19]);
    *h = (int)((uint32_t)p[20] << 24 | (uint32_t)p[21] << 16 | (uint32_t)p[22] << 8 | p[23]);
    switch (p[25]) {
    case 0: *channels = 1; return 1;
    case 4: *channels = 2; return 1;
    case 2: *channels = 3; return 1;
    case 6: *channels = 4; return 1;
    default: return 0;
    }
}

ns_status ns_tb_run_augment_preview(ns_tb_run *t, int64_t step, const ns_augment_policy *policy,
                                    const ns_dataset *d, const uint32_t *ids, size_t count, uint64_t seed)
{
    if (!policy || !ns_augment_policy_opset(policy) || count == 0 || (d->c != 1 && d->c != 3))
        return NS_OK; /* no noise to show, or a layout the preview does not draw */
    int n = count < PREVIEW_IMAGES ? (int)count : PREVIEW_IMAGES;
    size_t bytes = ns_dataset_image_bytes(d);
    uint8_t *images = malloc((size_t)n * bytes);
    if (!images)
        return ns_fail(NS_ERR_NOMEM, "TensorBoard: out of memory for the augmentation preview");
    for (int i = 0; i < n; i++)
        memcpy(images + (size_t)i * bytes, ns_dataset_image(d, ids[i]), bytes);
    ns_augment_preview_config pc = {images, n, d->w, d->h, d->c, NULL, 0, PREVIEW_POLICY_ROWS,
                                    d->w <= 64 ? 2 : 1, seed};
    char path[1200];
    snprintf(path, sizeof path, "%s/augment_preview.png", t->dir);
    ns_status st = ns_augment_preview_write(policy, &pc, path);
    free(images);
    NS_TRY(st);
    uint8_t *png;
    size_t len;
    NS_TRY(ns_read_file(path, (size_t)64 << 20, &png, &len));
    int w, h, ch;
    if (png_header(png, len, &w, &h, &ch))
        st = ns_tb_image_png(t->w, step, "augment/preview", png, len, w, h, ch);
    else
        st = ns_fail(NS_ERR_FORMAT, "%s: not a PNG with an IHDR first", path);
    free(png);
    return st;
}

void ns_tb_grid_geometry(int w, int h, int classes, int *scale, int *grid_w, int *grid_h)
{
    int s = w < 56 ? 56 / w : 1; /* small images (28 px) are unreadable at 1:1 */
    if (s > 4)
        s = 4;
    *scale = s;
    *grid_w = NS_TB_GRID_COLUMNS * (w * s + 2 * GRID_BORDER);
    *grid_h = classes * (h * s + 2 * GRID_BORDER);
}

/* Draws image `img` (w x h x c, HWC) into cell (row, col) of the RGB grid. */
static void put_cell(uint8_t *grid, int grid_w, int row, int col, const uint8_t *img, int w, int h, int c, int scale,
                     int wrong)
{
    const int cw = w * scale + 2 * GRID_BORDER, chh = h * scale + 2 * GRID_BORDER;
    for (int y = 0; y < chh; y++)
        for (int x = 0; x < cw; x++) {
            uint8_t *px = grid + (((size_t)row * chh + y) * grid_w + (size_t)col * cw + x) * 3;
            int ix = x - GRID_BORDER, iy = y - GRID_BORDER;
            if (ix < 0 || iy < 0 || ix >= w * scale || iy >= h * scale) {
                px[0] = 255, px[1] = wrong ? 0 : 255, px[2] = wrong ? 0 : 255;
                continue;
            }
            const uint8_t *s = img + ((size_t)(iy / scale) * w + (size_t)(ix / scale)) * c;
            px[0] = s[0];
            px[1] = c >= 3 ? s[1] : s[0];
            px[2] = c >= 3 ? s[2] : s[0];
        }
}

ns_status ns_tb_run_pseudo_grid(ns_tb_run *t, int64_t step, const ns_pseudo_set *p)
{
    if (!p || p->count == 0 || p->classes < 1 || p->classes > 1000)
        return NS_OK;
    const int K = p->classes, C = NS_TB_GRID_COLUMNS;
    /* best[k*C + j]: entry index of class k's j-th most confident image, or -1. */
    long *best = malloc((size_t)K * C * sizeof *best);
    float *conf = malloc((size_t)K * C * sizeof *conf);
    if (!best || !conf) {
        free(best);
        free(conf);
        return ns_fail(NS_ERR_NOMEM, "TensorBoard: out of memory for the pseudo-label grid");
    }
    for (int i = 0; i < K * C; i++)
        best[i] = -1, conf[i] = -1;
    for (size_t e = 0; e < p->count; e++) {
        const float *row = p->targets + e * (size_t)K;
        int k = 0;
        for (int j = 1; j < K; j++)
            if (row[j] > row[k])
                k = j;
        long *b = best + (size_t)k * C;
        float *cf = conf + (size_t)k * C;
        int dup = 0; /* balancing repeats images: show each once */
        for (int j = 0; j < C && b[j] >= 0; j++)
            dup |= p->ids[b[j]] == p->ids[e];
        if (dup || row[k] <= cf[C - 1])
            continue;
        int j = C - 1;
        for (; j > 0 && cf[j - 1] < row[k]; j--)
            b[j] = b[j - 1], cf[j] = cf[j - 1];
        b[j] = (long)e, cf[j] = row[k];
    }
    const ns_dataset *d = p->data;
    int scale, gw, gh;
    ns_tb_grid_geometry(d->w, d->h, K, &scale, &gw, &gh);
    uint8_t *grid = malloc((size_t)gw * gh * 3);
    ns_status st = NS_OK;
    if (!grid) {
        st = ns_fail(NS_ERR_NOMEM, "TensorBoard: out of memory for a %dx%d pseudo-label grid", gw, gh);
    } else {
        memset(grid, 255, (size_t)gw * gh * 3);
        for (int k = 0; k < K; k++)
            for (int j = 0; j < C; j++) {
                long e = best[(size_t)k * C + j];
                if (e < 0)
                    continue;
                uint32_t id = p->ids[e];
                int truth = p->truth ? p->truth[e] : -1;
                put_cell(grid, gw, k, j, ns_dataset_image(d, id), d->w, d->h, d->c, scale, truth >= 0 && truth != k);
            }
        st = ns_tb_image(t->w, step, "pseudo_labels/most_confident", grid, gw, gh, 3);
    }
    free(grid);
    free(best);
    free(conf);
    return st;
}

double ns_tb_pseudo_accuracy(const json_t *summary)
{
    json_t *acc = json_object_get(json_object_get(summary, "total"), "accuracy");
    return json_is_number(acc) ? json_number_value(acc) : NAN;
}
