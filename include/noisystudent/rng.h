/* noisystudent SDK — Philox4x32-10 (Salmon et al., SC'11), header-only.
 *
 * Every random number in a run comes from here, so the host, every backend
 * (CUDA and OpenCL kernels reimplement exactly this function) and every
 * augmentation plugin draw identical numbers for the same (seed, stream,
 * index). That makes a noised forward pass comparable across backends and
 * augmented images independent of the number of loader threads.
 *
 * Conventions used across the project:
 *  - key  = {lo32(seed), hi32(seed)}
 *  - counter for element i of a stream: {lo32(i/4), hi32(i/4), lo32(stream), hi32(stream)}
 *    and element i is word i%4 of the block.
 *  - a uniform float in [0,1) is (word >> 8) * 2^-24 (24 exact bits).
 * Verified against the Random123 known-answer vectors (tests/rng).
 */
#ifndef NS_RNG_H
#define NS_RNG_H

#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

#if defined(__CUDACC__)
#define NS_RNG_FN static __host__ __device__ inline
#else
#define NS_RNG_FN static inline
#endif

#define NS_PHILOX_M0 0xD2511F53u
#define NS_PHILOX_M1 0xCD9E8D57u
#define NS_PHILOX_W0 0x9E3779B9u
#define NS_PHILOX_W1 0xBB67AE85u

/* One Philox4x32 block with 10 rounds: out = philox(ctr, key). */
NS_RNG_FN void ns_philox4x32_10(const uint32_t ctr[4], const uint32_t key[2], uint32_t out[4])
{
    uint32_t c0 = ctr[0], c1 = ctr[1], c2 = ctr[2], c3 = ctr[3];
    uint32_t k0 = key[0], k1 = key[1];
    for (int round = 0; round < 10; round++) {
        uint64_t p0 = (uint64_t)NS_PHILOX_M0 * c0;
        uint64_t p1 = (uint64_t)NS_PHILOX_M1 * c2;
        uint32_t hi0 = (uint32_t)(p0 >> 32), lo0 = (uint32_t)p0;
        uint32_t hi1 = (uint32_t)(p1 >> 32), lo1 = (uint32_t)p1;
        c0 = hi1 ^ c1 ^ k0;
        c1 = lo1;
        c2 = hi0 ^ c3 ^ k1;
        c3 = lo0;
        k0 += NS_PHILOX_W0;
        k1 += NS_PHILOX_W1;
    }
    out[0] = c0; out[1] = c1; out[2] = c2; out[3] = c3;
}

/* 32 random bits for element `index` of stream `stream` under `seed`. */
NS_RNG_FN uint32_t ns_philox_u32_at(uint64_t seed, uint64_t stream, uint64_t index)
{
    uint64_t block = index >> 2;
    uint32_t ctr[4] = {(uint32_t)block, (uint32_t)(block >> 32), (uint32_t)stream,
                       (uint32_t)(stream >> 32)};
    uint32_t key[2] = {(uint32_t)seed, (uint32_t)(seed >> 32)};
    uint32_t out[4];
    ns_philox4x32_10(ctr, key, out);
    return out[index & 3u];
}

/* Uniform float in [0,1) from 32 random bits (top 24 bits, exact). */
NS_RNG_FN float ns_u32_to_unit(uint32_t x)
{
    return (float)(x >> 8) * (1.0f / 16777216.0f);
}

NS_RNG_FN float ns_philox_uniform_at(uint64_t seed, uint64_t stream, uint64_t index)
{
    return ns_u32_to_unit(ns_philox_u32_at(seed, stream, index));
}

/* A sequential generator over one stream: element 0, 1, 2, ... Plain data,
 * cheap to copy, no allocation; one per thread/image (never shared). */
typedef struct ns_rng {
    uint64_t seed;
    uint64_t stream;
    uint64_t index; /* next element */
} ns_rng;

NS_RNG_FN ns_rng ns_rng_make(uint64_t seed, uint64_t stream)
{
    ns_rng r;
    r.seed = seed;
    r.stream = stream;
    r.index = 0;
    return r;
}

NS_RNG_FN uint32_t ns_rng_u32(ns_rng *r)
{
    return ns_philox_u32_at(r->seed, r->stream, r->index++);
}

/* Uniform float in [0,1). */
NS_RNG_FN float ns_rng_uniform(ns_rng *r)
{
    return ns_u32_to_unit(ns_rng_u32(r));
}

/* Uniform integer in [0, n) for n >= 1 (multiply-shift; bias < n/2^32). */
NS_RNG_FN uint32_t ns_rng_below(ns_rng *r, uint32_t n)
{
    return (uint32_t)(((uint64_t)ns_rng_u32(r) * n) >> 32);
}

/* Stream id from up to three 21-bit fields, e.g. (purpose, epoch, image):
 * lets independent consumers share one seed without overlapping. */
NS_RNG_FN uint64_t ns_rng_stream_id(uint64_t a, uint64_t b, uint64_t c)
{
    return ((a & 0x1FFFFFu) << 42) | ((b & 0x1FFFFFu) << 21) | (c & 0x1FFFFFu);
}

#ifdef __cplusplus
}
#endif
#endif
