/* Convolution layer without bias: weight [k][c][r][r], square kernel,
 * padding r/2. Owns its weight, its gradient and its output activation. */
#ifndef NS_NN_CONV_H
#define NS_NN_CONV_H

#include <stdint.h>

#include "nn/act.h"
#include "nn/param.h"

typedef struct ns_conv {
    ns_param weight;
    int c, k, r, stride, pad;
    ns_act out; /* [n][k][p][q] of the last forward */
} ns_conv;

/* name: prefix such as "stage1.block0.conv1"; the weight is "<name>.weight". */
ns_status ns_conv_create(ns_backend *be, ns_conv *l, const char *name, int c, int k, int r,
                         int stride);
void ns_conv_destroy(ns_backend *be, ns_conv *l);
/* Output spatial size for an h x w input. */
void ns_conv_out_size(const ns_conv *l, int h, int w, int *p, int *q);
ns_conv_desc ns_conv_make_desc(const ns_conv *l, int n, int h, int w);
/* l->out = conv(x), x: [n][c][h][w]. */
ns_status ns_conv_forward(ns_backend *be, ns_conv *l, const ns_buf *x, int n, int h, int w);
/* Overwrites weight.grad from x and dy; writes dx ([n][c][h][w]) unless dx is NULL. */
ns_status ns_conv_backward(ns_backend *be, ns_conv *l, const ns_buf *x, int n, int h, int w,
                           const ns_buf *dy, ns_buf *dx);
/* Kaiming normal, fan_out mode, ReLU gain: std = sqrt(2 / (k*r*r)), drawn from
 * Philox (seed, stream) with Box-Muller on the host and uploaded. */
ns_status ns_conv_init(ns_backend *be, ns_conv *l, uint64_t seed, uint64_t stream);
/* Multiply-accumulates per image for an h x w input. */
double ns_conv_macs(const ns_conv *l, int h, int w);

#endif
