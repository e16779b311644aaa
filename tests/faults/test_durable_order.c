/* Every file a run writes is durable before it is visible: a small
 * `selftrain` on ref runs under an LD_PRELOAD spy (fsync_spy.c) that logs each
 * fsync (with its file's path) and each rename. For every file of the run
 * directory the log must show: a temp file fsynced, then renamed onto the
 * file, then the file's directory fsynced. SIGKILL cannot see a missing
 * fsync (the page cache survives a killed process, not a power cut): this is
 * the test that does. */
#include <libgen.h>
#include <limits.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cmocka.h>

#include "faults_util.h"
#include "synthetic_data.h"

static char root[1024], data[1200], run[1200], spylog[1200];

static int setup(void **state)
{
    (void)state;
    const char *tmp = getenv("NS_TEST_TMP");
    snprintf(root, sizeof root, "%s/faults_durable", tmp && *tmp ? tmp : "/tmp");
    fx_remove_tree(root);
    mkdir(root, 0755);
    char real[PATH_MAX];
    if (!realpath(root, real)) /* the spy sees canonical paths */
        return -1;
    snprintf(root, sizeof root, "%s", real);
    snprintf(data, sizeof data, "%s/data", root);
    snprintf(run, sizeof run, "%s/run", root);
    snprintf(spylog, sizeof spylog, "%s/spy.log", root);
    return ns_test_write_synthetic_hard(data, 30, 20, 11, 80, 160) == 0 ? 0 : -1;
}

typedef struct event {
    char kind[8];
    char a[1400], b[1400];
} event;

/* Index of the first event at or after `from` with this kind and path a, or -1. */
static long find(const event *ev, long n, long from, const char *kind, const char *a)
{
    for (long i = from; i < n; i++)
        if (!strcmp(ev[i].kind, kind) && !strcmp(ev[i].a, a))
            return i;
    return -1;
}

static long find_before(const event *ev, long until, const char *kind, const char *a)
{
    for (long i = until - 1; i >= 0; i--)
        if (!strcmp(ev[i].kind, kind) && !strcmp(ev[i].a, a))
            return i;
    return -1;
}

static void test_every_file_synced_renamed_dir_synced(void **state)
{
    (void)state;
    char env_preload[1400], env_log[1400], log[1300];
    snprintf(env_preload, sizeof env_preload, "LD_PRELOAD=%s", NS_SPY_PATH);
    snprintf(env_log, sizeof env_log, "NS_SPY_LOG=%s", spylog);
    /* a sanitizer build insists on coming first; the spy only wraps libc */
    const char *env[] = {env_preload, env_log, "ASAN_OPTIONS=verify_asan_link_order=0", NULL};
    char *const argv[] = {NS_CLI_PATH, "selftrain", "--budget", "none", "--backend", "ref", "--threads", "1", "--data", data,
                          "--labels-per-class", "3", "--teacher-model", "resnet8:width=4", "--student-model",
                          "resnet8:width=4", "--teacher-epochs", "2", "--student-epochs", "2", "--iterations", "1",
                          "--batch", "4", "--lr", "0.05", "--per-class", "20", "--unlabeled-ratio", "2", "--run-dir",
                          run, NULL};
    snprintf(log, sizeof log, "%s/run.log", root);
    fx_exit e = fx_run(argv, env, log, 0);
    if (e.code != 0) {
        char *t = fx_slurp(log, NULL);
        print_message("%s\n", t ? t : "");
        free(t);
    }
    assert_int_equal(e.code, 0);

    char *text = fx_slurp(spylog, NULL);
    assert_non_null(text);
    long cap = 0;
    for (char *p = text; *p; p++)
        cap += *p == '\n';
    event *ev = calloc((size_t)cap + 1, sizeof *ev);
    assert_non_null(ev);
    long n = 0;
    char *save = NULL;
    for (char *line = strtok_r(text, "\n", &save); line; line = strtok_r(NULL, "\n", &save)) {
        if (sscanf(line, "%7s %1399s %1399s", ev[n].kind, ev[n].a, ev[n].b) >= 2)
            n++;
    }
    free(text);

    /* every regular file under the run directory */
    char cmd[1400];
    snprintf(cmd, sizeof cmd, "find '%s' -type f", run);
    FILE *p = popen(cmd, "r");
    assert_non_null(p);
    char file[1400];
    int files = 0;
    while (fgets(file, sizeof file, p)) {
        file[strcspn(file, "\n")] = '\0';
        /* TensorBoard's events files are append-only logs (report/tb_writer.h),
         * read by TensorBoard while they grow; a torn last record is what its
         * reader expects of a live log. Everything else is renamed into place. */
        if (strstr(file, "/tb/events.out.tfevents."))
            continue;
        files++;
        /* the last rename onto it, from a temp */
        long r = -1;
        for (long i = n - 1; i >= 0 && r < 0; i--)
            if (!strcmp(ev[i].kind, "rename") && !strcmp(ev[i].b, file))
                r = i;
        if (r < 0)
            fail_msg("%s was not written by renaming a temp file onto it (written in place?)", file);
        if (!strstr(ev[r].a, ".tmp."))
            fail_msg("%s was renamed from %s, not from a temp file", file, ev[r].a);
        if (find_before(ev, r, "fsync", ev[r].a) < 0)
            fail_msg("%s: its temp %s was renamed without an fsync first", file, ev[r].a);
        char dir[1400];
        snprintf(dir, sizeof dir, "%s", file);
        if (find(ev, n, r + 1, "fsync", dirname(dir)) < 0)
            fail_msg("%s: its directory %s was not fsynced after the rename", file, dir);
    }
    pclose(p);
    free(ev);
    print_message("%d files, %ld fsync/rename events: each file a synced temp renamed, then its directory synced\n",
                  files, n);
    assert_true(files >= 10);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_every_file_synced_renamed_dir_synced),
    };
    return cmocka_run_group_tests_name("faults_durable_order", tests, setup, NULL);
}
