#include "dist/grad_allreduce.h"

#include <stdlib.h>
#include <time.h>

#include "dist/device_allreduce.h"
#include "dist/dist.h"
#include "util/error.h"
#include "util/clock.h"

static ns_status reserve(ns_grad_fusion *f, size_t total)
{
    if (total <= f->cap)
        return NS_OK;
    float *p = realloc(f->host, (total ? total : 1) * sizeof *p);
    if (!p)
        return ns_fail(NS_ERR_NOMEM, "gradient all-reduce: cannot allocate a fusion buffer of %zu floats", total);
    f->host = p;
    f->cap = total;
    return NS_OK;
}

static ns_status pack(ns_backend *be, ns_grad_fusion *f, size_t n, ns_buf *const *bufs, const size_t *sizes,
                      size_t *total)
{
    size_t t = 0;
    for (size_t i = 0; i < n; i++)
        t += sizes[i];
    NS_TRY(reserve(f, t));
    size_t at = 0;
    for (size_t i = 0; i < n; i++) {
        NS_TRY(be->api->download(be->ctx, bufs[i], 0, f->host + at, sizes[i]));
        at += sizes[i];
    }
    *total = t;
    return NS_OK;
}

static ns_status unpack(ns_backend *be, ns_grad_fusion *f, size_t n, ns_buf *const *bufs, const size_t *sizes)
{
    size_t at = 0;
    for (size_t i = 0; i < n; i++) {
        NS_TRY(be->api->upload(be->ctx, bufs[i], 0, f->host + at, sizes[i]));
        at += sizes[i];
    }
    return NS_OK;
}

ns_status ns_grad_allreduce(ns_backend *be, ns_grad_fusion *f, size_t n, ns_buf *const *bufs, const size_t *sizes)
{
    if (ns_dist_size() <= 1)
        return NS_OK;
    double t0 = ns_now();
    /* The device path first: the backend's own collective (ABI 1.3, NCCL
     * on cuda), set up on the first call (a collective, and every rank's
     * first all-reduce is the same step); the host path when it has none. */
    ns_status st = ns_dist_device_attach(be, NULL, 0);
    if (st == NS_OK && be->dist_attached) {
        st = be->api->allreduce_sum(be->ctx, n, bufs, sizes, 1.0f);
        f->seconds += ns_now() - t0;
        f->calls++;
        if (st != NS_OK)
            ns_error_prefix("gradient all-reduce on the device (%zu tensors)", n);
        return st;
    }
    size_t total = 0;
    if (st == NS_OK)
        st = pack(be, f, n, bufs, sizes, &total);
    if (st == NS_OK)
        st = ns_dist_allreduce_sum_f32(f->host, total);
    if (st == NS_OK)
        st = unpack(be, f, n, bufs, sizes);
    f->seconds += ns_now() - t0;
    f->calls++;
    if (st != NS_OK)
        ns_error_prefix("gradient all-reduce (%zu tensors)", n);
    return st;
}

ns_status ns_dist_broadcast_bufs(ns_backend *be, ns_grad_fusion *f, size_t n, ns_buf *const *bufs,
                                 const size_t *sizes, int root)
{
    if (ns_dist_size() <= 1)
        return NS_OK;
    size_t total = 0;
    ns_status st = pack(be, f, n, bufs, sizes, &total);
    if (st == NS_OK)
        st = ns_dist_broadcast(f->host, total * sizeof *f->host, root);
    if (st == NS_OK && ns_dist_rank() != root)
        st = unpack(be, f, n, bufs, sizes);
    if (st != NS_OK)
        ns_error_prefix("broadcast of %zu tensors from rank %d", n, root);
    return st;
}

void ns_grad_fusion_free(ns_grad_fusion *f)
{
    free(f->host);
    f->host = NULL;
    f->cap = 0;
}
