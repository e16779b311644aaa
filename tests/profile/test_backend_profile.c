/* The backend profiler: exact call counts and FLOPs, shims that pass every
 * argument through unchanged (a profiled training step is bit-identical to an
 * unprofiled one), the printed table, stop() restoring the plugin's table, one
 * profiled backend per process, and the synchronize after each op of an
 * asynchronous backend (a copy of ref with a counting synchronize slot). */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include <noisystudent/rng.h>

#include "nn/model.h"
#include "nn/model_spec.h"
#include "plugin/backend_loader.h"
#include "plugin/backend_profile.h"
#include "util/error.h"

static ns_backend *open_ref(void)
{
    ns_backend_options opt = ns_backend_options_default();
    opt.threads = 1; /* one thread: results are bit-reproducible run to run */
    ns_backend *be = NULL;
    if (ns_backend_open("ref", &opt, &be) != NS_OK) {
        fprintf(stderr, "ref backend: %s\n", ns_last_error());
        return NULL;
    }
    return be;
}

static ns_buf *buf_random(ns_backend *be, size_t n, uint64_t stream)
{
    float *h = malloc(n * sizeof *h);
    assert_non_null(h);
    for (size_t i = 0; i < n; i++)
        h[i] = 2.0f * ns_philox_uniform_at(7, stream, i) - 1.0f;
    ns_buf *b = NULL;
    assert_int_equal(be->api->buf_alloc(be->ctx, n, &b), NS_OK);
    assert_int_equal(be->api->upload(be->ctx, b, 0, h, n), NS_OK);
    free(h);
    return b;
}

static uint64_t calls_of(const ns_backend *be, const char *op)
{
    ns_profile_op o;
    assert_int_equal(ns_backend_profile_get(be, op, &o), NS_OK);
    assert_string_equal(o.name, op);
    assert_true(o.seconds >= 0.0);
    return o.calls;
}

/* The table as text, through a temporary file. Caller frees. */
static char *print_to_string(const ns_backend *be, const char *title, int steps)
{
    FILE *f = tmpfile();
    assert_non_null(f);
    assert_int_equal(ns_backend_profile_print(be, f, title, steps), NS_OK);
    long len = ftell(f);
    assert_true(len > 0);
    char *text = calloc((size_t)len + 1, 1);
    assert_non_null(text);
    rewind(f);
    assert_int_equal(fread(text, 1, (size_t)len, f), (size_t)len);
    fclose(f);
    return text;
}

/* The op rows (after the title and header lines, before "all ops") are sorted
 * by their "ms total" column, slowest first; there are `rows` of them. */
static void assert_slowest_first(const char *text, int rows)
{
    const char *line = strchr(text, '\n');
    assert_non_null(line);
    line = strchr(line + 1, '\n'); /* skip the title and the header */
    assert_non_null(line);
    double prev = 1e300;
    int seen = 0;
    for (line++; *line && strncmp(line, "all ops", 7) != 0; seen++) {
        char name[64];
        unsigned long long calls;
        double ms;
        assert_int_equal(sscanf(line, "%63s %llu %lf", name, &calls, &ms), 3);
        assert_true(calls > 0);
        assert_true(ms >= 0.0 && ms <= prev);
        prev = ms;
        line = strchr(line, '\n');
        assert_non_null(line);
        line++;
    }
    assert_int_equal(seen, rows);
}

