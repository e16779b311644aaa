/* Noise: dropout mask statistics and inverted scaling, stochastic depth
 * (per-sample and per-batch), mask reproducibility, eval determinism. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include "nn/block.h"
#include "nn/dropout.h"
#include "nn_test_util.h"

static int setup(void **state)
{
    *state = nn_open_ref();
    return *state ? 0 : -1;
}

static int teardown(void **state)
{
    ns_backend_close(*state);
    return 0;
}

static void test_dropout_statistics(void **state)
{
    ns_backend *be = *state;
    const size_t n = 200000;
    const float rate = 0.3f;
    float *ones = malloc(n * sizeof *ones);
    for (size_t i = 0; i < n; i++)
        ones[i] = 1.0f;
    ns_buf *x = nn_buf_from(be, ones, n);
    ns_dropout d;
    memset(&d, 0, sizeof d);
    const ns_buf *y = NULL;
    assert_int_equal(ns_dropout_forward(be, &d, x, n, rate, 1, 9, 77, &y), NS_OK);
    assert_ptr_not_equal(y, x);
    float *yh = nn_download(be, y, n);
    size_t zeros = 0;
    double sum = 0;
    for (size_t i = 0; i < n; i++) {
        if (yh[i] == 0.0f)
            zeros++;
        else
            assert_float_equal(yh[i], 1.0f / (1.0f - rate), 1e-6);
        sum += yh[i];
    }
    double frac = (double)zeros / (double)n, sigma = sqrt(rate * (1 - rate) / (double)n);
    printf("dropout %.2f: dropped fraction %.4f, mean %.4f\n", rate, frac, sum / (double)n);
    assert_true(fabs(frac - rate) < 5 * sigma);
    assert_true(fabs(sum / (double)n - 1.0) < 0.01);

    /* backward reuses the mask: dx = dy * mask */
    ns_buf *dx = NULL;
    assert_int_equal(be->api->buf_alloc(be->ctx, n, &dx), NS_OK);
    assert_int_equal(ns_dropout_backward(be, &d, x, dx), NS_OK);
    float *dxh = nn_download(be, dx, n);
    assert_memory_equal(dxh, yh, n * sizeof *dxh);

    /* same seed and stream: same mask; another stream: another mask */
    ns_dropout d2;
    memset(&d2, 0, sizeof d2);
    const ns_buf *y2 = NULL;
    assert_int_equal(ns_dropout_forward(be, &d2, x, n, rate, 1, 9, 77, &y2), NS_OK);
    float *y2h = nn_download(be, y2, n);
    assert_memory_equal(y2h, yh, n * sizeof *yh);
    free(y2h);
    assert_int_equal(ns_dropout_forward(be, &d2, x, n, rate, 1, 9, 78, &y2), NS_OK);
    y2h = nn_download(be, y2, n);
    assert_memory_not_equal(y2h, yh, n * sizeof *yh);

    /* eval and rate 0 are the identity */
    assert_int_equal(ns_dropout_forward(be, &d2, x, n, rate, 0, 9, 77, &y2), NS_OK);
    assert_ptr_equal(y2, x);
    assert_int_equal(ns_dropout_forward(be, &d2, x, n, 0.0f, 1, 9, 77, &y2), NS_OK);
    assert_ptr_equal(y2, x);
    assert_int_equal(ns_dropout_forward(be, &d2, x, n, 1.0f, 1, 9, 77, &y2), NS_ERR_INVALID_ARG);

    free(ones);
    free(yh);
    free(y2h);
    free(dxh);
    be->api->buf_free(be->ctx, x);
    be->api->buf_free(be->ctx, dx);
    ns_dropout_destroy(be, &d);
    ns_dropout_destroy(be, &d2);
}

/* A basic block with an identity shortcut, input >= 0 (as after a ReLU) so that
 * relu(shortcut) == shortcut. */
typedef struct blk {
    ns_block b;
    ns_buf *x;
    float *xh;
    int n, c, hw;
} blk;

