/* noisystudent bench: training and inference throughput of a model on a
 * backend, measured after warm-up over a fixed number of steps.
 *
 * A training step is the trainer's own step function (train/train_step.h),
 * so bench times exactly what `train` runs: forward with batch statistics,
 * fused softmax cross-entropy, the loss and the logits read back, backward,
 * the fused NaN/Inf guard, and the optimizer update with `train`'s defaults
 * (SGD, momentum 0.9, Nesterov, weight decay 5e-4 on conv/dense weights) at
 * the learning rate `train`'s default schedule gives in its first epoch.
 * GFLOP/s counts the model's conv and dense FLOPs (ns_model_flops), so
 * it compares across backends and against bench/torch_reference.py.
 *
 * --profile runs the same warm-up and timed steps again, after the timed run
 * and with every backend op timed
 * (plugin/backend_profile.h), and prints where the time went. The normal
 * numbers come from the unprofiled run, so the flag does not change them. */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <noisystudent/rng.h>

#include "backend_options.h"
#include "cli_options.h"
#include "commands.h"
#include "nn/model.h"
#include "nn/model_spec.h"
#include "plugin/backend_profile.h"
#include "train/optimizer.h"
#include "train/scheduler.h"
#include "train/train_config.h"
#include "train/train_step.h"
#include "util/clock.h"
#include "util/error.h"

typedef struct bench_cfg {
    const char *model, *input, *mode, *check;
    int batch, steps, warmup, classes, profile;
    float check_tol;
    uint64_t seed;
} bench_cfg;

typedef struct bench_state {
    ns_backend *be;
    ns_model *m;
    ns_buf *x, *targets;
    int32_t *labels;       /* the targets' classes, for the step's accuracy count */
    ns_train_config train; /* `train`'s defaults: optimizer, schedule, lr, epochs */
    ns_optimizer *opt;
    ns_scheduler *sched;
    ns_train_step *step;
    double last_loss;      /* mean loss of the last step */
} bench_state;

static ns_status parse_input(const char *s, int *c, int *h, int *w)
{
    char tail;
    if (sscanf(s, "%dx%dx%d%c", c, h, w, &tail) != 3 || *c < 1 || *h < 1 || *w < 1)
        return ns_fail(NS_ERR_USAGE, "bench --input %s: expected CxHxW, e.g. 3x32x32", s);
    return NS_OK;
}

static ns_status upload_random(ns_backend *be, ns_buf *b, size_t n, uint64_t seed,
                               uint64_t stream, int one_hot_classes, int32_t *labels)
{
    float *h = malloc((n ? n : 1) * sizeof *h);
    if (!h)
        return ns_fail(NS_ERR_NOMEM, "bench: cannot allocate %zu floats of input", n);
    if (one_hot_classes) {
        memset(h, 0, n * sizeof *h);
        for (size_t i = 0; i < n / (size_t)one_hot_classes; i++) {
            labels[i] = (int32_t)(ns_philox_u32_at(seed, stream, i) % one_hot_classes);
            h[i * one_hot_classes + labels[i]] = 1.0f;
        }
    } else {
        for (size_t i = 0; i < n; i++)
            h[i] = 2.0f * ns_philox_uniform_at(seed, stream, i) - 1.0f;
    }
    ns_status st = be->api->upload(be->ctx, b, 0, h, n);
    free(h);
    return st;
}

/* `train`'s step (train_step.h) on the bench batch, a teacher step of
 * c->batch labeled images, at the learning rate `train`'s default schedule
 * gives step `step` of a first epoch as long as the bench run. */
static ns_status train_step(bench_state *s, const bench_cfg *c, uint64_t step)
{
    const ns_train_config *t = &s->train;
    ns_sched_point at = {0, (int)step, c->warmup + c->steps, t->epochs, t->lr};
    ns_step_args a = {s->x, s->targets, c->batch, c->batch, s->labels, &t->noise, c->seed,
                      (int64_t)step, -1, ns_scheduler_lr(s->sched, &at), 0};
    ns_step_result r;
    NS_TRY(ns_train_step_run(s->step, &a, &r));
    s->last_loss = r.loss;
    return NS_OK;
}

static ns_status infer_step(bench_state *s, const bench_cfg *c)
{
    const ns_buf *logits = NULL;
    NS_TRY(ns_model_forward(s->m, s->x, c->batch, 0, NULL, c->seed, 0, &logits));
    return ns_backend_sync(s->be);
}

static void report(const char *what, const bench_cfg *c, double seconds, double flops_per_image)
{
    double images = (double)c->batch * c->steps;
    printf("%-6s %10.1f images/s %9.2f GFLOP/s %9.2f ms/step\n", what, images / seconds,
           images * flops_per_image / seconds * 1e-9, 1e3 * seconds / c->steps);
}

