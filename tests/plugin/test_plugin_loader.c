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
    /* a 1.2 table: the 1.3 slots beyond its size read as NULL */
    assert_int_equal(ns_backend_open(broken("table_1_2"), NULL, &be), NS_OK);
    assert_null(be->api->allreduce_sum);
    assert_null(be->api->dist_attach);
    ns_backend_close(be);
}

static void test_good_plugin_loads_by_path(void **state)
{
    (void)state;
    ns_plugin_handle *h;
    assert_int_equal(ns_plugin_load(NS_PLUGIN_BACKEND, broken("good_minor_older"), 1, &h), NS_OK);
    assert_string_equal(ns_plugin_desc(h)->name, "good_minor_older");
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

/* Every descriptor field the host reads, spoilt one at a time: each is refused
 * with one line naming the file and the field, never read after it is found
 * bad, never a crash (the NULL-vtable plugin crashed the old loader: it
 * formatted the message from the descriptor after dlclose had unmapped it). */
static const struct {
    const char *variant;
    const char *needle;
} refused[] = {
    {"null_desc", "ns_plugin_entry() returned NULL"},
    {"small_desc", "descriptor is 8 bytes"},
    {"null_name", "descriptor's name is NULL"},
    {"bad_name", "descriptor's name 'Bad Name' is not a plugin name"},
    {"null_version", "descriptor's version is NULL"},
    {"null_description", "descriptor's description is NULL"},
    {"unknown_kind", "descriptor's kind is 7, expected 1 (backend), 2 (augment) or 3 (scheduler)"},
    {"null_vtable", "descriptor's vtable is NULL"},
    {"small_table", "op table of 8 bytes"},
    {"missing_slot", "required slot 'create' is NULL"},
    {"dist_partial", "dist_unique_id, dist_attach and allreduce_sum must be all set or all NULL (1 of 3 set)"},
    {"name_mismatch", "the file name says backend 'name_mismatch' but the descriptor says backend 'someone_else'"},
};

static void test_descriptor_fields_refused(void **state)
{
    (void)state;
    for (size_t i = 0; i < sizeof refused / sizeof *refused; i++) {
        ns_plugin_handle *h = (ns_plugin_handle *)&h;
        ns_status st = ns_plugin_load(NS_PLUGIN_BACKEND, broken(refused[i].variant), 0, &h);
        if (st != NS_ERR_ABI || !strstr(ns_last_error(), refused[i].needle) || !strstr(ns_last_error(), path))
            fail_msg("%s: expected NS_ERR_ABI with '%s', got %s: %s", refused[i].variant, refused[i].needle,
                     ns_status_name(st), ns_last_error());
        assert_null(h);
        assert_null(strchr(ns_last_error(), '\n'));
    }
}

static const ns_plugin_info *find_file(const ns_plugin_info *list, size_t n, const char *variant)
{
    char base[128];
    snprintf(base, sizeof base, "/ns_backend_%s.so", variant);
    for (size_t i = 0; i < n; i++) {
        size_t lf = strlen(list[i].file), lb = strlen(base);
        if (lf >= lb && strcmp(list[i].file + lf - lb, base) == 0)
            return &list[i];
    }
    return NULL;
}

/* One bad plugin never takes the listing down: with the folder of broken
 * plugins searched first, the scan lists every one of them with why, and the
 * good ones (the test's own, and ref) are still there and usable. */
static void test_scan_lists_broken_with_reasons(void **state)
{
    (void)state;
    assert_int_equal(ns_plugin_add_search_dir(getenv("NS_BROKEN_DIR")), NS_OK);
    ns_plugin_info *list;
    size_t n;
    ns_status st = ns_plugin_scan(&list, &n);
    ns_plugin_clear_search_dirs();
    assert_int_equal(st, NS_OK);
    for (size_t i = 0; i < sizeof refused / sizeof *refused; i++) {
        const ns_plugin_info *p = find_file(list, n, refused[i].variant);
        if (!p)
            fail_msg("%s: not listed", refused[i].variant);
        if (p->usable || !strstr(p->detail, refused[i].needle))
            fail_msg("%s: expected unusable with '%s', got usable=%d: %s", refused[i].variant, refused[i].needle,
                     p->usable, p->detail);
        /* listed under what its file name says, so `augment list` finds its own */
        assert_string_equal(p->kind, "backend");
        assert_string_equal(p->name, refused[i].variant);
    }
    const ns_plugin_info *p = find_file(list, n, "text");
    assert_non_null(p);
    assert_false(p->loadable);
    assert_non_null(strstr(p->detail, "cannot load as a shared object"));
    p = find_file(list, n, "wrong_kind");
    assert_non_null(p);
    assert_false(p->usable);
    assert_non_null(strstr(p->detail, "the file name says backend 'wrong_kind' but the descriptor says augment"));
    p = find_file(list, n, "probe_silent"); /* loads, refuses, says nothing */
    assert_non_null(p);
    assert_true(p->loadable);
    assert_false(p->usable);
    assert_string_equal(p->detail, "probe failed: unsupported");
    p = find_file(list, n, "good_minor_older");
    assert_non_null(p);
    assert_true(p->usable);
    assert_string_equal(p->name, "good_minor_older");
    int ref = 0;
    for (size_t i = 0; i < n; i++)
        ref |= strcmp(list[i].name, "ref") == 0 && list[i].usable;
    free(list);
    if (!ref)
        skip(); /* the ref plugin is not built in this tree */
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
        cmocka_unit_test(test_descriptor_fields_refused),
        cmocka_unit_test(test_scan_lists_broken_with_reasons),
        cmocka_unit_test(test_plugin_dir_searched_first),
        cmocka_unit_test(test_bad_names),
        cmocka_unit_test(test_scan_lists_ref),
        cmocka_unit_test(test_auto_backend_opens),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
