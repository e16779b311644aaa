/* Helpers of the fault suites: run the built CLI as a child process (so that
 * SIGKILL and ENOSPC hit a real process, not a function under test), and
 * compare two run directories file by file. */
#ifndef NS_TESTS_FAULTS_UTIL_H
#define NS_TESTS_FAULTS_UTIL_H

#include <stddef.h>
#include <stdint.h>

/* A child's end: exited with `code`, or killed by `signal` (then code -1). */
typedef struct fx_exit {
    int code;
    int signal;
    double seconds;
} fx_exit;

/* Runs argv (argv[0] a path) with stdout+stderr into `log` (truncated) and the
 * extra "NAME=VALUE" strings of env (NULL-terminated, may be NULL) added to
 * the environment. kill_after_s > 0: SIGKILL the child that long after its
 * start, unless it ended before. */
fx_exit fx_run(char *const argv[], const char *const *env, const char *log, double kill_after_s);

/* fx_run with stderr into `err` (stdout into `log`), and on_stop(user) called
 * each time the child stops itself (SIGSTOP from NS_FAULT_ACTION=stop): the
 * test changes the world there, then the child gets SIGCONT. */
fx_exit fx_run_ex(char *const argv[], const char *const *env, const char *log, const char *err,
                  void (*on_stop)(void *user), void *user);

/* splitmix64: the seeded stream that picks the kill points. */
uint64_t fx_next(uint64_t *state);
/* Uniform in [lo, hi]. */
long fx_uniform(uint64_t *state, long lo, long hi);

/* Whole file (NUL-terminated; *size without it), NULL when unreadable. */
char *fx_slurp(const char *path, size_t *size);

/* Files under root whose name contains ".tmp.": prints each, returns the count. */
int fx_count_temps(const char *root);

/* Compares the run directories `want` (a clean run) and `got` file by file:
 * the same regular files, each with the same bytes, except that in
 * metrics.jsonl and report.json the timing fields ("seconds", "images_per_s",
 * "loader_wait_s", "seconds_this_invocation") are left out, and
 * metrics.jsonl must have each epoch once, in order; a "tb" directory
 * (TensorBoard's append-only logs) is not compared. Prints the first
 * difference and returns 0 then; 1 when equal. */
int fx_same_run(const char *want, const char *got);

/* 1 when the path exists (any kind of file). */
int fx_exists(const char *path);

/* The fault suites' tiny selftrain run as an argv for fx_run (room for
 * FX_ARGV_MAX entries): `cli` selftrain on the ref backend, one thread, no
 * budget, resnet8:width=4 teacher and students on `data` into `run`, with the
 * given epochs and iterations; or, when run/selftrain.json exists (a run
 * writes it first), `cli selftrain --resume run`, the next process of a chain
 * of interrupted ones. The numbers live in static storage until the next call;
 * the other strings are the caller's. */
#define FX_ARGV_MAX 40
void fx_selftrain_argv(char **argv, const char *cli, const char *data, const char *run, int teacher_epochs,
                       int student_epochs, int iterations);

/* rm -rf, no error when absent. */
void fx_remove_tree(const char *path);

/* Last line of a file (without '\n') into buf; "" when none. */
void fx_last_line(const char *path, char *buf, size_t len);

/* Lines in a file (0 when absent). */
long fx_count_lines(const char *path);

#endif
