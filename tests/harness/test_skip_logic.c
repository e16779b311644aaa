/* The suite-level skip and the ref requirement (tests/common):
 *  - a suite whose every test skipped exits 77 (ctest: Skipped), one with a
 *    test that ran to its end exits 0, any failure (a test's or the group
 *    setup's) exits non-zero and not 77;
 *  - the suites that use ref fail, not skip, when ref cannot be opened. The
 *    loader always searches the build's own plugin directory too, so an empty
 *    NS_PLUGIN_PATH still finds ref here; a directory first in the path whose
 *    ns_backend_ref.so is not a shared object is what makes ref unopenable;
 *  - the parity suite of a backend whose plugin is absent exits 77. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>

#include <cmocka.h>

#include "ns_test_skip.h"
#include "synthetic_data.h"

static char empty_dir[1024], broken_ref_dir[1024];

/* Exit status of `env NS_PLUGIN_PATH=<plugins> <cmd>`, output discarded. */
static int run_status(const char *plugins, const char *cmd)
{
    char line[4096];
    snprintf(line, sizeof line, "NS_PLUGIN_PATH='%s' %s >/dev/null 2>&1", plugins, cmd);
    int st = system(line);
    if (st == -1 || !WIFEXITED(st))
        fail_msg("'%s' did not exit normally (status %d)", line, st);
    return WEXITSTATUS(st);
}

static int setup(void **state)
{
    (void)state;
    ns_test_fresh_dir("skip_logic_empty", empty_dir, sizeof empty_dir);
    ns_test_fresh_dir("skip_logic_broken_ref", broken_ref_dir, sizeof broken_ref_dir);
    char path[1200];
    snprintf(path, sizeof path, "%s/ns_backend_ref.so", broken_ref_dir);
    FILE *f = fopen(path, "w");
    if (!f)
        return -1;
    fputs("not a shared object\n", f);
    return fclose(f) == 0 ? 0 : -1;
}

static void test_verdict(void **state)
{
    (void)state;
    assert_int_equal(ns_test_skip_verdict(0, 3, 0), NS_TEST_SKIP_CODE);
    assert_int_equal(ns_test_skip_verdict(0, 3, 1), 0);
    assert_int_equal(ns_test_skip_verdict(2, 3, 0), 2);
    assert_int_equal(ns_test_skip_verdict(0, 0, 0), 0);
}

static void test_probe_exit_codes(void **state)
{
    (void)state;
    assert_int_equal(run_status(empty_dir, SKIP_PROBE " all-skip"), NS_TEST_SKIP_CODE);
    assert_int_equal(run_status(empty_dir, SKIP_PROBE " mixed"), 0);
    assert_int_equal(run_status(empty_dir, SKIP_PROBE " fail"), 1);
    assert_int_equal(run_status(empty_dir, SKIP_PROBE " setup-fail"), 1);
    assert_int_equal(run_status(empty_dir, SKIP_PROBE " empty"), 0);
}

static void test_ref_suites_fail_without_ref(void **state)
{
    (void)state;
    const char *suites[] = {TRAIN_CHECKPOINT, TRAIN_LOOP, SELFTRAIN_LOOP};
    for (size_t i = 0; i < sizeof suites / sizeof *suites; i++) {
        int rc = run_status(broken_ref_dir, suites[i]);
        if (rc == 0 || rc == NS_TEST_SKIP_CODE)
            fail_msg("%s without a ref plugin exited %d; it must fail", suites[i], rc);
    }
    /* the parity suite needs ref as its oracle: no ref, no verdict */
    int rc = run_status(broken_ref_dir, BACKEND_PARITY " cpu fp32");
    if (rc == 0 || rc == NS_TEST_SKIP_CODE)
        fail_msg("parity without a ref plugin exited %d; it must fail", rc);
}

static void test_absent_backend_skips(void **state)
{
    (void)state;
    /* no such plugin anywhere: the parity suite says why and exits 77 */
    assert_int_equal(run_status(empty_dir, BACKEND_PARITY " nosuch fp32"), NS_TEST_SKIP_CODE);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_verdict),
        cmocka_unit_test(test_probe_exit_codes),
        cmocka_unit_test(test_ref_suites_fail_without_ref),
        cmocka_unit_test(test_absent_backend_skips),
    };
    return cmocka_run_group_tests_name("skip_logic", tests, setup, NULL);
}
