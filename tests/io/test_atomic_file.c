#include "io_test_util.h"

#include <errno.h>
#include <limits.h>

#include "io/atomic_file.h"

static char dir[PATH_MAX];

static int setup(void **state)
{
    (void)state;
    io_scratch(dir, sizeof dir, "atomic");
    return 0;
}

static int teardown(void **state)
{
    (void)state;
    io_rm_rf(dir);
    return 0;
}

static void file_path(char *buf, const char *name)
{
    io_join(buf, PATH_MAX, dir, name);
}

static void assert_content(const char *path, const char *want)
{
    size_t n;
    char *got = io_slurp(path, &n);
    assert_int_equal(n, strlen(want));
    assert_memory_equal(got, want, n);
    free(got);
}

static void test_new_file_then_replace(void **state)
{
    (void)state;
    char path[PATH_MAX];
    file_path(path, "a.bin");
    assert_int_equal(ns_atomic_write_buffer(path, "first", 5), NS_OK);
    assert_content(path, "first");
    assert_int_equal(ns_atomic_write_buffer(path, "second version", 14), NS_OK);
    assert_content(path, "second version");
    assert_int_equal(ns_atomic_write_buffer(path, NULL, 0), NS_OK);
    assert_content(path, "");
    assert_int_equal(io_count_matching(dir, ".tmp."), 0);
}

/* Writes half its output and then reports a failure. */
static ns_status failing_writer(FILE *f, void *user)
{
    (void)user;
    fputs("half-writ", f);
    return ns_fail(NS_ERR_FORMAT, "writer gave up at record 3");
}

static void test_failing_writer_keeps_old_file(void **state)
{
    (void)state;
    char path[PATH_MAX];
    file_path(path, "keep.txt");
    assert_int_equal(ns_atomic_write_buffer(path, "old contents", 12), NS_OK);
    assert_int_equal(ns_atomic_write(path, failing_writer, NULL), NS_ERR_FORMAT);
    io_expect_error(path, "writer gave up at record 3", NULL);
    assert_content(path, "old contents");
    assert_int_equal(io_count_matching(dir, ".tmp."), 0);

    /* and with no old file, nothing at all is left behind */
    file_path(path, "never.txt");
    assert_int_equal(ns_atomic_write(path, failing_writer, NULL), NS_ERR_FORMAT);
    assert_false(ns_path_exists(path));
    assert_int_equal(io_count_matching(dir, "never"), 0);
}

/* Ignores the failure of its write; the stream error must still be caught. */
static ns_status careless_writer(FILE *f, void *user)
{
    (void)user;
    fputs("x", f);
    /* Make the stream's error flag stick, as a failed fwrite would. */
    fgetc(f);
    return NS_OK;
}

static void test_stream_error_caught(void **state)
{
    (void)state;
    char path[PATH_MAX];
    file_path(path, "careless.txt");
    assert_int_equal(ns_atomic_write_buffer(path, "old", 3), NS_OK);
    assert_int_equal(ns_atomic_write(path, careless_writer, NULL), NS_ERR_IO);
    io_expect_error(path, "write to", NULL);
    assert_content(path, "old");
    assert_int_equal(io_count_matching(dir, ".tmp."), 0);
}

static void test_missing_directory(void **state)
{
    (void)state;
    char path[PATH_MAX];
    file_path(path, "no/such/dir/f.bin");
    assert_int_equal(ns_atomic_write_buffer(path, "x", 1), NS_ERR_IO);
    io_expect_error(path, "cannot create temp file", strerror(ENOENT), NULL);
}

static void test_parent_is_a_file(void **state)
{
    (void)state;
    char parent[PATH_MAX], path[PATH_MAX];
    file_path(parent, "plain");
    assert_int_equal(ns_atomic_write_buffer(parent, "x", 1), NS_OK);
    io_join(path, sizeof path, parent, "child.bin");
    assert_int_equal(ns_atomic_write_buffer(path, "x", 1), NS_ERR_IO);
    io_expect_error(path, strerror(ENOTDIR), NULL);
}

static void test_read_only_directory(void **state)
{
    (void)state;
    if (geteuid() == 0)
        skip(); /* root writes into a 0555 directory anyway: nothing to test */
    char sub[PATH_MAX], path[PATH_MAX];
    file_path(sub, "ro");
    assert_int_equal(ns_mkdir_p(sub), NS_OK);
    io_join(path, sizeof path, sub, "f.bin");
    assert_int_equal(ns_atomic_write_buffer(path, "old", 3), NS_OK);
    assert_int_equal(chmod(sub, 0555), 0);
    ns_status st = ns_atomic_write_buffer(path, "new", 3);
    chmod(sub, 0755);
    assert_int_equal(st, NS_ERR_IO);
    io_expect_error(path, "cannot create temp file", strerror(EACCES), NULL);
    assert_content(path, "old");
    assert_int_equal(io_count_matching(sub, ".tmp."), 0);
}

static void test_rename_failure_cleans_up(void **state)
{
    (void)state;
    char path[PATH_MAX], inner[PATH_MAX];
    /* rename(file, non-empty directory) fails: the temp file must go. */
    file_path(path, "is_a_dir");
    io_join(inner, sizeof inner, path, "inside");
    assert_int_equal(ns_mkdir_p(inner), NS_OK);
    assert_int_equal(ns_atomic_write_buffer(path, "x", 1), NS_ERR_IO);
    io_expect_error(path, "rename", NULL);
    assert_true(ns_path_is_dir(inner));
    assert_int_equal(io_count_matching(dir, ".tmp."), 0);
}

static void test_bad_arguments(void **state)
{
    (void)state;
    char path[PATH_MAX];
    file_path(path, "args.bin");
    assert_int_equal(ns_atomic_write_buffer(path, NULL, 4), NS_ERR_INVALID_ARG);
    io_expect_error(path, NULL);
    assert_int_equal(ns_atomic_write(path, NULL, NULL), NS_ERR_INVALID_ARG);
    assert_int_equal(ns_atomic_write("", failing_writer, NULL), NS_ERR_INVALID_ARG);
    assert_false(ns_path_exists(path));
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_new_file_then_replace),
        cmocka_unit_test(test_failing_writer_keeps_old_file),
        cmocka_unit_test(test_stream_error_caught),
        cmocka_unit_test(test_missing_directory),
        cmocka_unit_test(test_parent_is_a_file),
        cmocka_unit_test(test_read_only_directory),
        cmocka_unit_test(test_rename_failure_cleans_up),
        cmocka_unit_test(test_bad_arguments),
    };
    return cmocka_run_group_tests_name("io_atomic", tests, setup, teardown);
}
