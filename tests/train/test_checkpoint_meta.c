/* Checkpoint metadata that is read back is checked like any input.
 * - The model's inference drop-path (nn/model.h): the keys drop_path_mode and
 *   drop_path_survival are written from the model and set it again on load and
 *   restore, so eval/label/predict of a saved per-batch model scale its
 *   branches as the run that trained it did; a file from before the keys
 *   takes the setting from its config; a broken setting is refused with a
 *   line naming the file and the key.
 * - scheduler_state: a resume whose checkpoint holds a NaN, infinite or
 *   negative scale is refused naming the file and the key. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "io/safetensors.h"
#include "ns_test_ref.h"
#include "plugin/backend_loader.h"
#include "step_fixture.h"
#include "synthetic_data.h"
#include "train/checkpoint.h"
#include "train/trainer.h"
#include "util/error.h"

enum { C = 1, HW = 8, K = 4, BATCH = 3, BLOCKS = 3 };

typedef struct fixture {
    ns_backend *be;
    ns_model *m; /* resnet8:width=4, 3 residual blocks */
    ns_buf *x;
    char dir[1024], path[1200], edited[1200];
} fixture;

static int setup(void **state)
{
    static fixture f;
    memset(&f, 0, sizeof f);
    *state = &f;
    if (ns_test_require_ref(&f.be) != 0)
        return -1;
    ns_model_spec spec;
    if (ns_model_spec_parse("resnet8:width=4", &spec) != NS_OK ||
        ns_model_create(f.be, &spec, C, HW, HW, K, &f.m) != NS_OK || ns_model_init(f.m, 3) != NS_OK)
        return -1;
    float xh[BATCH * C * HW * HW];
    for (int i = 0; i < BATCH * C * HW * HW; i++)
        xh[i] = (float)((i * 37) % 17) / 8.0f - 1.0f;
    if (f.be->api->buf_alloc(f.be->ctx, BATCH * C * HW * HW, &f.x) != NS_OK ||
        f.be->api->upload(f.be->ctx, f.x, 0, xh, BATCH * C * HW * HW) != NS_OK)
        return -1;
    ns_test_fresh_dir("checkpoint_meta", f.dir, sizeof f.dir);
    snprintf(f.path, sizeof f.path, "%s/ckpt.safetensors", f.dir);
    snprintf(f.edited, sizeof f.edited, "%s/edited.safetensors", f.dir);
    return 0;
}

static int teardown(void **state)
{
    fixture *f = *state;
    f->be->api->buf_free(f->be->ctx, f->x);
    ns_model_destroy(f->m);
    ns_backend_close(f->be);
    return 0;
}

static ns_ckpt_info info_with(const char *config)
{
    ns_ckpt_info info;
    memset(&info, 0, sizeof info);
    info.mean[0] = 0.25f;
    info.std[0] = 0.5f;
    snprintf(info.config, sizeof info.config, "%s", config);
    return info;
}

static void eval_logits(fixture *f, ns_model *m, float out[BATCH * K])
{
    const ns_buf *y = NULL;
    assert_int_equal(ns_model_forward(m, f->x, BATCH, 0, NULL, 0, 0, &y), NS_OK);
    assert_int_equal(f->be->api->download(f->be->ctx, y, 0, out, BATCH * K), NS_OK);
}

/* Copies src to dst with metadata `key` set to `value` (NULL: the key
 * dropped); key2/value2 likewise when key2 is not NULL. */
static void copy_edit_meta(const char *src, const char *dst, const char *key, const char *value, const char *key2,
                           const char *value2)
{
    ns_safetensors *in = NULL;
    assert_int_equal(ns_safetensors_open(src, &in), NS_OK);
    size_t n = ns_safetensors_count(in), nm = ns_safetensors_meta_count(in);
    ns_st_tensor *t = calloc(n, sizeof *t);
    ns_st_meta *meta = calloc(nm + 2, sizeof *meta);
    assert_true(t && meta);
    for (size_t i = 0; i < n; i++) {
        const ns_st_view *v = ns_safetensors_tensor(in, i);
        t[i].name = v->name;
        t[i].dtype = v->dtype;
        t[i].ndim = v->ndim;
        memcpy(t[i].shape, v->shape, sizeof t[i].shape);
        t[i].data = v->data;
    }
    size_t m = 0;
    int seen = 0, seen2 = 0;
    for (size_t i = 0; i < nm; i++) {
        const char *k, *v;
        assert_true(ns_safetensors_meta_at(in, i, &k, &v));
        if (strcmp(k, key) == 0) {
            seen = 1;
            v = value;
        } else if (key2 && strcmp(k, key2) == 0) {
            seen2 = 1;
            v = value2;
        }
        if (v)
            meta[m++] = (ns_st_meta){k, v};
    }
    if (!seen && value)
        meta[m++] = (ns_st_meta){key, value};
    if (key2 && !seen2 && value2)
        meta[m++] = (ns_st_meta){key2, value2};
    assert_int_equal(ns_safetensors_write(dst, t, n, meta, m), NS_OK);
    free(t);
    free(meta);
    ns_safetensors_close(in);
}