/* Prints the profile of `steps` training steps or inference forwards that took
 * `wall` seconds, with how much of that the backend ops account for. */
static ns_status print_profile(const bench_state *s, const char *what, int steps, double wall)
{
    ns_profile_op ops[64];
    size_t n = ns_backend_profile_ops(s->be, ops, sizeof ops / sizeof *ops);
    double in_ops = 0.0;
    for (size_t i = 0; i < n && i < sizeof ops / sizeof *ops; i++)
        in_ops += ops[i].seconds;
    char title[256];
    snprintf(title, sizeof title,
             "profile: %s on %s, %d steps: %.2f ms/step wall, %.2f ms/step in backend ops "
             "(%.1f%%)%s",
             what, s->be->name, steps, 1e3 * wall / steps, 1e3 * in_ops / steps,
             wall > 0.0 ? 100.0 * in_ops / wall : 0.0,
             s->be->api->synchronize ? "; each op synchronized, so the queue is serialised" : "");
    printf("\n");
    return ns_backend_profile_print(s->be, stdout, title, steps);
}

/* The --profile pass, shaped as the timed run: c->warmup then c->steps more
 * training steps, then c->warmup then c->steps inference forwards; the
 * statistics are reset after each warm-up, so a table holds only the steps
 * it names, measured as the timed run measures them (one-off work such as
 * primitive creation or layout changes after training falls in the warm-up). */
static ns_status run_profile(bench_state *s, const bench_cfg *c, int do_train, int do_infer)
{
    NS_TRY(ns_backend_profile_start(s->be));
    if (do_train) {
        uint64_t step = (uint64_t)(c->warmup + c->steps);
        for (int i = 0; i < c->warmup; i++)
            NS_TRY(train_step(s, c, step++));
        ns_backend_profile_reset(s->be);
        double t0 = ns_now();
        for (int i = 0; i < c->steps; i++)
            NS_TRY(train_step(s, c, step++));
        NS_TRY(print_profile(s, "training step", c->steps, ns_now() - t0));
    }
    if (do_infer) {
        for (int i = 0; i < c->warmup; i++)
            NS_TRY(infer_step(s, c));
        ns_backend_profile_reset(s->be);
        double t0 = ns_now();
        for (int i = 0; i < c->steps; i++)
            NS_TRY(infer_step(s, c));
        NS_TRY(print_profile(s, "inference forward", c->steps, ns_now() - t0));
    }
    ns_backend_profile_stop(s->be);
    return NS_OK;
}

/* Opens the backend, builds and initialises the model, uploads inputs and targets. */
static ns_status setup(bench_state *s, const bench_cfg *c, const ns_cli_backend *bk)
{
    int ic, ih, iw;
    NS_TRY(parse_input(c->input, &ic, &ih, &iw));
    ns_model_spec spec;
    NS_TRY(ns_model_spec_parse(c->model, &spec));
    NS_TRY(ns_cli_backend_open(bk, &s->be));
    NS_TRY(ns_model_create(s->be, &spec, ic, ih, iw, c->classes, &s->m));
    NS_TRY(ns_model_init(s->m, c->seed));
    const ns_backend_api *api = s->be->api;
    void *ctx = s->be->ctx;
    size_t in_n = (size_t)c->batch * ic * ih * iw, out_n = (size_t)c->batch * c->classes;
    NS_TRY(api->buf_alloc(ctx, in_n, &s->x));
    NS_TRY(api->buf_alloc(ctx, out_n, &s->targets));
    s->labels = malloc((size_t)c->batch * sizeof *s->labels);
    if (!s->labels)
        return ns_fail(NS_ERR_NOMEM, "bench: out of host memory");
    NS_TRY(upload_random(s->be, s->x, in_n, c->seed, 1, 0, NULL));
    NS_TRY(upload_random(s->be, s->targets, out_n, c->seed, 2, c->classes, s->labels));
    /* The optimizer and schedule `noisystudent train` runs by default. */
    s->train = ns_train_config_default();
    ns_optimizer_config oc = s->train.opt;
    oc.kind = s->train.optimizer;
    NS_TRY(ns_optimizer_create(s->m, &oc, &s->opt));
    NS_TRY(ns_scheduler_open(s->train.schedule, &s->sched));
    return ns_train_step_create(s->m, s->opt, c->batch, &s->step);
}

