/* bench_mpi: what data parallelism buys on this machine, in one command.
 *
 * Driver (no arguments, or --model/--batch/--steps/...): runs itself under
 * mpirun as workers for 1 rank x 2 threads, 2 ranks x 1 thread and 4 ranks x
 * 1 thread (oversubscribed on 2 cores, for the shape only) and prints one
 * table and the ratio of the first two: the parallel efficiency of 2 ranks
 * against one rank with both cores, measured in the same run.
 *
 * Worker (--worker): every rank trains `train`'s own step (train/train_step.h:
 * forward, loss, backward, the fused gradient all-reduce of core/dist, the
 * NaN/Inf guard, SGD) on its slice of a global batch of random images, the
 * same model and weights everywhere; after warm-up it times --steps steps
 * and the all-reduce inside them (ns_train_step_allreduce_seconds), then the
 * fused all-reduce alone on a buffer of the gradient's size and on one float
 * (bandwidth and latency, for docs/scaling.md). Rank 0 prints one "result"
 * line the driver parses. Compute = step - all-reduce; the all-reduce time
 * includes waiting for the slowest rank (skew), as in any synchronous SGD.
 */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include <noisystudent/rng.h>

#include "dist/dist.h"
#include "nn/model.h"
#include "nn/model_spec.h"
#include "plugin/backend_loader.h"
#include "train/optimizer.h"
#include "train/scheduler.h"
#include "train/train_config.h"
#include "train/train_step.h"
#include "util/error.h"
#include "util/clock.h"

typedef struct cfg {
    const char *model, *backend;
    int batch, steps, warmup, threads, classes;
} cfg;

static ns_status upload_random(ns_backend *be, ns_buf *b, size_t n, uint64_t stream, int classes, int32_t *labels)
{
    float *h = calloc(n ? n : 1, sizeof *h);
    if (!h)
        return ns_fail(NS_ERR_NOMEM, "bench_mpi: no memory for %zu floats", n);
    if (classes) {
        for (size_t i = 0; i < n / (size_t)classes; i++) {
            labels[i] = (int32_t)(ns_philox_u32_at(7, stream, i) % (uint32_t)classes);
            h[i * (size_t)classes + (size_t)labels[i]] = 1.0f;
        }
    } else {
        for (size_t i = 0; i < n; i++)
            h[i] = 2.0f * ns_philox_uniform_at(7, stream, i) - 1.0f;
    }
    ns_status st = be->api->upload(be->ctx, b, 0, h, n);
    free(h);
    return st;
}

/* Seconds per fused all-reduce of n floats, the mean of `reps` after one
 * untimed, every rank starting together. */
static ns_status time_allreduce(size_t n, int reps, double *sec)
{
    float *buf = calloc(n ? n : 1, sizeof *buf);
    if (!buf)
        return ns_fail(NS_ERR_NOMEM, "bench_mpi: no memory for %zu floats", n);
    ns_status st = ns_dist_allreduce_sum_f32(buf, n);
    if (st == NS_OK)
        st = ns_dist_barrier();
    double t0 = ns_now();
    for (int i = 0; st == NS_OK && i < reps; i++)
        st = ns_dist_allreduce_sum_f32(buf, n);
    *sec = (ns_now() - t0) / reps;
    free(buf);
    return st;
}

