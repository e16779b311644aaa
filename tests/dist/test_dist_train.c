/* Data-parallel training through the CLI: `mpirun -np N noisystudent train`
 * against one process, on ref, on a small synthetic task (8x8 images, 4
 * classes, resnet8 at width 4). The test itself is one process; it starts
 * mpirun (the path CMake found) for each multi-rank run.
 *
 * The run that the comparisons use: 16 labeled images, a global batch of 16,
 * so each epoch is ONE step, and 50 epochs are 50 steps whose losses
 * metrics.jsonl records one by one; pad-crop and flip on (the per-image
 * noise must not depend on N); --sync-bn.
 *
 * Proves:
 * - sync_bn_np2 (TCP loopback: --mca btl tcp,self) and sync_bn_np3 (shared
 *   memory: vader,self; 16 over 3 ranks is 5/5/6, an uneven split): every
 *   step's loss within 1e-5 relative of one process's, the final weights
 *   within summation-order tolerance, the test accuracy (each rank evaluates
 *   a share, the counts are summed) the same; rank 1 wrote nothing (its
 *   fault-point trace has training steps and no atomic write);
 * - no_sync_accuracy: without --sync-bn (per-rank statistics), 2 ranks reach
 *   one process's test accuracy within seed noise (10 points) on a harder
 *   task that 5 short epochs learn well short of perfect;
 * - kill_one_rank_then_resume: SIGKILL of rank 1 at its 20th step ends
 *   mpirun non-zero within seconds with a line naming the rank and the
 *   signal; the run then resumes from its checkpoint with 1 rank and with 2
 *   ranks, and both end at the uninterrupted run's weights (tolerance as
 *   above);
 * - failing_rank_stops_all: a rank that fails (rank 1 alone is given a
 *   dataset that does not exist) ends every rank non-zero within seconds,
 *   with one line naming rank 1 and the reason.
 * Skips (visibly) when the build has no MPI or mpirun was not found. */
#include <math.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "dist/dist.h"
#include "faults_util.h"
#include "io/safetensors.h"
#include "synthetic_data.h"

#define STEPS 50

static char root[1024], data[1200], ref_run[1200];
static int have_mpi;

/* The run's definition, shared by every comparison. */
static void train_args(char **argv, size_t *n, const char *run_dir, int sync_bn)
{
    static char epochs[16];
    snprintf(epochs, sizeof epochs, "%d", STEPS);
    char *const a[] = {NS_CLI_PATH, "train", "--backend", "ref", "--threads", "1", "--data", data,
                       "--labels-per-class", "4", "--model", "resnet8:width=4", "--batch", "16", "--epochs", epochs,
                       "--eval-every", "0", "--lr", "0.05", "--run-dir", (char *)run_dir, NULL};
    for (size_t i = 0; a[i]; i++)
        argv[(*n)++] = a[i];
    if (sync_bn)
        argv[(*n)++] = "--sync-bn";
    argv[*n] = NULL;
}

/* mpirun prefix: -np N, the transport, and (for rank 1 only) an env wrapper. */
static void mpi_prefix(char **argv, size_t *n, int np, const char *btl)
{
    argv[(*n)++] = NS_MPIEXEC_PATH;
    argv[(*n)++] = "--oversubscribe";
    argv[(*n)++] = "--mca";
    argv[(*n)++] = "btl";
    argv[(*n)++] = (char *)btl;
    static char npbuf[8];
    snprintf(npbuf, sizeof npbuf, "%d", np);
    argv[(*n)++] = "-np";
    argv[(*n)++] = npbuf;
}

static const char *const mpi_env[] = {"OMPI_ALLOW_RUN_AS_ROOT=1", "OMPI_ALLOW_RUN_AS_ROOT_CONFIRM=1", NULL};

/* Per-step training losses from a run's metrics.jsonl (one step per epoch). */
static int read_losses(const char *run_dir, double *loss, int max)
{
    char path[1300];
    snprintf(path, sizeof path, "%s/metrics.jsonl", run_dir);
    size_t size;
    char *text = fx_slurp(path, &size);
    if (!text)
        return 0;
    int n = 0;
    for (char *p = text; n < max && (p = strstr(p, "\"train_loss\":")); p++)
        loss[n++] = strtod(p + strlen("\"train_loss\":"), NULL);
    free(text);
    return n;
}

