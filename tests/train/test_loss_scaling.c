/* Dynamic loss scaling for fp16 training (train/train_step.h), tested on ref
 * with an fp16-emulating test double: ref's op table wrapped (as the
 * profiler's shims wrap it) so that every backward op's output is rounded
 * through _Float16, where anything beyond 65504 becomes Inf, as on a backend
 * computing the backward pass in fp16.
 *
 *  - scaling without overflow changes nothing: the weights after N steps are
 *    bit-identical to an unscaled run's (the unscale before the update is
 *    exact, the scale a power of two);
 *  - an overflow skips the step (weights and optimizer state untouched) and
 *    halves the scale, until a scale fits; `interval` clean steps double it;
 *  - a NaN weight, or an overflow at scale 1, is still an error;
 *  - ns_train on the fp16 double: a run paused and resumed ends with the
 *    weights of an uninterrupted run, because the scaler's state rides in
 *    the checkpoint (a resume that restarted at 2^16 would skip other steps).
 * The ref backend is always built: a missing ref fails, it does not skip. */
#include <math.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "nn/model_spec.h"
#include "plugin/backend_loader.h"
#include "step_fixture.h"
#include "synthetic_data.h"
#include "train/checkpoint.h"
#include "train/optimizer.h"
#include "train/train_step.h"
#include "train/trainer.h"
#include "util/error.h"

enum { B = 8, K = 3, S = 8 };

static ns_backend *be;
static ns_backend_api plain; /* ref's table as it opened */
static char data_dir[1024];
static uint64_t rounded_inf; /* values the double turned into Inf */

static int setup(void **state)
{
    (void)state;
    return ns_test_step_suite_setup("loss_scaling_data", 9, &be, &plain, data_dir, sizeof data_dir);
}

static int teardown(void **state)
{
    (void)state;
    ns_backend_close(be);
    return 0;
}

/* ------------------------------------------------ the fp16 test double */

/* b[0..n) = (float)(_Float16)b[i]: fp16's range and precision. */
static ns_status to_fp16(void *ctx, ns_buf *b, size_t n)
{
    if (!b || !n)
        return NS_OK;
    float *h = malloc(n * sizeof *h);
    if (!h)
        return ns_fail(NS_ERR_NOMEM, "fp16 double: out of memory");
    ns_status st = plain.download(ctx, b, 0, h, n);
    for (size_t i = 0; st == NS_OK && i < n; i++) {
        float v = (float)(_Float16)h[i];
        rounded_inf += isinf(v) && !isinf(h[i]);
        h[i] = v;
    }
    if (st == NS_OK)
        st = plain.upload(ctx, b, 0, h, n);
    free(h);
    return st;
}

static ns_status h_conv_bwd_data(void *ctx, const ns_conv_desc *d, const ns_buf *dy, const ns_buf *w, ns_buf *dx)
{
    NS_TRY(plain.conv2d_backward_data(ctx, d, dy, w, dx));
    return to_fp16(ctx, dx, (size_t)d->n * d->c * d->h * d->w);
}

static ns_status h_conv_bwd_filter(void *ctx, const ns_conv_desc *d, const ns_buf *x, const ns_buf *dy, ns_buf *dw)
{
    NS_TRY(plain.conv2d_backward_filter(ctx, d, x, dy, dw));
    return to_fp16(ctx, dw, (size_t)d->k * d->c * d->r * d->s);
}

static ns_status h_bn_bwd(void *ctx, const ns_bn_desc *d, const ns_buf *x, const ns_buf *dy, const ns_buf *gamma,
                          const ns_buf *mean, const ns_buf *invstd, ns_buf *dx, ns_buf *dgamma, ns_buf *dbeta)
{
    NS_TRY(plain.batchnorm_backward(ctx, d, x, dy, gamma, mean, invstd, dx, dgamma, dbeta));
    NS_TRY(to_fp16(ctx, dx, (size_t)d->n * d->c * d->hw));
    NS_TRY(to_fp16(ctx, dgamma, (size_t)d->c));
    return to_fp16(ctx, dbeta, (size_t)d->c);
}

