/* The inference-time drop-path (nn/model.h): a model trained with per-batch
 * stochastic depth evaluates every residual block as relu(shortcut + p_l *
 * branch), with p_l the block's survival probability; per-sample mode (the
 * default) leaves the branches as they are. Checked against a forward computed
 * here by hand, in double, from the model's own parameters, on the backend's
 * fused inference unit and on the composed ops; plus the setting's checks: a
 * training forward that disagrees with it is refused, eval ignores the noise
 * argument, bad settings are refused. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include "nn_test_util.h"

/* One stage of two basic blocks with identity shortcuts: stem 3x3 (C -> W),
 * then per block conv1 3x3 + BN + ReLU, conv2 3x3 + BN, the drop-path scale,
 * add, ReLU; global average pool; dense. */
#define SPEC "basic:blocks=2,widths=3,strides=1,stem=3x3"
enum { N = 2, C = 2, H = 5, W = 5, WD = 3, K = 3, BLOCKS = 2 };

typedef struct fx {
    ns_backend *be;
    ns_model *m;
    float xh[N * C * H * W];
    ns_buf *x;
} fx;

static int setup(void **state)
{
    static fx f;
    memset(&f, 0, sizeof f);
    f.be = nn_open_ref();
    if (!f.be)
        return -1;
    ns_model_spec spec;
    if (ns_model_spec_parse(SPEC, &spec) != NS_OK || ns_model_create(f.be, &spec, C, H, W, K, &f.m) != NS_OK ||
        ns_model_init(f.m, 5) != NS_OK)
        return -1;
    /* Every batchnorm gets its own gamma, beta, mean and variance (a fold that
     * scaled only gamma, or the shortcut, would show). */
    size_t np = ns_model_num_params(f.m), ns = ns_model_num_states(f.m);
    for (size_t i = 0; i < np + ns; i++) {
        ns_param *p = i < np ? ns_model_param(f.m, i) : ns_model_state(f.m, i - np);
        if (!strstr(p->name, "bn"))
            continue;
        float v[64];
        int var = strstr(p->name, "running_var") != NULL, gamma = strstr(p->name, ".weight") != NULL;
        nn_fill_uniform(v, p->size, var ? 0.5f : -0.5f, var ? 2.0f : 0.5f, 200 + i);
        for (size_t j = 0; gamma && j < p->size; j++)
            v[j] += 1.0f;
        if (f.be->api->upload(f.be->ctx, p->value, 0, v, p->size) != NS_OK)
            return -1;
    }
    nn_fill_uniform(f.xh, sizeof f.xh / sizeof *f.xh, -1.0f, 1.0f, 31);
    f.x = nn_buf_from(f.be, f.xh, sizeof f.xh / sizeof *f.xh);
    *state = &f;
    return f.x ? 0 : -1;
}

static int teardown(void **state)
{
    fx *f = *state;
    f->be->api->buf_free(f->be->ctx, f->x);
    ns_model_destroy(f->m);
    ns_backend_close(f->be);
    return 0;
}

static void get(fx *f, const char *name, float *out, size_t n)
{
    ns_param *p = ns_model_find(f->m, name);
    if (!p)
        fail_msg("no parameter %s", name);
    assert_int_equal(p->size, n);
    assert_int_equal(f->be->api->download(f->be->ctx, p->value, 0, out, n), NS_OK);
}

/* y[k][i][j] = sum_c,u,v w[k][c][u][v] * x[c][i+u-1][j+v-1] (3x3, padding 1). */
static void conv3(const double *x, int cin, const float *w, int cout, double *y)
{
    for (int k = 0; k < cout; k++)
        for (int i = 0; i < H; i++)
            for (int j = 0; j < W; j++) {
                double s = 0;
                for (int c = 0; c < cin; c++)
                    for (int u = 0; u < 3; u++)
                        for (int v = 0; v < 3; v++) {
                            int r = i + u - 1, q = j + v - 1;
                            if (r >= 0 && r < H && q >= 0 && q < W)
                                s += (double)w[((k * cin + c) * 3 + u) * 3 + v] * x[(c * H + r) * W + q];
                        }
                y[(k * H + i) * W + j] = s;
            }
}

