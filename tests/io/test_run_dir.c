#include "io_test_util.h"

#include <fcntl.h>
#include <limits.h>

#include "io/atomic_file.h"
#include "io/run_dir.h"

static char dir[PATH_MAX];

static int setup(void **state)
{
    (void)state;
    io_scratch(dir, sizeof dir, "run_dir");
    return 0;
}

static int teardown(void **state)
{
    (void)state;
    io_rm_rf(dir);
    return 0;
}

static void test_create(void **state)
{
    (void)state;
    char run[PATH_MAX];
    io_join(run, sizeof run, dir, "runs/exp1/stage0");
    assert_int_equal(ns_run_dir_create(run), NS_OK);
    assert_true(ns_path_is_dir(run));
    assert_int_equal(ns_run_dir_create(run), NS_OK);

    char file[PATH_MAX];
    io_join(file, sizeof file, dir, "runs/plainfile");
    assert_int_equal(ns_atomic_write_buffer(file, "x", 1), NS_OK);
    assert_int_equal(ns_run_dir_create(file), NS_ERR_IO);
    io_expect_error(file, "not a directory", NULL);
    assert_int_equal(ns_run_dir_create(""), NS_ERR_INVALID_ARG);
}

static void test_path(void **state)
{
    (void)state;
    char buf[32];
    assert_int_equal(ns_run_dir_path("runs/a", "config.json", buf, sizeof buf), NS_OK);
    assert_string_equal(buf, "runs/a/config.json");
    assert_int_equal(ns_run_dir_path("runs/a", "ckpt/s1.safetensors", buf, sizeof buf), NS_OK);
    assert_string_equal(buf, "runs/a/ckpt/s1.safetensors");
    assert_int_equal(ns_run_dir_path("runs/a", "a-name-far-too-long-to-fit", buf, sizeof buf),
                     NS_ERR_INVALID_ARG);
    io_expect_error("longer than 31 bytes", NULL);
    assert_int_equal(ns_run_dir_path("runs/a", "/etc/x", buf, sizeof buf), NS_ERR_INVALID_ARG);
    assert_int_equal(ns_run_dir_path("runs/a", "", buf, sizeof buf), NS_ERR_INVALID_ARG);
}

static void test_write_json(void **state)
{
    (void)state;
    json_t *cfg = json_pack("{s:i, s:{s:i, s:s}, s:[i,f]}", "zeta", 1, "alpha", "y", 2, "x",
                            "s", "list", 3, 0.5);
    assert_non_null(cfg);
    assert_int_equal(ns_run_dir_write_json(dir, "config.json", cfg), NS_OK);
    json_decref(cfg);
    char path[PATH_MAX];
    io_join(path, sizeof path, dir, "config.json");
    char *text = io_slurp(path, NULL);
    assert_string_equal(text, "{\n"
                              "  \"alpha\": {\n"
                              "    \"x\": \"s\",\n"
                              "    \"y\": 2\n"
                              "  },\n"
                              "  \"list\": [\n"
                              "    3,\n"
                              "    0.5\n"
                              "  ],\n"
                              "  \"zeta\": 1\n"
                              "}\n");
    free(text);
    assert_int_equal(io_count_matching(dir, ".tmp."), 0);
    assert_int_equal(ns_run_dir_write_json(dir, "config.json", NULL), NS_ERR_INVALID_ARG);
}

static void append_epoch(int epoch, double loss)
{
    json_t *rec = json_pack("{s:s, s:i, s:f}", "stage", "teacher", "epoch", epoch, "loss", loss);
    assert_non_null(rec);
    assert_int_equal(ns_metrics_append(dir, rec), NS_OK);
    json_decref(rec);
}

static json_t *read_ok(size_t want)
{
    json_t *arr;
    assert_int_equal(ns_metrics_read(dir, &arr), NS_OK);
    assert_true(json_is_array(arr));
    assert_int_equal(json_array_size(arr), want);
    return arr;
}

static void test_metrics_torn_line(void **state)
{
    (void)state;
    json_t *arr = read_ok(0); /* nothing logged yet */
    json_decref(arr);

    append_epoch(1, 2.5);
    append_epoch(2, 1.25);
    append_epoch(3, 0.75);
    arr = read_ok(3);
    json_t *third = json_array_get(arr, 2);
    assert_int_equal(json_integer_value(json_object_get(third, "epoch")), 3);
    assert_true(json_real_value(json_object_get(third, "loss")) == 0.75);
    assert_string_equal(json_string_value(json_object_get(third, "stage")), "teacher");
    json_decref(arr);

    /* a crash in the middle of the 4th record */
    char path[PATH_MAX];
    io_join(path, sizeof path, dir, NS_METRICS_FILE);
    int fd = open(path, O_WRONLY | O_APPEND);
    assert_true(fd >= 0);
    const char torn[] = "{\"stage\":\"teacher\",\"epo";
    assert_int_equal(write(fd, torn, sizeof torn - 1), (ssize_t)(sizeof torn - 1));
    close(fd);
    arr = read_ok(3);
    json_decref(arr);

    /* the next append cuts the torn fragment off instead of gluing onto it */
    append_epoch(4, 0.5);
    arr = read_ok(4);
    assert_int_equal(json_integer_value(json_object_get(json_array_get(arr, 3), "epoch")), 4);
    json_decref(arr);
    char *text = io_slurp(path, NULL);
    assert_null(strstr(text, "\"epo\n"));
    assert_null(strstr(text, "epo{"));
    size_t lines = 0;
    for (char *p = text; *p; p++)
        lines += *p == '\n';
    assert_int_equal(lines, 4);
    assert_int_equal(text[strlen(text) - 1], '\n');
    free(text);
}