/* f->path to f->edited, edited. */
static void edit_meta(fixture *f, const char *key, const char *value, const char *key2, const char *value2)
{
    copy_edit_meta(f->path, f->edited, key, value, key2, value2);
}

/* Saved per-batch: both keys written, every survival probability exact (%a),
 * and a loaded or restored model evaluates bit for bit as the saved one. */
static void test_batch_setting_round_trips(void **state)
{
    fixture *f = *state;
    assert_int_equal(ns_model_set_inference_drop_path(f->m, NS_DROP_PATH_PER_BATCH, 0.7f), NS_OK);
    ns_ckpt_info info = info_with("");
    assert_int_equal(ns_checkpoint_save(f->path, f->m, NULL, &info), NS_OK);

    ns_safetensors *st = NULL;
    assert_int_equal(ns_safetensors_open(f->path, &st), NS_OK);
    assert_string_equal(ns_safetensors_meta(st, "drop_path_mode"), "batch");
    const char *s = ns_safetensors_meta(st, "drop_path_survival");
    assert_non_null(s);
    for (int l = 0; l < BLOCKS; l++) {
        char *end;
        float p = strtof(s, &end);
        assert_true(end != s);
        assert_true(p == ns_model_inference_survival(f->m, l));
        assert_true(p == 1.0f - (float)(l + 1) / 3.0f * (1.0f - 0.7f));
        s = *end == ',' ? end + 1 : end;
    }
    assert_int_equal(*s, '\0');
    ns_safetensors_close(st);

    float want[BATCH * K], got[BATCH * K];
    eval_logits(f, f->m, want);
    ns_model *m2 = NULL;
    assert_int_equal(ns_checkpoint_load_model(f->path, f->be, &m2, &info), NS_OK);
    assert_int_equal(ns_model_inference_drop_path_mode(m2), NS_DROP_PATH_PER_BATCH);
    for (int l = 0; l < BLOCKS; l++)
        assert_true(ns_model_inference_survival(m2, l) == ns_model_inference_survival(f->m, l));
    eval_logits(f, m2, got);
    assert_memory_equal(got, want, sizeof got);
    ns_model_destroy(m2);

    /* restore into a model that was per-sample */
    ns_model_spec spec;
    assert_int_equal(ns_model_spec_parse("resnet8:width=4", &spec), NS_OK);
    assert_int_equal(ns_model_create(f->be, &spec, C, HW, HW, K, &m2), NS_OK);
    assert_int_equal(ns_checkpoint_restore(f->path, m2, NULL, &info), NS_OK);
    assert_int_equal(ns_model_inference_drop_path_mode(m2), NS_DROP_PATH_PER_BATCH);
    eval_logits(f, m2, got);
    assert_memory_equal(got, want, sizeof got);
    ns_model_destroy(m2);

    /* and the same weights per-sample evaluate differently: the key matters */
    assert_int_equal(ns_model_set_inference_drop_path(f->m, NS_DROP_PATH_PER_SAMPLE, 1.0f), NS_OK);
    eval_logits(f, f->m, got);
    assert_memory_not_equal(got, want, sizeof got);
}

/* Per-sample: "sample" is written (the survival list holds the training
 * probabilities, which eval does not use) and reads back as unscaled branches. */
static void test_sample_setting_written(void **state)
{
    fixture *f = *state;
    assert_int_equal(ns_model_set_inference_drop_path(f->m, NS_DROP_PATH_PER_SAMPLE, 0.5f), NS_OK);
    ns_ckpt_info info = info_with("");
    assert_int_equal(ns_checkpoint_save(f->path, f->m, NULL, &info), NS_OK);
    ns_safetensors *st = NULL;
    assert_int_equal(ns_safetensors_open(f->path, &st), NS_OK);
    assert_string_equal(ns_safetensors_meta(st, "drop_path_mode"), "sample");
    ns_safetensors_close(st);
    ns_model *m2 = NULL;
    assert_int_equal(ns_checkpoint_load_model(f->path, f->be, &m2, &info), NS_OK);
    assert_int_equal(ns_model_inference_drop_path_mode(m2), NS_DROP_PATH_PER_SAMPLE);
    for (int l = 0; l < BLOCKS; l++)
        assert_true(ns_model_inference_branch_scale(m2, l) == 1.0f);
    ns_model_destroy(m2);
    assert_int_equal(ns_model_set_inference_drop_path(f->m, NS_DROP_PATH_PER_SAMPLE, 1.0f), NS_OK);
}

