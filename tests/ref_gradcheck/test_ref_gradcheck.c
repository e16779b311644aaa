/* Finite-difference checks of every differentiable ref op: the analytic
 * gradient an op's backward returns must match central differences of the
 * scalar L = sum(r * out) for a random projection r, accumulated in double.
 *
 * Tolerances (relative L2 error over the checked points, see rt_check_gradient):
 *   linear ops (conv, dense, pooling, relu, mul, mul_rows): eps 1e-2, tol 2e-3 —
 *     central differences of a linear function are exact, so only float
 *     rounding of the forward pass remains;
 *   batchnorm, softmax cross-entropy: eps 1e-2, tol 1e-2 (O(eps^2) truncation).
 * Forward passes of conv and dense are also compared with a naive double
 * loop (max |diff| <= 1e-5 * (1 + max |ref|)). */
#include <math.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "ref_test_harness.h"
#include "util/error.h"

#define EPS 1e-2f
#define TOL_LINEAR 2e-3
#define TOL_NONLINEAR 1e-2
#define MAX_POINTS 64

static void expect_ok(ns_status st, const char *op)
{
    if (st != NS_OK)
        fail_msg("%s failed: %s", op, ns_last_error());
}

static void expect_close(const char *what, const float *got, const double *want, size_t n)
{
    double max_ref = 0.0, max_diff = 0.0;
    size_t at = 0;
    for (size_t i = 0; i < n; i++) {
        max_ref = fmax(max_ref, fabs(want[i]));
        double d = fabs(got[i] - want[i]);
        if (d > max_diff) {
            max_diff = d;
            at = i;
        }
    }
    if (!(max_diff <= 1e-5 * (1.0 + max_ref)))
        fail_msg("%s: max |diff| %.3g at %zu (got %.7g, want %.7g)", what, max_diff, at,
                 (double)got[at], want[at]);
}

/* ------------------------------------------------------------------ conv */

typedef struct conv_state {
    ns_backend *be;
    ns_conv_desc d;
    size_t nx, nw, ny;
    float *x, *w, *r, *y;
    ns_buf *bx, *bw, *by;
} conv_state;

static double conv_loss(void *vs)
{
    conv_state *s = vs;
    rt_upload(s->be, s->bx, s->x, s->nx);
    rt_upload(s->be, s->bw, s->w, s->nw);
    expect_ok(s->be->api->conv2d_forward(s->be->ctx, &s->d, s->bx, s->bw, s->by), "conv2d_forward");
    rt_download(s->be, s->by, s->y, s->ny);
    return rt_dot(s->r, s->y, s->ny);
}

static void naive_conv(const ns_conv_desc *d, const float *x, const float *w, double *y)
{
    for (int n = 0; n < d->n; n++)
        for (int k = 0; k < d->k; k++)
            for (int p = 0; p < d->p; p++)
                for (int q = 0; q < d->q; q++) {
                    double acc = 0.0;
                    for (int c = 0; c < d->c; c++)
                        for (int r = 0; r < d->r; r++)
                            for (int s = 0; s < d->s; s++) {
                                int iy = p * d->stride - d->pad + r, ix = q * d->stride - d->pad + s;
                                if (iy < 0 || iy >= d->h || ix < 0 || ix >= d->w)
                                    continue;
                                acc += (double)x[((n * d->c + c) * d->h + iy) * d->w + ix] *
                                       w[((k * d->c + c) * d->r + r) * d->s + s];
                            }
                    y[((n * d->k + k) * d->p + p) * d->q + q] = acc;
                }
}

