/* Philox4x32-10 exactly as include/noisystudent/rng.h defines it, so that a mask
 * drawn here equals the host's and every other backend's bit for bit. The 64-bit
 * products of rng.h are split into mul_hi (high word) and a 32-bit multiply (low). */
#define NS_PHILOX_M0 0xD2511F53u
#define NS_PHILOX_M1 0xCD9E8D57u
#define NS_PHILOX_W0 0x9E3779B9u
#define NS_PHILOX_W1 0xBB67AE85u

uint4 ns_philox4x32_10(uint4 c, uint2 k)
{
    for (int round = 0; round < 10; round++) {
        uint hi0 = mul_hi(NS_PHILOX_M0, c.x), lo0 = NS_PHILOX_M0 * c.x;
        uint hi1 = mul_hi(NS_PHILOX_M1, c.z), lo1 = NS_PHILOX_M1 * c.z;
        c = (uint4)(hi1 ^ c.y ^ k.x, lo1, hi0 ^ c.w ^ k.y, lo0);
        k.x += NS_PHILOX_W0;
        k.y += NS_PHILOX_W1;
    }
    return c;
}

float ns_u32_to_unit(uint x)
{
    return (float)(x >> 8) * (1.0f / 16777216.0f);
}

/* One work-item per Philox block: element i is word i%4 of block i/4. */
__kernel void ns_mask_bernoulli(__global float *mask, ulong n, float keep_prob, float scale,
                                uint seed_lo, uint seed_hi, uint stream_lo, uint stream_hi)
{
    ulong block = get_global_id(0);
    ulong i = block * 4;
    if (i >= n)
        return;
    uint4 r = ns_philox4x32_10((uint4)((uint)block, (uint)(block >> 32), stream_lo, stream_hi),
                               (uint2)(seed_lo, seed_hi));
    mask[i] = ns_u32_to_unit(r.x) < keep_prob ? scale : 0.0f;
    if (i + 1 < n)
        mask[i + 1] = ns_u32_to_unit(r.y) < keep_prob ? scale : 0.0f;
    if (i + 2 < n)
        mask[i + 2] = ns_u32_to_unit(r.z) < keep_prob ? scale : 0.0f;
    if (i + 3 < n)
        mask[i + 3] = ns_u32_to_unit(r.w) < keep_prob ? scale : 0.0f;
}
