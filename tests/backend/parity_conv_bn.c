#include "parity_conv_bn.h"

#include <setjmp.h>
#include <math.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>

#include <cmocka.h>

#include "util/error.h"

/* One fused call's operands, mirrored on both sides. `t` is ref's
 * intermediate (the convolution output before the batchnorm). */
typedef struct unit {
    ns_conv_desc d;
    ns_bn_desc bn;
    size_t nx, nw, ny;
    parity_buf x, w, gamma, beta, mean, var, res, t;
} unit;

static parity_buf random_buf(parity_pair *p, size_t n, uint64_t seed, uint64_t stream, float lo,
                             float hi)
{
    float *h = parity_alloc(n);
    parity_fill(h, n, seed, stream, lo, hi);
    parity_buf b = parity_buf_new(p, h, n);
    free(h);
    return b;
}

static ns_conv_desc conv_desc_of(const parity_conv_bn_shape *s)
{
    ns_conv_desc d = {s->n, s->c, s->h, s->w, s->k, s->r, s->s, s->stride, s->pad, 0, 0};
    d.p = (s->h + 2 * s->pad - s->r) / s->stride + 1;
    d.q = (s->w + 2 * s->pad - s->s) / s->stride + 1;
    return d;
}

/* Statistics far from the identity (mean and beta of the order of the
 * convolution's output, variances from 1/4 to 4), so a wrong fold shows. */
static unit unit_new(parity_pair *p, const parity_conv_bn_shape *s, uint64_t seed)
{
    unit u;
    u.d = conv_desc_of(s);
    u.bn = (ns_bn_desc){u.d.n, u.d.k, u.d.p * u.d.q, 1e-5f, 0.1f};
    u.nx = (size_t)u.d.n * u.d.c * u.d.h * u.d.w;
    u.nw = (size_t)u.d.k * u.d.c * u.d.r * u.d.s;
    u.ny = (size_t)u.d.n * u.d.k * u.d.p * u.d.q;
    size_t k = (size_t)u.d.k;
    u.x = random_buf(p, u.nx, seed, 1, -1.0f, 1.0f);
    u.w = random_buf(p, u.nw, seed, 2, -0.5f, 0.5f);
    u.gamma = random_buf(p, k, seed, 3, 0.25f, 2.0f);
    u.beta = random_buf(p, k, seed, 4, -1.0f, 1.0f);
    u.mean = random_buf(p, k, seed, 5, -1.0f, 1.0f);
    u.var = random_buf(p, k, seed, 6, 0.25f, 4.0f);
    u.res = random_buf(p, u.ny, seed, 7, -2.0f, 2.0f);
    u.t = parity_buf_new(p, NULL, u.ny);
    return u;
}

static void unit_free(parity_pair *p, unit *u)
{
    parity_buf *all[] = {&u->x, &u->w, &u->gamma, &u->beta, &u->mean, &u->var, &u->res, &u->t};
    for (size_t i = 0; i < sizeof all / sizeof *all; i++)
        parity_buf_free(p, all[i]);
}

/* y.b[ref] = the host's fallback on ref; y.b[dut] = the dut's fused slot. */
static void run_both(parity_pair *p, unit *u, int residual, int relu, parity_buf *y)
{
    const ns_backend *r = p->be[PARITY_REF], *t = p->be[PARITY_DUT];
    const int R = PARITY_REF;
    parity_ok(p, R, "conv2d_forward",
              r->api->conv2d_forward(r->ctx, &u->d, u->x.b[R], u->w.b[R], u->t.b[R]));
    parity_ok(p, R, "batchnorm_forward_infer",
              r->api->batchnorm_forward_infer(r->ctx, &u->bn, u->t.b[R], u->gamma.b[R],
                                              u->beta.b[R], u->mean.b[R], u->var.b[R],
                                              y->b[R]));
    if (residual)
        parity_ok(p, R, "add", r->api->add(r->ctx, y->b[R], u->res.b[R], y->b[R], u->ny));
    if (relu)
        parity_ok(p, R, "relu_forward", r->api->relu_forward(r->ctx, y->b[R], y->b[R], u->ny));
    const int D = PARITY_DUT;
    parity_ok(p, D, "conv2d_bn_infer",
              t->api->conv2d_bn_infer(t->ctx, &u->d, u->x.b[D], u->w.b[D], &u->bn,
                                      u->gamma.b[D], u->beta.b[D], u->mean.b[D], u->var.b[D],
                                      residual ? u->res.b[D] : NULL, relu, y->b[D]));
}

/* A backend may hold y in a blocked layout whose channels are padded up to a
 * block; those must stay zero for the ops that run over the physical storage
 * (reduce among them). Its sum of squares over the physical storage shows a
 * non-zero padding (a bias or the residual leaking into it). */
