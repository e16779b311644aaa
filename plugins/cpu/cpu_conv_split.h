/* Convolution weight gradients computed by batch split (cpu_conv_split.c). */
#ifndef NS_CPU_CONV_SPLIT_H
#define NS_CPU_CONV_SPLIT_H

#include "cpu_internal.h"

/* dw = gradient of the weights for d from x (layout x_md at px) and dy
 * (layout dy_md at pdy), each thread of the context taking a share of the
 * batch. Sets *done to 0 and returns NS_OK without touching anything when the
 * layouts or oneDNN do not allow the split (the caller then runs the whole
 * batch as one primitive); *done = 1 when dw holds the result. */
ns_status cpu_conv_bwd_weights_split(cpu_ctx *ctx, const char *op, const ns_conv_desc *d,
                                     const dnnl_memory_desc_t *x_md, const void *px,
                                     const dnnl_memory_desc_t *dy_md, const void *pdy,
                                     ns_buf *dw, int *done);

#endif
