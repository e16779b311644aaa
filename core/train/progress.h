/* Progress of a long loop on stderr (training steps, labeling, evaluation,
 * packing): on a terminal a one-line bar redrawn in place with the rate and
 * the time left; when stderr is not a terminal, nothing at all, since the
 * callers print one line per epoch or stage and logs must not fill with
 * carriage returns. The bar is fitted to the terminal's width (a wrapped
 * line could not be redrawn in place) and cleared by ns_progress_end, so
 * the line printed after it starts on a clean row. */
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
    int columns; /* the terminal's width when the bar began */
} ns_progress;

/* ns_now(): monotonic seconds (util/clock.h), for the callers timing their loops. */

void ns_progress_begin(ns_progress *p, const char *label, size_t total);
/* done of total units (images); loss < 0 hides the loss. Redraws at most ~10x/s,
 * and always when done reaches total. */
void ns_progress_update(ns_progress *p, size_t done, double loss);
/* Clears the bar. */
void ns_progress_end(ns_progress *p);

/* The bar's text (no \r, no escape codes) for `done` of `total` after
 * `elapsed` seconds, at most `columns` - 1 characters (so it never wraps):
 *   LABEL [=======>      ]  45%  1234/2816  1520 img/s  loss 0.4123  ETA 0:02
 * Parts are dropped from the right end of the bar when space is short.
 * Returns buf. */
char *ns_progress_format(char *buf, size_t len, const char *label, size_t done, size_t total, double elapsed,
                         double loss, int columns);

#endif
