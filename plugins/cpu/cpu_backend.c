/* The oneDNN CPU backend: descriptor, vtable, context lifecycle, probe. */
#include <dlfcn.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <omp.h>
#include <oneapi/dnnl/dnnl_debug.h>

#include "cpu_internal.h"

#define CPU_PLUGIN_VERSION "0.1.0"

static const char *cpu_isa_name(dnnl_cpu_isa_t isa)
{
    switch (isa) {
    case dnnl_cpu_isa_sse41: return "sse41";
    case dnnl_cpu_isa_avx: return "avx";
    case dnnl_cpu_isa_avx2: return "avx2";
    case dnnl_cpu_isa_avx512_mic: return "avx512_mic";
    case dnnl_cpu_isa_avx512_mic_4ops: return "avx512_mic_4ops";
    case dnnl_cpu_isa_avx512_core: return "avx512_core";
    case dnnl_cpu_isa_avx512_core_vnni: return "avx512_core_vnni";
    case dnnl_cpu_isa_avx512_core_bf16: return "avx512_core_bf16";
    case dnnl_cpu_isa_avx512_core_amx: return "avx512_core_amx";
    case dnnl_cpu_isa_avx2_vnni: return "avx2_vnni";
    default: return "baseline";
    }
}

/* bf16 convolutions need native bf16 dot products; without them oneDNN would
 * emulate (slower than fp32), which is not what a user asking for bf16 wants. */
static int cpu_isa_has_bf16(dnnl_cpu_isa_t isa)
{
    return isa == dnnl_cpu_isa_avx512_core_bf16 || isa == dnnl_cpu_isa_avx512_core_amx;
}

static void cpu_isa_line(char *buf, size_t len)
{
    const dnnl_version_t *v = dnnl_version();
    snprintf(buf, len, "oneDNN %d.%d.%d %s", v->major, v->minor, v->patch,
             cpu_isa_name(dnnl_get_effective_cpu_isa()));
}

static ns_status cpu_probe(const ns_host_api *host, char *why, size_t why_len)
{
    (void)host;
    char isa[96];
    cpu_isa_line(isa, sizeof isa);
    dnnl_engine_t eng = NULL;
    if (dnnl_engine_create(&eng, dnnl_cpu, 0) != dnnl_success) {
        if (why && why_len)
            snprintf(why, why_len, "%s: cannot create a CPU engine", isa);
        return NS_ERR_UNSUPPORTED;
    }
    dnnl_engine_destroy(eng);
    if (why && why_len)
        snprintf(why, why_len, "%s, %d threads, bf16 %s", isa, omp_get_num_procs(),
                 cpu_isa_has_bf16(dnnl_get_effective_cpu_isa()) ? "native" : "unavailable");
    return NS_OK;
}

ns_status cpu_fail(cpu_ctx *ctx, ns_status st, const char *fmt, ...)
{
    char msg[512];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(msg, sizeof msg, fmt, ap);
    va_end(ap);
    ctx->host->set_error("%s", msg);
    return st;
}

ns_status cpu_dnnl_fail(cpu_ctx *ctx, const char *op, const char *call, dnnl_status_t s)
{
    ns_status st = s == dnnl_out_of_memory ? NS_ERR_NOMEM
                   : s == dnnl_unimplemented ? NS_ERR_UNSUPPORTED
                                             : NS_ERR_DEVICE;
    return cpu_fail(ctx, st, "%s: oneDNN call %.120s failed: %s", op, call, dnnl_status2str(s));
}

void cpu_enter(cpu_ctx *ctx)
{
    if (omp_get_max_threads() != ctx->threads)
        omp_set_num_threads(ctx->threads);
}

ns_status cpu_check_buf(cpu_ctx *ctx, const char *op, const char *name, const ns_buf *b,
                        size_t need)
{
    if (!b)
        return cpu_fail(ctx, NS_ERR_INVALID_ARG, "%s: %s buffer is NULL", op, name);
    if (b->n < need)
        return cpu_fail(ctx, NS_ERR_INVALID_ARG, "%s: %s buffer holds %zu floats, expected %zu",
                        op, name, b->n, need);
    return NS_OK;
}

void *cpu_aligned_alloc(size_t bytes)
{
    size_t rounded = (bytes + 63) / 64 * 64;
    return aligned_alloc(64, rounded ? rounded : 64);
}