static void blk_make(ns_backend *be, blk *t)
{
    t->n = 16;
    t->c = 4;
    t->hw = 25;
    assert_int_equal(ns_block_basic_create(be, &t->b, "t", t->c, 5, 5, t->c, 1), NS_OK);
    assert_int_equal(t->b.has_proj, 0);
    for (int i = 0; i < 2; i++) {
        assert_int_equal(ns_conv_init(be, &t->b.unit[i].conv, 3, (uint64_t)i), NS_OK);
        assert_int_equal(ns_batchnorm_init(be, &t->b.unit[i].bn), NS_OK);
    }
    size_t size = (size_t)t->n * t->c * t->hw;
    t->xh = malloc(size * sizeof *t->xh);
    nn_fill_uniform(t->xh, size, 0.0f, 1.0f, 11);
    t->x = nn_buf_from(be, t->xh, size);
}

static void blk_free(ns_backend *be, blk *t)
{
    be->api->buf_free(be->ctx, t->x);
    free(t->xh);
    ns_block_destroy(be, &t->b);
}

/* Block output and branch (last BN output) of one forward. The backend's fused
 * inference unit never materialises the branch, so these runs compose the ops
 * (nn_infer_fused shows both paths give the same output). */
static void blk_run(ns_backend *be, blk *t, int mode, float p, int training, uint64_t stream,
                    float **out, float **branch)
{
    size_t size = (size_t)t->n * t->c * t->hw;
    __typeof__(be->table.conv2d_bn_infer) fused = be->table.conv2d_bn_infer;
    be->table.conv2d_bn_infer = NULL;
    assert_int_equal(ns_drop_path_plan(be, &t->b.dp, mode, p, training, t->n, 5, stream), NS_OK);
    assert_int_equal(ns_block_forward(be, &t->b, t->x, t->n, training), NS_OK);
    be->table.conv2d_bn_infer = fused;
    *out = nn_download(be, t->b.out.buf, size);
    *branch = nn_download(be, t->b.unit[1].bn.out.buf, size);
}

static void test_drop_path_per_sample(void **state)
{
    ns_backend *be = *state;
    blk t;
    blk_make(be, &t);
    size_t cols = (size_t)t.c * t.hw;
    float *ref_out, *ref_branch, *out, *branch;
    blk_run(be, &t, NS_DROP_PATH_PER_SAMPLE, 1.0f, 1, 0, &ref_out, &ref_branch);
    assert_int_equal(t.b.dp.action, NS_DP_NONE);
    blk_run(be, &t, NS_DROP_PATH_PER_SAMPLE, 0.5f, 1, 0, &out, &branch);
    assert_int_equal(t.b.dp.action, NS_DP_SAMPLE_MASK);
    float *mask = nn_download(be, t.b.dp.mask.buf, (size_t)t.n);
    int dropped = 0;
    for (int s = 0; s < t.n; s++) {
        assert_true(mask[s] == 0.0f || mask[s] == 2.0f);
        dropped += mask[s] == 0.0f;
        for (size_t j = 0; j < cols; j++) {
            size_t i = (size_t)s * cols + j;
            /* dropped: output is the shortcut; kept: branch scaled by 1/p */
            float expect = mask[s] == 0.0f ? t.xh[i] : fmaxf(t.xh[i] + 2.0f * ref_branch[i], 0);
            assert_float_equal(out[i], expect, 1e-5);
        }
    }
    printf("per-sample drop-path p=0.5: %d of %d samples dropped\n", dropped, t.n);
    assert_true(dropped > 0 && dropped < t.n);
    /* eval: branch used unscaled (inverted scaling happened in training) */
    free(out);
    free(branch);
    float *eval_ref, *eval_out;
    blk_run(be, &t, NS_DROP_PATH_PER_SAMPLE, 1.0f, 0, 0, &eval_ref, &branch);
    free(branch);
    blk_run(be, &t, NS_DROP_PATH_PER_SAMPLE, 0.5f, 0, 0, &eval_out, &branch);
    assert_memory_equal(eval_out, eval_ref, (size_t)t.n * cols * sizeof *eval_out);
    free(eval_ref);
    free(eval_out);
    free(branch);
    free(mask);
    free(ref_out);
    free(ref_branch);
    blk_free(be, &t);
}

