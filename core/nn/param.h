/* A named parameter or state tensor of a model, as the trainer and the
 * checkpoint code see it. The model owns value and grad. */
#ifndef NS_NN_PARAM_H
#define NS_NN_PARAM_H

#include <stddef.h>

#include <noisystudent/backend.h>

#include "plugin/backend_loader.h"

typedef struct ns_param {
    char name[96];   /* stable hierarchical name: "stage2.block0.bn1.running_var" */
    ns_buf *value;
    ns_buf *grad;    /* NULL for states (running statistics) */
    size_t size;     /* floats */
    int ndim;
    int shape[4];
    int decay;       /* 1 for conv/dense weights; 0 for BN gamma/beta and biases */
} ns_param;

/* Allocates value (and grad when with_grad) of prod(shape) floats on be and
 * fills name/shape/decay. On failure frees what it allocated. */
ns_status ns_param_alloc(ns_backend *be, ns_param *p, const char *name, int ndim,
                         const int *shape, int decay, int with_grad);
void ns_param_free(ns_backend *be, ns_param *p);

#endif
