#include "cuda_conv_plan.h"
#include "cuda_plan_key.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

enum { UID_X = 1, UID_W = 2, UID_Y = 3 };
#define MAX_CANDIDATES 32

/* cuDNN < 9.8 has no DEVICEPROP descriptor: the operation graph and the plan
 * take the handle directly. Those attributes are deprecated from 9.8 on, so
 * they are named by value and used only when the runtime needs them. */
#define ATTR_OPERATIONGRAPH_HANDLE_PRE_9_8 ((cudnnBackendAttributeName_t)800)
#define ATTR_EXECUTION_PLAN_HANDLE_PRE_9_8 ((cudnnBackendAttributeName_t)400)

struct ns_cuda_conv_plan {
    ns_cuda_plan_key key;   /* direction, shape, data type, layout */
    int unsupported;        /* no engine for this key: callers fall back (NS_ERR_UNSUPPORTED) */
    ns_cuda_pack_ring packs; /* variant packs by pointer tuple, reused across calls */
    /* tensors x, w, y, the convolution, the operation, the graph and the
     * engine config stay alive as long as the plan built from them */
    cudnnBackendDescriptor_t keep[7];
    cudnnBackendDescriptor_t plan;
    int64_t workspace;
};

static void destroy(cudnnBackendDescriptor_t *d)
{
    if (*d)
        cudnnBackendDestroyDescriptor(*d);
    *d = NULL;
}

/* ---- building blocks; each returns the first failing cuDNN status ---- */

#define SET(desc, name, type, count, ptr)                                          \
    do {                                                                           \
        cudnnStatus_t s_ = cudnnBackendSetAttribute((desc), (name), (type), (count), (ptr)); \
        if (s_ != CUDNN_STATUS_SUCCESS)                                            \
            return s_;                                                             \
    } while (0)

/* dims are always the logical (n, c, h, w) (for the filter (k, c, r, s));
 * the layout only changes the strides: NHWC puts the channels innermost
 * (a filter becomes KRSC), what the tensor-core engines want for bf16/fp16. */
static cudnnStatus_t make_tensor(int64_t uid, const int64_t dims[4], cudnnDataType_t dtype,
                                 int layout, cudnnBackendDescriptor_t *out)
{
    cudnnStatus_t s = cudnnBackendCreateDescriptor(CUDNN_BACKEND_TENSOR_DESCRIPTOR, out);
    if (s != CUDNN_STATUS_SUCCESS)
        return s;
    int64_t strides[4];
    if (layout == NS_CUDA_LAYOUT_NHWC)
        ns_cuda_strides_nhwc(dims, strides);
    else
        ns_cuda_strides_nchw(dims, strides);
    int64_t alignment = 16; /* the allocator hands out 512-byte aligned blocks */
    SET(*out, CUDNN_ATTR_TENSOR_DATA_TYPE, CUDNN_TYPE_DATA_TYPE, 1, &dtype);
    SET(*out, CUDNN_ATTR_TENSOR_DIMENSIONS, CUDNN_TYPE_INT64, 4, dims);
    SET(*out, CUDNN_ATTR_TENSOR_STRIDES, CUDNN_TYPE_INT64, 4, strides);
    SET(*out, CUDNN_ATTR_TENSOR_UNIQUE_ID, CUDNN_TYPE_INT64, 1, &uid);
    SET(*out, CUDNN_ATTR_TENSOR_BYTE_ALIGNMENT, CUDNN_TYPE_INT64, 1, &alignment);
    return cudnnBackendFinalize(*out);
}