static void check_conv(ns_backend *be, int n, int c, int h, int w, int k, int r, int s,
                       int stride, int pad, uint64_t seed)
{
    conv_state st = {.be = be};
    ns_conv_desc *d = &st.d;
    *d = (ns_conv_desc){n, c, h, w, k, r, s, stride, pad, 0, 0};
    d->p = (h + 2 * pad - r) / stride + 1;
    d->q = (w + 2 * pad - s) / stride + 1;
    st.nx = (size_t)n * c * h * w;
    st.nw = (size_t)k * c * r * s;
    st.ny = (size_t)n * k * d->p * d->q;
    st.x = rt_alloc(st.nx);
    st.w = rt_alloc(st.nw);
    st.r = rt_alloc(st.ny);
    st.y = rt_alloc(st.ny);
    rt_fill_uniform(st.x, st.nx, seed, 1, -1.0f, 1.0f);
    rt_fill_uniform(st.w, st.nw, seed, 2, -1.0f, 1.0f);
    rt_fill_uniform(st.r, st.ny, seed, 3, -1.0f, 1.0f);
    st.bx = rt_buf(be, st.x, st.nx);
    st.bw = rt_buf(be, st.w, st.nw);
    st.by = rt_buf(be, NULL, st.ny);

    char what[160];
    snprintf(what, sizeof what, "conv n=%d c=%d %dx%d k=%d %dx%d stride=%d pad=%d", n, c, h, w,
             k, r, s, stride, pad);
    double *want = calloc(st.ny, sizeof *want);
    assert_non_null(want);
    naive_conv(d, st.x, st.w, want);
    conv_loss(&st);
    expect_close(what, st.y, want, st.ny);
    free(want);

    ns_buf *bdy = rt_buf(be, st.r, st.ny), *bdx = rt_buf(be, NULL, st.nx),
           *bdw = rt_buf(be, NULL, st.nw);
    expect_ok(be->api->conv2d_backward_data(be->ctx, d, bdy, st.bw, bdx), "conv2d_backward_data");
    expect_ok(be->api->conv2d_backward_filter(be->ctx, d, st.bx, bdy, bdw),
              "conv2d_backward_filter");
    float *dx = rt_alloc(st.nx), *dw = rt_alloc(st.nw);
    rt_download(be, bdx, dx, st.nx);
    rt_download(be, bdw, dw, st.nw);
    char name[200];
    snprintf(name, sizeof name, "%s: dx", what);
    rt_check_gradient(name, st.x, st.nx, dx, conv_loss, &st, EPS, TOL_LINEAR, MAX_POINTS);
    snprintf(name, sizeof name, "%s: dw", what);
    rt_check_gradient(name, st.w, st.nw, dw, conv_loss, &st, EPS, TOL_LINEAR, MAX_POINTS);

    free(dx);
    free(dw);
    rt_free(be, bdy);
    rt_free(be, bdx);
    rt_free(be, bdw);
    rt_free(be, st.bx);
    rt_free(be, st.bw);
    rt_free(be, st.by);
    free(st.x);
    free(st.w);
    free(st.r);
    free(st.y);
}

static void test_conv_gradients(void **state)
{
    ns_backend *be = *state;
    /*        n  c   h   w   k  r  s  stride pad */
    check_conv(be, 2, 5, 5, 5, 3, 1, 1, 1, 0, 11);   /* 1x1 s1 p0: no im2col */
    check_conv(be, 2, 3, 7, 7, 4, 1, 1, 2, 0, 12);   /* 1x1 stride 2 */
    check_conv(be, 2, 3, 7, 5, 4, 3, 3, 1, 1, 13);   /* 3x3 same */
    check_conv(be, 1, 3, 9, 7, 2, 3, 3, 2, 1, 14);   /* 3x3 stride 2, odd sizes */
    check_conv(be, 2, 2, 6, 7, 3, 3, 3, 1, 0, 15);   /* 3x3 valid */
    check_conv(be, 1, 2, 7, 7, 3, 5, 5, 1, 1, 16);   /* 5x5 pad 1 */
    check_conv(be, 2, 2, 9, 8, 3, 5, 5, 2, 0, 17);   /* 5x5 stride 2 valid */
    check_conv(be, 3, 17, 6, 5, 70, 3, 3, 1, 1, 18);   /* several GEMM tiles and K panels */
}

/* ------------------------------------------------------------- batchnorm */

typedef struct bn_state {
    ns_backend *be;
    ns_bn_desc d;
    size_t nx;
    float *x, *gamma, *beta, *r, *y;
    ns_buf *bx, *bg, *bb, *brm, *brv, *by, *bsm, *bsi;
} bn_state;

