/* Element-wise ops as OpenMP loops. They run over whatever physical layout
 * their inputs share (padding included: f(0,...) == 0 for each of them), so a
 * blocked activation never goes back to NCHW just to be rectified or added. */
#include <math.h>

#include <noisystudent/rng.h>

#include "cpu_internal.h"

#define CPU_PAR_MIN 32768 /* below this a parallel region costs more than it saves */

/* Loads and stores of physical elements: float32, or bf16 when `bf` (every
 * operand of an op shares the first input's layout and type, ew_prepare). */
#define LD16(p, i) cpu_bf16_to_f32(((const uint16_t *)(p))[i])
#define ST16(p, i, v) (((uint16_t *)(p))[i] = cpu_f32_to_bf16(v))

/* Lays out the output y like ref (already in its final layout) and returns in
 * *count how many physical floats to process. y may alias ref. */
static ns_status ew_out(cpu_ctx *ctx, ns_buf *ref, ns_buf *y, size_t n, size_t *count)
{
    if (ref->has_md && cpu_md_count(&ref->md) == n) {
        if (y != ref)
            CPU_TRY(cpu_buf_prepare_md(ctx, y, &ref->md));
        *count = cpu_buf_phys_count(ref);
        return NS_OK;
    }
    if (y != ref) /* an input that y aliases was unified with ref before */
        CPU_TRY(cpu_buf_prepare_plain(ctx, y));
    *count = n;
    return NS_OK;
}

/* Unifies up to two inputs with `ref` and lays out y; *count as ew_out.
 * *pother receives other's elements in ref's physical layout and type: other
 * itself when that keeps its content, else a copy in a temporary (a float32
 * operand meeting a bf16 ref, or a plain one larger than ref's tensor: the
 * ABI passes it const, so it must read the same afterwards). An other that
 * is also the output y is converted in place: it is about to be overwritten. */
static ns_status ew_prepare(cpu_ctx *ctx, const char *op, ns_buf *ref, ns_buf *other, ns_buf *y,
                            size_t n, size_t *count, const void **pother)
{
    CPU_TRY(cpu_check_buf(ctx, op, "first input", ref, n));
    if (other)
        CPU_TRY(cpu_check_buf(ctx, op, "second input", other, n));
    CPU_TRY(cpu_check_buf(ctx, op, "output", y, n));
    if (ref->has_md && cpu_md_count(&ref->md) != n)
        CPU_TRY(cpu_buf_to_plain(ctx, ref));
    if (other && (other == y || !ref->has_md)) {
        CPU_TRY(cpu_buf_unify(ctx, ref, other, n)); /* in place, or plain (exact) */
        *pother = other->data;
    } else if (other) {
        CPU_TRY(cpu_buf_read_in(ctx, op, other, &ref->md, 0, pother));
    }
    return ew_out(ctx, ref, y, n, count);
}

CPU_KERNEL ns_status cpu_relu_forward(void *vctx, const ns_buf *x, ns_buf *y, size_t n)
{
    cpu_ctx *ctx = vctx;
    cpu_enter(ctx);
    size_t count;
    CPU_TRY(ew_prepare(ctx, "relu_forward", cpu_mut(x), NULL, y, n, &count, NULL));
    const float *px = x->data;
    float *py = y->data;
    if (cpu_buf_is_bf16(x)) {
#pragma omp parallel for simd schedule(static) if (count > CPU_PAR_MIN)
        for (size_t i = 0; i < count; i++) {
            float v = LD16(px, i);
            ST16(py, i, v > 0.0f ? v : 0.0f);
        }
        return NS_OK;
    }
#pragma omp parallel for simd schedule(static) if (count > CPU_PAR_MIN)
    for (size_t i = 0; i < count; i++) {
        float v = px[i];
        py[i] = v > 0.0f ? v : 0.0f;
    }
    return NS_OK;
}