static cudnnStatus_t make_convolution(const ns_conv_desc *d, cudnnBackendDescriptor_t *out)
{
    cudnnStatus_t s = cudnnBackendCreateDescriptor(CUDNN_BACKEND_CONVOLUTION_DESCRIPTOR, out);
    if (s != CUDNN_STATUS_SUCCESS)
        return s;
    int64_t dims = 2;
    cudnnDataType_t compute = CUDNN_DATA_FLOAT;
    cudnnConvolutionMode_t mode = CUDNN_CROSS_CORRELATION;
    int64_t pad[2] = {d->pad, d->pad}, dilation[2] = {1, 1}, stride[2] = {d->stride, d->stride};
    SET(*out, CUDNN_ATTR_CONVOLUTION_SPATIAL_DIMS, CUDNN_TYPE_INT64, 1, &dims);
    SET(*out, CUDNN_ATTR_CONVOLUTION_COMP_TYPE, CUDNN_TYPE_DATA_TYPE, 1, &compute);
    SET(*out, CUDNN_ATTR_CONVOLUTION_CONV_MODE, CUDNN_TYPE_CONVOLUTION_MODE, 1, &mode);
    SET(*out, CUDNN_ATTR_CONVOLUTION_PRE_PADDINGS, CUDNN_TYPE_INT64, 2, pad);
    SET(*out, CUDNN_ATTR_CONVOLUTION_POST_PADDINGS, CUDNN_TYPE_INT64, 2, pad);
    SET(*out, CUDNN_ATTR_CONVOLUTION_DILATIONS, CUDNN_TYPE_INT64, 2, dilation);
    SET(*out, CUDNN_ATTR_CONVOLUTION_FILTER_STRIDES, CUDNN_TYPE_INT64, 2, stride);
    return cudnnBackendFinalize(*out);
}

static cudnnStatus_t make_operation(ns_cuda_conv_kind kind, cudnnBackendDescriptor_t x,
                                    cudnnBackendDescriptor_t w, cudnnBackendDescriptor_t y,
                                    cudnnBackendDescriptor_t conv, cudnnBackendDescriptor_t *out)
{
    static const cudnnBackendDescriptorType_t type[3] = {
        CUDNN_BACKEND_OPERATION_CONVOLUTION_FORWARD_DESCRIPTOR,
        CUDNN_BACKEND_OPERATION_CONVOLUTION_BACKWARD_DATA_DESCRIPTOR,
        CUDNN_BACKEND_OPERATION_CONVOLUTION_BACKWARD_FILTER_DESCRIPTOR};
    /* attribute names per kind: x, w, y, conv, alpha, beta */
    static const cudnnBackendAttributeName_t attr[3][6] = {
        {CUDNN_ATTR_OPERATION_CONVOLUTION_FORWARD_X, CUDNN_ATTR_OPERATION_CONVOLUTION_FORWARD_W,
         CUDNN_ATTR_OPERATION_CONVOLUTION_FORWARD_Y, CUDNN_ATTR_OPERATION_CONVOLUTION_FORWARD_CONV_DESC,
         CUDNN_ATTR_OPERATION_CONVOLUTION_FORWARD_ALPHA, CUDNN_ATTR_OPERATION_CONVOLUTION_FORWARD_BETA},
        {CUDNN_ATTR_OPERATION_CONVOLUTION_BWD_DATA_DX, CUDNN_ATTR_OPERATION_CONVOLUTION_BWD_DATA_W,
         CUDNN_ATTR_OPERATION_CONVOLUTION_BWD_DATA_DY, CUDNN_ATTR_OPERATION_CONVOLUTION_BWD_DATA_CONV_DESC,
         CUDNN_ATTR_OPERATION_CONVOLUTION_BWD_DATA_ALPHA, CUDNN_ATTR_OPERATION_CONVOLUTION_BWD_DATA_BETA},
        {CUDNN_ATTR_OPERATION_CONVOLUTION_BWD_FILTER_X, CUDNN_ATTR_OPERATION_CONVOLUTION_BWD_FILTER_DW,
         CUDNN_ATTR_OPERATION_CONVOLUTION_BWD_FILTER_DY,
         CUDNN_ATTR_OPERATION_CONVOLUTION_BWD_FILTER_CONV_DESC,
         CUDNN_ATTR_OPERATION_CONVOLUTION_BWD_FILTER_ALPHA,
         CUDNN_ATTR_OPERATION_CONVOLUTION_BWD_FILTER_BETA}};
    cudnnStatus_t s = cudnnBackendCreateDescriptor(type[kind], out);
    if (s != CUDNN_STATUS_SUCCESS)
        return s;
    float alpha = 1.0f, beta = 0.0f;
    SET(*out, attr[kind][0], CUDNN_TYPE_BACKEND_DESCRIPTOR, 1, &x);
    SET(*out, attr[kind][1], CUDNN_TYPE_BACKEND_DESCRIPTOR, 1, &w);
    SET(*out, attr[kind][2], CUDNN_TYPE_BACKEND_DESCRIPTOR, 1, &y);
    SET(*out, attr[kind][3], CUDNN_TYPE_BACKEND_DESCRIPTOR, 1, &conv);
    SET(*out, attr[kind][4], CUDNN_TYPE_FLOAT, 1, &alpha);
    SET(*out, attr[kind][5], CUDNN_TYPE_FLOAT, 1, &beta);
    return cudnnBackendFinalize(*out);
}