static double bn_loss(void *vs)
{
    bn_state *s = vs;
    rt_upload(s->be, s->bx, s->x, s->nx);
    rt_upload(s->be, s->bg, s->gamma, (size_t)s->d.c);
    rt_upload(s->be, s->bb, s->beta, (size_t)s->d.c);
    expect_ok(s->be->api->batchnorm_forward_train(s->be->ctx, &s->d, s->bx, s->bg, s->bb, s->brm,
                                                  s->brv, s->by, s->bsm, s->bsi),
              "batchnorm_forward_train");
    rt_download(s->be, s->by, s->y, s->nx);
    return rt_dot(s->r, s->y, s->nx);
}

static void check_bn(ns_backend *be, int n, int c, int hw, uint64_t seed)
{
    bn_state st = {.be = be, .d = {n, c, hw, 1e-5f, 0.1f}};
    size_t cc = (size_t)c;
    st.nx = (size_t)n * c * hw;
    st.x = rt_alloc(st.nx);
    st.y = rt_alloc(st.nx);
    st.r = rt_alloc(st.nx);
    st.gamma = rt_alloc(cc);
    st.beta = rt_alloc(cc);
    rt_fill_uniform(st.x, st.nx, seed, 1, -2.0f, 3.0f);
    rt_fill_uniform(st.r, st.nx, seed, 2, -1.0f, 1.0f);
    rt_fill_uniform(st.gamma, cc, seed, 3, 0.5f, 1.5f);
    rt_fill_uniform(st.beta, cc, seed, 4, -0.5f, 0.5f);
    st.bx = rt_buf(be, NULL, st.nx);
    st.by = rt_buf(be, NULL, st.nx);
    st.bg = rt_buf(be, NULL, cc);
    st.bb = rt_buf(be, NULL, cc);
    st.brm = rt_buf(be, NULL, cc);
    st.brv = rt_buf(be, NULL, cc);
    st.bsm = rt_buf(be, NULL, cc);
    st.bsi = rt_buf(be, NULL, cc);
    expect_ok(be->api->fill(be->ctx, st.brm, cc, 0.0f), "fill");
    expect_ok(be->api->fill(be->ctx, st.brv, cc, 1.0f), "fill");
    bn_loss(&st); /* leaves save_mean/save_invstd of the unperturbed input */

    ns_buf *bdy = rt_buf(be, st.r, st.nx), *bdx = rt_buf(be, NULL, st.nx),
           *bdg = rt_buf(be, NULL, cc), *bdb = rt_buf(be, NULL, cc);
    expect_ok(be->api->batchnorm_backward(be->ctx, &st.d, st.bx, bdy, st.bg, st.bsm, st.bsi, bdx,
                                          bdg, bdb),
              "batchnorm_backward");
    float *dx = rt_alloc(st.nx), *dg = rt_alloc(cc), *db = rt_alloc(cc);
    rt_download(be, bdx, dx, st.nx);
    rt_download(be, bdg, dg, cc);
    rt_download(be, bdb, db, cc);
    char name[120];
    snprintf(name, sizeof name, "batchnorm n=%d c=%d hw=%d: dx", n, c, hw);
    rt_check_gradient(name, st.x, st.nx, dx, bn_loss, &st, EPS, TOL_NONLINEAR, MAX_POINTS);
    snprintf(name, sizeof name, "batchnorm n=%d c=%d hw=%d: dgamma", n, c, hw);
    rt_check_gradient(name, st.gamma, cc, dg, bn_loss, &st, EPS, TOL_NONLINEAR, MAX_POINTS);
    snprintf(name, sizeof name, "batchnorm n=%d c=%d hw=%d: dbeta", n, c, hw);
    rt_check_gradient(name, st.beta, cc, db, bn_loss, &st, EPS, TOL_NONLINEAR, MAX_POINTS);

    free(dx);
    free(dg);
    free(db);
    ns_buf *all[] = {bdy, bdx, bdg, bdb, st.bx, st.by, st.bg, st.bb, st.brm, st.brv, st.bsm, st.bsi};
    for (size_t i = 0; i < sizeof all / sizeof *all; i++)
        rt_free(be, all[i]);
    free(st.x);
    free(st.y);
    free(st.r);
    free(st.gamma);
    free(st.beta);
}

