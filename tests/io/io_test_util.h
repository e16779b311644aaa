/* Scratch directories and error-message checks shared by the io suites. */
#ifndef NS_TESTS_IO_TEST_UTIL_H
#define NS_TESTS_IO_TEST_UTIL_H

#include <dirent.h>
#include <ftw.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cmocka.h>

#include "io/file_util.h"
#include "util/error.h"

static inline int io_rm_entry(const char *path, const struct stat *sb, int flag, struct FTW *ftw)
{
    (void)sb;
    (void)flag;
    (void)ftw;
    chmod(path, 0700); /* a test may have made it read-only */
    return remove(path);
}

static inline void io_rm_rf(const char *path)
{
    chmod(path, 0700);
    nftw(path, io_rm_entry, 16, FTW_DEPTH | FTW_PHYS);
}

/* buf = "<a>/<b>", asserting that it fits. */
static inline void io_join(char *buf, size_t len, const char *a, const char *b)
{
    int n = snprintf(buf, len, "%s/%s", a, b);
    assert_true(n > 0 && (size_t)n < len);
}

/* A fresh, empty scratch directory "$NS_TEST_TMP/io-<name>-<pid>". */
static inline void io_scratch(char *buf, size_t len, const char *name)
{
    const char *root = getenv("NS_TEST_TMP");
    int n = snprintf(buf, len, "%s/io-%s-%ld", root && *root ? root : "/tmp", name, (long)getpid());
    assert_true(n > 0 && (size_t)n < len);
    io_rm_rf(buf);
    assert_int_equal(ns_mkdir_p(buf), NS_OK);
}

/* Fails the test, printing the message, unless the last error contains each
 * of the given substrings (NULL-terminated list). */
static inline void io_expect_error(const char *first, ...)
{
    const char *msg = ns_last_error();
    va_list ap;
    va_start(ap, first);
    for (const char *s = first; s; s = va_arg(ap, const char *)) {
        if (!strstr(msg, s)) {
            va_end(ap);
            fail_msg("error message \"%s\" does not contain \"%s\"", msg, s);
        }
    }
    va_end(ap);
    assert_null(strchr(msg, '\n'));
}

/* Number of entries in dir whose name contains `part`. */
static inline int io_count_matching(const char *dir, const char *part)
{
    DIR *d = opendir(dir);
    assert_non_null(d);
    int n = 0;
    struct dirent *e;
    while ((e = readdir(d)))
        if (strstr(e->d_name, part))
            n++;
    closedir(d);
    return n;
}

/* Whole file as a NUL-terminated string (test owns it), asserting success. */
static inline char *io_slurp(const char *path, size_t *size)
{
    unsigned char *data;
    size_t n;
    assert_int_equal(ns_read_file(path, 1 << 30, &data, &n), NS_OK);
    if (size)
        *size = n;
    return (char *)data;
}

#endif
