#include "dist/device_allreduce.h"

#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "dist/dist.h"
#include "util/error.h"

/* Big enough for NCCL's 128-byte unique id and anything like it. */
#define NS_DIST_ID_CAP 1024

static void say(char *why, size_t cap, const char *msg)
{
    if (why && cap)
        snprintf(why, cap, "%s", msg);
}

ns_status ns_dist_device_attach(ns_backend *be, char *why, size_t why_cap)
{
    say(why, why_cap, "");
    if (ns_dist_size() <= 1) {
        say(why, why_cap, "one process: nothing to all-reduce");
        return NS_OK;
    }
    if (be->dist_attached || be->dist_tried)
        return NS_OK;
    be->dist_tried = 1; /* once per backend: the answer does not change */
    /* Every rank runs the same backend kind, but say so when one differs:
     * the agreement below covers it anyway. */
    const int has = be->api->allreduce_sum && be->api->dist_attach && be->api->dist_unique_id;
    unsigned char id[NS_DIST_ID_CAP];
    size_t id_bytes = 0;
    int64_t stage[2] = {has ? 0 : 1, 0}; /* [0]: some rank lacks the slots; [1]: rank 0's id failed */
    char detail[512] = "";
    if (has && ns_dist_is_root()) {
        ns_status st = be->api->dist_unique_id(be->ctx, id, sizeof id, &id_bytes);
        if (st != NS_OK || id_bytes == 0 || id_bytes > sizeof id) {
            stage[1] = 1;
            snprintf(detail, sizeof detail, "%s", ns_last_error());
        }
    }
    NS_TRY(ns_dist_allreduce_max_i64(stage, 2));
    if (stage[0] || stage[1]) {
        char msg[700];
        snprintf(msg, sizeof msg, "%s: %s; gradients go through host memory and MPI", be->name,
                 stage[0] ? "no device collectives on every rank" : "no communicator id");
        if (detail[0])
            snprintf(msg + strlen(msg), sizeof msg - strlen(msg), " (%s)", detail);
        say(why, why_cap, msg);
        ns_clear_error();
        return NS_OK;
    }
    uint64_t len = id_bytes;
    NS_TRY(ns_dist_broadcast(&len, sizeof len, 0));
    NS_TRY(ns_dist_broadcast(id, (size_t)len, 0));
    ns_status st = be->api->dist_attach(be->ctx, ns_dist_rank(), ns_dist_size(), id, (size_t)len);
    int64_t failed = st != NS_OK;
    if (failed)
        snprintf(detail, sizeof detail, "%s", ns_last_error());
    NS_TRY(ns_dist_allreduce_max_i64(&failed, 1));
    if (failed) {
        char msg[700];
        snprintf(msg, sizeof msg, "%s: dist_attach failed on a rank%s%s; gradients go through host memory and MPI",
                 be->name, detail[0] ? ": " : "", detail);
        say(why, why_cap, msg);
        ns_clear_error();
        return NS_OK;
    }
    be->dist_attached = 1;
    return NS_OK;
}

static ns_status reserve(ns_dist_fusion *f, size_t total)
{
    if (total <= f->cap)
        return NS_OK;
    float *p = realloc(f->host, (total ? total : 1) * sizeof *p);
    if (!p)
        return ns_fail(NS_ERR_NOMEM, "all-reduce: no memory for a fusion buffer of %zu floats", total);
    f->host = p;
    f->cap = total;
    return NS_OK;
}

ns_status ns_dist_device_allreduce(ns_backend *be, ns_dist_fusion *f, size_t count, ns_buf *const *bufs,
                                   const size_t *ns, float scale)
{
    if (count == 0)
        return NS_OK;
    if (be->dist_attached && be->api->allreduce_sum)
        return be->api->allreduce_sum(be->ctx, count, bufs, ns, scale);
    if (ns_dist_size() <= 1 && scale == 1.0f)
        return NS_OK;
    size_t total = 0;
    for (size_t i = 0; i < count; i++)
        total += ns[i];
    NS_TRY(reserve(f, total));
    /* Tensor fusion: one collective over one flat buffer, not one per tensor. */
    for (size_t i = 0, at = 0; i < count; at += ns[i], i++)
        NS_TRY(be->api->download(be->ctx, bufs[i], 0, f->host + at, ns[i]));
    NS_TRY(ns_dist_allreduce_sum_f32(f->host, total));
    if (scale != 1.0f)
        for (size_t j = 0; j < total; j++)
            f->host[j] *= scale;
    for (size_t i = 0, at = 0; i < count; at += ns[i], i++)
        NS_TRY(be->api->upload(be->ctx, bufs[i], 0, f->host + at, ns[i]));
    return NS_OK;
}

void ns_dist_fusion_free(ns_dist_fusion *f)
{
    free(f->host);
    f->host = NULL;
    f->cap = 0;
}
