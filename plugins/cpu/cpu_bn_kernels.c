/* Batch-normalisation loops (see cpu_bn_kernels.h). Each pass walks tiles of
 * one sample and one channel block: hw*block contiguous elements, so the
 * inner loop runs over the block's lanes and vectorises for block 16 and 8.
 * Bodies are instantiated per (block, element type) so the lane loop has a
 * constant trip count and the type test folds away. */
#include <string.h>

#include <omp.h>

#include "cpu_bn_kernels.h"

int cpu_bn_layout_of(const ns_buf *x, const ns_bn_desc *d, cpu_bn_layout *L)
{
    L->n = d->n;
    L->c = d->c;
    L->hw = d->hw;
    L->bf16 = 0;
    if (!x->has_md || cpu_md_is_plain(&x->md)) {
        L->block = 1;
        L->cblocks = d->c;
        L->nstride = (size_t)d->c * d->hw;
        return 1;
    }
    const dnnl_memory_desc_t *md = &x->md;
    if (md->ndims != 4 || (md->data_type != dnnl_f32 && md->data_type != dnnl_bf16) ||
        md->format_kind != dnnl_blocked || md->dims[0] != d->n || md->dims[1] != d->c ||
        md->dims[2] * md->dims[3] != d->hw || md->offset0 != 0)
        return 0;
    const dnnl_blocking_desc_t *bd = &md->format_desc.blocking;
    if (bd->inner_nblks != 1 || bd->inner_idxs[0] != 1 ||
        (bd->inner_blks[0] != 16 && bd->inner_blks[0] != 8))
        return 0;
    dnnl_dim_t b = bd->inner_blks[0], hw = d->hw, cpad = md->padded_dims[1];
    if (bd->strides[3] != b || bd->strides[2] != md->dims[3] * b || bd->strides[1] != hw * b ||
        bd->strides[0] != cpad * hw || md->padded_dims[0] != d->n ||
        md->padded_dims[2] != md->dims[2] || md->padded_dims[3] != md->dims[3])
        return 0;
    L->block = (int)b;
    L->cblocks = (int)(cpad / b);
    L->nstride = (size_t)cpad * hw;
    L->bf16 = md->data_type == dnnl_bf16;
    return 1;
}

/* Element offset of tile t (sample t / cblocks, channel block t % cblocks). */
static inline size_t tile(const cpu_bn_layout *L, size_t t)
{
    size_t n = t / (size_t)L->cblocks, cb = t % (size_t)L->cblocks;
    return n * L->nstride + cb * (size_t)L->hw * L->block;
}

#define LDX(p, i) (BF ? cpu_bf16_to_f32(((const uint16_t *)(p))[i]) : ((const float *)(p))[i])
#define STX(p, i, v)                                                                         \
    do {                                                                                     \
        if (BF)                                                                              \
            ((uint16_t *)(p))[i] = cpu_f32_to_bf16(v);                                       \
        else                                                                                 \
            ((float *)(p))[i] = (v);                                                         \
    } while (0)
/* Pointer to tile t of an array of the layout's element type. */
#define TILE(base, t)                                                                        \
    ((void *)((char *)(uintptr_t)(base) + tile(L, (t)) * (BF ? 2u : sizeof(float))))

#define BN_DISPATCH(L, ...)                                                                  \
    do {                                                                                     \
        if ((L)->bf16 && (L)->block == 16) {                                                 \
            enum { B = 16, BF = 1 };                                                         \
            __VA_ARGS__;                                                                     \
        } else if ((L)->bf16) {                                                              \
            enum { B = 8, BF = 1 };                                                          \
            __VA_ARGS__;                                                                     \
        } else if ((L)->block == 16) {                                                       \
            enum { B = 16, BF = 0 };                                                         \
            __VA_ARGS__;                                                                     \
        } else if ((L)->block == 8) {                                                        \
            enum { B = 8, BF = 0 };                                                          \
            __VA_ARGS__;                                                                     \
        } else {                                                                             \
            enum { B = 1, BF = 0 };                                                          \
            __VA_ARGS__;                                                                     \
        }                                                                                    \
    } while (0)

/* Sums over each tile into per-thread partials (p0_, p1_), then over threads. */
#define BN_REDUCE(L, part, threads, out0, out1, ...)                                         \
    do {                                                                                     \
        size_t cp_ = (size_t)(L)->cblocks * (L)->block;                                      \
        size_t tiles_ = (size_t)(L)->n * (L)->cblocks;                                       \
        memset((part), 0, 2 * (size_t)(threads)*cp_ * sizeof(double));                       \
        _Pragma("omp parallel num_threads(threads)")                                         \
        {                                                                                    \
            double *p0_ = (part) + (size_t)omp_get_thread_num() * 2 * cp_;                   \
            double *p1_ = p0_ + cp_;                                                         \
            (void)p1_;                                                                       \
            _Pragma("omp for schedule(static)")                                              \
            for (size_t t = 0; t < tiles_; t++) {                                            \
                size_t cb = t % (size_t)(L)->cblocks;                                        \
                BN_DISPATCH(L, __VA_ARGS__);                                                 \
            }                                                                                \
        }                                                                                    \
        for (size_t k_ = 0; k_ < cp_; k_++) {                                                \
            double a_ = 0.0, b_ = 0.0;                                                       \
            for (int th_ = 0; th_ < (threads); th_++) {                                      \
                a_ += (part)[(size_t)th_ * 2 * cp_ + k_];                                    \
                b_ += (part)[(size_t)th_ * 2 * cp_ + cp_ + k_];                              \
            }                                                                                \
            (out0)[k_] = a_;                                                                 \
            (out1)[k_] = b_;                                                                 \
        }                                                                                    \
    } while (0)