static cudnnStatus_t make_graph(ns_cuda_ctx *c, cudnnBackendDescriptor_t op, int with_handle,
                                cudnnBackendDescriptor_t *out)
{
    cudnnStatus_t s = cudnnBackendCreateDescriptor(CUDNN_BACKEND_OPERATIONGRAPH_DESCRIPTOR, out);
    if (s != CUDNN_STATUS_SUCCESS)
        return s;
    SET(*out, CUDNN_ATTR_OPERATIONGRAPH_OPS, CUDNN_TYPE_BACKEND_DESCRIPTOR, 1, &op);
    if (with_handle)
        SET(*out, ATTR_OPERATIONGRAPH_HANDLE_PRE_9_8, CUDNN_TYPE_HANDLE, 1, &c->cudnn);
    return cudnnBackendFinalize(*out);
}

/* Engine configs cuDNN suggests for the graph, best first, into cfg[0..*n). */
static cudnnStatus_t suggest(ns_cuda_ctx *c, cudnnBackendDescriptor_t graph,
                             cudnnBackendHeurMode_t mode, cudnnBackendDescriptor_t *cfg,
                             int64_t *n)
{
    *n = 0;
    cudnnBackendDescriptor_t heur = NULL;
    cudnnStatus_t s = cudnnBackendCreateDescriptor(CUDNN_BACKEND_ENGINEHEUR_DESCRIPTOR, &heur);
    if (s != CUDNN_STATUS_SUCCESS)
        return s;
    s = cudnnBackendSetAttribute(heur, CUDNN_ATTR_ENGINEHEUR_OPERATION_GRAPH,
                                 CUDNN_TYPE_BACKEND_DESCRIPTOR, 1, &graph);
    if (s == CUDNN_STATUS_SUCCESS)
        s = cudnnBackendSetAttribute(heur, CUDNN_ATTR_ENGINEHEUR_MODE, CUDNN_TYPE_HEUR_MODE, 1,
                                     &mode);
    if (s == CUDNN_STATUS_SUCCESS && c->deviceprop)
        s = cudnnBackendSetAttribute(heur, CUDNN_ATTR_ENGINEHEUR_DEVICEPROP,
                                     CUDNN_TYPE_BACKEND_DESCRIPTOR, 1, &c->deviceprop);
    if (s == CUDNN_STATUS_SUCCESS)
        s = cudnnBackendFinalize(heur);
    int64_t available = 0;
    if (s == CUDNN_STATUS_SUCCESS)
        s = cudnnBackendGetAttribute(heur, CUDNN_ATTR_ENGINEHEUR_RESULTS,
                                     CUDNN_TYPE_BACKEND_DESCRIPTOR, 0, &available, NULL);
    if (available > MAX_CANDIDATES)
        available = MAX_CANDIDATES;
    int64_t made = 0;
    for (; s == CUDNN_STATUS_SUCCESS && made < available; made++)
        s = cudnnBackendCreateDescriptor(CUDNN_BACKEND_ENGINECFG_DESCRIPTOR, &cfg[made]);
    if (s == CUDNN_STATUS_SUCCESS && made > 0)
        s = cudnnBackendGetAttribute(heur, CUDNN_ATTR_ENGINEHEUR_RESULTS,
                                     CUDNN_TYPE_BACKEND_DESCRIPTOR, made, n, cfg);
    if (s != CUDNN_STATUS_SUCCESS)
        *n = 0;
    for (int64_t i = *n; i < made; i++) /* created but not filled */
        destroy(&cfg[i]);
    destroy(&heur);
    return s;
}

