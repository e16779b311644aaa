#include "io_test_util.h"

#include <errno.h>
#include <limits.h>
#include <stdbool.h>
#include <unistd.h>

#include "io/atomic_file.h"

static char dir[PATH_MAX];

static int setup(void **state)
{
    (void)state;
    io_scratch(dir, sizeof dir, "file_util");
    return 0;
}

static int teardown(void **state)
{
    (void)state;
    io_rm_rf(dir);
    return 0;
}

static void test_read_file(void **state)
{
    (void)state;
    char path[PATH_MAX];
    io_join(path, sizeof path, dir, "data.bin");
    const unsigned char bytes[5] = {'a', 0, 'b', 0xff, 'c'};
    assert_int_equal(ns_atomic_write_buffer(path, bytes, sizeof bytes), NS_OK);

    unsigned char *data;
    size_t n;
    assert_int_equal(ns_read_file(path, 5, &data, &n), NS_OK);
    assert_int_equal(n, 5);
    assert_memory_equal(data, bytes, 5);
    assert_int_equal(data[5], 0); /* NUL after the data */
    free(data);

    assert_int_equal(ns_read_file(path, 4, &data, &n), NS_ERR_FORMAT);
    io_expect_error(path, "5 bytes", "4-byte limit", NULL);
    assert_null(data);
    assert_int_equal(n, 0);

    char missing[PATH_MAX];
    io_join(missing, sizeof missing, dir, "missing.bin");
    assert_int_equal(ns_read_file(missing, 100, &data, &n), NS_ERR_NOT_FOUND);
    io_expect_error(missing, strerror(ENOENT), NULL);

    assert_int_equal(ns_read_file(dir, 100, &data, &n), NS_ERR_IO);
    io_expect_error(dir, "directory", NULL);
}

static void test_mkdir_p(void **state)
{
    (void)state;
    char path[PATH_MAX];
    io_join(path, sizeof path, dir, "a//b/c/");
    assert_int_equal(ns_mkdir_p(path), NS_OK);
    io_join(path, sizeof path, dir, "a/b/c");
    assert_true(ns_path_is_dir(path));
    assert_int_equal(ns_mkdir_p(path), NS_OK); /* existing is fine */

    char file[PATH_MAX];
    io_join(file, sizeof file, dir, "a/f");
    assert_int_equal(ns_atomic_write_buffer(file, "x", 1), NS_OK);
    assert_true(ns_path_exists(file));
    assert_false(ns_path_is_dir(file));
    assert_int_equal(ns_mkdir_p(file), NS_ERR_IO);
    io_expect_error(file, "not a directory", NULL);
    io_join(path, sizeof path, dir, "a/f/g/h");
    assert_int_equal(ns_mkdir_p(path), NS_ERR_IO);
    io_expect_error(file, "not a directory", NULL);
    assert_int_equal(ns_mkdir_p(""), NS_ERR_INVALID_ARG);
}

/* The three existence tests every module uses instead of its own stat():
 * a regular file, a directory, a link to a file, a dangling link, nothing. */
static void test_path_kinds(void **state)
{
    (void)state;
    char sub[PATH_MAX], file[PATH_MAX], link_to_file[PATH_MAX], dangling[PATH_MAX], missing[PATH_MAX];
    io_join(sub, sizeof sub, dir, "kinds");
    assert_int_equal(ns_mkdir_p(sub), NS_OK);
    io_join(file, sizeof file, sub, "f");
    io_join(link_to_file, sizeof link_to_file, sub, "to_f");
    io_join(dangling, sizeof dangling, sub, "dangling");
    io_join(missing, sizeof missing, sub, "missing");
    assert_int_equal(ns_atomic_write_buffer(file, "x", 1), NS_OK);
    assert_int_equal(symlink(file, link_to_file), 0);
    assert_int_equal(symlink(missing, dangling), 0);
    const struct {
        const char *path;
        bool exists, is_dir, is_file;
    } want[] = {
        {sub, true, true, false},          {file, true, false, true},     {link_to_file, true, false, true},
        {dangling, false, false, false},   {missing, false, false, false},
    };
    for (size_t i = 0; i < sizeof want / sizeof *want; i++) {
        assert_int_equal(ns_path_exists(want[i].path), want[i].exists);
        assert_int_equal(ns_path_is_dir(want[i].path), want[i].is_dir);
        assert_int_equal(ns_path_is_file(want[i].path), want[i].is_file);
    }
}

static void check_dirname(const char *path, const char *want)
{
    char buf[64];
    assert_int_equal(ns_path_dirname(path, buf, sizeof buf), NS_OK);
    assert_string_equal(buf, want);
}

static void test_dirname(void **state)
{
    (void)state;
    check_dirname("file", ".");
    check_dirname("/file", "/");
    check_dirname("a/b/file", "a/b");
    check_dirname("a//file", "a");
    check_dirname("/x/y", "/x");
    char small[3];
    assert_int_equal(ns_path_dirname("abc/d", small, sizeof small), NS_ERR_INVALID_ARG);
    assert_int_equal(ns_path_dirname("ab/d", small, sizeof small), NS_OK);
    assert_string_equal(small, "ab");
}

static void test_fsync_dir(void **state)
{
    (void)state;
    assert_int_equal(ns_fsync_dir(dir), NS_OK);
    char missing[PATH_MAX];
    io_join(missing, sizeof missing, dir, "nope");
    assert_int_equal(ns_fsync_dir(missing), NS_ERR_IO);
    io_expect_error(missing, strerror(ENOENT), NULL);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_read_file),
        cmocka_unit_test(test_mkdir_p),
        cmocka_unit_test(test_path_kinds),
        cmocka_unit_test(test_dirname),
        cmocka_unit_test(test_fsync_dir),
    };
    return cmocka_run_group_tests_name("io_file_util", tests, setup, teardown);
}
