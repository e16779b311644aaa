#include "faults_util.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <ftw.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include <jansson.h>

static double now_s(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + 1e-9 * (double)ts.tv_nsec;
}

static fx_exit run_child(char *const argv[], const char *const *env, const char *log, const char *err,
                         double kill_after_s, void (*on_stop)(void *), void *user)
{
    fx_exit r = {-1, 0, 0};
    fflush(stdout);
    fflush(stderr);
    double t0 = now_s();
    pid_t pid = fork();
    if (pid < 0)
        return r;
    if (pid == 0) {
        int fd = open(log, O_WRONLY | O_CREAT | O_TRUNC, 0644);
        if (fd >= 0) {
            dup2(fd, 1);
            dup2(fd, 2);
            close(fd);
        }
        fd = err ? open(err, O_WRONLY | O_CREAT | O_TRUNC, 0644) : -1;
        if (fd >= 0) {
            dup2(fd, 2);
            close(fd);
        }
        for (const char *const *e = env; e && *e; e++)
            putenv((char *)*e);
        execv(argv[0], argv);
        _exit(127);
    }
    int status = 0;
    for (;;) {
        pid_t w = waitpid(pid, &status, (kill_after_s > 0 ? WNOHANG : 0) | WUNTRACED);
        if (w == pid && WIFSTOPPED(status)) {
            if (on_stop)
                on_stop(user);
            kill(pid, SIGCONT);
            continue;
        }
        if (w == pid)
            break;
        if (w < 0 && errno != EINTR)
            return r;
        if (kill_after_s > 0 && now_s() - t0 >= kill_after_s) {
            kill(pid, SIGKILL);
            kill_after_s = 0; /* then wait for it */
            continue;
        }
        if (kill_after_s > 0) {
            struct timespec ts = {0, 2000000};
            nanosleep(&ts, NULL);
        }
    }
    r.seconds = now_s() - t0;
    if (WIFEXITED(status))
        r.code = WEXITSTATUS(status);
    else if (WIFSIGNALED(status))
        r.signal = WTERMSIG(status);
    return r;
}

fx_exit fx_run(char *const argv[], const char *const *env, const char *log, double kill_after_s)
{
    return run_child(argv, env, log, NULL, kill_after_s, NULL, NULL);
}

fx_exit fx_run_ex(char *const argv[], const char *const *env, const char *log, const char *err,
                  void (*on_stop)(void *user), void *user)
{
    return run_child(argv, env, log, err, 0, on_stop, user);
}

uint64_t fx_next(uint64_t *s)
{
    uint64_t z = (*s += 0x9e3779b97f4a7c15ull);
    z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ull;
    z = (z ^ (z >> 27)) * 0x94d049bb133111ebull;
    return z ^ (z >> 31);
}

long fx_uniform(uint64_t *s, long lo, long hi)
{
    if (hi <= lo)
        return lo;
    return lo + (long)(fx_next(s) % (uint64_t)(hi - lo + 1));
}

char *fx_slurp(const char *path, size_t *size)
{
    FILE *f = fopen(path, "rb");
    if (!f)
        return NULL;
    size_t cap = 4096, n = 0;
    char *buf = malloc(cap + 1);
    for (size_t r; buf && (r = fread(buf + n, 1, cap - n, f)) > 0;) {
        n += r;
        if (n == cap) {
            char *b = realloc(buf, 2 * cap + 1);
            if (!b) {
                free(buf);
                buf = NULL;
                break;
            }
            buf = b;
            cap *= 2;
        }
    }
    fclose(f);
    if (!buf)
        return NULL;
    buf[n] = '\0';
    if (size)
        *size = n;
    return buf;
}

static int temps_found;

static int temp_entry(const char *path, const struct stat *sb, int flag, struct FTW *ftw)
{
    (void)sb;
    (void)flag;
    if (strstr(path + ftw->base, ".tmp.")) {
        fprintf(stderr, "temp file present: %s\n", path);
        temps_found++;
    }
    return 0;
}

int fx_count_temps(const char *root)
{
    temps_found = 0;
    nftw(root, temp_entry, 16, FTW_PHYS);
    return temps_found;
}

