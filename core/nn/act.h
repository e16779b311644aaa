/* A device buffer that grows on demand: layers keep their activations in one
 * and reuse it while batches stay the same size or shrink. */
#ifndef NS_NN_ACT_H
#define NS_NN_ACT_H

#include <stddef.h>

#include "plugin/backend_loader.h"

typedef struct ns_act {
    ns_buf *buf;
    size_t cap; /* floats */
} ns_act;

/* Makes a->buf hold at least n floats (n == 0 counts as 1); when it has to grow,
 * the old contents are lost. */
ns_status ns_act_reserve(ns_backend *be, ns_act *a, size_t n);
void ns_act_free(ns_backend *be, ns_act *a);

#endif
