/* Point ops: every output byte depends on one input byte (and, for
 * autocontrast/equalize, on the channel's histogram), so each is a LUT. */
#include "pil_ops.h"

#include <string.h>

void pil_lut_apply(ns_image *img, const uint8_t lut[256])
{
    uint8_t *p = img->data;
    size_t n = (size_t)img->width * (size_t)img->height * (size_t)img->channels;
    for (size_t i = 0; i < n; i++)
        p[i] = lut[p[i]];
}

void pil_lut_invert(uint8_t lut[256])
{
    for (int v = 0; v < 256; v++)
        lut[v] = (uint8_t)(255 - v);
}

void pil_lut_posterize(uint8_t lut[256], int bits)
{
    if (bits < 0)
        bits = 0;
    if (bits > 8)
        bits = 8;
    uint8_t mask = (uint8_t)(0xFFu << (8 - bits));
    for (int v = 0; v < 256; v++)
        lut[v] = (uint8_t)(v & mask);
}

void pil_lut_solarize(uint8_t lut[256], double threshold)
{
    for (int v = 0; v < 256; v++)
        lut[v] = (uint8_t)(v < threshold ? v : 255 - v);
}

void pil_lut_solarize_add(uint8_t lut[256], int addition, int threshold)
{
    for (int v = 0; v < 256; v++) {
        int s = v + addition;
        s = s < 0 ? 0 : s > 255 ? 255 : s;
        lut[v] = (uint8_t)(v < threshold ? s : v);
    }
}

void pil_lut_blend_constant(uint8_t lut[256], int degenerate, float factor)
{
    for (int v = 0; v < 256; v++)
        lut[v] = pil_blend_px(degenerate, v, factor);
}

/* Histograms of every channel in one pass. */
static void histograms(const ns_image *img, uint32_t h[3][256])
{
    int c = img->channels;
    memset(h, 0, (size_t)c * 256 * sizeof h[0][0]);
    const uint8_t *p = img->data;
    size_t n = (size_t)img->width * (size_t)img->height;
    if (c == 1)
        for (size_t i = 0; i < n; i++)
            h[0][p[i]]++;
    else
        for (size_t i = 0; i < n; i++, p += 3) {
            h[0][p[0]]++;
            h[1][p[1]]++;
            h[2][p[2]]++;
        }
}

/* Applies one LUT per channel in one pass. */
static void apply_channel_luts(ns_image *img, const uint8_t lut[3][256])
{
    uint8_t *p = img->data;
    size_t n = (size_t)img->width * (size_t)img->height;
    if (img->channels == 1)
        for (size_t i = 0; i < n; i++)
            p[i] = lut[0][p[i]];
    else
        for (size_t i = 0; i < n; i++, p += 3) {
            p[0] = lut[0][p[0]];
            p[1] = lut[1][p[1]];
            p[2] = lut[2][p[2]];
        }
}

static void identity_lut(uint8_t lut[256])
{
    for (int v = 0; v < 256; v++)
        lut[v] = (uint8_t)v;
}

void pil_autocontrast(ns_image *img)
{
    uint32_t h[3][256];
    uint8_t lut[3][256];
    histograms(img, h);
    for (int ch = 0; ch < img->channels; ch++) {
        int lo = 0, hi = 255;
        while (lo < 255 && !h[ch][lo])
            lo++;
        while (hi > 0 && !h[ch][hi])
            hi--;
        if (hi <= lo) {
            identity_lut(lut[ch]);
            continue;
        }
        double scale = 255.0 / (hi - lo), offset = -lo * scale;
        for (int v = 0; v < 256; v++) {
            int o = (int)(v * scale + offset);
            lut[ch][v] = (uint8_t)(o < 0 ? 0 : o > 255 ? 255 : o);
        }
    }
    apply_channel_luts(img, (const uint8_t(*)[256])lut);
}

void pil_equalize(ns_image *img)
{
    uint32_t h[3][256];
    uint8_t lut[3][256];
    histograms(img, h);
    for (int ch = 0; ch < img->channels; ch++) {
        uint64_t total = 0, last = 0;
        for (int v = 0; v < 256; v++)
            if (h[ch][v]) {
                total += h[ch][v];
                last = h[ch][v];
            }
        uint64_t step = (total - last) / 255;
        if (!step) { /* PIL: fewer than 255 pixels outside the top bin -> identity */
            identity_lut(lut[ch]);
            continue;
        }
        uint64_t n = step / 2;
        for (int v = 0; v < 256; v++) {
            uint64_t o = n / step;
            lut[ch][v] = (uint8_t)(o > 255 ? 255 : o);
            n += h[ch][v];
        }
    }
    apply_channel_luts(img, (const uint8_t(*)[256])lut);
}