CPU_KERNEL ns_status cpu_relu_backward(void *vctx, const ns_buf *y, const ns_buf *dy, ns_buf *dx, size_t n)
{
    cpu_ctx *ctx = vctx;
    cpu_enter(ctx);
    size_t count;
    const void *vdy;
    CPU_TRY(ew_prepare(ctx, "relu_backward", cpu_mut(y), cpu_mut(dy), dx, n, &count, &vdy));
    const float *py = y->data, *pdy = vdy;
    float *pdx = dx->data;
    if (cpu_buf_is_bf16(y)) {
#pragma omp parallel for simd schedule(static) if (count > CPU_PAR_MIN)
        for (size_t i = 0; i < count; i++) {
            uint16_t g = ((const uint16_t *)pdy)[i];
            ((uint16_t *)pdx)[i] = LD16(py, i) > 0.0f ? g : 0;
        }
        return NS_OK;
    }
#pragma omp parallel for simd schedule(static) if (count > CPU_PAR_MIN)
    for (size_t i = 0; i < count; i++) {
        float g = pdy[i]; /* loaded unconditionally so the select vectorises */
        pdx[i] = py[i] > 0.0f ? g : 0.0f;
    }
    return NS_OK;
}

CPU_KERNEL ns_status cpu_add(void *vctx, const ns_buf *a, const ns_buf *b, ns_buf *y, size_t n)
{
    cpu_ctx *ctx = vctx;
    cpu_enter(ctx);
    size_t count;
    const void *vb;
    CPU_TRY(ew_prepare(ctx, "add", cpu_mut(a), cpu_mut(b), y, n, &count, &vb));
    const float *pa = a->data, *pb = vb;
    float *py = y->data;
    if (cpu_buf_is_bf16(a)) {
#pragma omp parallel for simd schedule(static) if (count > CPU_PAR_MIN)
        for (size_t i = 0; i < count; i++)
            ST16(py, i, LD16(pa, i) + LD16(pb, i));
        return NS_OK;
    }
#pragma omp parallel for simd schedule(static) if (count > CPU_PAR_MIN)
    for (size_t i = 0; i < count; i++)
        py[i] = pa[i] + pb[i];
    return NS_OK;
}

CPU_KERNEL ns_status cpu_mul(void *vctx, const ns_buf *a, const ns_buf *b, ns_buf *y, size_t n)
{
    cpu_ctx *ctx = vctx;
    cpu_enter(ctx);
    size_t count;
    const void *vb;
    CPU_TRY(ew_prepare(ctx, "mul", cpu_mut(a), cpu_mut(b), y, n, &count, &vb));
    const float *pa = a->data, *pb = vb;
    float *py = y->data;
    if (cpu_buf_is_bf16(a)) {
#pragma omp parallel for simd schedule(static) if (count > CPU_PAR_MIN)
        for (size_t i = 0; i < count; i++)
            ST16(py, i, LD16(pa, i) * LD16(pb, i));
        return NS_OK;
    }
#pragma omp parallel for simd schedule(static) if (count > CPU_PAR_MIN)
    for (size_t i = 0; i < count; i++)
        py[i] = pa[i] * pb[i];
    return NS_OK;
}

CPU_KERNEL ns_status cpu_axpby(void *vctx, const ns_buf *x, ns_buf *y, size_t n, float alpha, float beta)
{
    cpu_ctx *ctx = vctx;
    cpu_enter(ctx);
    size_t count;
    /* beta == 0 ignores the old y entirely (even NaN), so y is a pure output */
    const void *unused; /* the second input here is y itself: converted in place */
    CPU_TRY(ew_prepare(ctx, "axpby", cpu_mut(x), beta == 0.0f || y == x ? NULL : y, y, n,
                       &count, &unused));
    const float *px = x->data;
    float *py = y->data;
    if (cpu_buf_is_bf16(x)) {
        if (beta == 0.0f) {
#pragma omp parallel for simd schedule(static) if (count > CPU_PAR_MIN)
            for (size_t i = 0; i < count; i++)
                ST16(py, i, alpha * LD16(px, i));
        } else {
#pragma omp parallel for simd schedule(static) if (count > CPU_PAR_MIN)
            for (size_t i = 0; i < count; i++)
                ST16(py, i, alpha * LD16(px, i) + beta * LD16(py, i));
        }
        return NS_OK;
    }
    if (beta == 0.0f) {
#pragma omp parallel for simd schedule(static) if (count > CPU_PAR_MIN)
        for (size_t i = 0; i < count; i++)
            py[i] = alpha * px[i];
    } else {
#pragma omp parallel for simd schedule(static) if (count > CPU_PAR_MIN)
        for (size_t i = 0; i < count; i++)
            py[i] = alpha * px[i] + beta * py[i];
    }
    return NS_OK;
}