static ns_status h_relu_bwd(void *ctx, const ns_buf *y, const ns_buf *dy, ns_buf *dx, size_t n)
{
    NS_TRY(plain.relu_backward(ctx, y, dy, dx, n));
    return to_fp16(ctx, dx, n);
}

static ns_status h_gap_bwd(void *ctx, const ns_buf *dy, ns_buf *dx, int n, int c, int hw)
{
    NS_TRY(plain.global_avg_pool_backward(ctx, dy, dx, n, c, hw));
    return to_fp16(ctx, dx, (size_t)n * c * hw);
}

static ns_status h_dense_bwd(void *ctx, const ns_dense_desc *d, const ns_buf *x, const ns_buf *w, const ns_buf *dy,
                             ns_buf *dx, ns_buf *dw, ns_buf *db)
{
    NS_TRY(plain.dense_backward(ctx, d, x, w, dy, dx, dw, db));
    NS_TRY(to_fp16(ctx, dx, (size_t)d->n * d->in));
    NS_TRY(to_fp16(ctx, dw, (size_t)d->out * d->in));
    return to_fp16(ctx, db, (size_t)d->out);
}

static ns_status h_sce(void *ctx, int n, int classes, const ns_buf *logits, const ns_buf *targets, float grad_scale,
                       ns_buf *loss, ns_buf *dlogits)
{
    NS_TRY(plain.softmax_cross_entropy(ctx, n, classes, logits, targets, grad_scale, loss, dlogits));
    return to_fp16(ctx, dlogits, (size_t)n * classes);
}

static void install_fp16_double(void)
{
    be->table.conv2d_backward_data = h_conv_bwd_data;
    be->table.conv2d_backward_filter = h_conv_bwd_filter;
    be->table.batchnorm_backward = h_bn_bwd;
    be->table.relu_backward = h_relu_bwd;
    be->table.global_avg_pool_backward = h_gap_bwd;
    be->table.dense_backward = h_dense_bwd;
    be->table.softmax_cross_entropy = h_sce;
    rounded_inf = 0;
}

static void remove_fp16_double(void)
{
    be->table = plain;
    be->opt.precision = NS_PRECISION_FP32;
}

/* ------------------------------------------------------- a step fixture */

/* The shared step fixture (tests/common/step_fixture.h) on this suite's batch. */
typedef ns_test_step fixture;

static float pixel(int i) { return 2.0f * sinf(0.7f * (float)i) + cosf(0.05f * (float)(i * i % 97)); }
static void fixture_open(fixture *f) { ns_test_step_open(f, be, B, K, 5, pixel); }
static void fixture_close(fixture *f) { ns_test_step_close(f); }
static ns_status run_step(fixture *f, int64_t step, ns_step_result *r) { return ns_test_step_run(f, step, 0, r); }
/* Trainable parameters and optimizer state: a skipped step leaves both. */
static float *snapshot(fixture *f, size_t *total) { return ns_test_step_snapshot(f, 1, total); }

static void test_scaling_without_overflow_is_exact(void **state)
{
    (void)state;
    fixture a, b;
    fixture_open(&a);
    fixture_open(&b);
    assert_int_equal(ns_train_step_loss_scale(a.step, NULL, NULL, NULL), 0); /* fp32: off */
    ns_train_step_enable_loss_scaling(b.step, 1024.0f, 1000);
    ns_step_result ra, rb;
    for (int s = 0; s < 5; s++) {
        assert_int_equal(run_step(&a, s, &ra), NS_OK);
        assert_int_equal(run_step(&b, s, &rb), NS_OK);
        assert_false(rb.skipped);
        assert_true(ra.loss == rb.loss); /* the loss itself is never scaled */
    }
    float scale;
    int clean;
    uint64_t skipped;
    assert_int_equal(ns_train_step_loss_scale(b.step, &scale, &clean, &skipped), 1);
    assert_true(scale == 1024.0f);
    assert_int_equal(clean, 5);
    assert_int_equal(skipped, 0);
    size_t na, nb;
    float *wa = snapshot(&a, &na), *wb = snapshot(&b, &nb);
    assert_int_equal(na, nb);
    assert_memory_equal(wa, wb, na * sizeof *wa);
    free(wa);
    free(wb);
    fixture_close(&a);
    fixture_close(&b);
}

