/* Built-in learning-rate schedules: values at known points, plateau memory and
 * early stopping, state round trip, and refused parameters. */
#include <math.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <string.h>

#include <cmocka.h>

#include "train/scheduler.h"
#include "util/error.h"

static float lr_at(ns_scheduler *s, int epoch, int step, int spe, int total)
{
    ns_sched_point at = {epoch, step, spe, total, 0.1f};
    return ns_scheduler_lr(s, &at);
}

static void test_constant_and_step(void **state)
{
    (void)state;
    ns_scheduler *s;
    assert_int_equal(ns_scheduler_open("constant", &s), NS_OK);
    assert_float_equal(lr_at(s, 7, 3, 10, 20), 0.1f, 1e-9);
    ns_scheduler_close(s);
    assert_int_equal(ns_scheduler_open("step:every=10,gamma=0.5", &s), NS_OK);
    assert_float_equal(lr_at(s, 9, 0, 10, 30), 0.1f, 1e-7);
    assert_float_equal(lr_at(s, 10, 0, 10, 30), 0.05f, 1e-7);
    assert_float_equal(lr_at(s, 25, 0, 10, 30), 0.025f, 1e-7);
    ns_scheduler_close(s);
    assert_int_equal(ns_scheduler_open("step:milestones=3-6,gamma=0.1", &s), NS_OK);
    assert_float_equal(lr_at(s, 2, 0, 10, 30), 0.1f, 1e-7);
    assert_float_equal(lr_at(s, 3, 0, 10, 30), 0.01f, 1e-7);
    assert_float_equal(lr_at(s, 6, 0, 10, 30), 0.001f, 1e-8);
    ns_scheduler_close(s);
}

static void test_cosine_with_warmup(void **state)
{
    (void)state;
    ns_scheduler *s;
    assert_int_equal(ns_scheduler_open("cosine:warmup=2,min=0.001", &s), NS_OK);
    /* Linear warm-up over 2 epochs of 10 steps: step k gets (k+1)/20 of the base. */
    assert_float_equal(lr_at(s, 0, 0, 10, 12), 0.1f / 20, 1e-7);
    assert_float_equal(lr_at(s, 1, 9, 10, 12), 0.1f, 1e-7);
    /* Cosine from epoch 2 to 12: half-way (epoch 7) is the mid-point. */
    assert_float_equal(lr_at(s, 7, 0, 10, 12), 0.001f + (0.1f - 0.001f) * 0.5f, 1e-6);
    assert_true(lr_at(s, 11, 9, 10, 12) < 0.0035f);
    ns_scheduler_close(s);
}

static void test_plateau_reduces_and_stops(void **state)
{
    (void)state;
    ns_scheduler *s;
    assert_int_equal(ns_scheduler_open("plateau:factor=0.1,patience=1,stop=3", &s), NS_OK);
    int stop = 0;
    const float metrics[] = {0.5f, 0.6f, 0.6f, 0.6f, 0.59f};
    const float want_lr[] = {0.1f, 0.1f, 0.1f, 0.01f, 0.001f}; /* Keras semantics */
    for (int e = 0; e < 5; e++) {
        assert_float_equal(lr_at(s, e, 0, 10, 20), want_lr[e], 1e-8);
        assert_int_equal(ns_scheduler_epoch_end(s, e, metrics[e], &stop), NS_OK);
        assert_int_equal(stop, e == 4);
    }
    /* The state text restores exactly. */
    char text[256];
    assert_int_equal(ns_scheduler_get_state(s, text, sizeof text), NS_OK);
    ns_scheduler *t;
    assert_int_equal(ns_scheduler_open("plateau:factor=0.1,patience=1,stop=3", &t), NS_OK);
    assert_int_equal(ns_scheduler_set_state(t, text), NS_OK);
    assert_float_equal(lr_at(t, 5, 0, 10, 20), lr_at(s, 5, 0, 10, 20), 0);
    /* Without a validation metric plateau cannot work: a clear error. */
    assert_int_equal(ns_scheduler_epoch_end(t, 5, NAN, &stop), NS_ERR_USAGE);
    assert_non_null(strstr(ns_last_error(), "--val-per-class"));
    assert_int_equal(ns_scheduler_set_state(t, "garbage"), NS_ERR_FORMAT);
    ns_scheduler_close(s);
    ns_scheduler_close(t);
}