static int rm_entry(const char *path, const struct stat *sb, int flag, struct FTW *ftw)
{
    (void)sb;
    (void)flag;
    (void)ftw;
    return remove(path);
}

void fx_remove_tree(const char *path)
{
    nftw(path, rm_entry, 16, FTW_DEPTH | FTW_PHYS);
}

static const char *const timing_keys[] = {"seconds", "images_per_s", "loader_wait_s", "seconds_this_invocation"};

static void drop_timing(json_t *obj)
{
    for (size_t i = 0; i < sizeof timing_keys / sizeof *timing_keys; i++)
        json_object_del(obj, timing_keys[i]);
}

/* metrics.jsonl: the same records in the same order, timing aside, and each
 * epoch exactly once (1, 2, ...). */
static int same_metrics(const char *a, const char *b)
{
    char *ta = fx_slurp(a, NULL), *tb = fx_slurp(b, NULL);
    int ok = ta && tb;
    long epoch = 0;
    char *sa = NULL, *sb = NULL;
    for (char *la = ok ? strtok_r(ta, "\n", &sa) : NULL, *lb = ok ? strtok_r(tb, "\n", &sb) : NULL; ok && (la || lb);
         la = strtok_r(NULL, "\n", &sa), lb = strtok_r(NULL, "\n", &sb)) {
        json_t *ja = la ? json_loads(la, 0, NULL) : NULL, *jb = lb ? json_loads(lb, 0, NULL) : NULL;
        if (!ja || !jb) {
            fprintf(stderr, "%s: record %ld %s\n", b, epoch + 1, !jb ? "missing or unreadable" : "extra");
            ok = 0;
        } else {
            json_t *e = json_object_get(jb, "epoch");
            if (!json_is_integer(e) || json_integer_value(e) != ++epoch) {
                fprintf(stderr, "%s: line %ld is epoch %lld, expected %ld (a duplicated or orphan record)\n", b,
                        epoch, json_is_integer(e) ? (long long)json_integer_value(e) : -1LL, epoch);
                ok = 0;
            }
            drop_timing(ja);
            drop_timing(jb);
            if (ok && !json_equal(ja, jb)) {
                fprintf(stderr, "%s: epoch %ld differs from the clean run's record: %s vs %s\n", b, epoch, lb, la);
                ok = 0;
            }
        }
        json_decref(ja);
        json_decref(jb);
    }
    free(ta);
    free(tb);
    return ok;
}

static int same_json_but_timing(const char *a, const char *b)
{
    json_t *ja = json_load_file(a, 0, NULL), *jb = json_load_file(b, 0, NULL);
    int ok = ja && jb;
    if (ok) {
        drop_timing(ja);
        drop_timing(jb);
        ok = json_equal(ja, jb);
    }
    if (!ok)
        fprintf(stderr, "%s differs from %s (timing aside)\n", b, a);
    json_decref(ja);
    json_decref(jb);
    return ok;
}

static int same_bytes(const char *a, const char *b)
{
    size_t na, nb;
    char *ta = fx_slurp(a, &na), *tb = fx_slurp(b, &nb);
    int ok = ta && tb && na == nb && memcmp(ta, tb, na) == 0;
    if (!ok)
        fprintf(stderr, "%s is not byte-identical to %s (%zu vs %zu bytes)\n", b, a, tb ? nb : 0, ta ? na : 0);
    free(ta);
    free(tb);
    return ok;
}

/* TensorBoard's logs (RUN/tb, report/tb_run.h): append-only events files
 * named by time and pid, holding wall times, so never equal between two
 * runs; tests/tboard reads them back. */
static int skipped_entry(const char *name)
{
    return !strcmp(name, ".") || !strcmp(name, "..") || !strcmp(name, "tb");
}