static ns_status worker(const cfg *c)
{
    const int rank = ns_dist_rank(), size = ns_dist_size();
    /* This rank's slice of the global batch (as the trainer slices it). */
    const int lo = (int)((long long)c->batch * rank / size), hi = (int)((long long)c->batch * (rank + 1) / size);
    const int n = hi - lo;
    if (n < 1)
        return ns_fail(NS_ERR_USAGE, "bench_mpi: --batch %d over %d ranks leaves rank %d nothing", c->batch, size,
                       rank);
    ns_backend_options opt = ns_backend_options_default();
    opt.threads = c->threads;
    ns_backend *be = NULL;
    ns_model *m = NULL;
    ns_optimizer *o = NULL;
    ns_scheduler *sched = NULL;
    ns_train_step *step = NULL;
    ns_buf *x = NULL, *t = NULL;
    int32_t *labels = malloc((size_t)n * sizeof *labels);
    ns_model_spec spec;
    ns_train_config tc = ns_train_config_default();
    ns_status st = labels ? NS_OK : ns_fail(NS_ERR_NOMEM, "bench_mpi: out of memory");
    if (st == NS_OK)
        st = ns_model_spec_parse(c->model, &spec);
    if (st == NS_OK)
        st = ns_backend_open(c->backend, &opt, &be);
    if (st == NS_OK)
        st = ns_model_create(be, &spec, 3, 32, 32, c->classes, &m);
    if (st == NS_OK)
        st = ns_model_init(m, 1); /* the same weights on every rank */
    const size_t in_n = (size_t)n * 3 * 32 * 32, out_n = (size_t)n * c->classes;
    if (st == NS_OK)
        st = be->api->buf_alloc(be->ctx, in_n, &x);
    if (st == NS_OK)
        st = be->api->buf_alloc(be->ctx, out_n, &t);
    if (st == NS_OK)
        st = upload_random(be, x, in_n, 10 + (uint64_t)rank, 0, NULL);
    if (st == NS_OK)
        st = upload_random(be, t, out_n, 100 + (uint64_t)rank, c->classes, labels);
    ns_optimizer_config oc = tc.opt;
    oc.kind = tc.optimizer;
    if (st == NS_OK)
        st = ns_optimizer_create(m, &oc, &o);
    if (st == NS_OK)
        st = ns_scheduler_open(tc.schedule, &sched);
    if (st == NS_OK)
        st = ns_train_step_create(m, o, n, &step);
    double t_steps = 0, ar = 0, loss = NAN;
    for (int i = 0; st == NS_OK && i < c->warmup + c->steps; i++) {
        if (i == c->warmup) {
            st = ns_dist_barrier();
            t_steps = ns_now();
            ar = ns_train_step_allreduce_seconds(step);
        }
        ns_sched_point at = {0, i, c->warmup + c->steps, tc.epochs, tc.lr};
        ns_step_args a = {x, t, n, n, labels, &tc.noise, 7, (int64_t)i, -1, ns_scheduler_lr(sched, &at), c->batch};
        ns_step_result r = {0};
        st = ns_train_step_run(step, &a, &r);
        loss = r.loss;
    }
    if (st == NS_OK) {
        t_steps = ns_now() - t_steps;
        ar = ns_train_step_allreduce_seconds(step) - ar;
    }
    /* The fused all-reduce alone, at the gradient's size and at one float. */
    const size_t grad = st == NS_OK ? ns_model_param_total(m) : 0;
    double ar_grad = 0, ar_one = 0;
    if (st == NS_OK)
        st = time_allreduce(grad, 20, &ar_grad);
    if (st == NS_OK)
        st = time_allreduce(1, 200, &ar_one);
    /* Means over the ranks; the step time is the slowest rank's. */
    double sums[3] = {t_steps, ar, ar_grad};
    int64_t slowest_us = (int64_t)(t_steps * 1e6);
    if (st == NS_OK)
        st = ns_dist_allreduce_sum_f64(sums, 3);
    if (st == NS_OK)
        st = ns_dist_allreduce_max_i64(&slowest_us, 1);
    if (st == NS_OK && rank == 0) {
        const double wall = (double)slowest_us * 1e-6, step_s = wall / c->steps;
        const double ar_step = sums[1] / size / c->steps;
        printf("result ranks=%d threads=%d batch=%d steps=%d images_per_s=%.2f step_ms=%.2f compute_ms=%.2f "
               "allreduce_ms=%.2f grad_floats=%zu fused_allreduce_ms=%.3f latency_us=%.1f loss=%.4f\n",
               size, c->threads, c->batch, c->steps, (double)c->batch * c->steps / wall, 1e3 * step_s,
               1e3 * (sums[0] / size / c->steps - ar_step), 1e3 * ar_step, grad, 1e3 * sums[2] / size, 1e6 * ar_one,
               loss);
        fflush(stdout);
    }
    ns_train_step_destroy(step);
    ns_scheduler_close(sched);
    ns_optimizer_destroy(o);
    if (be) {
        be->api->buf_free(be->ctx, x);
        be->api->buf_free(be->ctx, t);
    }
    ns_model_destroy(m);
    ns_backend_close(be);
    free(labels);
    return st;
}

