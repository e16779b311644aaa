/* Backend parity suite: every op of a backend against ref, the oracle.
 *
 *   test_backend_parity <backend spec> [fp32|bf16|fp16]
 *
 * Inputs are drawn from Philox on the host, uploaded to both backends, run on
 * both, downloaded and compared by normalised MSE (ggml's test-backend-ops):
 *   nmse = sum((dut - ref)^2) / sum(ref^2)
 * against the per-op tolerance below. mask_bernoulli must match exactly; ref
 * against ref must match exactly everywhere (it proves the harness). When the
 * backend's plugin is absent or refuses to run here, every test skips and says
 * why. Shapes and tolerances are here, at the top, for backend authors. */
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

#include "parity_conv_bn.h"
#include "parity_nonfinite.h"
#include "parity_harness.h"
#include "parity_resident.h"
#include "util/error.h"

/* ------------------------------------------------------------ tolerances */

/* nmse limits. fp32: summation order only. low: bf16/fp16 compute for conv
 * and dense, about 4x the worst nmse of an exact bf16 emulation of these
 * shapes on ref (inputs and activation outputs rounded to bf16, float32
 * accumulation: test_backend_parity ref bf16-emulation, which fails when a
 * limit leaves 2x-20x of it); every other op gets uploaded float32 inputs
 * here, so its limit does not widen (resident bf16 inputs: parity_resident.h). */
typedef struct op_tolerance {
    const char *op;
    double fp32, low;
} op_tolerance;

static const op_tolerance tolerances[] = {
    {"conv2d_forward", 1e-7, 4e-5},         /* emulated worst 1.01e-5 */
    {"conv2d_backward_data", 1e-7, 4e-5},   /* 1.10e-5 */
    {"conv2d_backward_filter", 1e-6, 2e-5}, /* 5.07e-6 */
    /* fused unit against ref's composition (conv, bn inference, add, relu) */
    {"conv2d_bn_infer", 1e-7, 4e-5},        /* 8.60e-6 */
    {"dense_forward", 1e-7, 4e-5},          /* 1.07e-5 */
    {"dense_backward dx", 1e-7, 5e-5},      /* 1.22e-5 */
    {"dense_backward dw", 1e-6, 5e-5},      /* 1.23e-5 */
    {"dense_backward db", 1e-7, 1e-7},
    {"batchnorm_forward_train", 1e-7, 1e-7},
    {"batchnorm running stats", 1e-7, 1e-7},
    {"batchnorm_forward_infer", 1e-7, 1e-7},
    {"batchnorm_backward", 1e-6, 1e-6},
    {"relu_forward", 0.0, 0.0},
    {"relu_backward", 0.0, 0.0},
    {"add", 0.0, 0.0},
    {"axpby", 1e-12, 1e-12},
    {"mul", 0.0, 0.0},
    {"mul_rows", 0.0, 0.0},
    {"mask_bernoulli", 0.0, 0.0}, /* exact: same Philox stream everywhere */
    {"global_avg_pool_forward", 1e-10, 1e-10},
    {"global_avg_pool_backward", 1e-12, 1e-12},
    {"softmax", 1e-10, 1e-10},
    {"softmax_cross_entropy loss", 1e-10, 1e-10},
    {"softmax_cross_entropy dlogits", 1e-10, 1e-10},
    {"sgd_update", 1e-10, 1e-10},
    {"adam_update", 1e-10, 1e-10},
    {"copy/fill/upload", 0.0, 0.0},
    {"reduce", 1e-12, 1e-12},
    /* training sequence: per-step |loss_dut - loss_ref| / |loss_ref| */
    {"training loss", 1e-4, 5e-2},
};

/* ---------------------------------------------------------------- shapes */

typedef struct conv_shape {
    int n, c, h, w, k, r, s, stride, pad;
} conv_shape;

static const conv_shape conv_shapes[] = {
    /* n   c   h   w   k  r  s  str pad */
    {1, 3, 32, 32, 16, 3, 3, 1, 1},   /* CIFAR stem, batch 1, 3 channels */
    {2, 16, 32, 32, 16, 3, 3, 1, 1},  /* ResNet stage 1 */
    {2, 16, 32, 32, 32, 3, 3, 2, 1},  /* downsampling 3x3 */
    {2, 16, 32, 32, 32, 1, 1, 2, 0},  /* projection shortcut */
    {8, 64, 8, 8, 64, 3, 3, 1, 1},    /* ResNet stage 3 */
    {3, 17, 8, 8, 32, 1, 1, 1, 0},    /* 1x1, odd channels */
    {4, 5, 9, 7, 17, 3, 3, 2, 1},     /* odd everything */
    {2, 8, 11, 13, 5, 5, 5, 1, 2},    /* 5x5 same */
    {2, 5, 10, 10, 7, 5, 5, 2, 0},    /* 5x5 stride 2 valid */
    {1, 1, 1, 1, 1, 1, 1, 1, 0},      /* tiny */
    {2, 3, 3, 3, 4, 3, 3, 1, 1},      /* tiny, padding larger than the image core */
    /* the opencl backend's direct stride-1 kernels (rows of 16; see ocl_conv.c) */
    {2, 6, 16, 16, 7, 5, 5, 1, 2},    /* 5x5 same: padded by 2, adjoint padded by 2 */
    {3, 4, 18, 18, 5, 3, 3, 1, 0},    /* valid: unpadded forward and filter gradient */
    {2, 5, 16, 16, 6, 3, 3, 1, 0},    /* valid into rows of 14: adjoint padded by 2 */
    {2, 8, 256, 256, 3, 3, 3, 1, 1},  /* an image over the workspace cap: chunks of one */
    {2, 4, 7, 8, 5, 3, 3, 1, 1},      /* rows of 8, odd height: a vector of 16 would span images */
};

typedef struct bn_shape {
    int n, c, hw;
} bn_shape;

static const bn_shape bn_shapes[] = {
    {1, 3, 1024}, {4, 17, 64}, {8, 64, 64}, {2, 5, 49}, {16, 10, 1}, {1, 2, 1},
};

typedef struct dense_shape {
    int n, in, out;
} dense_shape;

static const dense_shape dense_shapes[] = {
    {1, 3, 10}, {7, 13, 5}, {32, 64, 10}, {128, 512, 10}, {5, 100, 1000}, {17, 70, 9},
};

