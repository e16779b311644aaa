/* The loader's contract: every failure is one line naming the file and what
 * was expected; a good plugin loads; discovery follows the documented order. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "plugin/backend_loader.h"
#include "plugin/loader.h"
#include "util/error.h"

static char path[1024];

static const char *broken(const char *variant)
{
    snprintf(path, sizeof path, "%s/ns_backend_%s.so", getenv("NS_BROKEN_DIR"), variant);
    return path;
}

static void assert_error_mentions(const char *a, const char *b)
{
    const char *msg = ns_last_error();
    assert_non_null(strstr(msg, a));
    if (b)
        assert_non_null(strstr(msg, b));
    assert_null(strchr(msg, '\n'));
}

static void test_not_found_lists_places(void **state)
{
    (void)state;
    ns_plugin_handle *h;
    assert_int_equal(ns_plugin_load(NS_PLUGIN_BACKEND, "nosuch", 1, &h), NS_ERR_NOT_FOUND);
    assert_null(h);
    assert_error_mentions("ns_backend_nosuch.so", getenv("NS_PLUGIN_PATH"));
    assert_error_mentions(NS_TEST_BUILD_PLUGIN_DIR, NULL);
}

static void test_not_a_shared_object(void **state)
{
    (void)state;
    ns_plugin_handle *h;
    assert_int_equal(ns_plugin_load(NS_PLUGIN_BACKEND, broken("text"), 1, &h), NS_ERR_FORMAT);
    assert_error_mentions(path, "cannot load as a shared object");
}

static void test_no_entry_symbol(void **state)
{
    (void)state;
    ns_plugin_handle *h;
    assert_int_equal(ns_plugin_load(NS_PLUGIN_BACKEND, broken("no_entry"), 1, &h), NS_ERR_ABI);
    assert_error_mentions(path, "ns_plugin_entry");
}

static void test_abi_major_mismatch(void **state)
{
    (void)state;
    ns_plugin_handle *h;
    assert_int_equal(ns_plugin_load(NS_PLUGIN_BACKEND, broken("abi_major"), 1, &h), NS_ERR_ABI);
    char host[32];
    snprintf(host, sizeof host, "ABI %u.%u", NS_ABI_MAJOR, NS_ABI_MINOR);
    assert_error_mentions(path, "ABI 2.0");
    assert_error_mentions(host, NULL);
}

static void test_abi_minor_newer(void **state)
{
    (void)state;
    ns_plugin_handle *h;
    assert_int_equal(ns_plugin_load(NS_PLUGIN_BACKEND, broken("abi_minor_newer"), 1, &h), NS_ERR_ABI);
    char plugin[32];
    snprintf(plugin, sizeof plugin, "ABI %u.%u", NS_ABI_MAJOR, NS_ABI_MINOR + 5u);
    assert_error_mentions(path, plugin);
}

/* An older minor's shorter op table opens; slots it does not have read as NULL. */
static void test_backend_table_of_older_minor(void **state)
{
    (void)state;
    ns_backend *be;
    assert_int_equal(ns_backend_open(broken("table_1_0"), NULL, &be), NS_OK);
    assert_true(be->api->struct_size >= sizeof(ns_backend_api));
    assert_non_null(be->api->create);
    assert_null(be->api->conv2d_bn_infer);
    ns_backend_close(be);
}

static void test_good_plugin_loads_by_path(void **state)
{
    (void)state;
    ns_plugin_handle *h;
    assert_int_equal(ns_plugin_load(NS_PLUGIN_BACKEND, broken("good_minor_older"), 1, &h), NS_OK);
    assert_string_equal(ns_plugin_desc(h)->name, "broken");
    assert_string_equal(ns_plugin_file(h), path);
    ns_plugin_unload(h);
}

static void test_wrong_kind(void **state)
{
    (void)state;
    ns_plugin_handle *h;
    assert_int_equal(ns_plugin_load(NS_PLUGIN_BACKEND, broken("wrong_kind"), 1, &h), NS_ERR_ABI);
    assert_error_mentions(path, "is of kind augment");
    assert_error_mentions("expected kind backend", NULL);
}

