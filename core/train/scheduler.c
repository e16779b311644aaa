#include "train/scheduler.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "train/scheduler_builtin.h"
#include "util/error.h"

ns_status ns_scheduler_open(const char *spec, ns_scheduler **out)
{
    *out = NULL;
    char name[512];
    snprintf(name, sizeof name, "%s", spec ? spec : "");
    char *colon = strchr(name, ':');
    const char *params = "";
    if (colon) {
        *colon = '\0';
        params = colon + 1;
    }
    ns_scheduler *s = calloc(1, sizeof *s);
    if (!s)
        return ns_fail(NS_ERR_NOMEM, "--schedule: out of memory");
    s->api = ns_scheduler_builtin(name);
    if (!s->api) {
        int is_path = strchr(name, '/') || strstr(name, ".so");
        ns_status st = ns_plugin_load(NS_PLUGIN_SCHEDULER, name, 1, &s->plugin);
        if (st != NS_OK) {
            free(s);
            if (st == NS_ERR_NOT_FOUND && !is_path)
                return ns_fail(NS_ERR_USAGE, "--schedule %s: unknown schedule (built-ins: %s; or a "
                               "scheduler plugin name or path)", name, ns_scheduler_builtin_names());
            return st;
        }
        s->api = ns_plugin_desc(s->plugin)->vtable;
        if (s->api->struct_size < sizeof(ns_scheduler_api) || !s->api->create || !s->api->destroy ||
            !s->api->lr) {
            ns_status bad = ns_fail(NS_ERR_ABI, "scheduler plugin %s: create, destroy and lr are required",
                                    ns_plugin_file(s->plugin));
            ns_plugin_unload(s->plugin);
            free(s);
            return bad;
        }
    }
    ns_status st = s->api->create(ns_host_api_get(), params, &s->ctx);
    if (st != NS_OK) {
        ns_plugin_unload(s->plugin);
        free(s);
        return st;
    }
    *out = s;
    return NS_OK;
}

void ns_scheduler_close(ns_scheduler *s)
{
    if (!s)
        return;
    s->api->destroy(s->ctx);
    ns_plugin_unload(s->plugin);
    free(s);
}

float ns_scheduler_lr(ns_scheduler *s, const ns_sched_point *at) { return s->api->lr(s->ctx, at); }

ns_status ns_scheduler_epoch_end(ns_scheduler *s, int epoch, float metric, int *stop)
{
    *stop = 0;
    return s->api->epoch_end ? s->api->epoch_end(s->ctx, epoch, metric, stop) : NS_OK;
}

ns_status ns_scheduler_get_state(ns_scheduler *s, char *buf, size_t len)
{
    if (len)
        buf[0] = '\0';
    return s->api->get_state ? s->api->get_state(s->ctx, buf, len) : NS_OK;
}

ns_status ns_scheduler_set_state(ns_scheduler *s, const char *state)
{
    if (!state || !*state)
        return NS_OK;
    if (!s->api->set_state)
        return ns_fail(NS_ERR_FORMAT, "checkpoint holds scheduler state '%s' but this schedule keeps none",
                       state);
    ns_status st = s->api->set_state(s->ctx, state);
    if (st != NS_OK) /* the checkpoint key it came from, for a message that says where to look */
        ns_error_prefix("scheduler_state '%.100s'", state);
    return st;
}
