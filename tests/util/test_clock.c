/* ns_now (util/clock.h), the clock behind epoch times, loader waits, the
 * profiler and bench: seconds, monotonic, advancing with real time. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <time.h>

#include <cmocka.h>

#include "util/clock.h"

static void test_seconds_and_monotonic(void **state)
{
    (void)state;
    double prev = ns_now();
    for (int i = 0; i < 100000; i++) {
        double t = ns_now();
        assert_true(t >= prev);
        prev = t;
    }
    /* a 50 ms sleep reads as 50 ms (seconds, not ms or ns), give or take a busy machine */
    double t0 = ns_now();
    struct timespec nap = {0, 50 * 1000 * 1000};
    nanosleep(&nap, NULL);
    double dt = ns_now() - t0;
    printf("50 ms sleep measured %.4f s\n", dt);
    assert_true(dt >= 0.049 && dt < 5.0);
    /* the same clock as CLOCK_MONOTONIC (not the wall clock, which can be set back) */
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    double mono = (double)ts.tv_sec + 1e-9 * (double)ts.tv_nsec, now = ns_now();
    assert_true(now >= mono && now - mono < 1.0);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_seconds_and_monotonic),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