static void test_overflow_skips_and_halves_then_grows(void **state)
{
    (void)state;
    fixture f;
    fixture_open(&f);
    install_fp16_double();
    ns_train_step_enable_loss_scaling(f.step, 0x1p40f, 3);
    ns_step_result r;
    int skips = 0;
    int64_t step = 0;
    for (;; step++) {
        size_t n0, n1;
        float *before = snapshot(&f, &n0);
        assert_int_equal(run_step(&f, step, &r), NS_OK);
        assert_true(isfinite(r.loss));
        if (!r.skipped) {
            free(before);
            break;
        }
        /* a skipped step leaves weights and momentum exactly as they were */
        float *after = snapshot(&f, &n1);
        assert_memory_equal(before, after, n0 * sizeof *before);
        free(before);
        free(after);
        skips++;
        assert_true(skips < 40);
    }
    print_message("2^40 overflowed in fp16 %d times; the first applied step ran at 2^%d\n", skips, 40 - skips);
    assert_true(skips >= 1);
    assert_true(rounded_inf > 0);
    float scale;
    int clean;
    uint64_t skipped;
    ns_train_step_loss_scale(f.step, &scale, &clean, &skipped);
    assert_true(scale == ldexpf(1.0f, 40 - skips));
    assert_int_equal(clean, 1);
    assert_int_equal(skipped, (uint64_t)skips);
    assert_int_equal(ns_optimizer_steps(f.opt), 1);
    /* two more clean steps complete the interval of 3: the scale doubles */
    for (int i = 0; i < 2; i++) {
        assert_int_equal(run_step(&f, ++step, &r), NS_OK);
        ns_train_step_loss_scale(f.step, &scale, &clean, NULL);
        if (r.skipped) /* the doubled scale may overflow again: then it halves */
            fail_msg("step %lld skipped at scale %g after a fitting one", (long long)step, (double)scale);
    }
    ns_train_step_loss_scale(f.step, &scale, &clean, NULL);
    assert_true(scale == ldexpf(1.0f, 41 - skips));
    assert_int_equal(clean, 0);
    /* the state text round-trips */
    char text[64];
    assert_int_equal(ns_train_step_get_scale_state(f.step, text, sizeof text), NS_OK);
    ns_train_step_enable_loss_scaling(f.step, 1.0f, 3);
    assert_int_equal(ns_train_step_set_scale_state(f.step, text), NS_OK);
    float back;
    ns_train_step_loss_scale(f.step, &back, &clean, NULL);
    assert_true(back == scale);
    assert_int_equal(ns_train_step_set_scale_state(f.step, "scale=banana"), NS_ERR_FORMAT);
    remove_fp16_double();
    fixture_close(&f);
}

static void test_real_nonfinite_is_still_an_error(void **state)
{
    (void)state;
    fixture f;
    fixture_open(&f);
    ns_train_step_enable_loss_scaling(f.step, 256.0f, 2000);
    ns_param *w = ns_model_param(f.m, 0);
    const float nan = NAN;
    assert_int_equal(be->api->upload(be->ctx, w->value, 1, &nan, 1), NS_OK);
    ns_step_result r;
    assert_int_equal(run_step(&f, 3, &r), NS_ERR_NUMERIC);
    assert_non_null(strstr(ns_last_error(), w->name));
    float scale;
    ns_train_step_loss_scale(f.step, &scale, NULL, NULL);
    assert_true(scale == 256.0f); /* not taken for an overflow */
    fixture_close(&f);

    /* an overflow even at scale 1 is a real one */
    fixture_open(&f);
    install_fp16_double();
    ns_train_step_enable_loss_scaling(f.step, 1.0f, 2000);
    float big[K * 16];
    /* row 0 of W at 1e6, the others 0: every sample not of class 0 gets
     * p_0 = 1, so dx = (p_0 - t_0) W[0] / B = 1.25e5: past fp16's 65504 */
    for (int i = 0; i < K * 16; i++)
        big[i] = i < 16 ? 1.0e6f : 0.0f;
    ns_param *fc = NULL;
    for (size_t i = 0; i < ns_model_num_params(f.m); i++)
        if (ns_model_param(f.m, i)->ndim == 2)
            fc = ns_model_param(f.m, i);
    assert_non_null(fc);
    assert_true(fc->size <= K * 16);
    assert_int_equal(be->api->upload(be->ctx, fc->value, 0, big, fc->size), NS_OK);
    ns_status st = run_step(&f, 4, &r);
    remove_fp16_double();
    if (st == NS_OK)
        fail_msg("an fp16 overflow at scale 1 went through (skipped %d)", r.skipped);
    assert_int_equal(st, NS_ERR_NUMERIC);
    print_message("%s\n", ns_last_error());
    assert_non_null(strstr(ns_last_error(), "the first non-finite tensor"));
    fixture_close(&f);
}