static void test_counts_flops_table_and_restore(void **state)
{
    (void)state;
    ns_backend *be = open_ref();
    assert_non_null(be);
    const ns_backend_api saved = be->table;
    ns_conv_desc d = {2, 3, 8, 8, 4, 3, 3, 1, 1, 8, 8};
    const size_t nx = 2 * 3 * 8 * 8, nw = 4 * 3 * 3 * 3, ny = 2 * 4 * 8 * 8;
    ns_buf *x = buf_random(be, nx, 1), *w = buf_random(be, nw, 2), *y = NULL;
    assert_int_equal(be->api->buf_alloc(be->ctx, ny, &y), NS_OK);
    float *want = malloc(ny * sizeof *want), *got = malloc(ny * sizeof *got);
    assert_int_equal(be->api->conv2d_forward(be->ctx, &d, x, w, y), NS_OK);
    assert_int_equal(be->api->relu_forward(be->ctx, y, y, ny), NS_OK);
    assert_int_equal(be->api->download(be->ctx, y, 0, want, ny), NS_OK);

    assert_int_equal(ns_backend_profile_start(be), NS_OK);
    assert_ptr_equal(be->api, &be->table);
    assert_ptr_not_equal(be->api->conv2d_forward, saved.conv2d_forward);
    assert_ptr_equal(be->api->create, saved.create); /* lifecycle slots stay */
    if (!saved.conv2d_bn_infer) /* an absent optional slot must stay absent */
        assert_null(be->api->conv2d_bn_infer);
    ns_buf *tmp = NULL;
    assert_int_equal(be->api->buf_alloc(be->ctx, ny, &tmp), NS_OK);
    for (int i = 0; i < 3; i++)
        assert_int_equal(be->api->conv2d_forward(be->ctx, &d, x, w, y), NS_OK);
    assert_int_equal(be->api->relu_forward(be->ctx, y, tmp, ny), NS_OK);
    assert_int_equal(be->api->relu_forward(be->ctx, y, y, ny), NS_OK);
    assert_int_equal(be->api->download(be->ctx, y, 0, got, ny), NS_OK);
    be->api->buf_free(be->ctx, tmp);
    assert_memory_equal(got, want, ny * sizeof *got);

    assert_int_equal(calls_of(be, "conv2d_forward"), 3);
    assert_int_equal(calls_of(be, "relu_forward"), 2);
    assert_int_equal(calls_of(be, "download"), 1);
    assert_int_equal(calls_of(be, "buf_alloc"), 1);
    assert_int_equal(calls_of(be, "buf_free"), 1);
    assert_int_equal(calls_of(be, "conv2d_backward_data"), 0);
    ns_profile_op conv;
    assert_int_equal(ns_backend_profile_get(be, "conv2d_forward", &conv), NS_OK);
    assert_float_equal(conv.flops, 3 * 2.0 * 2 * 4 * 3 * 3 * 3 * 8 * 8, 0.5);
    assert_int_equal(ns_backend_profile_get(be, "create", &conv), NS_ERR_NOT_FOUND);
    assert_int_equal(ns_backend_profile_get(be, "no_such_op", &conv), NS_ERR_NOT_FOUND);
    assert_non_null(strstr(ns_last_error(), "no_such_op"));

    ns_profile_op all[64];
    size_t n = ns_backend_profile_ops(be, all, 64);
    /* 27 ABI 1.0 op slots besides the optional synchronize and reduce, + conv2d_bn_infer
     * (1.1), count_nonfinite (1.2) and allreduce_sum (1.3) */
    size_t expect = 27 + (saved.synchronize != NULL) + (saved.reduce != NULL) +
                    (saved.conv2d_bn_infer != NULL) + (saved.count_nonfinite != NULL) +
                    (saved.allreduce_sum != NULL);
    assert_int_equal(n, expect);
    uint64_t total_calls = 0;
    for (size_t i = 0; i < n; i++)
        total_calls += all[i].calls;
    assert_int_equal(total_calls, 3 + 2 + 1 + 1 + 1);
    assert_int_equal(ns_backend_profile_ops(be, all, 2), n); /* count even when cap is small */

    char *text = print_to_string(be, "== unit ops ==", 3);
    printf("%s", text);
    assert_non_null(strstr(text, "== unit ops =="));
    assert_non_null(strstr(text, "conv2d_forward"));
    assert_non_null(strstr(text, "relu_forward"));
    assert_non_null(strstr(text, "GFLOP/s"));
    assert_non_null(strstr(text, "all ops"));
    assert_null(strstr(text, "conv2d_backward_data")); /* not called: not listed */
    assert_slowest_first(text, 5);
    free(text);

    ns_backend_profile_reset(be);
    assert_int_equal(calls_of(be, "conv2d_forward"), 0);
    assert_int_equal(be->api->conv2d_forward(be->ctx, &d, x, w, y), NS_OK);
    assert_int_equal(calls_of(be, "conv2d_forward"), 1);

    ns_backend_profile_stop(be);
    assert_ptr_equal(be->api->conv2d_forward, saved.conv2d_forward);
    assert_memory_equal(&be->table, &saved, sizeof saved);
    assert_int_equal(be->api->conv2d_forward(be->ctx, &d, x, w, y), NS_OK);
    assert_int_equal(calls_of(be, "conv2d_forward"), 1); /* stopped: no longer counted */

    be->api->buf_free(be->ctx, x);
    be->api->buf_free(be->ctx, w);
    be->api->buf_free(be->ctx, y);
    free(want);
    free(got);
    ns_backend_close(be);
}