/* Every f32 tensor of a within atol + rtol*|b| of b's; prints the worst. */
static int weights_close(const char *a, const char *b, double rtol, double atol)
{
    ns_safetensors *fa = NULL, *fb = NULL;
    if (ns_safetensors_open(a, &fa) != NS_OK || ns_safetensors_open(b, &fb) != NS_OK) {
        printf("cannot open %s or %s\n", a, b);
        ns_safetensors_close(fa);
        return 0;
    }
    int ok = ns_safetensors_count(fa) == ns_safetensors_count(fb);
    double worst = 0;
    const char *worst_name = "";
    for (size_t i = 0; ok && i < ns_safetensors_count(fa); i++) {
        const ns_st_view *va = ns_safetensors_tensor(fa, i), *vb = ns_safetensors_find(fb, va->name);
        ok = vb && va->nbytes == vb->nbytes && va->dtype == vb->dtype;
        if (!ok || va->dtype != NS_ST_F32)
            continue;
        const float *x = va->data, *y = vb->data;
        for (size_t k = 0; k < va->nbytes / 4; k++) {
            double excess = fabs((double)x[k] - y[k]) / (atol + rtol * fabs((double)y[k]));
            if (excess > worst) {
                worst = excess;
                worst_name = va->name;
            }
        }
    }
    printf("weights %s vs %s: worst |diff| / (atol + rtol|ref|) = %.3g (%s)\n", a, b, worst, worst_name);
    ns_safetensors_close(fa);
    ns_safetensors_close(fb);
    return ok && worst <= 1.0;
}

static double test_acc(const char *run_dir)
{
    char path[1300];
    snprintf(path, sizeof path, "%s/metrics.jsonl", run_dir);
    char *text = fx_slurp(path, NULL);
    double acc = -1;
    for (char *p = text; p && (p = strstr(p, "\"test_acc\":")); p++)
        if (p[strlen("\"test_acc\":")] != 'n')
            acc = strtod(p + strlen("\"test_acc\":"), NULL);
    free(text);
    return acc;
}

static int setup(void **state)
{
    (void)state;
    have_mpi = ns_dist_built_with_mpi() && NS_MPIEXEC_PATH[0];
    ns_test_fresh_dir("dist_train", root, sizeof root);
    snprintf(data, sizeof data, "%s/data", root);
    if (ns_test_write_synthetic(data, 20, 20, 7) != 0)
        return -1;
    if (!have_mpi)
        return 0;
    /* The one-process reference, once for every comparison. */
    snprintf(ref_run, sizeof ref_run, "%s/one", root);
    char *argv[64];
    size_t n = 0;
    train_args(argv, &n, ref_run, 1);
    char log[1300];
    snprintf(log, sizeof log, "%s/one.log", root);
    fx_exit e = fx_run(argv, NULL, log, 120);
    if (e.code != 0) {
        printf("the one-process run failed (%d); see %s\n", e.code, log);
        return -1;
    }
    return 0;
}

