/* Checkpoints: round trip of weights, statistics and optimizer state; a
 * truncated, corrupted or mismatched file is refused with a message naming it,
 * and a failed save leaves the previous file intact. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cmocka.h>

#include "io/safetensors.h"
#include "plugin/backend_loader.h"
#include "ns_test_ref.h"
#include "synthetic_data.h"
#include "train/checkpoint.h"
#include "util/error.h"

typedef struct fixture {
    ns_backend *be;
    ns_model *m;
    ns_optimizer *o;
    char dir[1024];
    char path[1200];
} fixture;

static int setup(void **state)
{
    static fixture f;
    memset(&f, 0, sizeof f);
    *state = &f;
    if (ns_test_require_ref(&f.be) != 0)
        return -1; /* ref is always built: its absence fails the suite */
    ns_model_spec spec;
    if (ns_model_spec_parse("resnet8:width=4", &spec) != NS_OK ||
        ns_model_create(f.be, &spec, 1, 8, 8, 4, &f.m) != NS_OK || ns_model_init(f.m, 3) != NS_OK)
        return -1;
    ns_optimizer_config oc = ns_optimizer_config_default(NS_OPT_ADAM);
    if (ns_optimizer_create(f.m, &oc, &f.o) != NS_OK)
        return -1;
    ns_test_fresh_dir("checkpoint", f.dir, sizeof f.dir);
    snprintf(f.path, sizeof f.path, "%s/ckpt.safetensors", f.dir);
    return 0;
}

static int teardown(void **state)
{
    fixture *f = *state;
    ns_optimizer_destroy(f->o);
    ns_model_destroy(f->m);
    ns_backend_close(f->be);
    return 0;
}

static ns_ckpt_info sample_info(void)
{
    ns_ckpt_info info;
    memset(&info, 0, sizeof info);
    info.epoch = 3;
    info.step = 123;
    info.seed = 99;
    snprintf(info.optimizer, sizeof info.optimizer, "adam");
    snprintf(info.scheduler_state, sizeof info.scheduler_state, "best=0x1p-1,bad=0,stale=0,scale=0x1p+0");
    info.mean[0] = 0.2860402f;
    info.std[0] = 0.3530239f;
    snprintf(info.config, sizeof info.config, "{\"data\":\"x\"}");
    return info;
}

static void first_param(ns_model *m, float *out, size_t n)
{
    ns_backend *be = ns_model_backend(m);
    ns_param *p = ns_model_param(m, 0);
    assert_true(p->size >= n);
    assert_int_equal(be->api->download(be->ctx, p->value, 0, out, n), NS_OK);
}

static void test_round_trip(void **state)
{
    fixture *f = *state;
    ns_ckpt_info info = sample_info(), back;
    ns_optimizer_set_steps(f->o, 17);
    assert_int_equal(ns_checkpoint_save(f->path, f->m, f->o, &info), NS_OK);

    ns_model *m2;
    assert_int_equal(ns_checkpoint_load_model(f->path, f->be, &m2, &back), NS_OK);
    char spec[256];
    ns_model_spec_format(ns_model_get_spec(f->m), spec, sizeof spec);
    assert_string_equal(back.model, spec);
    assert_int_equal(back.epoch, 3);
    assert_int_equal(back.step, 123);
    assert_int_equal(back.optimizer_steps, 17);
    assert_true(back.mean[0] == info.mean[0] && back.std[0] == info.std[0]); /* exact, not approximate */
    assert_string_equal(back.scheduler_state, info.scheduler_state);
    float a[16], b[16];
    first_param(f->m, a, 16);
    first_param(m2, b, 16);
    assert_memory_equal(a, b, sizeof a);

    ns_optimizer *o2;
    ns_optimizer_config oc = ns_optimizer_config_default(NS_OPT_ADAM);
    assert_int_equal(ns_optimizer_create(m2, &oc, &o2), NS_OK);
    assert_int_equal(ns_checkpoint_restore(f->path, m2, o2, &back), NS_OK);
    assert_int_equal(ns_optimizer_steps(o2), 17);
    ns_optimizer_destroy(o2);
    ns_model_destroy(m2);
}

static void copy_truncated(const char *from, const char *to, long keep)
{
    FILE *in = fopen(from, "rb"), *out = fopen(to, "wb");
    assert_non_null(in);
    assert_non_null(out);
    for (long i = 0; i < keep; i++) {
        int ch = fgetc(in);
        if (ch == EOF)
            break;
        fputc(ch, out);
    }
    fclose(in);
    fclose(out);
}

