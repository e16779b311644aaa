#include "step_fixture.h"

#include <setjmp.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "nn/model_spec.h"
#include "synthetic_data.h"
#include "util/error.h"

int ns_test_step_suite_setup(const char *data_name, unsigned seed, ns_backend **be, ns_backend_api *plain,
                             char *data_dir, size_t len)
{
    if (ns_backend_open("ref", NULL, be) != NS_OK) {
        fprintf(stderr, "the ref backend is always built but does not open: %s\n", ns_last_error());
        return -1;
    }
    *plain = (*be)->table;
    ns_test_fresh_dir(data_name, data_dir, len);
    return ns_test_write_synthetic(data_dir, 8, 4, seed); /* 32 training images, 4 classes */
}

void ns_test_step_open(ns_test_step *f, ns_backend *be, int batch, int classes, uint64_t init_seed,
                       float (*pixel)(int i))
{
    enum { S = NS_TEST_STEP_SIDE };
    memset(f, 0, sizeof *f);
    assert_true(batch >= 1 && batch <= NS_TEST_STEP_MAX_BATCH);
    f->be = be;
    f->batch = batch;
    f->classes = classes;
    ns_model_spec spec;
    assert_int_equal(ns_model_spec_parse("resnet8:width=4", &spec), NS_OK);
    assert_int_equal(ns_model_create(be, &spec, 1, S, S, classes, &f->m), NS_OK);
    assert_int_equal(ns_model_init(f->m, init_seed), NS_OK);
    ns_optimizer_config oc = ns_optimizer_config_default(NS_OPT_SGD);
    assert_int_equal(ns_optimizer_create(f->m, &oc, &f->opt), NS_OK);
    assert_int_equal(ns_train_step_create(f->m, f->opt, batch, &f->step), NS_OK);
    const size_t nx = (size_t)batch * S * S, nt = (size_t)batch * classes;
    float *x = malloc(nx * sizeof *x), *t = calloc(nt, sizeof *t);
    assert_true(x && t);
    for (size_t i = 0; i < nx; i++)
        x[i] = pixel((int)i);
    for (int i = 0; i < batch; i++) {
        f->labels[i] = i % classes;
        t[(size_t)i * classes + (size_t)(i % classes)] = 1.0f;
    }
    assert_int_equal(be->api->buf_alloc(be->ctx, nx, &f->x), NS_OK);
    assert_int_equal(be->api->buf_alloc(be->ctx, nt, &f->t), NS_OK);
    assert_int_equal(be->api->upload(be->ctx, f->x, 0, x, nx), NS_OK);
    assert_int_equal(be->api->upload(be->ctx, f->t, 0, t, nt), NS_OK);
    free(x);
    free(t);
}

void ns_test_step_close(ns_test_step *f)
{
    f->be->api->buf_free(f->be->ctx, f->x);
    f->be->api->buf_free(f->be->ctx, f->t);
    ns_train_step_destroy(f->step);
    ns_optimizer_destroy(f->opt);
    ns_model_destroy(f->m);
    memset(f, 0, sizeof *f);
}

ns_status ns_test_step_run(ns_test_step *f, int64_t step, int epoch, ns_step_result *r)
{
    ns_step_args a = {f->x, f->t, f->batch, f->batch, f->labels, NULL, 1, step, epoch, 0.05f, 0};
    return ns_train_step_run(f->step, &a, r);
}

float *ns_test_step_snapshot(const ns_test_step *f, int with_optimizer, size_t *total)
{
    size_t np = ns_model_num_params(f->m), no = with_optimizer ? ns_optimizer_num_states(f->opt) : 0, n = 0;
    for (size_t i = 0; i < np; i++)
        n += ns_model_param(f->m, i)->size;
    for (size_t i = 0; i < no; i++)
        n += ns_optimizer_state(f->opt, i)->size;
    float *h = malloc((n ? n : 1) * sizeof *h), *p = h;
    assert_non_null(h);
    for (size_t i = 0; i < np + no; i++) {
        ns_param *q = i < np ? ns_model_param(f->m, i) : ns_optimizer_state(f->opt, i - np);
        assert_int_equal(f->be->api->download(f->be->ctx, q->value, 0, p, q->size), NS_OK);
        p += q->size;
    }
    *total = n;
    return h;
}

ns_train_config ns_test_step_run_config(const char *data_dir, const char *run_name)
{
    ns_train_config c = ns_train_config_default();
    snprintf(c.data, sizeof c.data, "%s", data_dir);
    snprintf(c.model, sizeof c.model, "resnet8:width=4");
    c.epochs = 3;
    c.batch = 8;
    c.lr = 0.05f;
    c.pad_crop = 0;
    c.flip = 0;
    c.eval_every = 0;
    c.loader_threads = 1;
    ns_test_fresh_dir(run_name, c.run_dir, sizeof c.run_dir);
    return c;
}
