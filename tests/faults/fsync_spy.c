/* LD_PRELOAD spy for the durability-order test: logs every fsync/fdatasync
 * (with the path of the descriptor) and every rename to $NS_SPY_LOG, then
 * calls the real function. Test code only; never installed. */
#include <dlfcn.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

static void note(const char *what, const char *a, const char *b)
{
    const char *log = getenv("NS_SPY_LOG");
    if (!log)
        return;
    char line[5000];
    int n = snprintf(line, sizeof line, "%s %s%s%s\n", what, a, b ? " " : "", b ? b : "");
    if (n <= 0 || (size_t)n >= sizeof line)
        return;
    int fd = open(log, O_WRONLY | O_APPEND | O_CREAT | O_CLOEXEC, 0644);
    if (fd < 0)
        return;
    if (write(fd, line, (size_t)n) < 0) {
        /* the test sees the gap */
    }
    close(fd);
}

static void note_fd(const char *what, int fd)
{
    char link[64], path[4096];
    snprintf(link, sizeof link, "/proc/self/fd/%d", fd);
    ssize_t r = readlink(link, path, sizeof path - 1);
    path[r > 0 ? r : 0] = '\0';
    note(what, r > 0 ? path : "?", NULL);
}

static char *abs_path(const char *p, char *buf, size_t len)
{
    if (p[0] == '/')
        snprintf(buf, len, "%s", p);
    else {
        char cwd[4096];
        snprintf(buf, len, "%s/%s", getcwd(cwd, sizeof cwd) ? cwd : ".", p);
    }
    return buf;
}

int fsync(int fd)
{
    int (*real)(int) = (int (*)(int))dlsym(RTLD_NEXT, "fsync");
    note_fd("fsync", fd);
    return real(fd);
}

int fdatasync(int fd)
{
    int (*real)(int) = (int (*)(int))dlsym(RTLD_NEXT, "fdatasync");
    note_fd("fsync", fd);
    return real(fd);
}

int rename(const char *from, const char *to)
{
    int (*real)(const char *, const char *) = (int (*)(const char *, const char *))dlsym(RTLD_NEXT, "rename");
    int r = real(from, to);
    if (r == 0) {
        char a[4096], b[4096];
        note("rename", abs_path(from, a, sizeof a), abs_path(to, b, sizeof b));
    }
    return r;
}
