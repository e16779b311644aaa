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

/* ---- Direct (implicit-GEMM) convolution at stride 1, for CPU devices ----
 * The SGEMM of the im2col path, with the column matrix never written: the
 * B vector of output positions pos..pos+NS_VW-1 at reduction index (ci, ri, si)
 * is read straight from a zero-padded copy of the input, where at stride 1 it
 * is one contiguous run (or two runs of 8 when a row of 8 holds half a
 * vector). im2col writes R*S times the input and the GEMM reads it back; here
 * the input is read from cache, and the result goes straight to NCHW. The tile
 * and vector width are the SGEMM's (gemm.cl). ocl_conv.c takes this path only
 * where the shapes allow it (ocl_conv_direct_fits). */

/* out[z][hi][wi] of a [planes][h + 2*pad][w + 2*pad] zero-padded copy of the
 * planes from `base` on; item t = z*hp + row. */
__kernel void ns_pad_planes(__global const float *x, ulong base, __global float *out, int items,
                            int h, int w, int pad)
{
    int t = get_global_id(0);
    if (t >= items)
        return;
    int hp = h + 2 * pad, wp = w + 2 * pad;
    int z = t / hp, row = t - z * hp, hi = row - pad;
    __global float *o = out + (long)t * wp;
    if (hi < 0 || hi >= h) {
        for (int j = 0; j < wp; j++)
            o[j] = 0.0f;
        return;
    }
    __global const float *in = x + base + ((ulong)z * h + hi) * w;
    for (int j = 0; j < pad; j++)
        o[j] = 0.0f;
    for (int j = 0; j < w; j++)
        o[pad + j] = in[j];
    for (int j = pad + w; j < wp; j++)
        o[j] = 0.0f;
}

/* wt[ci][(m*r + ri)*s + si] = w[m][ci][r-1-ri][s-1-si]: the weights of the
 * convolution that computes the data gradient of a stride-1 convolution. */
__kernel void ns_flip_weights(__global const float *w, __global float *wt, int items, int k,
                              int c, int r, int s)
{
    int t = get_global_id(0);
    if (t >= items)
        return;
    int rs = r * s;
    int ci = t / (k * rs), rem = t - ci * k * rs;
    int m = rem / rs, e = rem - m * rs;
    int ri = e / s, si = e - ri * s;
    wt[t] = w[((long)m * c + ci) * rs + (r - 1 - ri) * s + (s - 1 - si)];
}

