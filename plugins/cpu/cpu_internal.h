/* Internals of the oneDNN CPU backend, shared by its source files only.
 *
 * Buffers remember their PHYSICAL layout: plain float32 (the ABI's NCHW view)
 * or a oneDNN float32 memory descriptor (blocked layouts such as nChw16c that
 * the convolution primitives prefer). Ops that understand a layout use it as it
 * is; everything else asks for the plain view first (cpu_buf_to_plain), which
 * reorders lazily, once, in place. Converting a buffer's physical layout does
 * not change its logical content, so it is done even on buffers the ABI passes
 * as const: within one context, one host thread at a time (backend.h). The
 * exceptions are conversions that would change content (into bf16, or into a
 * tensor smaller than the buffer, which drops the rest): for a const input
 * those go to a temporary (cpu_buf_read_in).
 *
 * In bf16 mode a buffer may also hold bf16 elements (a oneDNN bf16 memory
 * descriptor): convolutions write bf16, and the ops that consume such a tensor
 * keep it in bf16 (batchnorm, element-wise ops, the next convolution), the
 * precision PyTorch's autocast gives activations. A float32 operand that
 * meets a bf16 tensor in an element-wise op or batchnorm is read through a
 * bf16 copy in a temporary (cpu_buf_read_in): converting it in place would
 * round a const input's content, which backend.h forbids; only an operand
 * that is also the op's output is converted in place. Loss, dense,
 * pooling outputs, weights and optimizer state stay float32.
 *
 * A buffer holding a blocked tensor holds only that tensor: its floats beyond
 * the tensor's extent (a smaller batch in a larger buffer) are unspecified,
 * and read as zeros once the buffer goes plain.
 *
 * Padding invariant: channels padded up to a block hold zeros (oneDNN's
 * contract for its primitives); the element-wise loops here keep it because
 * f(0, 0) == 0 for each of them, so they may run over the padded storage.
 */
#ifndef NS_CPU_INTERNAL_H
#define NS_CPU_INTERNAL_H

#include <stddef.h>
#include <stdint.h>

#include <oneapi/dnnl/dnnl.h>

#include <noisystudent/backend.h>

struct ns_buf {
    size_t n;              /* logical float count, fixed at allocation */
    float *data;           /* storage, 64-byte aligned, cap bytes */
    size_t cap;
    int has_md;            /* 0: plain float32[n]; 1: physical layout is md */
    dnnl_memory_desc_t md; /* float32 or bf16, valid when has_md */
    struct ns_buf *prev, *next; /* the context's live list (destroy frees leftovers) */
};

/* Cached primitive: one per op kind and shape (reorders: per layout pair). */
enum cpu_prim_kind {
    CPU_PRIM_CONV_FWD = 1,
    CPU_PRIM_CONV_BWD_DATA,
    CPU_PRIM_CONV_BWD_WEIGHTS,
    CPU_PRIM_REORDER,
    CPU_PRIM_CONV_BN_INFER /* conv + bias + sum/relu post-ops (cpu_conv_bn.c) */
};

#define CPU_KEY_INTS 16
#define CPU_SPARES 6
#define CPU_SPARE_BYTES ((size_t)96 << 20) /* at most this much kept in spares */
#define CPU_PRIM_MDS 4
#define CPU_TMP_SLOTS 4

typedef struct cpu_prim {
    int kind;
    int64_t key[CPU_KEY_INTS];
    int key_mds;                 /* how many of key_md[] take part in the key */
    dnnl_memory_desc_t key_md[2];
    dnnl_primitive_t prim;
    /* kind-specific memory descriptors the primitive was created for:
     * conv fwd: src, weights, dst; bwd data: diff_src, weights, diff_dst;
     * bwd weights: src, diff_weights, diff_dst; reorder: src, dst;
     * fused inference: src, weights, dst, bias. */
    dnnl_memory_desc_t md[CPU_PRIM_MDS];
    size_t scratch_bytes;
} cpu_prim;