void *cpu_tmp(cpu_ctx *ctx, int slot, size_t bytes, const char *op)
{
    if (ctx->tmp_cap[slot] < bytes) {
        free(ctx->tmp[slot]);
        ctx->tmp[slot] = cpu_aligned_alloc(bytes);
        ctx->tmp_cap[slot] = ctx->tmp[slot] ? bytes : 0;
        if (!ctx->tmp[slot]) {
            cpu_fail(ctx, NS_ERR_NOMEM, "%s: cannot allocate %zu bytes of workspace", op, bytes);
            return NULL;
        }
    }
    return ctx->tmp[slot];
}

void *cpu_scratchpad(cpu_ctx *ctx, size_t bytes, const char *op)
{
    if (ctx->scratch_cap < bytes) {
        free(ctx->scratch);
        ctx->scratch = cpu_aligned_alloc(bytes);
        ctx->scratch_cap = ctx->scratch ? bytes : 0;
        if (!ctx->scratch) {
            cpu_fail(ctx, NS_ERR_NOMEM, "%s: cannot allocate %zu bytes of scratchpad", op, bytes);
            return NULL;
        }
    }
    return ctx->scratch;
}

static void cpu_destroy(void *vctx)
{
    cpu_ctx *ctx = vctx;
    if (!ctx)
        return;
    while (ctx->bufs)
        cpu_buf_free(ctx, ctx->bufs);
    cpu_prim_cache_clear(ctx);
    cpu_storage_clear(ctx);
    free(ctx->prims);
    free(ctx->scratch);
    for (int i = 0; i < CPU_TMP_SLOTS; i++)
        free(ctx->tmp[i]);
    for (int i = 0; ctx->tstreams && i < ctx->threads; i++)
        if (ctx->tstreams[i])
            dnnl_stream_destroy(ctx->tstreams[i]);
    free(ctx->tstreams);
    if (ctx->attr)
        dnnl_primitive_attr_destroy(ctx->attr);
    if (ctx->stream)
        dnnl_stream_destroy(ctx->stream);
    if (ctx->engine)
        dnnl_engine_destroy(ctx->engine);
    free(ctx);
}

/* oneDNN keeps thread-local state and JIT code that OpenMP's pooled threads
 * still reference after the host dlclose()s this plugin; unloading it then
 * crashes those threads' teardown (LeakSanitizer trips over it at exit). Once a
 * context has been created, the plugin (and with it libdnnl) stays mapped. */
static void cpu_pin_module(void)
{
    Dl_info info;
    if (dladdr((void *)cpu_pin_module, &info) && info.dli_fname)
        dlopen(info.dli_fname, RTLD_NOW | RTLD_NOLOAD | RTLD_NODELETE);
}

