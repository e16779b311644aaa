#include "cli_run.h"

#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>

#include <cmocka.h>

#ifndef NS_CLI_PATH
#error "cli_run.c needs NS_CLI_PATH (target_compile_definitions of the test)"
#endif

char ns_cli_out[NS_CLI_TEXT_MAX], ns_cli_err[NS_CLI_TEXT_MAX];
static char out_path[1200], err_path[1200];

void ns_cli_init(const char *dir)
{
    snprintf(out_path, sizeof out_path, "%s/out.txt", dir);
    snprintf(err_path, sizeof err_path, "%s/err.txt", dir);
}

static void slurp(const char *path, char *buf, size_t len)
{
    FILE *f = fopen(path, "rb");
    size_t n = f ? fread(buf, 1, len - 1, f) : 0;
    buf[n] = '\0';
    if (f)
        fclose(f);
}

int ns_cli_run(const char *fmt, ...)
{
    assert_true(out_path[0] != '\0'); /* ns_cli_init first */
    char args[6000], cmd[8192];
    va_list ap;
    va_start(ap, fmt);
    const int n = vsnprintf(args, sizeof args, fmt, ap);
    va_end(ap);
    assert_true(n >= 0 && (size_t)n < sizeof args);
    snprintf(cmd, sizeof cmd, "'%s' %s >'%s' 2>'%s' </dev/null", NS_CLI_PATH, args, out_path, err_path);
    const int rc = system(cmd);
    slurp(out_path, ns_cli_out, sizeof ns_cli_out);
    slurp(err_path, ns_cli_err, sizeof ns_cli_err);
    const int status = WIFEXITED(rc) ? WEXITSTATUS(rc) : -1;
    if (status != 0 && status != 2)
        print_message("exit %d: %s\nstdout: %s\nstderr: %s\n", status, args, ns_cli_out, ns_cli_err);
    return status;
}

void ns_cli_assert_one_line_error(const char *needle)
{
    const size_t len = strlen(ns_cli_err);
    if (!strstr(ns_cli_err, needle) || len == 0 || ns_cli_err[len - 1] != '\n' ||
        memchr(ns_cli_err, '\n', len - 1) || strncmp(ns_cli_err, "noisystudent: ", 14) != 0)
        fail_msg("expected one line 'noisystudent: ...%s...', stderr was:\n%s", needle, ns_cli_err);
}
