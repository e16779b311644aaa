#include "parity_resident.h"

#include <math.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>
#include <noisystudent/rng.h>

#include "util/error.h"

#define COUNT(a) (sizeof(a) / sizeof *(a))

/* float32 -> bf16 -> float32, round to nearest even (NaN stays NaN): what a
 * bf16 store does to a float32 result. */
static float bf16_round(float f)
{
    union { float f; uint32_t u; } v = {f};
    if ((v.u & 0x7fffffffu) > 0x7f800000u)
        return f;
    v.u = (v.u + 0x7fffu + ((v.u >> 16) & 1u)) & 0xffff0000u;
    return v.f;
}

static ns_conv_desc conv_desc(int n, int c, int h, int w, int k, int r, int stride, int pad)
{
    ns_conv_desc d = {n, c, h, w, k, r, r, stride, pad, 0, 0};
    d.p = (h + 2 * pad - r) / stride + 1;
    d.q = (w + 2 * pad - r) / stride + 1;
    return d;
}

static size_t conv_nx(const ns_conv_desc *d) { return (size_t)d->n * d->c * d->h * d->w; }
static size_t conv_nw(const ns_conv_desc *d) { return (size_t)d->k * d->c * d->r * d->s; }
static size_t conv_ny(const ns_conv_desc *d) { return (size_t)d->n * d->k * d->p * d->q; }

static float *host_random(size_t n, uint64_t seed, uint64_t stream, float lo, float hi)
{
    float *h = parity_alloc(n);
    parity_fill(h, n, seed, stream, lo, hi);
    return h;
}

static parity_buf random_pair(parity_pair *p, size_t n, uint64_t seed, uint64_t stream, float lo,
                              float hi)
{
    float *h = host_random(n, seed, stream, lo, hi);
    parity_buf b = parity_buf_new(p, h, n);
    free(h);
    return b;
}

/* Gives ref the dut's logical values of b: both sides then hold the same
 * tensor, the dut in whatever layout and precision it produced. */
static void sync_to_ref(parity_pair *p, parity_buf *b)
{
    float *h = parity_alloc(b->n);
    const ns_backend *d = p->be[PARITY_DUT], *r = p->be[PARITY_REF];
    parity_ok(p, PARITY_DUT, "download", d->api->download(d->ctx, b->b[PARITY_DUT], 0, h, b->n));
    parity_ok(p, PARITY_REF, "upload", r->api->upload(r->ctx, b->b[PARITY_REF], 0, h, b->n));
    free(h);
}

/* The output of a convolution with random input and weights, the same
 * logical values on both sides, resident on the dut. */
static parity_buf resident_pair(parity_pair *p, const ns_conv_desc *d, uint64_t seed)
{
    parity_buf x = random_pair(p, conv_nx(d), seed, 1, -1.0f, 1.0f);
    parity_buf w = random_pair(p, conv_nw(d), seed, 2, -0.5f, 0.5f);
    parity_buf y = parity_buf_new(p, NULL, conv_ny(d));
    PARITY_BOTH(p, conv2d_forward, d, x.b[side], w.b[side], y.b[side]);
    sync_to_ref(p, &y);
    parity_buf_free(p, &x);
    parity_buf_free(p, &w);
    return y;
}

/* (sqrt(a) + sqrt(b))^2: the nmse bound of two independent error sources
 * (a rounding on top of float32 summation noise), by the triangle inequality. */
static double nmse_sum(double a, double b)
{
    double s = sqrt(a) + sqrt(b);
    return s * s;
}

/* ------------------------------------------------------ resident inputs */

typedef struct resident_ctx {
    parity_pair *p;
    parity_tol_fn tol;
    int low; /* bf16/fp16 */
} resident_ctx;

static void rexpect(const resident_ctx *r, const parity_buf *b, size_t n, const char *op,
                    double tol, const char *shape)
{
    char name[64];
    snprintf(name, sizeof name, "resident %s", op);
    parity_expect(r->p, b, n, name, shape, tol);
}

/* Limits for an op whose dut output is ref's rounded once to bf16 (low
 * precision) on top of the op's float32 limit. */
static double once_rounded(const resident_ctx *r, const char *op)
{
    return r->low ? nmse_sum(PARITY_BF16_ROUND_NMSE, r->tol(op)) : r->tol(op);
}

