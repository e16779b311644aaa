/* Per-value noise: Gaussian (sensor read noise), shot (photon counting,
 * Poisson) and impulse (salt and pepper). Every value of every channel gets
 * its own draws, so a gray image and each RGB channel are noised alike.
 * Tables are ours, in fractions of the 0..255 range, picked so that severity 5
 * still leaves a 28x28 digit or garment recognisable to a person. */
#include <math.h>

#include "corrupt.h"

/* Standard deviation, fraction of 255. */
static const double gauss_sigma[CORRUPT_SEVERITIES] = {0.05, 0.09, 0.13, 0.19, 0.27};
/* Photons at full white: fewer photons, noisier image. */
static const double shot_photons[CORRUPT_SEVERITIES] = {150.0, 60.0, 25.0, 12.0, 6.0};
/* Fraction of values replaced by 0 or 255. */
static const double impulse_amount[CORRUPT_SEVERITIES] = {0.02, 0.05, 0.09, 0.14, 0.20};

ns_status corrupt_gaussian_noise(const corrupt_ctx *cx, ns_image *img, uint8_t *scratch, int sev, ns_rng *rng)
{
    (void)cx, (void)scratch;
    const double s = 255.0 * gauss_sigma[sev - 1];
    const size_t n = (size_t)img->width * img->height * img->channels;
    for (size_t i = 0; i < n; i++)
        img->data[i] = corrupt_u8(img->data[i] + s * corrupt_normal(rng));
    return NS_OK;
}

/* A Poisson count of mean mu: Knuth's product of uniforms while that is cheap
 * (mu < 16), the rounded normal approximation above (its skew is already
 * small there, and Knuth would draw ~mu uniforms per value). */
static double poisson(double mu, ns_rng *rng)
{
    if (mu < 16.0) {
        double limit = exp(-mu), p = 1.0;
        int k = -1;
        do {
            k++;
            p *= ns_rng_uniform(rng);
        } while (p > limit && k < 1000);
        return k;
    }
    double v = floor(mu + sqrt(mu) * corrupt_normal(rng) + 0.5);
    return v < 0.0 ? 0.0 : v;
}

ns_status corrupt_shot_noise(const corrupt_ctx *cx, ns_image *img, uint8_t *scratch, int sev, ns_rng *rng)
{
    (void)cx, (void)scratch;
    const double lam = shot_photons[sev - 1];
    const size_t n = (size_t)img->width * img->height * img->channels;
    for (size_t i = 0; i < n; i++)
        img->data[i] = corrupt_u8(poisson(img->data[i] / 255.0 * lam, rng) / lam * 255.0);
    return NS_OK;
}

ns_status corrupt_impulse_noise(const corrupt_ctx *cx, ns_image *img, uint8_t *scratch, int sev, ns_rng *rng)
{
    (void)cx, (void)scratch;
    const float amount = (float)impulse_amount[sev - 1];
    const size_t n = (size_t)img->width * img->height * img->channels;
    for (size_t i = 0; i < n; i++) {
        /* Two draws per value whatever happens, so that a higher severity
         * hits a superset of the values a lower one hits (same rng). */
        float hit = ns_rng_uniform(rng), salt = ns_rng_uniform(rng);
        if (hit < amount)
            img->data[i] = salt < 0.5f ? 0 : 255;
    }
    return NS_OK;
}
