/* Blurs: defocus (a disk), motion (a line at a random angle) and zoom (the
 * image averaged with copies of itself enlarged about its centre). Sizes are
 * in PIXELS, chosen for 28x28 and 32x32 images (ours, scaled down from the
 * ImageNet-C idea, where a 224 px image takes radii up to 10 px): a larger
 * image gets a proportionally milder blur. Borders repeat the edge pixel. */
#include <math.h>
#include <string.h>

#include "corrupt.h"

/* Disk radius in px: 1.0 is a plus (5 px), 1.5 the 3x3 square, 3.0 29 px. */
static const double defocus_radius[CORRUPT_SEVERITIES] = {1.0, 1.5, 2.0, 2.5, 3.0};
/* Samples, 1 px apart, along the motion line (centred on the pixel). */
static const int motion_length[CORRUPT_SEVERITIES] = {3, 5, 7, 9, 12};
/* Largest zoom factor; copies every 0.02 from 1 up to it are averaged. */
static const double zoom_max[CORRUPT_SEVERITIES] = {1.06, 1.11, 1.16, 1.22, 1.30};

ns_status corrupt_defocus_blur(const corrupt_ctx *cx, ns_image *img, uint8_t *scratch, int sev, ns_rng *rng)
{
    (void)cx, (void)rng;
    const int w = img->width, h = img->height, c = img->channels;
    const double r = defocus_radius[sev - 1];
    const int reach = (int)r;
    memcpy(scratch, img->data, (size_t)w * h * c);
    for (int y = 0; y < h; y++)
        for (int x = 0; x < w; x++)
            for (int ch = 0; ch < c; ch++) {
                double sum = 0.0;
                int count = 0;
                for (int dy = -reach; dy <= reach; dy++)
                    for (int dx = -reach; dx <= reach; dx++) {
                        if (dx * dx + dy * dy > r * r)
                            continue;
                        int sx = x + dx < 0 ? 0 : x + dx >= w ? w - 1 : x + dx;
                        int sy = y + dy < 0 ? 0 : y + dy >= h ? h - 1 : y + dy;
                        sum += scratch[((size_t)sy * w + sx) * c + ch];
                        count++;
                    }
                img->data[((size_t)y * w + x) * c + ch] = corrupt_u8(sum / count);
            }
    return NS_OK;
}

ns_status corrupt_motion_blur(const corrupt_ctx *cx, ns_image *img, uint8_t *scratch, int sev, ns_rng *rng)
{
    (void)cx;
    const int w = img->width, h = img->height, c = img->channels;
    const int len = motion_length[sev - 1];
    /* Any direction: the line is centred, so angles pi apart are the same. */
    const double angle = 3.141592653589793 * ns_rng_uniform(rng);
    const double ux = cos(angle), uy = sin(angle);
    memcpy(scratch, img->data, (size_t)w * h * c);
    for (int y = 0; y < h; y++)
        for (int x = 0; x < w; x++)
            for (int ch = 0; ch < c; ch++) {
                double sum = 0.0;
                for (int k = 0; k < len; k++) {
                    double t = k - (len - 1) / 2.0;
                    sum += corrupt_bilinear(scratch, w, h, c, ch, x + t * ux, y + t * uy);
                }
                img->data[((size_t)y * w + x) * c + ch] = corrupt_u8(sum / len);
            }
    return NS_OK;
}

ns_status corrupt_zoom_blur(const corrupt_ctx *cx, ns_image *img, uint8_t *scratch, int sev, ns_rng *rng)
{
    (void)cx, (void)rng;
    const int w = img->width, h = img->height, c = img->channels;
    const int copies = 1 + (int)floor((zoom_max[sev - 1] - 1.0) / 0.02 + 1e-9);
    const double cxp = (w - 1) / 2.0, cyp = (h - 1) / 2.0;
    memcpy(scratch, img->data, (size_t)w * h * c);
    for (int y = 0; y < h; y++)
        for (int x = 0; x < w; x++)
            for (int ch = 0; ch < c; ch++) {
                double sum = 0.0;
                for (int k = 0; k < copies; k++) {
                    double z = 1.0 + 0.02 * k;
                    sum += corrupt_bilinear(scratch, w, h, c, ch, cxp + (x - cxp) / z, cyp + (y - cyp) / z);
                }
                img->data[((size_t)y * w + x) * c + ch] = corrupt_u8(sum / copies);
            }
    return NS_OK;
}
