#include "cuda_nccl.h"

#include <dlfcn.h>
#include <string.h>

#include <nccl.h>

#include "cuda_context.h"

/* The NCCL entry points this backend uses, resolved once from libnccl.so.2
 * (NCCL's ABI is stable within major version 2). */
static struct {
    int tried, ok;
    char why[200];
    __typeof__(&ncclGetUniqueId) get_unique_id;
    __typeof__(&ncclCommInitRank) comm_init_rank;
    __typeof__(&ncclCommDestroy) comm_destroy;
    __typeof__(&ncclAllReduce) all_reduce;
    __typeof__(&ncclGroupStart) group_start;
    __typeof__(&ncclGroupEnd) group_end;
    __typeof__(&ncclRedOpCreatePreMulSum) premulsum_create;
    __typeof__(&ncclRedOpDestroy) op_destroy;
    __typeof__(&ncclGetErrorString) error_string;
} lib;

/* One process-wide table, filled once; a backend context is used by one host
 * thread at a time and NCCL setup happens once per run, before any training
 * thread exists. */
static int nccl_open(void)
{
    if (lib.tried)
        return lib.ok;
    lib.tried = 1;
    void *h = dlopen("libnccl.so.2", RTLD_NOW | RTLD_LOCAL);
    if (!h)
        h = dlopen("libnccl.so", RTLD_NOW | RTLD_LOCAL);
    if (!h) {
        const char *e = dlerror();
        strncpy(lib.why, e ? e : "libnccl.so.2 not found", sizeof lib.why - 1);
        return 0;
    }
#define NS_NCCL_SYM(field, name)                                                          \
    do {                                                                                  \
        *(void **)&lib.field = dlsym(h, name);                                            \
        if (!lib.field) {                                                                 \
            strncpy(lib.why, "libnccl has no " name " (NCCL 2.11 or newer needed)", sizeof lib.why - 1); \
            return 0;                                                                     \
        }                                                                                 \
    } while (0)
    NS_NCCL_SYM(get_unique_id, "ncclGetUniqueId");
    NS_NCCL_SYM(comm_init_rank, "ncclCommInitRank");
    NS_NCCL_SYM(comm_destroy, "ncclCommDestroy");
    NS_NCCL_SYM(all_reduce, "ncclAllReduce");
    NS_NCCL_SYM(group_start, "ncclGroupStart");
    NS_NCCL_SYM(group_end, "ncclGroupEnd");
    NS_NCCL_SYM(premulsum_create, "ncclRedOpCreatePreMulSum");
    NS_NCCL_SYM(op_destroy, "ncclRedOpDestroy");
    NS_NCCL_SYM(error_string, "ncclGetErrorString");
#undef NS_NCCL_SYM
    lib.ok = 1; /* the handle stays open for the process, like the plugin itself */
    return 1;
}

static ns_status fail_nccl(ns_cuda_ctx *c, const char *op, const char *what, ncclResult_t r)
{
    c->host->set_error("%s: %s failed: %s", op, what, lib.error_string ? lib.error_string(r) : "NCCL error");
    return NS_ERR_DEVICE;
}