typedef struct cpu_ctx {
    const ns_host_api *host;
    int threads;
    ns_precision precision;
    dnnl_engine_t engine;
    dnnl_stream_t stream;
    dnnl_stream_t *tstreams;    /* one per thread, for per-thread primitives (cpu_conv_split.c) */
    dnnl_primitive_attr_t attr; /* user scratchpad mode, shared by every primitive */
    cpu_prim *prims;
    size_t n_prims, cap_prims;
    void *scratch;               /* shared scratchpad, grown to the largest need */
    size_t scratch_cap;
    /* temporaries: 0, 1 reorder targets (conv input, weights); 2 BN workspace,
     * split gradients; 3 folded weights and bias (cpu_conv_bn.c) */
    void *tmp[CPU_TMP_SLOTS];
    size_t tmp_cap[CPU_TMP_SLOTS];
    struct ns_buf *bufs;         /* live buffers */
    /* storage released by layout changes, reused by the next ones (a layout
     * change per step would otherwise map and fault in fresh pages each time) */
    struct { float *p; size_t cap; } spare[CPU_SPARES];
    char line[192];              /* describe() */
} cpu_ctx;

/* Hot loops are compiled for AVX-512 and AVX2 as well as the baseline, and
 * the loader picks the best at run time (a plugin must still load on any
 * x86-64, so no -march). Floating-point contraction stays off (ISO C mode),
 * so every version computes bit-identical results. */
#if defined(__x86_64__) && defined(__GNUC__) && !defined(__SANITIZE_ADDRESS__)
#define CPU_KERNEL __attribute__((target_clones("arch=x86-64-v4", "arch=x86-64-v3", "default")))
#else
#define CPU_KERNEL
#endif

