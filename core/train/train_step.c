#include "train/train_step.h"

#include <inttypes.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>

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
    const size_t np = ns_model_num_params(m), nst = ns_model_num_states(m);
    const size_t b = (size_t)max_batch, k = (size_t)s->classes;
    s->n_values = np + nst;
    s->n_guard = 2 * np + nst;
    s->guard_bufs = malloc((s->n_guard ? s->n_guard : 1) * sizeof *s->guard_bufs);
    s->guard_sizes = malloc((s->n_guard ? s->n_guard : 1) * sizeof *s->guard_sizes);
    s->loss_host = malloc(b * sizeof *s->loss_host);
    s->logits_host = malloc(b * k * sizeof *s->logits_host);
    ns_status st = NS_OK;
    if (!s->guard_bufs || !s->guard_sizes || !s->loss_host || !s->logits_host)
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

/* Counts NaN/Inf over the first `count` guarded tensors in one call; on a
 * non-zero count names the first bad tensor in one line and fails. */
static ns_status guard(ns_train_step *s, size_t count, int epoch, int64_t step, const char *what)
{
    uint64_t total = 0;
    s->guard_calls++;
    NS_TRY(ns_backend_count_nonfinite(s->be, count, s->guard_bufs, s->guard_sizes, &total));
    if (!total)
        return NS_OK;
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
    if (a->n_lab < 1 || a->n < a->n_lab || a->n > s->max_batch)
        return ns_fail(NS_ERR_INVALID_ARG, "training step: %d rows (%d labeled), expected 1 <= labeled <= rows <= %d",
                       a->n, a->n_lab, s->max_batch);
    const ns_buf *logits = NULL;
    NS_TRY(ns_model_forward(s->model, a->x, a->n, 1, a->noise, a->seed, (uint64_t)a->step, &logits));
    double loss;
    NS_TRY(ns_step_loss(be, a->n, a->n_lab, K, logits, a->targets, s->loss, s->dlogits, s->loss_host, &loss));
    if (!isfinite(loss)) {
        /* Name what made it: a weight or running statistic when one is bad
         * (the values are searched, not the gradients: no backward ran). */
        NS_TRY(guard(s, s->n_values, a->epoch, a->step, "stopping before the update"));
        char at[64];
        where(at, sizeof at, a->epoch, a->step);
        return ns_fail(NS_ERR_NUMERIC, "%s: the loss is %g with finite weights (the first non-finite tensor: "
                       "the logits); stopping before the update (lower --lr?)", at, loss);
    }
    if (a->labels) {
        NS_TRY(be->api->download(be->ctx, logits, 0, s->logits_host, (size_t)a->n_lab * K));
        for (int i = 0; i < a->n_lab; i++)
            r->correct += a->labels[i] >= 0 && ns_argmax(s->logits_host + (size_t)i * K, K) == a->labels[i];
    }
    NS_TRY(ns_model_backward(s->model, s->dlogits));
    NS_TRY(guard(s, s->n_guard, a->epoch, a->step, "the step was not applied"));
    NS_TRY(ns_optimizer_step(s->opt, a->lr));
    r->loss = loss;
    return NS_OK;
}
