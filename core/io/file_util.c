#include "io/file_util.h"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "util/error.h"

ns_status ns_read_file(const char *path, size_t max_bytes, unsigned char **data,
                       size_t *size)
{
    *data = NULL;
    *size = 0;
    int fd = open(path, O_RDONLY | O_CLOEXEC);
    if (fd < 0)
        return ns_fail(errno == ENOENT ? NS_ERR_NOT_FOUND : NS_ERR_IO,
                       "%s: cannot open for reading: %s", path, strerror(errno));
    struct stat sb;
    if (fstat(fd, &sb) != 0) {
        int e = errno;
        close(fd);
        return ns_fail(NS_ERR_IO, "%s: fstat failed: %s", path, strerror(e));
    }
    if (S_ISDIR(sb.st_mode)) {
        close(fd);
        return ns_fail(NS_ERR_IO, "%s: is a directory, expected a regular file", path);
    }
    if (sb.st_size < 0 || (unsigned long long)sb.st_size > max_bytes) {
        close(fd);
        return ns_fail(NS_ERR_FORMAT, "%s: file is %lld bytes, more than the %zu-byte limit",
                       path, (long long)sb.st_size, max_bytes);
    }
    size_t want = (size_t)sb.st_size;
    unsigned char *buf = malloc(want + 1);
    if (!buf) {
        close(fd);
        return ns_fail(NS_ERR_NOMEM, "%s: cannot allocate %zu bytes to read it", path, want + 1);
    }
    size_t got = 0;
    while (got < want) {
        ssize_t r = read(fd, buf + got, want - got);
        if (r < 0 && errno == EINTR)
            continue;
        if (r < 0) {
            int e = errno;
            free(buf);
            close(fd);
            return ns_fail(NS_ERR_IO, "%s: read failed at byte %zu: %s", path, got, strerror(e));
        }
        if (r == 0)
            break; /* file shrank while we read it: return what is there */
        got += (size_t)r;
    }
    close(fd);
    buf[got] = '\0';
    *data = buf;
    *size = got;
    return NS_OK;
}

static ns_status mkdir_one(const char *path)
{
    if (mkdir(path, 0777) == 0)
        return NS_OK;
    int e = errno;
    struct stat sb;
    if (e == EEXIST && stat(path, &sb) == 0) {
        if (S_ISDIR(sb.st_mode))
            return NS_OK;
        return ns_fail(NS_ERR_IO, "%s: exists and is not a directory", path);
    }
    return ns_fail(NS_ERR_IO, "%s: mkdir failed: %s", path, strerror(e));
}

ns_status ns_mkdir_p(const char *path)
{
    size_t n = strlen(path);
    if (n == 0)
        return ns_fail(NS_ERR_INVALID_ARG, "mkdir -p: empty path");
    char *tmp = malloc(n + 1);
    if (!tmp)
        return ns_fail(NS_ERR_NOMEM, "%s: out of memory in mkdir -p", path);
    memcpy(tmp, path, n + 1);
    ns_status st = NS_OK;
    /* Create each prefix ending before a '/', skipping the root and runs of '/'. */
    for (size_t i = 1; i < n && st == NS_OK; i++) {
        if (tmp[i] != '/' || tmp[i - 1] == '/')
            continue;
        tmp[i] = '\0';
        st = mkdir_one(tmp);
        tmp[i] = '/';
    }
    if (st == NS_OK)
        st = mkdir_one(tmp);
    free(tmp);
    return st;
}

bool ns_path_exists(const char *path)
{
    struct stat sb;
    return stat(path, &sb) == 0;
}

bool ns_path_is_dir(const char *path)
{
    struct stat sb;
    return stat(path, &sb) == 0 && S_ISDIR(sb.st_mode);
}

bool ns_path_is_file(const char *path)
{
    struct stat sb;
    return stat(path, &sb) == 0 && S_ISREG(sb.st_mode);
}

ns_status ns_fsync_dir(const char *dir)
{
    int fd = open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
    if (fd < 0)
        return ns_fail(NS_ERR_IO, "%s: cannot open directory to fsync it: %s", dir,
                       strerror(errno));
    if (fsync(fd) != 0) {
        int e = errno;
        close(fd);
        /* Some filesystems cannot fsync a directory; that is not a lost write. */
        if (e == EINVAL || e == ENOTSUP)
            return NS_OK;
        return ns_fail(NS_ERR_IO, "%s: fsync of directory failed: %s", dir, strerror(e));
    }
    close(fd);
    return NS_OK;
}

ns_status ns_path_dirname(const char *path, char *buf, size_t len)
{
    const char *slash = strrchr(path, '/');
    const char *dir = ".";
    size_t n = 1;
    if (slash) {
        dir = path;
        n = (size_t)(slash - path);
        while (n > 0 && path[n - 1] == '/')
            n--;
        if (n == 0) {
            dir = "/";
            n = 1;
        }
    }
    if (n + 1 > len)
        return ns_fail(NS_ERR_INVALID_ARG, "%s: directory part is longer than %zu bytes", path,
                       len ? len - 1 : 0);
    memcpy(buf, dir, n);
    buf[n] = '\0';
    return NS_OK;
}