/* Walks `want` recursively; rel is the path below both roots. */
static int walk(const char *want, const char *got, const char *rel, long *files)
{
    char pa[2048], pb[2048];
    snprintf(pa, sizeof pa, "%s%s%s", want, *rel ? "/" : "", rel);
    snprintf(pb, sizeof pb, "%s%s%s", got, *rel ? "/" : "", rel);
    DIR *da = opendir(pa), *db = opendir(pb);
    if (!da || !db) {
        fprintf(stderr, "cannot list %s or %s\n", pa, pb);
        if (da)
            closedir(da);
        if (db)
            closedir(db);
        return 0;
    }
    int ok = 1;
    long na = 0, nb = 0;
    for (struct dirent *e; (e = readdir(db));)
        nb += !skipped_entry(e->d_name);
    closedir(db);
    for (struct dirent *e; ok && (e = readdir(da));) {
        if (skipped_entry(e->d_name))
            continue;
        na++;
        char sub[1024], fa[2048], fb[2048];
        snprintf(sub, sizeof sub, "%s%s%s", rel, *rel ? "/" : "", e->d_name);
        snprintf(fa, sizeof fa, "%s/%s", want, sub);
        snprintf(fb, sizeof fb, "%s/%s", got, sub);
        struct stat sa, sb;
        if (lstat(fa, &sa) != 0 || lstat(fb, &sb) != 0) {
            fprintf(stderr, "%s: missing (the clean run has it)\n", fb);
            ok = 0;
        } else if (S_ISDIR(sa.st_mode)) {
            ok = S_ISDIR(sb.st_mode) && walk(want, got, sub, files);
        } else if (!strcmp(e->d_name, "metrics.jsonl")) {
            ok = same_metrics(fa, fb);
        } else if (!strcmp(e->d_name, "report.json")) {
            ok = same_json_but_timing(fa, fb);
        } else if (!strcmp(e->d_name, "report.html")) {
            /* a view of the files compared here, showing wall times and
             * images/s: present in both is what can be asked of it */
            ok = 1;
        } else {
            ok = same_bytes(fa, fb);
        }
        (*files)++;
    }
    closedir(da);
    if (ok && na != nb) {
        fprintf(stderr, "%s holds %ld entries, the clean run's %ld\n", pb, nb, na);
        ok = 0;
    }
    return ok;
}

int fx_same_run(const char *want, const char *got)
{
    long files = 0;
    int ok = walk(want, got, "", &files);
    return ok && files > 0;
}

void fx_last_line(const char *path, char *buf, size_t len)
{
    buf[0] = '\0';
    char *t = fx_slurp(path, NULL);
    if (!t)
        return;
    size_t n = strlen(t);
    while (n && t[n - 1] == '\n')
        t[--n] = '\0';
    char *nl = strrchr(t, '\n');
    snprintf(buf, len, "%s", nl ? nl + 1 : t);
    free(t);
}

long fx_count_lines(const char *path)
{
    char *t = fx_slurp(path, NULL);
    long n = 0;
    for (char *p = t; p && *p; p++)
        n += *p == '\n';
    free(t);
    return n;
}

int fx_exists(const char *path)
{
    struct stat sb;
    return stat(path, &sb) == 0;
}

void fx_selftrain_argv(char **argv, const char *cli, const char *data, const char *run, int teacher_epochs,
                       int student_epochs, int iterations)
{
    static char te[16], se[16], it[16], sj[4096];
    snprintf(te, sizeof te, "%d", teacher_epochs);
    snprintf(se, sizeof se, "%d", student_epochs);
    snprintf(it, sizeof it, "%d", iterations);
    snprintf(sj, sizeof sj, "%s/selftrain.json", run);
    const char *fresh[] = {cli, "selftrain", "--budget", "none", "--backend", "ref", "--threads", "1", "--data", data,
                           "--labels-per-class", "3", "--teacher-model", "resnet8:width=4", "--student-model",
                           "resnet8:width=4", "--teacher-epochs", te, "--student-epochs", se, "--iterations", it,
                           "--batch", "4", "--lr", "0.05", "--per-class", "20", "--unlabeled-ratio", "2", "--run-dir",
                           run, NULL};
    const char *again[] = {cli, "selftrain", "--resume", run, "--backend", "ref", "--threads", "1", NULL};
    const char *const *src = fx_exists(sj) ? again : fresh;
    size_t i = 0;
    for (; src[i] && i + 1 < FX_ARGV_MAX; i++)
        argv[i] = (char *)src[i]; /* execv's argv is not const; nothing writes through it */
    argv[i] = NULL;
}
