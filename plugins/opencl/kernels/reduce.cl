/* Statistics of x[0..n): each work-group writes one partial (sum, sum of squares,
 * max |x| over finite values; count of non-finite) and the host adds the partials
 * in double. */
__kernel void ns_reduce_partial(__global const float *x, ulong n, __global float *part,
                                __global uint *nonfinite, __local float *s1, __local float *s2,
                                __local float *mx, __local uint *nf)
{
    uint lid = get_local_id(0), lsz = get_local_size(0);
    ulong stride = get_global_size(0);
    float a = 0.0f, b = 0.0f, m = 0.0f;
    uint bad = 0;
    for (ulong i = get_global_id(0); i < n; i += stride) {
        float v = x[i];
        if (isfinite(v)) {
            a += v;
            b += v * v;
            m = fmax(m, fabs(v));
        } else {
            bad++;
        }
    }
    s1[lid] = a;
    s2[lid] = b;
    mx[lid] = m;
    nf[lid] = bad;
    barrier(CLK_LOCAL_MEM_FENCE);
    for (uint span = lsz / 2; span > 0; span /= 2) {
        if (lid < span) {
            s1[lid] += s1[lid + span];
            s2[lid] += s2[lid + span];
            mx[lid] = fmax(mx[lid], mx[lid + span]);
            nf[lid] += nf[lid + span];
        }
        barrier(CLK_LOCAL_MEM_FENCE);
    }
    if (lid == 0) {
        uint g = get_group_id(0);
        part[3 * g] = s1[0];
        part[3 * g + 1] = s2[0];
        part[3 * g + 2] = mx[0];
        nonfinite[g] = nf[0];
    }
}

/* NaN/Inf in x[0..n) added to counts[slot] (count_nonfinite: one launch per
 * buffer, one read-back for all of them). Work-items with nothing to report
 * (nearly all, nearly always) skip the atomic. */
__kernel void ns_count_nonfinite(__global const float *x, ulong n, __global uint *counts, uint slot)
{
    ulong stride = get_global_size(0);
    uint bad = 0;
    for (ulong i = get_global_id(0); i < n; i += stride)
        bad += !isfinite(x[i]);
    if (bad)
        atomic_add(&counts[slot], bad);
}
