/* SGEMM for CPU devices (PoCL and the like), row-major, C contiguous (ldc = N):
 *   ns_gemm_nn: C = alpha * op(A) . B + beta * C, op(A) = A or A^T (trans_a)
 *   ns_gemm_nt: C = alpha * A . B^T + beta * C
 * A CPU driver runs each work-item as plain code, so the work-items here carry
 * explicit float16 vectors (one AVX-512 register, two AVX2 ones) and a register
 * tile, instead of relying on vectorisation across work-items. GPUs use CLBlast
 * (ocl_launch.c picks). beta == 0 never reads C. */

#define NS_TM 16

/* A(i, k) for row-major A, or for A^T when A is stored [K][M]. */
#define NS_A(i, k) (trans_a ? A[(long)(k) * lda + (i)] : A[(long)(i) * lda + (k)])

/* Item (g0, g1) computes rows g1*16 .. +16 and columns g0*16 .. +16 of C: 16
 * accumulators plus the B vector fit the 32 vector registers of AVX-512, and B
 * streams from memory once per 16 rows of C. */
__kernel void ns_gemm_nn(__global const float *A, int lda, int trans_a, __global const float *B,
                         int ldb, __global float *C, int M, int N, int K, float alpha, float beta)
{
    int jb = get_global_id(0) * 16, ib = get_global_id(1) * NS_TM;
    if (jb >= N || ib >= M)
        return;
    /* Rows past M repeat the last row: computed, never stored. */
    int r[NS_TM];
    for (int t = 0; t < NS_TM; t++)
        r[t] = min(ib + t, M - 1);
    if (jb + 16 <= N) {
        float16 acc0 = 0.0f, acc1 = 0.0f, acc2 = 0.0f, acc3 = 0.0f;
        float16 acc4 = 0.0f, acc5 = 0.0f, acc6 = 0.0f, acc7 = 0.0f;
        float16 acc8 = 0.0f, acc9 = 0.0f, acc10 = 0.0f, acc11 = 0.0f;
        float16 acc12 = 0.0f, acc13 = 0.0f, acc14 = 0.0f, acc15 = 0.0f;
        for (int k = 0; k < K; k++) {
            float16 b = vload16(0, B + (long)k * ldb + jb);
            acc0 = mad((float16)NS_A(r[0], k), b, acc0);
            acc1 = mad((float16)NS_A(r[1], k), b, acc1);
            acc2 = mad((float16)NS_A(r[2], k), b, acc2);
            acc3 = mad((float16)NS_A(r[3], k), b, acc3);
            acc4 = mad((float16)NS_A(r[4], k), b, acc4);
            acc5 = mad((float16)NS_A(r[5], k), b, acc5);
            acc6 = mad((float16)NS_A(r[6], k), b, acc6);
            acc7 = mad((float16)NS_A(r[7], k), b, acc7);
            acc8 = mad((float16)NS_A(r[8], k), b, acc8);
            acc9 = mad((float16)NS_A(r[9], k), b, acc9);
            acc10 = mad((float16)NS_A(r[10], k), b, acc10);
            acc11 = mad((float16)NS_A(r[11], k), b, acc11);
            acc12 = mad((float16)NS_A(r[12], k), b, acc12);
            acc13 = mad((float16)NS_A(r[13], k), b, acc13);
            acc14 = mad((float16)NS_A(r[14], k), b, acc14);
            acc15 = mad((float16)NS_A(r[15], k), b, acc15);
        }
        float16 acc[NS_TM] = {acc0, acc1, acc2,  acc3,  acc4,  acc5,  acc6,  acc7,
                              acc8, acc9, acc10, acc11, acc12, acc13, acc14, acc15};
        for (int t = 0; t < NS_TM && ib + t < M; t++) {
            __global float *c = C + (long)(ib + t) * N + jb;
            float16 v = alpha * acc[t];
            if (beta != 0.0f)
                v += beta * vload16(0, c);
            vstore16(v, 0, c);
        }
        return;
    }
    /* The last, partial block of columns: scalar. */
    for (int j = jb; j < N; j++) {
        for (int t = 0; t < NS_TM && ib + t < M; t++) {
            float s = 0.0f;
            for (int k = 0; k < K; k++)
                s = mad(NS_A(ib + t, k), B[(long)k * ldb + j], s);
            __global float *c = C + (long)(ib + t) * N + j;
            *c = beta != 0.0f ? alpha * s + beta * *c : alpha * s;
        }
    }
}

/* Item (g0, g1) computes the 4x4 block at rows g1*4, columns g0*4: dot products
 * along K, where both A's and B's rows are contiguous. */
__kernel void ns_gemm_nt(__global const float *A, int lda, __global const float *B, int ldb,
                         __global float *C, int M, int N, int K, float alpha, float beta)
{
    int jb = get_global_id(0) * 4, ib = get_global_id(1) * 4;
    if (jb >= N || ib >= M)
        return;
    __global const float *a[4], *b[4];
    for (int t = 0; t < 4; t++) {
        a[t] = A + (long)min(ib + t, M - 1) * lda;
        b[t] = B + (long)min(jb + t, N - 1) * ldb;
    }
    float16 s00 = 0.0f, s01 = 0.0f, s02 = 0.0f, s03 = 0.0f;
    float16 s10 = 0.0f, s11 = 0.0f, s12 = 0.0f, s13 = 0.0f;
    float16 s20 = 0.0f, s21 = 0.0f, s22 = 0.0f, s23 = 0.0f;
    float16 s30 = 0.0f, s31 = 0.0f, s32 = 0.0f, s33 = 0.0f;
    int k = 0;
    for (; k + 16 <= K; k += 16) {
        float16 a0 = vload16(0, a[0] + k), a1 = vload16(0, a[1] + k);
        float16 a2 = vload16(0, a[2] + k), a3 = vload16(0, a[3] + k);
        float16 b0 = vload16(0, b[0] + k), b1 = vload16(0, b[1] + k);
        float16 b2 = vload16(0, b[2] + k), b3 = vload16(0, b[3] + k);
        s00 = mad(a0, b0, s00); s01 = mad(a0, b1, s01); s02 = mad(a0, b2, s02); s03 = mad(a0, b3, s03);
        s10 = mad(a1, b0, s10); s11 = mad(a1, b1, s11); s12 = mad(a1, b2, s12); s13 = mad(a1, b3, s13);
        s20 = mad(a2, b0, s20); s21 = mad(a2, b1, s21); s22 = mad(a2, b2, s22); s23 = mad(a2, b3, s23);
        s30 = mad(a3, b0, s30); s31 = mad(a3, b1, s31); s32 = mad(a3, b2, s32); s33 = mad(a3, b3, s33);
    }
    float16 v[16] = {s00, s01, s02, s03, s10, s11, s12, s13,
                     s20, s21, s22, s23, s30, s31, s32, s33};
    for (int t = 0; t < 4; t++) {
        for (int u = 0; u < 4; u++) {
            float16 x = v[t * 4 + u];
            float8 h8 = x.lo + x.hi;
            float4 h4 = h8.lo + h8.hi;
            float2 h2 = h4.lo + h4.hi;
            float s = h2.x + h2.y;
            for (int kk = k; kk < K; kk++)
                s = mad(a[t][kk], b[u][kk], s);
            if (ib + t < M && jb + u < N) {
                __global float *c = C + (long)(ib + t) * N + jb + u;
                *c = beta != 0.0f ? alpha * s + beta * *c : alpha * s;
            }
        }
    }
}
