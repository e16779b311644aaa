#include "nn/block.h"

#include <string.h>

#include "util/error.h"

ns_status ns_block_bottleneck_create(ns_backend *be, ns_block *b, const char *prefix, int c, int h,
                                     int w, int width, int expansion, int stride)
{
    memset(b, 0, sizeof *b);
    b->in_c = c;
    b->in_h = h;
    b->in_w = w;
    b->n_units = 3;
    /* Stride on the 3x3 (torchvision's ResNet v1.5), as the paper's code does. */
    NS_TRY(ns_conv_bn_create(be, &b->unit[0], prefix, "1", c, width, 1, 1, 1, h, w));
    NS_TRY(ns_conv_bn_create(be, &b->unit[1], prefix, "2", width, width, 3, stride, 1, h, w));
    NS_TRY(ns_conv_bn_create(be, &b->unit[2], prefix, "3", width, width * expansion, 1, 1, 0,
                             b->unit[1].p, b->unit[1].q));
    return ns_block_finish(be, b, prefix);
}
