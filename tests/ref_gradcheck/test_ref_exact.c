/* Exact and known-value tests of the ref backend: optimizer steps worked out
 * by hand, Philox masks against the host, batchnorm running statistics,
 * reductions, the aliasing and beta == 0 rules, and argument validation. */
#include <math.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>
#include <noisystudent/rng.h>

#include "ref_test_harness.h"
#include "util/error.h"

static void expect_ok(ns_status st, const char *op)
{
    if (st != NS_OK)
        fail_msg("%s failed: %s", op, ns_last_error());
}

static void expect_near(float got, double want, double tol, const char *what)
{
    if (!(fabs(got - want) <= tol))
        fail_msg("%s: got %.9g, want %.9g (tol %g)", what, (double)got, want, tol);
}

/* ------------------------------------------------------------ optimizers */

/* w = 1, g = 0.5 every step, lr 0.1, momentum 0.9, weight decay 0.1:
 *   step 1: g' = 0.5 + 0.1*1 = 0.6;  v = 0.6;               w = 1 - 0.06 = 0.94
 *   step 2: g' = 0.5 + 0.094 = 0.594; v = 0.54 + 0.594 = 1.134; w = 0.94 - 0.1134 = 0.8266
 * Nesterov, step 1: update = g' + 0.9*v = 0.6 + 0.54 = 1.14; w = 1 - 0.114 = 0.886
 *   step 2: g' = 0.5 + 0.0886 = 0.5886; v = 0.54 + 0.5886 = 1.1286;
 *           update = 0.5886 + 1.01574 = 1.60434; w = 0.886 - 0.160434 = 0.725566 */
static void test_sgd_known_steps(void **state)
{
    ns_backend *be = *state;
    const float one[2] = {1.0f, 1.0f}, g[2] = {0.5f, 0.5f};
    ns_buf *bw = rt_buf(be, one, 2), *bg = rt_buf(be, g, 2), *bv = rt_buf(be, NULL, 2);
    float w[2], v[2];
    for (int nesterov = 0; nesterov <= 1; nesterov++) {
        ns_sgd_params p = {0.1f, 0.9f, 0.1f, nesterov};
        rt_upload(be, bw, one, 2);
        expect_ok(be->api->fill(be->ctx, bv, 2, 0.0f), "fill");
        expect_ok(be->api->sgd_update(be->ctx, &p, bw, bg, bv, 2), "sgd_update");
        rt_download(be, bw, w, 2);
        rt_download(be, bv, v, 2);
        expect_near(w[0], nesterov ? 0.886 : 0.94, 1e-6, "sgd step 1 w");
        expect_near(v[1], 0.6, 1e-6, "sgd step 1 velocity");
        expect_ok(be->api->sgd_update(be->ctx, &p, bw, bg, bv, 2), "sgd_update");
        rt_download(be, bw, w, 2);
        rt_download(be, bv, v, 2);
        expect_near(w[1], nesterov ? 0.725566 : 0.8266, 1e-6, "sgd step 2 w");
        expect_near(v[0], nesterov ? 1.1286 : 1.134, 1e-6, "sgd step 2 velocity");
    }
    /* Plain SGD (no momentum, no decay) is w -= lr*g. */
    ns_sgd_params plain = {0.25f, 0.0f, 0.0f, 0};
    rt_upload(be, bw, one, 2);
    expect_ok(be->api->fill(be->ctx, bv, 2, 0.0f), "fill");
    expect_ok(be->api->sgd_update(be->ctx, &plain, bw, bg, bv, 2), "sgd_update");
    rt_download(be, bw, w, 2);
    expect_near(w[0], 0.875, 0.0, "plain sgd");
    rt_free(be, bw);
    rt_free(be, bg);
    rt_free(be, bv);
}

/* (m and v tolerances allow for 0.9f and 0.999f not being exact in float.)
 * With a constant gradient Adam's bias-corrected m_hat/sqrt(v_hat) is exactly
 * sign(g) (up to eps), so every step moves w by lr: 1 -> 0.9 -> 0.8 -> 0.7.
 * Step 1 by hand: m = 0.1*0.5 = 0.05, v = 0.001*0.25 = 0.00025,
 *   m_hat = 0.05/0.1 = 0.5, v_hat = 0.00025/0.001 = 0.25, update = 0.5/0.5 = 1.
 * With weight decay 0.5 and w = 1, g' = 0.5 + 0.5 = 1: step 1 still moves by lr. */
