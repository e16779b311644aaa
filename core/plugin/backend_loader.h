/* Opening a compute backend: resolve a spec to a plugin, check it, probe it,
 * create a context. The returned ns_backend is what the rest of the core passes
 * around; layers call be->api-><op>(be->ctx, ...). */
#ifndef NS_PLUGIN_BACKEND_LOADER_H
#define NS_PLUGIN_BACKEND_LOADER_H

#include <noisystudent/backend.h>

#include "plugin/loader.h"

typedef struct ns_backend {
    const ns_backend_api *api; /* points at table */
    ns_backend_api table;      /* the plugin's op table, zero-extended to this SDK's size */
    void *ctx;
    ns_plugin_handle *plugin;
    char name[64];            /* descriptor name: "ref", "cpu", ... */
    ns_backend_options opt;   /* what it was created with (extra not kept) */
    int dist_attached;        /* 1 once dist_attach joined the world's communicator (core/dist/device_allreduce.h) */
    int dist_tried;           /* 1 once the host tried to attach (it tries once) */
} ns_backend;

/* spec: a plugin name ("ref"), a path ("./ns_backend_x.so"), or "auto" (the
 * first of cuda, cpu, opencl, ref whose probe says yes). opt may be NULL
 * (defaults: all cores, default device, fp32). On success the caller owns *out
 * (ns_backend_close). */
ns_status ns_backend_open(const char *spec, const ns_backend_options *opt, ns_backend **out);
void ns_backend_close(ns_backend *be);

/* The checks every backend table must pass before any slot is called:
 * struct_size covers ABI 1.0, every [required] slot is non-NULL. NS_ERR_ABI
 * naming `file` and the slot otherwise. Never calls into the plugin. */
ns_status ns_backend_check_api(const char *file, const ns_backend_api *api);

/* Defaults: struct_size set, threads 0, device -1, fp32, extra NULL. */
ns_backend_options ns_backend_options_default(void);

/* Optional-slot fallbacks the host applies for a NULL slot. */
ns_status ns_backend_sync(ns_backend *be);
ns_status ns_backend_reduce(ns_backend *be, const ns_buf *x, size_t n, ns_reduce_result *out);
/* NaN/Inf values over `count` buffers in one count_nonfinite call; for a NULL
 * slot the sum of ns_backend_reduce over each buffer (backend.h). */
ns_status ns_backend_count_nonfinite(ns_backend *be, size_t count, const ns_buf *const *xs, const size_t *ns,
                                     uint64_t *out);

#endif