static ns_status run(bench_state *s, const bench_cfg *c, const ns_cli_backend *bk)
{
    int ic, ih, iw;
    NS_TRY(parse_input(c->input, &ic, &ih, &iw));
    int do_train = strcmp(c->mode, "infer") != 0, do_infer = strcmp(c->mode, "train") != 0;
    NS_TRY(setup(s, c, bk));
    const ns_backend_api *api = s->be->api;
    void *ctx = s->be->ctx;
    printf("bench: backend %s (%s), model %s, input %dx%dx%d, batch %d, precision %s, "
           "%zu params\n",
           s->be->name, api->describe ? api->describe(ctx) : "", c->model, ic, ih, iw, c->batch,
           ns_cli_backend_precision(s->be), ns_model_param_total(s->m));
    printf("bench: %d warm-up + %d timed steps; GFLOP per image: train %.4f, infer %.4f\n",
           c->warmup, c->steps, ns_model_flops(s->m, 1) * 1e-9, ns_model_flops(s->m, 0) * 1e-9);
    fflush(stdout);
    if (do_train) {
        for (int i = 0; i < c->warmup; i++)
            NS_TRY(train_step(s, c, (uint64_t)i));
        double first = s->last_loss;
        double t0 = ns_now();
        for (int i = 0; i < c->steps; i++)
            NS_TRY(train_step(s, c, (uint64_t)(c->warmup + i)));
        double t = ns_now() - t0;
        double last = s->last_loss;
        if (!isfinite(last))
            return ns_fail(NS_ERR_NUMERIC, "bench: training loss became %g", last);
        report("train", c, t, ns_model_flops(s->m, 1));
        printf("bench: training loss %.4f after warm-up, %.4f at the end\n", first, last);
        fflush(stdout);
    }
    if (do_infer) {
        for (int i = 0; i < c->warmup; i++)
            NS_TRY(infer_step(s, c));
        double t0 = ns_now();
        for (int i = 0; i < c->steps; i++)
            NS_TRY(infer_step(s, c));
        report("infer", c, ns_now() - t0, ns_model_flops(s->m, 0));
    }
    fflush(stdout);
    if (c->profile)
        NS_TRY(run_profile(s, c, do_train, do_infer));
    return NS_OK;
}

/* Trains the same model from the same initial weights on both backends and
 * compares the mean loss step by step: the loss curve must follow the
 * reference within check_tol (relative). */
static ns_status run_check(bench_state *s, bench_state *r, bench_cfg *c,
                           const ns_cli_backend *bk)
{
    ns_cli_backend rk = *bk;
    rk.backend = c->check;
    rk.precision = "fp32";
    NS_TRY(setup(s, c, bk));
    NS_TRY(setup(r, c, &rk));
    /* The precision the backend runs, not the flag: --precision auto may have
     * fallen back to fp32, which must be held to the fp32 tolerance. */
    const char *precision = ns_cli_backend_precision(s->be);
    if (c->check_tol < 0.0f)
        c->check_tol = strcmp(precision, "fp32") == 0 ? 5e-3f : 5e-2f;
    printf("check: %s (%s) against %s (%s), model %s, input %s, batch %d, precision %s, "
           "%d steps\n",
           s->be->name, s->be->api->describe ? s->be->api->describe(s->be->ctx) : "", r->be->name,
           r->be->api->describe ? r->be->api->describe(r->be->ctx) : "", c->model, c->input,
           c->batch, precision, c->steps);
    double worst = 0.0, first_s = 0.0, first_r = 0.0, ls = 0.0, lr = 0.0;
    int worst_step = 0;
    for (int i = 0; i < c->steps; i++) {
        NS_TRY(train_step(s, c, (uint64_t)i));
        NS_TRY(train_step(r, c, (uint64_t)i));
        ls = s->last_loss;
        lr = r->last_loss;
        if (!isfinite(ls))
            return ns_fail(NS_ERR_NUMERIC, "bench --check: loss on %s became %g at step %d",
                           s->be->name, ls, i);
        double rel = fabs(ls - lr) / (fabs(lr) > 1e-12 ? fabs(lr) : 1e-12);
        if (rel > worst) {
            worst = rel;
            worst_step = i;
        }
        if (i == 0) {
            first_s = ls;
            first_r = lr;
        }
        if (i % 10 == 0 || i == c->steps - 1)
            printf("step %4d  loss %s %.6f  %s %.6f  relative difference %.2e\n", i,
                   s->be->name, ls, r->be->name, lr, rel);
    }
    printf("check: loss %.4f -> %.4f (%s) vs %.4f -> %.4f (%s); worst relative difference "
           "%.2e at step %d (tolerance %.1e): %s\n",
           first_s, ls, s->be->name, first_r, lr, r->be->name, worst, worst_step,
           (double)c->check_tol, worst <= c->check_tol ? "ok" : "FAILED");
    if (!(worst <= c->check_tol))
        return ns_fail(NS_ERR_NUMERIC,
                       "bench --check: the loss curve left %s's by %.2e (tolerance %.1e) at "
                       "step %d",
                       r->be->name, worst, (double)c->check_tol, worst_step);
    return NS_OK;
}

