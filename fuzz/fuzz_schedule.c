/* --schedule specs (built-ins: constant, step, cosine, plateau) and the
 * scheduler state string a checkpoint stores, through ns_scheduler_open and
 * ns_scheduler_set_state. Input: the spec, a newline, the state. Names that
 * are not built-ins are skipped (they would be looked up as plugin files on
 * the disk). On an accepted spec: lr at a few points of a 5-epoch run is
 * never NaN, and an accepted state reads back through get_state unchanged. */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "fuzz_util.h"
#include "train/scheduler.h"
#include "train/scheduler_builtin.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    ns_fuzz_quiet();
    char *text = ns_fuzz_strndup(data, size);
    char *nl = strchr(text, '\n');
    const char *state = nl ? nl + 1 : NULL;
    if (nl)
        *nl = '\0';
    char name[512];
    snprintf(name, sizeof name, "%s", text);
    char *colon = strchr(name, ':');
    if (colon)
        *colon = '\0';
    ns_scheduler *s = NULL;
    if (ns_scheduler_builtin(name) && ns_scheduler_open(text, &s) == NS_OK) {
        for (int epoch = 0; epoch < 5; epoch++) {
            ns_sched_point at = {.epoch = epoch, .step = 1, .steps_per_epoch = 3, .total_epochs = 5, .base_lr = 0.1f};
            /* inf is possible from legal parameters (gamma=1e30, epoch after
             * epoch) and stops training downstream; NaN from finite ones is a bug. */
            if (isnan(ns_scheduler_lr(s, &at)))
                abort();
            int stop = 0;
            (void)ns_scheduler_epoch_end(s, epoch, 0.1f * (float)epoch, &stop);
        }
        char buf[4096], again[4096];
        if (state && ns_scheduler_set_state(s, state) == NS_OK && ns_scheduler_get_state(s, buf, sizeof buf) == NS_OK) {
            if (ns_scheduler_set_state(s, buf) != NS_OK || ns_scheduler_get_state(s, again, sizeof again) != NS_OK ||
                strcmp(buf, again) != 0)
                abort();
        }
        ns_scheduler_close(s);
    } else if (s) {
        abort();
    }
    free(text);
    return 0;
}
