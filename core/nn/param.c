#include "nn/param.h"

#include <stdio.h>
#include <string.h>

#include "util/error.h"

ns_status ns_param_alloc(ns_backend *be, ns_param *p, const char *name, int ndim,
                         const int *shape, int decay, int with_grad)
{
    memset(p, 0, sizeof *p);
    if (ndim < 1 || ndim > 4)
        return ns_fail(NS_ERR_INTERNAL, "param %s: ndim %d, expected 1..4", name, ndim);
    if (strlen(name) >= sizeof p->name)
        return ns_fail(NS_ERR_INTERNAL, "param name '%s' longer than %zu", name,
                       sizeof p->name - 1);
    snprintf(p->name, sizeof p->name, "%s", name);
    p->ndim = ndim;
    p->size = 1;
    for (int i = 0; i < ndim; i++) {
        p->shape[i] = shape[i];
        p->size *= (size_t)shape[i];
    }
    p->decay = decay;
    ns_status st = be->api->buf_alloc(be->ctx, p->size, &p->value);
    if (st == NS_OK && with_grad)
        st = be->api->buf_alloc(be->ctx, p->size, &p->grad);
    if (st != NS_OK) {
        ns_error_prefix("param %s", name);
        ns_param_free(be, p);
    }
    return st;
}

void ns_param_free(ns_backend *be, ns_param *p)
{
    if (p->value)
        be->api->buf_free(be->ctx, p->value);
    if (p->grad)
        be->api->buf_free(be->ctx, p->grad);
    p->value = NULL;
    p->grad = NULL;
}
