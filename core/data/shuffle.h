/* Deterministic Fisher-Yates shuffle driven by Philox (rng.h), so an order
 * depends only on (seed, stream) and never on threads or libc's rand(). */
#ifndef NS_DATA_SHUFFLE_H
#define NS_DATA_SHUFFLE_H

#include <stddef.h>
#include <stdint.h>

#include <noisystudent/rng.h>

/* Purposes (first field of ns_rng_stream_id) used by the data module; other
 * modules pick values outside 0x100..0x1FF. */
#define NS_RNG_PURPOSE_SPLIT 0x101u         /* (purpose, class, 0) per-class split shuffle */
#define NS_RNG_PURPOSE_HOLDOUT 0x102u       /* (purpose, class, 0) holdout shuffle */
#define NS_RNG_PURPOSE_LOADER_ORDER 0x103u  /* (purpose, epoch, 0) epoch order */
#define NS_RNG_PURPOSE_LOADER_AUGMENT 0x104u /* (purpose, epoch, position) per-image noise */
#define NS_RNG_PURPOSE_HOLDOUT_FILES 0x105u /* (purpose, class, 0) class-folder test holdout */

/* Shuffles a[0..n) in place with draws from rng (n-1 draws of ns_rng_below). */
void ns_shuffle_u32(uint32_t *a, size_t n, ns_rng *rng);

#endif