/* A checkpoint's scheduler_state is input: NaN, infinite or negative scales
 * (every later learning rate NaN or negative), a NaN best, negative counts and
 * trailing text are refused with a line naming the key, and the schedule
 * keeps its state. */
static void test_bad_state_refused(void **state)
{
    (void)state;
    ns_scheduler *s;
    assert_int_equal(ns_scheduler_open("plateau:factor=0.5,patience=0", &s), NS_OK);
    int stop;
    assert_int_equal(ns_scheduler_epoch_end(s, 0, 0.5f, &stop), NS_OK);
    assert_int_equal(ns_scheduler_epoch_end(s, 1, 0.4f, &stop), NS_OK); /* one reduction: scale 0.5 */
    const float lr = lr_at(s, 2, 0, 10, 20);
    assert_float_equal(lr, 0.05f, 1e-8);
    const struct {
        const char *text, *why;
    } bad[] = {
        {"best=-inf,bad=0,stale=0,scale=nan", "scale=nan, expected a finite learning-rate factor in [0, 1]"},
        {"best=-inf,bad=0,stale=0,scale=inf", "scale=inf"},
        {"best=-inf,bad=0,stale=0,scale=-0x1p-1", "scale=-0.5"},
        {"best=-inf,bad=0,stale=0,scale=0x1p+1", "scale=2"},
        {"best=nan,bad=0,stale=0,scale=0x1p+0", "best=nan"},
        {"best=inf,bad=0,stale=0,scale=0x1p+0", "best=inf"},
        {"best=0x1p+200,bad=0,stale=0,scale=0x1p+0", "best=1.60694e+60"}, /* finite double, infinite float */
        {"best=-0x1p+200,bad=0,stale=0,scale=0x1p+0", "best=-1.60694e+60"},
        {"best=0x1p-1,bad=-1,stale=0,scale=0x1p+0", "bad=-1"},
        {"best=0x1p-1,bad=0,stale=0,scale=0x1p+0,extra", "expected best=B,bad=N,stale=N,scale=S"},
    };
    for (size_t i = 0; i < sizeof bad / sizeof *bad; i++) {
        assert_int_equal(ns_scheduler_set_state(s, bad[i].text), NS_ERR_FORMAT);
        char want[256];
        snprintf(want, sizeof want, "scheduler_state '%s': %s", bad[i].text, bad[i].why);
        if (!strstr(ns_last_error(), want))
            fail_msg("'%s': message '%s' lacks '%s'", bad[i].text, ns_last_error(), want);
        assert_float_equal(lr_at(s, 2, 0, 10, 20), lr, 0); /* unchanged */
    }
    /* the initial state and a reduced one still restore; so does scale 0 (many reductions) */
    assert_int_equal(ns_scheduler_set_state(s, "best=-inf,bad=0,stale=0,scale=0x1p+0"), NS_OK);
    assert_float_equal(lr_at(s, 2, 0, 10, 20), 0.1f, 1e-8);
    assert_int_equal(ns_scheduler_set_state(s, "best=0x1p-1,bad=1,stale=2,scale=0x0p+0"), NS_OK);
    assert_float_equal(lr_at(s, 2, 0, 10, 20), 0.0f, 0);
    ns_scheduler_close(s);
}

static void test_bad_specs(void **state)
{
    (void)state;
    ns_scheduler *s;
    assert_int_equal(ns_scheduler_open("cosine:warmpu=2", &s), NS_ERR_USAGE);
    assert_non_null(strstr(ns_last_error(), "warmpu"));
    assert_int_equal(ns_scheduler_open("step:gamma=abc", &s), NS_ERR_USAGE);
    assert_int_equal(ns_scheduler_open("plateau:factor=2", &s), NS_ERR_USAGE);
    assert_int_equal(ns_scheduler_open("linear", &s), NS_ERR_USAGE);
    assert_non_null(strstr(ns_last_error(), "constant, step, cosine, plateau"));
    assert_int_equal(ns_scheduler_open("cosine:warmup", &s), NS_ERR_USAGE);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_constant_and_step),
        cmocka_unit_test(test_cosine_with_warmup),
        cmocka_unit_test(test_plateau_reduces_and_stops),
        cmocka_unit_test(test_bad_specs),
        cmocka_unit_test(test_bad_state_refused),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
