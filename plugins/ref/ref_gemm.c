/* Cache-blocked SGEMM: C is cut into MC x NC tiles (one per task), K into KC
 * panels. For each panel the KC x NC block of op(B) is packed contiguously so
 * the innermost loop, c_row[j] += a * b_row[j], is unit-stride on both sides
 * and the compiler vectorises it whatever the transposes are. Four rows of C
 * share each packed row of B to cut loads. */
#include "ref_gemm.h"

enum { MC = 64, NC = 128, KC = 128 };

static inline float elem_a(const float *a, size_t lda, int trans_a, int i, int p)
{
    return trans_a ? a[(size_t)p * lda + i] : a[(size_t)i * lda + p];
}

static void pack_b(const float *b, size_t ldb, int trans_b, int p0, int kc, int j0, int nc,
                   float *restrict bp)
{
    if (trans_b) {
        /* B is stored n x k: read its rows (contiguous in p), scatter into columns of bp. */
        for (int j = 0; j < nc; j++) {
            const float *src = b + (size_t)(j0 + j) * ldb + p0;
            for (int p = 0; p < kc; p++)
                bp[(size_t)p * nc + j] = src[p];
        }
        return;
    }
    for (int p = 0; p < kc; p++) {
        const float *src = b + (size_t)(p0 + p) * ldb + j0;
        float *dst = bp + (size_t)p * nc;
        for (int j = 0; j < nc; j++)
            dst[j] = src[j];
    }
}

/* C[i0..i0+mc)[j0..j0+nc) += alpha * op(A)[rows][p0..p0+kc) * bp */
static void tile_panel(const float *a, size_t lda, int trans_a, float alpha, int i0, int mc,
                       int p0, int kc, const float *restrict bp, int nc, float *c, size_t ldc,
                       int j0)
{
    int i = 0;
    for (; i + 4 <= mc; i += 4) {
        float *restrict c0 = c + (size_t)(i0 + i) * ldc + j0;
        float *restrict c1 = c0 + ldc;
        float *restrict c2 = c1 + ldc;
        float *restrict c3 = c2 + ldc;
        for (int p = 0; p < kc; p++) {
            float a0 = alpha * elem_a(a, lda, trans_a, i0 + i, p0 + p);
            float a1 = alpha * elem_a(a, lda, trans_a, i0 + i + 1, p0 + p);
            float a2 = alpha * elem_a(a, lda, trans_a, i0 + i + 2, p0 + p);
            float a3 = alpha * elem_a(a, lda, trans_a, i0 + i + 3, p0 + p);
            const float *restrict brow = bp + (size_t)p * nc;
            for (int j = 0; j < nc; j++) {
                float bv = brow[j];
                c0[j] += a0 * bv;
                c1[j] += a1 * bv;
                c2[j] += a2 * bv;
                c3[j] += a3 * bv;
            }
        }
    }
    for (; i < mc; i++) {
        float *restrict crow = c + (size_t)(i0 + i) * ldc + j0;
        for (int p = 0; p < kc; p++) {
            float av = alpha * elem_a(a, lda, trans_a, i0 + i, p0 + p);
            const float *restrict brow = bp + (size_t)p * nc;
            for (int j = 0; j < nc; j++)
                crow[j] += av * brow[j];
        }
    }
}

static void gemm_tile(int trans_a, int trans_b, int i0, int mc, int j0, int nc, int k,
                      float alpha, const float *a, size_t lda, const float *b, size_t ldb,
                      float beta, float *c, size_t ldc)
{
    _Alignas(64) float bp[KC * NC];
    for (int i = 0; i < mc; i++) {
        float *crow = c + (size_t)(i0 + i) * ldc + j0;
        for (int j = 0; j < nc; j++)
            crow[j] = beta == 0.0f ? 0.0f : beta * crow[j];
    }
    for (int p0 = 0; p0 < k; p0 += KC) {
        int kc = k - p0 < KC ? k - p0 : KC;
        pack_b(b, ldb, trans_b, p0, kc, j0, nc, bp);
        tile_panel(a, lda, trans_a, alpha, i0, mc, p0, kc, bp, nc, c, ldc, j0);
    }
}

void ref_sgemm(int threads, int trans_a, int trans_b, int m, int n, int k, float alpha,
               const float *a, size_t lda, const float *b, size_t ldb, float beta, float *c,
               size_t ldc)
{
    if (m <= 0 || n <= 0)
        return;
    int tiles_m = (m + MC - 1) / MC, tiles_n = (n + NC - 1) / NC;
    int tiles = tiles_m * tiles_n;
    /* Below ~1 MFLOP a team costs more than it saves. */
    int parallel = threads > 1 && tiles > 1 && (double)m * n * k > 5e5;
    (void)parallel;
#pragma omp parallel for schedule(static) num_threads(threads) if (parallel)
    for (int t = 0; t < tiles; t++) {
        int i0 = (t / tiles_n) * MC, j0 = (t % tiles_n) * NC;
        int mc = m - i0 < MC ? m - i0 : MC;
        int nc = n - j0 < NC ? n - j0 : NC;
        gemm_tile(trans_a, trans_b, i0, mc, j0, nc, k, alpha, a, lda, b, ldb, beta, c, ldc);
    }
}
