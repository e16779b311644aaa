/* Every suite's cmocka group runs through here (ns_add_test links this file
 * and wraps cmocka's runner with -Wl,--wrap=_cmocka_run_group_tests), so a
 * suite whose every test skipped exits with NS_TEST_SKIP_CODE and ctest shows
 * it as Skipped instead of Passed. cmocka 1.1 returns only the failure count
 * and keeps a test's skipped status to itself; so each test runs through a
 * trampoline that records whether the test body returned. A test that neither
 * returned nor failed was skipped. Failures (a test's, or the group setup's or
 * teardown's) keep cmocka's non-zero count: a failing suite never reads as
 * skipped. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "ns_test_skip.h"

int __real__cmocka_run_group_tests(const char *group_name, const struct CMUnitTest *const tests,
                                   const size_t num_tests, CMFixtureFunction group_setup,
                                   CMFixtureFunction group_teardown);
int __wrap__cmocka_run_group_tests(const char *group_name, const struct CMUnitTest *const tests,
                                   const size_t num_tests, CMFixtureFunction group_setup,
                                   CMFixtureFunction group_teardown);

#define NS_TRAMPOLINES 64

static CMUnitTestFunction real_tests[NS_TRAMPOLINES];
static unsigned char returned[NS_TRAMPOLINES];

/* One trampoline per index: cmocka passes a test nothing but its state, so
 * the index that names the real test has to be in the function itself. */
#define NS_TRAMPOLINE(b, d)                                                   \
    static void trampoline_##b##_##d(void **state)                            \
    {                                                                         \
        real_tests[(b) * 8 + (d)](state);                                     \
        returned[(b) * 8 + (d)] = 1; /* not reached after skip() or a failure */ \
    }
#define NS_T8(b)                                                              \
    NS_TRAMPOLINE(b, 0) NS_TRAMPOLINE(b, 1) NS_TRAMPOLINE(b, 2) NS_TRAMPOLINE(b, 3) \
    NS_TRAMPOLINE(b, 4) NS_TRAMPOLINE(b, 5) NS_TRAMPOLINE(b, 6) NS_TRAMPOLINE(b, 7)
NS_T8(0) NS_T8(1) NS_T8(2) NS_T8(3) NS_T8(4) NS_T8(5) NS_T8(6) NS_T8(7)
#define NS_R8(b)                                                              \
    trampoline_##b##_0, trampoline_##b##_1, trampoline_##b##_2, trampoline_##b##_3, \
    trampoline_##b##_4, trampoline_##b##_5, trampoline_##b##_6, trampoline_##b##_7
static const CMUnitTestFunction trampolines[NS_TRAMPOLINES] = {
    NS_R8(0), NS_R8(1), NS_R8(2), NS_R8(3), NS_R8(4), NS_R8(5), NS_R8(6), NS_R8(7)};

int ns_test_skip_verdict(int failed, size_t num_tests, size_t returned_count)
{
    if (failed != 0 || num_tests == 0 || returned_count > 0)
        return failed;
    return NS_TEST_SKIP_CODE;
}

int __wrap__cmocka_run_group_tests(const char *group_name, const struct CMUnitTest *const tests,
                                   const size_t num_tests, CMFixtureFunction group_setup,
                                   CMFixtureFunction group_teardown)
{
    if (num_tests > NS_TRAMPOLINES) {
        /* more tests than trampolines: run them, but refuse to pass quietly */
        fprintf(stderr, "ns_test_skip: %zu tests in group '%s', at most %d supported; "
                        "raise NS_TRAMPOLINES in tests/common/ns_test_skip.c\n",
                num_tests, group_name, NS_TRAMPOLINES);
        int failed = __real__cmocka_run_group_tests(group_name, tests, num_tests, group_setup,
                                                    group_teardown);
        return failed ? failed : 1;
    }
    struct CMUnitTest wrapped[NS_TRAMPOLINES];
    memset(wrapped, 0, sizeof wrapped);
    for (size_t i = 0; i < num_tests; i++) {
        wrapped[i] = tests[i];
        real_tests[i] = tests[i].test_func;
        returned[i] = 0;
        wrapped[i].test_func = trampolines[i];
    }
    int failed = __real__cmocka_run_group_tests(group_name, wrapped, num_tests, group_setup,
                                                group_teardown);
    size_t count = 0;
    for (size_t i = 0; i < num_tests; i++)
        count += returned[i];
    int verdict = ns_test_skip_verdict(failed, num_tests, count);
    if (verdict == NS_TEST_SKIP_CODE)
        printf("[  SKIPPED ] every test of '%s' skipped: exit %d, which ctest shows as Skipped\n",
               group_name, NS_TEST_SKIP_CODE);
    fflush(stdout);
    return verdict;
}