static void test_metrics_errors(void **state)
{
    (void)state;
    char sub[PATH_MAX], path[PATH_MAX];
    io_join(sub, sizeof sub, dir, "bad");
    assert_int_equal(ns_run_dir_create(sub), NS_OK);
    io_join(path, sizeof path, sub, NS_METRICS_FILE);

    const char corrupt[] = "{\"epoch\":1}\n{\"epoch\":2,]\n{\"epoch\":3}\n";
    assert_int_equal(ns_atomic_write_buffer(path, corrupt, sizeof corrupt - 1), NS_OK);
    json_t *arr = (json_t *)1;
    assert_int_equal(ns_metrics_read(sub, &arr), NS_ERR_FORMAT);
    assert_null(arr);
    char where[PATH_MAX + 8];
    snprintf(where, sizeof where, "%s:2:", path);
    io_expect_error(where, "invalid JSON", NULL);

    const char not_object[] = "{\"epoch\":1}\n[1,2]\n";
    assert_int_equal(ns_atomic_write_buffer(path, not_object, sizeof not_object - 1), NS_OK);
    assert_int_equal(ns_metrics_read(sub, &arr), NS_ERR_FORMAT);
    io_expect_error(where, "not a JSON object", NULL);

    const char blank[] = "{\"epoch\":1}\n\n";
    assert_int_equal(ns_atomic_write_buffer(path, blank, sizeof blank - 1), NS_OK);
    assert_int_equal(ns_metrics_read(sub, &arr), NS_ERR_FORMAT);
    io_expect_error(where, "empty line", NULL);

    json_t *not_rec = json_integer(5);
    assert_int_equal(ns_metrics_append(sub, not_rec), NS_ERR_INVALID_ARG);
    io_expect_error(path, "JSON object", NULL);
    json_decref(not_rec);

    char missing[PATH_MAX];
    io_join(missing, sizeof missing, dir, "missing");
    assert_int_equal(ns_metrics_read(missing, &arr), NS_ERR_NOT_FOUND);
    io_expect_error(missing, NULL);
    json_t *rec = json_pack("{s:i}", "epoch", 1);
    assert_int_equal(ns_metrics_append(missing, rec), NS_ERR_NOT_FOUND);
    io_expect_error(missing, NULL);
    json_decref(rec);
}

static ino_t inode_of(const char *path)
{
    struct stat sb;
    assert_int_equal(stat(path, &sb), 0);
    return sb.st_ino;
}

/* The log is replaced whole, like every file of a run: each record makes a new
 * file (a new inode) renamed over the old one, and no temp file stays. An
 * in-place append would keep the inode (and could leave a torn line). */
static void test_metrics_replaced_whole(void **state)
{
    (void)state;
    char sub[PATH_MAX], path[PATH_MAX];
    io_join(sub, sizeof sub, dir, "whole");
    assert_int_equal(ns_run_dir_create(sub), NS_OK);
    io_join(path, sizeof path, sub, NS_METRICS_FILE);
    json_t *rec = json_pack("{s:i}", "epoch", 1);
    assert_int_equal(ns_metrics_append(sub, rec), NS_OK);
    /* hold the first version open: its inode cannot be reused while we do */
    FILE *old = fopen(path, "rb");
    assert_non_null(old);
    ino_t before = inode_of(path);
    json_object_set_new(rec, "epoch", json_integer(2));
    assert_int_equal(ns_metrics_append(sub, rec), NS_OK);
    json_decref(rec);
    assert_true(inode_of(path) != before);
    /* the reader of the old version still sees exactly the old log */
    char line[64];
    assert_non_null(fgets(line, sizeof line, old));
    assert_string_equal(line, "{\"epoch\":1}\n");
    assert_null(fgets(line, sizeof line, old));
    fclose(old);
    char *text = io_slurp(path, NULL);
    assert_string_equal(text, "{\"epoch\":1}\n{\"epoch\":2}\n");
    free(text);
    assert_int_equal(io_count_matching(sub, ".tmp."), 0);
}

