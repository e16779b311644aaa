#include "plugin/backend_profile.h"

#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "util/clock.h"
#include "util/error.h"

/* Every op slot that gets a shim when the plugin fills it, in table order.
 * The lifecycle slots (create, destroy, describe) are not here on purpose,
 * nor the once-per-run communicator setup (dist_unique_id, dist_attach). */
#define NS_PROFILE_SLOTS(X)                                                                     \
    X(buf_alloc) X(buf_free) X(upload) X(download) X(fill) X(copy) X(synchronize)              \
    X(conv2d_forward) X(conv2d_backward_data) X(conv2d_backward_filter)                        \
    X(batchnorm_forward_train) X(batchnorm_forward_infer) X(batchnorm_backward)                \
    X(relu_forward) X(relu_backward) X(add) X(axpby) X(mul) X(mul_rows) X(mask_bernoulli)     \
    X(global_avg_pool_forward) X(global_avg_pool_backward) X(dense_forward) X(dense_backward) \
    X(softmax_cross_entropy) X(softmax) X(sgd_update) X(adam_update) X(reduce)                 \
    X(conv2d_bn_infer) X(count_nonfinite) X(allreduce_sum)

enum {
#define NS_PROFILE_ENUM(slot) SLOT_##slot,
    NS_PROFILE_SLOTS(NS_PROFILE_ENUM)
#undef NS_PROFILE_ENUM
    SLOT_COUNT
};

static const char *const slot_names[SLOT_COUNT] = {
#define NS_PROFILE_NAME(slot) #slot,
    NS_PROFILE_SLOTS(NS_PROFILE_NAME)
#undef NS_PROFILE_NAME
};

/* The one profiled backend of the process (see the header for why a global). */
static struct {
    const ns_backend *be;  /* profiled now (active) or last profiled (stats kept) */
    int active;
    ns_backend_api orig;   /* be->table as the plugin filled it */
    int timed[SLOT_COUNT]; /* 1 where the plugin's slot was non-NULL at start */
    ns_profile_op op[SLOT_COUNT];
} prof;

static double conv_flops(const ns_conv_desc *d)
{
    return 2.0 * d->n * d->k * d->c * d->r * d->s * d->p * d->q;
}

static double dense_flops(const ns_dense_desc *d)
{
    return 2.0 * d->n * d->in * d->out;
}

/* Ends one timed call: waits for an asynchronous backend's queue so the time
 * is this op's own, then books calls, time and FLOPs. */
static ns_status finish(int slot, void *ctx, double t0, ns_status st, double flops)
{
    if (st == NS_OK && slot != SLOT_synchronize && prof.orig.synchronize)
        st = prof.orig.synchronize(ctx);
    double dt = ns_now() - t0;
    prof.op[slot].calls++;
    prof.op[slot].seconds += dt;
    prof.op[slot].flops += flops;
    return st;
}