typedef struct result {
    int ok;
    double ips, step, compute, ar, fused, lat;
    size_t grad;
} result;

/* Runs `ranks` workers with `threads` threads each; parses rank 0's line. */
static result launch(const char *self, const cfg *c, int ranks, int threads)
{
    result r = {0};
    char cmd[8192], line[1024];
    const char *mpirun = NS_MPIRUN_PATH;
    int n;
    if (ranks > 1)
        n = snprintf(cmd, sizeof cmd,
                     "'%s' --oversubscribe --bind-to none -x NS_PLUGIN_PATH -x OMP_NUM_THREADS%s -np %d '%s' --worker "
                     "--model '%s' --backend '%s' --batch %d --steps %d --warmup %d --threads %d 2>&1",
                     mpirun, getenv("OMP_WAIT_POLICY") ? " -x OMP_WAIT_POLICY" : "", ranks, self, c->model,
                     c->backend, c->batch, c->steps, c->warmup, threads);
    else /* one rank: the plain process, as `noisystudent train` runs */
        n = snprintf(cmd, sizeof cmd,
                     "'%s' --worker --model '%s' --backend '%s' --batch %d --steps %d --warmup %d --threads %d 2>&1",
                     self, c->model, c->backend, c->batch, c->steps, c->warmup, threads);
    if (n < 0 || (size_t)n >= sizeof cmd)
        return r;
    char omp[16];
    snprintf(omp, sizeof omp, "%d", threads);
    setenv("OMP_NUM_THREADS", omp, 1);
    FILE *p = popen(cmd, "r");
    if (!p)
        return r;
    while (fgets(line, sizeof line, p)) {
        if (strncmp(line, "result ", 7) != 0) {
            fputs(line, stderr); /* a worker's error, said as it was */
            continue;
        }
        const char *v;
#define FIELD(key, fmt, dst) ((v = strstr(line, " " key "=")) && sscanf(v + strlen(key) + 2, fmt, dst) == 1)
        r.ok = FIELD("images_per_s", "%lf", &r.ips) && FIELD("step_ms", "%lf", &r.step) &&
               FIELD("compute_ms", "%lf", &r.compute) && FIELD("allreduce_ms", "%lf", &r.ar) &&
               FIELD("fused_allreduce_ms", "%lf", &r.fused) && FIELD("latency_us", "%lf", &r.lat) &&
               FIELD("grad_floats", "%zu", &r.grad);
#undef FIELD
    }
    int rc = pclose(p);
    if (rc != 0)
        r.ok = 0;
    return r;
}

