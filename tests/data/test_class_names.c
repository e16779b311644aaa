/* Class names: validation, JSON round trip, the built-in datasets' names and
 * the numeric fallback. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "data/class_names.h"
#include "data/source.h"
#include "util/error.h"

static void test_json_round_trip(void **state)
{
    (void)state;
    const char *names[3] = {"T-shirt/top", "a \"quoted\" name", "\xc3\xa9t\xc3\xa9"};
    ns_class_names cn = {0, NULL}, back = {0, NULL};
    assert_int_equal(ns_class_names_set(&cn, 3, names), NS_OK);
    char *json;
    assert_int_equal(ns_class_names_to_json(&cn, &json), NS_OK);
    assert_int_equal(ns_class_names_from_json(json, "test", &back), NS_OK);
    assert_true(ns_class_names_equal(&cn, &back));
    assert_string_equal(back.names[2], names[2]);
    free(json);
    ns_class_names_free(&cn);
    ns_class_names_free(&back);
    ns_class_names_free(&back); /* twice is safe */
}

static void test_invalid_refused(void **state)
{
    (void)state;
    ns_class_names cn = {0, NULL};
    const char *empty[2] = {"ok", ""};
    assert_int_equal(ns_class_names_set(&cn, 2, empty), NS_ERR_INVALID_ARG);
    assert_non_null(strstr(ns_last_error(), "class name 1"));
    assert_int_equal(cn.n, 0);
    const char *ctl[1] = {"tab\there"};
    assert_int_equal(ns_class_names_set(&cn, 1, ctl), NS_ERR_INVALID_ARG);
    assert_non_null(strstr(ns_last_error(), "control character"));
    assert_int_equal(ns_class_names_from_json("{\"a\":1}", "ckpt.safetensors", &cn), NS_ERR_FORMAT);
    assert_non_null(strstr(ns_last_error(), "ckpt.safetensors"));
    assert_int_equal(ns_class_names_from_json("[\"a\", 3]", "x", &cn), NS_ERR_FORMAT);
    assert_non_null(strstr(ns_last_error(), "class_names[1]"));
    assert_int_equal(ns_class_names_from_json("[\"a\", \"\"]", "x", &cn), NS_ERR_INVALID_ARG);
}

static void test_builtin_and_fallback(void **state)
{
    (void)state;
    ns_class_names cn = {0, NULL};
    char buf[16];
    assert_int_equal(ns_class_names_builtin("fashion-mnist", &cn), NS_OK);
    assert_int_equal(cn.n, 10);
    assert_string_equal(ns_class_name(&cn, 0, buf), "T-shirt/top");
    assert_string_equal(ns_class_name(&cn, 9, buf), "Ankle boot");
    assert_string_equal(ns_class_name(&cn, 10, buf), "10");
    assert_int_equal(ns_class_names_builtin("cifar10", &cn), NS_OK);
    assert_string_equal(ns_class_name(&cn, 0, buf), "airplane");
    assert_string_equal(ns_class_name(&cn, 9, buf), "truck");
    assert_int_equal(ns_class_names_builtin("imagenet", &cn), NS_ERR_NOT_FOUND);
    assert_int_equal(cn.n, 0);
    assert_string_equal(ns_class_name(NULL, 7, buf), "7");
}

/* The real Fashion-MNIST opened by name carries its names (skips without the package). */
static void test_fashion_mnist_source_names(void **state)
{
    (void)state;
    ns_dataset d;
    if (ns_dataset_open("fashion-mnist", 0, &d) != NS_OK)
        skip();
    char buf[16];
    assert_int_equal(d.class_names.n, 10);
    assert_string_equal(ns_class_name(&d.class_names, 8, buf), "Bag");
    ns_dataset_free(&d);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_json_round_trip),
        cmocka_unit_test(test_invalid_refused),
        cmocka_unit_test(test_builtin_and_fallback),
        cmocka_unit_test(test_fashion_mnist_source_names),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