static void test_probe_refusal_gives_reason(void **state)
{
    (void)state;
    ns_plugin_handle *h;
    assert_int_equal(ns_plugin_load(NS_PLUGIN_BACKEND, broken("probe_fail"), 1, &h), NS_ERR_UNSUPPORTED);
    assert_error_mentions("cannot run here", "the probe refuses on purpose");
    /* Without the probe it loads (that is how `plugins` lists it). */
    assert_int_equal(ns_plugin_load(NS_PLUGIN_BACKEND, broken("probe_fail"), 0, &h), NS_OK);
    ns_plugin_unload(h);
}

static void test_missing_required_slot(void **state)
{
    (void)state;
    ns_backend *be;
    assert_int_equal(ns_backend_open(broken("missing_slot"), NULL, &be), NS_ERR_ABI);
    assert_error_mentions(path, "required slot 'create'");
}

static void test_plugin_dir_searched_first(void **state)
{
    (void)state;
    ns_plugin_handle *h;
    assert_int_equal(ns_plugin_add_search_dir(getenv("NS_BROKEN_DIR")), NS_OK);
    assert_int_equal(ns_plugin_load(NS_PLUGIN_BACKEND, "good_minor_older", 1, &h), NS_OK);
    ns_plugin_unload(h);
    assert_int_equal(ns_plugin_add_search_dir("/definitely/not/a/dir"), NS_ERR_USAGE);
    assert_error_mentions("/definitely/not/a/dir", "not a directory");
    ns_plugin_clear_search_dirs();
    assert_int_equal(ns_plugin_load(NS_PLUGIN_BACKEND, "good_minor_older", 1, &h), NS_ERR_NOT_FOUND);
}

static void test_bad_names(void **state)
{
    (void)state;
    ns_plugin_handle *h;
    assert_int_equal(ns_plugin_load(NS_PLUGIN_BACKEND, "Bad Name", 1, &h), NS_ERR_USAGE);
    assert_int_equal(ns_plugin_load(NS_PLUGIN_BACKEND, "", 1, &h), NS_ERR_USAGE);
    assert_int_equal(ns_plugin_load(NS_PLUGIN_BACKEND, "./missing.so", 1, &h), NS_ERR_NOT_FOUND);
    assert_error_mentions("./missing.so", "no such file");
}

static void test_scan_lists_ref(void **state)
{
    (void)state;
    ns_plugin_info *list;
    size_t n;
    assert_int_equal(ns_plugin_scan(&list, &n), NS_OK);
    int found = 0;
    for (size_t i = 0; i < n; i++)
        if (strcmp(list[i].name, "ref") == 0 && strcmp(list[i].kind, "backend") == 0) {
            found = 1;
            assert_true(list[i].usable);
        }
    free(list);
    if (!found)
        skip(); /* the ref plugin is not built in this tree */
}

static void test_auto_backend_opens(void **state)
{
    (void)state;
    ns_backend *be;
    ns_status st = ns_backend_open("auto", NULL, &be);
    if (st != NS_OK) {
        print_message("auto: %s\n", ns_last_error());
        skip();
    }
    assert_non_null(be->api);
    ns_backend_close(be);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_not_found_lists_places),
        cmocka_unit_test(test_not_a_shared_object),
        cmocka_unit_test(test_no_entry_symbol),
        cmocka_unit_test(test_abi_major_mismatch),
        cmocka_unit_test(test_abi_minor_newer),
        cmocka_unit_test(test_backend_table_of_older_minor),
        cmocka_unit_test(test_good_plugin_loads_by_path),
        cmocka_unit_test(test_wrong_kind),
        cmocka_unit_test(test_probe_refusal_gives_reason),
        cmocka_unit_test(test_missing_required_slot),
        cmocka_unit_test(test_plugin_dir_searched_first),
        cmocka_unit_test(test_bad_names),
        cmocka_unit_test(test_scan_lists_ref),
        cmocka_unit_test(test_auto_backend_opens),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
