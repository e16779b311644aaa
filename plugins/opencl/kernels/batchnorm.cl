/* Batch normalisation. Training and backward use one work-group per channel:
 * each work-item strides over the channel's n*hw values, then the group sums
 * its partials in local memory (the group size is a power of two). Two passes
 * for the variance (mean first, then squared deviations) keep it accurate.
 *
 * Each kernel exists twice, from one template: over single floats, and over
 * float16 vectors when hw is a multiple of 16 (every ResNet plane from 4x4 up),
 * which a CPU driver runs ~10x faster than the scalar walk. */

float ns_group_sum(__local float *scratch, float v)
{
    uint lid = get_local_id(0), lsz = get_local_size(0);
    barrier(CLK_LOCAL_MEM_FENCE);
    scratch[lid] = v;
    barrier(CLK_LOCAL_MEM_FENCE);
    for (uint span = lsz / 2; span > 0; span /= 2) {
        if (lid < span)
            scratch[lid] += scratch[lid + span];
        barrier(CLK_LOCAL_MEM_FENCE);
    }
    return scratch[0];
}

/* Walks the channel's units at lid, lid+lsz, ... as (sample, unit-in-plane)
 * pairs, stepping both without a division per element; hu = units per plane. */
typedef struct ns_bn_walk {
    uint ni, j, step_n, step_j;
} ns_bn_walk;

ns_bn_walk ns_bn_walk_start(uint lid, uint lsz, uint hu)
{
    ns_bn_walk wk = {lid / hu, lid % hu, lsz / hu, lsz % hu};
    return wk;
}

void ns_bn_walk_next(ns_bn_walk *wk, uint hu)
{
    wk->ni += wk->step_n;
    wk->j += wk->step_j;
    if (wk->j >= hu) {
        wk->j -= hu;
        wk->ni++;
    }
}

float ns_hsum1(float v) { return v; }

float ns_hsum16(float16 v)
{
    float8 a = v.lo + v.hi;
    float4 b = a.lo + a.hi;
    float2 d = b.lo + b.hi;
    return d.x + d.y;
}

#define NS_LOAD1(p, at) (p)[at]
#define NS_STORE1(v, p, at) ((p)[at] = (v))
#define NS_LOAD16(p, at) vload16((at), (p))
#define NS_STORE16(v, p, at) vstore16((v), (at), (p))

/* at: the unit index of (wk.ni, ch, wk.j) in units of W floats. */
#define NS_BN_AT(wk) (((ulong)(wk).ni * c + ch) * hu + (wk).j)
#define NS_BN_FOR(wk) \
    for (ns_bn_walk wk = ns_bn_walk_start(lid, lsz, hu); wk.ni < n; ns_bn_walk_next(&wk, hu))