static void test_drop_path_per_batch(void **state)
{
    ns_backend *be = *state;
    blk t;
    blk_make(be, &t);
    size_t size = (size_t)t.n * t.c * t.hw;
    const float p = 0.7f;
    float *ref_out, *ref_branch, *out, *branch;
    /* eval: branch multiplied by p */
    blk_run(be, &t, NS_DROP_PATH_PER_BATCH, 1.0f, 0, 0, &ref_out, &ref_branch);
    blk_run(be, &t, NS_DROP_PATH_PER_BATCH, p, 0, 0, &out, &branch);
    assert_int_equal(t.b.dp.action, NS_DP_SCALE);
    for (size_t i = 0; i < size; i++)
        assert_float_equal(out[i], fmaxf(t.xh[i] + p * ref_branch[i], 0), 1e-5);
    free(ref_out);
    free(ref_branch);
    free(out);
    free(branch);

    /* training: the host's gate decides; find one stream of each kind */
    int seen_drop = 0, seen_keep = 0, drops = 0;
    const int trials = 400;
    for (uint64_t s = 0; s < (uint64_t)trials; s++) {
        int closed = !(ns_philox_uniform_at(5, s, 0) < p);
        drops += closed;
        if ((closed && seen_drop) || (!closed && seen_keep))
            continue;
        blk_run(be, &t, NS_DROP_PATH_PER_BATCH, p, 1, s, &out, &branch);
        assert_int_equal(t.b.dp.action, closed ? NS_DP_BATCH_DROPPED : NS_DP_NONE);
        if (closed) {
            seen_drop = 1;
            assert_memory_equal(out, t.xh, size * sizeof *out);
            /* backward: branch grads are zero, input grad passes the ReLU only */
            ns_buf *g[4];
            ns_act acts[4];
            memset(acts, 0, sizeof acts);
            for (int i = 0; i < 4; i++) {
                assert_int_equal(ns_act_reserve(be, &acts[i], size), NS_OK);
                g[i] = acts[i].buf;
            }
            float *dy = malloc(size * sizeof *dy);
            nn_fill_uniform(dy, size, -1, 1, 12);
            assert_int_equal(be->api->upload(be->ctx, g[0], 0, dy, size), NS_OK);
            assert_int_equal(ns_block_backward(be, &t.b, g), NS_OK);
            float *dx = nn_download(be, g[0], size);
            for (size_t i = 0; i < size; i++)
                assert_float_equal(dx[i], t.xh[i] > 0 ? dy[i] : 0.0f, 0);
            float *gw = nn_download(be, t.b.unit[0].conv.weight.grad, t.b.unit[0].conv.weight.size);
            for (size_t i = 0; i < t.b.unit[0].conv.weight.size; i++)
                assert_float_equal(gw[i], 0.0f, 0);
            free(gw);
            free(dx);
            free(dy);
            for (int i = 0; i < 4; i++)
                ns_act_free(be, &acts[i]);
        } else {
            seen_keep = 1;
            /* kept in training: unscaled */
            float *o1 = out, *b1 = branch;
            blk_run(be, &t, NS_DROP_PATH_PER_BATCH, 1.0f, 1, s, &out, &branch);
            assert_memory_equal(o1, out, size * sizeof *out);
            free(o1);
            free(b1);
        }
        free(out);
        free(branch);
    }
    double frac = drops / (double)trials;
    printf("per-batch gate p=%.1f: dropped %.3f of %d batches\n", p, frac, trials);
    assert_true(seen_drop && seen_keep);
    assert_true(fabs(frac - (1 - p)) < 5 * sqrt(p * (1 - p) / trials));
    blk_free(be, &t);
}

static float *model_logits(ns_model *m, ns_buf *x, int batch, int training, const ns_noise *nz,
                           uint64_t seed, uint64_t step)
{
    const ns_buf *l = NULL;
    if (ns_model_forward(m, x, batch, training, nz, seed, step, &l) != NS_OK)
        fail_msg("forward: %s", ns_last_error());
    return nn_download(ns_model_backend(m), l, (size_t)batch * ns_model_classes(m));
}