static void test_adam_known_steps(void **state)
{
    ns_backend *be = *state;
    const float w0[3] = {1.0f, -2.0f, 3.0f}, g[3] = {0.5f, -0.25f, 4.0f};
    ns_buf *bw = rt_buf(be, w0, 3), *bg = rt_buf(be, g, 3), *bm = rt_buf(be, NULL, 3),
           *bv = rt_buf(be, NULL, 3);
    expect_ok(be->api->fill(be->ctx, bm, 3, 0.0f), "fill");
    expect_ok(be->api->fill(be->ctx, bv, 3, 0.0f), "fill");
    float w[3], m[3], v[3];
    for (int step = 1; step <= 3; step++) {
        ns_adam_params p = {0.1f, 0.9f, 0.999f, 1e-8f, 0.0f, step};
        expect_ok(be->api->adam_update(be->ctx, &p, bw, bg, bm, bv, 3), "adam_update");
        rt_download(be, bw, w, 3);
        expect_near(w[0], 1.0 - 0.1 * step, 1e-5, "adam w[0]");
        expect_near(w[1], -2.0 + 0.1 * step, 1e-5, "adam w[1]");
        expect_near(w[2], 3.0 - 0.1 * step, 1e-5, "adam w[2]");
        if (step == 1) {
            rt_download(be, bm, m, 3);
            rt_download(be, bv, v, 3);
            expect_near(m[0], 0.05, 1e-7, "adam m after step 1");
            expect_near(v[0], 0.00025, 5e-8,  "adam v after step 1");
        }
    }
    /* Weight decay enters through the gradient. */
    const float w1[1] = {1.0f};
    rt_upload(be, bw, w1, 1);
    expect_ok(be->api->fill(be->ctx, bm, 3, 0.0f), "fill");
    expect_ok(be->api->fill(be->ctx, bv, 3, 0.0f), "fill");
    ns_adam_params wd = {0.1f, 0.9f, 0.999f, 1e-8f, 0.5f, 1};
    expect_ok(be->api->adam_update(be->ctx, &wd, bw, bg, bm, bv, 1), "adam_update");
    rt_download(be, bm, m, 1);
    expect_near(m[0], 0.1, 1e-7, "adam m with weight decay (g' = 1)");
    /* step 0 is a contract violation (bias correction would divide by zero). */
    ns_adam_params bad = wd;
    bad.step = 0;
    assert_int_equal(be->api->adam_update(be->ctx, &bad, bw, bg, bm, bv, 1), NS_ERR_INVALID_ARG);
    assert_true(strstr(ns_last_error(), "step") != NULL);
    rt_free(be, bw);
    rt_free(be, bg);
    rt_free(be, bm);
    rt_free(be, bv);
}

/* ------------------------------------------------------------------ masks */

static void test_mask_bernoulli_matches_host_philox(void **state)
{
    ns_backend *be = *state;
    const size_t n = 1003; /* not a multiple of the 4-word Philox block */
    const struct {
        float keep, scale;
        uint64_t seed, stream;
    } cases[] = {
        {0.8f, 1.25f, 42, 0},
        {0.5f, 2.0f, 0xDEADBEEFCAFEull, ns_rng_stream_id(3, 17, 123456)},
        {0.0f, 7.0f, 1, 1},
        {1.0f, 1.0f, 9, 0xFFFFFFFFFFFFFFFFull},
    };
    ns_buf *bm = rt_buf(be, NULL, n);
    float *got = rt_alloc(n);
    for (size_t c = 0; c < sizeof cases / sizeof *cases; c++) {
        expect_ok(be->api->mask_bernoulli(be->ctx, bm, n, cases[c].keep, cases[c].scale,
                                          cases[c].seed, cases[c].stream),
                  "mask_bernoulli");
        rt_download(be, bm, got, n);
        size_t kept = 0;
        for (size_t i = 0; i < n; i++) {
            float want = ns_philox_uniform_at(cases[c].seed, cases[c].stream, i) < cases[c].keep
                             ? cases[c].scale
                             : 0.0f;
            if (got[i] != want)
                fail_msg("mask case %zu element %zu: got %g, want %g", c, i, (double)got[i],
                         (double)want);
            kept += got[i] != 0.0f;
        }
        if (cases[c].keep == 0.0f)
            assert_int_equal(kept, 0);
        if (cases[c].keep == 1.0f)
            assert_int_equal(kept, n);
    }
    free(got);
    rt_free(be, bm);
}