static void test_truncated_refused(void **state)
{
    fixture *f = *state;
    ns_ckpt_info info = sample_info();
    assert_int_equal(ns_checkpoint_save(f->path, f->m, f->o, &info), NS_OK);
    struct stat st;
    assert_int_equal(stat(f->path, &st), 0);
    char cut[1300];
    snprintf(cut, sizeof cut, "%s/cut.safetensors", f->dir);
    const long points[] = {0, 4, 8, 100, (long)st.st_size / 2, (long)st.st_size - 1};
    for (size_t i = 0; i < sizeof points / sizeof *points; i++) {
        copy_truncated(f->path, cut, points[i]);
        ns_model *m = NULL;
        assert_int_not_equal(ns_checkpoint_load_model(cut, f->be, &m, &info), NS_OK);
        assert_null(m);
        assert_non_null(strstr(ns_last_error(), cut));
    }
}

static void test_wrong_model_refused(void **state)
{
    fixture *f = *state;
    ns_ckpt_info info = sample_info();
    assert_int_equal(ns_checkpoint_save(f->path, f->m, f->o, &info), NS_OK);
    ns_model_spec spec;
    ns_model *wide;
    assert_int_equal(ns_model_spec_parse("resnet8:width=8", &spec), NS_OK);
    assert_int_equal(ns_model_create(f->be, &spec, 1, 8, 8, 4, &wide), NS_OK);
    assert_int_equal(ns_checkpoint_restore(f->path, wide, NULL, &info), NS_ERR_FORMAT);
    assert_non_null(strstr(ns_last_error(), "widths=4-8-16"));
    ns_model_destroy(wide);

    /* A safetensors file that is not a checkpoint. */
    char other[1300];
    snprintf(other, sizeof other, "%s/plain.safetensors", f->dir);
    float v[2] = {1, 2};
    ns_st_tensor t = {"x", NS_ST_F32, 1, {2}, v};
    assert_int_equal(ns_safetensors_write(other, &t, 1, NULL, 0), NS_OK);
    ns_model *m = NULL;
    assert_int_equal(ns_checkpoint_load_model(other, f->be, &m, &info), NS_ERR_FORMAT);
    assert_non_null(strstr(ns_last_error(), "not a noisystudent checkpoint"));
}

static void test_failed_save_keeps_old_file(void **state)
{
    fixture *f = *state;
    ns_ckpt_info info = sample_info();
    assert_int_equal(ns_checkpoint_save(f->path, f->m, f->o, &info), NS_OK);
    struct stat before;
    assert_int_equal(stat(f->path, &before), 0);
    /* Saving into a missing directory fails cleanly. */
    char bad[1300];
    snprintf(bad, sizeof bad, "%s/no/such/dir/ckpt.safetensors", f->dir);
    assert_int_not_equal(ns_checkpoint_save(bad, f->m, f->o, &info), NS_OK);
    struct stat after;
    assert_int_equal(stat(f->path, &after), 0);
    assert_int_equal(before.st_size, after.st_size);
}

/* Class names ride in the checkpoint: saved from the model, back on load,
 * readable alone; a count that disagrees with the model is refused. */
static void test_class_names(void **state)
{
    fixture *f = *state;
    ns_ckpt_info info = sample_info();
    const char *names[4] = {"cat", "dog \"big\"", "T-shirt/top", "\xc3\xa9t\xc3\xa9"};
    ns_class_names cn = {0, NULL};
    assert_int_equal(ns_class_names_set(&cn, 4, names), NS_OK);
    assert_int_equal(ns_model_set_class_names(f->m, &cn), NS_OK);
    assert_int_equal(ns_checkpoint_save(f->path, f->m, f->o, &info), NS_OK);

    ns_model *m2;
    assert_int_equal(ns_checkpoint_load_model(f->path, f->be, &m2, &info), NS_OK);
    assert_true(ns_class_names_equal(ns_model_class_names(m2), &cn));
    ns_model_destroy(m2);
    ns_class_names back = {0, NULL};
    assert_int_equal(ns_checkpoint_read_class_names(f->path, &back), NS_OK);
    assert_true(ns_class_names_equal(&back, &cn));
    ns_class_names_free(&back);

    /* Three names for a four-class model. */
    ns_class_names three = {0, NULL};
    assert_int_equal(ns_class_names_set(&three, 3, names), NS_OK);
    assert_int_equal(ns_model_set_class_names(f->m, &three), NS_ERR_INVALID_ARG);
    ns_class_names_free(&three);

    /* Without names the key is absent and nothing comes back. */
    assert_int_equal(ns_model_set_class_names(f->m, NULL), NS_OK);
    assert_int_equal(ns_checkpoint_save(f->path, f->m, f->o, &info), NS_OK);
    assert_int_equal(ns_checkpoint_read_class_names(f->path, &back), NS_OK);
    assert_int_equal(back.n, 0);
    ns_class_names_free(&cn);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_round_trip),
        cmocka_unit_test(test_truncated_refused),
        cmocka_unit_test(test_wrong_model_refused),
        cmocka_unit_test(test_failed_save_keeps_old_file),
        cmocka_unit_test(test_class_names),
    };
    return cmocka_run_group_tests(tests, setup, teardown);
}
