#include "data/normalize.h"

#include <math.h>
#include <stdlib.h>

#include "util/error.h"

ns_status ns_normalize_stats(const ns_dataset *d, const ns_index_list *subset, float *mean, float *std)
{
    size_t count = subset ? subset->n : d->n;
    if (count == 0)
        return ns_fail(NS_ERR_INVALID_ARG, "normalize: empty subset of %s", d->source);
    int c = d->c;
    size_t pixels = (size_t)d->h * (size_t)d->w;
    /* Integer sums are exact; 2^64 / 255^2 leaves room for 2.8e14 pixels. */
    uint64_t *sum = calloc((size_t)c * 2, sizeof *sum);
    if (!sum)
        return ns_fail(NS_ERR_NOMEM, "normalize: out of memory");
    uint64_t *sum_sq = sum + c;
    for (size_t k = 0; k < count; k++) {
        size_t i = subset ? subset->idx[k] : k;
        if (i >= d->n) {
            free(sum);
            return ns_fail(NS_ERR_INVALID_ARG, "normalize: subset entry %zu is index %zu, dataset %s has %zu images",
                           k, i, d->source, d->n);
        }
        const uint8_t *img = ns_dataset_image(d, i);
        for (size_t p = 0; p < pixels; p++)
            for (int ch = 0; ch < c; ch++) {
                uint64_t v = img[p * (size_t)c + (size_t)ch];
                sum[ch] += v;
                sum_sq[ch] += v * v;
            }
    }
    ns_status st = NS_OK;
    double total = (double)count * (double)pixels;
    for (int ch = 0; ch < c; ch++) {
        double m = (double)sum[ch] / total;
        double var = (double)sum_sq[ch] / total - m * m;
        double s = var > 0 ? sqrt(var) : 0.0;
        mean[ch] = (float)(m / 255.0);
        std[ch] = (float)(s / 255.0);
        if (std[ch] <= 0.0f && st == NS_OK)
            st = ns_fail(NS_ERR_INVALID_ARG, "normalize: channel %d of %s is constant over the subset (std 0)", ch,
                         d->source);
    }
    free(sum);
    return st;
}

void ns_image_to_chw(const uint8_t *hwc, int h, int w, int c, const float *mean, const float *std,
                     float *out_chw)
{
    size_t plane = (size_t)h * (size_t)w;
    for (int ch = 0; ch < c; ch++) {
        float m = mean ? mean[ch] : 0.0f;
        float s = std ? std[ch] : 1.0f;
        /* One multiply-add per pixel: p * (1/(255 s)) - m/s. */
        float scale = 1.0f / (255.0f * s);
        float shift = -m / s;
        float *dst = out_chw + (size_t)ch * plane;
        const uint8_t *src = hwc + ch;
        for (size_t p = 0; p < plane; p++)
            dst[p] = (float)src[p * (size_t)c] * scale + shift;
    }
}