static ns_status cpu_create(const ns_host_api *host, const ns_backend_options *opt, void **out)
{
    if (!host || !out)
        return NS_ERR_INVALID_ARG;
    *out = NULL;
    cpu_ctx *ctx = calloc(1, sizeof *ctx);
    if (!ctx) {
        host->set_error("cpu backend: cannot allocate the context");
        return NS_ERR_NOMEM;
    }
    cpu_pin_module();
    ctx->host = host;
    ctx->threads = opt && opt->threads > 0 ? opt->threads : omp_get_num_procs();
    ctx->precision = opt ? opt->precision : NS_PRECISION_FP32;
    dnnl_cpu_isa_t isa = dnnl_get_effective_cpu_isa();
    if (ctx->precision == NS_PRECISION_FP16) {
        free(ctx);
        host->set_error("cpu backend: precision fp16 is not supported (fp32 or bf16)");
        return NS_ERR_UNSUPPORTED;
    }
    if (ctx->precision == NS_PRECISION_BF16 && !cpu_isa_has_bf16(isa)) {
        free(ctx);
        host->set_error("cpu backend: bf16 needs AVX512-BF16 or AMX; oneDNN found %s",
                        cpu_isa_name(isa));
        return NS_ERR_UNSUPPORTED;
    }
    if (ctx->precision != NS_PRECISION_FP32 && ctx->precision != NS_PRECISION_BF16) {
        host->set_error("cpu backend: unknown precision %d", (int)ctx->precision);
        free(ctx);
        return NS_ERR_INVALID_ARG;
    }
    ns_status st = NS_OK;
    if (dnnl_engine_create(&ctx->engine, dnnl_cpu, 0) != dnnl_success ||
        dnnl_stream_create(&ctx->stream, ctx->engine, dnnl_stream_default_flags) != dnnl_success ||
        dnnl_primitive_attr_create(&ctx->attr) != dnnl_success ||
        dnnl_primitive_attr_set_scratchpad_mode(ctx->attr, dnnl_scratchpad_mode_user) !=
            dnnl_success) {
        host->set_error("cpu backend: cannot create the oneDNN engine, stream or attributes");
        st = NS_ERR_DEVICE;
    }
    if (st == NS_OK && ctx->threads > 1) {
        ctx->tstreams = calloc((size_t)ctx->threads, sizeof *ctx->tstreams);
        for (int i = 0; ctx->tstreams && i < ctx->threads && st == NS_OK; i++)
            if (dnnl_stream_create(&ctx->tstreams[i], ctx->engine, dnnl_stream_default_flags) !=
                dnnl_success) {
                host->set_error("cpu backend: cannot create oneDNN stream %d", i);
                st = NS_ERR_DEVICE;
            }
        if (!ctx->tstreams) {
            host->set_error("cpu backend: cannot allocate %d streams", ctx->threads);
            st = NS_ERR_NOMEM;
        }
    }
    if (st != NS_OK) {
        cpu_destroy(ctx);
        return st;
    }
    char isa_line[96];
    cpu_isa_line(isa_line, sizeof isa_line);
    snprintf(ctx->line, sizeof ctx->line, "%s, %d thread%s, %s", isa_line, ctx->threads,
             ctx->threads == 1 ? "" : "s",
             ctx->precision == NS_PRECISION_BF16 ? "bf16 activations, fp32 master weights" : "fp32");
    cpu_enter(ctx);
    *out = ctx;
    return NS_OK;
}

static const char *cpu_describe(void *vctx)
{
    return ((cpu_ctx *)vctx)->line;
}

static const ns_backend_api cpu_api = {
    .struct_size = sizeof(ns_backend_api),
    .create = cpu_create,
    .destroy = cpu_destroy,
    .describe = cpu_describe,
    .buf_alloc = cpu_buf_alloc,
    .buf_free = cpu_buf_free,
    .upload = cpu_upload,
    .download = cpu_download,
    .fill = cpu_fill,
    .copy = cpu_copy,
    .synchronize = NULL, /* every op completes before it returns */
    .conv2d_forward = cpu_conv2d_forward,
    .conv2d_backward_data = cpu_conv2d_backward_data,
    .conv2d_backward_filter = cpu_conv2d_backward_filter,
    .batchnorm_forward_train = cpu_batchnorm_forward_train,
    .batchnorm_forward_infer = cpu_batchnorm_forward_infer,
    .batchnorm_backward = cpu_batchnorm_backward,
    .relu_forward = cpu_relu_forward,
    .relu_backward = cpu_relu_backward,
    .add = cpu_add,
    .axpby = cpu_axpby,
    .mul = cpu_mul,
    .mul_rows = cpu_mul_rows,
    .mask_bernoulli = cpu_mask_bernoulli,
    .global_avg_pool_forward = cpu_global_avg_pool_forward,
    .global_avg_pool_backward = cpu_global_avg_pool_backward,
    .dense_forward = cpu_dense_forward,
    .dense_backward = cpu_dense_backward,
    .softmax_cross_entropy = cpu_softmax_cross_entropy,
    .softmax = cpu_softmax,
    .sgd_update = cpu_sgd_update,
    .adam_update = cpu_adam_update,
    .reduce = cpu_reduce,
    .conv2d_bn_infer = cpu_conv2d_bn_infer,
    .count_nonfinite = cpu_count_nonfinite,
};

static const ns_plugin cpu_plugin = {
    .abi_version = NS_ABI_VERSION,
    .struct_size = sizeof(ns_plugin),
    .kind = NS_PLUGIN_BACKEND,
    .name = "cpu",
    .version = CPU_PLUGIN_VERSION,
    .description = "fast CPU backend on oneDNN (fp32; bf16 on AVX512-BF16/AMX)",
    .probe = cpu_probe,
    .vtable = &cpu_api,
};

NS_PLUGIN_EXPORT const ns_plugin *ns_plugin_entry(void)
{
    return &cpu_plugin;
}