/* What an engine config's notes say about it. */
enum {
    ENGINE_NOT_FP32 = 1,        /* tensor cores (TF32) or down-converted inputs */
    ENGINE_RUNTIME_COMPILED = 2 /* compiles its kernel at plan time (NVRTC): slow to build */
};

static int engine_traits(cudnnBackendDescriptor_t cfg)
{
    cudnnBackendDescriptor_t engine = NULL;
    if (cudnnBackendCreateDescriptor(CUDNN_BACKEND_ENGINE_DESCRIPTOR, &engine) !=
        CUDNN_STATUS_SUCCESS)
        return 0;
    int traits = 0;
    int64_t count = 0;
    if (cudnnBackendGetAttribute(cfg, CUDNN_ATTR_ENGINECFG_ENGINE, CUDNN_TYPE_BACKEND_DESCRIPTOR, 1,
                                 &count, &engine) == CUDNN_STATUS_SUCCESS) {
        cudnnBackendNumericalNote_t notes[CUDNN_NUMERICAL_NOTE_TYPE_COUNT];
        if (cudnnBackendGetAttribute(engine, CUDNN_ATTR_ENGINE_NUMERICAL_NOTE,
                                     CUDNN_TYPE_NUMERICAL_NOTE, CUDNN_NUMERICAL_NOTE_TYPE_COUNT,
                                     &count, notes) == CUDNN_STATUS_SUCCESS)
            for (int64_t i = 0; i < count && i < CUDNN_NUMERICAL_NOTE_TYPE_COUNT; i++)
                if (notes[i] == CUDNN_NUMERICAL_NOTE_TENSOR_CORE ||
                    notes[i] == CUDNN_NUMERICAL_NOTE_DOWN_CONVERT_INPUTS ||
                    notes[i] == CUDNN_NUMERICAL_NOTE_REDUCED_PRECISION_REDUCTION)
                    traits |= ENGINE_NOT_FP32;
        cudnnBackendBehaviorNote_t behavior[CUDNN_BEHAVIOR_NOTE_TYPE_COUNT];
        if (cudnnBackendGetAttribute(engine, CUDNN_ATTR_ENGINE_BEHAVIOR_NOTE,
                                     CUDNN_TYPE_BEHAVIOR_NOTE, CUDNN_BEHAVIOR_NOTE_TYPE_COUNT,
                                     &count, behavior) == CUDNN_STATUS_SUCCESS)
            for (int64_t i = 0; i < count && i < CUDNN_BEHAVIOR_NOTE_TYPE_COUNT; i++)
                if (behavior[i] == CUDNN_BEHAVIOR_NOTE_RUNTIME_COMPILATION)
                    traits |= ENGINE_RUNTIME_COMPILED;
    }
    destroy(&engine);
    return traits;
}

/* In strict fp32 (no TF32) an engine that is not float32 arithmetic is never
 * used; runtime-compiled engines only when nothing precompiled fits
 * (allow_rtc), since building one can take seconds per shape. */
static int engine_allowed(ns_cuda_ctx *c, cudnnBackendDescriptor_t cfg, cudnnDataType_t dtype,
                          int allow_rtc)
{
    int traits = engine_traits(cfg);
    if ((traits & ENGINE_NOT_FP32) && dtype == CUDNN_DATA_FLOAT && !c->allow_tf32)
        return 0;
    if ((traits & ENGINE_RUNTIME_COMPILED) && !allow_rtc)
        return 0;
    return 1;
}

static cudnnStatus_t make_plan(ns_cuda_ctx *c, cudnnBackendDescriptor_t cfg, int with_handle,
                               cudnnBackendDescriptor_t *out, int64_t *workspace)
{
    cudnnStatus_t s = cudnnBackendCreateDescriptor(CUDNN_BACKEND_EXECUTION_PLAN_DESCRIPTOR, out);
    if (s != CUDNN_STATUS_SUCCESS)
        return s;
    SET(*out, CUDNN_ATTR_EXECUTION_PLAN_ENGINE_CONFIG, CUDNN_TYPE_BACKEND_DESCRIPTOR, 1, &cfg);
    if (c->deviceprop)
        SET(*out, CUDNN_ATTR_EXECUTION_PLAN_DEVICEPROP, CUDNN_TYPE_BACKEND_DESCRIPTOR, 1,
            &c->deviceprop);
    if (with_handle)
        SET(*out, ATTR_EXECUTION_PLAN_HANDLE_PRE_9_8, CUDNN_TYPE_HANDLE, 1, &c->cudnn);
    s = cudnnBackendFinalize(*out);
    if (s != CUDNN_STATUS_SUCCESS)
        return s;
    int64_t count = 0;
    return cudnnBackendGetAttribute(*out, CUDNN_ATTR_EXECUTION_PLAN_WORKSPACE_SIZE,
                                    CUDNN_TYPE_INT64, 1, &count, workspace);
}

