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

/* 2-D: dimension 0 the columns, dimension 1 the rows. */
__kernel void ns_mul_rows(__global const float *x, __global const float *scale, __global float *y,
                          ulong rows, ulong cols)
{
    ulong j = get_global_id(0), r = get_global_id(1);
    if (j < cols && r < rows)
        y[r * cols + j] = x[r * cols + j] * scale[r];
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

/* 2-D: dimension 0 the pixels, dimension 1 the (n, c) rows. */
__kernel void ns_gap_backward(__global const float *dy, __global float *dx, uint rows, uint hw)
{
    uint j = get_global_id(0), r = get_global_id(1);
    if (j < hw && r < rows)
        dx[(ulong)r * hw + j] = dy[r] / (float)hw;
}