static void test_second_start_fails(void **state)
{
    (void)state;
    ns_backend *a = open_ref(), *b = open_ref();
    assert_non_null(a);
    assert_non_null(b);
    const ns_backend_api saved_b = b->table;
    assert_int_equal(ns_backend_profile_start(a), NS_OK);
    const ns_backend_api shimmed_a = a->table;
    ns_clear_error();
    assert_int_equal(ns_backend_profile_start(b), NS_ERR_INVALID_ARG);
    assert_non_null(strstr(ns_last_error(), "already being profiled"));
    assert_memory_equal(&b->table, &saved_b, sizeof saved_b);
    assert_int_equal(ns_backend_profile_start(a), NS_ERR_INVALID_ARG); /* twice: refused too */
    assert_memory_equal(&a->table, &shimmed_a, sizeof shimmed_a);
    ns_backend_profile_stop(b); /* not the profiled one: nothing happens */
    ns_backend_profile_reset(b);
    assert_memory_equal(&a->table, &shimmed_a, sizeof shimmed_a);
    assert_int_equal(ns_backend_profile_print(b, stdout, "b", 1), NS_ERR_NOT_FOUND);
    ns_backend_profile_stop(a);
    assert_int_equal(ns_backend_profile_start(b), NS_OK); /* free again after stop */
    ns_backend_profile_stop(b);
    assert_memory_equal(&b->table, &saved_b, sizeof saved_b);
    ns_backend_close(a);
    ns_backend_close(b);
}

/* Closing a profiled backend without stop() frees the profiler for the next
 * one and leaves no statistics that a later backend could be mistaken for. */
static void test_close_releases_the_profiler(void **state)
{
    (void)state;
    ns_backend *a = open_ref();
    assert_non_null(a);
    assert_int_equal(ns_backend_profile_start(a), NS_OK);
    ns_backend_close(a);
    ns_backend *b = open_ref(); /* often at a's old address */
    assert_non_null(b);
    ns_profile_op op;
    assert_int_equal(ns_backend_profile_get(b, "fill", &op), NS_ERR_NOT_FOUND);
    assert_int_equal(ns_backend_profile_start(b), NS_OK);
    ns_backend_profile_stop(b);
    ns_backend_close(b);
}

/* One training step (noise on, SGD on every parameter) then one inference
 * forward; returns the logits of both and the first parameter after the step. */
typedef struct step_out {
    float logits_train[2 * 3], logits_infer[2 * 3], loss[2];
    float *param0;
} step_out;