static void test_batchnorm_gradients(void **state)
{
    ns_backend *be = *state;
    check_bn(be, 3, 5, 7, 21);
    check_bn(be, 1, 3, 9, 22);  /* batch 1: statistics over the image only */
    check_bn(be, 4, 2, 1, 23);  /* hw 1: statistics over the batch only */
    check_bn(be, 2, 17, 16, 24);
}

/* ------------------------------------------------ single-input ops: y = f(x) */

typedef enum unary_op { OP_RELU, OP_GAP, OP_MUL, OP_MUL_ROWS } unary_op;

typedef struct unary_state {
    ns_backend *be;
    unary_op op;
    size_t nx, ny;
    int n, c, hw;        /* pooling shape; rows = n, cols = c*hw for mul_rows */
    float *x, *r, *y;
    ns_buf *bx, *by, *bfactor; /* factor: mask for mul, per-row scale for mul_rows */
} unary_state;

static void unary_forward(unary_state *s)
{
    const ns_backend_api *a = s->be->api;
    void *ctx = s->be->ctx;
    switch (s->op) {
    case OP_RELU: expect_ok(a->relu_forward(ctx, s->bx, s->by, s->nx), "relu_forward"); break;
    case OP_GAP:
        expect_ok(a->global_avg_pool_forward(ctx, s->bx, s->by, s->n, s->c, s->hw),
                  "global_avg_pool_forward");
        break;
    case OP_MUL: expect_ok(a->mul(ctx, s->bx, s->bfactor, s->by, s->nx), "mul"); break;
    case OP_MUL_ROWS:
        expect_ok(a->mul_rows(ctx, s->bx, s->bfactor, s->by, (size_t)s->n, (size_t)s->c * s->hw),
                  "mul_rows");
        break;
    }
}

static double unary_loss(void *vs)
{
    unary_state *s = vs;
    rt_upload(s->be, s->bx, s->x, s->nx);
    unary_forward(s);
    rt_download(s->be, s->by, s->y, s->ny);
    return rt_dot(s->r, s->y, s->ny);
}

static void check_unary(ns_backend *be, unary_op op, const char *what, int n, int c, int hw,
                        uint64_t seed)
{
    unary_state st = {.be = be, .op = op, .n = n, .c = c, .hw = hw};
    st.nx = (size_t)n * c * hw;
    st.ny = op == OP_GAP ? (size_t)n * c : st.nx;
    st.x = rt_alloc(st.nx);
    st.r = rt_alloc(st.ny);
    st.y = rt_alloc(st.ny);
    rt_fill_away_from_zero(st.x, st.nx, seed, 1, 0.05f, 1.0f);
    rt_fill_uniform(st.r, st.ny, seed, 2, -1.0f, 1.0f);
    st.bx = rt_buf(be, st.x, st.nx);
    st.by = rt_buf(be, NULL, st.ny);
    size_t nfactor = op == OP_MUL_ROWS ? (size_t)n : st.nx;
    st.bfactor = rt_buf(be, NULL, nfactor);
    if (op == OP_MUL)
        expect_ok(be->api->mask_bernoulli(be->ctx, st.bfactor, nfactor, 0.7f, 1.0f / 0.7f, seed, 5),
                  "mask_bernoulli");
    else if (op == OP_MUL_ROWS)
        expect_ok(be->api->mask_bernoulli(be->ctx, st.bfactor, nfactor, 0.5f, 2.0f, seed, 6),
                  "mask_bernoulli");

    /* The backward of each op, applied to dy = r. */
    ns_buf *bdy = rt_buf(be, st.r, st.ny), *bdx = rt_buf(be, NULL, st.nx);
    const ns_backend_api *a = be->api;
    switch (op) {
    case OP_RELU:
        unary_forward(&st);
        expect_ok(a->relu_backward(be->ctx, st.by, bdy, bdx, st.nx), "relu_backward");
        break;
    case OP_GAP:
        expect_ok(a->global_avg_pool_backward(be->ctx, bdy, bdx, n, c, hw),
                  "global_avg_pool_backward");
        break;
    case OP_MUL: expect_ok(a->mul(be->ctx, bdy, st.bfactor, bdx, st.nx), "mul"); break;
    case OP_MUL_ROWS:
        expect_ok(a->mul_rows(be->ctx, bdy, st.bfactor, bdx, (size_t)n, (size_t)c * hw),
                  "mul_rows");
        break;
    }
    float *dx = rt_alloc(st.nx);
    rt_download(be, bdx, dx, st.nx);
    rt_check_gradient(what, st.x, st.nx, dx, unary_loss, &st, EPS, TOL_LINEAR, MAX_POINTS);

    free(dx);
    rt_free(be, bdy);
    rt_free(be, bdx);
    rt_free(be, st.bx);
    rt_free(be, st.by);
    rt_free(be, st.bfactor);
    free(st.x);
    free(st.r);
    free(st.y);
}

