#include "train/train_step.h"

#include <inttypes.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>

#include "dist/dist.h"
#include "dist/grad_allreduce.h"
#include "train/evaluate.h"
#include "train/step_loss.h"
#include "util/error.h"

struct ns_train_step {
    ns_model *model;
    ns_optimizer *opt;
    ns_backend *be;
    int classes, max_batch;
    ns_buf *loss, *dlogits;
    float *loss_host, *logits_host;
    /* What the guard counts, in the order the slow path searches it:
     * parameter values [0, np), running statistics [np, np+ns), gradients
     * [np+ns, 2np+ns). Values are causally first (the previous update), then
     * what this forward wrote, then what this backward wrote. */
    const ns_buf **guard_bufs;
    size_t *guard_sizes;
    size_t n_values, n_guard;
    uint64_t guard_calls;
    /* Dynamic loss scaling (fp16): the loss gradient is multiplied by
     * `scale` (a power of two), the gradients divided by it again before the
     * update; an overflow skips the step and halves it, `interval` clean
     * steps in a row double it. */
    int scaling;
    float scale;
    int clean, interval;
    uint64_t skipped;
    /* Data parallelism: every gradient, for the one fused all-reduce. */
    ns_buf **grads;
    size_t *grad_sizes;
    ns_grad_fusion fusion;
};

void ns_train_step_destroy(ns_train_step *s)
{
    if (!s)
        return;
    s->be->api->buf_free(s->be->ctx, s->loss);
    s->be->api->buf_free(s->be->ctx, s->dlogits);
    free(s->loss_host);
    free(s->logits_host);
    free(s->guard_bufs);
    free(s->guard_sizes);
    free(s->grads);
    free(s->grad_sizes);
    ns_grad_fusion_free(&s->fusion);
    free(s);
}

ns_status ns_train_step_create(ns_model *m, ns_optimizer *opt, int max_batch, ns_train_step **out)
{
    *out = NULL;
    if (max_batch < 1)
        return ns_fail(NS_ERR_INVALID_ARG, "training step: batch %d, expected at least 1", max_batch);
    ns_train_step *s = calloc(1, sizeof *s);
    if (!s)
        return ns_fail(NS_ERR_NOMEM, "training step: out of memory");
    s->model = m;
    s->opt = opt;
    s->be = ns_model_backend(m);
    s->classes = ns_model_classes(m);
    s->max_batch = max_batch;
    if (s->be->opt.precision == NS_PRECISION_FP16)
        ns_train_step_enable_loss_scaling(s, NS_LOSS_SCALE_INIT, NS_LOSS_SCALE_INTERVAL);
    const size_t np = ns_model_num_params(m), nst = ns_model_num_states(m);
    const size_t b = (size_t)max_batch, k = (size_t)s->classes;
    s->n_values = np + nst;
    s->n_guard = 2 * np + nst;
    s->guard_bufs = malloc((s->n_guard ? s->n_guard : 1) * sizeof *s->guard_bufs);
    s->guard_sizes = malloc((s->n_guard ? s->n_guard : 1) * sizeof *s->guard_sizes);
    s->loss_host = malloc(b * sizeof *s->loss_host);
    s->logits_host = malloc(b * k * sizeof *s->logits_host);
    s->grads = malloc((np ? np : 1) * sizeof *s->grads);
    s->grad_sizes = malloc((np ? np : 1) * sizeof *s->grad_sizes);
    ns_status st = NS_OK;
    if (!s->guard_bufs || !s->guard_sizes || !s->loss_host || !s->logits_host || !s->grads || !s->grad_sizes)
        st = ns_fail(NS_ERR_NOMEM, "training step: out of memory");
    if (st == NS_OK)
        st = s->be->api->buf_alloc(s->be->ctx, b, &s->loss);
    if (st == NS_OK)
        st = s->be->api->buf_alloc(s->be->ctx, b * k, &s->dlogits);
    if (st != NS_OK) {
        ns_train_step_destroy(s);
        return st;
    }
    for (size_t i = 0; i < np; i++) {
        const ns_param *p = ns_model_param(m, i);
        s->guard_bufs[i] = p->value;
        s->guard_sizes[i] = p->size;
        s->guard_bufs[np + nst + i] = p->grad;
        s->guard_sizes[np + nst + i] = p->size;
        s->grads[i] = p->grad;
        s->grad_sizes[i] = p->size;
    }
    for (size_t i = 0; i < nst; i++) {
        const ns_param *p = ns_model_state(m, i);
        s->guard_bufs[np + i] = p->value;
        s->guard_sizes[np + i] = p->size;
    }
    *out = s;
    return NS_OK;
}

uint64_t ns_train_step_guard_calls(const ns_train_step *s) { return s->guard_calls; }

double ns_train_step_allreduce_seconds(const ns_train_step *s) { return s->fusion.seconds; }

