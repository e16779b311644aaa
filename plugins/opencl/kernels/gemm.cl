/* SGEMM for CPU devices (PoCL and the like), row-major, C contiguous (ldc = N):
 *   ns_gemm_nn: C = alpha * op(A) . B + beta * C, op(A) = A or A^T (trans_a)
 *   ns_gemm_nt: C = alpha * A . B^T + beta * C
 * A CPU driver runs each work-item as plain code, so the work-items here carry
 * explicit vectors and a register tile, instead of relying on vectorisation
 * across work-items. GPUs use CLBlast (ocl_launch.c picks). beta == 0 never
 * reads C.
 *
 * The tile is a build option, chosen per device by ocl_gemm_tile.c so that the
 * accumulators fit the vector register file (spilling them to the stack costs
 * more than the tile saves):
 *   NS_TM x NS_VW    ns_gemm_nn: rows x columns of C per work-item (NS_VW 8 or 16)
 *   NS_NTB, NS_NTV   ns_gemm_nt: NS_NTB x NS_NTB block of C per work-item, dot
 *                    products along K in vectors of NS_NTV (4, 8 or 16)
 * The defaults are the AVX-512 tile (16 x float16 and 4 x 4 x float16). */

#ifndef NS_TM
#define NS_TM 16
#endif
#ifndef NS_VW
#define NS_VW 16
#endif
#ifndef NS_NTB
#define NS_NTB 4
#endif
#ifndef NS_NTV
#define NS_NTV 16
#endif

#if NS_VW == 16
typedef float16 ns_vw_t;
#define NS_VLOAD_VW vload16
#define NS_VSTORE_VW vstore16
#elif NS_VW == 8
typedef float8 ns_vw_t;
#define NS_VLOAD_VW vload8
#define NS_VSTORE_VW vstore8
#else
#error "NS_VW must be 8 or 16"
#endif

#if NS_NTV == 16
typedef float16 ns_ntv_t;
#define NS_VLOAD_NTV vload16
#elif NS_NTV == 8
typedef float8 ns_ntv_t;
#define NS_VLOAD_NTV vload8
#elif NS_NTV == 4
typedef float4 ns_ntv_t;
#define NS_VLOAD_NTV vload4
#else
#error "NS_NTV must be 4, 8 or 16"
#endif

#if NS_TM < 1 || NS_TM > 16 || NS_NTB < 1 || NS_NTB > 4
#error "NS_TM must be 1..16 and NS_NTB 1..4"
#endif

/* A(i, k) for row-major A, or for A^T when A is stored [K][M]. */
#define NS_A(i, k) (trans_a ? A[(long)(k) * lda + (i)] : A[(long)(i) * lda + (k)])

/* Row t of the tile: the guard is a compile-time constant, so rows past NS_TM
 * vanish from the code instead of living in an indexed (stack) array. */
#define NS_NN_ROWS(X) X(0) X(1) X(2) X(3) X(4) X(5) X(6) X(7) \
    X(8) X(9) X(10) X(11) X(12) X(13) X(14) X(15)
#define NS_NN_DECL(t) ns_vw_t acc##t = 0.0f; \
    const int r##t = min(ib + ((t) < NS_TM ? (t) : 0), M - 1);
#define NS_NN_FMA(t) if ((t) < NS_TM) acc##t = mad((ns_vw_t)NS_A(r##t, k), b, acc##t);
#define NS_NN_STORE(t) if ((t) < NS_TM && ib + (t) < M) { \
        __global float *c = C + (long)(ib + (t)) * N + jb; \
        ns_vw_t v = alpha * acc##t; \
        if (beta != 0.0f) \
            v += beta * NS_VLOAD_VW(0, c); \
        NS_VSTORE_VW(v, 0, c); \
    }

/* Item (g0, g1) computes rows g1*NS_TM .. +NS_TM and columns g0*NS_VW .. +NS_VW
 * of C; B streams from memory once per NS_TM rows of C. Rows past M repeat the
 * last row: computed, never stored. */