static const size_t elementwise_sizes[] = {1, 17, 1000, 65537};

typedef struct rows_shape {
    int n, classes;
} rows_shape;

static const rows_shape loss_shapes[] = {{1, 2}, {4, 10}, {33, 1000}, {128, 10}};

typedef struct pool_shape {
    int n, c, hw;
} pool_shape;

static const pool_shape pool_shapes[] = {{1, 3, 1}, {4, 17, 64}, {8, 64, 64}, {2, 5, 49}};

#define COUNT(a) (sizeof(a) / sizeof *(a))
#define OPTIMIZER_STEPS 5
#define TRAINING_STEPS 20

/* ------------------------------------------------------------ plumbing */

static parity_pair pair;

static double tol_of(const char *op)
{
    for (size_t i = 0; i < COUNT(tolerances); i++)
        if (strcmp(tolerances[i].op, op) == 0)
            return pair.precision == NS_PRECISION_FP32 ? tolerances[i].fp32 : tolerances[i].low;
    fail_msg("no tolerance for op '%s' in the table", op);
    return 0.0;
}

static void expect(const parity_buf *b, size_t n, const char *op, const char *shape)
{
    parity_expect(&pair, b, n, op, shape, tol_of(op));
}

#define NEED_BACKEND()                                                      \
    do {                                                                    \
        if (!pair.be[PARITY_DUT]) {                                         \
            print_message("skipped: %s\n", pair.skip_reason);               \
            skip();                                                         \
        }                                                                   \
    } while (0)

/* A host array of n Philox uniforms in [lo, hi); free() it. */
static float *philox_array(size_t n, uint64_t seed, uint64_t stream, float lo, float hi)
{
    float *h = parity_alloc(n);
    parity_fill(h, n, seed, stream, lo, hi);
    return h;
}

static parity_buf random_buf(size_t n, uint64_t seed, uint64_t stream, float lo, float hi)
{
    float *h = philox_array(n, seed, stream, lo, hi);
    parity_buf b = parity_buf_new(&pair, h, n);
    free(h);
    return b;
}

/* ------------------------------------------------------------------ conv */

static void test_conv2d(void **state)
{
    (void)state;
    NEED_BACKEND();
    for (size_t i = 0; i < COUNT(conv_shapes); i++) {
        const conv_shape *s = &conv_shapes[i];
        ns_conv_desc d = {s->n, s->c, s->h, s->w, s->k, s->r, s->s, s->stride, s->pad, 0, 0};
        d.p = (s->h + 2 * s->pad - s->r) / s->stride + 1;
        d.q = (s->w + 2 * s->pad - s->s) / s->stride + 1;
        size_t nx = (size_t)d.n * d.c * d.h * d.w, nw = (size_t)d.k * d.c * d.r * d.s,
               ny = (size_t)d.n * d.k * d.p * d.q;
        char shape[128];
        snprintf(shape, sizeof shape, "n=%d c=%d %dx%d k=%d %dx%d stride=%d pad=%d", d.n, d.c,
                 d.h, d.w, d.k, d.r, d.s, d.stride, d.pad);
        parity_buf x = random_buf(nx, 100 + i, 1, -1.0f, 1.0f);
        parity_buf w = random_buf(nw, 100 + i, 2, -0.5f, 0.5f);
        parity_buf dy = random_buf(ny, 100 + i, 3, -1.0f, 1.0f);
        parity_buf y = parity_buf_new(&pair, NULL, ny);
        parity_buf dx = parity_buf_new(&pair, NULL, nx);
        parity_buf dw = parity_buf_new(&pair, NULL, nw);
        PARITY_BOTH(&pair, conv2d_forward, &d, x.b[side], w.b[side], y.b[side]);
        expect(&y, ny, "conv2d_forward", shape);
        PARITY_BOTH(&pair, conv2d_backward_data, &d, dy.b[side], w.b[side], dx.b[side]);
        expect(&dx, nx, "conv2d_backward_data", shape);
        PARITY_BOTH(&pair, conv2d_backward_filter, &d, x.b[side], dy.b[side], dw.b[side]);
        expect(&dw, nw, "conv2d_backward_filter", shape);
        parity_buf *all[] = {&x, &w, &dy, &y, &dx, &dw};
        for (size_t j = 0; j < COUNT(all); j++)
            parity_buf_free(&pair, all[j]);
    }
}

/* -------------------------------------------- fused inference conv unit */

static void test_conv2d_bn_infer(void **state)
{
    (void)state;
    NEED_BACKEND();
    if (!pair.be[PARITY_DUT]->api->conv2d_bn_infer) {
        print_message("skipped: %s leaves conv2d_bn_infer NULL: the host composes "
                      "conv2d_forward, batchnorm_forward_infer, add and relu_forward\n",
                      pair.spec);
        skip();
    }
    parity_conv_bn_shape shapes[COUNT(conv_shapes)];
    for (size_t i = 0; i < COUNT(conv_shapes); i++) {
        const conv_shape *s = &conv_shapes[i];
        shapes[i] = (parity_conv_bn_shape){s->n, s->c, s->h, s->w, s->k,
                                           s->r, s->s, s->stride, s->pad};
    }
    parity_conv_bn_run(&pair, shapes, COUNT(shapes), tol_of("conv2d_bn_infer"));
    parity_conv_bn_invalid(&pair);
}

/* ------------------------------------------------------------- batchnorm */