/* --------------------------------------------------- batchnorm statistics */

/* One channel holding 1, 2, 3, 4 (n=2, hw=2): mean 2.5, biased var 1.25,
 * unbiased var 5/3. From running (0, 1) with momentum 0.1:
 *   running_mean = 0.25, running_var = 0.9 + 0.1*5/3 = 1.0666667. */
static void test_batchnorm_running_statistics(void **state)
{
    ns_backend *be = *state;
    const float x[4] = {1, 2, 3, 4}, one = 1.0f, zero = 0.0f;
    ns_bn_desc d = {2, 1, 2, 1e-5f, 0.1f};
    ns_buf *bx = rt_buf(be, x, 4), *by = rt_buf(be, NULL, 4), *bg = rt_buf(be, &one, 1),
           *bb = rt_buf(be, &zero, 1), *brm = rt_buf(be, &zero, 1), *brv = rt_buf(be, &one, 1),
           *bsm = rt_buf(be, NULL, 1), *bsi = rt_buf(be, NULL, 1);
    expect_ok(be->api->batchnorm_forward_train(be->ctx, &d, bx, bg, bb, brm, brv, by, bsm, bsi),
              "batchnorm_forward_train");
    float rm, rv, sm, si, y[4];
    rt_download(be, brm, &rm, 1);
    rt_download(be, brv, &rv, 1);
    rt_download(be, bsm, &sm, 1);
    rt_download(be, bsi, &si, 1);
    rt_download(be, by, y, 4);
    expect_near(rm, 0.25, 1e-7, "running_mean");
    expect_near(rv, 0.9 + 0.1 * 5.0 / 3.0, 1e-6, "running_var (unbiased)");
    expect_near(sm, 2.5, 1e-7, "save_mean");
    expect_near(si, 1.0 / sqrt(1.25 + 1e-5), 1e-6, "save_invstd (biased variance)");
    expect_near(y[0], -1.5 / sqrt(1.25 + 1e-5), 1e-6, "y[0]");

    /* Inference with the updated statistics. */
    expect_ok(be->api->batchnorm_forward_infer(be->ctx, &d, bx, bg, bb, brm, brv, by),
              "batchnorm_forward_infer");
    rt_download(be, by, y, 4);
    expect_near(y[3], (4.0 - 0.25) / sqrt(0.9 + 0.1 * 5.0 / 3.0 + 1e-5), 1e-6, "infer y[3]");

    /* m == 1: the biased variance (0) is used, so running_var only decays. */
    ns_bn_desc single = {1, 1, 1, 1e-5f, 0.1f};
    rt_upload(be, brm, &zero, 1);
    rt_upload(be, brv, &one, 1);
    expect_ok(be->api->batchnorm_forward_train(be->ctx, &single, bx, bg, bb, brm, brv, by, bsm,
                                               bsi),
              "batchnorm_forward_train m=1");
    rt_download(be, brm, &rm, 1);
    rt_download(be, brv, &rv, 1);
    expect_near(rm, 0.1, 1e-7, "running_mean m=1");
    expect_near(rv, 0.9, 1e-7, "running_var m=1");
    ns_buf *all[] = {bx, by, bg, bb, brm, brv, bsm, bsi};
    for (size_t i = 0; i < 8; i++)
        rt_free(be, all[i]);
}

/* ------------------------------------------- element-wise rules, reduce, softmax */

