#include "plugin/backend_loader.h"

#include "plugin/backend_profile.h"

#include <math.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "util/error.h"

/* --backend auto: fastest first. A backend that is absent or whose probe says
 * no is skipped; ref always works. */
static const char *const auto_order[] = {"cuda", "cpu", "opencl", "ref"};

ns_backend_options ns_backend_options_default(void)
{
    ns_backend_options o;
    memset(&o, 0, sizeof o);
    o.struct_size = sizeof o;
    o.threads = 0;
    o.device = -1;
    o.precision = NS_PRECISION_FP32;
    o.extra = NULL;
    return o;
}

/* Every ABI 1.0 slot marked [required] must be present. */
static const char *missing_required_slot(const ns_backend_api *a)
{
#define NS_REQ(slot) \
    if (!a->slot)    \
        return #slot;
    NS_REQ(create) NS_REQ(destroy) NS_REQ(buf_alloc) NS_REQ(buf_free) NS_REQ(upload)
    NS_REQ(download) NS_REQ(fill) NS_REQ(copy) NS_REQ(conv2d_forward)
    NS_REQ(conv2d_backward_data) NS_REQ(conv2d_backward_filter) NS_REQ(batchnorm_forward_train)
    NS_REQ(batchnorm_forward_infer) NS_REQ(batchnorm_backward) NS_REQ(relu_forward)
    NS_REQ(relu_backward) NS_REQ(add) NS_REQ(axpby) NS_REQ(mul) NS_REQ(mul_rows)
    NS_REQ(mask_bernoulli) NS_REQ(global_avg_pool_forward) NS_REQ(global_avg_pool_backward)
    NS_REQ(dense_forward) NS_REQ(dense_backward) NS_REQ(softmax_cross_entropy) NS_REQ(softmax)
    NS_REQ(sgd_update) NS_REQ(adam_update)
#undef NS_REQ
    return NULL;
}

ns_status ns_backend_check_api(const char *file, const ns_backend_api *api)
{
    if (!api)
        return ns_fail(NS_ERR_ABI, "backend plugin %s: descriptor has a NULL vtable", file);
    if (api->struct_size < NS_BACKEND_API_SIZE_1_0)
        return ns_fail(NS_ERR_ABI, "backend plugin %s: op table of %u bytes, ABI 1.0 needs at least %zu", file,
                       (unsigned)api->struct_size, (size_t)NS_BACKEND_API_SIZE_1_0);
    const char *missing = missing_required_slot(api);
    if (missing)
        return ns_fail(NS_ERR_ABI, "backend plugin %s: required slot '%s' is NULL", file, missing);
    /* ABI 1.3's device collectives come as a set: a host that finds an
     * all-reduce without the attach (or the reverse) could not use either. */
    if (api->struct_size >= offsetof(ns_backend_api, allreduce_sum) + sizeof api->allreduce_sum) {
        const int dist = (api->dist_unique_id != NULL) + (api->dist_attach != NULL) + (api->allreduce_sum != NULL);
        if (dist != 0 && dist != 3)
            return ns_fail(NS_ERR_ABI, "backend plugin %s: dist_unique_id, dist_attach and allreduce_sum must be "
                           "all set or all NULL (%d of 3 set)", file, dist);
    }
    return NS_OK;
}