#define NS_CD_B_ROW(t) if ((t) < NS_TM) acc##t = mad((ns_vw_t)wk[(long)r##t * crs], b, acc##t);
#define NS_CD_STORE(t) if ((t) < NS_TM && mb + (t) < kout) \
        NS_VSTORE_VW(acc##t, 0, y + ybase + ((long)ni * kout + mb + (t)) * pq + pos);

/* y[ni][m][pos..pos+NS_VW) for m in mb..mb+NS_TM, from xp = [nb][c][hp][wp]
 * (padded, at xbase) and wgt = [kout][c*r*s]; item (g0, g1) = (position block
 * over the chunk's nb*p*q, channel block). Writes y from ybase (chunk start). */
__kernel void ns_conv_direct(__global const float *xp, ulong xbase, int c, int hp, int wp,
                             __global const float *wgt, __global float *y, ulong ybase, int kout,
                             int p, int q, int r, int s, int nb)
{
    int pq = p * q;
    int jb = get_global_id(0) * NS_VW, mb = get_global_id(1) * NS_TM;
    if (jb >= nb * pq || mb >= kout)
        return;
    int ni = jb / pq, pos = jb - ni * pq;
    int pi = pos / q, qi = pos - pi * q;
    int crs = c * r * s;
    /* Rows past kout repeat the last one: computed, never stored. */
    int r0 = min(mb, kout - 1), r1 = min(mb + 1, kout - 1), r2 = min(mb + 2, kout - 1);
    int r3 = min(mb + 3, kout - 1), r4 = min(mb + 4, kout - 1), r5 = min(mb + 5, kout - 1);
    int r6 = min(mb + 6, kout - 1), r7 = min(mb + 7, kout - 1), r8 = min(mb + 8, kout - 1);
    int r9 = min(mb + 9, kout - 1), r10 = min(mb + 10, kout - 1), r11 = min(mb + 11, kout - 1);
    int r12 = min(mb + 12, kout - 1), r13 = min(mb + 13, kout - 1);
    int r14 = min(mb + 14, kout - 1), r15 = min(mb + 15, kout - 1);
    ns_vw_t acc0 = 0.0f, acc1 = 0.0f, acc2 = 0.0f, acc3 = 0.0f, acc4 = 0.0f, acc5 = 0.0f;
    ns_vw_t acc6 = 0.0f, acc7 = 0.0f, acc8 = 0.0f, acc9 = 0.0f, acc10 = 0.0f, acc11 = 0.0f;
    ns_vw_t acc12 = 0.0f, acc13 = 0.0f, acc14 = 0.0f, acc15 = 0.0f;
    __global const float *plane = xp + xbase + (long)ni * c * hp * wp + (long)pi * wp + qi;
    for (int ci = 0; ci < c; ci++) {
        for (int ri = 0; ri < r; ri++) {
            __global const float *row = plane + ((long)ci * hp + ri) * wp;
            __global const float *wk = wgt + (ci * r + ri) * s;
            for (int si = 0; si < s; si++, wk++) {
#if NS_VW == 16
                ns_vw_t b = q >= 16 ? vload16(0, row + si)
                                    : (float16)(vload8(0, row + si), vload8(0, row + wp + si));
#else
                ns_vw_t b = NS_VLOAD_VW(0, row + si);
#endif
                NS_NN_ROWS(NS_CD_B_ROW)
            }
        }
    }
    NS_NN_ROWS(NS_CD_STORE)
}

/* The filter gradient at stride 1 without im2col:
 *   dw[m][k] (+)= sum over the chunk's images and positions of
 *                 dy[ni][m][pos] * xp[ni][ci][pi + ri][qi + si],  k = (ci*r + ri)*s + si
 * Item (g0, g1) computes the NS_NTB x NS_NTB block at k = g0*NS_NTB, m = g1*NS_NTB
 * (the ns_gemm_nt tile): dot products along positions in vectors of NS_NTV,
 * each a contiguous run of one output row (q % NS_NTV == 0, ocl_conv.c checks).
 * accumulate == 0 overwrites dw (the first chunk), 1 adds to it. */
#define NS_DW_PTRS(t) \
    const int m##t = min(ib + ((t) < NS_NTB ? (t) : 0), kout - 1); \
    int off##t; \
    { \
        int kk = min(jb + ((t) < NS_NTB ? (t) : 0), crs - 1); \
        int ci = kk / rs, e = kk - ci * rs, ri = e / s; \
        off##t = (ci * hp + ri) * wp + (e - ri * s); \
    }
#define NS_DW_LOAD(t) ns_ntv_t va##t = 0.0f, vb##t = 0.0f; \
    if ((t) < NS_NTB) { \
        va##t = NS_VLOAD_NTV(0, yimg + (long)m##t * pq + pos); \
        vb##t = NS_VLOAD_NTV(0, ximg + xrow + off##t); \
    }
#define NS_DW_OUT1(t, u) if ((t) < NS_NTB && (u) < NS_NTB && ib + (t) < kout && jb + (u) < crs) { \
        __global float *o = dw + (long)(ib + (t)) * crs + jb + (u); \
        float v = ns_ntv_sum(s##t##u); \
        *o = accumulate ? *o + v : v; \
    }
#define NS_DW_OUT_ROW(t) NS_DW_OUT1(t, 0) NS_DW_OUT1(t, 1) NS_DW_OUT1(t, 2) NS_DW_OUT1(t, 3)

__kernel void ns_conv_direct_dw(__global const float *xp, ulong xbase, int c, int hp, int wp,
                                __global const float *dy, ulong dybase, int kout, int p, int q,
                                int r, int s, int nb, __global float *dw, int accumulate)
{
    int rs = r * s, crs = c * rs, pq = p * q;
    int jb = get_global_id(0) * NS_NTB, ib = get_global_id(1) * NS_NTB;
    if (jb >= crs || ib >= kout)
        return;
    NS_NT_IDX(NS_DW_PTRS)
    NS_NT_IDX(NS_NT_DECL_ROW)
    for (int ni = 0; ni < nb; ni++) {
        __global const float *ximg = xp + xbase + (long)ni * c * hp * wp;
        __global const float *yimg = dy + dybase + (long)ni * kout * pq;
        for (int pi = 0; pi < p; pi++) {
            for (int qi = 0; qi < q; qi += NS_NTV) {
                int pos = pi * q + qi, xrow = pi * wp + qi;
                NS_NT_IDX(NS_DW_LOAD)
                NS_NT_IDX(NS_NT_FMA_ROW)
            }
        }
    }
    NS_NT_IDX(NS_DW_OUT_ROW)
}
