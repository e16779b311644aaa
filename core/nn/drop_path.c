#include "nn/drop_path.h"

#include <noisystudent/rng.h>

#include "nn/model.h"
#include "util/error.h"

float ns_drop_path_survival(int l, int n_blocks, float pl)
{
    if (pl >= 1.0f)
        return 1.0f;
    return 1.0f - (float)(l + 1) / (float)n_blocks * (1.0f - pl);
}

ns_status ns_drop_path_plan(ns_backend *be, ns_drop_path *l, int mode, float p, int training,
                            int batch, uint64_t seed, uint64_t stream)
{
    l->action = NS_DP_NONE;
    l->p = p;
    if (p >= 1.0f)
        return NS_OK;
    if (!(p > 0.0f))
        return ns_fail(NS_ERR_INVALID_ARG, "drop_path: survival probability %g, expected (0, 1]",
                       p);
    if (mode == NS_DROP_PATH_PER_BATCH) {
        if (!training)
            l->action = NS_DP_SCALE;
        else if (!(ns_philox_uniform_at(seed, stream, 0) < p))
            l->action = NS_DP_BATCH_DROPPED;
        return NS_OK;
    }
    if (mode != NS_DROP_PATH_PER_SAMPLE)
        return ns_fail(NS_ERR_INVALID_ARG, "drop_path: mode %d, expected per-sample (0) or "
                                           "per-batch (1)", mode);
    if (!training)
        return NS_OK;
    NS_TRY(ns_act_reserve(be, &l->mask, (size_t)batch));
    NS_TRY(be->api->mask_bernoulli(be->ctx, l->mask.buf, (size_t)batch, p, 1.0f / p, seed, stream));
    l->action = NS_DP_SAMPLE_MASK;
    return NS_OK;
}

ns_status ns_drop_path_forward(ns_backend *be, ns_drop_path *l, ns_buf *branch, int batch,
                               size_t cols)
{
    size_t n = (size_t)batch * cols;
    switch (l->action) {
    case NS_DP_SAMPLE_MASK:
        return be->api->mul_rows(be->ctx, branch, l->mask.buf, branch, (size_t)batch, cols);
    case NS_DP_SCALE:
        return be->api->axpby(be->ctx, branch, branch, n, l->p, 0.0f);
    case NS_DP_NONE:
    case NS_DP_BATCH_DROPPED:
        break;
    }
    return NS_OK;
}

ns_status ns_drop_path_backward(ns_backend *be, ns_drop_path *l, const ns_buf *dsum,
                                ns_buf *scratch, int batch, size_t cols, const ns_buf **dbranch)
{
    *dbranch = dsum;
    if (l->action == NS_DP_SCALE)
        return ns_fail(NS_ERR_INVALID_ARG, "drop_path backward after an eval forward");
    if (l->action != NS_DP_SAMPLE_MASK)
        return NS_OK;
    *dbranch = scratch;
    return be->api->mul_rows(be->ctx, dsum, l->mask.buf, scratch, (size_t)batch, cols);
}

void ns_drop_path_destroy(ns_backend *be, ns_drop_path *l)
{
    ns_act_free(be, &l->mask);
}