/* Batchnorm on running statistics (eps 1e-5), optional ReLU, in place. */
static void bn(fx *f, const char *prefix, double *y, int relu)
{
    char name[96];
    float g[WD], b[WD], mu[WD], var[WD];
    snprintf(name, sizeof name, "%s.weight", prefix);
    get(f, name, g, WD);
    snprintf(name, sizeof name, "%s.bias", prefix);
    get(f, name, b, WD);
    snprintf(name, sizeof name, "%s.running_mean", prefix);
    get(f, name, mu, WD);
    snprintf(name, sizeof name, "%s.running_var", prefix);
    get(f, name, var, WD);
    for (int k = 0; k < WD; k++)
        for (int i = 0; i < H * W; i++) {
            double v = g[k] * (y[k * H * W + i] - mu[k]) / sqrt((double)var[k] + 1e-5) + b[k];
            y[k * H * W + i] = relu && v < 0 ? 0 : v;
        }
}

/* The logits worked out here, block l's branch multiplied by scale[l]. */
static void hand_logits(fx *f, const double scale[BLOCKS], double out[N * K])
{
    float stem_w[WD * C * 9], w1[WD * WD * 9], w2[WD * WD * 9], fc_w[K * WD], fc_b[K];
    get(f, "stem.conv.weight", stem_w, sizeof stem_w / sizeof *stem_w);
    get(f, "fc.weight", fc_w, K * WD);
    get(f, "fc.bias", fc_b, K);
    for (int n = 0; n < N; n++) {
        double x[C * H * W], h[WD * H * W], a[WD * H * W], br[WD * H * W];
        for (int i = 0; i < C * H * W; i++)
            x[i] = f->xh[n * C * H * W + i];
        conv3(x, C, stem_w, WD, h);
        bn(f, "stem.bn", h, 1);
        for (int l = 0; l < BLOCKS; l++) {
            char name[96];
            snprintf(name, sizeof name, "stage1.block%d.conv1.weight", l);
            get(f, name, w1, WD * WD * 9);
            snprintf(name, sizeof name, "stage1.block%d.conv2.weight", l);
            get(f, name, w2, WD * WD * 9);
            conv3(h, WD, w1, WD, a);
            snprintf(name, sizeof name, "stage1.block%d.bn1", l);
            bn(f, name, a, 1);
            conv3(a, WD, w2, WD, br);
            snprintf(name, sizeof name, "stage1.block%d.bn2", l);
            bn(f, name, br, 0);
            for (int i = 0; i < WD * H * W; i++) {
                double v = h[i] + scale[l] * br[i];
                h[i] = v > 0 ? v : 0;
            }
        }
        for (int k = 0; k < K; k++) {
            double s = fc_b[k];
            for (int c = 0; c < WD; c++) {
                double pooled = 0;
                for (int i = 0; i < H * W; i++)
                    pooled += h[c * H * W + i];
                s += fc_w[k * WD + c] * pooled / (H * W);
            }
            out[n * K + k] = s;
        }
    }
}

/* The model's eval logits, through the fused unit (fused = 1, ref has it) or
 * with the host composing the ops (fused = 0). */
static void eval_logits(fx *f, int fused, const ns_noise *nz, float out[N * K])
{
    __typeof__(f->be->table.conv2d_bn_infer) slot = f->be->table.conv2d_bn_infer;
    assert_non_null(slot);
    if (!fused)
        f->be->table.conv2d_bn_infer = NULL;
    const ns_buf *y = NULL;
    ns_status st = ns_model_forward(f->m, f->x, N, 0, nz, 9, 4, &y);
    f->be->table.conv2d_bn_infer = slot;
    if (st != NS_OK)
        fail_msg("eval forward: %s", ns_last_error());
    assert_int_equal(f->be->api->download(f->be->ctx, y, 0, out, N * K), NS_OK);
}

/* Largest |a - b| over the logits, relative to the largest |b| (at least 1). */
static double rel_err(const float *a, const double *b)
{
    double err = 0, top = 1;
    for (int i = 0; i < N * K; i++) {
        err = fmax(err, fabs(a[i] - b[i]));
        top = fmax(top, fabs(b[i]));
    }
    return err / top;
}

