#include "util/error.h"

#include <stdarg.h>
#include <stdio.h>
#include <string.h>

static _Thread_local char error_buf[NS_ERROR_MAX];
static int verbosity = 0; /* set once by the CLI before threads start */

static void vset(const char *fmt, va_list ap)
{
    vsnprintf(error_buf, sizeof error_buf, fmt, ap);
    /* One line: a message with a newline would break the CLI's contract. */
    for (char *p = error_buf; *p; p++)
        if (*p == '\n' || *p == '\r')
            *p = ' ';
}

void ns_set_error(const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    vset(fmt, ap);
    va_end(ap);
}

ns_status ns_fail(ns_status st, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    vset(fmt, ap);
    va_end(ap);
    return st;
}

void ns_error_prefix(const char *fmt, ...)
{
    char prefix[NS_ERROR_MAX], old[NS_ERROR_MAX];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(prefix, sizeof prefix, fmt, ap);
    va_end(ap);
    memcpy(old, error_buf, sizeof old);
    snprintf(error_buf, sizeof error_buf, "%s: %s", prefix, old);
}

const char *ns_last_error(void) { return error_buf; }
void ns_clear_error(void) { error_buf[0] = '\0'; }

void ns_set_verbosity(int level) { verbosity = level; }
int ns_verbosity(void) { return verbosity; }

void ns_log(int level, const char *fmt, ...)
{
    if (level > verbosity)
        return;
    va_list ap;
    va_start(ap, fmt);
    fputs(level == 0 ? "noisystudent: warning: " : "noisystudent: ", stderr);
    vfprintf(stderr, fmt, ap);
    fputc('\n', stderr);
    va_end(ap);
}

static void host_log(int level, const char *fmt, ...)
{
    if (level > verbosity)
        return;
    va_list ap;
    va_start(ap, fmt);
    fputs("noisystudent: plugin: ", stderr);
    vfprintf(stderr, fmt, ap);
    fputc('\n', stderr);
    va_end(ap);
}

static const ns_host_api host_api = {
    .struct_size = sizeof(ns_host_api),
    .set_error = ns_set_error,
    .log = host_log,
};

const ns_host_api *ns_host_api_get(void) { return &host_api; }
