/* Broken augment plugins: each is refused at open, or its failing op stops
 * apply, with one clear line naming the file or the op; never a crash. */
#include "augment_test_util.h"

#include <stdio.h>
#include <string.h>

#include "augment/policy.h"

static const char *path_of(const char *variant, const char *options)
{
    static char path[2048];
    const char *dir = getenv("NS_BROKEN_DIR");
    assert_non_null(dir);
    snprintf(path, sizeof path, "%s/broken_%s.so%s%s", dir, variant, options ? ":" : "", options ? options : "");
    return path;
}

static void expect_open_error(const char *variant, const char *options, ns_status want, const char *needle)
{
    ns_augment_policy *p = NULL;
    ns_status st = ns_augment_policy_open(path_of(variant, options), &p);
    assert_null(p);
    if (st != want || !strstr(ns_last_error(), needle))
        fail_msg("broken_%s: expected %s with '%s', got %s: %s", variant, ns_status_name(want), needle,
                 ns_status_name(st), ns_last_error());
}

static void test_refused_at_open(void **state)
{
    (void)state;
    expect_open_error("abi_major", NULL, NS_ERR_ABI, "broken_abi_major.so");
    expect_open_error("abi_minor", NULL, NS_ERR_ABI, "broken_abi_minor.so");
    expect_open_error("wrong_kind", NULL, NS_ERR_ABI, "broken_wrong_kind.so");
    expect_open_error("small_struct", NULL, NS_ERR_ABI, "struct_size is 4");
    expect_open_error("empty_table", NULL, NS_ERR_ABI, "op table is empty");
    expect_open_error("dup_names", NULL, NS_ERR_ABI, "'fine' appears twice");
    expect_open_error("create_rejects", "n=1,blur=3", NS_ERR_USAGE, "augment broken: create: unknown option in 'blur=3'");
}

/* The op table's every field the host reads; names in the documented charset
 * only (the old host loaded 'Flip', 'a+b', 'c,d', and 'a+b' could then never be
 * selected with ops=; it read n_ops entries whatever n_ops said). */
static void test_bad_op_tables_refused(void **state)
{
    (void)state;
    const char *charset = "expected 1 to 32 of a-z, 0-9, '_', '-'";
    expect_open_error("op_upper", NULL, NS_ERR_ABI, "broken_op_upper.so: op 1 is named 'Flip'");
    expect_open_error("op_upper", NULL, NS_ERR_ABI, charset);
    expect_open_error("op_plus", NULL, NS_ERR_ABI, "broken_op_plus.so: op 1 is named 'a+b'");
    expect_open_error("op_comma", NULL, NS_ERR_ABI, "broken_op_comma.so: op 1 is named 'c,d'");
    expect_open_error("op_long", NULL, NS_ERR_ABI, "op 1 is named 'a_name_of_thirty_three_characters'");
    expect_open_error("op_null_name", NULL, NS_ERR_ABI, "broken_op_null_name.so: op 1 has no name");
    expect_open_error("op_null_apply", NULL, NS_ERR_ABI, "broken_op_null_apply.so: op 'bad' has no apply function");
    expect_open_error("many_ops", NULL, NS_ERR_ABI, "n_ops is 1099511627776, expected at most 256");
    expect_open_error("null_vtable", NULL, NS_ERR_ABI, "broken_null_vtable.so: descriptor's vtable is NULL");
}

/* Opens variant with ops=bad, applies it, and checks the status and message. */
static void expect_apply_error(const char *variant, ns_status want, const char *needle)
{
    ns_augment_policy *p = NULL;
    if (ns_augment_policy_open(path_of(variant, "n=1,ops=bad,m=7"), &p) != NS_OK)
        fail_msg("broken_%s: %s", variant, ns_last_error());
    uint8_t buf[5 * 4 * 3], scratch[5 * 4 * 3];
    ns_image img = {buf, 5, 4, 3};
    memset(buf, 1, sizeof buf);
    ns_rng rng = ns_rng_make(1, 1);
    ns_status st = ns_augment_policy_apply(p, &img, scratch, &rng);
    if (st != want || !strstr(ns_last_error(), needle))
        fail_msg("broken_%s: expected %s with '%s', got %s: %s", variant, ns_status_name(want), needle,
                 ns_status_name(st), ns_last_error());
    /* the image handed back is still the caller's, at its shape */
    assert_ptr_equal(img.data, buf);
    assert_int_equal(img.width, 5);
    ns_augment_policy_close(p);
}

static void test_failing_ops(void **state)
{
    (void)state;
    expect_apply_error("op_error", NS_ERR_INVALID_ARG, "augment broken op 'bad': cannot blur a 5x4 image at magnitude 7");
    expect_apply_error("op_silent", NS_ERR_INTERNAL, "augment broken op 'bad': failed with 'internal error' and no message");
    expect_apply_error("shape_change", NS_ERR_ABI, "augment broken op 'bad' changed the image");
}

static void test_options_reach_create(void **state)
{
    (void)state;
    /* the same set with no unknown keys opens, and its good op runs */
    ns_augment_policy *p = NULL;
    assert_int_equal(ns_augment_policy_open(path_of("create_rejects", "n=1,ops=fine"), &p), NS_OK);
    uint8_t buf[3] = {1, 2, 3}, scratch[3];
    ns_image img = {buf, 1, 1, 3};
    ns_rng rng = ns_rng_make(1, 1);
    assert_int_equal(ns_augment_policy_apply(p, &img, scratch, &rng), NS_OK);
    assert_int_equal(buf[0], 0xFE);
    ns_augment_policy_close(p);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_refused_at_open),
        cmocka_unit_test(test_bad_op_tables_refused),
        cmocka_unit_test(test_failing_ops),
        cmocka_unit_test(test_options_reach_create),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
