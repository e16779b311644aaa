/* Element-wise ops. Each reads element i and writes element i only, which is
 * why the header lets their outputs alias their inputs. */
#include "ref_backend.h"

#include <noisystudent/rng.h>

static ns_status check2(ref_ctx *ctx, const char *op, const char *na, const ns_buf *a,
                        const char *nb, const ns_buf *b, size_t n)
{
    ns_status st = ref_check_buf(ctx, op, na, a, n);
    return st == NS_OK ? ref_check_buf(ctx, op, nb, b, n) : st;
}

static ns_status check3(ref_ctx *ctx, const char *op, const char *na, const ns_buf *a,
                        const char *nb, const ns_buf *b, const char *nc, const ns_buf *c,
                        size_t n)
{
    ns_status st = check2(ctx, op, na, a, nb, b, n);
    return st == NS_OK ? ref_check_buf(ctx, op, nc, c, n) : st;
}

ns_status ref_relu_forward(void *vctx, const ns_buf *x, ns_buf *y, size_t n)
{
    ref_ctx *ctx = vctx;
    ns_status st = check2(ctx, "relu_forward", "x", x, "y", y, n);
    if (st != NS_OK)
        return st;
    const float *xs = x->data;
    float *ys = y->data;
#pragma omp parallel for schedule(static) num_threads(ref_team(ctx, (double)n))
    for (size_t i = 0; i < n; i++)
        ys[i] = xs[i] > 0.0f ? xs[i] : 0.0f;
    return NS_OK;
}

ns_status ref_relu_backward(void *vctx, const ns_buf *y, const ns_buf *dy, ns_buf *dx, size_t n)
{
    ref_ctx *ctx = vctx;
    ns_status st = check3(ctx, "relu_backward", "y", y, "dy", dy, "dx", dx, n);
    if (st != NS_OK)
        return st;
    const float *ys = y->data, *dys = dy->data;
    float *dxs = dx->data;
#pragma omp parallel for schedule(static) num_threads(ref_team(ctx, (double)n))
    for (size_t i = 0; i < n; i++)
        dxs[i] = ys[i] > 0.0f ? dys[i] : 0.0f;
    return NS_OK;
}

ns_status ref_add(void *vctx, const ns_buf *a, const ns_buf *b, ns_buf *y, size_t n)
{
    ref_ctx *ctx = vctx;
    ns_status st = check3(ctx, "add", "a", a, "b", b, "y", y, n);
    if (st != NS_OK)
        return st;
    const float *as = a->data, *bs = b->data;
    float *ys = y->data;
#pragma omp parallel for schedule(static) num_threads(ref_team(ctx, (double)n))
    for (size_t i = 0; i < n; i++)
        ys[i] = as[i] + bs[i];
    return NS_OK;
}

ns_status ref_axpby(void *vctx, const ns_buf *x, ns_buf *y, size_t n, float alpha, float beta)
{
    ref_ctx *ctx = vctx;
    ns_status st = check2(ctx, "axpby", "x", x, "y", y, n);
    if (st != NS_OK)
        return st;
    const float *xs = x->data;
    float *ys = y->data;
#pragma omp parallel for schedule(static) num_threads(ref_team(ctx, (double)n))
    for (size_t i = 0; i < n; i++)
        ys[i] = beta == 0.0f ? alpha * xs[i] : alpha * xs[i] + beta * ys[i];
    return NS_OK;
}

ns_status ref_mul(void *vctx, const ns_buf *a, const ns_buf *b, ns_buf *y, size_t n)
{
    ref_ctx *ctx = vctx;
    ns_status st = check3(ctx, "mul", "a", a, "b", b, "y", y, n);
    if (st != NS_OK)
        return st;
    const float *as = a->data, *bs = b->data;
    float *ys = y->data;
#pragma omp parallel for schedule(static) num_threads(ref_team(ctx, (double)n))
    for (size_t i = 0; i < n; i++)
        ys[i] = as[i] * bs[i];
    return NS_OK;
}

ns_status ref_mul_rows(void *vctx, const ns_buf *x, const ns_buf *scale, ns_buf *y, size_t rows,
                       size_t cols)
{
    ref_ctx *ctx = vctx;
    const char *op = "mul_rows";
    if (cols && rows > ((size_t)1 << 40) / cols)
        return REF_FAIL(ctx, NS_ERR_INVALID_ARG, "%s: rows*cols (%zu*%zu) too large", op, rows,
                        cols);
    size_t n = rows * cols;
    ns_status st = check2(ctx, op, "x", x, "y", y, n);
    if (st == NS_OK)
        st = ref_check_buf(ctx, op, "scale", scale, rows);
    if (st != NS_OK)
        return st;
    const float *xs = x->data, *ss = scale->data;
    float *ys = y->data;
#pragma omp parallel for schedule(static) num_threads(ref_team(ctx, (double)n))
    for (size_t r = 0; r < rows; r++)
        for (size_t j = 0; j < cols; j++)
            ys[r * cols + j] = xs[r * cols + j] * ss[r];
    return NS_OK;
}

ns_status ref_mask_bernoulli(void *vctx, ns_buf *mask, size_t n, float keep_prob, float scale,
                             uint64_t seed, uint64_t stream)
{
    ref_ctx *ctx = vctx;
    const char *op = "mask_bernoulli";
    ns_status st = ref_check_buf(ctx, op, "mask", mask, n);
    if (st != NS_OK)
        return st;
    if (!(keep_prob >= 0.0f && keep_prob <= 1.0f))
        return REF_FAIL(ctx, NS_ERR_INVALID_ARG, "%s: keep_prob is %g, expected in [0, 1]", op,
                        (double)keep_prob);
    float *ms = mask->data;
#pragma omp parallel for schedule(static) num_threads(ref_team(ctx, (double)n))
    for (size_t i = 0; i < n; i++)
        ms[i] = ns_philox_uniform_at(seed, stream, i) < keep_prob ? scale : 0.0f;
    return NS_OK;
}
