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

/* Histogram of channel `ch`. */
static void histogram(const ns_image *img, int ch, uint32_t h[256])
{
    memset(h, 0, 256 * sizeof h[0]);
    const uint8_t *p = img->data + ch;
    size_t n = (size_t)img->width * (size_t)img->height;
    size_t stride = (size_t)img->channels;
    for (size_t i = 0; i < n; i++, p += stride)
        h[*p]++;
}

static void apply_channel_lut(ns_image *img, int ch, const uint8_t lut[256])
{
    uint8_t *p = img->data + ch;
    size_t n = (size_t)img->width * (size_t)img->height;
    size_t stride = (size_t)img->channels;
    for (size_t i = 0; i < n; i++, p += stride)
        *p = lut[*p];
}

void pil_autocontrast(ns_image *img)
{
    uint32_t h[256];
    uint8_t lut[256];
    for (int ch = 0; ch < img->channels; ch++) {
        histogram(img, ch, h);
        int lo = 0, hi = 255;
        while (lo < 255 && !h[lo])
            lo++;
        while (hi > 0 && !h[hi])
            hi--;
        if (hi <= lo)
            continue;
        double scale = 255.0 / (hi - lo), offset = -lo * scale;
        for (int v = 0; v < 256; v++) {
            int o = (int)(v * scale + offset);
            lut[v] = (uint8_t)(o < 0 ? 0 : o > 255 ? 255 : o);
        }
        apply_channel_lut(img, ch, lut);
    }
}

void pil_equalize(ns_image *img)
{
    uint32_t h[256];
    uint8_t lut[256];
    for (int ch = 0; ch < img->channels; ch++) {
        histogram(img, ch, h);
        uint64_t total = 0, last = 0;
        for (int v = 0; v < 256; v++)
            if (h[v]) {
                total += h[v];
                last = h[v];
            }
        uint64_t step = (total - last) / 255;
        if (!step)
            continue; /* PIL: fewer than 256 pixels outside the top bin -> identity */
        uint64_t n = step / 2;
        for (int v = 0; v < 256; v++) {
            uint64_t o = n / step;
            lut[v] = (uint8_t)(o > 255 ? 255 : o);
            n += h[v];
        }
        apply_channel_lut(img, ch, lut);
    }
}