static void resident_shape(const resident_ctx *r, const ns_conv_desc *d, uint64_t seed)
{
    parity_pair *p = r->p;
    const int N = d->n, C = d->k, HW = d->p * d->q;
    const size_t n = conv_ny(d), c = (size_t)C;
    char shape[96];
    snprintf(shape, sizeof shape, "resident n=%d c=%d %dx%d", N, C, d->p, d->q);
    parity_buf a = resident_pair(p, d, seed);
    parity_buf b = resident_pair(p, d, seed + 1);
    parity_buf y = parity_buf_new(p, NULL, n), z = parity_buf_new(p, NULL, n);

    /* relu: exact on the same values in every precision */
    PARITY_BOTH(p, relu_forward, a.b[side], y.b[side], n);
    rexpect(r, &y, n, "relu_forward", r->tol("relu_forward"), shape);
    sync_to_ref(p, &y);
    PARITY_BOTH(p, relu_backward, y.b[side], b.b[side], z.b[side], n);
    rexpect(r, &z, n, "relu_backward", r->tol("relu_backward"), shape);

    PARITY_BOTH(p, add, a.b[side], b.b[side], y.b[side], n);
    rexpect(r, &y, n, "add", once_rounded(r, "add"), shape);
    PARITY_BOTH(p, mul, a.b[side], b.b[side], y.b[side], n);
    rexpect(r, &y, n, "mul", once_rounded(r, "mul"), shape);
    PARITY_BOTH(p, axpby, a.b[side], z.b[side], n, 0.75f, 0.0f);
    rexpect(r, &z, n, "axpby", once_rounded(r, "axpby"), shape);
    PARITY_BOTH(p, copy, z.b[side], b.b[side], n); /* a resident y for beta != 0 */
    PARITY_BOTH(p, axpby, a.b[side], z.b[side], n, -1.5f, 0.25f);
    rexpect(r, &z, n, "axpby", once_rounded(r, "axpby"), shape);

    parity_buf scale = parity_buf_new(p, NULL, (size_t)N);
    PARITY_BOTH(p, mask_bernoulli, scale.b[side], (size_t)N, 0.5f, 2.0f, 91, seed);
    PARITY_BOTH(p, mul_rows, a.b[side], scale.b[side], y.b[side], (size_t)N, (size_t)C * HW);
    rexpect(r, &y, n, "mul_rows", once_rounded(r, "mul_rows"), shape);

    /* batchnorm with resident x and dy */
    ns_bn_desc bd = {N, C, HW, 1e-5f, 0.1f};
    parity_buf gamma = random_pair(p, c, seed, 3, 0.5f, 1.5f);
    parity_buf beta = random_pair(p, c, seed, 4, -0.5f, 0.5f);
    parity_buf rmean = random_pair(p, c, seed, 5, -0.2f, 0.2f);
    parity_buf rvar = random_pair(p, c, seed, 6, 0.5f, 2.0f);
    parity_buf smean = parity_buf_new(p, NULL, c), sinv = parity_buf_new(p, NULL, c);
    parity_buf dgamma = parity_buf_new(p, NULL, c), dbeta = parity_buf_new(p, NULL, c);
    PARITY_BOTH(p, batchnorm_forward_train, &bd, a.b[side], gamma.b[side], beta.b[side],
                rmean.b[side], rvar.b[side], y.b[side], smean.b[side], sinv.b[side]);
    rexpect(r, &y, n, "batchnorm_forward_train", once_rounded(r, "batchnorm_forward_train"),
            shape);
    rexpect(r, &smean, c, "batchnorm running stats", r->tol("batchnorm running stats"), shape);
    rexpect(r, &sinv, c, "batchnorm running stats", r->tol("batchnorm running stats"), shape);
    rexpect(r, &rvar, c, "batchnorm running stats", r->tol("batchnorm running stats"), shape);
    sync_to_ref(p, &smean);
    sync_to_ref(p, &sinv);
    PARITY_BOTH(p, batchnorm_backward, &bd, a.b[side], b.b[side], gamma.b[side], smean.b[side],
                sinv.b[side], z.b[side], dgamma.b[side], dbeta.b[side]);
    rexpect(r, &z, n, "batchnorm_backward", once_rounded(r, "batchnorm_backward"), shape);
    rexpect(r, &dgamma, c, "batchnorm_backward", r->tol("batchnorm_backward"), shape);
    rexpect(r, &dbeta, c, "batchnorm_backward", r->tol("batchnorm_backward"), shape);
    PARITY_BOTH(p, batchnorm_forward_infer, &bd, a.b[side], gamma.b[side], beta.b[side],
                rmean.b[side], rvar.b[side], y.b[side]);
    rexpect(r, &y, n, "batchnorm_forward_infer", once_rounded(r, "batchnorm_forward_infer"),
            shape);

    /* pooling reads the resident values and computes in float32 */
    parity_buf f = parity_buf_new(p, NULL, (size_t)N * C);
    PARITY_BOTH(p, global_avg_pool_forward, a.b[side], f.b[side], N, C, HW);
    rexpect(r, &f, (size_t)N * C, "global_avg_pool_forward", r->tol("global_avg_pool_forward"),
            shape);

    /* the next convolution: resident x and dy, uploaded weights */
    ns_conv_desc d2 = conv_desc(N, C, d->p, d->q, 8, 3, 1, 1);
    parity_buf w2 = random_pair(p, conv_nw(&d2), seed, 7, -0.3f, 0.3f);
    parity_buf o2 = parity_buf_new(p, NULL, conv_ny(&d2));
    PARITY_BOTH(p, conv2d_forward, &d2, a.b[side], w2.b[side], o2.b[side]);
    rexpect(r, &o2, conv_ny(&d2), "conv2d_forward", r->tol("conv2d_forward"), shape);
    PARITY_BOTH(p, conv2d_forward, &d2, b.b[side], w2.b[side], o2.b[side]);
    sync_to_ref(p, &o2); /* a resident dy of d2's output shape */
    parity_buf dw2 = parity_buf_new(p, NULL, conv_nw(&d2));
    PARITY_BOTH(p, conv2d_backward_filter, &d2, a.b[side], o2.b[side], dw2.b[side]);
    rexpect(r, &dw2, conv_nw(&d2), "conv2d_backward_filter", r->tol("conv2d_backward_filter"),
            shape);
    PARITY_BOTH(p, conv2d_backward_data, &d2, o2.b[side], w2.b[side], y.b[side]);
    rexpect(r, &y, n, "conv2d_backward_data", r->tol("conv2d_backward_data"), shape);

    parity_buf *all[] = {&a, &b, &y, &z, &scale, &gamma, &beta, &rmean, &rvar, &smean,
                         &sinv, &dgamma, &dbeta, &f, &w2, &o2, &dw2};
    for (size_t i = 0; i < COUNT(all); i++)
        parity_buf_free(p, all[i]);
}

void parity_resident_run(parity_pair *p, parity_tol_fn tol)
{
    resident_ctx r = {p, tol, p->precision != NS_PRECISION_FP32};
    /* 16 channels: whole blocks; 17: a padded last block; 40 channels of
     * 16x16 at batch 4: past the element-wise loops' parallel threshold */
    const ns_conv_desc shapes[] = {conv_desc(2, 3, 8, 8, 16, 3, 1, 1),
                                   conv_desc(3, 5, 9, 7, 17, 3, 1, 1),
                                   conv_desc(4, 8, 16, 16, 40, 3, 1, 1)};
    for (size_t i = 0; i < COUNT(shapes); i++)
        resident_shape(&r, &shapes[i], 1000 + 10 * i);
}