static void test_batchnorm(void **state)
{
    (void)state;
    NEED_BACKEND();
    for (size_t i = 0; i < COUNT(bn_shapes); i++) {
        const bn_shape *s = &bn_shapes[i];
        ns_bn_desc d = {s->n, s->c, s->hw, 1e-5f, 0.1f};
        size_t nx = (size_t)s->n * s->c * s->hw, c = (size_t)s->c;
        char shape[96];
        snprintf(shape, sizeof shape, "n=%d c=%d hw=%d", s->n, s->c, s->hw);
        parity_buf x = random_buf(nx, 200 + i, 1, -2.0f, 3.0f);
        parity_buf dy = random_buf(nx, 200 + i, 2, -1.0f, 1.0f);
        parity_buf gamma = random_buf(c, 200 + i, 3, 0.5f, 1.5f);
        parity_buf beta = random_buf(c, 200 + i, 4, -0.5f, 0.5f);
        parity_buf rmean = random_buf(c, 200 + i, 5, -0.2f, 0.2f);
        parity_buf rvar = random_buf(c, 200 + i, 6, 0.5f, 2.0f);
        parity_buf y = parity_buf_new(&pair, NULL, nx);
        parity_buf smean = parity_buf_new(&pair, NULL, c);
        parity_buf sinv = parity_buf_new(&pair, NULL, c);
        parity_buf dx = parity_buf_new(&pair, NULL, nx);
        parity_buf dgamma = parity_buf_new(&pair, NULL, c);
        parity_buf dbeta = parity_buf_new(&pair, NULL, c);

        PARITY_BOTH(&pair, batchnorm_forward_train, &d, x.b[side], gamma.b[side], beta.b[side],
                    rmean.b[side], rvar.b[side], y.b[side], smean.b[side], sinv.b[side]);
        expect(&y, nx, "batchnorm_forward_train", shape);
        expect(&rmean, c, "batchnorm running stats", shape);
        expect(&rvar, c, "batchnorm running stats", shape);
        expect(&smean, c, "batchnorm running stats", shape);
        PARITY_BOTH(&pair, batchnorm_backward, &d, x.b[side], dy.b[side], gamma.b[side],
                    smean.b[side], sinv.b[side], dx.b[side], dgamma.b[side], dbeta.b[side]);
        expect(&dx, nx, "batchnorm_backward", shape);
        expect(&dgamma, c, "batchnorm_backward", shape);
        expect(&dbeta, c, "batchnorm_backward", shape);
        PARITY_BOTH(&pair, batchnorm_forward_infer, &d, x.b[side], gamma.b[side], beta.b[side],
                    rmean.b[side], rvar.b[side], y.b[side]);
        expect(&y, nx, "batchnorm_forward_infer", shape);
        parity_buf *all[] = {&x, &dy, &gamma, &beta, &rmean, &rvar,
                             &y, &smean, &sinv, &dx, &dgamma, &dbeta};
        for (size_t j = 0; j < COUNT(all); j++)
            parity_buf_free(&pair, all[j]);
    }
}

/* ------------------------------------------------------------ element-wise */

static void test_elementwise(void **state)
{
    (void)state;
    NEED_BACKEND();
    for (size_t i = 0; i < COUNT(elementwise_sizes); i++) {
        size_t n = elementwise_sizes[i];
        char shape[48];
        snprintf(shape, sizeof shape, "n=%zu", n);
        parity_buf a = random_buf(n, 300 + i, 1, -1.0f, 1.0f);
        parity_buf b = random_buf(n, 300 + i, 2, -1.0f, 1.0f);
        parity_buf y = parity_buf_new(&pair, NULL, n);
        parity_buf z = parity_buf_new(&pair, NULL, n);

        PARITY_BOTH(&pair, relu_forward, a.b[side], y.b[side], n);
        expect(&y, n, "relu_forward", shape);
        PARITY_BOTH(&pair, relu_backward, y.b[side], b.b[side], z.b[side], n);
        expect(&z, n, "relu_backward", shape);
        PARITY_BOTH(&pair, add, a.b[side], b.b[side], y.b[side], n);
        expect(&y, n, "add", shape);
        PARITY_BOTH(&pair, mul, a.b[side], b.b[side], y.b[side], n);
        expect(&y, n, "mul", shape);
        /* beta == 0 must ignore the NaN the output was filled with. */
        PARITY_BOTH(&pair, fill, z.b[side], n, NAN);
        PARITY_BOTH(&pair, axpby, a.b[side], z.b[side], n, 0.75f, 0.0f);
        expect(&z, n, "axpby", shape);
        PARITY_BOTH(&pair, axpby, b.b[side], z.b[side], n, -1.5f, 0.25f);
        expect(&z, n, "axpby", shape);
        /* In place (y aliases an input), as layers call them. */
        PARITY_BOTH(&pair, add, a.b[side], b.b[side], a.b[side], n);
        PARITY_BOTH(&pair, relu_forward, a.b[side], a.b[side], n);
        expect(&a, n, "relu_forward", shape);

        for (int m = 0; m < 3; m++) {
            const float keep[] = {0.8f, 0.5f, 1.0f};
            uint64_t stream = ns_rng_stream_id(1 + m, 7, i);
            PARITY_BOTH(&pair, mask_bernoulli, y.b[side], n, keep[m], 1.0f / keep[m],
                        0x5EEDull + i, stream);
            expect(&y, n, "mask_bernoulli", shape);
        }
        /* fill, copy, and upload/download at an offset. */
        PARITY_BOTH(&pair, fill, y.b[side], n, 0.375f);
        expect(&y, n, "copy/fill/upload", shape);
        PARITY_BOTH(&pair, copy, y.b[side], b.b[side], n);
        expect(&y, n, "copy/fill/upload", shape);
        if (n > 4) {
            float *h = philox_array(n / 2, 300 + i, 9, -3.0f, 3.0f);
            PARITY_BOTH(&pair, upload, y.b[side], n - n / 2, h, n / 2);
            float *back = parity_alloc(n / 2);
            parity_ok(&pair, PARITY_DUT, "download",
                      pair.be[PARITY_DUT]->api->download(pair.be[PARITY_DUT]->ctx,
                                                         y.b[PARITY_DUT], n - n / 2, back, n / 2));
            int same = memcmp(h, back, sizeof(float) * (n / 2)) == 0;
            free(h);
            free(back);
            if (!same)
                fail_msg("upload/download at offset %zu of %zu: data changed", n - n / 2, n);
            expect(&y, n, "copy/fill/upload", shape);
        }
        parity_buf_free(&pair, &a);
        parity_buf_free(&pair, &b);
        parity_buf_free(&pair, &y);
        parity_buf_free(&pair, &z);
    }
}

