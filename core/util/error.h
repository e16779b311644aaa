/* The host's error buffer and logging.
 *
 * One buffer per thread (like errno): a failing function writes a one-line
 * message naming the file/flag/offset and what was expected, and returns a
 * non-OK ns_status; the caller either adds context with ns_error_prefix() or
 * passes the status up. The CLI prints ns_last_error() and exits. This
 * thread-local buffer and the plugin registry are the core's only mutable
 * globals. Plugins reach the same buffer through ns_host_api.set_error.
 */
#ifndef NS_UTIL_ERROR_H
#define NS_UTIL_ERROR_H

#include <noisystudent/plugin.h>
#include <noisystudent/status.h>

#define NS_ERROR_MAX 1024

/* Replaces the calling thread's message. Returns nothing; pair with a status. */
void ns_set_error(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
/* Sets the message and returns `st`: `return ns_fail(NS_ERR_IO, "%s: ...", path);` */
ns_status ns_fail(ns_status st, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
/* Prepends "<prefix>: " to the current message (adds context while unwinding). */
void ns_error_prefix(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
/* The calling thread's last message ("" if none). Valid until the next set. */
const char *ns_last_error(void);
void ns_clear_error(void);

/* Diagnostics to stderr when level <= verbosity (0 warn, 1 info, 2 debug). */
void ns_log(int level, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
void ns_set_verbosity(int level);
int ns_verbosity(void);

/* The table handed to every plugin. Static, never NULL. */
const ns_host_api *ns_host_api_get(void);

/* Propagate a failure: NS_TRY(call) returns the status if not NS_OK. */
#define NS_TRY(expr)                      \
    do {                                  \
        ns_status ns_try_st_ = (expr);    \
        if (ns_try_st_ != NS_OK)          \
            return ns_try_st_;            \
    } while (0)

#endif