static void test_elementwise_and_pool_gradients(void **state)
{
    ns_backend *be = *state;
    check_unary(be, OP_RELU, "relu", 2, 3, 11, 31);
    check_unary(be, OP_GAP, "global_avg_pool", 3, 5, 7, 32);
    check_unary(be, OP_GAP, "global_avg_pool hw=1", 2, 3, 1, 33);
    check_unary(be, OP_MUL, "mul (dropout mask)", 2, 3, 13, 34);
    check_unary(be, OP_MUL_ROWS, "mul_rows (drop-path scale)", 5, 3, 7, 35);
}

/* ----------------------------------------------------------------- dense */

typedef struct dense_state {
    ns_backend *be;
    ns_dense_desc d;
    size_t nx, nw, ny;
    float *x, *w, *b, *r, *y;
    ns_buf *bx, *bw, *bb, *by;
} dense_state;

static double dense_loss(void *vs)
{
    dense_state *s = vs;
    rt_upload(s->be, s->bx, s->x, s->nx);
    rt_upload(s->be, s->bw, s->w, s->nw);
    rt_upload(s->be, s->bb, s->b, (size_t)s->d.out);
    expect_ok(s->be->api->dense_forward(s->be->ctx, &s->d, s->bx, s->bw, s->bb, s->by),
              "dense_forward");
    rt_download(s->be, s->by, s->y, s->ny);
    return rt_dot(s->r, s->y, s->ny);
}