#define NS_BN_KERNELS(SUF, VT, W)                                                               \
    __kernel void ns_bn_forward_train##SUF(                                                     \
        __global const float *x, __global const float *gamma, __global const float *beta,       \
        __global float *running_mean, __global float *running_var, __global float *y,           \
        __global float *save_mean, __global float *save_invstd, uint n, uint c, uint hw,        \
        float eps, float momentum, __local float *scratch)                                      \
    {                                                                                           \
        uint ch = get_group_id(0), lid = get_local_id(0), lsz = get_local_size(0);              \
        uint m = n * hw, hu = hw / W;                                                           \
        VT s = 0.0f;                                                                            \
        NS_BN_FOR(wk)                                                                           \
        s += NS_LOAD##W(x, NS_BN_AT(wk));                                                       \
        float mean = ns_group_sum(scratch, ns_hsum##W(s)) / (float)m;                           \
        VT d2 = 0.0f;                                                                           \
        NS_BN_FOR(wk)                                                                           \
        {                                                                                       \
            VT d = NS_LOAD##W(x, NS_BN_AT(wk)) - mean;                                          \
            d2 += d * d;                                                                        \
        }                                                                                       \
        float var = ns_group_sum(scratch, ns_hsum##W(d2)) / (float)m;                           \
        float invstd = 1.0f / sqrt(var + eps);                                                  \
        float g = gamma[ch], b = beta[ch];                                                      \
        NS_BN_FOR(wk)                                                                           \
        {                                                                                       \
            ulong at = NS_BN_AT(wk);                                                            \
            NS_STORE##W(g * (NS_LOAD##W(x, at) - mean) * invstd + b, y, at);                    \
        }                                                                                       \
        if (lid == 0) {                                                                         \
            float unbiased = m > 1 ? var * (float)m / (float)(m - 1) : var;                     \
            running_mean[ch] = (1.0f - momentum) * running_mean[ch] + momentum * mean;          \
            running_var[ch] = (1.0f - momentum) * running_var[ch] + momentum * unbiased;        \
            save_mean[ch] = mean;                                                               \
            save_invstd[ch] = invstd;                                                           \
        }                                                                                       \
    }                                                                                           \
                                                                                                \
    /* dx = gamma*invstd/m * (m*dy - sum(dy) - xhat*sum(dy*xhat)). */                           \
    __kernel void ns_bn_backward##SUF(                                                          \
        __global const float *x, __global const float *dy, __global const float *gamma,         \
        __global const float *save_mean, __global const float *save_invstd, __global float *dx, \
        __global float *dgamma, __global float *dbeta, uint n, uint c, uint hw,                 \
        __local float *scratch)                                                                 \
    {                                                                                           \
        uint ch = get_group_id(0), lid = get_local_id(0), lsz = get_local_size(0);              \
        uint m = n * hw, hu = hw / W;                                                           \
        float mean = save_mean[ch], invstd = save_invstd[ch];                                   \
        VT sdy = 0.0f, sdyx = 0.0f;                                                             \
        NS_BN_FOR(wk)                                                                           \
        {                                                                                       \
            ulong at = NS_BN_AT(wk);                                                            \
            VT g = NS_LOAD##W(dy, at);                                                          \
            sdy += g;                                                                           \
            sdyx += g * (NS_LOAD##W(x, at) - mean) * invstd;                                    \
        }                                                                                       \
        float tdy = ns_group_sum(scratch, ns_hsum##W(sdy));                                     \
        float tdyx = ns_group_sum(scratch, ns_hsum##W(sdyx));                                   \
        float k = gamma[ch] * invstd / (float)m;                                                \
        NS_BN_FOR(wk)                                                                           \
        {                                                                                       \
            ulong at = NS_BN_AT(wk);                                                            \
            VT xhat = (NS_LOAD##W(x, at) - mean) * invstd;                                      \
            NS_STORE##W(k * ((float)m * NS_LOAD##W(dy, at) - tdy - xhat * tdyx), dx, at);       \
        }                                                                                       \
        if (lid == 0) {                                                                         \
            dgamma[ch] = tdyx;                                                                  \
            dbeta[ch] = tdy;                                                                    \
        }                                                                                       \
    }

NS_BN_KERNELS(, float, 1)
NS_BN_KERNELS(_v16, float16, 16)

/* One work-item per (sample, channel) plane, in float16 steps along it: the
 * channel's constants are loaded once per plane. */
__kernel void ns_bn_forward_infer(__global const float *x, __global const float *gamma,
                                  __global const float *beta, __global const float *running_mean,
                                  __global const float *running_var, __global float *y,
                                  uint planes, uint c, uint hw, float eps)
{
    uint z = get_global_id(0);
    if (z >= planes)
        return;
    uint ch = z % c;
    float m = running_mean[ch], inv = 1.0f / sqrt(running_var[ch] + eps);
    float g = gamma[ch], b = beta[ch];
    __global const float *in = x + (ulong)z * hw;
    __global float *out = y + (ulong)z * hw;
    uint j = 0;
    for (; j + 16 <= hw; j += 16)
        vstore16(g * (vload16(0, in + j) - m) * inv + b, 0, out + j);
    for (; j < hw; j++)
        out[j] = g * (in[j] - m) * inv + b;
}