static void model_step(ns_backend *be, step_out *out)
{
    ns_model_spec spec;
    assert_int_equal(ns_model_spec_parse("resnet8:width=4", &spec), NS_OK);
    ns_model *m = NULL;
    assert_int_equal(ns_model_create(be, &spec, 3, 8, 8, 3, &m), NS_OK);
    assert_int_equal(ns_model_init(m, 5), NS_OK);
    const ns_backend_api *api = be->api;
    ns_buf *x = buf_random(be, 2 * 3 * 8 * 8, 3), *t = buf_random(be, 2 * 3, 4);
    ns_buf *loss = NULL, *dl = NULL;
    assert_int_equal(api->buf_alloc(be->ctx, 2, &loss), NS_OK);
    assert_int_equal(api->buf_alloc(be->ctx, 2 * 3, &dl), NS_OK);
    ns_noise noise = {0.3f, 0.7f, NS_DROP_PATH_PER_SAMPLE};
    const ns_buf *logits = NULL;
    assert_int_equal(ns_model_forward(m, x, 2, 1, &noise, 11, 0, &logits), NS_OK);
    assert_int_equal(api->download(be->ctx, logits, 0, out->logits_train, 6), NS_OK);
    assert_int_equal(api->softmax_cross_entropy(be->ctx, 2, 3, logits, t, 0.5f, loss, dl), NS_OK);
    assert_int_equal(api->download(be->ctx, loss, 0, out->loss, 2), NS_OK);
    assert_int_equal(ns_model_backward(m, dl), NS_OK);
    size_t np = ns_model_num_params(m);
    for (size_t i = 0; i < np; i++) {
        ns_param *p = ns_model_param(m, i);
        ns_buf *v = NULL;
        assert_int_equal(api->buf_alloc(be->ctx, p->size, &v), NS_OK);
        assert_int_equal(api->fill(be->ctx, v, p->size, 0.0f), NS_OK);
        ns_sgd_params sp = {0.1f, 0.9f, p->decay ? 5e-4f : 0.0f, 0};
        assert_int_equal(api->sgd_update(be->ctx, &sp, p->value, p->grad, v, p->size), NS_OK);
        api->buf_free(be->ctx, v);
    }
    ns_param *p0 = ns_model_param(m, 0);
    out->param0 = malloc(p0->size * sizeof *out->param0);
    assert_int_equal(api->download(be->ctx, p0->value, 0, out->param0, p0->size), NS_OK);
    assert_int_equal(ns_model_forward(m, x, 2, 0, NULL, 11, 0, &logits), NS_OK);
    assert_int_equal(api->download(be->ctx, logits, 0, out->logits_infer, 6), NS_OK);
    api->buf_free(be->ctx, x);
    api->buf_free(be->ctx, t);
    api->buf_free(be->ctx, loss);
    api->buf_free(be->ctx, dl);
    ns_model_destroy(m);
}

static size_t conv_params(ns_backend *be)
{
    ns_model_spec spec;
    assert_int_equal(ns_model_spec_parse("resnet8:width=4", &spec), NS_OK);
    ns_model *m = NULL;
    assert_int_equal(ns_model_create(be, &spec, 3, 8, 8, 3, &m), NS_OK);
    size_t convs = 0, np = ns_model_num_params(m);
    for (size_t i = 0; i < np; i++)
        convs += ns_model_param(m, i)->ndim == 4;
    ns_model_destroy(m);
    return convs;
}

static void test_profiled_model_step_is_identical(void **state)
{
    (void)state;
    ns_backend *be = open_ref();
    assert_non_null(be);
    size_t convs = conv_params(be);
    assert_true(convs >= 7); /* stem, 3 blocks of 2, projections */
    step_out plain, profiled;
    model_step(be, &plain);
    assert_int_equal(ns_backend_profile_start(be), NS_OK);
    model_step(be, &profiled);
    assert_memory_equal(profiled.logits_train, plain.logits_train, sizeof plain.logits_train);
    assert_memory_equal(profiled.loss, plain.loss, sizeof plain.loss);
    assert_memory_equal(profiled.logits_infer, plain.logits_infer, sizeof plain.logits_infer);
    assert_memory_equal(profiled.param0, plain.param0, 4 * 3 * 3 * 3 * sizeof(float));

    /* The training forward runs each conv once, the backward each filter gradient once. */
    uint64_t infer_convs = be->api->conv2d_bn_infer ? calls_of(be, "conv2d_bn_infer") : 0;
    assert_int_equal(calls_of(be, "conv2d_forward") + infer_convs, 2 * convs);
    assert_int_equal(calls_of(be, "conv2d_backward_filter"), convs);
    assert_int_equal(calls_of(be, "batchnorm_forward_train"), convs);
    assert_int_equal(calls_of(be, "batchnorm_backward"), convs);
    assert_int_equal(calls_of(be, "softmax_cross_entropy"), 1);
    assert_int_equal(calls_of(be, "dense_forward"), 2);
    assert_int_equal(calls_of(be, "dense_backward"), 1);
    assert_true(calls_of(be, "mask_bernoulli") >= 1);
    char *text = print_to_string(be, "== resnet8 train + infer ==", 1);
    printf("%s", text);
    assert_non_null(strstr(text, "conv2d_backward_filter"));
    assert_non_null(strstr(text, "sgd_update"));
    free(text);
    ns_backend_profile_stop(be);
    free(plain.param0);
    free(profiled.param0);
    ns_backend_close(be);
}

/* ---- an asynchronous backend: ref's ops with a counting synchronize ---- */
static int sync_calls;
static const ns_backend_api *ref_api;

static ns_status counting_sync(void *ctx)
{
    (void)ctx;
    sync_calls++;
    return NS_OK;
}

