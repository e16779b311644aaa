/* Batch normalisation. Training and backward use one work-group per channel:
 * each work-item strides over the channel's n*hw values, then the group sums
 * its partials in local memory (the group size is a power of two). Two passes
 * for the variance (mean first, then squared deviations) keep it accurate. */

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

/* Walks the channel's values at lid, lid+lsz, ... as (sample, pixel) pairs,
 * stepping both without a division per element. */
typedef struct ns_bn_walk {
    uint ni, j, step_n, step_j;
} ns_bn_walk;

ns_bn_walk ns_bn_walk_start(uint lid, uint lsz, uint hw)
{
    ns_bn_walk wk = {lid / hw, lid % hw, lsz / hw, lsz % hw};
    return wk;
}

void ns_bn_walk_next(ns_bn_walk *wk, uint hw)
{
    wk->ni += wk->step_n;
    wk->j += wk->step_j;
    if (wk->j >= hw) {
        wk->j -= hw;
        wk->ni++;
    }
}

#define NS_BN_AT(wk) (((ulong)(wk).ni * c + ch) * hw + (wk).j)
#define NS_BN_FOR(wk) \
    for (ns_bn_walk wk = ns_bn_walk_start(lid, lsz, hw); wk.ni < n; ns_bn_walk_next(&wk, hw))

__kernel void ns_bn_forward_train(__global const float *x, __global const float *gamma,
                                  __global const float *beta, __global float *running_mean,
                                  __global float *running_var, __global float *y,
                                  __global float *save_mean, __global float *save_invstd, uint n,
                                  uint c, uint hw, float eps, float momentum,
                                  __local float *scratch)
{
    uint ch = get_group_id(0), lid = get_local_id(0), lsz = get_local_size(0);
    uint m = n * hw;
    float s = 0.0f;
    NS_BN_FOR(wk)
        s += x[NS_BN_AT(wk)];
    float mean = ns_group_sum(scratch, s) / (float)m;
    float d2 = 0.0f;
    NS_BN_FOR(wk) {
        float d = x[NS_BN_AT(wk)] - mean;
        d2 += d * d;
    }
    float var = ns_group_sum(scratch, d2) / (float)m;
    float invstd = 1.0f / sqrt(var + eps);
    float g = gamma[ch], b = beta[ch];
    NS_BN_FOR(wk) {
        ulong at = NS_BN_AT(wk);
        y[at] = g * (x[at] - mean) * invstd + b;
    }
    if (lid == 0) {
        float unbiased = m > 1 ? var * (float)m / (float)(m - 1) : var;
        running_mean[ch] = (1.0f - momentum) * running_mean[ch] + momentum * mean;
        running_var[ch] = (1.0f - momentum) * running_var[ch] + momentum * unbiased;
        save_mean[ch] = mean;
        save_invstd[ch] = invstd;
    }
}

/* dxhat = dy*gamma; dx = invstd/m * (m*dxhat - sum(dxhat) - xhat*sum(dxhat*xhat)). */
__kernel void ns_bn_backward(__global const float *x, __global const float *dy,
                             __global const float *gamma, __global const float *save_mean,
                             __global const float *save_invstd, __global float *dx,
                             __global float *dgamma, __global float *dbeta, uint n, uint c,
                             uint hw, __local float *scratch)
{
    uint ch = get_group_id(0), lid = get_local_id(0), lsz = get_local_size(0);
    uint m = n * hw;
    float mean = save_mean[ch], invstd = save_invstd[ch];
    float sdy = 0.0f, sdyx = 0.0f;
    NS_BN_FOR(wk) {
        ulong at = NS_BN_AT(wk);
        float g = dy[at];
        sdy += g;
        sdyx += g * (x[at] - mean) * invstd;
    }
    sdy = ns_group_sum(scratch, sdy);
    sdyx = ns_group_sum(scratch, sdyx);
    float gm = gamma[ch];
    float k = gm * invstd / (float)m;
    NS_BN_FOR(wk) {
        ulong at = NS_BN_AT(wk);
        float xhat = (x[at] - mean) * invstd;
        dx[at] = k * ((float)m * dy[at] - sdy - xhat * sdyx);
    }
    if (lid == 0) {
        dgamma[ch] = sdyx;
        dbeta[ch] = sdy;
    }
}

__kernel void ns_bn_forward_infer(__global const float *x, __global const float *gamma,
                                  __global const float *beta, __global const float *running_mean,
                                  __global const float *running_var, __global float *y, ulong total,
                                  uint c, uint hw, float eps)
{
    ulong i = get_global_id(0);
    if (i >= total)
        return;
    uint ch = (uint)((i / hw) % c);
    y[i] = gamma[ch] * (x[i] - running_mean[ch]) / sqrt(running_var[ch] + eps) + beta[ch];
}
