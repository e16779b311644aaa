/* Batch-normalisation loops over a channel-blocked layout (oneDNN's aBcd16b,
 * aBcd8b, float32 or bf16, or plain float32 NCHW as block 1), parallel over (sample, channel block)
 * tiles with per-thread partial sums and no barrier inside a pass.
 *
 * Why not oneDNN's batchnorm: its kernels synchronise threads with spinning
 * barriers several times per call, which collapses (10-20x) when the cores are
 * shared with other work; these loops degrade gracefully. */
#ifndef NS_CPU_BN_KERNELS_H
#define NS_CPU_BN_KERNELS_H

#include <stddef.h>

#include "cpu_internal.h"

typedef struct cpu_bn_layout {
    int n, c, hw;
    int block;      /* channels per block: 16, 8 or 1 (plain) */
    int bf16;       /* elements are bf16 (blocked layouts only) */
    int cblocks;    /* ceil(c / block) */
    size_t nstride; /* floats between samples */
} cpu_bn_layout;

/* Describes how x (n*c*hw elements for d; x, dy, y and dx of one call share
 * it) is laid out; 0 when the layout is
 * none of the supported ones (the caller then makes x plain and asks again). */
int cpu_bn_layout_of(const ns_buf *x, const ns_bn_desc *d, cpu_bn_layout *L);

/* Per-channel batch mean and biased variance (two passes, double partials).
 * part: 2 * threads * cblocks*block doubles of workspace. */
void cpu_bn_stats(const cpu_bn_layout *L, const void *x, double *mean, double *var,
                  double *part, int threads);
/* y = (x - m[c]) * a[c] + b[c] over the padded layout (m, a, b: cblocks*block
 * floats, zero in padded channels so the padding stays zero). y may be x. */
void cpu_bn_affine(const cpu_bn_layout *L, const void *x, const float *m, const float *a,
                   const float *b, void *y);
/* sdy[c] = sum dy, sdyx[c] = sum dy * (x - mean[c]). */
void cpu_bn_bwd_sums(const cpu_bn_layout *L, const void *x, const void *dy, const float *mean,
                     double *sdy, double *sdyx, double *part, int threads);
/* dx = k1[c]*dy + k2[c]*(x - mean[c]) + k3[c]. dx may be dy. */
void cpu_bn_bwd_apply(const cpu_bn_layout *L, const void *x, const void *dy, const float *mean,
                      const float *k1, const float *k2, const float *k3, void *dx);

#endif
