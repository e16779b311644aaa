#include "train/scheduler_builtin.h"

#include <float.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "util/error.h"
#include "util/kv.h"

typedef enum { SCHED_CONSTANT, SCHED_STEP, SCHED_COSINE, SCHED_PLATEAU } sched_kind;

typedef struct sched {
    sched_kind kind;
    /* step */
    int every;
    float gamma;
    int milestones[16];
    int n_milestones;
    /* cosine */
    float warmup;
    float min_lr;
    /* plateau (state after the params) */
    float factor;
    int patience, stop;
    float min_delta;
    float best;  /* best metric so far (-inf before the first epoch) */
    int bad;     /* epochs since the last improvement, reset on each reduction */
    int stale;   /* epochs since the last improvement, for early stopping */
    float scale; /* product of the reductions applied */
} sched;

static ns_status parse_milestones(const char *text, sched *s, const char *what)
{
    char buf[256];
    snprintf(buf, sizeof buf, "%s", text);
    char *save = NULL;
    for (char *t = strtok_r(buf, "-", &save); t; t = strtok_r(NULL, "-", &save)) {
        char *end;
        long v = strtol(t, &end, 10);
        if (*end || v < 1 || s->n_milestones == 16)
            return ns_fail(NS_ERR_USAGE, "%s: milestones=%s: expected up to 16 epochs >= 1 like 30-60-90",
                           what, text);
        s->milestones[s->n_milestones++] = (int)v;
    }
    return NS_OK;
}

static ns_status create_kind(sched_kind kind, const char *name, const char *params, void **ctx)
{
    char what[64];
    snprintf(what, sizeof what, "--schedule %s", name);
    ns_kv kv;
    NS_TRY(ns_kv_parse(params, what, &kv));
    sched *s = calloc(1, sizeof *s);
    if (!s)
        return ns_fail(NS_ERR_NOMEM, "%s: out of memory", what);
    s->kind = kind;
    s->every = 30;
    s->gamma = 0.1f;
    s->factor = 0.1f;
    s->patience = 3;
    s->stop = 8;
    s->best = -INFINITY;
    s->scale = 1.0f;
    ns_status st = NS_OK;
    const char *accepted = "none";
    switch (kind) {
    case SCHED_CONSTANT:
        break;
    case SCHED_STEP: {
        accepted = "every, gamma, milestones";
        const char *ms = ns_kv_str(&kv, "milestones");
        if (ms)
            st = parse_milestones(ms, s, what);
        if (st == NS_OK)
            st = ns_kv_int(&kv, "every", what, &s->every);
        if (st == NS_OK)
            st = ns_kv_float(&kv, "gamma", what, &s->gamma);
        if (st == NS_OK && (s->every < 1 || !(s->gamma > 0)))
            st = ns_fail(NS_ERR_USAGE, "%s: expected every >= 1 and gamma > 0", what);
        break;
    }
    case SCHED_COSINE:
        accepted = "warmup, min";
        st = ns_kv_float(&kv, "warmup", what, &s->warmup);
        if (st == NS_OK)
            st = ns_kv_float(&kv, "min", what, &s->min_lr);
        if (st == NS_OK && (s->warmup < 0 || s->min_lr < 0))
            st = ns_fail(NS_ERR_USAGE, "%s: expected warmup >= 0 and min >= 0", what);
        break;
    case SCHED_PLATEAU:
        accepted = "factor, patience, stop, min_delta, min_lr";
        st = ns_kv_float(&kv, "factor", what, &s->factor);
        if (st == NS_OK)
            st = ns_kv_int(&kv, "patience", what, &s->patience);
        if (st == NS_OK)
            st = ns_kv_int(&kv, "stop", what, &s->stop);
        if (st == NS_OK)
            st = ns_kv_float(&kv, "min_delta", what, &s->min_delta);
        if (st == NS_OK)
            st = ns_kv_float(&kv, "min_lr", what, &s->min_lr);
        if (st == NS_OK && (!(s->factor > 0 && s->factor < 1) || s->patience < 0 || s->stop < 0))
            st = ns_fail(NS_ERR_USAGE, "%s: expected 0 < factor < 1, patience >= 0, stop >= 0", what);
        break;
    }
    if (st == NS_OK)
        st = ns_kv_check_unused(&kv, what, accepted);
    if (st != NS_OK) {
        free(s);
        return st;
    }
    *ctx = s;
    return NS_OK;
}

#define NS_CREATE_FN(fn, kind, name)                                                 \
    static ns_status fn(const ns_host_api *host, const char *params, void **ctx)    \
    {                                                                                \
        (void)host;                                                                  \
        return create_kind(kind, name, params, ctx);                                 \
    }
NS_CREATE_FN(create_constant, SCHED_CONSTANT, "constant")
NS_CREATE_FN(create_step, SCHED_STEP, "step")
NS_CREATE_FN(create_cosine, SCHED_COSINE, "cosine")
NS_CREATE_FN(create_plateau, SCHED_PLATEAU, "plateau")

static void destroy(void *ctx) { free(ctx); }

