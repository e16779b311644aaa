/* Per-op profile of a backend: how many times each op of the table ran and
 * how long it took, for "where does the time of a step go" (bench --profile).
 *
 * How: ns_backend_profile_start() replaces every non-NULL op slot of the
 * backend's own copy of the op table (be->table) with a timing shim that calls
 * the plugin's function; stop() puts the plugin's pointers back. Nothing else
 * in the core changes, and every backend is profiled the same way. The
 * lifecycle slots (create, destroy, describe) are not timed.
 *
 * Timing is CLOCK_MONOTONIC around each call. When the backend is
 * asynchronous (its synchronize slot is non-NULL: cuda, opencl) each shim
 * also calls synchronize after the op, so an op's time is its own and not
 * that of the queue before it. That serialises the device queue: a profiled
 * run is slower than an unprofiled one, and the op shares are what to read,
 * not the total.
 *
 * One profiled backend per process: a shim receives only the plugin's context,
 * so it finds its statistics through a global. start() on a second backend
 * (or the same one twice) while one is profiled fails with NS_ERR_INVALID_ARG.
 * The profiled backend must be driven by one thread at a time, as every
 * backend context must anyway. ns_backend_close() stops and forgets a
 * profiled backend itself (ns_backend_profile_release), so closing one
 * never leaves the global pointing at freed memory.
 */
#ifndef NS_PLUGIN_BACKEND_PROFILE_H
#define NS_PLUGIN_BACKEND_PROFILE_H

#include <stdint.h>
#include <stdio.h>

#include <noisystudent/status.h>

#include "plugin/backend_loader.h"

/* Statistics of one op slot since the last start() or reset(). */
typedef struct ns_profile_op {
    const char *name; /* the slot's name in ns_backend_api, e.g. "conv2d_forward"; static */
    uint64_t calls;   /* calls, failed ones included */
    double seconds;   /* wall time of all calls (plus the synchronize after each, see above) */
    double flops;     /* conv and dense ops: 2*MACs of all calls; 0 for the others */
} ns_profile_op;

/* Installs the timing shims in be->table and zeroes the statistics. Fails with
 * NS_ERR_INVALID_ARG (message names both backends) when a backend is already
 * being profiled in this process; be is then unchanged. */
ns_status ns_backend_profile_start(ns_backend *be);

/* Zeroes the statistics; the shims stay. No-op when be is not the profiled backend. */
void ns_backend_profile_reset(ns_backend *be);

/* Restores the plugin's op pointers in be->table. The statistics stay readable
 * (get/ops/print with the same be) until the next start(). No-op when be is
 * not the profiled backend. */
void ns_backend_profile_stop(ns_backend *be);
/* Stops profiling be if it is profiled and drops its statistics (the global no
 * longer refers to it). Called by ns_backend_close; a no-op for another backend. */
void ns_backend_profile_release(ns_backend *be);

/* Copies the statistics of every timed slot (the non-NULL ones, in table
 * order, including slots with 0 calls) into out[0 .. min(cap, count)) and
 * returns count. Returns 0 when be was not the last backend started. */
size_t ns_backend_profile_ops(const ns_backend *be, ns_profile_op *out, size_t cap);

/* Statistics of the slot called `name`. NS_ERR_NOT_FOUND when be was not the
 * last backend started or no timed slot has that name. */
ns_status ns_backend_profile_get(const ns_backend *be, const char *name, ns_profile_op *out);

/* Writes a table of the ops that were called, slowest first: op, calls, ms in
 * total, ms per step (total / steps), share of the summed op time and, for conv
 * and dense ops, the achieved GFLOP/s; then a line with the sum. `title` heads
 * the table. steps < 1 counts as 1. NS_ERR_NOT_FOUND when be was not the last
 * backend started; NS_ERR_IO when writing to f fails. */
ns_status ns_backend_profile_print(const ns_backend *be, FILE *f, const char *title, int steps);

#endif
