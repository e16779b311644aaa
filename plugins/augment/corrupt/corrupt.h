/* The `corrupt` op set's internals: the per-severity tables and the helpers
 * its ops share. Written against the public SDK only (include/noisystudent/), as a
 * third-party op set would be.
 *
 * Severity: an op's magnitude IS the severity (1..5), rounded to the nearest
 * integer; 0 or less leaves the image unchanged, above 5 reads as 5, NaN as 0.
 * So `eval --severities 3` and `--augment corrupt:n=1,m=3` mean the same image
 * (see README.md here for why not the RandAugment 0..10 scale). */
#ifndef NS_CORRUPT_H
#define NS_CORRUPT_H

#include <stddef.h>
#include <stdint.h>

#include <noisystudent/augment.h>
#include <noisystudent/plugin.h>
#include <noisystudent/rng.h>

#define CORRUPT_SEVERITIES 5

/* Read-only after create(): ops only need the host to report errors. */
typedef struct corrupt_ctx {
    const ns_host_api *host;
} corrupt_ctx;

/* One corruption at severity sev (1..5); img is never empty. */
typedef ns_status (*corrupt_fn)(const corrupt_ctx *cx, ns_image *img, uint8_t *scratch, int sev, ns_rng *rng);

ns_status corrupt_gaussian_noise(const corrupt_ctx *, ns_image *, uint8_t *, int, ns_rng *);
ns_status corrupt_shot_noise(const corrupt_ctx *, ns_image *, uint8_t *, int, ns_rng *);
ns_status corrupt_impulse_noise(const corrupt_ctx *, ns_image *, uint8_t *, int, ns_rng *);
ns_status corrupt_defocus_blur(const corrupt_ctx *, ns_image *, uint8_t *, int, ns_rng *);
ns_status corrupt_motion_blur(const corrupt_ctx *, ns_image *, uint8_t *, int, ns_rng *);
ns_status corrupt_zoom_blur(const corrupt_ctx *, ns_image *, uint8_t *, int, ns_rng *);
ns_status corrupt_contrast(const corrupt_ctx *, ns_image *, uint8_t *, int, ns_rng *);
ns_status corrupt_brightness(const corrupt_ctx *, ns_image *, uint8_t *, int, ns_rng *);
ns_status corrupt_fog(const corrupt_ctx *, ns_image *, uint8_t *, int, ns_rng *);
ns_status corrupt_pixelate(const corrupt_ctx *, ns_image *, uint8_t *, int, ns_rng *);
ns_status corrupt_jpeg(const corrupt_ctx *, ns_image *, uint8_t *, int, ns_rng *);
ns_status corrupt_elastic(const corrupt_ctx *, ns_image *, uint8_t *, int, ns_rng *);

/* Nearest 8-bit value of v, clipped to 0..255 (round half up). */
static inline uint8_t corrupt_u8(double v)
{
    if (!(v > 0.0))
        return 0;
    if (v >= 254.5)
        return 255;
    return (uint8_t)(v + 0.5);
}

/* One standard normal draw from two uniforms (Box-Muller, cosine branch). */
double corrupt_normal(ns_rng *rng);

/* Bilinear read of channel ch of a w x h x c HWC image at (x, y), pixel
 * centres at integers; outside the image the edge pixel repeats (a blurred
 * or warped border should not darken towards a fill colour). */
double corrupt_bilinear(const uint8_t *src, int w, int h, int c, int ch, double x, double y);

/* n floats from malloc, or NULL with the host's error set naming the op.
 * The float ops are the only ones that allocate (jpeg's encoder buffer aside):
 * scratch holds bytes only. */
float *corrupt_floats(const corrupt_ctx *cx, const char *op, size_t n);

/* A low-frequency random field in [0, 1] of w*h floats (octaves of bilinear
 * value noise on 2, 4 and 8 cells across, weights 1, 1/2, 1/4): fog's haze
 * and elastic's displacements. Draws (3*3 + 5*5 + 9*9) uniforms. */
void corrupt_smooth_field(float *field, int w, int h, ns_rng *rng);

#endif
