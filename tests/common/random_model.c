#include "random_model.h"

#include <math.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include <noisystudent/rng.h>

#include "nn/model.h"
#include "train/checkpoint.h"

static float uniform(uint64_t seed, uint64_t stream, uint64_t i)
{
    return (float)ns_philox_u32_at(seed, stream, i) / 4294967296.0f;
}

static int ends_with(const char *s, const char *tail)
{
    size_t a = strlen(s), b = strlen(tail);
    return a >= b && strcmp(s + a - b, tail) == 0;
}

static void randomise(ns_backend *be, ns_model *m, uint64_t seed)
{
    int c, h, w;
    ns_model_input(m, &c, &h, &w);
    float *host = NULL;
    size_t cap = 0;
    const size_t np = ns_model_num_params(m), ns = ns_model_num_states(m);
    for (size_t i = 0; i < np + ns; i++) {
        ns_param *p = i < np ? ns_model_param(m, i) : ns_model_state(m, i - np);
        if (p->size > cap) {
            cap = p->size;
            host = realloc(host, cap * sizeof *host);
            assert_non_null(host);
        }
        int conv = p->ndim == 4, stat = ends_with(p->name, "running_mean") || ends_with(p->name, "running_var");
        if (!conv && !stat)
            continue;
        assert_int_equal(be->api->download(be->ctx, p->value, 0, host, p->size), NS_OK);
        for (size_t j = 0; j < p->size; j++)
            host[j] = conv ? host[j] * 0.01f : 0.0f;
        assert_int_equal(be->api->upload(be->ctx, p->value, 0, host, p->size), NS_OK);
    }
    const int batch = 16, rounds = 20;
    const size_t img = (size_t)c * h * w;
    float *x = malloc((size_t)batch * img * sizeof *x);
    ns_buf *xb = NULL;
    assert_non_null(x);
    assert_int_equal(be->api->buf_alloc(be->ctx, (size_t)batch * img, &xb), NS_OK);
    for (int r = 0; r < rounds; r++) {
        for (size_t j = 0; j < (size_t)batch * img; j++)
            x[j] = 4.0f * uniform(seed, 100 + (uint64_t)r, j) - 2.0f;
        assert_int_equal(be->api->upload(be->ctx, xb, 0, x, (size_t)batch * img), NS_OK);
        const ns_buf *logits;
        assert_int_equal(ns_model_forward(m, xb, batch, 1, NULL, seed, (uint64_t)r, &logits), NS_OK);
    }
    be->api->buf_free(be->ctx, xb);
    free(x);
    /* The running averages start at 0 and 1 (here 0): undo the bias of 20 rounds. */
    const float debias = 1.0f / (1.0f - powf(0.9f, (float)rounds));
    for (size_t i = 0; i < ns; i++) {
        ns_param *p = ns_model_state(m, i);
        assert_int_equal(be->api->download(be->ctx, p->value, 0, host, p->size), NS_OK);
        for (size_t j = 0; j < p->size; j++)
            host[j] *= debias;
        assert_int_equal(be->api->upload(be->ctx, p->value, 0, host, p->size), NS_OK);
    }
    for (size_t i = 0; i < np; i++) {
        ns_param *p = ns_model_param(m, i);
        int gamma = strstr(p->name, ".bn") && ends_with(p->name, ".weight");
        int beta = strstr(p->name, ".bn") && ends_with(p->name, ".bias");
        if (!gamma && !beta)
            continue;
        for (size_t j = 0; j < p->size; j++)
            host[j] = uniform(seed, 1000 + i, j) + (gamma ? 0.5f : -0.5f);
        assert_int_equal(be->api->upload(be->ctx, p->value, 0, host, p->size), NS_OK);
    }
    free(host);
}

static void make(ns_backend *be, const char *spec_text, int c, int h, int w, int classes,
                 const ns_class_names *names, float batch_pl, uint64_t seed, const char *path)
{
    ns_model_spec spec;
    ns_model *m = NULL;
    assert_int_equal(ns_model_spec_parse(spec_text, &spec), NS_OK);
    assert_int_equal(ns_model_create(be, &spec, c, h, w, classes, &m), NS_OK);
    assert_int_equal(ns_model_init(m, seed), NS_OK);
    randomise(be, m, seed);
    if (names)
        assert_int_equal(ns_model_set_class_names(m, names), NS_OK);
    if (batch_pl < 1.0f)
        assert_int_equal(ns_model_set_inference_drop_path(m, NS_DROP_PATH_PER_BATCH, batch_pl), NS_OK);
    ns_ckpt_info info;
    memset(&info, 0, sizeof info);
    info.epoch = 1;
    info.seed = seed;
    for (int ch = 0; ch < c; ch++) { /* distinct per channel: a channel mix-up shows */
        info.mean[ch] = 0.2f + 0.15f * (float)ch;
        info.std[ch] = 0.15f + 0.1f * (float)ch;
    }
    assert_int_equal(ns_checkpoint_save(path, m, NULL, &info), NS_OK);
    ns_model_destroy(m);
}

void ns_test_random_model(ns_backend *be, const char *spec, int c, int h, int w, int classes,
                          const ns_class_names *names, uint64_t seed, const char *path)
{
    make(be, spec, c, h, w, classes, names, 1.0f, seed, path);
}

void ns_test_random_model_batch_drop_path(ns_backend *be, const char *spec, int c, int h, int w, int classes,
                                          float pl, uint64_t seed, const char *path)
{
    make(be, spec, c, h, w, classes, NULL, pl, seed, path);
}
