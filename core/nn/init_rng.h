/* Host-side weight initialisation from Philox, so every backend starts from
 * bit-identical parameters. */
#ifndef NS_NN_INIT_RNG_H
#define NS_NN_INIT_RNG_H

#include <stddef.h>
#include <stdint.h>

#include "nn/param.h"

/* dst[i] ~ N(0, std^2): Box-Muller on consecutive uniform pairs of (seed, stream). */
void ns_init_normal(float *dst, size_t n, float std, uint64_t seed, uint64_t stream);
/* dst[i] ~ U(-bound, bound) from (seed, stream). */
void ns_init_uniform(float *dst, size_t n, float bound, uint64_t seed, uint64_t stream);
/* Uploads p->size floats produced by one of the above (or a constant when
 * kind is 'c'): kind 'n' normal(std=a), 'u' uniform(bound=a), 'c' constant a. */
ns_status ns_init_param(ns_backend *be, ns_param *p, char kind, float a, uint64_t seed,
                        uint64_t stream);

#endif