static float lr_at(void *ctx, const ns_sched_point *at)
{
    const sched *s = ctx;
    float base = at->base_lr;
    switch (s->kind) {
    case SCHED_CONSTANT:
        return base;
    case SCHED_STEP: {
        int k = 0;
        if (s->n_milestones)
            for (int i = 0; i < s->n_milestones; i++)
                k += at->epoch >= s->milestones[i];
        else
            k = at->epoch / s->every;
        return base * powf(s->gamma, (float)k);
    }
    case SCHED_COSINE: {
        double spe = at->steps_per_epoch > 0 ? at->steps_per_epoch : 1;
        double t = at->epoch + at->step / spe; /* epochs elapsed, fractional */
        if (t < s->warmup)
            return (float)(base * (t + 1.0 / spe) / s->warmup);
        double span = at->total_epochs - s->warmup;
        double frac = span > 0 ? (t - s->warmup) / span : 1.0;
        if (frac > 1)
            frac = 1;
        return (float)(s->min_lr + (base - s->min_lr) * 0.5 * (1.0 + cos(M_PI * frac)));
    }
    case SCHED_PLATEAU: {
        float lr = base * s->scale;
        return lr < s->min_lr ? s->min_lr : lr;
    }
    }
    return base;
}

static ns_status epoch_end(void *ctx, int epoch, float metric, int *stop)
{
    (void)epoch;
    sched *s = ctx;
    *stop = 0;
    if (s->kind != SCHED_PLATEAU)
        return NS_OK;
    if (isnan(metric))
        return ns_fail(NS_ERR_USAGE, "--schedule plateau needs a validation metric: give a validation "
                       "split (--val-per-class N)");
    if (metric > s->best + s->min_delta) {
        s->best = metric;
        s->bad = 0;
        s->stale = 0;
        return NS_OK;
    }
    s->bad++;
    s->stale++;
    if (s->bad >= s->patience) { /* Keras: reduce once `patience` epochs passed without improvement */
        s->scale *= s->factor;
        s->bad = 0;
    }
    if (s->stop > 0 && s->stale >= s->stop)
        *stop = 1;
    return NS_OK;
}

static ns_status get_state(void *ctx, char *buf, size_t len)
{
    const sched *s = ctx;
    /* %a: exact round trip of the floats, so a resumed run is bit-identical. */
    int w = snprintf(buf, len, "best=%a,bad=%d,stale=%d,scale=%a", (double)s->best, s->bad, s->stale,
                     (double)s->scale);
    return w > 0 && (size_t)w < len ? NS_OK : ns_fail(NS_ERR_INTERNAL, "scheduler state too long");
}

/* The text comes from a checkpoint, so it is checked like any input: a NaN or
 * negative scale would make every later learning rate NaN or negative, a NaN
 * best would make every epoch look like no improvement. Nothing is changed
 * unless all of it is valid. */
static ns_status set_state(void *ctx, const char *state)
{
    sched *s = ctx;
    double best, scale;
    int bad, stale, end = -1;
    if (sscanf(state, "best=%la,bad=%d,stale=%d,scale=%la%n", &best, &bad, &stale, &scale, &end) != 4 ||
        end < 0 || state[end] != '\0')
        return ns_fail(NS_ERR_FORMAT, "expected best=B,bad=N,stale=N,scale=S");
    if (!(scale >= 0.0 && scale <= 1.0))
        return ns_fail(NS_ERR_FORMAT, "scale=%g, expected a finite learning-rate factor in [0, 1]", scale);
    /* Checked as the float it is stored in: 1e100 is a finite double but an
     * infinite float, which would then not read back from get_state. */
    if (isnan(best) || best > FLT_MAX || (best < -FLT_MAX && best != -INFINITY))
        return ns_fail(NS_ERR_FORMAT, "best=%g, expected a validation metric or -inf", best);
    if (bad < 0 || stale < 0)
        return ns_fail(NS_ERR_FORMAT, "bad=%d, stale=%d, expected epoch counts >= 0", bad, stale);
    s->best = (float)best;
    s->bad = bad;
    s->stale = stale;
    s->scale = (float)scale;
    return NS_OK;
}

#define NS_TABLE(var, create)                                                            \
    static const ns_scheduler_api var = {sizeof(ns_scheduler_api), create, destroy, lr_at, \
                                         epoch_end, get_state, set_state};
NS_TABLE(constant_api, create_constant)
NS_TABLE(step_api, create_step)
NS_TABLE(cosine_api, create_cosine)
NS_TABLE(plateau_api, create_plateau)

const ns_scheduler_api *ns_scheduler_builtin(const char *name)
{
    if (strcmp(name, "constant") == 0)
        return &constant_api;
    if (strcmp(name, "step") == 0)
        return &step_api;
    if (strcmp(name, "cosine") == 0)
        return &cosine_api;
    if (strcmp(name, "plateau") == 0)
        return &plateau_api;
    return NULL;
}

const char *ns_scheduler_builtin_names(void) { return "constant, step, cosine, plateau"; }