static void test_mul_rows(void **state)
{
    (void)state;
    NEED_BACKEND();
    const size_t shapes[][2] = {{1, 1}, {8, 17 * 64}, {5, 1}, {3, 1000}};
    for (size_t i = 0; i < COUNT(shapes); i++) {
        size_t rows = shapes[i][0], cols = shapes[i][1], n = rows * cols;
        char shape[64];
        snprintf(shape, sizeof shape, "rows=%zu cols=%zu", rows, cols);
        parity_buf x = random_buf(n, 350 + i, 1, -1.0f, 1.0f);
        parity_buf scale = parity_buf_new(&pair, NULL, rows);
        PARITY_BOTH(&pair, mask_bernoulli, scale.b[side], rows, 0.5f, 2.0f, 77, i);
        parity_buf y = parity_buf_new(&pair, NULL, n);
        PARITY_BOTH(&pair, mul_rows, x.b[side], scale.b[side], y.b[side], rows, cols);
        expect(&y, n, "mul_rows", shape);
        PARITY_BOTH(&pair, mul_rows, x.b[side], scale.b[side], x.b[side], rows, cols);
        expect(&x, n, "mul_rows", shape);
        parity_buf_free(&pair, &x);
        parity_buf_free(&pair, &scale);
        parity_buf_free(&pair, &y);
    }
}

/* ---------------------------------------------------------------- pooling */

static void test_global_avg_pool(void **state)
{
    (void)state;
    NEED_BACKEND();
    for (size_t i = 0; i < COUNT(pool_shapes); i++) {
        const pool_shape *s = &pool_shapes[i];
        size_t nx = (size_t)s->n * s->c * s->hw, ny = (size_t)s->n * s->c;
        char shape[64];
        snprintf(shape, sizeof shape, "n=%d c=%d hw=%d", s->n, s->c, s->hw);
        parity_buf x = random_buf(nx, 400 + i, 1, -1.0f, 2.0f);
        parity_buf dy = random_buf(ny, 400 + i, 2, -1.0f, 1.0f);
        parity_buf y = parity_buf_new(&pair, NULL, ny);
        parity_buf dx = parity_buf_new(&pair, NULL, nx);
        PARITY_BOTH(&pair, global_avg_pool_forward, x.b[side], y.b[side], s->n, s->c, s->hw);
        expect(&y, ny, "global_avg_pool_forward", shape);
        PARITY_BOTH(&pair, global_avg_pool_backward, dy.b[side], dx.b[side], s->n, s->c, s->hw);
        expect(&dx, nx, "global_avg_pool_backward", shape);
        parity_buf_free(&pair, &x);
        parity_buf_free(&pair, &dy);
        parity_buf_free(&pair, &y);
        parity_buf_free(&pair, &dx);
    }
}

/* ------------------------------------------------------------------ dense */

static void test_dense(void **state)
{
    (void)state;
    NEED_BACKEND();
    for (size_t i = 0; i < COUNT(dense_shapes); i++) {
        const dense_shape *s = &dense_shapes[i];
        ns_dense_desc d = {s->n, s->in, s->out};
        size_t nx = (size_t)s->n * s->in, nw = (size_t)s->out * s->in, ny = (size_t)s->n * s->out;
        char shape[64];
        snprintf(shape, sizeof shape, "n=%d in=%d out=%d", s->n, s->in, s->out);
        parity_buf x = random_buf(nx, 500 + i, 1, -1.0f, 1.0f);
        parity_buf w = random_buf(nw, 500 + i, 2, -0.5f, 0.5f);
        parity_buf b = random_buf((size_t)s->out, 500 + i, 3, -0.5f, 0.5f);
        parity_buf dy = random_buf(ny, 500 + i, 4, -1.0f, 1.0f);
        parity_buf y = parity_buf_new(&pair, NULL, ny);
        parity_buf dx = parity_buf_new(&pair, NULL, nx);
        parity_buf dw = parity_buf_new(&pair, NULL, nw);
        parity_buf db = parity_buf_new(&pair, NULL, (size_t)s->out);
        PARITY_BOTH(&pair, dense_forward, &d, x.b[side], w.b[side], b.b[side], y.b[side]);
        expect(&y, ny, "dense_forward", shape);
        PARITY_BOTH(&pair, dense_forward, &d, x.b[side], w.b[side], NULL, y.b[side]);
        expect(&y, ny, "dense_forward", shape);
        PARITY_BOTH(&pair, dense_backward, &d, x.b[side], w.b[side], dy.b[side], dx.b[side],
                    dw.b[side], db.b[side]);
        expect(&dx, nx, "dense_backward dx", shape);
        expect(&dw, nw, "dense_backward dw", shape);
        expect(&db, (size_t)s->out, "dense_backward db", shape);
        PARITY_BOTH(&pair, dense_backward, &d, x.b[side], w.b[side], dy.b[side], NULL,
                    dw.b[side], NULL);
        expect(&dw, nw, "dense_backward dw", shape);
        parity_buf *all[] = {&x, &w, &b, &dy, &y, &dx, &dw, &db};
        for (size_t j = 0; j < COUNT(all); j++)
            parity_buf_free(&pair, all[j]);
    }
}

/* ------------------------------------------------------------------- loss */

/* Soft targets: rows of non-negative values, some zero; row i sums to
 * (i % 3 == 2) ? 0 : 0.5 + (i % 4) * 0.5 — normalised, heavier, lighter and
 * weighted-out samples all occur. */
static float *soft_targets(int n, int classes, uint64_t seed)
{
    size_t count = (size_t)n * classes;
    float *t = philox_array(count, seed, 2, 0.0f, 1.0f);
    for (int i = 0; i < n; i++) {
        float *row = t + (size_t)i * classes;
        double sum = 0.0;
        for (int j = 0; j < classes; j++) {
            if (j % 4 == 3)
                row[j] = 0.0f;
            sum += row[j];
        }
        double want = (i % 3 == 2 && n > 1) ? 0.0 : (i == 0 ? 1.0 : 0.5 + (i % 4) * 0.5);
        for (int j = 0; j < classes; j++)
            row[j] = sum > 0.0 ? (float)(row[j] * want / sum) : 0.0f;
    }
    return t;
}