/* Floats per sample when x's layout keeps the batch dimension outermost and
 * unblocked (true of oneDNN's nChw16c family); 0 otherwise. */
static size_t rows_stride(const ns_buf *x, size_t rows, size_t cols)
{
    if (!x->has_md || cpu_md_count(&x->md) != rows * cols || x->md.dims[0] != (dnnl_dim_t)rows ||
        x->md.format_kind != dnnl_blocked)
        return 0;
    const dnnl_blocking_desc_t *bd = &x->md.format_desc.blocking;
    for (int i = 0; i < bd->inner_nblks; i++)
        if (bd->inner_idxs[i] == 0)
            return 0;
    size_t stride = (size_t)bd->strides[0];
    return stride * rows == cpu_buf_phys_count(x) ? stride : 0;
}

CPU_KERNEL ns_status cpu_mul_rows(void *vctx, const ns_buf *x, const ns_buf *scale, ns_buf *y, size_t rows,
                       size_t cols)
{
    cpu_ctx *ctx = vctx;
    const char *op = "mul_rows";
    cpu_enter(ctx);
    size_t n = rows * cols;
    CPU_TRY(cpu_check_buf(ctx, op, "x", x, n));
    CPU_TRY(cpu_check_buf(ctx, op, "scale", scale, rows));
    CPU_TRY(cpu_check_buf(ctx, op, "y", y, n));
    CPU_TRY(cpu_buf_to_plain(ctx, cpu_mut(scale)));
    ns_buf *X = cpu_mut(x);
    size_t stride = rows_stride(X, rows, cols);
    size_t count;
    if (!stride) {
        CPU_TRY(cpu_buf_to_plain(ctx, X));
        stride = cols;
    }
    CPU_TRY(ew_out(ctx, X, y, n, &count));
    const float *px = X->data, *ps = scale->data;
    float *py = y->data;
    if (cpu_buf_is_bf16(X)) {
#pragma omp parallel for schedule(static) if (n > CPU_PAR_MIN)
        for (size_t r = 0; r < rows; r++) {
            float sc = ps[r];
            const uint16_t *xr = (const uint16_t *)px + r * stride;
            uint16_t *yr = (uint16_t *)py + r * stride;
#pragma omp simd
            for (size_t j = 0; j < stride; j++)
                yr[j] = cpu_f32_to_bf16(cpu_bf16_to_f32(xr[j]) * sc);
        }
        return NS_OK;
    }
#pragma omp parallel for schedule(static) if (n > CPU_PAR_MIN)
    for (size_t r = 0; r < rows; r++) {
        float s = ps[r];
        const float *xr = px + r * stride;
        float *yr = py + r * stride;
#pragma omp simd
        for (size_t j = 0; j < stride; j++)
            yr[j] = xr[j] * s;
    }
    return NS_OK;
}

CPU_KERNEL ns_status cpu_mask_bernoulli(void *vctx, ns_buf *mask, size_t n, float keep_prob, float scale,
                             uint64_t seed, uint64_t stream)
{
    cpu_ctx *ctx = vctx;
    cpu_enter(ctx);
    CPU_TRY(cpu_check_buf(ctx, "mask_bernoulli", "mask", mask, n));
    if (n == mask->n)
        CPU_TRY(cpu_buf_prepare_plain(ctx, mask));
    else
        CPU_TRY(cpu_buf_to_plain(ctx, mask));
    float *pm = mask->data;
    size_t blocks = (n + 3) / 4;
    uint32_t key[2] = {(uint32_t)seed, (uint32_t)(seed >> 32)};
    /* one Philox block gives four consecutive elements (rng.h's counter rule) */
#pragma omp parallel for schedule(static) if (n > CPU_PAR_MIN / 4)
    for (size_t blk = 0; blk < blocks; blk++) {
        uint32_t ctr[4] = {(uint32_t)blk, (uint32_t)((uint64_t)blk >> 32), (uint32_t)stream,
                           (uint32_t)(stream >> 32)};
        uint32_t out[4];
        ns_philox4x32_10(ctr, key, out);
        for (size_t j = 0; j < 4; j++) {
            size_t i = blk * 4 + j;
            if (i < n)
                pm[i] = ns_u32_to_unit(out[j]) < keep_prob ? scale : 0.0f;
        }
    }
    return NS_OK;
}
