#include "io/run_dir.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "io/atomic_file.h"
#include "io/file_util.h"
#include "util/error.h"

/* A metrics log larger than this is not one we wrote (a record per epoch). */
#define METRICS_MAX_BYTES ((size_t)1 << 30)

ns_status ns_run_dir_create(const char *path)
{
    if (!path || !*path)
        return ns_fail(NS_ERR_INVALID_ARG, "run directory: empty path");
    ns_status st = ns_mkdir_p(path);
    if (st != NS_OK)
        ns_error_prefix("run directory '%s'", path);
    return st;
}

/* The pid of an atomic write's temp name "<name>.tmp.<digits>", or 0. */
static long temp_pid(const char *name)
{
    const char *t = strstr(name, ".tmp.");
    if (!t || t == name)
        return 0;
    for (const char *next; (next = strstr(t + 1, ".tmp.")) != NULL;)
        t = next; /* the last ".tmp." is the suffix */
    const char *digits = t + 5;
    if (!*digits || strspn(digits, "0123456789") != strlen(digits) || strlen(digits) > 9)
        return 0;
    return strtol(digits, NULL, 10);
}

ns_status ns_run_dir_remove_stale_temps(const char *dir, FILE *report)
{
    size_t removed = 0;
    DIR *d = opendir(dir);
    if (!d)
        return errno == ENOENT ? NS_OK
                               : ns_fail(NS_ERR_IO, "run directory '%s': cannot list it: %s", dir, strerror(errno));
    ns_status st = NS_OK;
    struct dirent *e;
    while (st == NS_OK && (e = readdir(d)) != NULL) {
        long pid = temp_pid(e->d_name);
        /* kill(pid, 0) fails with ESRCH only when no such process exists */
        if (pid <= 0 || pid == (long)getpid() || kill((pid_t)pid, 0) == 0 || errno != ESRCH)
            continue;
        char path[PATH_MAX];
        st = ns_run_dir_path(dir, e->d_name, path, sizeof path);
        if (st != NS_OK)
            break;
        if (unlink(path) != 0)
            st = ns_fail(NS_ERR_IO, "cannot remove stale temp file '%s': %s", path, strerror(errno));
        else
            removed++;
    }
    closedir(d);
    if (removed && report)
        fprintf(report, "%s: removed %zu temp file%s left by an interrupted write\n", dir, removed,
                removed == 1 ? "" : "s");
    return st;
}

ns_status ns_run_dir_path(const char *dir, const char *name, char *buf, size_t len)
{
    if (!dir || !*dir || !name || !*name || name[0] == '/')
        return ns_fail(NS_ERR_INVALID_ARG,
                       "run directory path: expected a directory and a relative file name, got "
                       "'%s' and '%s'", dir ? dir : "(null)", name ? name : "(null)");
    int n = snprintf(buf, len, "%s/%s", dir, name);
    if (n < 0 || (size_t)n >= len)
        return ns_fail(NS_ERR_INVALID_ARG, "run directory path '%s/%s' is longer than %zu bytes",
                       dir, name, len ? len - 1 : 0);
    return NS_OK;
}

static ns_status dump_json(FILE *f, void *user)
{
    if (json_dumpf((const json_t *)user, f, JSON_INDENT(2) | JSON_SORT_KEYS) != 0 ||
        fputc('\n', f) == EOF)
        return ns_fail(NS_ERR_IO, "writing JSON failed: %s", strerror(errno));
    return NS_OK;
}

ns_status ns_run_dir_write_json(const char *dir, const char *name, const json_t *value)
{
    char path[PATH_MAX];
    NS_TRY(ns_run_dir_path(dir, name, path, sizeof path));
    if (!value)
        return ns_fail(NS_ERR_INVALID_ARG, "%s: NULL JSON value to write", path);
    return ns_atomic_write(path, dump_json, (void *)value);
}

/* Cuts a last line that has no newline (a record torn by a crash), so that
 * the next record starts on a line of its own. */
static ns_status cut_torn_tail(int fd, const char *path)
{
    struct stat sb;
    if (fstat(fd, &sb) != 0)
        return ns_fail(NS_ERR_IO, "%s: fstat failed: %s", path, strerror(errno));
    off_t end = sb.st_size;
    char chunk[4096];
    off_t keep = 0; /* bytes up to and including the last '\n' */
    for (off_t pos = end; pos > 0 && keep == 0;) {
        size_t want = pos < (off_t)sizeof chunk ? (size_t)pos : sizeof chunk;
        pos -= (off_t)want;
        ssize_t r = pread(fd, chunk, want, pos);
        if (r != (ssize_t)want)
            return ns_fail(NS_ERR_IO, "%s: read at byte %lld failed: %s", path, (long long)pos,
                           r < 0 ? strerror(errno) : "short read");
        if (pos + (off_t)want == end && chunk[want - 1] == '\n')
            return NS_OK; /* the common case: the file ends with a full line */
        for (size_t i = want; i-- > 0;)
            if (chunk[i] == '\n') {
                keep = pos + (off_t)i + 1;
                break;
            }
    }
    if (end == keep)
        return NS_OK;
    ns_log(0, "%s: dropping a torn last line of %lld bytes (a crash cut it short)", path,
           (long long)(end - keep));
    if (ftruncate(fd, keep) != 0)
        return ns_fail(NS_ERR_IO, "%s: truncating the torn last line failed: %s", path,
                       strerror(errno));
    return NS_OK;
}

