#include "nn/act.h"

#include "util/error.h"

ns_status ns_act_reserve(ns_backend *be, ns_act *a, size_t n)
{
    if (n == 0)
        n = 1;
    if (a->buf && a->cap >= n)
        return NS_OK;
    ns_act_free(be, a);
    ns_status st = be->api->buf_alloc(be->ctx, n, &a->buf);
    if (st != NS_OK) {
        a->buf = NULL;
        ns_error_prefix("activation of %zu floats", n);
        return st;
    }
    a->cap = n;
    return NS_OK;
}

void ns_act_free(ns_backend *be, ns_act *a)
{
    if (a->buf)
        be->api->buf_free(be->ctx, a->buf);
    a->buf = NULL;
    a->cap = 0;
}
