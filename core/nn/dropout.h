/* Inverted dropout: in training each element is kept with probability
 * 1-rate and scaled by 1/(1-rate); in eval (or rate 0) it is the identity.
 * The mask comes from be->api->mask_bernoulli so every backend draws the same. */
#ifndef NS_NN_DROPOUT_H
#define NS_NN_DROPOUT_H

#include <stdint.h>

#include "nn/act.h"

typedef struct ns_dropout {
    ns_act mask, out;
    int active; /* the last forward applied a mask */
    size_t n;   /* elements of the last forward */
} ns_dropout;

/* *y is x (inactive) or l->out.buf. rate in [0, 1). */
ns_status ns_dropout_forward(ns_backend *be, ns_dropout *l, const ns_buf *x, size_t n, float rate,
                             int training, uint64_t seed, uint64_t stream, const ns_buf **y);
/* dx = dy * mask (dx may be dy); inactive: copies dy into dx unless they are the same. */
ns_status ns_dropout_backward(ns_backend *be, ns_dropout *l, const ns_buf *dy, ns_buf *dx);
void ns_dropout_destroy(ns_backend *be, ns_dropout *l);

#endif
