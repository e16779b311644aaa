#include "nn/block.h"

#include <stdio.h>
#include <string.h>

#include "util/error.h"

ns_status ns_block_finish(ns_backend *be, ns_block *b, const char *prefix)
{
    const ns_conv_bn *last = &b->unit[b->n_units - 1];
    b->out_c = last->conv.k;
    b->out_h = last->p;
    b->out_w = last->q;
    int stride = 1;
    for (int i = 0; i < b->n_units; i++)
        stride *= b->unit[i].conv.stride;
    if (stride == 1 && b->out_c == b->in_c)
        return NS_OK;
    char name[96];
    snprintf(name, sizeof name, "%s.shortcut", prefix);
    b->has_proj = 1;
    NS_TRY(ns_conv_bn_create(be, &b->proj, name, "", b->in_c, b->out_c, 1, stride, 0, b->in_h,
                             b->in_w));
    if (b->proj.p != b->out_h || b->proj.q != b->out_w)
        return ns_fail(NS_ERR_INVALID_ARG,
                       "%s: shortcut output %dx%d does not match the branch's %dx%d (input %dx%d)",
                       prefix, b->proj.p, b->proj.q, b->out_h, b->out_w, b->in_h, b->in_w);
    return NS_OK;
}

void ns_block_destroy(ns_backend *be, ns_block *b)
{
    for (int i = 0; i < b->n_units; i++)
        ns_conv_bn_destroy(be, &b->unit[i]);
    if (b->has_proj)
        ns_conv_bn_destroy(be, &b->proj);
    ns_drop_path_destroy(be, &b->dp);
    ns_act_free(be, &b->out);
}

static size_t out_size(const ns_block *b)
{
    return (size_t)b->out_c * (size_t)b->out_h * (size_t)b->out_w;
}

/* Inference with the backend's fused unit: the shortcut first, so the last unit
 * can add it and apply the block's ReLU in the same call. A per-batch
 * drop-path's eval scaling (NS_DP_SCALE) rides along folded into the last
 * unit's batchnorm (ns_conv_bn_infer_fused); only the branch is scaled. */
static ns_status block_infer_fused(ns_backend *be, ns_block *b, const ns_buf *x, int n)
{
    const ns_buf *shortcut = x;
    if (b->has_proj) {
        NS_TRY(ns_conv_bn_forward(be, &b->proj, x, n, 0));
        shortcut = b->proj.bn.out.buf;
    }
    const ns_buf *in = x;
    for (int i = 0; i < b->n_units - 1; i++) {
        NS_TRY(ns_conv_bn_forward(be, &b->unit[i], in, n, 0));
        in = b->unit[i].bn.out.buf;
    }
    float scale = b->dp.action == NS_DP_SCALE ? b->dp.p : 1.0f;
    return ns_conv_bn_infer_fused(be, &b->unit[b->n_units - 1], in, n, shortcut, 1, scale, &b->out);
}

ns_status ns_block_forward(ns_backend *be, ns_block *b, const ns_buf *x, int n, int training)
{
    b->x = x;
    b->batch = n;
    /* At evaluation the action is NONE or SCALE (ns_drop_path_plan); both fuse. */
    if (!training && be->api->conv2d_bn_infer &&
        (b->dp.action == NS_DP_NONE || b->dp.action == NS_DP_SCALE))
        return block_infer_fused(be, b, x, n);
    size_t cols = out_size(b), total = (size_t)n * cols;
    int dropped = b->dp.action == NS_DP_BATCH_DROPPED;
    const ns_buf *branch = NULL;
    if (!dropped) {
        const ns_buf *in = x;
        for (int i = 0; i < b->n_units; i++) {
            NS_TRY(ns_conv_bn_forward(be, &b->unit[i], in, n, training));
            in = b->unit[i].bn.out.buf;
        }
        /* The last unit has no ReLU, so its BN output is not needed by backward
         * and can take the drop-path scaling in place. */
        NS_TRY(ns_drop_path_forward(be, &b->dp, b->unit[b->n_units - 1].bn.out.buf, n, cols));
        branch = in;
    }
    const ns_buf *shortcut = x;
    if (b->has_proj) {
        NS_TRY(ns_conv_bn_forward(be, &b->proj, x, n, training));
        shortcut = b->proj.bn.out.buf;
    }
    NS_TRY(ns_act_reserve(be, &b->out, total));
    if (dropped)
        return be->api->relu_forward(be->ctx, shortcut, b->out.buf, total);
    NS_TRY(be->api->add(be->ctx, shortcut, branch, b->out.buf, total));
    return be->api->relu_forward(be->ctx, b->out.buf, b->out.buf, total);
}

ns_status ns_block_backward(ns_backend *be, ns_block *b, ns_buf *const g[4])
{
    int n = b->batch;
    size_t cols = out_size(b), total = (size_t)n * cols;
    int dropped = b->dp.action == NS_DP_BATCH_DROPPED;
    NS_TRY(be->api->relu_backward(be->ctx, b->out.buf, g[0], g[0], total));
    if (dropped) {
        for (int i = 0; i < b->n_units; i++)
            NS_TRY(ns_conv_bn_zero_grad(be, &b->unit[i]));
    } else {
        const ns_buf *dbranch = NULL;
        NS_TRY(ns_drop_path_backward(be, &b->dp, g[0], g[1], n, cols, &dbranch));
        /* The last unit has no ReLU, so its dy is only read: passing g[0] is safe.
         * Units then ping-pong: BN grad into g[2], conv input grad into g[3]. */
        ns_buf *dy = (ns_buf *)dbranch;
        for (int i = b->n_units - 1; i >= 0; i--) {
            const ns_buf *in = i ? b->unit[i - 1].bn.out.buf : b->x;
            NS_TRY(ns_conv_bn_backward(be, &b->unit[i], in, n, dy, g[2], g[3]));
            dy = g[3];
        }
    }
    if (b->has_proj)
        NS_TRY(ns_conv_bn_backward(be, &b->proj, b->x, n, g[0], g[1], g[0]));
    if (dropped)
        return NS_OK;
    size_t in_total = (size_t)n * (size_t)b->in_c * (size_t)b->in_h * (size_t)b->in_w;
    return be->api->add(be->ctx, g[0], g[3], g[0], in_total);
}

size_t ns_block_max_act(const ns_block *b)
{
    size_t m = (size_t)b->in_c * (size_t)b->in_h * (size_t)b->in_w;
    for (int i = 0; i < b->n_units; i++) {
        size_t s = ns_conv_bn_out_size(&b->unit[i]);
        m = s > m ? s : m;
    }
    return m;
}

double ns_block_macs(const ns_block *b)
{
    double macs = 0;
    for (int i = 0; i < b->n_units; i++)
        macs += ns_conv_macs(&b->unit[i].conv, b->unit[i].h, b->unit[i].w);
    if (b->has_proj)
        macs += ns_conv_macs(&b->proj.conv, b->in_h, b->in_w);
    return macs;
}