/* ------------------------------------------------- const inputs untouched */

enum residency { PLAIN, RESIDENT, LARGER, N_RESIDENCY };
static const char *const residency_name[] = {"plain", "resident", "larger plain buffer"};

typedef struct cin {
    ns_buf *b;
    size_t n; /* floats the buffer holds */
    float *before;
    char name[64];
} cin;

static const ns_backend *dut(const parity_pair *p) { return p->be[PARITY_DUT]; }

static ns_buf *dut_alloc(parity_pair *p, size_t n)
{
    ns_buf *b = NULL;
    parity_ok(p, PARITY_DUT, "buf_alloc", dut(p)->api->buf_alloc(dut(p)->ctx, n, &b));
    return b;
}

static ns_buf *dut_random(parity_pair *p, size_t n, uint64_t seed, float lo, float hi)
{
    ns_buf *b = dut_alloc(p, n);
    float *h = host_random(n, seed, 77, lo, hi);
    parity_ok(p, PARITY_DUT, "upload", dut(p)->api->upload(dut(p)->ctx, b, 0, h, n));
    free(h);
    return b;
}

/* An input of n floats in the given residency; *held receives the buffer's
 * size. A resident one is the output of a convolution with k = d->c over an
 * input of 3 channels, d's N, H and W. */
static ns_buf *dut_input(parity_pair *p, enum residency res, const ns_conv_desc *d, size_t n,
                         uint64_t seed, size_t *held)
{
    *held = n;
    if (res == PLAIN)
        return dut_random(p, n, seed, -1.0f, 1.0f);
    if (res == LARGER) {
        *held = n + 37;
        return dut_random(p, n + 37, seed, -1.0f, 1.0f);
    }
    ns_conv_desc g = conv_desc(d->n, 3, d->h, d->w, d->c, 3, 1, 1);
    ns_buf *x = dut_random(p, conv_nx(&g), seed, -1.0f, 1.0f);
    ns_buf *w = dut_random(p, conv_nw(&g), seed + 1, -0.5f, 0.5f);
    ns_buf *y = dut_alloc(p, n);
    parity_ok(p, PARITY_DUT, "conv2d_forward",
              dut(p)->api->conv2d_forward(dut(p)->ctx, &g, x, w, y));
    dut(p)->api->buf_free(dut(p)->ctx, x);
    dut(p)->api->buf_free(dut(p)->ctx, w);
    return y;
}

static cin snap(parity_pair *p, ns_buf *b, size_t n, const char *fmt, ...)
    __attribute__((format(printf, 4, 5)));
static cin snap(parity_pair *p, ns_buf *b, size_t n, const char *fmt, ...)
{
    cin c = {b, n, parity_alloc(n), ""};
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(c.name, sizeof c.name, fmt, ap);
    va_end(ap);
    parity_ok(p, PARITY_DUT, "download", dut(p)->api->download(dut(p)->ctx, b, 0, c.before, n));
    return c;
}

/* Fails when the input's content changed; frees the snapshot either way. */
static void check_kept(parity_pair *p, cin *c, const char *op)
{
    float *after = parity_alloc(c->n);
    parity_ok(p, PARITY_DUT, "download", dut(p)->api->download(dut(p)->ctx, c->b, 0, after, c->n));
    size_t bad = c->n;
    for (size_t i = 0; i < c->n && bad == c->n; i++)
        if (memcmp(&after[i], &c->before[i], sizeof(float)) != 0)
            bad = i;
    float was = bad < c->n ? c->before[bad] : 0.0f, is = bad < c->n ? after[bad] : 0.0f;
    free(after);
    free(c->before);
    c->before = NULL;
    if (bad < c->n)
        fail_msg("%s on %s changed its const input %s: float %zu of %zu was %.9g, is %.9g",
                 op, p->spec, c->name, bad, c->n, (double)was, (double)is);
}

static void dut_free(parity_pair *p, ns_buf *b) { dut(p)->api->buf_free(dut(p)->ctx, b); }

/* Binary element-wise ops: every residency of each operand, output apart. */
static void const_elementwise(parity_pair *p, const ns_conv_desc *d, size_t n)
{
    for (int ra = 0; ra < N_RESIDENCY; ra++) {
        for (int rb = 0; rb < N_RESIDENCY; rb++) {
            for (int op = 0; op < 3; op++) {
                static const char *const names[] = {"add", "mul", "relu_backward"};
                size_t na, nb;
                ns_buf *a = dut_input(p, (enum residency)ra, d, n, 2000 + ra, &na);
                ns_buf *b = dut_input(p, (enum residency)rb, d, n, 2100 + rb, &nb);
                ns_buf *y = dut_alloc(p, n);
                cin ca = snap(p, a, na, "a (%s)", residency_name[ra]);
                cin cb = snap(p, b, nb, "b (%s)", residency_name[rb]);
                void *ctx = dut(p)->ctx;
                const ns_backend_api *api = dut(p)->api;
                ns_status st = op == 0   ? api->add(ctx, a, b, y, n)
                               : op == 1 ? api->mul(ctx, a, b, y, n)
                                         : api->relu_backward(ctx, a, b, y, n);
                parity_ok(p, PARITY_DUT, names[op], st);
                check_kept(p, &ca, names[op]);
                check_kept(p, &cb, names[op]);
                dut_free(p, a);
                dut_free(p, b);
                dut_free(p, y);
            }
        }
    }
}