static ns_status failing_fill(void *ctx, ns_buf *dst, size_t n, float value)
{
    (void)ctx, (void)dst, (void)n, (void)value;
    return ns_fail(NS_ERR_DEVICE, "fill: the fake device is gone");
}

static ns_status fake_conv_bn_infer(void *ctx, const ns_conv_desc *d, const ns_buf *x,
                                    const ns_buf *w, const ns_bn_desc *bn, const ns_buf *gamma,
                                    const ns_buf *beta, const ns_buf *mean, const ns_buf *var,
                                    const ns_buf *residual, int relu, ns_buf *y)
{
    (void)bn, (void)gamma, (void)beta, (void)mean, (void)var, (void)residual;
    assert_int_equal(relu, 1);
    return ref_api->conv2d_forward(ctx, d, x, w, y);
}

static void test_async_backend_synchronizes_after_each_op(void **state)
{
    (void)state;
    ns_backend *be = open_ref();
    assert_non_null(be);
    ref_api = be->api;
    ns_backend fake = *be; /* shares ref's context and plugin; never closed itself */
    fake.api = &fake.table;
    fake.table.synchronize = counting_sync;
    fake.table.conv2d_bn_infer = fake_conv_bn_infer;
    fake.table.fill = failing_fill;
    ns_conv_desc d = {1, 2, 4, 4, 2, 3, 3, 1, 1, 4, 4};
    ns_bn_desc bd = {1, 2, 16, 1e-5f, 0.1f};
    ns_buf *x = buf_random(be, 32, 1), *w = buf_random(be, 36, 2), *y = NULL;
    assert_int_equal(be->api->buf_alloc(be->ctx, 32, &y), NS_OK);

    sync_calls = 0;
    assert_int_equal(ns_backend_profile_start(&fake), NS_OK);
    assert_int_equal(fake.api->conv2d_forward(fake.ctx, &d, x, w, y), NS_OK);
    assert_int_equal(sync_calls, 1);
    assert_int_equal(fake.api->synchronize(fake.ctx), NS_OK);
    assert_int_equal(sync_calls, 2); /* synchronize itself: once, not twice */
    assert_int_equal(fake.api->conv2d_bn_infer(fake.ctx, &d, x, w, &bd, NULL, NULL, NULL, NULL,
                                               NULL, 1, y),
                     NS_OK);
    assert_int_equal(sync_calls, 3);
    ns_clear_error();
    assert_int_equal(fake.api->fill(fake.ctx, y, 32, 0.0f), NS_ERR_DEVICE);
    assert_non_null(strstr(ns_last_error(), "fake device"));
    assert_int_equal(sync_calls, 3); /* a failed op is not followed by a synchronize */
    fake.api->buf_free(fake.ctx, NULL);
    assert_int_equal(sync_calls, 3);

    assert_int_equal(calls_of(&fake, "synchronize"), 1);
    assert_int_equal(calls_of(&fake, "conv2d_bn_infer"), 1);
    assert_int_equal(calls_of(&fake, "fill"), 1);
    ns_profile_op o;
    assert_int_equal(ns_backend_profile_get(&fake, "conv2d_bn_infer", &o), NS_OK);
    assert_float_equal(o.flops, 2.0 * 1 * 2 * 2 * 3 * 3 * 4 * 4, 0.5);
    char *text = print_to_string(&fake, "== async ==", 1);
    assert_non_null(strstr(text, "conv2d_bn_infer"));
    assert_non_null(strstr(text, "synchronize"));
    free(text);
    ns_backend_profile_stop(&fake);
    assert_ptr_equal(fake.api->synchronize, counting_sync);
    assert_ptr_equal(fake.api->conv2d_bn_infer, fake_conv_bn_infer);
    assert_ptr_equal(fake.api->fill, failing_fill);

    be->api->buf_free(be->ctx, x);
    be->api->buf_free(be->ctx, w);
    be->api->buf_free(be->ctx, y);
    ns_backend_close(be);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_counts_flops_table_and_restore),
        cmocka_unit_test(test_second_start_fails),
        cmocka_unit_test(test_close_releases_the_profiler),
        cmocka_unit_test(test_profiled_model_step_is_identical),
        cmocka_unit_test(test_async_backend_synchronizes_after_each_op),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
