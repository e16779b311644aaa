/* Inference through the backend's fused conv2d_bn_infer slot (ABI 1.1) gives
 * the same logits as the host composing conv, batchnorm, add and ReLU, for
 * basic and bottleneck nets, with projection shortcuts, non-trivial batchnorm
 * statistics, and a per-batch drop-path model whose eval scaling the fused
 * path folds into the last batchnorm of each branch (conv_bn.h). */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include "nn_test_util.h"

enum { BATCH = 3, CLASSES = 10 };

/* Gives every batchnorm a distinct gamma, beta, mean and positive variance, so
 * a fold that mixed them up (or ignored one) would change the logits. */
static void randomise_bn(ns_backend *be, ns_model *m)
{
    size_t np = ns_model_num_params(m), ns = ns_model_num_states(m);
    for (size_t i = 0; i < np + ns; i++) {
        ns_param *p = i < np ? ns_model_param(m, i) : ns_model_state(m, i - np);
        if (p->size > 4096 || !strstr(p->name, "bn"))
            continue; /* conv and dense weights keep their init */
        float *v = malloc(p->size * sizeof *v);
        int var = strstr(p->name, "running_var") != NULL;
        nn_fill_uniform(v, p->size, var ? 0.5f : -0.5f, var ? 2.0f : 0.5f, 100 + i);
        if (strstr(p->name, ".weight"))
            for (size_t j = 0; j < p->size; j++)
                v[j] += 1.0f;
        assert_int_equal(be->api->upload(be->ctx, p->value, 0, v, p->size), NS_OK);
        free(v);
    }
}

static float *logits_of(ns_backend *be, ns_model *m, const ns_buf *x, const ns_noise *nz)
{
    const ns_buf *y = NULL;
    assert_int_equal(ns_model_forward(m, x, BATCH, 0, nz, 1, 0, &y), NS_OK);
    float *h = nn_download(be, y, (size_t)BATCH * CLASSES);
    assert_non_null(h);
    return h;
}

static void check_backend(const char *backend, const char *spec_text, int c, int hw,
                          ns_drop_path_mode mode)
{
    ns_backend_options opt = ns_backend_options_default();
    opt.threads = 2;
    ns_backend *be = NULL;
    if (ns_backend_open(backend, &opt, &be) != NS_OK) {
        printf("%s cannot run here: %s\n", backend, ns_last_error());
        skip();
    }
    if (!be->api->conv2d_bn_infer) {
        ns_backend_close(be);
        printf("%s has no conv2d_bn_infer: the host composes the ops\n", backend);
        skip();
    }
    ns_model_spec spec;
    assert_int_equal(ns_model_spec_parse(spec_text, &spec), NS_OK);
    ns_model *m = NULL;
    assert_int_equal(ns_model_create(be, &spec, c, hw, hw, CLASSES, &m), NS_OK);
    assert_int_equal(ns_model_init(m, 7), NS_OK);
    randomise_bn(be, m);
    size_t nx = (size_t)BATCH * c * hw * hw;
    float *xh = malloc(nx * sizeof *xh);
    nn_fill_uniform(xh, nx, -1.0f, 1.0f, 3);
    ns_buf *x = nn_buf_from(be, xh, nx);
    ns_noise nz = {0.0f, 0.8f, mode};
    assert_int_equal(ns_model_set_inference_drop_path(m, mode, nz.drop_path_pl), NS_OK);

    float *fused = logits_of(be, m, x, &nz);
    __typeof__(be->table.conv2d_bn_infer) slot = be->table.conv2d_bn_infer;
    be->table.conv2d_bn_infer = NULL; /* the host composes the four ops */
    float *composed = logits_of(be, m, x, &nz);
    be->table.conv2d_bn_infer = slot;

    double err = 0, ref = 0;
    for (size_t i = 0; i < (size_t)BATCH * CLASSES; i++) {
        err += (fused[i] - composed[i]) * (double)(fused[i] - composed[i]);
        ref += composed[i] * (double)composed[i];
    }
    printf("%s %s: fused vs composed logits, nmse %.3g\n", backend, spec_text, err / ref);
    assert_true(ref > 0);
    assert_true(err / ref < 1e-9);
    free(fused);
    free(composed);
    free(xh);
    be->api->buf_free(be->ctx, x);
    ns_model_destroy(m);
    ns_backend_close(be);
}

static void test_ref_basic(void **s) { (void)s; check_backend("ref", "resnet8", 3, 12, NS_DROP_PATH_PER_SAMPLE); }
static void test_ref_bottleneck(void **s)
{
    (void)s;
    check_backend("ref", "bottleneck:blocks=1-2,width=8,strides=1-2,stem=3x8,expansion=4", 1, 9,
                  NS_DROP_PATH_PER_SAMPLE);
}
static void test_ref_batch_drop_path(void **s) { (void)s; check_backend("ref", "resnet8", 3, 12, NS_DROP_PATH_PER_BATCH); }
static void test_cpu_basic(void **s) { (void)s; check_backend("cpu", "resnet8", 3, 12, NS_DROP_PATH_PER_SAMPLE); }
static void test_cpu_bottleneck(void **s)
{
    (void)s;
    check_backend("cpu", "bottleneck:blocks=1-2,width=8,strides=1-2,stem=3x8,expansion=4", 1, 9,
                  NS_DROP_PATH_PER_SAMPLE);
}
static void test_cpu_batch_drop_path(void **s)
{
    (void)s;
    check_backend("cpu", "bottleneck:blocks=1-2,width=8,strides=1-2,stem=3x8,expansion=4", 1, 9,
                  NS_DROP_PATH_PER_BATCH);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_ref_basic),      cmocka_unit_test(test_ref_bottleneck),
        cmocka_unit_test(test_ref_batch_drop_path), cmocka_unit_test(test_cpu_basic),
        cmocka_unit_test(test_cpu_bottleneck), cmocka_unit_test(test_cpu_batch_drop_path),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