/* Unary and mixed ops over one activation x in each residency. */
static void const_unary(parity_pair *p, const ns_conv_desc *d, size_t n, enum residency rx)
{
    const ns_backend_api *api = dut(p)->api;
    void *ctx = dut(p)->ctx;
    const int N = d->n, C = d->c, HW = d->h * d->w;
    const size_t c = (size_t)C;
    const char *rn = residency_name[rx];
    size_t nx, ndy;
    ns_buf *x = dut_input(p, rx, d, n, 2200 + rx, &nx);
    ns_buf *y = dut_alloc(p, n), *dx = dut_alloc(p, n);
    cin cx;

    cx = snap(p, x, nx, "x (%s)", rn);
    parity_ok(p, PARITY_DUT, "relu_forward", api->relu_forward(ctx, x, y, n));
    check_kept(p, &cx, "relu_forward");

    cx = snap(p, x, nx, "x (%s)", rn);
    parity_ok(p, PARITY_DUT, "axpby", api->axpby(ctx, x, y, n, 0.5f, 0.0f));
    parity_ok(p, PARITY_DUT, "axpby", api->axpby(ctx, x, y, n, 0.5f, 0.25f));
    check_kept(p, &cx, "axpby");

    ns_buf *scale = dut_random(p, (size_t)N, 2300, 0.0f, 2.0f);
    cx = snap(p, x, nx, "x (%s)", rn);
    cin cs = snap(p, scale, (size_t)N, "scale");
    parity_ok(p, PARITY_DUT, "mul_rows", api->mul_rows(ctx, x, scale, y, (size_t)N, c * HW));
    check_kept(p, &cx, "mul_rows");
    check_kept(p, &cs, "mul_rows");

    ns_buf *f = dut_alloc(p, (size_t)N * C);
    cx = snap(p, x, nx, "x (%s)", rn);
    parity_ok(p, PARITY_DUT, "global_avg_pool_forward",
              api->global_avg_pool_forward(ctx, x, f, N, C, HW));
    check_kept(p, &cx, "global_avg_pool_forward");
    cin cf = snap(p, f, (size_t)N * C, "dy");
    parity_ok(p, PARITY_DUT, "global_avg_pool_backward",
              api->global_avg_pool_backward(ctx, f, dx, N, C, HW));
    check_kept(p, &cf, "global_avg_pool_backward");

    /* batchnorm: x and every vector it reads; dy in each residency */
    ns_bn_desc bd = {N, C, HW, 1e-5f, 0.1f};
    ns_buf *gamma = dut_random(p, c, 2400, 0.5f, 1.5f), *beta = dut_random(p, c, 2401, -0.5f, 0.5f);
    ns_buf *rmean = dut_random(p, c, 2402, -0.2f, 0.2f), *rvar = dut_random(p, c, 2403, 0.5f, 2.0f);
    ns_buf *smean = dut_alloc(p, c), *sinv = dut_alloc(p, c);
    ns_buf *dgamma = dut_alloc(p, c), *dbeta = dut_alloc(p, c);
    cx = snap(p, x, nx, "x (%s)", rn);
    cin cg = snap(p, gamma, c, "gamma"), cbe = snap(p, beta, c, "beta");
    parity_ok(p, PARITY_DUT, "batchnorm_forward_train",
              api->batchnorm_forward_train(ctx, &bd, x, gamma, beta, rmean, rvar, y, smean, sinv));
    check_kept(p, &cx, "batchnorm_forward_train");
    check_kept(p, &cg, "batchnorm_forward_train");
    check_kept(p, &cbe, "batchnorm_forward_train");
    cx = snap(p, x, nx, "x (%s)", rn);
    cin cm = snap(p, rmean, c, "running_mean"), cv = snap(p, rvar, c, "running_var");
    parity_ok(p, PARITY_DUT, "batchnorm_forward_infer",
              api->batchnorm_forward_infer(ctx, &bd, x, gamma, beta, rmean, rvar, y));
    check_kept(p, &cx, "batchnorm_forward_infer");
    check_kept(p, &cm, "batchnorm_forward_infer");
    check_kept(p, &cv, "batchnorm_forward_infer");
    for (int rd = 0; rd < N_RESIDENCY; rd++) {
        ns_buf *dy = dut_input(p, (enum residency)rd, d, n, 2500 + rd, &ndy);
        cx = snap(p, x, nx, "x (%s)", rn);
        cin cdy = snap(p, dy, ndy, "dy (%s)", residency_name[rd]);
        cin csm = snap(p, smean, c, "save_mean"), csi = snap(p, sinv, c, "save_invstd");
        parity_ok(p, PARITY_DUT, "batchnorm_backward",
                  api->batchnorm_backward(ctx, &bd, x, dy, gamma, smean, sinv, dx, dgamma, dbeta));
        check_kept(p, &cx, "batchnorm_backward");
        check_kept(p, &cdy, "batchnorm_backward");
        check_kept(p, &csm, "batchnorm_backward");
        check_kept(p, &csi, "batchnorm_backward");
        dut_free(p, dy);
    }

    /* convolutions reading x (and a dy in each residency) */
    ns_conv_desc d2 = conv_desc(N, C, d->h, d->w, 8, 3, 1, 1);
    ns_buf *w2 = dut_random(p, conv_nw(&d2), 2600, -0.3f, 0.3f);
    ns_buf *o2 = dut_alloc(p, conv_ny(&d2)), *dw2 = dut_alloc(p, conv_nw(&d2));
    cx = snap(p, x, nx, "x (%s)", rn);
    cin cw = snap(p, w2, conv_nw(&d2), "w");
    parity_ok(p, PARITY_DUT, "conv2d_forward", api->conv2d_forward(ctx, &d2, x, w2, o2));
    check_kept(p, &cx, "conv2d_forward");
    check_kept(p, &cw, "conv2d_forward");
    ns_conv_desc d3 = conv_desc(N, 8, d->h, d->w, 8, 3, 1, 1); /* dy of d2's output shape */
    for (int rd = 0; rd < N_RESIDENCY; rd++) {
        ns_buf *dy = dut_input(p, (enum residency)rd, &d3, conv_ny(&d2), 2700 + rd, &ndy);
        cx = snap(p, x, nx, "x (%s)", rn);
        cin cdy = snap(p, dy, ndy, "dy (%s)", residency_name[rd]);
        parity_ok(p, PARITY_DUT, "conv2d_backward_filter",
                  api->conv2d_backward_filter(ctx, &d2, x, dy, dw2));
        check_kept(p, &cx, "conv2d_backward_filter");
        check_kept(p, &cdy, "conv2d_backward_filter");
        cdy = snap(p, dy, ndy, "dy (%s)", residency_name[rd]);
        cw = snap(p, w2, conv_nw(&d2), "w");
        parity_ok(p, PARITY_DUT, "conv2d_backward_data",
                  api->conv2d_backward_data(ctx, &d2, dy, w2, dx));
        check_kept(p, &cdy, "conv2d_backward_data");
        check_kept(p, &cw, "conv2d_backward_data");
        dut_free(p, dy);
    }
    if (api->conv2d_bn_infer) {
        ns_bn_desc b2 = {N, 8, HW, 1e-5f, 0.1f};
        ns_buf *g2 = dut_random(p, 8, 2800, 0.5f, 1.5f), *be2 = dut_random(p, 8, 2801, -0.5f, 0.5f);
        ns_buf *m2 = dut_random(p, 8, 2802, -0.2f, 0.2f), *v2 = dut_random(p, 8, 2803, 0.5f, 2.0f);
        ns_buf *out = dut_alloc(p, conv_ny(&d2));
        for (int rr = 0; rr < N_RESIDENCY; rr++) {
            size_t nres;
            ns_buf *res = dut_input(p, (enum residency)rr, &d3, conv_ny(&d2), 2900 + rr, &nres);
            cx = snap(p, x, nx, "x (%s)", rn);
            cw = snap(p, w2, conv_nw(&d2), "w");
            cin cr = snap(p, res, nres, "residual (%s)", residency_name[rr]);
            cin v[4] = {snap(p, g2, 8, "gamma"), snap(p, be2, 8, "beta"), snap(p, m2, 8, "mean"),
                        snap(p, v2, 8, "var")};
            parity_ok(p, PARITY_DUT, "conv2d_bn_infer",
                      api->conv2d_bn_infer(ctx, &d2, x, w2, &b2, g2, be2, m2, v2, res, 1, out));
            check_kept(p, &cx, "conv2d_bn_infer");
            check_kept(p, &cw, "conv2d_bn_infer");
            check_kept(p, &cr, "conv2d_bn_infer");
            for (int i = 0; i < 4; i++)
                check_kept(p, &v[i], "conv2d_bn_infer");
            dut_free(p, res);
        }
        ns_buf *fr[] = {g2, be2, m2, v2, out};
        for (size_t i = 0; i < COUNT(fr); i++)
            dut_free(p, fr[i]);
    }

    /* reductions and copies read x too */
    if (api->reduce) {
        ns_reduce_result rr;
        cx = snap(p, x, nx, "x (%s)", rn);
        parity_ok(p, PARITY_DUT, "reduce", api->reduce(ctx, x, n, &rr));
        check_kept(p, &cx, "reduce");
    }
    cx = snap(p, x, nx, "src (%s)", rn);
    parity_ok(p, PARITY_DUT, "copy", api->copy(ctx, y, x, n));
    check_kept(p, &cx, "copy");

    ns_buf *fr[] = {x, y, dx, scale, f, gamma, beta, rmean, rvar, smean, sinv, dgamma, dbeta,
                    w2, o2, dw2};
    for (size_t i = 0; i < COUNT(fr); i++)
        dut_free(p, fr[i]);
}