/* A checkpoint written before the keys: its config says how it was trained. */
static void test_old_file_uses_config(void **state)
{
    fixture *f = *state;
    ns_ckpt_info info = info_with("{\"data\":\"x\",\"drop_path_mode\":\"batch\",\"stochastic_depth\":0.5}");
    assert_int_equal(ns_checkpoint_save(f->path, f->m, NULL, &info), NS_OK);
    edit_meta(f, "drop_path_mode", NULL, "drop_path_survival", NULL);
    ns_model *m2 = NULL;
    assert_int_equal(ns_checkpoint_load_model(f->edited, f->be, &m2, &info), NS_OK);
    assert_int_equal(ns_model_inference_drop_path_mode(m2), NS_DROP_PATH_PER_BATCH);
    for (int l = 0; l < BLOCKS; l++)
        assert_true(ns_model_inference_survival(m2, l) == 1.0f - (float)(l + 1) / 3.0f * 0.5f);
    ns_model_destroy(m2);

    /* a config that says per-sample, none, or not JSON: unscaled */
    const char *configs[] = {"{\"drop_path_mode\":\"sample\",\"stochastic_depth\":0.5}", "{\"data\":\"x\"}", "",
                             "free text"};
    for (size_t i = 0; i < sizeof configs / sizeof *configs; i++) {
        info = info_with(configs[i]);
        assert_int_equal(ns_checkpoint_save(f->path, f->m, NULL, &info), NS_OK);
        edit_meta(f, "drop_path_mode", NULL, "drop_path_survival", NULL);
        assert_int_equal(ns_checkpoint_load_model(f->edited, f->be, &m2, &info), NS_OK);
        assert_int_equal(ns_model_inference_drop_path_mode(m2), NS_DROP_PATH_PER_SAMPLE);
        ns_model_destroy(m2);
    }
    /* a batch config whose survival is out of range is refused */
    info = info_with("{\"drop_path_mode\":\"batch\",\"stochastic_depth\":1.5}");
    assert_int_equal(ns_checkpoint_save(f->path, f->m, NULL, &info), NS_OK);
    edit_meta(f, "drop_path_mode", NULL, "drop_path_survival", NULL);
    assert_int_equal(ns_checkpoint_load_model(f->edited, f->be, &m2, &info), NS_ERR_FORMAT);
    assert_null(m2);
    assert_non_null(strstr(ns_last_error(), "stochastic_depth"));
}

static void expect_refused(fixture *f, const char *needle)
{
    ns_model *m2 = (ns_model *)1;
    ns_ckpt_info info;
    assert_int_equal(ns_checkpoint_load_model(f->edited, f->be, &m2, &info), NS_ERR_FORMAT);
    assert_null(m2);
    const char *e = ns_last_error();
    if (!strstr(e, needle) || !strstr(e, f->edited))
        fail_msg("error '%s' lacks '%s' or the file name", e, needle);
    /* restore refuses it the same way */
    ns_model_spec spec;
    ns_model *m3 = NULL;
    assert_int_equal(ns_model_spec_parse("resnet8:width=4", &spec), NS_OK);
    assert_int_equal(ns_model_create(f->be, &spec, C, HW, HW, K, &m3), NS_OK);
    assert_int_equal(ns_checkpoint_restore(f->edited, m3, NULL, &info), NS_ERR_FORMAT);
    ns_model_destroy(m3);
}