static void check_dense(ns_backend *be, int n, int in, int out, uint64_t seed)
{
    dense_state st = {.be = be, .d = {n, in, out}};
    st.nx = (size_t)n * in;
    st.nw = (size_t)out * in;
    st.ny = (size_t)n * out;
    st.x = rt_alloc(st.nx);
    st.w = rt_alloc(st.nw);
    st.b = rt_alloc((size_t)out);
    st.r = rt_alloc(st.ny);
    st.y = rt_alloc(st.ny);
    rt_fill_uniform(st.x, st.nx, seed, 1, -1.0f, 1.0f);
    rt_fill_uniform(st.w, st.nw, seed, 2, -1.0f, 1.0f);
    rt_fill_uniform(st.b, (size_t)out, seed, 3, -1.0f, 1.0f);
    rt_fill_uniform(st.r, st.ny, seed, 4, -1.0f, 1.0f);
    st.bx = rt_buf(be, NULL, st.nx);
    st.bw = rt_buf(be, NULL, st.nw);
    st.bb = rt_buf(be, NULL, (size_t)out);
    st.by = rt_buf(be, NULL, st.ny);

    char what[100];
    snprintf(what, sizeof what, "dense n=%d in=%d out=%d", n, in, out);
    double *want = calloc(st.ny, sizeof *want);
    assert_non_null(want);
    for (int i = 0; i < n; i++)
        for (int o = 0; o < out; o++) {
            double acc = st.b[o];
            for (int j = 0; j < in; j++)
                acc += (double)st.x[(size_t)i * in + j] * st.w[(size_t)o * in + j];
            want[(size_t)i * out + o] = acc;
        }
    dense_loss(&st);
    expect_close(what, st.y, want, st.ny);
    free(want);

    ns_buf *bdy = rt_buf(be, st.r, st.ny), *bdx = rt_buf(be, NULL, st.nx),
           *bdw = rt_buf(be, NULL, st.nw), *bdb = rt_buf(be, NULL, (size_t)out);
    expect_ok(be->api->dense_backward(be->ctx, &st.d, st.bx, st.bw, bdy, bdx, bdw, bdb),
              "dense_backward");
    float *dx = rt_alloc(st.nx), *dw = rt_alloc(st.nw), *db = rt_alloc((size_t)out);
    rt_download(be, bdx, dx, st.nx);
    rt_download(be, bdw, dw, st.nw);
    rt_download(be, bdb, db, (size_t)out);
    char name[140];
    snprintf(name, sizeof name, "%s: dx", what);
    rt_check_gradient(name, st.x, st.nx, dx, dense_loss, &st, EPS, TOL_LINEAR, MAX_POINTS);
    snprintf(name, sizeof name, "%s: dw", what);
    rt_check_gradient(name, st.w, st.nw, dw, dense_loss, &st, EPS, TOL_LINEAR, MAX_POINTS);
    snprintf(name, sizeof name, "%s: db", what);
    rt_check_gradient(name, st.b, (size_t)out, db, dense_loss, &st, EPS, TOL_LINEAR, MAX_POINTS);

    /* Without dx and db the weight gradient is the same. */
    float *dw2 = rt_alloc(st.nw);
    expect_ok(be->api->dense_backward(be->ctx, &st.d, st.bx, st.bw, bdy, NULL, bdw, NULL),
              "dense_backward (dx, db NULL)");
    rt_download(be, bdw, dw2, st.nw);
    assert_memory_equal(dw, dw2, st.nw * sizeof(float));

    free(dw2);
    free(dx);
    free(dw);
    free(db);
    ns_buf *all[] = {bdy, bdx, bdw, bdb, st.bx, st.bw, st.bb, st.by};
    for (size_t i = 0; i < sizeof all / sizeof *all; i++)
        rt_free(be, all[i]);
    free(st.x);
    free(st.w);
    free(st.b);
    free(st.r);
    free(st.y);
}

static void test_dense_gradients(void **state)
{
    ns_backend *be = *state;
    check_dense(be, 3, 7, 5, 41);
    check_dense(be, 1, 13, 10, 42);   /* batch 1 */
    check_dense(be, 17, 70, 9, 43);   /* in > one GEMM tile */
    check_dense(be, 67, 130, 131, 44); /* every dimension spans several tiles/panels */
}

/* ------------------------------------------------- softmax cross-entropy */

typedef enum target_kind { T_SOFT, T_UNNORMALISED, T_ONE_HOT } target_kind;

typedef struct ce_state {
    ns_backend *be;
    int n, classes;
    float grad_scale;
    size_t count;
    float *logits, *targets, *loss;
    ns_buf *bl, *bt, *bloss;
} ce_state;

static double ce_loss(void *vs)
{
    ce_state *s = vs;
    rt_upload(s->be, s->bl, s->logits, s->count);
    expect_ok(s->be->api->softmax_cross_entropy(s->be->ctx, s->n, s->classes, s->bl, s->bt,
                                                s->grad_scale, s->bloss, NULL),
              "softmax_cross_entropy");
    rt_download(s->be, s->bloss, s->loss, (size_t)s->n);
    double sum = 0.0;
    for (int i = 0; i < s->n; i++)
        sum += s->loss[i];
    return s->grad_scale * sum;
}