#undef SET

/* ---- execution ---- */

/* A finalized variant pack binding x, w, y and the workspace ws. */
static cudnnStatus_t make_pack(void *x, void *w, void *y, void *ws, cudnnBackendDescriptor_t *out)
{
    int64_t uids[3] = {UID_X, UID_W, UID_Y};
    void *ptrs[3] = {x, w, y};
    cudnnStatus_t s = cudnnBackendCreateDescriptor(CUDNN_BACKEND_VARIANT_PACK_DESCRIPTOR, out);
    if (s == CUDNN_STATUS_SUCCESS)
        s = cudnnBackendSetAttribute(*out, CUDNN_ATTR_VARIANT_PACK_UNIQUE_IDS, CUDNN_TYPE_INT64,
                                     3, uids);
    if (s == CUDNN_STATUS_SUCCESS)
        s = cudnnBackendSetAttribute(*out, CUDNN_ATTR_VARIANT_PACK_DATA_POINTERS,
                                     CUDNN_TYPE_VOID_PTR, 3, ptrs);
    if (s == CUDNN_STATUS_SUCCESS)
        s = cudnnBackendSetAttribute(*out, CUDNN_ATTR_VARIANT_PACK_WORKSPACE, CUDNN_TYPE_VOID_PTR,
                                     1, &ws);
    if (s == CUDNN_STATUS_SUCCESS)
        s = cudnnBackendFinalize(*out);
    return s;
}

/* Runs `plan` on x, w, y. With a ring, the variant pack for this pointer
 * tuple (workspace included: it moves when the pooled workspace grows) is
 * reused when the ring has it and kept there otherwise; without one (the
 * autotuning runs of candidate plans) a pack is made and destroyed. */
static ns_status execute(ns_cuda_ctx *c, const char *op, cudnnBackendDescriptor_t plan,
                         int64_t workspace, ns_cuda_pack_ring *ring, void *x, void *w, void *y)
{
    void *ws = NULL;
    NS_CUDA_TRY(ns_cuda_workspace(c, op, (size_t)workspace, &ws));
    void *key[4] = {x, w, y, ws};
    int slot = ring ? ns_cuda_pack_find(ring, key) : -1;
    cudnnBackendDescriptor_t pack = slot >= 0 ? ring->pack[slot] : NULL;
    cudnnStatus_t s = CUDNN_STATUS_SUCCESS;
    if (!pack) {
        s = make_pack(x, w, y, ws, &pack);
        if (s != CUDNN_STATUS_SUCCESS) {
            destroy(&pack);
            return ns_cuda_fail_dnn(c, op, "variant pack (cudnnBackendFinalize)", s);
        }
        if (ring) {
            void *old = NULL;
            slot = ns_cuda_pack_claim(ring, key, &old);
            destroy(&old);
            ring->pack[slot] = pack;
        }
    }
    s = cudnnBackendExecute(c->cudnn, plan, pack);
    if (!ring)
        destroy(&pack);
    if (s != CUDNN_STATUS_SUCCESS)
        return ns_cuda_fail_dnn(c, op, "cudnnBackendExecute", s);
    return NS_OK;
}