static void cleanup(bench_state *s)
{
    if (s->be) {
        ns_backend_profile_stop(s->be); /* when a --profile pass failed half-way */
        const ns_backend_api *api = s->be->api;
        api->buf_free(s->be->ctx, s->x);
        api->buf_free(s->be->ctx, s->targets);
    }
    free(s->labels);
    ns_train_step_destroy(s->step);
    ns_scheduler_close(s->sched);
    ns_optimizer_destroy(s->opt);
    ns_model_destroy(s->m);
    if (s->be)
        ns_backend_close(s->be);
}

int ns_cmd_bench(int argc, char **argv)
{
    ns_cli_backend bk = ns_cli_backend_default();
    bench_cfg c = {"resnet20", "3x32x32", "both", NULL, 128, 20, 3, 10, 0, -1.0f, 1};
    int help = 0;
    const ns_opt opts[] = {
        {"model", NS_OPT_STRING, &c.model, "SPEC",
         "model spec: resnet8, resnet20, seed-resnet50, ... (default resnet20)", NULL, 0, -1},
        {"input", NS_OPT_STRING, &c.input, "CxHxW", "input shape (default 3x32x32)", NULL, 0, -1},
        {"batch", NS_OPT_INT, &c.batch, "N", "images per step (default 128)", NULL, 1, 65536},
        {"steps", NS_OPT_INT, &c.steps, "S", "timed steps (default 20)", NULL, 1, 1000000},
        {"warmup", NS_OPT_INT, &c.warmup, "W", "untimed steps first (default 3)", NULL, 0, 1000000},
        {"classes", NS_OPT_INT, &c.classes, "K", "output classes (default 10)", NULL, 2, 100000},
        {"mode", NS_OPT_STRING, &c.mode, "M", "train, infer or both (default both)", NULL, 0, -1},
        {"seed", NS_OPT_U64, &c.seed, "N", "seed of weights and inputs (default 1)", NULL, 1, 0},
        {"check", NS_OPT_STRING, &c.check, "B",
         "instead of timing: train --steps steps on this backend AND on B (e.g. ref) from the "
         "same weights and compare the loss curves", NULL, 0, -1},
        {"check-tol", NS_OPT_FLOAT, &c.check_tol, "T",
         "worst relative loss difference --check accepts (default 5e-3 fp32, 5e-2 bf16/fp16)",
         NULL, 0, 1},
        {"profile", NS_OPT_FLAG, &c.profile, NULL,
         "after the timed run, run its warm-up and steps again with every backend op timed; print "
         "a per-op table (calls, ms, share, conv/dense GFLOP/s) for training and for inference",
         NULL, 0, -1},
        NS_CLI_BACKEND_OPTS(bk),
    };
    const size_t n_opts = sizeof opts / sizeof *opts;
    ns_status st = ns_cli_parse("bench", argc, argv, 1, opts, n_opts, NULL, 0, NULL, &help);
    if (st != NS_OK)
        return ns_cli_fail(st);
    if (help) {
        ns_cli_print_help("bench", "[--backend B] [--model M] [--input CxHxW] [--batch N] [options]",
                          "Measures training steps (forward, loss, backward, SGD) and inference\n"
                          "forwards per second after warm-up, and the GFLOP/s they achieve.\n"
                          "bench/compare runs the same against PyTorch. With --check B it\n"
                          "instead trains on this backend and on B side by side and compares\n"
                          "the loss curves (e.g. --backend cpu --check ref --steps 100).\n"
                          "With --profile it also says where the time goes, per backend op, for the\n"
                          "training step and the inference forward (on asynchronous backends\n"
                          "each op is synchronized, so the shares are what to read there).",
                          opts, n_opts);
        return 0;
    }
    if (strcmp(c.mode, "train") && strcmp(c.mode, "infer") && strcmp(c.mode, "both")) {
        ns_set_error("bench --mode %s: expected train, infer or both", c.mode);
        return ns_cli_fail(NS_ERR_USAGE);
    }
    if (c.check && c.profile) {
        ns_set_error("bench --profile: times a run, so it does not combine with --check %s",
                     c.check);
        return ns_cli_fail(NS_ERR_USAGE);
    }
    bench_state s, r;
    memset(&s, 0, sizeof s);
    memset(&r, 0, sizeof r);
    st = c.check ? run_check(&s, &r, &c, &bk) : run(&s, &c, &bk);
    cleanup(&r);
    cleanup(&s);
    return st == NS_OK ? 0 : ns_cli_fail(st);
}
