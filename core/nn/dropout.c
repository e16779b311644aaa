#include "nn/dropout.h"

#include "util/error.h"

ns_status ns_dropout_forward(ns_backend *be, ns_dropout *l, const ns_buf *x, size_t n, float rate,
                             int training, uint64_t seed, uint64_t stream, const ns_buf **y)
{
    l->n = n;
    l->active = 0;
    *y = x;
    if (!training || rate <= 0.0f)
        return NS_OK;
    if (!(rate < 1.0f))
        return ns_fail(NS_ERR_INVALID_ARG, "dropout: rate %g, expected 0 <= rate < 1", rate);
    float keep = 1.0f - rate;
    NS_TRY(ns_act_reserve(be, &l->mask, n));
    NS_TRY(ns_act_reserve(be, &l->out, n));
    NS_TRY(be->api->mask_bernoulli(be->ctx, l->mask.buf, n, keep, 1.0f / keep, seed, stream));
    NS_TRY(be->api->mul(be->ctx, x, l->mask.buf, l->out.buf, n));
    l->active = 1;
    *y = l->out.buf;
    return NS_OK;
}

ns_status ns_dropout_backward(ns_backend *be, ns_dropout *l, const ns_buf *dy, ns_buf *dx)
{
    if (l->active)
        return be->api->mul(be->ctx, dy, l->mask.buf, dx, l->n);
    if (dx != dy)
        return be->api->copy(be->ctx, dx, dy, l->n);
    return NS_OK;
}

void ns_dropout_destroy(ns_backend *be, ns_dropout *l)
{
    ns_act_free(be, &l->mask);
    ns_act_free(be, &l->out);
}