static void test_elementwise_rules(void **state)
{
    ns_backend *be = *state;
    const float a[4] = {1, -2, 3, -4}, b[4] = {0.5f, 0.5f, -1, 2};
    const float nan4[4] = {NAN, NAN, INFINITY, NAN};
    ns_buf *ba = rt_buf(be, a, 4), *bb = rt_buf(be, b, 4), *by = rt_buf(be, nan4, 4);
    float y[4];
    /* axpby with beta 0 ignores a NaN/Inf y. */
    expect_ok(be->api->axpby(be->ctx, ba, by, 4, 2.0f, 0.0f), "axpby");
    rt_download(be, by, y, 4);
    for (int i = 0; i < 4; i++)
        expect_near(y[i], 2.0 * a[i], 0.0, "axpby beta=0");
    expect_ok(be->api->axpby(be->ctx, bb, by, 4, 1.0f, 0.5f), "axpby");
    rt_download(be, by, y, 4);
    for (int i = 0; i < 4; i++)
        expect_near(y[i], b[i] + a[i], 0.0, "axpby");
    /* add, mul, relu in place (y aliases an input). */
    expect_ok(be->api->add(be->ctx, ba, bb, ba, 4), "add aliasing a");
    expect_ok(be->api->mul(be->ctx, ba, bb, bb, 4), "mul aliasing b");
    expect_ok(be->api->relu_forward(be->ctx, bb, bb, 4), "relu in place");
    rt_download(be, bb, y, 4);
    for (int i = 0; i < 4; i++) {
        double want = (a[i] + b[i]) * b[i];
        expect_near(y[i], want > 0 ? want : 0.0, 1e-7, "add/mul/relu in place");
    }
    /* softmax in place: rows sum to 1 and match a double computation. */
    const float z[6] = {1000, 1001, 1002, -3, 0, 3};
    ns_buf *bz = rt_buf(be, z, 6);
    expect_ok(be->api->softmax(be->ctx, 2, 3, bz, bz), "softmax in place");
    float p[6];
    rt_download(be, bz, p, 6);
    double e1 = exp(-1.0), e2 = exp(-2.0);
    expect_near(p[2], 1.0 / (1.0 + e1 + e2), 1e-7, "softmax large logits");
    expect_near(p[3], exp(-6.0) / (exp(-6.0) + exp(-3.0) + 1.0), 1e-7, "softmax row 2");
    rt_free(be, bz);
    rt_free(be, ba);
    rt_free(be, bb);
    rt_free(be, by);
}

static void test_reduce_counts_nonfinite(void **state)
{
    ns_backend *be = *state;
    const float x[7] = {1.5f, -3.0f, NAN, 2.0f, INFINITY, -INFINITY, 0.5f};
    ns_buf *bx = rt_buf(be, x, 7);
    ns_reduce_result r;
    expect_ok(be->api->reduce(be->ctx, bx, 7, &r), "reduce");
    expect_near((float)r.sum, 1.0, 0.0, "reduce sum");
    expect_near((float)r.sum_sq, 2.25 + 9 + 4 + 0.25, 0.0, "reduce sum_sq");
    expect_near(r.max_abs, 3.0, 0.0, "reduce max_abs");
    assert_int_equal(r.nonfinite, 3);
    /* A large buffer takes the parallel path; the answer is the same. */
    const size_t n = 200003;
    float *big = rt_alloc(n);
    for (size_t i = 0; i < n; i++)
        big[i] = (float)(i % 7) - 3.0f;
    big[n / 2] = NAN;
    ns_buf *bb = rt_buf(be, big, n);
    expect_ok(be->api->reduce(be->ctx, bb, n, &r), "reduce");
    double sum = 0.0;
    for (size_t i = 0; i < n; i++)
        if (i != n / 2)
            sum += big[i];
    assert_true(r.sum == sum);
    assert_int_equal(r.nonfinite, 1);
    expect_near(r.max_abs, 3.0, 0.0, "reduce big max_abs");
    free(big);
    rt_free(be, bb);
    rt_free(be, bx);
}

/* ------------------------------------------------------- bad arguments */

#define EXPECT_INVALID(call, needle)                                                  \
    do {                                                                              \
        ns_clear_error();                                                             \
        ns_status st_ = (call);                                                       \
        if (st_ != NS_ERR_INVALID_ARG)                                                \
            fail_msg("%s: status %d (%s), want invalid argument", #call, (int)st_,    \
                     ns_status_name(st_));                                            \
        if (!strstr(ns_last_error(), needle))                                         \
            fail_msg("%s: message '%s' does not name '%s'", #call, ns_last_error(),   \
                     needle);                                                         \
    } while (0)

