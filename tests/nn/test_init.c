/* Initialisation statistics, parameter naming, tensors, FLOPs. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include "nn_test_util.h"
#include "tensor/tensor.h"

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

static ns_model *make(ns_backend *be, const char *text, uint64_t seed)
{
    ns_model_spec spec;
    assert_int_equal(ns_model_spec_parse(text, &spec), NS_OK);
    ns_model *m = NULL;
    if (ns_model_create(be, &spec, 3, 32, 32, 10, &m) != NS_OK)
        fail_msg("create %s: %s", text, ns_last_error());
    assert_int_equal(ns_model_init(m, seed), NS_OK);
    return m;
}

static void test_init_statistics(void **state)
{
    ns_backend *be = *state;
    ns_model *m = make(be, "resnet20", 1);
    int convs = 0;
    for (size_t i = 0; i < ns_model_num_params(m); i++) {
        ns_param *p = ns_model_param(m, i);
        float *v = nn_download(be, p->value, p->size);
        double sum = 0, sq = 0, maxabs = 0;
        for (size_t j = 0; j < p->size; j++) {
            sum += v[j];
            sq += (double)v[j] * v[j];
            maxabs = fmax(maxabs, fabs(v[j]));
        }
        double n = (double)p->size, mean = sum / n, std = sqrt(sq / n - mean * mean);
        if (p->ndim == 4) {
            convs++;
            assert_int_equal(p->decay, 1);
            double expect = sqrt(2.0 / (p->shape[0] * p->shape[2] * p->shape[3]));
            /* sample std of n normals: relative standard error ~ 1/sqrt(2n) */
            double tol = 5.0 / sqrt(2.0 * n);
            if (fabs(std / expect - 1.0) > tol || fabs(mean) > 5 * expect / sqrt(n))
                fail_msg("%s: std %.5f mean %.5f, expected std %.5f mean 0 (n=%zu)", p->name, std,
                         mean, expect, p->size);
        } else if (!strcmp(p->name, "fc.weight") || !strcmp(p->name, "fc.bias")) {
            double bound = 1.0 / sqrt(64.0);
            assert_true(maxabs <= bound);
            if (!strcmp(p->name, "fc.weight"))
                assert_true(fabs(std / (bound / sqrt(3.0)) - 1.0) < 0.1);
            assert_int_equal(p->decay, !strcmp(p->name, "fc.weight"));
        } else {
            int gamma = strstr(p->name, ".weight") != NULL;
            assert_int_equal(p->decay, 0);
            for (size_t j = 0; j < p->size; j++)
                assert_float_equal(v[j], gamma ? 1.0f : 0.0f, 0);
        }
        free(v);
    }
    assert_int_equal(convs, 19 + 2); /* 19 3x3 convs + 2 projections */
    for (size_t i = 0; i < ns_model_num_states(m); i++) {
        ns_param *p = ns_model_state(m, i);
        assert_null(p->grad);
        assert_int_equal(p->decay, 0);
        float *v = nn_download(be, p->value, p->size);
        int var = strstr(p->name, "running_var") != NULL;
        assert_true(var || strstr(p->name, "running_mean"));
        for (size_t j = 0; j < p->size; j++)
            assert_float_equal(v[j], var ? 1.0f : 0.0f, 0);
        free(v);
    }
    ns_model_destroy(m);
}

static void test_init_reproducible(void **state)
{
    ns_backend *be = *state;
    ns_model *a = make(be, "resnet8", 5), *b = make(be, "resnet8", 5), *c = make(be, "resnet8", 6);
    for (size_t i = 0; i < ns_model_num_params(a); i++) {
        ns_param *pa = ns_model_param(a, i), *pb = ns_model_param(b, i), *pc = ns_model_param(c, i);
        float *va = nn_download(be, pa->value, pa->size), *vb = nn_download(be, pb->value, pb->size),
              *vc = nn_download(be, pc->value, pc->size);
        assert_memory_equal(va, vb, pa->size * sizeof *va);
        if (pa->decay)
            assert_memory_not_equal(va, vc, pa->size * sizeof *va);
        free(va);
        free(vb);
        free(vc);
    }
    ns_model_destroy(a);
    ns_model_destroy(b);
    ns_model_destroy(c);
}

