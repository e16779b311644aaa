#include "data/shuffle.h"

void ns_shuffle_u32(uint32_t *a, size_t n, ns_rng *rng)
{
    for (size_t i = n; i > 1; i--) {
        size_t j = ns_rng_below(rng, (uint32_t)i);
        uint32_t t = a[i - 1];
        a[i - 1] = a[j];
        a[j] = t;
    }
}