/* Dense, loss and optimizer inputs: plain and larger buffers (the host
 * uploads them or gets them from plain-output ops). */
static void const_dense_loss_optim(parity_pair *p)
{
    const ns_backend_api *api = dut(p)->api;
    void *ctx = dut(p)->ctx;
    const ns_dense_desc dd = {5, 24, 10};
    const size_t nx = 5 * 24, nw = 10 * 24, ny = 5 * 10;
    for (int r = 0; r < N_RESIDENCY; r++) {
        if (r == RESIDENT)
            continue; /* no convolution makes these shapes */
        size_t extra = r == LARGER ? 37 : 0;
        const char *rn = residency_name[r];
        ns_buf *x = dut_random(p, nx + extra, 3000, -1.0f, 1.0f);
        ns_buf *w = dut_random(p, nw + extra, 3001, -0.5f, 0.5f);
        ns_buf *b = dut_random(p, 10 + extra, 3002, -0.5f, 0.5f);
        ns_buf *dy = dut_random(p, ny + extra, 3003, -1.0f, 1.0f);
        ns_buf *t = dut_random(p, ny + extra, 3004, 0.0f, 0.2f);
        ns_buf *y = dut_alloc(p, ny), *dx = dut_alloc(p, nx), *dw = dut_alloc(p, nw);
        ns_buf *db = dut_alloc(p, 10), *loss = dut_alloc(p, 5), *g = dut_alloc(p, ny);
        cin c[4] = {snap(p, x, nx + extra, "x (%s)", rn), snap(p, w, nw + extra, "w (%s)", rn),
                    snap(p, b, 10 + extra, "b (%s)", rn), snap(p, dy, ny + extra, "dy (%s)", rn)};
        parity_ok(p, PARITY_DUT, "dense_forward", api->dense_forward(ctx, &dd, x, w, b, y));
        parity_ok(p, PARITY_DUT, "dense_backward",
                  api->dense_backward(ctx, &dd, x, w, dy, dx, dw, db));
        for (int i = 0; i < 4; i++)
            check_kept(p, &c[i], "dense_forward/dense_backward");
        cin cl = snap(p, dy, ny + extra, "logits (%s)", rn), ct = snap(p, t, ny + extra,
                                                                      "targets (%s)", rn);
        parity_ok(p, PARITY_DUT, "softmax_cross_entropy",
                  api->softmax_cross_entropy(ctx, 5, 10, dy, t, 0.2f, loss, g));
        parity_ok(p, PARITY_DUT, "softmax", api->softmax(ctx, 5, 10, dy, y));
        check_kept(p, &cl, "softmax_cross_entropy/softmax");
        check_kept(p, &ct, "softmax_cross_entropy");
        /* optimizers: the gradient is const */
        ns_buf *vel = dut_alloc(p, nw), *m = dut_alloc(p, nw), *v = dut_alloc(p, nw);
        parity_ok(p, PARITY_DUT, "fill", api->fill(ctx, vel, nw, 0.0f));
        parity_ok(p, PARITY_DUT, "fill", api->fill(ctx, m, nw, 0.0f));
        parity_ok(p, PARITY_DUT, "fill", api->fill(ctx, v, nw, 0.0f));
        ns_buf *gw = dut_random(p, nw + extra, 3005, -0.1f, 0.1f);
        cin cg = snap(p, gw, nw + extra, "g (%s)", rn);
        const ns_sgd_params sp = {0.1f, 0.9f, 5e-4f, 1};
        const ns_adam_params ap = {1e-3f, 0.9f, 0.999f, 1e-8f, 0.0f, 1};
        parity_ok(p, PARITY_DUT, "sgd_update", api->sgd_update(ctx, &sp, dw, gw, vel, nw));
        parity_ok(p, PARITY_DUT, "adam_update", api->adam_update(ctx, &ap, dw, gw, m, v, nw));
        check_kept(p, &cg, "sgd_update/adam_update");
        ns_buf *fr[] = {x, w, b, dy, t, y, dx, dw, db, loss, g, vel, m, v, gw};
        for (size_t i = 0; i < COUNT(fr); i++)
            dut_free(p, fr[i]);
    }
}

