/* Magnitude sanitising shared by the op sets. */
#ifndef NS_AUGMENT_LEVEL_H
#define NS_AUGMENT_LEVEL_H

#include <noisystudent/rng.h>

/* Magnitudes are not clamped (M=27 is 2.7x nominal), but a NaN or an absurd
 * value would turn the int conversions in the ops into undefined behaviour:
 * NaN reads as 0, and |magnitude| is limited to 1000 (100x nominal). */
static inline float ns_aug_sane_magnitude(float magnitude)
{
    if (!(magnitude == magnitude))
        return 0.0f;
    return magnitude > 1000.0f ? 1000.0f : magnitude < -1000.0f ? -1000.0f : magnitude;
}

/* +1 or -1 with equal odds, from one draw (the reference's _randomly_negate_tensor). */
static inline double ns_aug_random_sign(ns_rng *rng) { return ns_rng_uniform(rng) < 0.5f ? -1.0 : 1.0; }

#endif
