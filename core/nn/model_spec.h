/* Model specifications: the ResNet family as plain data, parsed from and
 * formatted to one line of text (stored in checkpoints).
 *
 * Accepted text:
 *   resnetD[:opts]          CIFAR ResNet, D = 6n+2 (resnet8/20/32/56 ...): basic blocks,
 *                           n per stage, 3 stages of widths w,2w,4w (w = 16), strides 1,2,2,
 *                           3x3 stem of w filters. opts: width=W (base width),
 *                           mult=M (multiplier applied to every width, rounded, >= 1).
 *   seed-resnet50           the seed blog's ResNet-50: 5x5 stem of 32 filters, bottleneck
 *                           blocks 3-4-6-3 at widths 64-128-256-512, expansion 4,
 *                           strides 1-2-1-2.
 *   bottleneck:opts         custom bottleneck net; basic:opts custom basic-block net.
 *                           opts: blocks=3-4-6-3 (1..6 stages), width=W (stage i gets
 *                           W*2^i) or widths=64-128-.., strides=1-2-.., stem=KxW,
 *                           expansion=E (bottleneck only), mult=M, name=NAME.
 * The stem is always stride 1, padding K/2; no max-pool (small images).
 */
#ifndef NS_NN_MODEL_SPEC_H
#define NS_NN_MODEL_SPEC_H

#include <stddef.h>

#include <noisystudent/status.h>

#define NS_MAX_STAGES 6

typedef struct ns_model_spec {
    char name[32];                     /* "resnet20", "seed-resnet50", "bottleneck", ... */
    int bottleneck;                    /* 1: bottleneck blocks, 0: basic blocks */
    int stem_kernel;                   /* odd, stride 1, padding stem_kernel/2 */
    int stem_width;
    int n_stages;                      /* 1..NS_MAX_STAGES */
    int stage_width[NS_MAX_STAGES];    /* inner width; outputs width*expansion */
    int stage_blocks[NS_MAX_STAGES];
    int stage_stride[NS_MAX_STAGES];   /* stride of the first block of the stage */
    int expansion;                     /* 1 for basic blocks, typically 4 for bottleneck */
} ns_model_spec;

/* Parses `text` into *out (zeroed first). Unknown names or options, bad numbers,
 * inconsistent lists: NS_ERR_USAGE with one line naming the bad part and what is
 * accepted. */
ns_status ns_model_spec_parse(const char *text, ns_model_spec *out);

/* Canonical text of *s into buf (always NUL-terminated, truncated to len-1).
 * A spec equal to a bare preset formats as the preset name ("resnet20");
 * anything else as the explicit "basic:..."/"bottleneck:..." form with name=.
 * ns_model_spec_parse(format(s)) reproduces *s exactly. */
void ns_model_spec_format(const ns_model_spec *s, char *buf, size_t len);

/* 1 when both specs describe the same network (all fields, name included). */
int ns_model_spec_equal(const ns_model_spec *a, const ns_model_spec *b);

/* Total number of residual blocks. */
int ns_model_spec_blocks(const ns_model_spec *s);

#endif