static void test_bad_arguments(void **state)
{
    ns_backend *be = *state;
    const ns_backend_api *a = be->api;
    void *c = be->ctx;
    ns_conv_desc d = {2, 3, 8, 8, 4, 3, 3, 1, 1, 8, 8};
    size_t nx = 2 * 3 * 8 * 8, nw = 4 * 3 * 3 * 3, ny = 2 * 4 * 8 * 8;
    ns_buf *x = rt_buf(be, NULL, nx), *w = rt_buf(be, NULL, nw), *y = rt_buf(be, NULL, ny),
           *small = rt_buf(be, NULL, 5);
    expect_ok(a->conv2d_forward(c, &d, x, w, y), "conv2d_forward");

    EXPECT_INVALID(a->conv2d_forward(c, &d, NULL, w, y), "conv2d_forward: x");
    EXPECT_INVALID(a->conv2d_forward(c, &d, x, small, y), "weight buffer holds 5");
    EXPECT_INVALID(a->conv2d_backward_data(c, &d, y, w, small), "conv2d_backward_data: dx");
    EXPECT_INVALID(a->conv2d_backward_filter(c, &d, x, small, w), "conv2d_backward_filter: dy");
    ns_conv_desc bad = d;
    bad.p = 7;
    EXPECT_INVALID(a->conv2d_forward(c, &bad, x, w, y), "expected p=8 q=8");
    bad = d;
    bad.k = 0;
    EXPECT_INVALID(a->conv2d_forward(c, &bad, x, w, y), "conv2d_forward: k is 0, expected > 0");
    bad = d;
    bad.stride = -1;
    EXPECT_INVALID(a->conv2d_forward(c, &bad, x, w, y), "conv2d_forward: stride is -1");
    /* A ResNet-sized descriptor is valid: only the buffers are too small. */
    ns_conv_desc big = {64, 64, 32, 32, 64, 3, 3, 1, 1, 32, 32};
    EXPECT_INVALID(a->conv2d_forward(c, &big, x, w, y), "conv2d_forward: x buffer holds 384");
    EXPECT_INVALID(a->conv2d_backward_filter(c, &big, x, y, w), "x buffer holds 384");
    bad = d;
    bad.pad = -1;
    EXPECT_INVALID(a->conv2d_forward(c, &bad, x, w, y), "pad is -1");
    EXPECT_INVALID(a->conv2d_forward(c, NULL, x, w, y), "descriptor is NULL");

    ns_bn_desc bn = {2, 3, 64, 1e-5f, 0.1f};
    EXPECT_INVALID(a->batchnorm_forward_train(c, &bn, x, small, small, small, small, y, small,
                                              NULL),
                   "save_invstd buffer is NULL");
    bn.eps = 0.0f;
    EXPECT_INVALID(a->batchnorm_forward_infer(c, &bn, x, small, small, small, small, y),
                   "eps is 0");
    bn.eps = 1e-5f;
    bn.hw = -4;
    EXPECT_INVALID(a->batchnorm_backward(c, &bn, x, x, small, small, small, x, small, small),
                   "batchnorm_backward");

    ns_dense_desc dd = {2, 3, 4};
    EXPECT_INVALID(a->dense_forward(c, &dd, small, small, NULL, y), "dense_forward: x buffer");
    EXPECT_INVALID(a->dense_backward(c, &dd, x, w, y, NULL, small, NULL), "dw buffer holds 5");
    EXPECT_INVALID(a->relu_forward(c, small, y, 6), "relu_forward: x buffer holds 5");
    EXPECT_INVALID(a->relu_backward(c, y, y, NULL, 6), "relu_backward: dx");
    EXPECT_INVALID(a->add(c, x, small, y, 6), "add: b");
    EXPECT_INVALID(a->mul_rows(c, x, small, y, 6, 2), "mul_rows: scale");
    EXPECT_INVALID(a->mask_bernoulli(c, small, 5, 1.5f, 1.0f, 0, 0), "keep_prob");
    EXPECT_INVALID(a->global_avg_pool_forward(c, x, small, 2, 3, 64), "y buffer");
    EXPECT_INVALID(a->global_avg_pool_backward(c, small, x, 0, 3, 64), "global_avg_pool_backward");
    EXPECT_INVALID(a->softmax_cross_entropy(c, 2, 3, x, x, 1.0f, NULL, NULL), "loss buffer");
    EXPECT_INVALID(a->softmax(c, 2, -3, x, y), "softmax");
    ns_sgd_params sgd = {0.1f, 0.9f, 0.0f, 0};
    EXPECT_INVALID(a->sgd_update(c, &sgd, x, small, x, 6), "sgd_update: g");
    EXPECT_INVALID(a->sgd_update(c, NULL, x, x, x, 6), "params");
    ns_adam_params adam = {0.1f, 0.9f, 0.999f, 1e-8f, 0.0f, 1};
    EXPECT_INVALID(a->adam_update(c, &adam, x, x, x, small, 6), "adam_update: v");
    ns_reduce_result r;
    EXPECT_INVALID(a->reduce(c, small, 6, &r), "reduce");
    float host[8] = {0};
    EXPECT_INVALID(a->upload(c, small, 3, host, 3), "upload: range [3, 3+3)");
    EXPECT_INVALID(a->download(c, small, 0, host, 6), "download");
    EXPECT_INVALID(a->fill(c, small, 6, 0.0f), "fill");
    EXPECT_INVALID(a->copy(c, small, x, 6), "copy: dst");
    /* An empty buffer is fine and so is an empty copy. */
    ns_buf *empty = rt_buf(be, NULL, 0);
    expect_ok(a->copy(c, empty, empty, 0), "copy of 0 floats");
    rt_free(be, empty);
    rt_free(be, x);
    rt_free(be, w);
    rt_free(be, y);
    rt_free(be, small);
}

