/* Layout changes around the SGEMMs of the convolution (see ocl_conv.c). A chunk
 * of nb images is processed at a time; `base` is the chunk's first element in the
 * NCHW tensor. Within a chunk every index fits an int (ocl_conv.c bounds the
 * chunk), which keeps the address arithmetic cheap on GPUs. */

/* col[(ci*R + ri)*S + si][ni*P*Q + pi*Q + qi] = x[ni][ci][pi*st-pad+ri][qi*st-pad+si] or 0. */
__kernel void ns_im2col(__global const float *x, ulong base, __global float *col, int total,
                        int c, int h, int w, int r, int s, int stride, int pad, int p, int q,
                        int nb)
{
    int i = get_global_id(0);
    if (i >= total)
        return;
    int pq = p * q;
    int ncols = nb * pq;
    int row = i / ncols, colidx = i - row * ncols;
    int si = row % s, ri = (row / s) % r, ci = row / (r * s);
    int ni = colidx / pq, j = colidx - ni * pq;
    int pi = j / q, qi = j - pi * q;
    int hi = pi * stride - pad + ri, wi = qi * stride - pad + si;
    float v = 0.0f;
    if (hi >= 0 && hi < h && wi >= 0 && wi < w)
        v = x[base + ((ulong)(ni * c + ci) * h + hi) * w + wi];
    col[i] = v;
}

/* The adjoint of im2col, gathered per dx element (no atomics, deterministic):
 * dx[ni][ci][hi][wi] = sum of dcol entries that im2col read from it. */
__kernel void ns_col2im(__global const float *dcol, __global float *dx, ulong base, int total,
                        int c, int h, int w, int r, int s, int stride, int pad, int p, int q,
                        int nb)
{
    int i = get_global_id(0);
    if (i >= total)
        return;
    int wi = i % w, hi = (i / w) % h, ci = (i / (w * h)) % c, ni = i / (w * h * c);
    int pq = p * q, ncols = nb * pq;
    float acc = 0.0f;
    for (int ri = 0; ri < r; ri++) {
        int ph = hi + pad - ri;
        if (ph < 0 || ph % stride != 0)
            continue;
        int pi = ph / stride;
        if (pi >= p)
            continue;
        for (int si = 0; si < s; si++) {
            int qw = wi + pad - si;
            if (qw < 0 || qw % stride != 0)
                continue;
            int qi = qw / stride;
            if (qi >= q)
                continue;
            int row = (ci * r + ri) * s + si;
            acc += dcol[(long)row * ncols + ni * pq + pi * q + qi];
        }
    }
    dx[base + i] = acc;
}

/* dst[k][ni*pq + j] = src[base + (ni*kk + k)*pq + j]: NCHW chunk -> [K][nb*PQ]. */
__kernel void ns_nchw_to_cn(__global const float *src, ulong base, __global float *dst, int total,
                            int kk, int pq, int nb)
{
    int i = get_global_id(0);
    if (i >= total)
        return;
    int ncols = nb * pq;
    int k = i / ncols, colidx = i - k * ncols;
    int ni = colidx / pq, j = colidx - ni * pq;
    dst[i] = src[base + (ulong)(ni * kk + k) * pq + j];
}

/* The inverse: dst[base + (ni*kk + k)*pq + j] = src[k][ni*pq + j]. */
__kernel void ns_cn_to_nchw(__global const float *src, __global float *dst, ulong base, int total,
                            int kk, int pq, int nb)
{
    int i = get_global_id(0);
    if (i >= total)
        return;
    int j = i % pq, k = (i / pq) % kk, ni = i / (pq * kk);
    dst[base + i] = src[(long)k * nb * pq + ni * pq + j];
}
