/* Single-precision GEMM for the ref backend, row-major:
 *   C[m][n] = alpha * op(A)[m][k] * op(B)[k][n] + beta * C[m][n]
 * op(A) = A (stored m x k, row stride lda) or, with trans_a, A^T (A stored k x m);
 * op(B) likewise with trans_b (B stored n x k). beta == 0 overwrites C without
 * reading it (NaN in C is ignored). Accumulates in float. Runs an OpenMP team
 * of `threads` over tiles of C when the product is large enough to pay for it;
 * inside another parallel region pass threads = 1. Cannot fail. */
#ifndef NS_REF_GEMM_H
#define NS_REF_GEMM_H

#include <stddef.h>

void ref_sgemm(int threads, int trans_a, int trans_b, int m, int n, int k, float alpha,
               const float *a, size_t lda, const float *b, size_t ldb, float beta, float *c,
               size_t ldc);

#endif
