#include "plugin/vtable_check.h"

#include <stddef.h>

#include <noisystudent/scheduler.h>

#include "augment/opset.h"
#include "plugin/backend_loader.h"
#include "util/error.h"

/* The scheduler slots the host calls unconditionally, up to and including lr. */
#define NS_SCHEDULER_API_MIN_SIZE (offsetof(ns_scheduler_api, lr) + sizeof(((ns_scheduler_api *)0)->lr))

static ns_status check_scheduler(const char *file, const ns_scheduler_api *api)
{
    if (api->struct_size < NS_SCHEDULER_API_MIN_SIZE)
        return ns_fail(NS_ERR_ABI, "scheduler plugin %s: ns_scheduler_api.struct_size is %u, expected at least %zu",
                       file, (unsigned)api->struct_size, (size_t)NS_SCHEDULER_API_MIN_SIZE);
    const char *missing = !api->create ? "create" : !api->destroy ? "destroy" : !api->lr ? "lr" : NULL;
    if (missing)
        return ns_fail(NS_ERR_ABI, "scheduler plugin %s: required slot '%s' is NULL", file, missing);
    return NS_OK;
}

ns_status ns_plugin_check_vtable(const char *file, const ns_plugin *desc)
{
    if (!desc->vtable) /* the loader refuses this first; kept so no caller can crash */
        return ns_fail(NS_ERR_ABI, "plugin %s: descriptor has a NULL vtable", file);
    switch (desc->kind) {
    case NS_PLUGIN_BACKEND: return ns_backend_check_api(file, desc->vtable);
    case NS_PLUGIN_AUGMENT: return ns_augment_check_api(file, desc->vtable);
    case NS_PLUGIN_SCHEDULER: return check_scheduler(file, desc->vtable);
    }
    return ns_fail(NS_ERR_ABI, "plugin %s: descriptor kind %u is unknown", file, (unsigned)desc->kind);
}