static int driver(const char *self, const cfg *c)
{
    /* Open MPI as root (CI containers) and more ranks than cores. */
    setenv("OMPI_ALLOW_RUN_AS_ROOT", "1", 0);
    setenv("OMPI_ALLOW_RUN_AS_ROOT_CONFIRM", "1", 0);
    setenv("OMPI_MCA_pml", "ob1", 0);
    setenv("NS_PLUGIN_PATH", NS_BENCH_PLUGIN_DIR, 0);
    const int have_mpi = ns_dist_built_with_mpi() && NS_MPIRUN_PATH[0] && access(NS_MPIRUN_PATH, X_OK) == 0;
    long cores = sysconf(_SC_NPROCESSORS_ONLN);
    const char *wait = getenv("OMP_WAIT_POLICY");
    printf("bench_mpi: %s on %s, global batch %d, %d warm-up + %d timed steps, %ld cores online, "
           "OMP_WAIT_POLICY=%s\n", c->model, c->backend, c->batch, c->warmup, c->steps, cores,
           wait ? wait : "(unset)");
    printf("bench_mpi: train's step (forward, loss, backward, fused gradient all-reduce, guard, SGD); "
           "compute = step - all-reduce; all-reduce includes waiting for the slowest rank\n\n");
    const struct {
        int ranks, threads;
    } runs[] = {{1, 2}, {2, 1}, {4, 1}};
    result res[3];
    printf("%-16s %10s %10s %11s %13s %16s %11s\n", "ranks x threads", "images/s", "ms/step", "compute ms",
           "allreduce ms", "fused AR alone", "latency us");
    for (int i = 0; i < 3; i++) {
        if (runs[i].ranks > 1 && !have_mpi) {
            printf("%d x %-12d skipped: %s\n", runs[i].ranks, runs[i].threads,
                   ns_dist_built_with_mpi() ? "no mpirun" : "built without MPI");
            res[i].ok = 0;
            continue;
        }
        fflush(stdout);
        res[i] = launch(self, c, runs[i].ranks, runs[i].threads);
        if (!res[i].ok) {
            printf("%d x %-12d FAILED (its output is above)\n", runs[i].ranks, runs[i].threads);
            continue;
        }
        char oversub[32] = "";
        if (runs[i].ranks * runs[i].threads > cores)
            snprintf(oversub, sizeof oversub, "  (oversubscribed)");
        printf("%d x %-12d %10.1f %10.1f %11.1f %13.2f %13.2f ms %11.1f%s\n", runs[i].ranks, runs[i].threads,
               res[i].ips, res[i].step, res[i].compute, res[i].ar, res[i].fused, res[i].lat, oversub);
    }
    if (res[0].ok)
        printf("\ngradient: %zu floats (%.2f MB) per all-reduce\n", res[0].grad, res[0].grad * 4e-6);
    if (res[0].ok && res[1].ok) {
        const double eff = res[1].ips / res[0].ips;
        printf("parallel efficiency, 2 ranks x 1 thread vs 1 rank x 2 threads: %.1f%% (target >= 90%%)\n",
               100.0 * eff);
        return 0;
    }
    return 1;
}

static int parse(int argc, char **argv, cfg *c, int *is_worker)
{
    for (int i = 1; i < argc; i++) {
        const char *a = argv[i], *v = i + 1 < argc ? argv[i + 1] : NULL;
        if (strcmp(a, "--worker") == 0) {
            *is_worker = 1;
            continue;
        }
        if (!v)
            goto usage;
        i++;
        if (strcmp(a, "--model") == 0)
            c->model = v;
        else if (strcmp(a, "--backend") == 0)
            c->backend = v;
        else if (strcmp(a, "--batch") == 0)
            c->batch = atoi(v);
        else if (strcmp(a, "--steps") == 0)
            c->steps = atoi(v);
        else if (strcmp(a, "--warmup") == 0)
            c->warmup = atoi(v);
        else if (strcmp(a, "--threads") == 0)
            c->threads = atoi(v);
        else
            goto usage;
    }
    if (c->batch >= 1 && c->steps >= 1 && c->warmup >= 0 && c->threads >= 0)
        return 0;
usage:
    fprintf(stderr, "usage: bench_mpi [--model SPEC] [--backend B] [--batch GLOBAL] [--steps S] [--warmup W]\n"
                    "       (defaults: resnet20, cpu, 128, 10, 2; --worker and --threads are the driver's)\n");
    return 2;
}

int main(int argc, char **argv)
{
    cfg c = {"resnet20", "cpu", 128, 10, 2, 1, 10};
    int is_worker = 0;
    if (parse(argc, argv, &c, &is_worker))
        return 2;
    if (!is_worker) {
        char self[4096];
        ssize_t n = readlink("/proc/self/exe", self, sizeof self - 1);
        if (n <= 0)
            return 1;
        self[n] = '\0';
        return driver(self, &c);
    }
    if (ns_dist_init(&argc, &argv) != NS_OK) {
        fprintf(stderr, "bench_mpi: %s\n", ns_last_error());
        return 1;
    }
    ns_status st = worker(&c);
    if (st != NS_OK) {
        fprintf(stderr, "bench_mpi: rank %d: %s\n", ns_dist_rank(), ns_last_error());
        if (ns_dist_size() > 1)
            ns_dist_abort(1, "bench_mpi failed");
    }
    ns_dist_finalize();
    return st == NS_OK ? 0 : 1;
}