/* One shim per slot: `params` is the slot's parameter list, `args` the call. */
#define NS_PROFILE_SHIM(slot, flops, params, args)               \
    static ns_status shim_##slot params                          \
    {                                                            \
        double t0 = ns_now();                                     \
        ns_status st = prof.orig.slot args;                      \
        return finish(SLOT_##slot, ctx, t0, st, (flops));        \
    }

NS_PROFILE_SHIM(buf_alloc, 0, (void *ctx, size_t n, ns_buf **out), (ctx, n, out))
NS_PROFILE_SHIM(upload, 0, (void *ctx, ns_buf *dst, size_t offset, const float *src, size_t n),
                (ctx, dst, offset, src, n))
NS_PROFILE_SHIM(download, 0, (void *ctx, const ns_buf *src, size_t offset, float *dst, size_t n),
                (ctx, src, offset, dst, n))
NS_PROFILE_SHIM(fill, 0, (void *ctx, ns_buf *dst, size_t n, float value), (ctx, dst, n, value))
NS_PROFILE_SHIM(copy, 0, (void *ctx, ns_buf *dst, const ns_buf *src, size_t n),
                (ctx, dst, src, n))
NS_PROFILE_SHIM(synchronize, 0, (void *ctx), (ctx))
NS_PROFILE_SHIM(conv2d_forward, conv_flops(d),
                (void *ctx, const ns_conv_desc *d, const ns_buf *x, const ns_buf *w, ns_buf *y),
                (ctx, d, x, w, y))
NS_PROFILE_SHIM(conv2d_backward_data, conv_flops(d),
                (void *ctx, const ns_conv_desc *d, const ns_buf *dy, const ns_buf *w, ns_buf *dx),
                (ctx, d, dy, w, dx))
NS_PROFILE_SHIM(conv2d_backward_filter, conv_flops(d),
                (void *ctx, const ns_conv_desc *d, const ns_buf *x, const ns_buf *dy, ns_buf *dw),
                (ctx, d, x, dy, dw))
NS_PROFILE_SHIM(batchnorm_forward_train, 0,
                (void *ctx, const ns_bn_desc *d, const ns_buf *x, const ns_buf *gamma,
                 const ns_buf *beta, ns_buf *running_mean, ns_buf *running_var, ns_buf *y,
                 ns_buf *save_mean, ns_buf *save_invstd),
                (ctx, d, x, gamma, beta, running_mean, running_var, y, save_mean, save_invstd))
NS_PROFILE_SHIM(batchnorm_forward_infer, 0,
                (void *ctx, const ns_bn_desc *d, const ns_buf *x, const ns_buf *gamma,
                 const ns_buf *beta, const ns_buf *running_mean, const ns_buf *running_var,
                 ns_buf *y),
                (ctx, d, x, gamma, beta, running_mean, running_var, y))
NS_PROFILE_SHIM(batchnorm_backward, 0,
                (void *ctx, const ns_bn_desc *d, const ns_buf *x, const ns_buf *dy,
                 const ns_buf *gamma, const ns_buf *save_mean, const ns_buf *save_invstd,
                 ns_buf *dx, ns_buf *dgamma, ns_buf *dbeta),
                (ctx, d, x, dy, gamma, save_mean, save_invstd, dx, dgamma, dbeta))
NS_PROFILE_SHIM(relu_forward, 0, (void *ctx, const ns_buf *x, ns_buf *y, size_t n),
                (ctx, x, y, n))
NS_PROFILE_SHIM(relu_backward, 0,
                (void *ctx, const ns_buf *y, const ns_buf *dy, ns_buf *dx, size_t n),
                (ctx, y, dy, dx, n))
NS_PROFILE_SHIM(add, 0, (void *ctx, const ns_buf *a, const ns_buf *b, ns_buf *y, size_t n),
                (ctx, a, b, y, n))
NS_PROFILE_SHIM(axpby, 0,
                (void *ctx, const ns_buf *x, ns_buf *y, size_t n, float alpha, float beta),
                (ctx, x, y, n, alpha, beta))
NS_PROFILE_SHIM(mul, 0, (void *ctx, const ns_buf *a, const ns_buf *b, ns_buf *y, size_t n),
                (ctx, a, b, y, n))
NS_PROFILE_SHIM(mul_rows, 0,
                (void *ctx, const ns_buf *x, const ns_buf *scale, ns_buf *y, size_t rows,
                 size_t cols),
                (ctx, x, scale, y, rows, cols))
NS_PROFILE_SHIM(mask_bernoulli, 0,
                (void *ctx, ns_buf *mask, size_t n, float keep_prob, float scale, uint64_t seed,
                 uint64_t stream),
                (ctx, mask, n, keep_prob, scale, seed, stream))
NS_PROFILE_SHIM(global_avg_pool_forward, 0,
                (void *ctx, const ns_buf *x, ns_buf *y, int n, int c, int hw), (ctx, x, y, n, c, hw))
NS_PROFILE_SHIM(global_avg_pool_backward, 0,
                (void *ctx, const ns_buf *dy, ns_buf *dx, int n, int c, int hw),
                (ctx, dy, dx, n, c, hw))
NS_PROFILE_SHIM(dense_forward, dense_flops(d),
                (void *ctx, const ns_dense_desc *d, const ns_buf *x, const ns_buf *w,
                 const ns_buf *b, ns_buf *y),
                (ctx, d, x, w, b, y))
/* Two GEMMs (dw, and dx when asked for); db is a reduction, not counted. */
NS_PROFILE_SHIM(dense_backward, dense_flops(d) * (dx ? 2 : 1),
                (void *ctx, const ns_dense_desc *d, const ns_buf *x, const ns_buf *w,
                 const ns_buf *dy, ns_buf *dx, ns_buf *dw, ns_buf *db),
                (ctx, d, x, w, dy, dx, dw, db))
NS_PROFILE_SHIM(softmax_cross_entropy, 0,
                (void *ctx, int n, int classes, const ns_buf *logits, const ns_buf *targets,
                 float grad_scale, ns_buf *loss, ns_buf *dlogits),
                (ctx, n, classes, logits, targets, grad_scale, loss, dlogits))
NS_PROFILE_SHIM(softmax, 0, (void *ctx, int n, int classes, const ns_buf *logits, ns_buf *probs),
                (ctx, n, classes, logits, probs))
NS_PROFILE_SHIM(sgd_update, 0,
                (void *ctx, const ns_sgd_params *p, ns_buf *w, const ns_buf *g, ns_buf *velocity,
                 size_t n),
                (ctx, p, w, g, velocity, n))
NS_PROFILE_SHIM(adam_update, 0,
                (void *ctx, const ns_adam_params *p, ns_buf *w, const ns_buf *g, ns_buf *m,
                 ns_buf *v, size_t n),
                (ctx, p, w, g, m, v, n))
NS_PROFILE_SHIM(reduce, 0, (void *ctx, const ns_buf *x, size_t n, ns_reduce_result *out),
                (ctx, x, n, out))
/* The convolution's FLOPs; the folded BN, residual and ReLU are not counted. */
NS_PROFILE_SHIM(conv2d_bn_infer, conv_flops(d),
                (void *ctx, const ns_conv_desc *d, const ns_buf *x, const ns_buf *w,
                 const ns_bn_desc *bn, const ns_buf *gamma, const ns_buf *beta,
                 const ns_buf *mean, const ns_buf *var, const ns_buf *residual, int relu,
                 ns_buf *y),
                (ctx, d, x, w, bn, gamma, beta, mean, var, residual, relu, y))
NS_PROFILE_SHIM(count_nonfinite, 0,
                (void *ctx, size_t count, const ns_buf *const *xs, const size_t *ns, uint64_t *out),
                (ctx, count, xs, ns, out))
NS_PROFILE_SHIM(allreduce_sum, 0,
                (void *ctx, size_t count, ns_buf *const *bufs, const size_t *ns, float scale),
                (ctx, count, bufs, ns, scale))
#undef NS_PROFILE_SHIM

/* buf_free returns nothing, so it has no status to fail with: it is timed
 * without the synchronize (a device free may be deferred by the queue anyway). */
static void shim_buf_free(void *ctx, ns_buf *b)
{
    double t0 = ns_now();
    prof.orig.buf_free(ctx, b);
    prof.op[SLOT_buf_free].calls++;
    prof.op[SLOT_buf_free].seconds += ns_now() - t0;
}

static void zero_stats(void)
{
    for (int i = 0; i < SLOT_COUNT; i++) {
        memset(&prof.op[i], 0, sizeof prof.op[i]);
        prof.op[i].name = slot_names[i];
    }
}

ns_status ns_backend_profile_start(ns_backend *be)
{
    if (prof.active)
        return ns_fail(NS_ERR_INVALID_ARG,
                       "profile: cannot profile backend '%s': backend '%s' is already being "
                       "profiled in this process (one at a time; stop it first)",
                       be->name, prof.be->name);
    if (be->api != &be->table)
        return ns_fail(NS_ERR_INTERNAL,
                       "profile: backend '%s' does not call through its own op table copy",
                       be->name);
    prof.orig = be->table;
    prof.be = be;
    prof.active = 1;
    zero_stats();
#define NS_PROFILE_INSTALL(slot)                      \
    prof.timed[SLOT_##slot] = be->table.slot != NULL; \
    if (be->table.slot)                               \
        be->table.slot = shim_##slot;
    NS_PROFILE_SLOTS(NS_PROFILE_INSTALL)
#undef NS_PROFILE_INSTALL
    return NS_OK;
}

void ns_backend_profile_reset(ns_backend *be)
{
    if (prof.active && be == prof.be)
        zero_stats();
}

void ns_backend_profile_stop(ns_backend *be)
{
    if (!prof.active || be != prof.be)
        return;
    be->table = prof.orig;
    prof.active = 0;
}

void ns_backend_profile_release(ns_backend *be)
{
    if (!be || be != prof.be)
        return;
    ns_backend_profile_stop(be);
    memset(&prof, 0, sizeof prof);
}

size_t ns_backend_profile_ops(const ns_backend *be, ns_profile_op *out, size_t cap)
{
    if (!be || be != prof.be)
        return 0;
    size_t count = 0;
    for (int i = 0; i < SLOT_COUNT; i++) {
        if (!prof.timed[i])
            continue;
        if (count < cap)
            out[count] = prof.op[i];
        count++;
    }
    return count;
}

ns_status ns_backend_profile_get(const ns_backend *be, const char *name, ns_profile_op *out)
{
    if (!be || be != prof.be)
        return ns_fail(NS_ERR_NOT_FOUND, "profile: backend '%s' has not been profiled",
                       be ? be->name : "(null)");
    for (int i = 0; i < SLOT_COUNT; i++) {
        if (prof.timed[i] && strcmp(slot_names[i], name) == 0) {
            *out = prof.op[i];
            return NS_OK;
        }
    }
    return ns_fail(NS_ERR_NOT_FOUND, "profile: backend '%s' has no timed op '%s'", be->name,
                   name);
}

static int slower_first(const void *a, const void *b)
{
    const ns_profile_op *x = a, *y = b;
    return (x->seconds < y->seconds) - (x->seconds > y->seconds);
}

ns_status ns_backend_profile_print(const ns_backend *be, FILE *f, const char *title, int steps)
{
    ns_profile_op ops[SLOT_COUNT];
    size_t n = ns_backend_profile_ops(be, ops, SLOT_COUNT), used = 0;
    if (n == 0)
        return ns_fail(NS_ERR_NOT_FOUND, "profile: backend '%s' has not been profiled",
                       be ? be->name : "(null)");
    double total = 0.0;
    uint64_t calls = 0;
    for (size_t i = 0; i < n; i++) {
        if (ops[i].calls == 0)
            continue;
        total += ops[i].seconds;
        calls += ops[i].calls;
        ops[used++] = ops[i];
    }
    qsort(ops, used, sizeof *ops, slower_first);
    if (steps < 1)
        steps = 1;
    int bad = 0;
    bad |= fprintf(f, "%s\n%-26s %8s %11s %10s %7s %9s\n", title, "op", "calls", "ms total",
                   "ms/step", "share", "GFLOP/s") < 0;
    for (size_t i = 0; i < used; i++) {
        const ns_profile_op *o = &ops[i];
        double share = total > 0.0 ? 100.0 * o->seconds / total : 0.0;
        bad |= fprintf(f, "%-26s %8llu %11.3f %10.3f %6.1f%%", o->name,
                       (unsigned long long)o->calls, 1e3 * o->seconds, 1e3 * o->seconds / steps,
                       share) < 0;
        if (o->flops > 0.0 && o->seconds > 0.0)
            bad |= fprintf(f, " %9.2f", 1e-9 * o->flops / o->seconds) < 0;
        bad |= fputc('\n', f) == EOF;
    }
    bad |= fprintf(f, "%-26s %8llu %11.3f %10.3f %6.1f%%\n", "all ops",
                   (unsigned long long)calls, 1e3 * total, 1e3 * total / steps,
                   total > 0.0 ? 100.0 : 0.0) < 0;
    if (bad || fflush(f) != 0 || ferror(f))
        return ns_fail(NS_ERR_IO, "profile: cannot write the '%s' table", title);
    return NS_OK;
}