void parity_const_inputs(parity_pair *p)
{
    /* 17 channels: a blocked layout pads the last block */
    const ns_conv_desc d = {2, 17, 6, 6, 17, 3, 3, 1, 1, 6, 6}; /* x [2,17,6,6] */
    const size_t n = (size_t)2 * 17 * 6 * 6;
    const_elementwise(p, &d, n);
    for (int r = 0; r < N_RESIDENCY; r++)
        const_unary(p, &d, n, (enum residency)r);
    const_dense_loss_optim(p);
}

/* ------------------------------------------------------- bf16 emulation */

typedef struct emu_ctx {
    parity_pair *p;
    double worst[16];
    const char *ops[16];
    int nops;
} emu_ctx;

static void emu_record(emu_ctx *e, const char *op, double nmse)
{
    int i = 0;
    while (i < e->nops && strcmp(e->ops[i], op) != 0)
        i++;
    if (i == e->nops) {
        e->ops[e->nops] = op;
        e->worst[e->nops++] = 0.0;
    }
    if (nmse > e->worst[i])
        e->worst[i] = nmse;
}

static const ns_backend *ref_of(const parity_pair *p) { return p->be[PARITY_REF]; }

static ns_buf *ref_buf(parity_pair *p, const float *h, size_t n)
{
    ns_buf *b = NULL;
    parity_ok(p, PARITY_REF, "buf_alloc", ref_of(p)->api->buf_alloc(ref_of(p)->ctx, n, &b));
    if (h)
        parity_ok(p, PARITY_REF, "upload", ref_of(p)->api->upload(ref_of(p)->ctx, b, 0, h, n));
    return b;
}

static void ref_get(parity_pair *p, ns_buf *b, float *h, size_t n)
{
    parity_ok(p, PARITY_REF, "download", ref_of(p)->api->download(ref_of(p)->ctx, b, 0, h, n));
}

static float *rounded_copy(const float *h, size_t n)
{
    float *r = parity_alloc(n);
    for (size_t i = 0; i < n; i++)
        r[i] = bf16_round(h[i]);
    return r;
}

static double nmse_of(const float *dut_vals, const float *ref_vals, size_t n)
{
    double err = 0.0, norm = 0.0;
    for (size_t i = 0; i < n; i++) {
        double d = (double)dut_vals[i] - ref_vals[i];
        err += d * d;
        norm += (double)ref_vals[i] * ref_vals[i];
    }
    return norm > 0.0 ? err / norm : err;
}

/* Runs a two-input op on ref twice: on (a, b) as given, and on their bf16
 * roundings with the output rounded when round_out; records the nmse. */
typedef void (*emu_op)(parity_pair *p, const void *desc, ns_buf *a, ns_buf *b, ns_buf *out);

static void emulate(emu_ctx *e, const char *op, emu_op fn, const void *desc, const float *a,
                    size_t na, const float *b, size_t nb, size_t nout, int round_out)
{
    float *ar = rounded_copy(a, na), *br = rounded_copy(b, nb);
    float *exact = parity_alloc(nout), *emu = parity_alloc(nout);
    ns_buf *A = ref_buf(e->p, a, na), *B = ref_buf(e->p, b, nb), *O = ref_buf(e->p, NULL, nout);
    fn(e->p, desc, A, B, O);
    ref_get(e->p, O, exact, nout);
    parity_ok(e->p, PARITY_REF, "upload", ref_of(e->p)->api->upload(ref_of(e->p)->ctx, A, 0, ar, na));
    parity_ok(e->p, PARITY_REF, "upload", ref_of(e->p)->api->upload(ref_of(e->p)->ctx, B, 0, br, nb));
    fn(e->p, desc, A, B, O);
    ref_get(e->p, O, emu, nout);
    if (round_out)
        for (size_t i = 0; i < nout; i++)
            emu[i] = bf16_round(emu[i]);
    emu_record(e, op, nmse_of(emu, exact, nout));
    ns_buf *fr[] = {A, B, O};
    for (int i = 0; i < 3; i++)
        ref_of(e->p)->api->buf_free(ref_of(e->p)->ctx, fr[i]);
    free(ar);
    free(br);
    free(exact);
    free(emu);
}