static void test_softmax_and_loss(void **state)
{
    (void)state;
    NEED_BACKEND();
    for (size_t i = 0; i < COUNT(loss_shapes); i++) {
        int n = loss_shapes[i].n, classes = loss_shapes[i].classes;
        size_t count = (size_t)n * classes;
        char shape[64];
        snprintf(shape, sizeof shape, "n=%d classes=%d", n, classes);
        parity_buf z = random_buf(count, 600 + i, 1, -8.0f, 8.0f);
        float *th = soft_targets(n, classes, 600 + i);
        parity_buf t = parity_buf_new(&pair, th, count);
        free(th);
        parity_buf loss = parity_buf_new(&pair, NULL, (size_t)n);
        parity_buf g = parity_buf_new(&pair, NULL, count);
        parity_buf p = parity_buf_new(&pair, NULL, count);
        float scale = 1.0f / (float)n;
        PARITY_BOTH(&pair, softmax_cross_entropy, n, classes, z.b[side], t.b[side], scale,
                    loss.b[side], g.b[side]);
        expect(&loss, (size_t)n, "softmax_cross_entropy loss", shape);
        expect(&g, count, "softmax_cross_entropy dlogits", shape);
        PARITY_BOTH(&pair, softmax_cross_entropy, n, classes, z.b[side], t.b[side], scale,
                    loss.b[side], NULL);
        expect(&loss, (size_t)n, "softmax_cross_entropy loss", shape);
        PARITY_BOTH(&pair, softmax, n, classes, z.b[side], p.b[side]);
        expect(&p, count, "softmax", shape);
        PARITY_BOTH(&pair, softmax, n, classes, z.b[side], z.b[side]);
        expect(&z, count, "softmax", shape);
        parity_buf *all[] = {&z, &t, &loss, &g, &p};
        for (size_t j = 0; j < COUNT(all); j++)
            parity_buf_free(&pair, all[j]);
    }
}

/* ------------------------------------------- outputs in larger buffers */

/* The host writes small outputs (a dense layer's dx, the pooled gradient,
 * the logits' gradient) into shared scratch buffers that last held a larger
 * activation, which a backend may keep in a blocked layout. Each op must
 * write its own extent right; what lies beyond it is unspecified (backend.h). */
static void test_outputs_in_larger_buffers(void **state)
{
    (void)state;
    NEED_BACKEND();
    const ns_conv_desc cd = {4, 3, 8, 8, 16, 3, 3, 1, 1, 8, 8};
    const size_t nbig = (size_t)cd.n * cd.k * cd.p * cd.q;
    parity_buf img = random_buf((size_t)cd.n * cd.c * cd.h * cd.w, 900, 1, -1.0f, 1.0f);
    parity_buf wc = random_buf((size_t)cd.k * cd.c * cd.r * cd.s, 900, 2, -0.5f, 0.5f);
    parity_buf big = parity_buf_new(&pair, NULL, nbig);
    const ns_dense_desc d = {4, 32, 10};
    parity_buf x = random_buf((size_t)d.n * d.in, 900, 3, -1.0f, 1.0f);
    parity_buf w = random_buf((size_t)d.out * d.in, 900, 4, -0.5f, 0.5f);
    parity_buf dy = random_buf((size_t)d.n * d.out, 900, 5, -1.0f, 1.0f);
    parity_buf dw = parity_buf_new(&pair, NULL, (size_t)d.out * d.in);
    parity_buf gy = random_buf((size_t)cd.n * cd.k, 900, 6, -1.0f, 1.0f);
    float *th = soft_targets(d.n, d.out, 900);
    parity_buf t = parity_buf_new(&pair, th, (size_t)d.n * d.out);
    free(th);
    parity_buf loss = parity_buf_new(&pair, NULL, (size_t)d.n);
    const char *shape = "conv output 4x16x8x8 reused";
    for (int op = 0; op < 5; op++) {
        /* refill the scratch with a convolution's output (blocked on cpu) */
        PARITY_BOTH(&pair, conv2d_forward, &cd, img.b[side], wc.b[side], big.b[side]);
        switch (op) {
        case 0:
            PARITY_BOTH(&pair, dense_backward, &d, x.b[side], w.b[side], dy.b[side], big.b[side],
                        dw.b[side], NULL);
            expect(&big, (size_t)d.n * d.in, "dense_backward dx", shape);
            break;
        case 1:
            PARITY_BOTH(&pair, dense_forward, &d, x.b[side], w.b[side], NULL, big.b[side]);
            expect(&big, (size_t)d.n * d.out, "dense_forward", shape);
            break;
        case 2: /* the pooled gradient back over a smaller map than the conv's */
            PARITY_BOTH(&pair, global_avg_pool_backward, gy.b[side], big.b[side], cd.n, cd.k, 16);
            expect(&big, (size_t)cd.n * cd.k * 16, "global_avg_pool_backward", shape);
            break;
        case 3:
            PARITY_BOTH(&pair, softmax_cross_entropy, d.n, d.out, dy.b[side], t.b[side], 0.25f,
                        loss.b[side], big.b[side]);
            expect(&big, (size_t)d.n * d.out, "softmax_cross_entropy dlogits", shape);
            break;
        case 4: /* an elementwise op over a prefix of plain inputs */
            PARITY_BOTH(&pair, add, x.b[side], x.b[side], big.b[side], (size_t)d.n * d.in);
            expect(&big, (size_t)d.n * d.in, "add", shape);
            break;
        }
    }
    parity_buf *all[] = {&img, &wc, &big, &x, &w, &dy, &dw, &gy, &t, &loss};
    for (size_t j = 0; j < COUNT(all); j++)
        parity_buf_free(&pair, all[j]);
}

/* ------------------------------------------------------------- optimizers */

