/* noisystudent SDK — learning-rate schedulers.
 *
 * lr = f(epoch, step, steps_per_epoch, last validation metric, params).
 * Built-ins (constant, step, cosine with warmup, plateau) live in the host and
 * use this same table; a shared object of kind NS_PLUGIN_SCHEDULER provides
 * more. The host calls lr() before every optimizer step and epoch_end() after
 * each epoch's validation.
 *
 * State: a scheduler with memory (plateau: best metric, bad epochs, current
 * factor) must save and restore it through get_state/set_state so that a
 * resumed run continues exactly; the text is stored in the checkpoint.
 */
#ifndef NS_SCHEDULER_H
#define NS_SCHEDULER_H

#include <stddef.h>
#include <stdint.h>

#include "plugin.h"
#include "status.h"

#ifdef __cplusplus
extern "C" {
#endif

typedef struct ns_sched_point {
    int epoch;            /* 0-based */
    int step;             /* 0-based step within the epoch */
    int steps_per_epoch;
    int total_epochs;
    float base_lr;
} ns_sched_point;

typedef struct ns_scheduler_api {
    uint32_t struct_size; /* sizeof(ns_scheduler_api) as the plugin saw it */
    /* [required] params: "key=value,..." (e.g. "warmup=5,min_lr=0"). Unknown keys
     * are an error naming the key. */
    ns_status (*create)(const ns_host_api *host, const char *params, void **ctx);
    /* [required] */
    void (*destroy)(void *ctx);
    /* [required] learning rate for this step. */
    float (*lr)(void *ctx, const ns_sched_point *at);
    /* After epoch `epoch` with validation metric `metric` (higher is better;
     * NaN when there is no validation set). Sets *stop = 1 to end training
     * early. NULL: never stops, keeps no memory. */
    ns_status (*epoch_end)(void *ctx, int epoch, float metric, int *stop);
    /* Writes the state as a NUL-terminated text (at most len bytes). NULL: stateless. */
    ns_status (*get_state)(void *ctx, char *buf, size_t len);
    /* Restores what get_state wrote. NULL: stateless. */
    ns_status (*set_state)(void *ctx, const char *state);
} ns_scheduler_api;

#ifdef __cplusplus
}
#endif
#endif
