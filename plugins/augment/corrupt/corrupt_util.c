/* Helpers shared by the corrupt ops (corrupt.h). */
#include <math.h>
#include <stdlib.h>

#include "corrupt.h"

double corrupt_normal(ns_rng *rng)
{
    /* 1 - u is in (0, 1], so the log is finite. */
    double u1 = 1.0 - (double)ns_rng_uniform(rng);
    double u2 = (double)ns_rng_uniform(rng);
    return sqrt(-2.0 * log(u1)) * cos(6.283185307179586 * u2);
}

static inline int clampi(int v, int lo, int hi) { return v < lo ? lo : v > hi ? hi : v; }

double corrupt_bilinear(const uint8_t *src, int w, int h, int c, int ch, double x, double y)
{
    /* Clamp first so that floor() of a huge offset cannot overflow int. */
    x = x < 0.0 ? 0.0 : x > w - 1 ? w - 1 : x;
    y = y < 0.0 ? 0.0 : y > h - 1 ? h - 1 : y;
    int x0 = (int)floor(x), y0 = (int)floor(y);
    double fx = x - x0, fy = y - y0;
    int x1 = clampi(x0 + 1, 0, w - 1), y1 = clampi(y0 + 1, 0, h - 1);
    double a = src[((size_t)y0 * w + x0) * c + ch], b = src[((size_t)y0 * w + x1) * c + ch];
    double d = src[((size_t)y1 * w + x0) * c + ch], e = src[((size_t)y1 * w + x1) * c + ch];
    return (a * (1 - fx) + b * fx) * (1 - fy) + (d * (1 - fx) + e * fx) * fy;
}

float *corrupt_floats(const corrupt_ctx *cx, const char *op, size_t n)
{
    float *p = malloc(n * sizeof *p);
    if (!p)
        cx->host->set_error("corrupt %s: out of memory for %zu floats", op, n);
    return p;
}

void corrupt_smooth_field(float *field, int w, int h, ns_rng *rng)
{
    static const int cells[3] = {2, 4, 8};
    static const float weight[3] = {1.0f, 0.5f, 0.25f};
    for (size_t i = 0; i < (size_t)w * h; i++)
        field[i] = 0.0f;
    for (int o = 0; o < 3; o++) {
        int g = cells[o];
        float grid[9 * 9];
        for (int i = 0; i < (g + 1) * (g + 1); i++)
            grid[i] = ns_rng_uniform(rng);
        for (int y = 0; y < h; y++) {
            /* Pixel centres spread over the grid's g cells. */
            double gy = h > 1 ? (double)y * g / (h - 1) : 0.0;
            int y0 = gy >= g ? g - 1 : (int)gy;
            double fy = gy - y0;
            for (int x = 0; x < w; x++) {
                double gx = w > 1 ? (double)x * g / (w - 1) : 0.0;
                int x0 = gx >= g ? g - 1 : (int)gx;
                double fx = gx - x0;
                const float *r0 = grid + y0 * (g + 1), *r1 = r0 + (g + 1);
                double v = (r0[x0] * (1 - fx) + r0[x0 + 1] * fx) * (1 - fy) + (r1[x0] * (1 - fx) + r1[x0 + 1] * fx) * fy;
                field[(size_t)y * w + x] += (float)(weight[o] * v);
            }
        }
    }
    for (size_t i = 0; i < (size_t)w * h; i++)
        field[i] /= 1.75f;
}