static void test_optimizers(void **state)
{
    (void)state;
    NEED_BACKEND();
    for (size_t i = 0; i < COUNT(elementwise_sizes); i++) {
        size_t n = elementwise_sizes[i];
        char shape[64];
        const ns_sgd_params sgds[] = {
            {0.1f, 0.9f, 5e-4f, 0}, {0.05f, 0.9f, 1e-4f, 1}, {0.2f, 0.0f, 0.0f, 0}};
        for (size_t k = 0; k < COUNT(sgds); k++) {
            snprintf(shape, sizeof shape, "n=%zu momentum=%g nesterov=%d", n,
                     (double)sgds[k].momentum, sgds[k].nesterov);
            parity_buf w = random_buf(n, 700 + i, 1, -1.0f, 1.0f);
            parity_buf v = parity_buf_new(&pair, NULL, n);
            PARITY_BOTH(&pair, fill, v.b[side], n, 0.0f);
            for (int step = 0; step < OPTIMIZER_STEPS; step++) {
                parity_buf g = random_buf(n, 700 + i, 10 + step, -1.0f, 1.0f);
                PARITY_BOTH(&pair, sgd_update, &sgds[k], w.b[side], g.b[side], v.b[side], n);
                parity_buf_free(&pair, &g);
            }
            expect(&w, n, "sgd_update", shape);
            expect(&v, n, "sgd_update", shape);
            parity_buf_free(&pair, &w);
            parity_buf_free(&pair, &v);
        }
        snprintf(shape, sizeof shape, "n=%zu adam", n);
        parity_buf w = random_buf(n, 750 + i, 1, -1.0f, 1.0f);
        parity_buf m = parity_buf_new(&pair, NULL, n);
        parity_buf v = parity_buf_new(&pair, NULL, n);
        PARITY_BOTH(&pair, fill, m.b[side], n, 0.0f);
        PARITY_BOTH(&pair, fill, v.b[side], n, 0.0f);
        for (int step = 1; step <= OPTIMIZER_STEPS; step++) {
            ns_adam_params ap = {1e-3f, 0.9f, 0.999f, 1e-8f, step > 2 ? 1e-2f : 0.0f, step};
            parity_buf g = random_buf(n, 750 + i, 10 + step, -1.0f, 1.0f);
            PARITY_BOTH(&pair, adam_update, &ap, w.b[side], g.b[side], m.b[side], v.b[side], n);
            parity_buf_free(&pair, &g);
        }
        expect(&w, n, "adam_update", shape);
        expect(&m, n, "adam_update", shape);
        expect(&v, n, "adam_update", shape);
        parity_buf_free(&pair, &w);
        parity_buf_free(&pair, &m);
        parity_buf_free(&pair, &v);
    }
}

/* -------------------------------------------------------------- reduction */

static void test_reduce(void **state)
{
    (void)state;
    NEED_BACKEND();
    if (!pair.be[PARITY_DUT]->api->reduce) {
        print_message("skipped: %s leaves reduce NULL (the host computes it)\n", pair.spec);
        skip();
    }
    for (size_t i = 0; i < COUNT(elementwise_sizes); i++) {
        size_t n = elementwise_sizes[i];
        float *h = philox_array(n, 800 + i, 1, -2.0f, 2.0f);
        if (n > 10) {
            h[3] = NAN;
            h[n - 1] = INFINITY;
            h[n / 2] = -INFINITY;
        }
        parity_buf x = parity_buf_new(&pair, h, n);
        free(h);
        ns_reduce_result r[2];
        PARITY_BOTH(&pair, reduce, x.b[side], n, &r[side]);
        double tol = pair.exact ? 0.0 : tol_of("reduce");
        double dsum = r[1].sum - r[0].sum, dsq = r[1].sum_sq - r[0].sum_sq;
        if (!(dsum * dsum <= tol * fmax(r[0].sum_sq, 1e-30) * (double)n &&
              dsq * dsq <= tol * r[0].sum_sq * r[0].sum_sq))
            fail_msg("reduce n=%zu: sum %.17g vs ref %.17g, sum_sq %.17g vs ref %.17g", n,
                     r[1].sum, r[0].sum, r[1].sum_sq, r[0].sum_sq);
        assert_true(r[1].max_abs == r[0].max_abs);
        assert_int_equal(r[1].nonfinite, r[0].nonfinite);
        parity_buf_free(&pair, &x);
    }
}

/* count_nonfinite (ABI 1.2): exact counts, see parity_nonfinite.h */
static void test_count_nonfinite(void **state)
{
    (void)state;
    NEED_BACKEND();
    if (!pair.be[PARITY_DUT]->api->count_nonfinite) {
        print_message("skipped: %s leaves count_nonfinite NULL (the host sums reduce)\n", pair.spec);
        skip();
    }
    parity_nonfinite_run(&pair);
}

static void test_count_nonfinite_host_default(void **state)
{
    (void)state;
    NEED_BACKEND();
    parity_nonfinite_host_default(&pair);
}

/* ------------------------------------------------ a short training sequence */

/* conv 3x3 -> batchnorm (train) -> relu -> global average pool -> dense ->
 * softmax cross-entropy, backward through all of it, SGD on every parameter;
 * TRAINING_STEPS steps on one batch. The mean loss of each step must agree. */
