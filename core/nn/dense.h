/* Fully connected layer: y = x w^T + b, weight [out][in] "<name>.weight",
 * bias [out] "<name>.bias". */
#ifndef NS_NN_DENSE_H
#define NS_NN_DENSE_H

#include <stdint.h>

#include "nn/act.h"
#include "nn/param.h"

typedef struct ns_dense {
    ns_param weight, bias;
    int in, out;
    ns_act y; /* [n][out] */
} ns_dense;

ns_status ns_dense_create(ns_backend *be, ns_dense *l, const char *name, int in, int out);
void ns_dense_destroy(ns_backend *be, ns_dense *l);
ns_status ns_dense_forward(ns_backend *be, ns_dense *l, const ns_buf *x, int n);
/* Overwrites weight/bias grads; writes dx ([n][in]) unless NULL. */
ns_status ns_dense_backward(ns_backend *be, ns_dense *l, const ns_buf *x, int n, const ns_buf *dy,
                            ns_buf *dx);
/* PyTorch's default: weight and bias U(-1/sqrt(in), 1/sqrt(in)) from Philox
 * streams (seed, weight_stream) and (seed, bias_stream). */
ns_status ns_dense_init(ns_backend *be, ns_dense *l, uint64_t seed, uint64_t weight_stream,
                        uint64_t bias_stream);

#endif
