/* Layout changes around the SGEMMs of the convolution (see ocl_conv.c). A chunk
 * of nb images is processed at a time; `base` is the chunk's first element in the
 * NCHW tensor. One work-item handles one row (im2col, col2im) or one plane (the
 * permutes) and loops along it: the index arithmetic is paid once per row
 * instead of once per element, which is what CPU drivers such as PoCL need. Within a chunk every index fits an int
 * (ocl_conv.c bounds the chunk). */

/* col[(ci*R + ri)*S + si][ni*P*Q + pi*Q + qi] = x[ni][ci][pi*st-pad+ri][qi*st-pad+si]
 * or 0 outside the image. Item t = z*P + pi with plane z = row*nb + ni. */
__kernel void ns_im2col(__global const float *x, ulong base, __global float *col, int items,
                        int c, int h, int w, int r, int s, int stride, int pad, int p, int q,
                        int nb)
{
    int t = get_global_id(0);
    if (t >= items)
        return;
    int z = t / p, pi = t - z * p;
    int row = z / nb, ni = z - row * nb;
    int rs = r * s;
    int ci = row / rs, ri = (row - ci * rs) / s, si = row - ci * rs - ri * s;
    int hi = pi * stride - pad + ri;
    __global float *out = col + (long)t * q;
    if (hi < 0 || hi >= h) {
        for (int qi = 0; qi < q; qi++)
            out[qi] = 0.0f;
        return;
    }
    __global const float *in = x + base + ((ulong)(ni * c + ci) * h + hi) * w;
    /* Columns [q0, q1) read inside the row, the rest is padding: three
     * branch-free loops (the copy one a plain vector copy at stride 1) instead
     * of a bounds test per element, which a CPU driver cannot vectorise. */
    int q0 = pad > si ? (pad - si + stride - 1) / stride : 0;
    int q1 = w + pad - si > 0 ? (w + pad - si + stride - 1) / stride : 0;
    q0 = min(q0, q);
    q1 = clamp(q1, q0, q);
    for (int qi = 0; qi < q0; qi++)
        out[qi] = 0.0f;
    __global const float *src = in + q0 * stride - pad + si;
    if (stride == 1) {
        for (int qi = q0; qi < q1; qi++)
            out[qi] = src[qi - q0];
    } else {
        for (int qi = q0; qi < q1; qi++)
            out[qi] = src[(qi - q0) * stride];
    }
    for (int qi = q1; qi < q; qi++)
        out[qi] = 0.0f;
}

/* The adjoint of im2col, gathered per dx row (each item owns its row, so no
 * atomics and a deterministic sum): dx[ni][ci][hi][:] = sum of the dcol entries
 * im2col read from that row. Item t = z*H + hi with plane z = ni*c + ci. */
__kernel void ns_col2im(__global const float *dcol, __global float *dx, ulong base, int items,
                        int c, int h, int w, int r, int s, int stride, int pad, int p, int q,
                        int nb)
{
    int t = get_global_id(0);
    if (t >= items)
        return;
    int z = t / h, hi = t - z * h;
    int ni = z / c, ci = z - ni * c;
    int pq = p * q, ncols = nb * pq;
    __global float *out = dx + base + (ulong)t * w;
    for (int wi = 0; wi < w; wi++)
        out[wi] = 0.0f;
    for (int ri = 0; ri < r; ri++) {
        int ph = hi + pad - ri;
        if (ph < 0 || ph % stride != 0 || ph / stride >= p)
            continue;
        int pi = ph / stride;
        for (int si = 0; si < s; si++) {
            __global const float *src =
                dcol + (long)((ci * r + ri) * s + si) * ncols + ni * pq + pi * q;
            /* Only columns [q0, q1) land inside the row (as in im2col). */
            int q0 = pad > si ? (pad - si + stride - 1) / stride : 0;
            int q1 = w + pad - si > 0 ? (w + pad - si + stride - 1) / stride : 0;
            q0 = min(q0, q);
            q1 = clamp(q1, q0, q);
            __global float *dst = out + q0 * stride - pad + si;
            if (stride == 1) {
                for (int qi = q0; qi < q1; qi++)
                    dst[qi - q0] += src[qi];
            } else {
                for (int qi = q0; qi < q1; qi++)
                    dst[(qi - q0) * stride] += src[qi];
            }
        }
    }
}

/* Copies one plane of pq floats, in float16 steps where possible. */
void ns_copy_plane(__global const float *in, __global float *out, int pq)
{
    int j = 0;
    for (; j + 16 <= pq; j += 16)
        vstore16(vload16(0, in + j), 0, out + j);
    for (; j < pq; j++)
        out[j] = in[j];
}

/* dst[k][ni*pq + j] = src[base + (ni*kk + k)*pq + j]: NCHW chunk -> [K][nb*PQ];
 * one work-item per plane z = k*nb + ni. */
__kernel void ns_nchw_to_cn(__global const float *src, ulong base, __global float *dst,
                            int planes, int kk, int pq, int nb)
{
    int z = get_global_id(0);
    if (z >= planes)
        return;
    int k = z / nb, ni = z - k * nb;
    ns_copy_plane(src + base + (ulong)(ni * kk + k) * pq, dst + (long)z * pq, pq);
}

/* The inverse: dst[base + (ni*kk + k)*pq + j] = src[k][ni*pq + j]; plane
 * z = ni*kk + k. */
__kernel void ns_cn_to_nchw(__global const float *src, __global float *dst, ulong base,
                            int planes, int kk, int pq, int nb)
{
    int z = get_global_id(0);
    if (z >= planes)
        return;
    int ni = z / kk, k = z - ni * kk;
    ns_copy_plane(src + (long)(k * nb + ni) * pq, dst + base + (ulong)z * pq, pq);
}