static void expect_zero_padding(parity_pair *p, const parity_buf *y, size_t n, const char *what,
                                double tol)
{
    ns_reduce_result r[2];
    for (int side = 0; side < 2; side++) {
        const ns_backend *be = p->be[side];
        if (!be->api->reduce)
            return; /* the host reduces a plain download: padding cannot show */
        parity_ok(p, side, "reduce", be->api->reduce(be->ctx, y->b[side], n, &r[side]));
    }
    double rel = fabs(r[1].sum_sq - r[0].sum_sq) / fmax(r[0].sum_sq, 1e-30);
    double bound = 4.0 * sqrt(tol) + 1e-6;
    if (!(rel <= bound) || r[1].nonfinite != r[0].nonfinite)
        fail_msg("%s: reduce over %s's output gives sum of squares %.6g and %llu non-finite, "
                 "ref %.6g and %llu (relative difference %.3g > %.3g: padding not zero?)",
                 what, p->spec, r[1].sum_sq, (unsigned long long)r[1].nonfinite, r[0].sum_sq,
                 (unsigned long long)r[0].nonfinite, rel, bound);
}

static void shape_text(const ns_conv_desc *d, char *buf, size_t len)
{
    snprintf(buf, len, "n=%d c=%d %dx%d k=%d %dx%d stride=%d pad=%d", d->n, d->c, d->h, d->w,
             d->k, d->r, d->s, d->stride, d->pad);
}

/* The four combinations of residual and ReLU into a NaN-filled output. */
static void plain_cases(parity_pair *p, const parity_conv_bn_shape *s, uint64_t seed, double tol)
{
    static const char *const labels[2][2] = {
        {"conv2d_bn_infer", "conv2d_bn_infer relu"},
        {"conv2d_bn_infer res", "conv2d_bn_infer res+relu"}};
    unit u = unit_new(p, s, seed);
    char shape[128];
    shape_text(&u.d, shape, sizeof shape);
    for (int residual = 0; residual < 2; residual++)
        for (int relu = 0; relu < 2; relu++) {
            parity_buf y = parity_buf_new(p, NULL, u.ny);
            run_both(p, &u, residual, relu, &y);
            parity_expect(p, &y, u.ny, labels[residual][relu], shape, tol);
            expect_zero_padding(p, &y, u.ny, shape, tol);
            parity_buf_free(p, &y);
        }
    unit_free(p, &u);
}

/* The output buffer first holds another tensor (more channels, another
 * layout, in a larger buffer); x, the residual and the weights arrive as
 * convolutions leave them; then the weights and statistics change in place
 * (a gradient step, as training does) and the second call must see the change. */
static void layout_and_refold_cases(parity_pair *p, const parity_conv_bn_shape *s,
                                    uint64_t seed, double tol)
{
    unit u = unit_new(p, s, seed);
    char shape[128];
    shape_text(&u.d, shape, sizeof shape);

    /* x as the output of a 3x3 same convolution from 3 channels */
    ns_conv_desc pre = {u.d.n, 3, u.d.h, u.d.w, u.d.c, 3, 3, 1, 1, u.d.h, u.d.w};
    parity_buf img = random_buf(p, (size_t)u.d.n * 3 * u.d.h * u.d.w, seed, 20, -1.0f, 1.0f);
    parity_buf wpre = random_buf(p, (size_t)u.d.c * 27, seed, 21, -0.5f, 0.5f);
    PARITY_BOTH(p, conv2d_forward, &pre, img.b[side], wpre.b[side], u.x.b[side]);
    /* the residual as the output of a convolution of the unit's shape */
    parity_buf wres = random_buf(p, u.nw, seed, 22, -0.5f, 0.5f);
    PARITY_BOTH(p, conv2d_forward, &u.d, u.x.b[side], wres.b[side], u.res.b[side]);
    /* the weights as a training-time convolution leaves them */
    PARITY_BOTH(p, conv2d_forward, &u.d, u.x.b[side], u.w.b[side], u.t.b[side]);

    /* y held a 1x1 convolution's output with k+5 channels at full resolution */
    ns_conv_desc other = {u.d.n, u.d.c, u.d.h, u.d.w, u.d.k + 5, 1, 1, 1, 0, u.d.h, u.d.w};
    size_t n_other = (size_t)other.n * other.k * other.p * other.q;
    size_t ny_big = n_other > u.ny ? n_other : u.ny;
    parity_buf w_other = random_buf(p, (size_t)other.k * other.c, seed, 23, -0.5f, 0.5f);
    parity_buf y = parity_buf_new(p, NULL, ny_big);
    PARITY_BOTH(p, conv2d_forward, &other, u.x.b[side], w_other.b[side], y.b[side]);
    run_both(p, &u, 1, 1, &y);
    parity_expect(p, &y, u.ny, "conv2d_bn_infer reused y", shape, tol);
    expect_zero_padding(p, &y, u.ny, shape, tol);

    /* a gradient step (w -= lr*g, by axpby as an optimizer would) on the
     * weights and on every statistic, in the same buffers */
    parity_buf gw = random_buf(p, u.nw, seed, 24, -1.0f, 1.0f);
    parity_buf gk = random_buf(p, (size_t)u.d.k, seed, 25, -1.0f, 1.0f);
    PARITY_BOTH(p, axpby, gw.b[side], u.w.b[side], u.nw, -0.5f, 1.0f);
    parity_buf *stats[] = {&u.gamma, &u.beta, &u.mean};
    for (size_t i = 0; i < sizeof stats / sizeof *stats; i++)
        PARITY_BOTH(p, axpby, gk.b[side], stats[i]->b[side], (size_t)u.d.k, -0.5f, 1.0f);
    /* var stays >= 0.15 */
    PARITY_BOTH(p, axpby, gk.b[side], u.var.b[side], (size_t)u.d.k, -0.1f, 1.0f);
    run_both(p, &u, 1, 1, &y);
    parity_expect(p, &y, u.ny, "conv2d_bn_infer refold", shape, tol);
    run_both(p, &u, 0, 0, &y);
    parity_expect(p, &y, u.ny, "conv2d_bn_infer refold", shape, tol);

    parity_buf *all[] = {&img, &wpre, &wres, &w_other, &y, &gw, &gk};
    for (size_t i = 0; i < sizeof all / sizeof *all; i++)
        parity_buf_free(p, all[i]);
    unit_free(p, &u);
}