static void op_conv_fwd(parity_pair *p, const void *d, ns_buf *x, ns_buf *w, ns_buf *y)
{
    parity_ok(p, PARITY_REF, "conv2d_forward",
              ref_of(p)->api->conv2d_forward(ref_of(p)->ctx, d, x, w, y));
}
static void op_conv_bwd_data(parity_pair *p, const void *d, ns_buf *dy, ns_buf *w, ns_buf *dx)
{
    parity_ok(p, PARITY_REF, "conv2d_backward_data",
              ref_of(p)->api->conv2d_backward_data(ref_of(p)->ctx, d, dy, w, dx));
}
static void op_conv_bwd_filter(parity_pair *p, const void *d, ns_buf *x, ns_buf *dy, ns_buf *dw)
{
    parity_ok(p, PARITY_REF, "conv2d_backward_filter",
              ref_of(p)->api->conv2d_backward_filter(ref_of(p)->ctx, d, x, dy, dw));
}
static void op_dense_fwd(parity_pair *p, const void *d, ns_buf *x, ns_buf *w, ns_buf *y)
{
    parity_ok(p, PARITY_REF, "dense_forward",
              ref_of(p)->api->dense_forward(ref_of(p)->ctx, d, x, w, NULL, y));
}
/* dense_backward's dx (from dy and w) and dw (from x and dy), each with the
 * other outputs in temporaries */
static void op_dense_bwd_dx(parity_pair *p, const void *vd, ns_buf *dy, ns_buf *w, ns_buf *dx)
{
    const ns_dense_desc *d = vd;
    ns_buf *x = ref_buf(p, NULL, (size_t)d->n * d->in), *dw = ref_buf(p, NULL, (size_t)d->out * d->in);
    parity_ok(p, PARITY_REF, "fill", ref_of(p)->api->fill(ref_of(p)->ctx, x, (size_t)d->n * d->in, 0.0f));
    parity_ok(p, PARITY_REF, "dense_backward",
              ref_of(p)->api->dense_backward(ref_of(p)->ctx, d, x, w, dy, dx, dw, NULL));
    ref_of(p)->api->buf_free(ref_of(p)->ctx, x);
    ref_of(p)->api->buf_free(ref_of(p)->ctx, dw);
}
static void op_dense_bwd_dw(parity_pair *p, const void *vd, ns_buf *x, ns_buf *dy, ns_buf *dw)
{
    const ns_dense_desc *d = vd;
    ns_buf *w = ref_buf(p, NULL, (size_t)d->out * d->in);
    parity_ok(p, PARITY_REF, "fill", ref_of(p)->api->fill(ref_of(p)->ctx, w, (size_t)d->out * d->in, 0.0f));
    parity_ok(p, PARITY_REF, "dense_backward",
              ref_of(p)->api->dense_backward(ref_of(p)->ctx, d, x, w, dy, NULL, dw, NULL));
    ref_of(p)->api->buf_free(ref_of(p)->ctx, w);
}
static void op_add(parity_pair *p, const void *d, ns_buf *a, ns_buf *b, ns_buf *y)
{
    parity_ok(p, PARITY_REF, "add",
              ref_of(p)->api->add(ref_of(p)->ctx, a, b, y, *(const size_t *)d));
}
static void op_mul(parity_pair *p, const void *d, ns_buf *a, ns_buf *b, ns_buf *y)
{
    parity_ok(p, PARITY_REF, "mul",
              ref_of(p)->api->mul(ref_of(p)->ctx, a, b, y, *(const size_t *)d));
}

/* The fused inference unit as a bf16 backend computes it (cpu_conv_bn.c):
 * the batchnorm folded into the weights, which are then rounded to bf16, its
 * shift a float32 bias, the residual read as bf16, the output stored as bf16;
 * against the float32 composition conv -> batchnorm -> add -> relu. Ranges
 * of parity_conv_bn.c's units. */
static void emulate_fused(emu_ctx *e, const ns_conv_desc *d, uint64_t seed)
{
    const size_t nx = conv_nx(d), nw = conv_nw(d), ny = conv_ny(d), k = (size_t)d->k;
    const size_t hw = (size_t)d->p * d->q, crs = nw / k;
    float *x = host_random(nx, seed, 1, -1.0f, 1.0f), *w = host_random(nw, seed, 2, -0.5f, 0.5f);
    float *gamma = host_random(k, seed, 3, 0.25f, 2.0f), *beta = host_random(k, seed, 4, -1.0f, 1.0f);
    float *mean = host_random(k, seed, 5, -1.0f, 1.0f), *var = host_random(k, seed, 6, 0.25f, 4.0f);
    float *res = host_random(ny, seed, 7, -2.0f, 2.0f);
    float *scale = parity_alloc(k), *folded = parity_alloc(nw);
    for (size_t c = 0; c < k; c++)
        scale[c] = gamma[c] / sqrtf(var[c] + 1e-5f);
    for (size_t i = 0; i < nw; i++)
        folded[i] = bf16_round(w[i] * scale[i / crs]);
    float *xr = rounded_copy(x, nx);
    float *conv_exact = parity_alloc(ny), *conv_emu = parity_alloc(ny);
    float *exact = parity_alloc(ny), *emu = parity_alloc(ny);
    ns_buf *X = ref_buf(e->p, x, nx), *W = ref_buf(e->p, w, nw), *Y = ref_buf(e->p, NULL, ny);
    op_conv_fwd(e->p, d, X, W, Y);
    ref_get(e->p, Y, conv_exact, ny);
    parity_ok(e->p, PARITY_REF, "upload", ref_of(e->p)->api->upload(ref_of(e->p)->ctx, X, 0, xr, nx));
    parity_ok(e->p, PARITY_REF, "upload", ref_of(e->p)->api->upload(ref_of(e->p)->ctx, W, 0, folded, nw));
    op_conv_fwd(e->p, d, X, W, Y);
    ref_get(e->p, Y, conv_emu, ny);
    for (int variant = 0; variant < 2; variant++) { /* residual + relu; neither */
        for (size_t i = 0; i < ny; i++) {
            size_t c = (i / hw) % k;
            float bias = beta[c] - mean[c] * scale[c];
            float a = scale[c] * (conv_exact[i] - mean[c]) + beta[c];
            float b = conv_emu[i] + bias;
            if (variant == 0) {
                a += res[i];
                b += bf16_round(res[i]);
                a = a > 0.0f ? a : 0.0f;
                b = b > 0.0f ? b : 0.0f;
            }
            exact[i] = a;
            emu[i] = bf16_round(b);
        }
        emu_record(e, "conv2d_bn_infer", nmse_of(emu, exact, ny));
    }
    ns_buf *fr[] = {X, W, Y};
    for (int i = 0; i < 3; i++)
        ref_of(e->p)->api->buf_free(ref_of(e->p)->ctx, fr[i]);
    float *fh[] = {x, w, gamma, beta, mean, var, res, scale, folded, xr, conv_exact, conv_emu,
                   exact, emu};
    for (size_t i = 0; i < COUNT(fh); i++)
        free(fh[i]);
}