/* "epoch E step S" (1-based epoch, as the progress lines print it). */
static void where(char *buf, size_t len, int epoch, int64_t step)
{
    if (epoch >= 0)
        snprintf(buf, len, "epoch %d step %" PRId64, epoch + 1, step);
    else
        snprintf(buf, len, "step %" PRId64, step);
}

/* The slow path, taken only after the fused count said something is wrong:
 * the first of the first `count` guarded tensors that holds a NaN/Inf. */
static ns_status first_bad(ns_train_step *s, size_t count, size_t *index, uint64_t *bad)
{
    for (size_t i = 0; i < count; i++) {
        ns_reduce_result r;
        NS_TRY(ns_backend_reduce(s->be, s->guard_bufs[i], s->guard_sizes[i], &r));
        if (r.nonfinite) {
            *index = i;
            *bad = r.nonfinite;
            return NS_OK;
        }
    }
    *index = count;
    *bad = 0;
    return NS_OK;
}

/* Name of guarded tensor i: "<param>", "<state>" or "gradient of <param>". */
static void guard_name(ns_train_step *s, size_t i, char *buf, size_t len)
{
    const size_t np = ns_model_num_params(s->model);
    if (i < np)
        snprintf(buf, len, "%s", ns_model_param(s->model, i)->name);
    else if (i < s->n_values)
        snprintf(buf, len, "%s", ns_model_state(s->model, i - np)->name);
    else
        snprintf(buf, len, "gradient of %s", ns_model_param(s->model, i - s->n_values)->name);
}

/* NaN/Inf over the first `count` guarded tensors: one fused call. Under
 * data parallelism the verdict is every rank's (the largest count), so all
 * ranks skip, fail or go on together and the fp16 scale stays the same. */
static ns_status count_bad(ns_train_step *s, size_t count, uint64_t *total)
{
    s->guard_calls++;
    NS_TRY(ns_backend_count_nonfinite(s->be, count, s->guard_bufs, s->guard_sizes, total));
    if (ns_dist_size() > 1) {
        int64_t t = *total > (uint64_t)INT64_MAX ? INT64_MAX : (int64_t)*total;
        NS_TRY(ns_dist_allreduce_max_i64(&t, 1));
        *total = (uint64_t)t;
    }
    return NS_OK;
}

/* After a non-zero count: names the first bad tensor in one line and fails. */
static ns_status report_bad(ns_train_step *s, size_t count, uint64_t total, int epoch, int64_t step,
                            const char *what)
{
    size_t i;
    uint64_t bad;
    NS_TRY(first_bad(s, count, &i, &bad));
    char at[64], name[160];
    where(at, sizeof at, epoch, step);
    if (i == count) /* the fused count and the per-tensor reduce disagree: a backend bug */
        return ns_fail(NS_ERR_INTERNAL, "%s: count_nonfinite found %" PRIu64 " NaN/Inf values that no "
                       "per-tensor reduce finds", at, total);
    guard_name(s, i, name, sizeof name);
    return ns_fail(NS_ERR_NUMERIC, "%s: %s has %" PRIu64 " NaN/Inf values (the first non-finite tensor; %" PRIu64
                   " in all); %s (lower --lr?)", at, name, bad, total, what);
}

/* Counts, and on a non-zero count reports (fails). */
static ns_status guard(ns_train_step *s, size_t count, int epoch, int64_t step, const char *what)
{
    uint64_t total = 0;
    NS_TRY(count_bad(s, count, &total));
    return total ? report_bad(s, count, total, epoch, step, what) : NS_OK;
}

void ns_train_step_enable_loss_scaling(ns_train_step *s, float init_scale, int interval)
{
    s->scaling = 1;
    s->scale = init_scale;
    s->clean = 0;
    s->interval = interval > 0 ? interval : NS_LOSS_SCALE_INTERVAL;
}

int ns_train_step_loss_scale(const ns_train_step *s, float *scale, int *clean, uint64_t *skipped)
{
    if (scale)
        *scale = s->scaling ? s->scale : 1.0f;
    if (clean)
        *clean = s->clean;
    if (skipped)
        *skipped = s->skipped;
    return s->scaling;
}

ns_status ns_train_step_get_scale_state(const ns_train_step *s, char *buf, size_t len)
{
    int n = s->scaling ? snprintf(buf, len, "scale=%a,clean=%d", (double)s->scale, s->clean)
                       : snprintf(buf, len, "%s", "");
    if (n < 0 || (size_t)n >= len)
        return ns_fail(NS_ERR_INTERNAL, "loss scale state: %d bytes do not fit in %zu", n, len);
    return NS_OK;
}

ns_status ns_train_step_set_scale_state(ns_train_step *s, const char *state)
{
    if (!s->scaling || !state[0])
        return NS_OK; /* an fp32 run keeps no scale; an fp16 one without a saved state starts afresh */
    double scale;
    int clean, used = 0;
    if (sscanf(state, "scale=%la,clean=%d%n", &scale, &clean, &used) != 2 || state[used] != '\0' ||
        !(scale > 0 && scale <= 3.0e38) || clean < 0)
        return ns_fail(NS_ERR_FORMAT, "loss scale state '%s': expected scale=<positive hex float>,clean=<count>",
                       state);
    s->scale = (float)scale;
    s->clean = clean;
    return NS_OK;
}