/* --------------------------------------------------- ns_train, resumed */

static ns_train_config fp16_config(const char *name)
{
    ns_train_config c = ns_test_step_run_config(data_dir, name);
    /* a learning rate large enough that epoch 1's gradients overflow fp16
     * at 2^16 (the scaler comes out of epoch 1 at 2^13 on this data) */
    c.lr = 8.0f;
    return c;
}

static void test_resume_continues_the_scale(void **state)
{
    (void)state;
    ns_train_config a = fp16_config("loss_scaling_whole"), b = fp16_config("loss_scaling_split");
    ns_train_result ra, rb;
    /* the backend "runs fp16": the step turns scaling on by itself */
    install_fp16_double();
    be->opt.precision = NS_PRECISION_FP16;
    ns_status st = ns_train(&a, be, 0, NULL, NULL, &ra);
    uint64_t inf_whole = rounded_inf;
    b.stop_after_epoch = 1;
    if (st == NS_OK)
        st = ns_train(&b, be, 0, NULL, NULL, &rb);
    char ckpt[1200];
    snprintf(ckpt, sizeof ckpt, "%s/checkpoint.safetensors", b.run_dir);
    ns_ckpt_info info;
    memset(&info, 0, sizeof info);
    if (st == NS_OK)
        st = ns_checkpoint_read_info(ckpt, &info);
    b.stop_after_epoch = 0;
    if (st == NS_OK)
        st = ns_train(&b, be, 1, NULL, NULL, &rb);
    remove_fp16_double();
    if (st != NS_OK)
        fail_msg("%s", ns_last_error());
    print_message("after epoch 1: loss_scale_state %s (%llu values overflowed to Inf in the whole run)\n",
                  info.loss_scale_state, (unsigned long long)inf_whole);
    /* the run overflowed at 2^16 and lowered its scale before the pause:
     * a resume that forgot it would overflow and skip again */
    assert_true(inf_whole > 0);
    assert_non_null(strstr(info.loss_scale_state, "scale="));
    assert_null(strstr(info.loss_scale_state, "scale=0x1p+16,"));
    char ma[1200], mb[1200];
    snprintf(ma, sizeof ma, "%s/model.safetensors", a.run_dir);
    snprintf(mb, sizeof mb, "%s/model.safetensors", b.run_dir);
    assert_true(ns_test_same_weights(ma, mb));
    assert_true(ns_test_same_weights(mb, ma));

    /* an fp32 run's checkpoint carries no scaler state */
    ns_train_config c = fp16_config("loss_scaling_fp32");
    c.epochs = 1;
    assert_int_equal(ns_train(&c, be, 0, NULL, NULL, &ra), NS_OK);
    snprintf(ckpt, sizeof ckpt, "%s/checkpoint.safetensors", c.run_dir);
    assert_int_equal(ns_checkpoint_read_info(ckpt, &info), NS_OK);
    assert_string_equal(info.loss_scale_state, "");
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_scaling_without_overflow_is_exact),
        cmocka_unit_test(test_overflow_skips_and_halves_then_grows),
        cmocka_unit_test(test_real_nonfinite_is_still_an_error),
        cmocka_unit_test(test_resume_continues_the_scale),
    };
    return cmocka_run_group_tests(tests, setup, teardown);
}