/* Mean time of `reps` runs of a plan, in ms; negative when it fails to run. */
static float time_plan(ns_cuda_ctx *c, const char *op, cudnnBackendDescriptor_t plan,
                       int64_t workspace, void *x, void *w, void *y, cudaEvent_t t0,
                       cudaEvent_t t1)
{
    const int reps = 2;
    if (execute(c, op, plan, workspace, NULL, x, w, y) != NS_OK) /* warm-up */
        return -1.0f;
    if (cudaEventRecord(t0, c->stream) != cudaSuccess)
        return -1.0f;
    for (int i = 0; i < reps; i++)
        if (execute(c, op, plan, workspace, NULL, x, w, y) != NS_OK)
            return -1.0f;
    float ms = -1.0f;
    if (cudaEventRecord(t1, c->stream) != cudaSuccess || cudaEventSynchronize(t1) != cudaSuccess ||
        cudaEventElapsedTime(&ms, t0, t1) != cudaSuccess)
        return -1.0f;
    return ms / (float)reps;
}

/* ---- plan construction ---- */

static void plan_clear(ns_cuda_conv_plan *p);

static void plan_free(ns_cuda_conv_plan *p)
{
    if (!p)
        return;
    plan_clear(p);
    free(p);
}

static const char *dtype_name(cudnnDataType_t t)
{
    return t == CUDNN_DATA_HALF ? "fp16" : t == CUDNN_DATA_BFLOAT16 ? "bf16" : "fp32";
}

static ns_status fail_shape(ns_cuda_ctx *c, const char *op, const ns_cuda_plan_key *key,
                            const char *what, cudnnStatus_t s)
{
    const ns_conv_desc *d = &key->d;
    cudnnDataType_t dtype = (cudnnDataType_t)key->dtype;
    char detail[256];
    detail[0] = '\0';
    cudnnGetLastErrorString(detail, sizeof detail);
    for (char *q = detail; *q; q++)
        if (*q == '\n' || *q == '\r')
            *q = ' ';
    /* kept in the context too: a shape that falls back is logged with it */
    snprintf(c->plan_error, sizeof c->plan_error,
             "%s: cuDNN %s for n=%d c=%d h=%d w=%d k=%d r=%d s=%d stride=%d pad=%d "
             "(%s %s%s): %s%s%s",
             op, what, d->n, d->c, d->h, d->w, d->k, d->r, d->s, d->stride, d->pad,
             dtype_name(dtype), key->layout == NS_CUDA_LAYOUT_NHWC ? "NHWC" : "NCHW",
             dtype == CUDNN_DATA_FLOAT && !c->allow_tf32 ? " without TF32" : "",
             cudnnGetErrorString(s), detail[0] ? ": " : "", detail);
    c->host->set_error("%s", c->plan_error);
    return s == CUDNN_STATUS_NOT_SUPPORTED ? NS_ERR_UNSUPPORTED : NS_ERR_DEVICE;
}

/* Picks among the allowed, buildable configs: the first when not autotuning,
 * otherwise the fastest of the first c->autotune. */
static ns_status choose(ns_cuda_ctx *c, const char *op, ns_cuda_conv_plan *p, int with_handle,
                        cudnnBackendDescriptor_t *cfg, int64_t n_cfg, void *x, void *w, void *y)
{
    cudnnBackendDescriptor_t plans[MAX_CANDIDATES];
    int64_t ws[MAX_CANDIDATES];
    int owner[MAX_CANDIDATES];
    int n = 0, want = c->autotune > 1 ? c->autotune : 1;
    for (int pass = 0; pass < 2 && n == 0; pass++) {
        for (int64_t i = 0; i < n_cfg && n < want; i++) {
            if (!engine_allowed(c, cfg[i], (cudnnDataType_t)p->key.dtype, pass == 1))
                continue;
            cudnnBackendDescriptor_t plan = NULL;
            int64_t bytes = 0;
            if (make_plan(c, cfg[i], with_handle, &plan, &bytes) != CUDNN_STATUS_SUCCESS) {
                destroy(&plan);
                continue;
            }
            plans[n] = plan;
            ws[n] = bytes;
            owner[n] = (int)i;
            n++;
        }
    }
    if (n == 0)
        return NS_ERR_NOT_FOUND;
    int best = 0;
    if (n > 1) {
        cudaEvent_t t0 = NULL, t1 = NULL;
        NS_CUDA_RT(c, op, cudaEventCreate(&t0));
        cudaError_t e = cudaEventCreate(&t1);
        if (e != cudaSuccess) {
            (void)cudaEventDestroy(t0);
            return ns_cuda_fail_rt(c, op, "cudaEventCreate", e);
        }
        float best_ms = -1.0f;
        for (int i = 0; i < n; i++) {
            float ms = time_plan(c, op, plans[i], ws[i], x, w, y, t0, t1);
            if (ms >= 0.0f && (best_ms < 0.0f || ms < best_ms)) {
                best_ms = ms;
                best = i;
            }
        }
        (void)cudaEventDestroy(t0);
        (void)cudaEventDestroy(t1);
        c->host->log(2, "cuda: %s n=%d c=%d h=%d w=%d k=%d r=%d s=%d stride=%d: engine %d of %d, "
                        "%.3f ms",
                     op, p->key.d.n, p->key.d.c, p->key.d.h, p->key.d.w, p->key.d.k, p->key.d.r,
                     p->key.d.s, p->key.d.stride, best,
                     n, (double)best_ms);
    }
    for (int i = 0; i < n; i++)
        if (i != best)
            destroy(&plans[i]);
    p->plan = plans[best];
    p->workspace = ws[best];
    p->keep[6] = cfg[owner[best]];
    cfg[owner[best]] = NULL; /* now owned by the plan */
    return NS_OK;
}