/* N ranks with --sync-bn over `btl`: step-for-step the one-process run. */
static void sync_bn_follows(int np, const char *btl)
{
    if (!have_mpi)
        skip();
    char run[1300], log[1300], trace[1300], trace_env[1400];
    snprintf(run, sizeof run, "%s/sync%d", root, np);
    snprintf(log, sizeof log, "%s/sync%d.log", root, np);
    snprintf(trace, sizeof trace, "%s/sync%d.rank1.trace", root, np);
    snprintf(trace_env, sizeof trace_env, "NS_FAULT_TRACE=%s", trace);
    char *argv[96];
    size_t n = 0;
    /* Two app contexts: rank 0 as is, ranks 1.. with a fault-point trace. */
    mpi_prefix(argv, &n, 1, btl);
    size_t first = n;
    train_args(argv, &n, run, 1);
    argv[n++] = ":";
    argv[n++] = "-np";
    static char rest[8];
    snprintf(rest, sizeof rest, "%d", np - 1);
    argv[n++] = rest;
    argv[n++] = "/usr/bin/env";
    argv[n++] = trace_env;
    for (size_t i = first; argv[i] && strcmp(argv[i], ":") != 0; i++)
        argv[n++] = argv[i];
    argv[n] = NULL;
    fx_exit e = fx_run(argv, mpi_env, log, 120);
    assert_int_equal(e.code, 0);
    double want[STEPS], got[STEPS];
    assert_int_equal(read_losses(ref_run, want, STEPS), STEPS);
    assert_int_equal(read_losses(run, got, STEPS), STEPS);
    double worst = 0;
    for (int s = 0; s < STEPS; s++) {
        double rel = fabs(got[s] - want[s]) / fabs(want[s]);
        worst = rel > worst ? rel : worst;
        if (rel > 1e-5)
            printf("step %d: loss %.9g with %d ranks, %.9g with one\n", s + 1, got[s], np, want[s]);
        assert_true(rel <= 1e-5);
    }
    printf("%d ranks (%s): %d step losses within %.2g relative of one process\n", np, btl, STEPS, worst);
    char a[1400], b[1400];
    snprintf(a, sizeof a, "%s/model.safetensors", run);
    snprintf(b, sizeof b, "%s/model.safetensors", ref_run);
    assert_true(weights_close(a, b, 1e-3, 1e-5));
    /* The test accuracy, evaluated in shares and summed, is one process's. */
    printf("test accuracy %.4f with %d ranks, %.4f with one\n", test_acc(run), np, test_acc(ref_run));
    assert_true(fabs(test_acc(run) - test_acc(ref_run)) < 1e-9);
    /* Rank 1 trained (its steps are traced) and wrote nothing. */
    char *t = fx_slurp(trace, NULL);
    assert_non_null(t);
    assert_non_null(strstr(t, "train:step"));
    assert_null(strstr(t, "atomic:"));
    free(t);
}

static void sync_bn_np2(void **state)
{
    (void)state;
    sync_bn_follows(2, "tcp,self");
}

static void sync_bn_np3(void **state)
{
    (void)state;
    sync_bn_follows(3, "vader,self");
}

static void no_sync_accuracy(void **state)
{
    (void)state;
    if (!have_mpi)
        skip();
    /* A harder task (a faint quadrant under noise), more images, a few
     * epochs: a teacher that learns it, short of perfect. No pad-crop or
     * flip: both move the quadrant that names the class. */
    char hard[1300], one[1300], two[1300], log[1300];
    snprintf(hard, sizeof hard, "%s/hard", root);
    assert_int_equal(ns_test_write_synthetic_hard(hard, 60, 50, 11, 40, 160), 0);
    snprintf(one, sizeof one, "%s/plain1", root);
    snprintf(two, sizeof two, "%s/plain2", root);
    const char *dirs[2] = {one, two};
    double acc[2];
    for (int k = 0; k < 2; k++) {
        char *argv[64];
        size_t n = 0;
        if (k)
            mpi_prefix(argv, &n, 2, "tcp,self");
        char *const a[] = {NS_CLI_PATH, "train", "--backend", "ref", "--threads", "1", "--data", hard,
                           "--model", "resnet8:width=4", "--batch", "24", "--epochs", "5", "--eval-every", "0",
                           "--lr", "0.1", "--no-pad-crop", "--no-flip", "--run-dir", (char *)dirs[k], NULL};
        for (size_t i = 0; a[i]; i++)
            argv[n++] = a[i];
        argv[n] = NULL;
        snprintf(log, sizeof log, "%s/plain%d.log", root, k + 1);
        fx_exit e = fx_run(argv, mpi_env, log, 120);
        assert_int_equal(e.code, 0);
        acc[k] = test_acc(dirs[k]);
    }
    printf("test accuracy: one process %.3f, 2 ranks (per-rank batchnorm) %.3f\n", acc[0], acc[1]);
    assert_true(acc[0] > 0.5); /* the task is learned (chance: 0.25) */
    assert_true(fabs(acc[0] - acc[1]) <= 0.1);
}