static ns_status open_one(const char *spec, const ns_backend_options *opt, ns_backend **out)
{
    ns_plugin_handle *h;
    /* ns_plugin_load has already run ns_backend_check_api on the table. */
    NS_TRY(ns_plugin_load(NS_PLUGIN_BACKEND, spec, 1, &h));
    const ns_plugin *d = ns_plugin_desc(h);
    const ns_backend_api *api = d->vtable;
    ns_backend *be = calloc(1, sizeof *be);
    if (!be) {
        ns_plugin_unload(h);
        return ns_fail(NS_ERR_NOMEM, "backend %s: out of memory", spec);
    }
    /* A copy the size this host knows: slots a plugin of an older minor does not
     * have read as NULL, so callers test optional slots without size checks. */
    size_t have = api->struct_size < sizeof be->table ? api->struct_size : sizeof be->table;
    memcpy(&be->table, api, have);
    be->table.struct_size = sizeof be->table;
    be->api = &be->table;
    be->plugin = h;
    be->opt = opt ? *opt : ns_backend_options_default();
    be->opt.struct_size = sizeof be->opt;
    snprintf(be->name, sizeof be->name, "%s", d->name);
    ns_clear_error();
    ns_status st = api->create(ns_host_api_get(), &be->opt, &be->ctx);
    be->opt.extra = NULL; /* not ours to keep */
    if (st != NS_OK) {
        if (!ns_last_error()[0])
            ns_set_error("%s", ns_status_name(st));
        ns_error_prefix("backend '%s' (%s): create failed", d->name, ns_plugin_file(h));
        ns_plugin_unload(h);
        free(be);
        return st;
    }
    *out = be;
    return NS_OK;
}

ns_status ns_backend_open(const char *spec, const ns_backend_options *opt, ns_backend **out)
{
    *out = NULL;
    if (spec && strcmp(spec, "auto") == 0) {
        char tried[1024] = "";
        size_t used = 0;
        for (size_t i = 0; i < sizeof auto_order / sizeof *auto_order; i++) {
            if (open_one(auto_order[i], opt, out) == NS_OK)
                return NS_OK;
            int w = snprintf(tried + used, sizeof tried - used, "%s%s (%s)", used ? "; " : "",
                             auto_order[i], ns_last_error());
            if (w > 0 && (size_t)w < sizeof tried - used)
                used += (size_t)w;
            ns_log(1, "--backend auto: skipping %s: %s", auto_order[i], ns_last_error());
        }
        return ns_fail(NS_ERR_NOT_FOUND, "--backend auto: no backend can run here: %s", tried);
    }
    return open_one(spec, opt, out);
}

void ns_backend_close(ns_backend *be)
{
    if (!be)
        return;
    ns_backend_profile_release(be);
    if (be->ctx)
        be->api->destroy(be->ctx);
    ns_plugin_unload(be->plugin);
    free(be);
}

ns_status ns_backend_sync(ns_backend *be)
{
    return be->api->synchronize ? be->api->synchronize(be->ctx) : NS_OK;
}

ns_status ns_backend_reduce(ns_backend *be, const ns_buf *x, size_t n, ns_reduce_result *out)
{
    if (be->api->reduce)
        return be->api->reduce(be->ctx, x, n, out);
    memset(out, 0, sizeof *out);
    float *host = malloc((n ? n : 1) * sizeof *host);
    if (!host)
        return ns_fail(NS_ERR_NOMEM, "reduce: cannot allocate %zu floats on the host", n);
    ns_status st = be->api->download(be->ctx, x, 0, host, n);
    if (st == NS_OK) {
        for (size_t i = 0; i < n; i++) {
            float v = host[i];
            if (!isfinite(v)) {
                out->nonfinite++;
                continue;
            }
            out->sum += v;
            out->sum_sq += (double)v * v;
            if (fabsf(v) > out->max_abs)
                out->max_abs = fabsf(v);
        }
    }
    free(host);
    return st;
}

ns_status ns_backend_count_nonfinite(ns_backend *be, size_t count, const ns_buf *const *xs, const size_t *ns,
                                     uint64_t *out)
{
    *out = 0;
    if (be->api->count_nonfinite)
        return be->api->count_nonfinite(be->ctx, count, xs, ns, out);
    for (size_t i = 0; i < count; i++) {
        ns_reduce_result r;
        NS_TRY(ns_backend_reduce(be, xs[i], ns[i], &r));
        *out += r.nonfinite;
    }
    return NS_OK;
}