#define BN_MAP(L, ...)                                                                       \
    do {                                                                                     \
        size_t tiles_ = (size_t)(L)->n * (L)->cblocks;                                       \
        _Pragma("omp parallel for schedule(static)")                                         \
        for (size_t t = 0; t < tiles_; t++) {                                                \
            size_t cb = t % (size_t)(L)->cblocks;                                            \
            BN_DISPATCH(L, __VA_ARGS__);                                                     \
        }                                                                                    \
    } while (0)

CPU_KERNEL void cpu_bn_stats(const cpu_bn_layout *L, const void *x, double *mean, double *var,
                  double *part, int threads)
{
    size_t cp = (size_t)L->cblocks * L->block;
    double m = (double)L->n * L->hw;
    /* pass 1: sums (var[cp..2cp) is scratch for the unused second sum) */
    BN_REDUCE(L, part, threads, mean, var + cp, {
        const void *p = TILE(x, t);
        float acc[B];
        for (int l = 0; l < B; l++)
            acc[l] = 0.0f;
        for (int s = 0; s < L->hw; s++)
            for (int l = 0; l < B; l++)
                acc[l] += LDX(p, (size_t)s * B + l);
        for (int l = 0; l < B; l++)
            p0_[cb * B + l] += acc[l];
    });
    for (size_t k = 0; k < cp; k++)
        mean[k] /= m;
    /* pass 2: centred squares (exact enough where sum-of-squares would cancel) */
    BN_REDUCE(L, part, threads, var, var + cp, {
        const void *p = TILE(x, t);
        float mu[B], acc[B];
        for (int l = 0; l < B; l++) {
            mu[l] = (float)mean[cb * B + l];
            acc[l] = 0.0f;
        }
        for (int s = 0; s < L->hw; s++)
            for (int l = 0; l < B; l++) {
                float v = LDX(p, (size_t)s * B + l) - mu[l];
                acc[l] += v * v;
            }
        for (int l = 0; l < B; l++)
            p0_[cb * B + l] += acc[l];
    });
    for (size_t k = 0; k < cp; k++)
        var[k] /= m;
}

CPU_KERNEL void cpu_bn_bwd_sums(const cpu_bn_layout *L, const void *x, const void *dy, const float *mean,
                     double *sdy, double *sdyx, double *part, int threads)
{
    BN_REDUCE(L, part, threads, sdy, sdyx, {
        const void *p = TILE(x, t);
        const void *g = TILE(dy, t);
        float mu[B], a0[B], a1[B];
        for (int l = 0; l < B; l++) {
            mu[l] = mean[cb * B + l];
            a0[l] = a1[l] = 0.0f;
        }
        for (int s = 0; s < L->hw; s++)
            for (int l = 0; l < B; l++) {
                float gv = LDX(g, (size_t)s * B + l);
                a0[l] += gv;
                a1[l] += gv * (LDX(p, (size_t)s * B + l) - mu[l]);
            }
        for (int l = 0; l < B; l++) {
            p0_[cb * B + l] += a0[l];
            p1_[cb * B + l] += a1[l];
        }
    });
}

CPU_KERNEL void cpu_bn_affine(const cpu_bn_layout *L, const void *x, const float *m, const float *a,
                   const float *b, void *y)
{
    BN_MAP(L, {
        const void *p = TILE(x, t);
        void *q = TILE(y, t);
        float mv[B], av[B], bv[B];
        for (int l = 0; l < B; l++) {
            mv[l] = m[cb * B + l];
            av[l] = a[cb * B + l];
            bv[l] = b[cb * B + l];
        }
        for (int s = 0; s < L->hw; s++)
            for (int l = 0; l < B; l++)
                STX(q, (size_t)s * B + l, (LDX(p, (size_t)s * B + l) - mv[l]) * av[l] + bv[l]);
    });
}

CPU_KERNEL void cpu_bn_bwd_apply(const cpu_bn_layout *L, const void *x, const void *dy, const float *mean,
                      const float *k1, const float *k2, const float *k3, void *dx)
{
    BN_MAP(L, {
        const void *p = TILE(x, t);
        const void *g = TILE(dy, t);
        void *q = TILE(dx, t);
        float mu[B], c1[B], c2[B], c3[B];
        for (int l = 0; l < B; l++) {
            mu[l] = mean[cb * B + l];
            c1[l] = k1[cb * B + l];
            c2[l] = k2[cb * B + l];
            c3[l] = k3[cb * B + l];
        }
        for (int s = 0; s < L->hw; s++)
            for (int l = 0; l < B; l++)
                STX(q, (size_t)s * B + l,
                    c1[l] * LDX(g, (size_t)s * B + l) +
                        c2[l] * (LDX(p, (size_t)s * B + l) - mu[l]) + c3[l]);
    });
}
