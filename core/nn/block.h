/* A residual block: a branch of conv-BN units (ReLU between them, none after
 * the last), drop-path on the branch, a shortcut (identity, or 1x1 conv + BN
 * when the stride or the channel count changes), add, ReLU.
 * Basic (block_basic.c): 3x3(stride) -> 3x3. Bottleneck (block_bottleneck.c):
 * 1x1 -> 3x3(stride) -> 1x1 to width*expansion. */
#ifndef NS_NN_BLOCK_H
#define NS_NN_BLOCK_H

#include <stdint.h>

#include "nn/conv_bn.h"
#include "nn/drop_path.h"

#define NS_BLOCK_MAX_UNITS 3

typedef struct ns_block {
    int n_units;
    ns_conv_bn unit[NS_BLOCK_MAX_UNITS];
    int has_proj;
    ns_conv_bn proj;
    ns_drop_path dp;
    ns_act out;           /* [n][out_c][out_h][out_w] */
    int in_c, in_h, in_w, out_c, out_h, out_w;
    const ns_buf *x;      /* input of the last forward (owned by the previous layer) */
    int batch;
} ns_block;

/* prefix "stage1.block0". Input [c][h][w]. */
ns_status ns_block_basic_create(ns_backend *be, ns_block *b, const char *prefix, int c, int h,
                                int w, int width, int stride);
ns_status ns_block_bottleneck_create(ns_backend *be, ns_block *b, const char *prefix, int c, int h,
                                     int w, int width, int expansion, int stride);
/* Adds the shortcut projection when needed and fills out_* (builders call it). */
ns_status ns_block_finish(ns_backend *be, ns_block *b, const char *prefix);
void ns_block_destroy(ns_backend *be, ns_block *b);

/* dp must already be planned (ns_drop_path_plan) for this forward. */
ns_status ns_block_forward(ns_backend *be, ns_block *b, const ns_buf *x, int n, int training);
/* g[0] holds the gradient of the block output on entry and the gradient of its
 * input on return; g[1..3] are scratch. Each holds n * max activation floats. */
ns_status ns_block_backward(ns_backend *be, ns_block *b, ns_buf *const g[4]);
/* Largest activation (per image) the block's backward writes into g. */
size_t ns_block_max_act(const ns_block *b);
double ns_block_macs(const ns_block *b);

#endif