static void expect_hand(fx *f, const double scale[BLOCKS], const double other[BLOCKS], const char *what)
{
    double want[N * K], wrong[N * K];
    hand_logits(f, scale, want);
    hand_logits(f, other, wrong);
    for (int fused = 1; fused >= 0; fused--) {
        float got[N * K];
        eval_logits(f, fused, NULL, got);
        double e = rel_err(got, want), e_other = rel_err(got, wrong);
        printf("%s, %s: vs hand %.3g, vs the other scaling %.3g\n", what, fused ? "fused" : "composed", e,
               e_other);
        assert_true(e < 1e-5);
        assert_true(e_other > 1e-3); /* the two scalings are told apart at this size */
    }
}

/* Per-batch mode, pL = 0.6 over two blocks: p = 0.8, 0.6 (linear decay). */
static void test_batch_mode_scales_branch_by_p(void **state)
{
    fx *f = *state;
    assert_int_equal(ns_model_set_inference_drop_path(f->m, NS_DROP_PATH_PER_BATCH, 0.6f), NS_OK);
    assert_int_equal(ns_model_num_blocks(f->m), BLOCKS);
    assert_float_equal(ns_model_inference_branch_scale(f->m, 0), 0.8f, 1e-7);
    assert_float_equal(ns_model_inference_branch_scale(f->m, 1), 0.6f, 1e-7);
    const double p[BLOCKS] = {1.0f - 0.5f * 0.4f, 0.6f}, one[BLOCKS] = {1, 1};
    expect_hand(f, p, one, "per-batch pL 0.6");
    /* the noise argument does not change an eval forward */
    ns_noise nz = {0.5f, 0.3f, NS_DROP_PATH_PER_SAMPLE};
    float a[N * K], b[N * K];
    eval_logits(f, 1, NULL, a);
    eval_logits(f, 1, &nz, b);
    assert_memory_equal(a, b, sizeof a);
    assert_int_equal(ns_model_set_inference_drop_path(f->m, NS_DROP_PATH_PER_SAMPLE, 1.0f), NS_OK);
}

/* Per-sample mode (the default): branches unscaled, whatever pL. */
static void test_sample_mode_untouched(void **state)
{
    fx *f = *state;
    const double one[BLOCKS] = {1, 1}, p[BLOCKS] = {0.8, 0.6};
    assert_int_equal(ns_model_inference_drop_path_mode(f->m), NS_DROP_PATH_PER_SAMPLE);
    expect_hand(f, one, p, "default");
    assert_int_equal(ns_model_set_inference_drop_path(f->m, NS_DROP_PATH_PER_SAMPLE, 0.6f), NS_OK);
    assert_float_equal(ns_model_inference_branch_scale(f->m, 1), 1.0f, 0);
    expect_hand(f, one, p, "per-sample pL 0.6");
    assert_int_equal(ns_model_set_inference_drop_path(f->m, NS_DROP_PATH_PER_SAMPLE, 1.0f), NS_OK);
}

/* A training forward must match the inference setting: trained per-batch but
 * evaluated unscaled (or the reverse) is the silent wrong answer this guards. */
