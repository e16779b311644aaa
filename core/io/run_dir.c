#include "io/run_dir.h"

#include <dirent.h>
#include <errno.h>
#include <limits.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>
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

/* Serialises every record of `records` as one compact line. */
static ns_status dump_lines(FILE *f, void *user)
{
    const json_t *records = user;
    size_t i;
    json_t *rec;
    json_array_foreach(records, i, rec)
    {
        if (json_dumpf(rec, f, JSON_COMPACT) != 0 || fputc('\n', f) == EOF)
            return ns_fail(NS_ERR_IO, "writing record %zu failed: %s", i + 1, strerror(errno));
    }
    return NS_OK;
}

/* The whole log, replaced atomically: a reader, and a run resumed after a
 * crash, sees the log before this write or after it, never a torn record. */
static ns_status write_all_records(const char *dir, const json_t *records)
{
    char path[PATH_MAX];
    NS_TRY(ns_run_dir_path(dir, NS_METRICS_FILE, path, sizeof path));
    return ns_atomic_write(path, dump_lines, (void *)records);
}

ns_status ns_metrics_append(const char *dir, const json_t *record)
{
    char path[PATH_MAX];
    NS_TRY(ns_run_dir_path(dir, NS_METRICS_FILE, path, sizeof path));
    if (!json_is_object(record))
        return ns_fail(NS_ERR_INVALID_ARG, "%s: a metrics record must be a JSON object", path);
    json_t *all;
    NS_TRY(ns_metrics_read(dir, &all));
    ns_status st = json_array_append(all, (json_t *)record) == 0
                       ? write_all_records(dir, all)
                       : ns_fail(NS_ERR_NOMEM, "%s: out of memory", path);
    json_decref(all);
    return st;
}

ns_status ns_metrics_keep_epochs(const char *dir, int last_epoch, size_t *dropped)
{
    if (dropped)
        *dropped = 0;
    json_t *all;
    NS_TRY(ns_metrics_read(dir, &all));
    json_t *keep = json_array();
    if (!keep) {
        json_decref(all);
        return ns_fail(NS_ERR_NOMEM, "%s/%s: out of memory", dir, NS_METRICS_FILE);
    }
    size_t i, n = 0;
    json_t *rec;
    json_array_foreach(all, i, rec)
    {
        json_t *e = json_object_get(rec, "epoch");
        if (json_is_integer(e) && json_integer_value(e) > last_epoch)
            n++;
        else
            json_array_append(keep, rec);
    }
    ns_status st = NS_OK;
    if (n)
        st = write_all_records(dir, keep);
    if (st == NS_OK && dropped)
        *dropped = n;
    json_decref(keep);
    json_decref(all);
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