static void test_training_sequence(void **state)
{
    (void)state;
    NEED_BACKEND();
    const int n = 4, c = 3, h = 8, w = 8, k = 8, classes = 5;
    ns_conv_desc cd = {n, c, h, w, k, 3, 3, 1, 1, h, w};
    ns_bn_desc bd = {n, k, h * w, 1e-5f, 0.1f};
    ns_dense_desc dd = {n, k, classes};
    ns_sgd_params sgd = {0.1f, 0.9f, 5e-4f, 0};
    size_t nx = (size_t)n * c * h * w, nwc = (size_t)k * c * 9, ny = (size_t)n * k * h * w,
           nf = (size_t)n * k, nwd = (size_t)classes * k, nl = (size_t)n * classes;

    parity_buf x = random_buf(nx, 900, 1, -1.0f, 1.0f);
    parity_buf wc = random_buf(nwc, 900, 2, -0.3f, 0.3f);
    parity_buf gamma = parity_buf_new(&pair, NULL, (size_t)k);
    parity_buf beta = parity_buf_new(&pair, NULL, (size_t)k);
    parity_buf rmean = parity_buf_new(&pair, NULL, (size_t)k);
    parity_buf rvar = parity_buf_new(&pair, NULL, (size_t)k);
    PARITY_BOTH(&pair, fill, gamma.b[side], (size_t)k, 1.0f);
    PARITY_BOTH(&pair, fill, beta.b[side], (size_t)k, 0.0f);
    PARITY_BOTH(&pair, fill, rmean.b[side], (size_t)k, 0.0f);
    PARITY_BOTH(&pair, fill, rvar.b[side], (size_t)k, 1.0f);
    parity_buf wd = random_buf(nwd, 900, 3, -0.5f, 0.5f);
    parity_buf bd_ = random_buf((size_t)classes, 900, 4, -0.1f, 0.1f);
    float *th = soft_targets(n, classes, 900);
    for (size_t i = 0; i < nl; i++)
        th[i] = 0.0f;
    for (int i = 0; i < n; i++) { /* label-smoothed one-hot targets */
        for (int j = 0; j < classes; j++)
            th[(size_t)i * classes + j] = j == i % classes ? 0.9f : 0.1f / (classes - 1);
    }
    parity_buf t = parity_buf_new(&pair, th, nl);
    free(th);

    parity_buf conv_y = parity_buf_new(&pair, NULL, ny), bn_y = parity_buf_new(&pair, NULL, ny),
               smean = parity_buf_new(&pair, NULL, (size_t)k),
               sinv = parity_buf_new(&pair, NULL, (size_t)k),
               feat = parity_buf_new(&pair, NULL, nf), logits = parity_buf_new(&pair, NULL, nl),
               loss = parity_buf_new(&pair, NULL, (size_t)n),
               dlogits = parity_buf_new(&pair, NULL, nl), dfeat = parity_buf_new(&pair, NULL, nf),
               dwd = parity_buf_new(&pair, NULL, nwd),
               dbd = parity_buf_new(&pair, NULL, (size_t)classes),
               dact = parity_buf_new(&pair, NULL, ny), dbn = parity_buf_new(&pair, NULL, ny),
               dgamma = parity_buf_new(&pair, NULL, (size_t)k),
               dbeta = parity_buf_new(&pair, NULL, (size_t)k),
               dwc = parity_buf_new(&pair, NULL, nwc);
    parity_buf vel[5] = {parity_buf_new(&pair, NULL, nwc), parity_buf_new(&pair, NULL, (size_t)k),
                         parity_buf_new(&pair, NULL, (size_t)k), parity_buf_new(&pair, NULL, nwd),
                         parity_buf_new(&pair, NULL, (size_t)classes)};
    for (int j = 0; j < 5; j++)
        PARITY_BOTH(&pair, fill, vel[j].b[side], vel[j].n, 0.0f);

    double tol = pair.exact ? 0.0 : tol_of("training loss");
    double first = 0.0, last = 0.0, worst = 0.0;
    for (int step = 0; step < TRAINING_STEPS; step++) {
        PARITY_BOTH(&pair, conv2d_forward, &cd, x.b[side], wc.b[side], conv_y.b[side]);
        PARITY_BOTH(&pair, batchnorm_forward_train, &bd, conv_y.b[side], gamma.b[side],
                    beta.b[side], rmean.b[side], rvar.b[side], bn_y.b[side], smean.b[side],
                    sinv.b[side]);
        PARITY_BOTH(&pair, relu_forward, bn_y.b[side], bn_y.b[side], ny);
        PARITY_BOTH(&pair, global_avg_pool_forward, bn_y.b[side], feat.b[side], n, k, h * w);
        PARITY_BOTH(&pair, dense_forward, &dd, feat.b[side], wd.b[side], bd_.b[side],
                    logits.b[side]);
        PARITY_BOTH(&pair, softmax_cross_entropy, n, classes, logits.b[side], t.b[side],
                    1.0f / n, loss.b[side], dlogits.b[side]);
        PARITY_BOTH(&pair, dense_backward, &dd, feat.b[side], wd.b[side], dlogits.b[side],
                    dfeat.b[side], dwd.b[side], dbd.b[side]);
        PARITY_BOTH(&pair, global_avg_pool_backward, dfeat.b[side], dact.b[side], n, k, h * w);
        PARITY_BOTH(&pair, relu_backward, bn_y.b[side], dact.b[side], dact.b[side], ny);
        PARITY_BOTH(&pair, batchnorm_backward, &bd, conv_y.b[side], dact.b[side], gamma.b[side],
                    smean.b[side], sinv.b[side], dbn.b[side], dgamma.b[side], dbeta.b[side]);
        PARITY_BOTH(&pair, conv2d_backward_filter, &cd, x.b[side], dbn.b[side], dwc.b[side]);
        PARITY_BOTH(&pair, sgd_update, &sgd, wc.b[side], dwc.b[side], vel[0].b[side], nwc);
        PARITY_BOTH(&pair, sgd_update, &sgd, gamma.b[side], dgamma.b[side], vel[1].b[side],
                    (size_t)k);
        PARITY_BOTH(&pair, sgd_update, &sgd, beta.b[side], dbeta.b[side], vel[2].b[side],
                    (size_t)k);
        PARITY_BOTH(&pair, sgd_update, &sgd, wd.b[side], dwd.b[side], vel[3].b[side], nwd);
        PARITY_BOTH(&pair, sgd_update, &sgd, bd_.b[side], dbd.b[side], vel[4].b[side],
                    (size_t)classes);

        float l[2][8];
        PARITY_BOTH(&pair, download, loss.b[side], 0, l[side], (size_t)n);
        double mean[2] = {0.0, 0.0};
        for (int s = 0; s < 2; s++)
            for (int i = 0; i < n; i++)
                mean[s] += l[s][i] / n;
        double rel = fabs(mean[1] - mean[0]) / fmax(fabs(mean[0]), 1e-12);
        worst = fmax(worst, rel);
        if (!(rel <= tol))
            fail_msg("training step %d: mean loss %.9g on %s, %.9g on ref (relative %.3g > %.3g)",
                     step, mean[1], pair.spec, mean[0], rel, tol);
        if (step == 0)
            first = mean[0];
        last = mean[0];
    }
    print_message("training: loss %.5f -> %.5f over %d steps, worst relative difference %.3g "
                  "(tol %.3g)\n",
                  first, last, TRAINING_STEPS, worst, tol);
    /* The sequence must actually learn, or it compares nothing interesting. */
    assert_true(last < first);

    parity_buf *all[] = {&x, &wc, &gamma, &beta, &rmean, &rvar, &wd, &bd_, &t, &conv_y,
                         &bn_y, &smean, &sinv, &feat, &logits, &loss, &dlogits, &dfeat, &dwd,
                         &dbd, &dact, &dbn, &dgamma, &dbeta, &dwc};
    for (size_t j = 0; j < COUNT(all); j++)
        parity_buf_free(&pair, all[j]);
    for (int j = 0; j < 5; j++)
        parity_buf_free(&pair, &vel[j]);
}

/* ------------------------------------------------------ error contract */

/* backend.h: a caller that breaks the contract gets NS_ERR_INVALID_ARG and one
 * line naming the op; the backend neither crashes nor writes out of bounds. */
static void expect_invalid(int side, ns_status st, const char *call)
{
    const char *who = side == PARITY_REF ? "ref" : pair.spec;
    if (st != NS_ERR_INVALID_ARG)
        fail_msg("%s on %s: status '%s', expected 'invalid argument'", call, who,
                 ns_status_name(st));
    if (!ns_last_error()[0])
        fail_msg("%s on %s: no error message", call, who);
}