void parity_bf16_emulation(parity_pair *p, parity_tol_fn low_tol)
{
    emu_ctx e = {p, {0}, {0}, 0};
    /* the main suite's convolution shapes (test_backend_parity.c) */
    static const int conv[][9] = {
        {1, 3, 32, 32, 16, 3, 3, 1, 1}, {2, 16, 32, 32, 16, 3, 3, 1, 1},
        {2, 16, 32, 32, 32, 3, 3, 2, 1}, {2, 16, 32, 32, 32, 1, 1, 2, 0},
        {8, 64, 8, 8, 64, 3, 3, 1, 1}, {3, 17, 8, 8, 32, 1, 1, 1, 0},
        {4, 5, 9, 7, 17, 3, 3, 2, 1}, {2, 8, 11, 13, 5, 5, 5, 1, 2},
        {2, 5, 10, 10, 7, 5, 5, 2, 0}, {2, 3, 3, 3, 4, 3, 3, 1, 1}};
    for (size_t i = 0; i < COUNT(conv); i++) {
        const int *s = conv[i];
        ns_conv_desc d = conv_desc(s[0], s[1], s[2], s[3], s[4], s[5], s[7], s[8]);
        size_t nx = conv_nx(&d), nw = conv_nw(&d), ny = conv_ny(&d);
        /* the seeds and ranges of test_conv2d */
        float *x = host_random(nx, 100 + i, 1, -1.0f, 1.0f);
        float *w = host_random(nw, 100 + i, 2, -0.5f, 0.5f);
        float *dy = host_random(ny, 100 + i, 3, -1.0f, 1.0f);
        /* bf16 mode: activations and their gradients are stored in bf16,
         * weight gradients in float32 (cpu_conv.c) */
        emulate(&e, "conv2d_forward", op_conv_fwd, &d, x, nx, w, nw, ny, 1);
        emulate(&e, "conv2d_backward_data", op_conv_bwd_data, &d, dy, ny, w, nw, nx, 1);
        emulate(&e, "conv2d_backward_filter", op_conv_bwd_filter, &d, x, nx, dy, ny, nw, 0);
        emulate_fused(&e, &d, 2000 + i);
        free(x);
        free(w);
        free(dy);
    }
    static const int dense[][3] = {{1, 3, 10}, {7, 13, 5},     {32, 64, 10},
                                   {128, 512, 10}, {5, 100, 1000}, {17, 70, 9}};
    for (size_t i = 0; i < COUNT(dense); i++) {
        ns_dense_desc d = {dense[i][0], dense[i][1], dense[i][2]};
        size_t nx = (size_t)d.n * d.in, nw = (size_t)d.out * d.in, ny = (size_t)d.n * d.out;
        float *x = host_random(nx, 500 + i, 1, -1.0f, 1.0f);
        float *w = host_random(nw, 500 + i, 2, -0.5f, 0.5f);
        /* a backend computing dense in bf16 (the cpu backend keeps it in
         * float32, which this bounds from above) */
        float *dy = host_random(ny, 500 + i, 4, -1.0f, 1.0f);
        emulate(&e, "dense_forward", op_dense_fwd, &d, x, nx, w, nw, ny, 1);
        emulate(&e, "dense_backward dx", op_dense_bwd_dx, &d, dy, ny, w, nw, nx, 1);
        emulate(&e, "dense_backward dw", op_dense_bwd_dw, &d, x, nx, dy, ny, nw, 0);
        free(x);
        free(w);
        free(dy);
    }
    /* element-wise on values already bf16: only the output is rounded */
    size_t n = 65537;
    float *a = host_random(n, 300, 1, -1.0f, 1.0f), *b = host_random(n, 300, 2, -1.0f, 1.0f);
    for (size_t i = 0; i < n; i++) {
        a[i] = bf16_round(a[i]);
        b[i] = bf16_round(b[i]);
    }
    emulate(&e, "resident add", op_add, &n, a, n, b, n, n, 1);
    emulate(&e, "resident mul", op_mul, &n, a, n, b, n, n, 1);
    free(a);
    free(b);

    int bad = 0;
    for (int i = 0; i < e.nops; i++) {
        const char *op = e.ops[i];
        int resident = strncmp(op, "resident ", 9) == 0;
        double tol = resident ? PARITY_BF16_ROUND_NMSE : low_tol(op);
        double ratio = e.worst[i] > 0.0 ? tol / e.worst[i] : INFINITY;
        printf("  bf16 emulation %-24s worst nmse %-10.3g limit %-10.3g (%.1fx)\n", op,
               e.worst[i], tol, ratio);
        /* resident ops: the limit is a proven bound, not a fit: it only has to hold */
        if (!(e.worst[i] <= (resident ? tol : tol / 2.0)) || (!resident && ratio > 20.0)) {
            print_error("%s: emulated bf16 nmse %.3g against limit %.3g: the limit must be "
                        "2x to 20x the emulation's worst case\n",
                        op, e.worst[i], tol);
            bad = 1;
        }
    }
    if (bad)
        fail_msg("a low-precision limit does not match the bf16 emulation (see above)");
}