static ns_status write_all(int fd, const char *path, const char *p, size_t n)
{
    while (n > 0) {
        ssize_t w = write(fd, p, n);
        if (w < 0 && errno == EINTR)
            continue;
        if (w < 0)
            return ns_fail(NS_ERR_IO, "%s: append failed: %s", path, strerror(errno));
        p += w;
        n -= (size_t)w;
    }
    return NS_OK;
}

ns_status ns_metrics_append(const char *dir, const json_t *record)
{
    char path[PATH_MAX];
    NS_TRY(ns_run_dir_path(dir, NS_METRICS_FILE, path, sizeof path));
    if (!json_is_object(record))
        return ns_fail(NS_ERR_INVALID_ARG, "%s: a metrics record must be a JSON object", path);
    char *text = json_dumps(record, JSON_COMPACT);
    size_t n = text ? strlen(text) : 0;
    char *line = text ? realloc(text, n + 2) : NULL;
    if (!line) {
        free(text);
        return ns_fail(NS_ERR_NOMEM, "%s: cannot serialise the metrics record", path);
    }
    line[n] = '\n';
    line[n + 1] = '\0';

    bool created = true;
    int fd = open(path, O_WRONLY | O_APPEND | O_CREAT | O_EXCL | O_CLOEXEC, 0666);
    if (fd < 0 && errno == EEXIST) {
        created = false;
        fd = open(path, O_RDWR | O_APPEND | O_CLOEXEC);
    }
    if (fd < 0) {
        int e = errno;
        free(line);
        return ns_fail(NS_ERR_IO, "%s: cannot open for appending: %s", path, strerror(e));
    }
    ns_status st = created ? NS_OK : cut_torn_tail(fd, path);
    if (st == NS_OK)
        st = write_all(fd, path, line, n + 1);
    if (st == NS_OK && fsync(fd) != 0)
        st = ns_fail(NS_ERR_IO, "%s: fsync failed: %s", path, strerror(errno));
    if (close(fd) != 0 && st == NS_OK)
        st = ns_fail(NS_ERR_IO, "%s: close failed: %s", path, strerror(errno));
    free(line);
    if (st == NS_OK && created)
        st = ns_fsync_dir(dir);
    return st;
}

static ns_status parse_lines(const char *path, char *text, size_t size, json_t *array)
{
    size_t lineno = 0;
    char *p = text, *end = text + size;
    while (p < end) {
        char *nl = memchr(p, '\n', (size_t)(end - p));
        lineno++;
        if (!nl) {
            ns_log(1, "%s:%zu: skipping a torn last line of %zu bytes", path, lineno,
                   (size_t)(end - p));
            break;
        }
        json_error_t err;
        json_t *rec = nl > p ? json_loadb(p, (size_t)(nl - p), 0, &err) : NULL;
        if (!rec)
            return ns_fail(NS_ERR_FORMAT, "%s:%zu: %s%s, expected one JSON object per line", path,
                           lineno, nl > p ? "invalid JSON: " : "empty line",
                           nl > p ? err.text : "");
        if (!json_is_object(rec)) {
            json_decref(rec);
            return ns_fail(NS_ERR_FORMAT, "%s:%zu: not a JSON object, expected one per line",
                           path, lineno);
        }
        if (json_array_append_new(array, rec) != 0)
            return ns_fail(NS_ERR_NOMEM, "%s: out of memory", path);
        p = nl + 1;
    }
    return NS_OK;
}

ns_status ns_metrics_read(const char *dir, json_t **array)
{
    *array = NULL;
    char path[PATH_MAX];
    NS_TRY(ns_run_dir_path(dir, NS_METRICS_FILE, path, sizeof path));
    if (!ns_path_is_dir(dir))
        return ns_fail(NS_ERR_NOT_FOUND, "run directory '%s' does not exist", dir);
    json_t *out = json_array();
    if (!out)
        return ns_fail(NS_ERR_NOMEM, "%s: out of memory", path);
    unsigned char *text;
    size_t size;
    ns_status st = ns_read_file(path, METRICS_MAX_BYTES, &text, &size);
    if (st == NS_ERR_NOT_FOUND) {
        *array = out;
        return NS_OK;
    }
    if (st == NS_OK)
        st = parse_lines(path, (char *)text, size, out);
    free(text);
    if (st != NS_OK) {
        json_decref(out);
        return st;
    }
    *array = out;
    return NS_OK;
}