static void test_bad_keys_refused(void **state)
{
    fixture *f = *state;
    ns_ckpt_info info = info_with("");
    assert_int_equal(ns_model_set_inference_drop_path(f->m, NS_DROP_PATH_PER_BATCH, 0.7f), NS_OK);
    assert_int_equal(ns_checkpoint_save(f->path, f->m, NULL, &info), NS_OK);
    assert_int_equal(ns_model_set_inference_drop_path(f->m, NS_DROP_PATH_PER_SAMPLE, 1.0f), NS_OK);
    edit_meta(f, "drop_path_survival", NULL, NULL, NULL);
    expect_refused(f, "'drop_path_mode' without 'drop_path_survival'");
    edit_meta(f, "drop_path_mode", NULL, NULL, NULL);
    expect_refused(f, "'drop_path_survival' without 'drop_path_mode'");
    edit_meta(f, "drop_path_mode", "Batch", NULL, NULL);
    expect_refused(f, "drop_path_mode='Batch'");
    edit_meta(f, "drop_path_survival", "0x1p-1,0x1p-1", NULL, NULL);
    expect_refused(f, "expected 3 comma-separated numbers");
    edit_meta(f, "drop_path_survival", "0x1p-1,0x1p-1,0x1p-1,0x1p-1", NULL, NULL);
    expect_refused(f, "expected 3 comma-separated numbers");
    edit_meta(f, "drop_path_survival", "0.5,nan,0.5", NULL, NULL);
    expect_refused(f, "drop_path_survival[1]");
    edit_meta(f, "drop_path_survival", "0.5,0.5,1.5", NULL, NULL);
    expect_refused(f, "drop_path_survival[2]");
    edit_meta(f, "drop_path_survival", "0,0.5,0.5", NULL, NULL);
    expect_refused(f, "drop_path_survival[0]");
    /* decimal numbers are fine (a hand-edited or foreign file) */
    edit_meta(f, "drop_path_survival", "0.9,0.8,0.7", NULL, NULL);
    ns_model *m2 = NULL;
    assert_int_equal(ns_checkpoint_load_model(f->edited, f->be, &m2, &info), NS_OK);
    assert_true(ns_model_inference_branch_scale(m2, 2) == 0.7f);
    ns_model_destroy(m2);
}

/* A paused run whose checkpoint's scheduler_state was damaged: the resume is
 * refused with one line naming the checkpoint and the key (a NaN scale would
 * otherwise train on with NaN learning rates). */
static void test_resume_refuses_bad_scheduler_state(void **state)
{
    fixture *f = *state;
    char data[1200], ckpt[1300], saved[1300];
    snprintf(data, sizeof data, "%s/data", f->dir);
    assert_int_equal(ns_test_write_synthetic(data, 4, 2, 3), 0);
    ns_train_config c = ns_test_step_run_config(data, "checkpoint_meta_run");
    snprintf(c.model, sizeof c.model, "resnet8:width=2");
    snprintf(c.schedule, sizeof c.schedule, "plateau");
    c.val_per_class = 1;
    c.batch = 4;
    c.stop_after_epoch = 1;
    ns_train_result res;
    if (ns_train(&c, f->be, 0, NULL, NULL, &res) != NS_OK)
        fail_msg("train: %s", ns_last_error());
    assert_true(res.paused);
    snprintf(ckpt, sizeof ckpt, "%s/checkpoint.safetensors", c.run_dir);
    snprintf(saved, sizeof saved, "%s/saved.safetensors", f->dir);
    copy_edit_meta(ckpt, saved, "format", NS_CKPT_FORMAT, NULL, NULL); /* an unchanged copy */
    const char *bad[] = {"best=-inf,bad=0,stale=0,scale=nan", "best=-inf,bad=0,stale=0,scale=inf",
                         "best=-inf,bad=0,stale=0,scale=-0x1p+0"};
    for (size_t i = 0; i < sizeof bad / sizeof *bad; i++) {
        copy_edit_meta(saved, ckpt, "scheduler_state", bad[i], NULL, NULL);
        assert_int_not_equal(ns_train(&c, f->be, 1, NULL, NULL, &res), NS_OK);
        char want[512];
        snprintf(want, sizeof want, "%s: scheduler_state '%s': scale=", ckpt, bad[i]);
        if (!strstr(ns_last_error(), want))
            fail_msg("message '%s' lacks '%s'", ns_last_error(), want);
        assert_null(strchr(ns_last_error(), '\n'));
    }
    /* the undamaged checkpoint resumes */
    copy_edit_meta(saved, ckpt, "format", NS_CKPT_FORMAT, NULL, NULL);
    c.stop_after_epoch = 0;
    if (ns_train(&c, f->be, 1, NULL, NULL, &res) != NS_OK)
        fail_msg("resume: %s", ns_last_error());
    assert_int_equal(res.epochs_run, 3);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_batch_setting_round_trips),
        cmocka_unit_test(test_sample_setting_written),
        cmocka_unit_test(test_old_file_uses_config),
        cmocka_unit_test(test_bad_keys_refused),
        cmocka_unit_test(test_resume_refuses_bad_scheduler_state),
    };
    return cmocka_run_group_tests(tests, setup, teardown);
}
