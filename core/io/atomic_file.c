#include "io/atomic_file.h"

#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "io/file_util.h"
#include "util/error.h"
#include "util/fault_point.h"

/* A fault point of this write ("atomic:<file name>:<step>"), for the kill tests. */
static void fault_at(const char *path, const char *step)
{
    const char *base = strrchr(path, '/');
    char name[128];
    snprintf(name, sizeof name, "atomic:%s:%s", base ? base + 1 : path, step);
    ns_fault_point(name);
}

/* Closes f (if open) and removes the temp file; returns st for tail calls. */
static ns_status abandon(FILE *f, const char *tmp, ns_status st)
{
    if (f)
        fclose(f);
    unlink(tmp);
    return st;
}

ns_status ns_atomic_write(const char *path, ns_atomic_write_fn write_fn, void *user)
{
    if (!path || !*path || !write_fn)
        return ns_fail(NS_ERR_INVALID_ARG, "atomic write: NULL or empty path or writer");
    char dir[PATH_MAX];
    NS_TRY(ns_path_dirname(path, dir, sizeof dir));
    char tmp[PATH_MAX];
    int n = snprintf(tmp, sizeof tmp, "%s.tmp.%ld", path, (long)getpid());
    if (n < 0 || (size_t)n >= sizeof tmp)
        return ns_fail(NS_ERR_INVALID_ARG, "atomic write of '%s': path too long", path);

    /* O_TRUNC, not O_EXCL: a leftover temp with our pid can only come from a
     * dead process that had the same pid, and it is garbage. */
    int fd = open(tmp, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC | O_NOFOLLOW, 0666);
    if (fd < 0)
        return ns_fail(NS_ERR_IO, "atomic write of '%s': cannot create temp file '%s': %s",
                       path, tmp, strerror(errno));
    FILE *f = fdopen(fd, "wb");
    if (!f) {
        int e = errno;
        close(fd);
        return abandon(NULL, tmp, ns_fail(NS_ERR_IO, "atomic write of '%s': fdopen failed: %s",
                                          path, strerror(e)));
    }

    fault_at(path, "opened"); /* a kill here leaves an empty temp: the old file must stay */
    ns_status st = write_fn(f, user);
    if (st != NS_OK) {
        ns_error_prefix("atomic write of '%s'", path);
        return abandon(f, tmp, st);
    }
    errno = 0;
    if (ferror(f) || fflush(f) != 0) {
        int e = errno ? errno : EIO;
        return abandon(f, tmp, ns_fail(NS_ERR_IO, "atomic write of '%s': write to '%s' failed: %s",
                                       path, tmp, strerror(e)));
    }
    fault_at(path, "tmp-written");
    if (fsync(fileno(f)) != 0) {
        int e = errno;
        return abandon(f, tmp, ns_fail(NS_ERR_IO, "atomic write of '%s': fsync of '%s' failed: %s",
                                       path, tmp, strerror(e)));
    }
    if (fclose(f) != 0) {
        int e = errno;
        return abandon(NULL, tmp, ns_fail(NS_ERR_IO, "atomic write of '%s': close of '%s' failed: %s",
                                          path, tmp, strerror(e)));
    }
    fault_at(path, "tmp-synced");
    if (rename(tmp, path) != 0) {
        int e = errno;
        return abandon(NULL, tmp, ns_fail(NS_ERR_IO, "atomic write of '%s': rename from '%s' failed: %s",
                                          path, tmp, strerror(e)));
    }
    fault_at(path, "renamed");
    st = ns_fsync_dir(dir);
    if (st != NS_OK)
        ns_error_prefix("atomic write of '%s' (file replaced, durability not confirmed)", path);
    return st;
}

typedef struct buffer_job {
    const void *data;
    size_t n;
} buffer_job;

static ns_status write_buffer(FILE *f, void *user)
{
    const buffer_job *job = user;
    if (job->n && fwrite(job->data, 1, job->n, f) != job->n)
        return ns_fail(NS_ERR_IO, "fwrite of %zu bytes failed: %s", job->n, strerror(errno));
    return NS_OK;
}

ns_status ns_atomic_write_buffer(const char *path, const void *data, size_t n)
{
    if (n && !data)
        return ns_fail(NS_ERR_INVALID_ARG, "atomic write of '%s': NULL data for %zu bytes",
                       path ? path : "(null)", n);
    buffer_job job = {data, n};
    return ns_atomic_write(path, write_buffer, &job);
}