__kernel void ns_gemm_nn(__global const float *A, int lda, int trans_a, __global const float *B,
                         int ldb, __global float *C, int M, int N, int K, float alpha, float beta)
{
    int jb = get_global_id(0) * NS_VW, ib = get_global_id(1) * NS_TM;
    if (jb >= N || ib >= M)
        return;
    if (jb + NS_VW <= N) {
        NS_NN_ROWS(NS_NN_DECL)
        for (int k = 0; k < K; k++) {
            ns_vw_t b = NS_VLOAD_VW(0, B + (long)k * ldb + jb);
            NS_NN_ROWS(NS_NN_FMA)
        }
        NS_NN_ROWS(NS_NN_STORE)
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

/* Horizontal sum of one ns_ntv_t. */
float ns_ntv_sum(ns_ntv_t x)
{
#if NS_NTV == 16
    float8 h8 = x.lo + x.hi;
    float4 h4 = h8.lo + h8.hi;
#elif NS_NTV == 8
    float4 h4 = x.lo + x.hi;
#else
    float4 h4 = x;
#endif
    float2 h2 = h4.lo + h4.hi;
    return h2.x + h2.y;
}

#define NS_NT_IDX(X) X(0) X(1) X(2) X(3)
#define NS_NT_PTRS(t) \
    __global const float *a##t = A + (long)min(ib + ((t) < NS_NTB ? (t) : 0), M - 1) * lda; \
    __global const float *b##t = B + (long)min(jb + ((t) < NS_NTB ? (t) : 0), N - 1) * ldb;
#define NS_NT_DECL_ROW(t) ns_ntv_t s##t##0 = 0.0f, s##t##1 = 0.0f, s##t##2 = 0.0f, s##t##3 = 0.0f;
#define NS_NT_LOAD(t) ns_ntv_t va##t = 0.0f, vb##t = 0.0f; \
    if ((t) < NS_NTB) { va##t = NS_VLOAD_NTV(0, a##t + k); vb##t = NS_VLOAD_NTV(0, b##t + k); }
#define NS_NT_FMA1(t, u) if ((t) < NS_NTB && (u) < NS_NTB) s##t##u = mad(va##t, vb##u, s##t##u);
#define NS_NT_FMA_ROW(t) NS_NT_FMA1(t, 0) NS_NT_FMA1(t, 1) NS_NT_FMA1(t, 2) NS_NT_FMA1(t, 3)
#define NS_NT_OUT1(t, u) if ((t) < NS_NTB && (u) < NS_NTB) \
        ns_nt_store(C, M, N, K, alpha, beta, ib + (t), jb + (u), ns_ntv_sum(s##t##u), a##t, \
                    b##u, k);
#define NS_NT_OUT_ROW(t) NS_NT_OUT1(t, 0) NS_NT_OUT1(t, 1) NS_NT_OUT1(t, 2) NS_NT_OUT1(t, 3)

/* Finishes one C entry: the vector sum s plus the scalar tail from k0. */
void ns_nt_store(__global float *C, int M, int N, int K, float alpha, float beta, int i, int j,
                 float s, __global const float *a, __global const float *b, int k0)
{
    for (int kk = k0; kk < K; kk++)
        s = mad(a[kk], b[kk], s);
    if (i < M && j < N) {
        __global float *c = C + (long)i * N + j;
        *c = beta != 0.0f ? alpha * s + beta * *c : alpha * s;
    }
}

/* Item (g0, g1) computes the NS_NTB x NS_NTB block at rows g1*NS_NTB, columns
 * g0*NS_NTB: dot products along K, where both A's and B's rows are contiguous. */
__kernel void ns_gemm_nt(__global const float *A, int lda, __global const float *B, int ldb,
                         __global float *C, int M, int N, int K, float alpha, float beta)
{
    int jb = get_global_id(0) * NS_NTB, ib = get_global_id(1) * NS_NTB;
    if (jb >= N || ib >= M)
        return;
    NS_NT_IDX(NS_NT_PTRS)
    NS_NT_IDX(NS_NT_DECL_ROW)
    int k = 0;
    for (; k + NS_NTV <= K; k += NS_NTV) {
        NS_NT_IDX(NS_NT_LOAD)
        NS_NT_IDX(NS_NT_FMA_ROW)
    }
    NS_NT_IDX(NS_NT_OUT_ROW)
}
