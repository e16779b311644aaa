/* Progress of a long loop on stderr: on a terminal a bar redrawn in place
 * (images/s, loss, ETA); otherwise silent, since the caller prints one line
 * per epoch and logs must not fill with carriage returns. */
#ifndef NS_TRAIN_PROGRESS_H
#define NS_TRAIN_PROGRESS_H

#include <stddef.h>

#include "util/clock.h"

typedef struct ns_progress {
    int enabled;
    char label[64];
    size_t total;
    double start;
    double last_draw;
} ns_progress;

/* ns_now(): monotonic seconds (util/clock.h), for the callers timing their loops. */

void ns_progress_begin(ns_progress *p, const char *label, size_t total);
/* done of total units (images); loss < 0 hides the loss. Redraws at most ~10x/s. */
void ns_progress_update(ns_progress *p, size_t done, double loss);
/* Clears the bar. */
void ns_progress_end(ns_progress *p);

#endif
