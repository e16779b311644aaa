/* Suite-level skip and the reference backend requirement for the cmocka
 * suites (see ns_test_skip.c and tests/CMakeLists.txt's ns_add_test). */
#ifndef NS_TEST_SKIP_H
#define NS_TEST_SKIP_H

#include <stddef.h>

/* Exit status of a suite whose every test skipped (automake's convention);
 * ns_add_test registers it as the suite's SKIP_RETURN_CODE. */
#define NS_TEST_SKIP_CODE 77

/* What a suite returns: `failed` (cmocka's count) when anything failed or
 * when at least one test ran to its end; NS_TEST_SKIP_CODE when none of the
 * num_tests (> 0) did, i.e. every one skipped. */
int ns_test_skip_verdict(int failed, size_t num_tests, size_t returned_count);

#endif