#define NS_NCCL(c, op, call)                                \
    do {                                                    \
        ncclResult_t ns_r_ = (call);                        \
        if (ns_r_ != ncclSuccess)                           \
            return fail_nccl((c), (op), #call, ns_r_);      \
    } while (0)

static ns_status need_lib(ns_cuda_ctx *c, const char *op)
{
    if (nccl_open())
        return NS_OK;
    c->host->set_error("%s: NCCL is not available: %s", op, lib.why);
    return NS_ERR_UNSUPPORTED;
}

ns_status ns_cuda_dist_unique_id(void *ctx, void *id, size_t cap, size_t *id_bytes)
{
    ns_cuda_ctx *c = ctx;
    *id_bytes = 0;
    NS_CUDA_TRY(need_lib(c, "dist_unique_id"));
    if (cap < sizeof(ncclUniqueId)) {
        c->host->set_error("dist_unique_id: %zu bytes of room, an NCCL id needs %zu", cap, sizeof(ncclUniqueId));
        return NS_ERR_INVALID_ARG;
    }
    ncclUniqueId u;
    NS_NCCL(c, "dist_unique_id", lib.get_unique_id(&u));
    memcpy(id, &u, sizeof u);
    *id_bytes = sizeof u;
    return NS_OK;
}

ns_status ns_cuda_dist_attach(void *ctx, int rank, int size, const void *id, size_t id_bytes)
{
    ns_cuda_ctx *c = ctx;
    NS_CUDA_TRY(need_lib(c, "dist_attach"));
    if (c->nccl_comm) {
        c->host->set_error("dist_attach: this context already joined a communicator (rank %d of %d)", c->nccl_rank,
                           c->nccl_size);
        return NS_ERR_INVALID_ARG;
    }
    if (id_bytes != sizeof(ncclUniqueId) || rank < 0 || rank >= size) {
        c->host->set_error("dist_attach: id of %zu bytes (NCCL's is %zu), rank %d of %d", id_bytes,
                           sizeof(ncclUniqueId), rank, size);
        return NS_ERR_INVALID_ARG;
    }
    NS_CUDA_TRY(ns_cuda_enter(c, "dist_attach"));
    ncclUniqueId u;
    memcpy(&u, id, sizeof u);
    ncclComm_t comm = NULL;
    NS_NCCL(c, "dist_attach", lib.comm_init_rank(&comm, size, u, rank));
    c->nccl_comm = comm;
    c->nccl_rank = rank;
    c->nccl_size = size;
    return NS_OK;
}

ns_status ns_cuda_allreduce_sum(void *ctx, size_t count, ns_buf *const *bufs, const size_t *ns, float scale)
{
    ns_cuda_ctx *c = ctx;
    if (!c->nccl_comm) {
        c->host->set_error("allreduce_sum: called before a successful dist_attach");
        return NS_ERR_INVALID_ARG;
    }
    if (count == 0)
        return NS_OK;
    for (size_t i = 0; i < count; i++)
        NS_CUDA_TRY(ns_cuda_need(c, "allreduce_sum", "bufs[i]", bufs[i], ns[i]));
    NS_CUDA_TRY(ns_cuda_enter(c, "allreduce_sum"));
    /* in place on the float32 copies (a 16-bit gradient is widened first) */
    for (size_t i = 0; i < count; i++) {
        float *unused;
        NS_CUDA_TRY(ns_cuda_rw(c, "allreduce_sum", bufs[i], &unused));
    }
    ncclComm_t comm = c->nccl_comm;
    /* scale folds into the reduction: sum(scale * x) over ranks, one pass. */
    ncclRedOp_t op = ncclSum;
    float s = scale;
    if (scale != 1.0f)
        NS_NCCL(c, "allreduce_sum", lib.premulsum_create(&op, &s, ncclFloat32, ncclScalarHostImmediate, comm));
    /* One group: NCCL fuses the buffers' collectives into one launch. */
    ncclResult_t r = lib.group_start();
    for (size_t i = 0; r == ncclSuccess && i < count; i++)
        if (ns[i])
            r = lib.all_reduce(bufs[i]->f32, bufs[i]->f32, ns[i], ncclFloat32, op, comm, c->stream);
    ncclResult_t end = lib.group_end();
    if (op != ncclSum)
        (void)lib.op_destroy(op, comm);
    if (r != ncclSuccess)
        return fail_nccl(c, "allreduce_sum", "ncclAllReduce", r);
    if (end != ncclSuccess)
        return fail_nccl(c, "allreduce_sum", "ncclGroupEnd", end);
    return NS_OK;
}

void ns_cuda_nccl_release(void *ctx)
{
    ns_cuda_ctx *c = ctx;
    if (c->nccl_comm && lib.comm_destroy)
        (void)lib.comm_destroy((ncclComm_t)c->nccl_comm);
    c->nccl_comm = NULL;
}
