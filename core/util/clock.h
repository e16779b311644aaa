/* The one monotonic clock the host times things with (epochs, loader waits,
 * the backend profiler, bench): seconds from an arbitrary start, never going
 * back when the wall clock is set. */
#ifndef NS_UTIL_CLOCK_H
#define NS_UTIL_CLOCK_H

/* Monotonic seconds (CLOCK_MONOTONIC), nanosecond resolution. */
double ns_now(void);

#endif
