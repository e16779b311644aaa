#include "data/light_augment.h"

#include <string.h>

void ns_pad_crop(ns_image *img, uint8_t *scratch, int pad, uint8_t fill, int dy, int dx)
{
    int h = img->height, w = img->width, c = img->channels;
    size_t row = (size_t)w * (size_t)c;
    int sy = dy - pad, sx = dx - pad; /* source offset of output (0,0) */
    memset(scratch, fill, row * (size_t)h);
    /* Overlap of [0,w) with [sx, sx+w) in source coordinates, copied row by row. */
    int x0 = sx < 0 ? -sx : 0;
    int x1 = sx > 0 ? w - sx : w;
    for (int y = 0; y < h; y++) {
        int src_y = y + sy;
        if (src_y < 0 || src_y >= h || x1 <= x0)
            continue;
        memcpy(scratch + (size_t)y * row + (size_t)x0 * (size_t)c,
               img->data + (size_t)src_y * row + (size_t)(x0 + sx) * (size_t)c, (size_t)(x1 - x0) * (size_t)c);
    }
    memcpy(img->data, scratch, row * (size_t)h);
}

void ns_flip_horizontal(ns_image *img)
{
    int h = img->height, w = img->width, c = img->channels;
    for (int y = 0; y < h; y++) {
        uint8_t *r = img->data + (size_t)y * (size_t)w * (size_t)c;
        for (int a = 0, b = w - 1; a < b; a++, b--)
            for (int ch = 0; ch < c; ch++) {
                uint8_t t = r[a * c + ch];
                r[a * c + ch] = r[b * c + ch];
                r[b * c + ch] = t;
            }
    }
}

void ns_light_augment(ns_image *img, uint8_t *scratch, int pad_crop, int flip, ns_rng *rng)
{
    if (pad_crop) {
        int dy = (int)ns_rng_below(rng, 2 * NS_PAD_CROP_PAD + 1);
        int dx = (int)ns_rng_below(rng, 2 * NS_PAD_CROP_PAD + 1);
        ns_pad_crop(img, scratch, NS_PAD_CROP_PAD, 0, dy, dx);
    }
    if (flip && ns_rng_uniform(rng) < 0.5f)
        ns_flip_horizontal(img);
}
