/* Loads the CUDA plugin with dlopen, reads its descriptor and runs its probe:
 * the plugin must load on any machine (no driver, no GPU) and its probe must
 * either succeed or say why not. Prints the probe's line; exits 0 when all of
 * that holds, 1 otherwise with the reason on stderr. */
#include <dlfcn.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>

#include <noisystudent/backend.h>
#include <noisystudent/plugin.h>

static char last_error[512];

static void set_error(const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(last_error, sizeof last_error, fmt, ap);
    va_end(ap);
}

static void log_line(int level, const char *fmt, ...)
{
    (void)level;
    va_list ap;
    va_start(ap, fmt);
    vfprintf(stderr, fmt, ap);
    fputc('\n', stderr);
    va_end(ap);
}

int main(int argc, char **argv)
{
    if (argc != 2) {
        fprintf(stderr, "usage: %s path/to/ns_backend_cuda.so\n", argv[0]);
        return 2;
    }
    void *h = dlopen(argv[1], RTLD_NOW | RTLD_LOCAL);
    if (!h) {
        fprintf(stderr, "dlopen %s: %s\n", argv[1], dlerror());
        return 1;
    }
    ns_plugin_entry_fn entry;
    *(void **)&entry = dlsym(h, NS_PLUGIN_ENTRY_SYMBOL);
    if (!entry) {
        fprintf(stderr, "%s: no symbol %s\n", argv[1], NS_PLUGIN_ENTRY_SYMBOL);
        return 1;
    }
    const ns_plugin *p = entry();
    if (!p || p->abi_version != NS_ABI_VERSION || p->struct_size != sizeof(ns_plugin) ||
        p->kind != NS_PLUGIN_BACKEND || strcmp(p->name, "cuda") != 0 || !p->probe || !p->vtable) {
        fprintf(stderr, "%s: descriptor is not a cuda backend of ABI %u.%u\n", argv[1],
                NS_ABI_MAJOR, NS_ABI_MINOR);
        return 1;
    }
    const ns_backend_api *api = p->vtable;
    if (api->struct_size != sizeof(ns_backend_api)) {
        fprintf(stderr, "%s: vtable struct_size %u, expected %zu\n", argv[1], api->struct_size,
                sizeof(ns_backend_api));
        return 1;
    }
    /* every slot is implemented, the optional ones included */
    int complete = api->create && api->destroy && api->describe && api->buf_alloc &&
                   api->buf_free && api->upload && api->download && api->fill && api->copy &&
                   api->synchronize && api->conv2d_forward && api->conv2d_backward_data &&
                   api->conv2d_backward_filter && api->batchnorm_forward_train &&
                   api->batchnorm_forward_infer && api->batchnorm_backward && api->relu_forward &&
                   api->relu_backward && api->add && api->axpby && api->mul && api->mul_rows &&
                   api->mask_bernoulli && api->global_avg_pool_forward &&
                   api->global_avg_pool_backward && api->dense_forward && api->dense_backward &&
                   api->softmax_cross_entropy && api->softmax && api->sgd_update &&
                   api->adam_update && api->reduce;
    if (!complete) {
        fprintf(stderr, "%s: a vtable slot is NULL\n", argv[1]);
        return 1;
    }
    ns_host_api host = {sizeof(ns_host_api), set_error, log_line};
    char why[256] = "";
    ns_status st = p->probe(&host, why, sizeof why);
    printf("cuda probe: %s: %s\n", st == NS_OK ? "usable" : "not usable", why);
    if (st != NS_OK && why[0] == '\0') {
        fprintf(stderr, "probe refused without saying why\n");
        return 1;
    }
    /* create() must agree with the probe: fail with a message where the probe
     * refuses, give a working context where it accepts. */
    ns_backend_options opt = {sizeof(ns_backend_options), 0, -1, NS_PRECISION_FP32, NULL};
    void *ctx = NULL;
    last_error[0] = '\0';
    ns_status cst = api->create(&host, &opt, &ctx);
    if (st != NS_OK) {
        if (cst == NS_OK || ctx || last_error[0] == '\0') {
            fprintf(stderr, "create on a machine the probe refuses: status %d, no message\n",
                    (int)cst);
            return 1;
        }
        printf("cuda create: %s (%s)\n", ns_status_name(cst), last_error);
    } else {
        if (cst != NS_OK) {
            fprintf(stderr, "probe accepts but create fails: %s\n", last_error);
            return 1;
        }
        printf("cuda create: %s\n", api->describe(ctx));
        ns_buf *b = NULL;
        float in[5] = {1, -2, 3, -4, 5}, out[5] = {0};
        if (api->buf_alloc(ctx, 5, &b) != NS_OK || api->upload(ctx, b, 0, in, 5) != NS_OK ||
            api->relu_forward(ctx, b, b, 5) != NS_OK || api->download(ctx, b, 0, out, 5) != NS_OK ||
            out[0] != 1 || out[1] != 0 || out[2] != 3 || out[3] != 0 || out[4] != 5) {
            fprintf(stderr, "upload/relu/download round trip failed: %s\n", last_error);
            return 1;
        }
        api->buf_free(ctx, b);
        api->destroy(ctx);
    }
    dlclose(h);
    return 0;
}
