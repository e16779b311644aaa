#include "util/fault_point.h"

#include <fcntl.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

/* -1: not read yet; 0: off. Test-only state (see the header). */
static long kill_at = -1;
static long reached, matched;
static const char *trace_path, *match;
static int action = SIGKILL;

static void read_env(void)
{
    const char *k = getenv("NS_FAULT_KILL_AT");
    kill_at = k && *k ? strtol(k, NULL, 10) : 0;
    if (kill_at < 0)
        kill_at = 0;
    const char *m = getenv("NS_FAULT_KILL_MATCH");
    match = m && *m ? m : NULL;
    const char *a = getenv("NS_FAULT_ACTION");
    action = a && strcmp(a, "stop") == 0 ? SIGSTOP : SIGKILL;
    const char *t = getenv("NS_FAULT_TRACE");
    trace_path = t && *t ? t : NULL;
}

void ns_fault_point(const char *name)
{
    if (kill_at < 0)
        read_env();
    if (!kill_at && !trace_path)
        return;
    reached++;
    if (trace_path) {
        /* O_APPEND + one write: the line is whole even if we die right after. */
        int fd = open(trace_path, O_WRONLY | O_APPEND | O_CREAT | O_CLOEXEC, 0666);
        if (fd >= 0) {
            char line[160];
            int n = snprintf(line, sizeof line, "%ld %s\n", reached, name ? name : "?");
            if (n > 0 && write(fd, line, (size_t)n < sizeof line ? (size_t)n : sizeof line - 1) < 0) {
                /* tracing is best effort: a test that needs it sees the gap */
            }
            close(fd);
        }
    }
    if (kill_at && (!match || (name && strstr(name, match))) && ++matched == kill_at)
        raise(action); /* SIGSTOP: the test acts (fills the disk), then SIGCONT */
}