/* A run killed after an epoch's record but before its checkpoint resumes from
 * the checkpoint: the records past it go, the rest (and records with no
 * epoch) stay in order; nothing to drop writes nothing. */
static void test_metrics_keep_epochs(void **state)
{
    (void)state;
    char sub[PATH_MAX], path[PATH_MAX];
    io_join(sub, sizeof sub, dir, "keep");
    assert_int_equal(ns_run_dir_create(sub), NS_OK);
    io_join(path, sizeof path, sub, NS_METRICS_FILE);
    size_t dropped = 99;
    assert_int_equal(ns_metrics_keep_epochs(sub, 0, &dropped), NS_OK); /* no log yet */
    assert_int_equal(dropped, 0);
    assert_false(ns_path_exists(path));
    const char log[] = "{\"epoch\":1}\n{\"note\":\"x\"}\n{\"epoch\":2}\n{\"epoch\":3}\n{\"epoch\":4}\n";
    assert_int_equal(ns_atomic_write_buffer(path, log, sizeof log - 1), NS_OK);
    ino_t before = inode_of(path);
    assert_int_equal(ns_metrics_keep_epochs(sub, 4, &dropped), NS_OK);
    assert_int_equal(dropped, 0);
    assert_true(inode_of(path) == before);
    assert_int_equal(ns_metrics_keep_epochs(sub, 2, &dropped), NS_OK);
    assert_int_equal(dropped, 2);
    char *text = io_slurp(path, NULL);
    assert_string_equal(text, "{\"epoch\":1}\n{\"note\":\"x\"}\n{\"epoch\":2}\n");
    free(text);
    assert_int_equal(ns_metrics_keep_epochs(sub, 0, NULL), NS_OK);
    text = io_slurp(path, NULL);
    assert_string_equal(text, "{\"note\":\"x\"}\n");
    free(text);
    assert_int_equal(io_count_matching(sub, ".tmp."), 0);
}

/* A crash between an atomic write's open and its rename leaves
 * "<name>.tmp.<pid>"; resuming removes those of dead processes only. */
static void test_remove_stale_temps(void **state)
{
    (void)state;
    char run[PATH_MAX], path[PATH_MAX];
    io_join(run, sizeof run, dir, "stale");
    assert_int_equal(ns_run_dir_create(run), NS_OK);
    /* 999999999 is above any Linux pid_max (at most 2^22): no such process. */
    const char *dead[] = {"checkpoint.safetensors.tmp.999999999", "labels.nspl.tmp.999999998"};
    char live[64], self[64];
    snprintf(live, sizeof live, "config.json.tmp.%ld", (long)getppid()); /* a running process */
    snprintf(self, sizeof self, "report.json.tmp.%ld", (long)getpid());
    const char *keep[] = {live, self, "model.safetensors", "notes.tmp.txt", "x.tmp.", "x.tmp.12a", ".tmp.999999997"};
    for (size_t i = 0; i < 2; i++) {
        io_join(path, sizeof path, run, dead[i]);
        assert_int_equal(ns_atomic_write_buffer(path, "x", 1), NS_OK);
    }
    for (size_t i = 0; i < sizeof keep / sizeof *keep; i++) {
        io_join(path, sizeof path, run, keep[i]);
        assert_int_equal(ns_atomic_write_buffer(path, "x", 1), NS_OK);
    }
    char *said = NULL;
    size_t said_len = 0;
    FILE *report = open_memstream(&said, &said_len);
    assert_non_null(report);
    assert_int_equal(ns_run_dir_remove_stale_temps(run, report), NS_OK);
    fclose(report);
    assert_non_null(strstr(said, "removed 2 temp files"));
    free(said);
    for (size_t i = 0; i < 2; i++) {
        io_join(path, sizeof path, run, dead[i]);
        assert_false(ns_path_exists(path));
    }
    for (size_t i = 0; i < sizeof keep / sizeof *keep; i++) {
        io_join(path, sizeof path, run, keep[i]);
        assert_true(ns_path_exists(path));
    }
    /* nothing left to remove: no line; a missing directory is not an error */
    assert_int_equal(ns_run_dir_remove_stale_temps(run, NULL), NS_OK);
    io_join(path, sizeof path, dir, "no-such-run");
    assert_int_equal(ns_run_dir_remove_stale_temps(path, NULL), NS_OK);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_create),
        cmocka_unit_test(test_path),
        cmocka_unit_test(test_write_json),
        cmocka_unit_test(test_metrics_torn_line),
        cmocka_unit_test(test_metrics_errors),
        cmocka_unit_test(test_metrics_replaced_whole),
        cmocka_unit_test(test_metrics_keep_epochs),
        cmocka_unit_test(test_remove_stale_temps),
    };
    return cmocka_run_group_tests_name("io_run_dir", tests, setup, teardown);
}