static void test_training_noise_must_match(void **state)
{
    fx *f = *state;
    const ns_buf *y = NULL;
    ns_noise batch = {0.0f, 0.6f, NS_DROP_PATH_PER_BATCH}, sample = {0.0f, 0.6f, NS_DROP_PATH_PER_SAMPLE};
    /* f->m only sees refused training forwards (refused before anything runs,
     * so its running statistics stay as the other tests expect) */
    assert_int_equal(ns_model_forward(f->m, f->x, N, 1, &batch, 1, 0, &y), NS_ERR_INVALID_ARG);
    assert_non_null(strstr(ns_last_error(), "per-batch drop-path"));
    assert_int_equal(ns_model_set_inference_drop_path(f->m, NS_DROP_PATH_PER_BATCH, 0.7f), NS_OK);
    assert_int_equal(ns_model_forward(f->m, f->x, N, 1, &batch, 1, 0, &y), NS_ERR_INVALID_ARG);
    assert_int_equal(ns_model_forward(f->m, f->x, N, 1, &sample, 1, 0, &y), NS_ERR_INVALID_ARG);
    assert_int_equal(ns_model_forward(f->m, f->x, N, 1, NULL, 1, 0, &y), NS_ERR_INVALID_ARG);
    assert_non_null(strstr(ns_last_error(), "ns_model_set_inference_drop_path"));
    /* once they agree the training forward runs (on a second model) */
    assert_int_equal(ns_model_set_inference_drop_path(f->m, NS_DROP_PATH_PER_BATCH, 0.6f), NS_OK);
    ns_model_spec spec;
    ns_model *m2 = NULL;
    assert_int_equal(ns_model_spec_parse(SPEC, &spec), NS_OK);
    assert_int_equal(ns_model_create(f->be, &spec, C, H, W, K, &m2), NS_OK);
    assert_int_equal(ns_model_init(m2, 5), NS_OK);
    assert_int_equal(ns_model_set_inference_drop_path(m2, NS_DROP_PATH_PER_BATCH, 0.6f), NS_OK);
    assert_int_equal(ns_model_forward(m2, f->x, N, 1, &batch, 1, 0, &y), NS_OK);
    assert_int_equal(ns_model_forward(m2, f->x, N, 1, &sample, 1, 0, &y), NS_ERR_INVALID_ARG);
    /* per-sample training, default (unscaled) inference: fine, whatever pL */
    assert_int_equal(ns_model_set_inference_drop_path(m2, NS_DROP_PATH_PER_SAMPLE, 1.0f), NS_OK);
    assert_int_equal(ns_model_forward(m2, f->x, N, 1, &sample, 1, 0, &y), NS_OK);
    assert_int_equal(ns_model_forward(m2, f->x, N, 1, NULL, 1, 0, &y), NS_OK);
    ns_model_destroy(m2);
    assert_int_equal(ns_model_set_inference_drop_path(f->m, NS_DROP_PATH_PER_SAMPLE, 1.0f), NS_OK);
}

static void test_bad_settings_refused(void **state)
{
    fx *f = *state;
    assert_int_equal(ns_model_set_inference_drop_path(f->m, NS_DROP_PATH_PER_BATCH, 0.5f), NS_OK);
    assert_int_equal(ns_model_set_inference_drop_path(f->m, NS_DROP_PATH_PER_BATCH, 0.0f), NS_ERR_INVALID_ARG);
    assert_int_equal(ns_model_set_inference_drop_path(f->m, NS_DROP_PATH_PER_BATCH, 1.5f), NS_ERR_INVALID_ARG);
    assert_int_equal(ns_model_set_inference_drop_path(f->m, NS_DROP_PATH_PER_BATCH, NAN), NS_ERR_INVALID_ARG);
    assert_int_equal(ns_model_set_inference_drop_path(f->m, (ns_drop_path_mode)7, 0.5f), NS_ERR_INVALID_ARG);
    const float three[3] = {0.9f, 0.8f, 0.7f}, bad[BLOCKS] = {0.9f, -0.1f};
    assert_int_equal(ns_model_set_inference_survival(f->m, NS_DROP_PATH_PER_BATCH, three, 3), NS_ERR_INVALID_ARG);
    assert_non_null(strstr(ns_last_error(), "2 residual blocks"));
    assert_int_equal(ns_model_set_inference_survival(f->m, NS_DROP_PATH_PER_BATCH, bad, BLOCKS), NS_ERR_INVALID_ARG);
    assert_non_null(strstr(ns_last_error(), "block 1"));
    /* a refused setting leaves the previous one */
    assert_int_equal(ns_model_inference_drop_path_mode(f->m), NS_DROP_PATH_PER_BATCH);
    assert_float_equal(ns_model_inference_branch_scale(f->m, 1), 0.5f, 0);
    assert_float_equal(ns_model_inference_branch_scale(f->m, 0), 0.75f, 0);
    assert_int_equal(ns_model_set_inference_drop_path(f->m, NS_DROP_PATH_PER_SAMPLE, 1.0f), NS_OK);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_batch_mode_scales_branch_by_p),
        cmocka_unit_test(test_sample_mode_untouched),
        cmocka_unit_test(test_training_noise_must_match),
        cmocka_unit_test(test_bad_settings_refused),
    };
    return cmocka_run_group_tests(tests, setup, teardown);
}