static void test_names_and_counts(void **state)
{
    ns_backend *be = *state;
    ns_model *m = make(be, "resnet20", 1);
    const char *expect[] = {"stem.conv.weight",
                            "stem.bn.weight",
                            "stem.bn.running_mean",
                            "stage1.block0.conv1.weight",
                            "stage2.block0.bn1.running_var",
                            "stage2.block0.shortcut.conv.weight",
                            "stage3.block2.bn2.bias",
                            "fc.weight",
                            "fc.bias"};
    for (size_t i = 0; i < sizeof expect / sizeof *expect; i++)
        if (!ns_model_find(m, expect[i]))
            fail_msg("no parameter named %s", expect[i]);
    assert_null(ns_model_find(m, "stage1.block0.shortcut.conv.weight"));
    assert_null(ns_model_find(m, "stage4.block0.conv1.weight"));
    size_t np = ns_model_num_params(m), ns = ns_model_num_states(m);
    for (size_t i = 0; i < np + ns; i++)
        for (size_t j = i + 1; j < np + ns; j++) {
            const char *a = i < np ? ns_model_param(m, i)->name : ns_model_state(m, i - np)->name;
            const char *b = j < np ? ns_model_param(m, j)->name : ns_model_state(m, j - np)->name;
            assert_string_not_equal(a, b);
        }
    assert_null(ns_model_param(m, np));
    assert_null(ns_model_state(m, ns));
    /* resnet20 on CIFAR: 0.27M parameters, ~41M MACs per image */
    size_t total = ns_model_param_total(m);
    double macs = ns_model_flops(m, 0) / 2;
    printf("resnet20: %zu parameters, %.2fM MACs/image\n", total, macs / 1e6);
    assert_int_equal(total, 272474);
    assert_true(macs > 40.5e6 && macs < 41.5e6);
    assert_true(fabs(ns_model_flops(m, 1) / ns_model_flops(m, 0) - 3.0) < 1e-12);
    int c, h, w;
    ns_model_input(m, &c, &h, &w);
    assert_int_equal(c * 10000 + h * 100 + w, 3 * 10000 + 32 * 100 + 32);
    assert_int_equal(ns_model_classes(m), 10);
    assert_string_equal(ns_model_get_spec(m)->name, "resnet20");
    ns_model_destroy(m);

    /* bad shapes and hand-broken specs are refused with a message */
    ns_model_spec spec;
    assert_int_equal(ns_model_spec_parse("resnet8", &spec), NS_OK);
    ns_model *bad = NULL;
    assert_int_equal(ns_model_create(be, &spec, 3, 32, 32, 0, &bad), NS_ERR_INVALID_ARG);
    assert_null(bad);
    assert_true(strstr(ns_last_error(), "0 classes") != NULL);
    spec.stage_blocks[1] = 0;
    assert_int_equal(ns_model_create(be, &spec, 3, 32, 32, 10, &bad), NS_ERR_INVALID_ARG);
    assert_null(bad);
    assert_true(strstr(ns_last_error(), "stage 2") != NULL);
    /* a 1x1 input still works: padding keeps every conv output >= 1x1 */
    spec.stage_blocks[1] = 1;
    assert_int_equal(ns_model_create(be, &spec, 3, 1, 1, 10, &bad), NS_OK);
    ns_model_destroy(bad);
}

static void test_tensor(void **state)
{
    ns_backend *be = *state;
    ns_tensor t;
    assert_int_equal(ns_tensor_alloc(be, 2, 3, 4, 5, &t), NS_OK);
    assert_int_equal(t.size, 120);
    float src[120], dst[120];
    for (int i = 0; i < 120; i++)
        src[i] = (float)i * 0.5f;
    assert_int_equal(ns_tensor_upload(&t, src), NS_OK);
    assert_int_equal(ns_tensor_download(&t, dst), NS_OK);
    assert_memory_equal(src, dst, sizeof src);
    ns_tensor_free(&t);
    assert_null(t.buf);
    ns_tensor_free(&t);
    assert_int_equal(ns_tensor_alloc(be, 0, 3, 4, 5, &t), NS_ERR_INVALID_ARG);
    assert_true(strstr(ns_last_error(), "0x3x4x5") != NULL);
    assert_int_equal(ns_tensor_upload(&t, src), NS_ERR_INVALID_ARG);
    ns_tensor_free(&t);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_init_statistics),
        cmocka_unit_test(test_init_reproducible),
        cmocka_unit_test(test_names_and_counts),
        cmocka_unit_test(test_tensor),
    };
    return cmocka_run_group_tests(tests, setup, teardown);
}