static void test_invalid_arguments(void **state)
{
    (void)state;
    NEED_BACKEND();
    ns_conv_desc d = {2, 3, 8, 8, 4, 3, 3, 1, 1, 8, 8};
    size_t nx = 2 * 3 * 8 * 8, nw = 4 * 3 * 3 * 3, ny = 2 * 4 * 8 * 8;
    parity_buf x = parity_buf_new(&pair, NULL, nx), w = parity_buf_new(&pair, NULL, nw),
               y = parity_buf_new(&pair, NULL, ny), small = parity_buf_new(&pair, NULL, 5);
    ns_conv_desc bad_q = d;
    bad_q.q = 9;
    for (int side = 0; side < 2; side++) {
        const ns_backend_api *a = pair.be[side]->api;
        void *c = pair.be[side]->ctx;
        ns_clear_error();
        expect_invalid(side, a->conv2d_forward(c, &bad_q, x.b[side], w.b[side], y.b[side]),
                       "conv2d_forward with q inconsistent with w/stride/pad");
        ns_clear_error();
        expect_invalid(side, a->conv2d_forward(c, &d, x.b[side], small.b[side], y.b[side]),
                       "conv2d_forward with a 5-float weight buffer");
        ns_clear_error();
        expect_invalid(side, a->relu_forward(c, small.b[side], y.b[side], 6),
                       "relu_forward over 6 floats of a 5-float buffer");
        ns_clear_error();
        expect_invalid(side, a->upload(c, small.b[side], 4, (const float[2]){1, 2}, 2),
                       "upload past the end of a buffer");
    }
    parity_buf_free(&pair, &x);
    parity_buf_free(&pair, &w);
    parity_buf_free(&pair, &y);
    parity_buf_free(&pair, &small);
}

/* ------------------------------------- resident inputs, const inputs kept */

/* Inputs produced by a previous op on the backend (blocked float32, or bf16
 * in bf16 mode), as in training: see parity_resident.h. */
static void test_resident_inputs(void **state)
{
    (void)state;
    NEED_BACKEND();
    parity_resident_run(&pair, tol_of);
}

static void test_const_inputs_kept(void **state)
{
    (void)state;
    NEED_BACKEND();
    parity_const_inputs(&pair);
}

/* The low-precision limits against a bf16 emulation on ref (runs anywhere). */
static double low_tol_of(const char *op)
{
    for (size_t i = 0; i < COUNT(tolerances); i++)
        if (strcmp(tolerances[i].op, op) == 0)
            return tolerances[i].low;
    fail_msg("no tolerance for op '%s' in the table", op);
    return 0.0;
}

static void test_bf16_emulation(void **state)
{
    (void)state;
    parity_bf16_emulation(&pair, low_tol_of);
}

/* ------------------------------------------------------------------ main */

static int parse_precision(const char *s, ns_precision *out)
{
    if (strcmp(s, "fp32") == 0)
        *out = NS_PRECISION_FP32;
    else if (strcmp(s, "bf16") == 0)
        *out = NS_PRECISION_BF16;
    else if (strcmp(s, "fp16") == 0)
        *out = NS_PRECISION_FP16;
    else
        return -1;
    return 0;
}

int main(int argc, char **argv)
{
    const char *spec = argc > 1 ? argv[1] : "cpu";
    ns_precision precision = NS_PRECISION_FP32;
    /* "ref bf16-emulation": the low-precision limits against an emulation */
    int emulation = argc == 3 && strcmp(argv[2], "bf16-emulation") == 0 &&
                    strcmp(spec, "ref") == 0;
    if (argc > 3 || (argc > 2 && !emulation && parse_precision(argv[2], &precision) != 0)) {
        fprintf(stderr, "usage: %s <backend spec> [fp32|bf16|fp16] | %s ref bf16-emulation\n",
                argv[0], argv[0]);
        return 2;
    }
    if (parity_open(&pair, spec, precision) != NS_OK) {
        fprintf(stderr, "test_backend_parity: %s\n", ns_last_error());
        return 1;
    }
    if (pair.be[PARITY_DUT])
        printf("parity: %s (%s) vs ref (%s), %s%s\n",
               pair.be[PARITY_DUT]->api->describe
                   ? pair.be[PARITY_DUT]->api->describe(pair.be[PARITY_DUT]->ctx)
                   : pair.be[PARITY_DUT]->name,
               spec, pair.be[PARITY_REF]->api->describe(pair.be[PARITY_REF]->ctx),
               argc > 2 ? argv[2] : "fp32", pair.exact ? ", exact" : "");
    else
        printf("parity: skipping every test: %s\n", pair.skip_reason);

    if (emulation) {
        const struct CMUnitTest emu[] = {cmocka_unit_test(test_bf16_emulation)};
        int failed = cmocka_run_group_tests_name("bf16 emulation", emu, NULL, NULL);
        parity_close(&pair);
        return failed;
    }
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_conv2d),          cmocka_unit_test(test_conv2d_bn_infer),
        cmocka_unit_test(test_batchnorm),
        cmocka_unit_test(test_elementwise),     cmocka_unit_test(test_mul_rows),
        cmocka_unit_test(test_global_avg_pool), cmocka_unit_test(test_dense),
        cmocka_unit_test(test_softmax_and_loss), cmocka_unit_test(test_outputs_in_larger_buffers),
        cmocka_unit_test(test_optimizers),
        cmocka_unit_test(test_reduce),          cmocka_unit_test(test_training_sequence),
        cmocka_unit_test(test_count_nonfinite), cmocka_unit_test(test_count_nonfinite_host_default),
        cmocka_unit_test(test_invalid_arguments),
        cmocka_unit_test(test_resident_inputs), cmocka_unit_test(test_const_inputs_kept),
    };
    /* NS_PARITY_FILTER=PATTERN runs only the tests whose name matches (cmocka's
     * wildcards * and ?): tools/gpu-check runs a few ops under compute-sanitizer. */
    const char *filter = getenv("NS_PARITY_FILTER");
    if (filter && *filter)
        cmocka_set_test_filter(filter);
    int failed = cmocka_run_group_tests_name("backend parity", tests, NULL, NULL);
    parity_print_summary();
    parity_close(&pair);
    return failed;
}
