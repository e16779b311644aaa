/* NS_CUDA_OPTIONS / backend `extra` parsing: tf32, autotune and sync=1 (the
 * mode that synchronizes and checks the device as every op starts, naming the
 * op before; tools/gpu-check documents and runs it on a GPU). */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <string.h>

#include <cmocka.h>

#include "cuda_options.h"

static char last_error[512];

static void capture_error(const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(last_error, sizeof last_error, fmt, ap);
    va_end(ap);
}

static const ns_host_api host = {sizeof(ns_host_api), capture_error, NULL};

static ns_status parse(const char *extra, ns_cuda_options *o)
{
    last_error[0] = '\0';
    return ns_cuda_options_parse(&host, "NS_CUDA_OPTIONS", extra, o);
}

static void test_sync_on_and_off(void **state)
{
    (void)state;
    ns_cuda_options o = {.tf32 = 0, .autotune = 4, .sync = 0};
    assert_int_equal(parse("sync=1", &o), NS_OK);
    assert_int_equal(o.sync, 1);
    assert_int_equal(o.tf32, 0);     /* the other keys keep their values */
    assert_int_equal(o.autotune, 4);
    assert_int_equal(parse("sync=0", &o), NS_OK);
    assert_int_equal(o.sync, 0);
}

static void test_sync_with_other_keys(void **state)
{
    (void)state;
    ns_cuda_options o = {.tf32 = 0, .autotune = 4, .sync = 0};
    assert_int_equal(parse("tf32=1,sync=1,autotune=0", &o), NS_OK);
    assert_int_equal(o.tf32, 1);
    assert_int_equal(o.sync, 1);
    assert_int_equal(o.autotune, 0);
}

static void test_sync_bad_value_named(void **state)
{
    (void)state;
    ns_cuda_options o = {.tf32 = 0, .autotune = 4, .sync = 0};
    assert_int_equal(parse("sync=2", &o), NS_ERR_INVALID_ARG);
    assert_non_null(strstr(last_error, "NS_CUDA_OPTIONS"));
    assert_non_null(strstr(last_error, "sync=2, expected 0 or 1"));
    assert_int_equal(o.sync, 0);
    assert_int_equal(parse("sync=", &o), NS_ERR_INVALID_ARG);
    assert_int_equal(parse("sync=yes", &o), NS_ERR_INVALID_ARG);
}

static void test_unknown_key_lists_sync(void **state)
{
    (void)state;
    ns_cuda_options o = {.tf32 = 0, .autotune = 4, .sync = 0};
    assert_int_equal(parse("synch=1", &o), NS_ERR_INVALID_ARG);
    assert_non_null(strstr(last_error, "unknown key 'synch'"));
    assert_non_null(strstr(last_error, "sync=0|1"));
    assert_int_equal(parse("sync", &o), NS_ERR_INVALID_ARG);
    assert_non_null(strstr(last_error, "not key=value"));
    assert_non_null(strstr(last_error, "sync=0|1"));
}

static void test_empty_keeps_defaults(void **state)
{
    (void)state;
    ns_cuda_options o = {.tf32 = 1, .autotune = 7, .sync = 1};
    assert_int_equal(parse(NULL, &o), NS_OK);
    assert_int_equal(parse("", &o), NS_OK);
    assert_int_equal(o.tf32, 1);
    assert_int_equal(o.autotune, 7);
    assert_int_equal(o.sync, 1);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_sync_on_and_off),
        cmocka_unit_test(test_sync_with_other_keys),
        cmocka_unit_test(test_sync_bad_value_named),
        cmocka_unit_test(test_unknown_key_lists_sync),
        cmocka_unit_test(test_empty_keeps_defaults),
    };
    return cmocka_run_group_tests_name("cuda options", tests, NULL, NULL);
}
