/* A learning-rate schedule opened from a spec: a built-in name
 * (scheduler_builtin.h) or a scheduler plugin (name or path), each with
 * ":key=value,..." parameters, e.g. "cosine:warmup=2", "./my_sched.so:k=1". */
#ifndef NS_TRAIN_SCHEDULER_H
#define NS_TRAIN_SCHEDULER_H

#include <noisystudent/scheduler.h>

#include "plugin/loader.h"

typedef struct ns_scheduler {
    const ns_scheduler_api *api;
    void *ctx;
    ns_plugin_handle *plugin; /* NULL for built-ins */
} ns_scheduler;

/* The caller owns *out (ns_scheduler_close). Errors name the spec. */
ns_status ns_scheduler_open(const char *spec, ns_scheduler **out);
void ns_scheduler_close(ns_scheduler *s);

float ns_scheduler_lr(ns_scheduler *s, const ns_sched_point *at);
ns_status ns_scheduler_epoch_end(ns_scheduler *s, int epoch, float metric, int *stop);
/* "" when the schedule is stateless. */
ns_status ns_scheduler_get_state(ns_scheduler *s, char *buf, size_t len);
/* Restores a checkpoint's scheduler_state. The built-ins refuse (NS_ERR_FORMAT,
 * state unchanged) text that is not exactly what get_state writes or holds a
 * NaN, infinite or negative scale, a NaN or +inf best, negative counts; the
 * message starts "scheduler_state '<text>': " (the checkpoint key). */
ns_status ns_scheduler_set_state(ns_scheduler *s, const char *state);

#endif