/* ---- errors ---- */
/* Writes "<op>: <msg>" through the host and returns st. */
ns_status cpu_fail(cpu_ctx *ctx, ns_status st, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));
/* Reports a failed oneDNN call: "<op>: oneDNN <call> failed: <status>". */
ns_status cpu_dnnl_fail(cpu_ctx *ctx, const char *op, const char *call, dnnl_status_t s);
#define CPU_DNNL(ctx, op, call)                                       \
    do {                                                              \
        dnnl_status_t cpu_s_ = (call);                                \
        if (cpu_s_ != dnnl_success)                                   \
            return cpu_dnnl_fail((ctx), (op), #call, cpu_s_);         \
    } while (0)
#define CPU_TRY(expr)                                                 \
    do {                                                              \
        ns_status cpu_st_ = (expr);                                   \
        if (cpu_st_ != NS_OK)                                         \
            return cpu_st_;                                           \
    } while (0)

/* Sets the OpenMP thread count for the calling thread (ops may come from a
 * thread other than the one that created the context). */
void cpu_enter(cpu_ctx *ctx);

/* ---- argument checks (one line naming op and argument on failure) ---- */
ns_status cpu_check_buf(cpu_ctx *ctx, const char *op, const char *name, const ns_buf *b,
                        size_t need);

/* ---- buffers and layouts (cpu_layout.c) ---- */
/* Bytes the buffer's current physical layout occupies. */
size_t cpu_buf_phys_bytes(const ns_buf *b);
/* Element count of the buffer's current physical layout (padding included). */
size_t cpu_buf_phys_count(const ns_buf *b);
/* 1 when the buffer's physical elements are bf16 (bf16 mode: see cpu_conv.c). */
static inline int cpu_buf_is_bf16(const ns_buf *b)
{
    return b->has_md && b->md.data_type == dnnl_bf16;
}
/* bf16 <-> float32 (round to nearest even; NaN stays NaN). */
static inline float cpu_bf16_to_f32(uint16_t h)
{
    union { uint32_t u; float f; } v = {(uint32_t)h << 16};
    return v.f;
}
static inline uint16_t cpu_f32_to_bf16(float f)
{
    union { float f; uint32_t u; } v = {f};
    if ((v.u & 0x7fffffffu) > 0x7f800000u)
        return (uint16_t)((v.u >> 16) | 0x40u);
    return (uint16_t)((v.u + 0x7fffu + ((v.u >> 16) & 1u)) >> 16);
}
/* Logical element count of the physical layout (the md's dims product, or n). */
size_t cpu_buf_logical_count(const ns_buf *b);
/* Makes b plain float32 (reorders a blocked layout back, in place). */
ns_status cpu_buf_to_plain(cpu_ctx *ctx, ns_buf *b);
/* Makes b hold its content in layout md (float32). A plain b is read as the
 * dense row-major tensor of md's dims; a blocked b of other dims goes plain first. */
ns_status cpu_buf_to_md(cpu_ctx *ctx, ns_buf *b, const dnnl_memory_desc_t *md);
/* Prepares b to be fully overwritten in layout md (no reorder of old content). */
ns_status cpu_buf_prepare_md(cpu_ctx *ctx, ns_buf *b, const dnnl_memory_desc_t *md);
/* Prepares b to be overwritten as plain float32: its old content is dropped,
 * not reordered, also when b holds more floats than the op writes (backend.h:
 * a compute op leaves the rest of a larger output buffer unspecified). The
 * buffer ops (upload at an offset, fill and copy of a prefix) keep the rest
 * and make b plain with cpu_buf_to_plain instead. */
ns_status cpu_buf_prepare_plain(cpu_ctx *ctx, ns_buf *b);
/* cpu_check_buf (b holds at least `need` floats) and cpu_buf_prepare_plain:
 * an op's output written as plain float32. */
ns_status cpu_buf_out_plain(cpu_ctx *ctx, const char *op, const char *name, ns_buf *b, size_t need);
/* Gives `other` the same physical layout as `ref` (both hold `n` logical floats).
 * Returns 1 in *same when both can be processed over ref's physical storage;
 * otherwise both are made plain and *same is 0. */
ns_status cpu_buf_unify(cpu_ctx *ctx, ns_buf *ref, ns_buf *other, size_t n);
/* Reorders b's content, read as a tensor of `ndims` dims, into dst (layout
 * dst_md, any data type; NULL: plain float32) at dst_ptr. b is not changed
 * (unless it holds a blocked tensor of other dims: then it goes plain first). */
ns_status cpu_buf_reorder_out(cpu_ctx *ctx, const char *op, ns_buf *b, int ndims,
                              const dnnl_dims_t dims, const dnnl_memory_desc_t *dst_md,
                              void *dst_ptr);
/* 1 when converting b to layout md in place keeps b's logical content: a
 * float32 layout change over b's whole extent, or bf16 staying bf16. It does
 * not when md is bf16 and b float32 (rounding), nor when b is plain and holds
 * more floats than md covers (the rest would be dropped). */
int cpu_buf_keeps_in(const ns_buf *b, const dnnl_memory_desc_t *md);
/* b's content in layout md for an op that only reads b (an input the ABI
 * passes as const): b converted in place when cpu_buf_keeps_in allows it,
 * otherwise a reorder into temporary `slot` (valid until the slot's next
 * use), so a const input's logical content never changes (backend.h). */
ns_status cpu_buf_read_in(cpu_ctx *ctx, const char *op, ns_buf *b, const dnnl_memory_desc_t *md,
                          int slot, const void **ptr);
/* Plain row-major float32 md of the given dims. */
void cpu_plain_md(dnnl_memory_desc_t *md, int ndims, const dnnl_dims_t dims, dnnl_data_type_t dt);
/* 1 when md is dense row-major float32 (the plain layout). */
int cpu_md_is_plain(const dnnl_memory_desc_t *md);
/* Product of md's logical dims. */
size_t cpu_md_count(const dnnl_memory_desc_t *md);

/* ---- memory helpers ---- */
/* Storage of at least `bytes` (64-byte aligned) from the spares or malloc;
 * *cap receives its size. NULL on failure (no error set). */
float *cpu_storage_get(cpu_ctx *ctx, size_t bytes, size_t *cap);
/* Gives storage back to the spares (or frees it when they are full). */
void cpu_storage_put(cpu_ctx *ctx, float *p, size_t cap);
void cpu_storage_clear(cpu_ctx *ctx);
void *cpu_aligned_alloc(size_t bytes);
/* Grows temporary `slot` to at least bytes; NULL with an error on failure. */
void *cpu_tmp(cpu_ctx *ctx, int slot, size_t bytes, const char *op);
/* Grows the shared scratchpad; NULL with an error on failure. */
void *cpu_scratchpad(cpu_ctx *ctx, size_t bytes, const char *op);

/* ---- primitive cache (cpu_prim_cache.c) ---- */
/* Finds the entry for (kind, key, key mds); NULL when absent. */
cpu_prim *cpu_prim_find(cpu_ctx *ctx, int kind, const int64_t key[CPU_KEY_INTS],
                        int key_mds, const dnnl_memory_desc_t *key_md);
/* Adds a filled entry (takes ownership of e->prim). Returns the stored copy. */
cpu_prim *cpu_prim_add(cpu_ctx *ctx, const cpu_prim *e, const char *op);
void cpu_prim_cache_clear(cpu_ctx *ctx);
/* Creates the primitive and scratchpad size of pd into e (pd is destroyed). */
ns_status cpu_prim_from_pd(cpu_ctx *ctx, const char *op, dnnl_primitive_desc_t pd, cpu_prim *e);
/* Executes with up to 8 (arg, md, ptr) triples plus the scratchpad. */
typedef struct cpu_arg {
    int arg;
    const dnnl_memory_desc_t *md;
    void *ptr;
} cpu_arg;
ns_status cpu_prim_exec(cpu_ctx *ctx, const char *op, const cpu_prim *e, const cpu_arg *args,
                        int nargs);
/* Reorder from (src_md, src) to (dst_md, dst), cached per pair. */
ns_status cpu_reorder(cpu_ctx *ctx, const char *op, const dnnl_memory_desc_t *src_md,
                      const void *src, const dnnl_memory_desc_t *dst_md, void *dst);

/* ---- ops, one file per family ---- */
ns_status cpu_buf_alloc(void *ctx, size_t n, ns_buf **out);
void cpu_buf_free(void *ctx, ns_buf *b);
ns_status cpu_upload(void *ctx, ns_buf *dst, size_t offset, const float *src, size_t n);
ns_status cpu_download(void *ctx, const ns_buf *src, size_t offset, float *dst, size_t n);
ns_status cpu_fill(void *ctx, ns_buf *dst, size_t n, float value);
ns_status cpu_copy(void *ctx, ns_buf *dst, const ns_buf *src, size_t n);

/* ---- convolution helpers shared by cpu_conv.c and cpu_conv_bn.c ---- */
/* Checks the descriptor (positive dims, p and q consistent); one line on failure. */
ns_status cpu_conv_check(cpu_ctx *ctx, const char *op, const ns_conv_desc *d);
size_t cpu_conv_x_count(const ns_conv_desc *d);
size_t cpu_conv_w_count(const ns_conv_desc *d);
size_t cpu_conv_y_count(const ns_conv_desc *d);
/* NCHW dims of input, OIHW of weights, NCHW of output. */
void cpu_conv_dims(const ns_conv_desc *d, dnnl_dims_t x, dnnl_dims_t w, dnnl_dims_t y);
/* Pointer to b's content in layout md: b itself when it is (or, for float32
 * with `in_place`, is converted to be) in md; otherwise a reorder into
 * temporary `slot` (valid until that slot is next used). */
ns_status cpu_conv_input(cpu_ctx *ctx, const char *op, ns_buf *b, const dnnl_dims_t dims,
                         const dnnl_memory_desc_t *md, int in_place, int slot, void **ptr);

ns_status cpu_conv2d_forward(void *ctx, const ns_conv_desc *d, const ns_buf *x, const ns_buf *w,
                             ns_buf *y);
ns_status cpu_conv2d_backward_data(void *ctx, const ns_conv_desc *d, const ns_buf *dy,
                                   const ns_buf *w, ns_buf *dx);
ns_status cpu_conv2d_backward_filter(void *ctx, const ns_conv_desc *d, const ns_buf *x,
                                     const ns_buf *dy, ns_buf *dw);

/* Fused inference unit (ABI 1.1): one oneDNN convolution with the batchnorm
 * folded into weights and bias, the residual as a sum post-op, the ReLU as an
 * eltwise post-op. */
ns_status cpu_conv2d_bn_infer(void *ctx, const ns_conv_desc *d, const ns_buf *x,
                              const ns_buf *w, const ns_bn_desc *bn, const ns_buf *gamma,
                              const ns_buf *beta, const ns_buf *mean, const ns_buf *var,
                              const ns_buf *residual, int relu, ns_buf *y);

ns_status cpu_batchnorm_forward_train(void *ctx, const ns_bn_desc *d, const ns_buf *x,
                                      const ns_buf *gamma, const ns_buf *beta,
                                      ns_buf *running_mean, ns_buf *running_var, ns_buf *y,
                                      ns_buf *save_mean, ns_buf *save_invstd);
ns_status cpu_batchnorm_forward_infer(void *ctx, const ns_bn_desc *d, const ns_buf *x,
                                      const ns_buf *gamma, const ns_buf *beta,
                                      const ns_buf *running_mean, const ns_buf *running_var,
                                      ns_buf *y);
ns_status cpu_batchnorm_backward(void *ctx, const ns_bn_desc *d, const ns_buf *x,
                                 const ns_buf *dy, const ns_buf *gamma, const ns_buf *save_mean,
                                 const ns_buf *save_invstd, ns_buf *dx, ns_buf *dgamma,
                                 ns_buf *dbeta);

ns_status cpu_relu_forward(void *ctx, const ns_buf *x, ns_buf *y, size_t n);
ns_status cpu_relu_backward(void *ctx, const ns_buf *y, const ns_buf *dy, ns_buf *dx, size_t n);
ns_status cpu_add(void *ctx, const ns_buf *a, const ns_buf *b, ns_buf *y, size_t n);
ns_status cpu_axpby(void *ctx, const ns_buf *x, ns_buf *y, size_t n, float alpha, float beta);
ns_status cpu_mul(void *ctx, const ns_buf *a, const ns_buf *b, ns_buf *y, size_t n);
ns_status cpu_mul_rows(void *ctx, const ns_buf *x, const ns_buf *scale, ns_buf *y, size_t rows,
                       size_t cols);
ns_status cpu_mask_bernoulli(void *ctx, ns_buf *mask, size_t n, float keep_prob, float scale,
                             uint64_t seed, uint64_t stream);

ns_status cpu_global_avg_pool_forward(void *ctx, const ns_buf *x, ns_buf *y, int n, int c, int hw);
ns_status cpu_global_avg_pool_backward(void *ctx, const ns_buf *dy, ns_buf *dx, int n, int c,
                                       int hw);
ns_status cpu_dense_forward(void *ctx, const ns_dense_desc *d, const ns_buf *x, const ns_buf *w,
                            const ns_buf *b, ns_buf *y);
ns_status cpu_dense_backward(void *ctx, const ns_dense_desc *d, const ns_buf *x, const ns_buf *w,
                             const ns_buf *dy, ns_buf *dx, ns_buf *dw, ns_buf *db);

ns_status cpu_softmax_cross_entropy(void *ctx, int n, int classes, const ns_buf *logits,
                                    const ns_buf *targets, float grad_scale, ns_buf *loss,
                                    ns_buf *dlogits);
ns_status cpu_softmax(void *ctx, int n, int classes, const ns_buf *logits, ns_buf *probs);

ns_status cpu_sgd_update(void *ctx, const ns_sgd_params *p, ns_buf *w, const ns_buf *g,
                         ns_buf *velocity, size_t n);
ns_status cpu_adam_update(void *ctx, const ns_adam_params *p, ns_buf *w, const ns_buf *g,
                          ns_buf *m, ns_buf *v, size_t n);
ns_status cpu_reduce(void *ctx, const ns_buf *x, size_t n, ns_reduce_result *out);
ns_status cpu_count_nonfinite(void *ctx, size_t count, const ns_buf *const *xs, const size_t *ns,
                              uint64_t *out);

/* Drops the const the ABI puts on inputs: only the physical layout changes. */
static inline ns_buf *cpu_mut(const ns_buf *b)
{
    return (ns_buf *)(uintptr_t)b;
}

#endif