static void kill_one_rank_then_resume(void **state)
{
    (void)state;
    if (!have_mpi)
        skip();
    char run[1300], log[1300], err[1300];
    snprintf(run, sizeof run, "%s/killed", root);
    snprintf(log, sizeof log, "%s/killed.log", root);
    snprintf(err, sizeof err, "%s/killed.err", root);
    char *argv[96];
    size_t n = 0;
    mpi_prefix(argv, &n, 1, "tcp,self");
    size_t first = n;
    train_args(argv, &n, run, 1);
    argv[n++] = ":";
    argv[n++] = "-np";
    argv[n++] = "1";
    argv[n++] = "/usr/bin/env";
    argv[n++] = "NS_FAULT_KILL_AT=20";
    argv[n++] = "NS_FAULT_KILL_MATCH=train:step";
    for (size_t i = first; argv[i] && strcmp(argv[i], ":") != 0; i++)
        argv[n++] = argv[i];
    argv[n] = NULL;
    fx_exit e = fx_run_ex(argv, mpi_env, log, err, NULL, NULL);
    char *text = fx_slurp(err, NULL);
    printf("killed run: exit %d after %.1fs; stderr: %s\n", e.code, e.seconds, text ? text : "(none)");
    assert_true(e.code != 0);
    assert_true(e.seconds < 30); /* 20 steps take a second or two; a hang would take forever */
    assert_non_null(text);
    assert_non_null(strstr(text, "rank 1"));
    assert_true(strstr(text, "signal 9") || strstr(text, "Killed"));
    free(text);
    /* Resume a copy with one rank and the original with two. */
    char copy[1300], cmd[3000];
    snprintf(copy, sizeof copy, "%s/killed-copy", root);
    snprintf(cmd, sizeof cmd, "cp -a '%s' '%s'", run, copy);
    assert_int_equal(system(cmd), 0);
    for (int np = 1; np <= 2; np++) {
        const char *dir = np == 1 ? copy : run;
        n = 0;
        if (np > 1)
            mpi_prefix(argv, &n, np, "tcp,self");
        char *const a[] = {NS_CLI_PATH, "train", "--resume", (char *)dir, "--backend", "ref", "--threads", "1",
                           NULL};
        for (size_t i = 0; a[i]; i++)
            argv[n++] = a[i];
        argv[n] = NULL;
        snprintf(log, sizeof log, "%s/resume%d.log", root, np);
        e = fx_run(argv, mpi_env, log, 120);
        assert_int_equal(e.code, 0);
        char *out = fx_slurp(log, NULL);
        assert_non_null(strstr(out, "continuing after epoch"));
        free(out);
        char a1[1400], b1[1400];
        snprintf(a1, sizeof a1, "%s/model.safetensors", dir);
        snprintf(b1, sizeof b1, "%s/model.safetensors", ref_run);
        assert_true(weights_close(a1, b1, 1e-3, 1e-5));
    }
}

static void failing_rank_stops_all(void **state)
{
    (void)state;
    if (!have_mpi)
        skip();
    char run[1300], log[1300], err[1300], missing[1300];
    snprintf(run, sizeof run, "%s/failing", root);
    snprintf(log, sizeof log, "%s/failing.log", root);
    snprintf(err, sizeof err, "%s/failing.err", root);
    snprintf(missing, sizeof missing, "%s/no-such-data", root);
    char *argv[96];
    size_t n = 0;
    mpi_prefix(argv, &n, 1, "tcp,self");
    size_t first = n;
    train_args(argv, &n, run, 1);
    size_t second = n + 3;
    argv[n++] = ":";
    argv[n++] = "-np";
    argv[n++] = "1";
    for (size_t i = first; argv[i] && strcmp(argv[i], ":") != 0; i++)
        argv[n++] = strcmp(argv[i], data) == 0 ? missing : argv[i];
    argv[n] = NULL;
    assert_true(n > second);
    fx_exit e = fx_run_ex(argv, mpi_env, log, err, NULL, NULL);
    char *text = fx_slurp(err, NULL);
    printf("failing rank: exit %d after %.1fs; stderr: %s\n", e.code, e.seconds, text ? text : "(none)");
    assert_true(e.code != 0 && e.code != -1);
    assert_true(e.seconds < 30);
    assert_non_null(text);
    assert_non_null(strstr(text, "rank 1 of 2"));
    assert_non_null(strstr(text, "no-such-data"));
    free(text);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(sync_bn_np2),
        cmocka_unit_test(sync_bn_np3),
        cmocka_unit_test(no_sync_accuracy),
        cmocka_unit_test(kill_one_rank_then_resume),
        cmocka_unit_test(failing_rank_stops_all),
    };
    return cmocka_run_group_tests(tests, setup, NULL);
}