static void test_model_noise(void **state)
{
    ns_backend *be = *state;
    ns_model_spec spec;
    assert_int_equal(ns_model_spec_parse("resnet8:width=4", &spec), NS_OK);
    ns_model *m = NULL;
    assert_int_equal(ns_model_create(be, &spec, 3, 8, 8, 5, &m), NS_OK);
    assert_int_equal(ns_model_init(m, 1), NS_OK);
    const int batch = 6;
    size_t in = (size_t)batch * 3 * 8 * 8, out = (size_t)batch * 5;
    float *xh = malloc(in * sizeof *xh);
    nn_fill_uniform(xh, in, -1, 1, 21);
    ns_buf *x = nn_buf_from(be, xh, in);
    ns_noise heavy = {0.5f, 0.5f, NS_DROP_PATH_PER_SAMPLE};
    ns_noise heavy_batch = {0.5f, 0.3f, NS_DROP_PATH_PER_BATCH};

    /* same seed and step: same masks, same logits; another step: different */
    float *a = model_logits(m, x, batch, 1, &heavy, 3, 10);
    float *b = model_logits(m, x, batch, 1, &heavy, 3, 10);
    float *c = model_logits(m, x, batch, 1, &heavy, 3, 11);
    float *clean = model_logits(m, x, batch, 1, NULL, 3, 10);
    assert_memory_equal(a, b, out * sizeof *a);
    assert_memory_not_equal(a, c, out * sizeof *a);
    assert_memory_not_equal(a, clean, out * sizeof *a);
    free(a);
    free(b);
    free(c);
    free(clean);

    /* eval: deterministic and noise-free; the noise argument is not used */
    float *e0 = model_logits(m, x, batch, 0, NULL, 0, 0);
    float *e1 = model_logits(m, x, batch, 0, &heavy, 3, 10);
    float *e2 = model_logits(m, x, batch, 0, &heavy_batch, 99, 12345);
    assert_memory_equal(e0, e1, out * sizeof *e0);
    assert_memory_equal(e0, e2, out * sizeof *e0);
    /* a model set to per-batch inference scales its branches at eval: differs
     * from clean, still deterministic, whatever noise is passed */
    assert_int_equal(ns_model_set_inference_drop_path(m, heavy_batch.drop_path_mode, heavy_batch.drop_path_pl),
                     NS_OK);
    float *e3 = model_logits(m, x, batch, 0, &heavy_batch, 3, 10);
    float *e4 = model_logits(m, x, batch, 0, NULL, 4, 11);
    assert_memory_equal(e3, e4, out * sizeof *e3);
    assert_memory_not_equal(e3, e0, out * sizeof *e3);
    assert_int_equal(ns_model_set_inference_drop_path(m, NS_DROP_PATH_PER_SAMPLE, 1.0f), NS_OK);

    /* backward refuses to follow an eval forward */
    ns_buf *dl = nn_buf_from(be, e0, out);
    assert_int_equal(ns_model_backward(m, dl), NS_ERR_INVALID_ARG);
    /* bad noise settings */
    const ns_buf *l = NULL;
    ns_noise bad = {1.0f, 1.0f, NS_DROP_PATH_PER_SAMPLE};
    assert_int_equal(ns_model_forward(m, x, batch, 1, &bad, 0, 0, &l), NS_ERR_INVALID_ARG);
    bad.dropout = 0;
    bad.drop_path_pl = 0;
    assert_int_equal(ns_model_forward(m, x, batch, 1, &bad, 0, 0, &l), NS_ERR_INVALID_ARG);

    /* a smaller batch after a larger one reuses the buffers and agrees per sample */
    float *small = model_logits(m, x, 2, 0, NULL, 0, 0);
    for (int i = 0; i < 2 * 5; i++)
        assert_float_equal(small[i], e0[i], 1e-5);
    free(small);

    free(e0);
    free(e1);
    free(e2);
    free(e3);
    free(e4);
    free(xh);
    be->api->buf_free(be->ctx, x);
    be->api->buf_free(be->ctx, dl);
    ns_model_destroy(m);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_dropout_statistics),
        cmocka_unit_test(test_drop_path_per_sample),
        cmocka_unit_test(test_drop_path_per_batch),
        cmocka_unit_test(test_model_noise),
    };
    return cmocka_run_group_tests(tests, setup, teardown);
}