/* One attempt at a plan; with_handle passes the cuDNN handle the pre-9.8 way. */
static ns_status build_once(ns_cuda_ctx *c, const char *op, ns_cuda_conv_plan *p, int with_handle,
                            void *x, void *w, void *y)
{
    const ns_conv_desc *d = &p->key.d;
    cudnnDataType_t dtype = (cudnnDataType_t)p->key.dtype;
    int layout = p->key.layout;
    int64_t xd[4] = {d->n, d->c, d->h, d->w}, wd[4] = {d->k, d->c, d->r, d->s},
            yd[4] = {d->n, d->k, d->p, d->q};
    cudnnStatus_t s = make_tensor(UID_X, xd, dtype, layout, &p->keep[0]);
    if (s == CUDNN_STATUS_SUCCESS)
        s = make_tensor(UID_W, wd, dtype, layout, &p->keep[1]);
    if (s == CUDNN_STATUS_SUCCESS)
        s = make_tensor(UID_Y, yd, dtype, layout, &p->keep[2]);
    if (s == CUDNN_STATUS_SUCCESS)
        s = make_convolution(d, &p->keep[3]);
    if (s == CUDNN_STATUS_SUCCESS)
        s = make_operation((ns_cuda_conv_kind)p->key.kind, p->keep[0], p->keep[1], p->keep[2],
                           p->keep[3], &p->keep[4]);
    if (s != CUDNN_STATUS_SUCCESS)
        return fail_shape(c, op, &p->key, "rejected the convolution", s);
    s = make_graph(c, p->keep[4], with_handle, &p->keep[5]);
    if (s != CUDNN_STATUS_SUCCESS)
        return fail_shape(c, op, &p->key, "rejected the operation graph", s);

    static const cudnnBackendHeurMode_t modes[2] = {CUDNN_HEUR_MODE_A, CUDNN_HEUR_MODE_FALLBACK};
    cudnnStatus_t last = CUDNN_STATUS_NOT_SUPPORTED;
    for (int m = 0; m < 2; m++) {
        cudnnBackendDescriptor_t cfg[MAX_CANDIDATES];
        int64_t n_cfg = 0;
        last = suggest(c, p->keep[5], modes[m], cfg, &n_cfg);
        ns_status st =
            n_cfg > 0 ? choose(c, op, p, with_handle, cfg, n_cfg, x, w, y) : NS_ERR_NOT_FOUND;
        for (int64_t i = 0; i < n_cfg; i++)
            destroy(&cfg[i]);
        if (st == NS_OK)
            return NS_OK;
        if (st != NS_ERR_NOT_FOUND)
            return st;
    }
    return fail_shape(c, op, &p->key, "has no usable engine",
                      last == CUDNN_STATUS_SUCCESS ? CUDNN_STATUS_NOT_SUPPORTED : last);
}

static void plan_clear(ns_cuda_conv_plan *p)
{
    for (int i = 0; i < NS_CUDA_PACK_RING; i++)
        destroy(&p->packs.pack[i]);
    destroy(&p->plan);
    for (int i = 6; i >= 0; i--)
        destroy(&p->keep[i]);
}