static void test_create_options(void **state)
{
    (void)state;
    ns_backend *be = NULL;
    ns_backend_options o = ns_backend_options_default();
    o.precision = NS_PRECISION_BF16;
    assert_int_equal(ns_backend_open("ref", &o, &be), NS_ERR_UNSUPPORTED);
    assert_non_null(strstr(ns_last_error(), "ref backend computes float32 only"));
    assert_null(be);

    o = ns_backend_options_default();
    o.threads = -1;
    assert_int_equal(ns_backend_open("ref", &o, &be), NS_ERR_INVALID_ARG);
    assert_non_null(strstr(ns_last_error(), "threads is -1"));
    o = ns_backend_options_default();
    o.device = 3;
    assert_int_equal(ns_backend_open("ref", &o, &be), NS_ERR_INVALID_ARG);
    assert_non_null(strstr(ns_last_error(), "device 3"));

    /* Options meant for another backend (--backend auto) are ignored. */
    o = ns_backend_options_default();
    o.threads = 1;
    o.extra = "cudnn_benchmark=1";
    expect_ok(ns_backend_open("ref", &o, &be), "open ref threads=1");
    const char *desc = be->api->describe(be->ctx);
    assert_non_null(strstr(desc, "float32"));
    assert_non_null(strstr(desc, "1 OpenMP thread"));
    /* A buffer left allocated is freed by destroy (ASan would report a leak). */
    ns_buf *left;
    expect_ok(be->api->buf_alloc(be->ctx, 100, &left), "buf_alloc");
    ns_backend_close(be);
}

static int open_ref(void **state)
{
    *state = rt_open_ref();
    return 0;
}

static int close_ref(void **state)
{
    ns_backend_close(*state);
    return 0;
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_sgd_known_steps),
        cmocka_unit_test(test_adam_known_steps),
        cmocka_unit_test(test_mask_bernoulli_matches_host_philox),
        cmocka_unit_test(test_batchnorm_running_statistics),
        cmocka_unit_test(test_elementwise_rules),
        cmocka_unit_test(test_reduce_counts_nonfinite),
        cmocka_unit_test(test_bad_arguments),
        cmocka_unit_test(test_create_options),
    };
    return cmocka_run_group_tests(tests, open_ref, close_ref);
}