/* grad /= scale for every parameter, before the update: exact, scale being a
 * power of two. */
static ns_status unscale(ns_train_step *s)
{
    const float inv = 1.0f / s->scale;
    for (size_t i = 0; i < ns_model_num_params(s->model); i++) {
        ns_param *p = ns_model_param(s->model, i);
        NS_TRY(s->be->api->axpby(s->be->ctx, p->grad, p->grad, p->size, inv, 0.0f));
    }
    return NS_OK;
}

ns_status ns_train_step_check_weights(ns_train_step *s, int epoch, int64_t step)
{
    return guard(s, s->n_values, epoch, step, "nothing of this epoch was saved");
}

ns_status ns_train_step_run(ns_train_step *s, const ns_step_args *a, ns_step_result *r)
{
    ns_backend *be = s->be;
    const int K = s->classes;
    r->loss = NAN;
    r->correct = 0;
    r->skipped = 0;
    if (a->n_lab < 1 || a->n < a->n_lab || a->n > s->max_batch)
        return ns_fail(NS_ERR_INVALID_ARG, "training step: %d rows (%d labeled), expected 1 <= labeled <= rows <= %d",
                       a->n, a->n_lab, s->max_batch);
    const ns_buf *logits = NULL;
    NS_TRY(ns_model_forward(s->model, a->x, a->n, 1, a->noise, a->seed, (uint64_t)a->step, &logits));
    double loss;
    const float scale = s->scaling ? s->scale : 1.0f;
    const int div = a->n_lab_global > 0 ? a->n_lab_global : a->n_lab;
    NS_TRY(ns_step_loss_div(be, a->n, a->n_lab, div, K, logits, a->targets, scale, s->loss, s->dlogits,
                            s->loss_host, &loss));
    if (a->labels) {
        NS_TRY(be->api->download(be->ctx, logits, 0, s->logits_host, (size_t)a->n_lab * K));
        for (int i = 0; i < a->n_lab; i++)
            r->correct += a->labels[i] >= 0 && ns_argmax(s->logits_host + (size_t)i * K, K) == a->labels[i];
    }
    if (ns_dist_size() > 1) {
        /* Each rank's loss is its rows' share of the global one (divided by
         * the global labeled count): the sum is the step's loss, the same on
         * every rank, so the verdict below is too. */
        double v[2] = {loss, (double)r->correct};
        NS_TRY(ns_dist_allreduce_sum_f64(v, 2));
        loss = v[0];
        r->correct = (int)v[1];
    }
    if (!isfinite(loss)) {
        /* Name what made it: a weight or running statistic when one is bad
         * (the values are searched, not the gradients: no backward ran). */
        NS_TRY(guard(s, s->n_values, a->epoch, a->step, "stopping before the update"));
        char at[64];
        where(at, sizeof at, a->epoch, a->step);
        return ns_fail(NS_ERR_NUMERIC, "%s: the loss is %g with finite weights (the first non-finite tensor: "
                       "the logits); stopping before the update (lower --lr?)", at, loss);
    }
    NS_TRY(ns_model_backward(s->model, s->dlogits));
    /* Data parallelism: each rank's gradients are its slice's share of the
     * global batch's; one fused sum makes them the global gradient on every
     * rank, before the guard looks at them and the optimizer uses them. */
    NS_TRY(ns_grad_allreduce(be, &s->fusion, ns_model_num_params(s->model), s->grads, s->grad_sizes));
    uint64_t total = 0;
    NS_TRY(count_bad(s, s->n_guard, &total));
    if (total && s->scaling && s->scale > 1.0f) {
        /* Scaled gradients overflowed, or something real broke: a second
         * fused count (only now) over the weights and statistics tells. */
        uint64_t in_values = 0;
        NS_TRY(count_bad(s, s->n_values, &in_values));
        if (!in_values) {
            s->scale *= 0.5f;
            s->clean = 0;
            s->skipped++;
            r->skipped = 1;
            r->loss = loss;
            char at[64];
            where(at, sizeof at, a->epoch, a->step);
            ns_log(1, "%s: %" PRIu64 " gradient values overflowed at loss scale %g; step skipped, scale now %g", at,
                   total, (double)s->scale * 2, (double)s->scale);
            return NS_OK;
        }
    }
    if (total)
        return report_bad(s, s->n_guard, total, a->epoch, a->step, "the step was not applied");
    if (s->scaling)
        NS_TRY(unscale(s));
    NS_TRY(ns_optimizer_step(s->opt, a->lr));
    if (s->scaling && ++s->clean >= s->interval && s->scale < 1.0e38f) {
        s->scale *= 2.0f;
        s->clean = 0;
    }
    r->loss = loss;
    return NS_OK;
}