static void check_ce(ns_backend *be, int n, int classes, target_kind kind, float grad_scale,
                     uint64_t seed)
{
    ce_state st = {.be = be, .n = n, .classes = classes, .grad_scale = grad_scale};
    st.count = (size_t)n * classes;
    st.logits = rt_alloc(st.count);
    st.targets = rt_alloc(st.count);
    st.loss = rt_alloc((size_t)n);
    rt_fill_uniform(st.logits, st.count, seed, 1, -4.0f, 4.0f);
    rt_fill_uniform(st.targets, st.count, seed, 2, 0.0f, 1.0f);
    for (int i = 0; i < n; i++) {
        float *t = st.targets + (size_t)i * classes;
        double sum = 0.0;
        for (int j = 0; j < classes; j++) {
            if (kind == T_ONE_HOT)
                t[j] = j == (i * 7 + 3) % classes ? 1.0f : 0.0f;
            else if (j % 3 == 1)
                t[j] = 0.0f; /* zero targets contribute nothing */
            sum += t[j];
        }
        /* Soft rows sum to 1; unnormalised rows sum to 0.5, 1.5, 2.5, ... and
         * the last row is all zero (a sample weighted out). */
        double want = kind == T_UNNORMALISED ? 0.5 + i : 1.0;
        for (int j = 0; j < classes && kind != T_ONE_HOT; j++)
            t[j] = (float)(t[j] * want / sum);
        if (kind == T_UNNORMALISED && i == n - 1)
            for (int j = 0; j < classes; j++)
                t[j] = 0.0f;
    }
    st.bl = rt_buf(be, st.logits, st.count);
    st.bt = rt_buf(be, st.targets, st.count);
    st.bloss = rt_buf(be, NULL, (size_t)n);
    ns_buf *bg = rt_buf(be, NULL, st.count);
    expect_ok(be->api->softmax_cross_entropy(be->ctx, n, classes, st.bl, st.bt, grad_scale,
                                             st.bloss, bg),
              "softmax_cross_entropy");
    float *g = rt_alloc(st.count);
    rt_download(be, bg, g, st.count);

    /* The loss itself against a double log-sum-exp. */
    rt_download(be, st.bloss, st.loss, (size_t)n);
    double *want = calloc((size_t)n, sizeof *want);
    assert_non_null(want);
    for (int i = 0; i < n; i++) {
        const float *z = st.logits + (size_t)i * classes, *t = st.targets + (size_t)i * classes;
        double max = z[0], sum = 0.0;
        for (int j = 1; j < classes; j++)
            max = fmax(max, z[j]);
        for (int j = 0; j < classes; j++)
            sum += exp(z[j] - max);
        for (int j = 0; j < classes; j++)
            want[i] -= t[j] * (z[j] - max - log(sum));
    }
    char what[120];
    snprintf(what, sizeof what, "softmax_cross_entropy n=%d classes=%d targets=%s", n, classes,
             kind == T_SOFT ? "soft" : kind == T_ONE_HOT ? "one-hot" : "unnormalised");
    expect_close(what, st.loss, want, (size_t)n);
    free(want);
    rt_check_gradient(what, st.logits, st.count, g, ce_loss, &st, EPS, TOL_NONLINEAR, MAX_POINTS);

    free(g);
    rt_free(be, bg);
    rt_free(be, st.bl);
    rt_free(be, st.bt);
    rt_free(be, st.bloss);
    free(st.logits);
    free(st.targets);
    free(st.loss);
}

static void test_softmax_cross_entropy_gradients(void **state)
{
    ns_backend *be = *state;
    check_ce(be, 4, 10, T_SOFT, 1.0f, 51);
    check_ce(be, 5, 7, T_UNNORMALISED, 0.37f, 52);
    check_ce(be, 3, 37, T_ONE_HOT, 1.0f / 3.0f, 53);
    check_ce(be, 1, 2, T_SOFT, 2.0f, 54);
}

/* --------------------------------------------------------------- harness */

static int open_ref(void **state)
{
    *state = rt_open_ref();
    return *state ? 0 : -1;
}

static int close_ref(void **state)
{
    ns_backend_close(*state);
    return 0;
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_conv_gradients),
        cmocka_unit_test(test_batchnorm_gradients),
        cmocka_unit_test(test_elementwise_and_pool_gradients),
        cmocka_unit_test(test_dense_gradients),
        cmocka_unit_test(test_softmax_cross_entropy_gradients),
    };
    return cmocka_run_group_tests(tests, open_ref, close_ref);
}