static ns_status build(ns_cuda_ctx *c, const char *op, ns_cuda_conv_plan *p, void *x, void *w,
                       void *y)
{
    int with_handle = c->cudnn_graph_needs_handle;
    ns_status st = build_once(c, op, p, with_handle, x, w, y);
    if (st == NS_OK || with_handle)
        return st;
    /* The DEVICEPROP route failed: a runtime that still wants the handle on
     * the graph and the plan. Try that once; keep it for later plans if it works
     * and report the first failure if it does not. */
    plan_clear(p);
    if (build_once(c, op, p, 1, x, w, y) != NS_OK) {
        plan_clear(p);
        return build_once(c, op, p, 0, x, w, y);
    }
    c->cudnn_graph_needs_handle = 1;
    c->host->log(1, "cuda: this cuDNN wants the handle on the operation graph; using it");
    return NS_OK;
}

static ns_cuda_conv_plan *lookup(ns_cuda_ctx *c, const ns_cuda_plan_key *key)
{
    for (size_t i = 0; i < c->n_plans; i++)
        if (ns_cuda_plan_key_equal(&c->plans[i]->key, key))
            return c->plans[i];
    return NULL;
}

ns_status ns_cuda_conv_run(ns_cuda_ctx *c, const char *op, ns_cuda_conv_kind kind,
                           const ns_conv_desc *d, cudnnDataType_t dtype, int layout, void *x,
                           void *w, void *y)
{
    ns_cuda_plan_key key;
    memset(&key, 0, sizeof key);
    key.kind = (int)kind;
    key.dtype = (int)dtype;
    key.layout = layout;
    key.d = *d;
    ns_cuda_conv_plan *p = lookup(c, &key);
    if (p && p->unsupported) {
        c->host->set_error("%s: no cuDNN engine for this shape in %s %s (found when the plan was "
                           "first built)",
                           op, dtype_name(dtype), layout == NS_CUDA_LAYOUT_NHWC ? "NHWC" : "NCHW");
        return NS_ERR_UNSUPPORTED;
    }
    if (!p) {
        if (c->n_plans == c->cap_plans) {
            size_t cap = c->cap_plans ? 2 * c->cap_plans : 32;
            ns_cuda_conv_plan **np = realloc(c->plans, cap * sizeof *np);
            if (!np) {
                c->host->set_error("%s: out of host memory for the plan cache", op);
                return NS_ERR_NOMEM;
            }
            c->plans = np;
            c->cap_plans = cap;
        }
        p = calloc(1, sizeof *p);
        if (!p) {
            c->host->set_error("%s: out of host memory for a plan", op);
            return NS_ERR_NOMEM;
        }
        p->key = key;
        c->plan_error[0] = '\0';
        ns_status st = build(c, op, p, x, w, y);
        if (st != NS_OK) {
            plan_clear(p);
            /* An NHWC key cuDNN refuses in any way while building (not only
             * NOT_SUPPORTED) falls back to the per-call NCHW path, which has
             * run before: a first GPU run then still measures everything,
             * and the log names each shape and cuDNN's reason. */
            int fallback = st == NS_ERR_UNSUPPORTED ||
                           (layout == NS_CUDA_LAYOUT_NHWC && st == NS_ERR_DEVICE);
            if (!fallback) {
                free(p);
                return st;
            }
            if (layout == NS_CUDA_LAYOUT_NHWC)
                c->host->log(1, "cuda: %s; this shape converts per call instead",
                             c->plan_error[0] ? c->plan_error : "no NHWC plan");
            /* remembered, so a caller that falls back does not rebuild (and
             * re-time) the key on every call */
            p->unsupported = 1;
            c->plans[c->n_plans++] = p;
            return NS_ERR_UNSUPPORTED;
        }
        c->plans[c->n_plans++] = p;
    }
    return execute(c, op, p->plan, p->workspace, &p->packs, x, w, y);
}

void ns_cuda_conv_plans_free(ns_cuda_ctx *c)
{
    for (size_t i = 0; i < c->n_plans; i++)
        plan_free(c->plans[i]);
    free(c->plans);
    c->plans = NULL;
    c->n_plans = c->cap_plans = 0;
}
