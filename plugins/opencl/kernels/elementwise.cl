/* Element-wise kernels: one work-item per element, the global size is rounded
 * up to the work-group size, so every kernel checks its bound. Where the ABI
 * lets outputs alias inputs, each item reads its inputs before writing. */

__kernel void ns_relu_forward(__global const float *x, __global float *y, ulong n)
{
    ulong i = get_global_id(0);
    if (i < n) {
        float v = x[i];
        y[i] = v > 0.0f ? v : 0.0f;
    }
}

__kernel void ns_relu_backward(__global const float *y, __global const float *dy,
                               __global float *dx, ulong n)
{
    ulong i = get_global_id(0);
    if (i < n)
        dx[i] = y[i] > 0.0f ? dy[i] : 0.0f;
}

__kernel void ns_add(__global const float *a, __global const float *b, __global float *y, ulong n)
{
    ulong i = get_global_id(0);
    if (i < n)
        y[i] = a[i] + b[i];
}

/* beta == 0 must not read y: an uninitialised y may hold NaN. */
__kernel void ns_axpby(__global const float *x, __global float *y, ulong n, float alpha,
                       float beta)
{
    ulong i = get_global_id(0);
    if (i < n)
        y[i] = beta == 0.0f ? alpha * x[i] : alpha * x[i] + beta * y[i];
}

__kernel void ns_mul(__global const float *a, __global const float *b, __global float *y, ulong n)
{
    ulong i = get_global_id(0);
    if (i < n)
        y[i] = a[i] * b[i];
}

__kernel void ns_mul_rows(__global const float *x, __global const float *scale, __global float *y,
                          ulong n, ulong cols)
{
    ulong i = get_global_id(0);
    if (i < n)
        y[i] = x[i] * scale[i / cols];
}

__kernel void ns_gap_forward(__global const float *x, __global float *y, uint rows, uint hw)
{
    uint r = get_global_id(0);
    if (r >= rows)
        return;
    __global const float *p = x + (ulong)r * hw;
    float s = 0.0f;
    for (uint i = 0; i < hw; i++)
        s += p[i];
    y[r] = s / (float)hw;
}

__kernel void ns_gap_backward(__global const float *dy, __global float *dx, ulong n, uint hw)
{
    ulong i = get_global_id(0);
    if (i < n)
        dx[i] = dy[i / hw] / (float)hw;
}