void parity_conv_bn_run(parity_pair *p, const parity_conv_bn_shape *shapes, size_t count,
                        double tol)
{
    for (size_t i = 0; i < count; i++) {
        plain_cases(p, &shapes[i], 1300 + i, tol);
        layout_and_refold_cases(p, &shapes[i], 1400 + i, tol);
    }
}

static void expect_invalid(const parity_pair *p, int side, ns_status st, const char *call)
{
    const char *who = side == PARITY_REF ? "ref" : p->spec;
    if (st != NS_ERR_INVALID_ARG)
        fail_msg("%s on %s: status '%s', expected 'invalid argument'", call, who,
                 ns_status_name(st));
    if (!ns_last_error()[0])
        fail_msg("%s on %s: no error message", call, who);
}

void parity_conv_bn_invalid(parity_pair *p)
{
    const parity_conv_bn_shape s = {2, 3, 8, 8, 4, 3, 3, 1, 1};
    unit u = unit_new(p, &s, 1500);
    parity_buf y = parity_buf_new(p, NULL, u.ny);
    ns_bn_desc wrong_c = u.bn;
    wrong_c.c = u.d.k + 1;
    ns_bn_desc wrong_hw = u.bn;
    wrong_hw.hw = u.d.p * u.d.q - 1;
    for (int side = 0; side < 2; side++) {
        const ns_backend_api *a = p->be[side]->api;
        void *c = p->be[side]->ctx;
        if (!a->conv2d_bn_infer)
            continue;
        const ns_bn_desc *bad_bn[] = {&wrong_c, &wrong_hw};
        const char *what[] = {"conv2d_bn_infer with bn->c != k", "conv2d_bn_infer with bn->hw != p*q"};
        for (int i = 0; i < 2; i++) {
            ns_clear_error();
            expect_invalid(p, side,
                           a->conv2d_bn_infer(c, &u.d, u.x.b[side], u.w.b[side], bad_bn[i],
                                              u.gamma.b[side], u.beta.b[side], u.mean.b[side],
                                              u.var.b[side], NULL, 1, y.b[side]),
                           what[i]);
        }
        ns_clear_error();
        expect_invalid(p, side,
                       a->conv2d_bn_infer(c, &u.d, u.x.b[side], u.w.b[side], &u.bn, NULL,
                                          u.beta.b[side], u.mean.b[side], u.var.b[side], NULL,
                                          0, y.b[side]),
                       "conv2d_bn_infer with a NULL gamma");
        ns_clear_error();
        expect_invalid(p, side,
                       a->conv2d_bn_infer(c, &u.d, u.x.b[side], u.w.b[side], &u.bn,
                                          u.gamma.b[side], u.beta.b[side], u.mean.b[side],
                                          u.var.b[side], y.b[side], 0, y.b[side]),
                       "conv2d_bn_infer with y as its own residual");
    }
    parity_buf_free(p, &y);
    unit_free(p, &u);
}
