/* One source, many deliberately broken plugins (selected by a BROKEN_* macro)
 * for the loader's failure tests. PLUGIN_NAME is the variant's name, so that
 * the good ones agree with their file name ns_backend_<variant>.so. */
#include <stdio.h>

#include <noisystudent/augment.h>
#include <noisystudent/backend.h>
#include <noisystudent/plugin.h>

#ifndef PLUGIN_NAME
#define PLUGIN_NAME "broken"
#endif

#if defined(BROKEN_NO_ENTRY)
NS_PLUGIN_EXPORT int ns_not_the_entry(void) { return 42; }
#elif defined(BROKEN_NULL_DESC)
NS_PLUGIN_EXPORT const ns_plugin *ns_plugin_entry(void) { return NULL; }
#else

#if defined(BROKEN_ABI_MAJOR)
#define ABI ((2u << 16) | 0u)
#elif defined(BROKEN_ABI_MINOR_NEWER)
#define ABI ((NS_ABI_MAJOR << 16) | (NS_ABI_MINOR + 5u))
#else
#define ABI NS_ABI_VERSION
#endif

static ns_status probe(const ns_host_api *host, char *why, size_t len)
{
    (void)host;
#if defined(BROKEN_PROBE_FAIL)
    snprintf(why, len, "no test device: the probe refuses on purpose");
    return NS_ERR_UNSUPPORTED;
#elif defined(BROKEN_PROBE_SILENT)
    (void)why, (void)len; /* refuses and writes nothing, not even a NUL */
    return NS_ERR_UNSUPPORTED;
#else
    snprintf(why, len, "test plugin");
    return NS_OK;
#endif
}

/* Only create and destroy are ever called (by the table_1_0 test); the other
 * required slots just need to be non-NULL (void (*)(void) converts to any
 * function pointer type). */
__attribute__((unused)) static ns_status create(const ns_host_api *host, const ns_backend_options *opt, void **ctx)
{
    (void)host;
    (void)opt;
    static int dummy;
    *ctx = &dummy;
    return NS_OK;
}
__attribute__((unused)) static void destroy(void *ctx) { (void)ctx; }
__attribute__((unused)) static void never_called(void) {}
#define ANY(slot) .slot = (__typeof__(((ns_backend_api *)0)->slot))never_called
#define REQUIRED_SLOTS                                                                                    \
    .create = create, .destroy = destroy, ANY(buf_alloc), ANY(buf_free), ANY(upload), ANY(download),     \
    ANY(fill), ANY(copy), ANY(conv2d_forward), ANY(conv2d_backward_data), ANY(conv2d_backward_filter),   \
    ANY(batchnorm_forward_train), ANY(batchnorm_forward_infer), ANY(batchnorm_backward),                 \
    ANY(relu_forward), ANY(relu_backward), ANY(add), ANY(axpby), ANY(mul), ANY(mul_rows),                \
    ANY(mask_bernoulli), ANY(global_avg_pool_forward), ANY(global_avg_pool_backward), ANY(dense_forward), \
    ANY(dense_backward), ANY(softmax_cross_entropy), ANY(softmax), ANY(sgd_update), ANY(adam_update)

#if defined(BROKEN_TABLE_1_0)
/* A backend built against ABI 1.0: its table ends before the 1.1 slots. The
 * bytes after it hold a non-NULL conv2d_bn_infer that the host must not read. */
__attribute__((unused)) static const ns_backend_api table = {.struct_size = NS_BACKEND_API_SIZE_1_0, REQUIRED_SLOTS,
                                     ANY(conv2d_bn_infer)};
#define KIND NS_PLUGIN_BACKEND
#elif defined(BROKEN_TABLE_1_2)
/* A backend built against ABI 1.2: its table ends before the 1.3 device
 * collectives; the bytes after it hold a partial set the host must not read
 * (a 1.3 table like it would be refused, see BROKEN_DIST_PARTIAL). */
__attribute__((unused)) static const ns_backend_api table = {.struct_size = NS_BACKEND_API_SIZE_1_2, REQUIRED_SLOTS,
                                     ANY(allreduce_sum)};
#define KIND NS_PLUGIN_BACKEND
#elif defined(BROKEN_DIST_PARTIAL)
/* An all-reduce without the communicator setup: unusable, so refused. */
__attribute__((unused)) static const ns_backend_api table = {.struct_size = sizeof(ns_backend_api), REQUIRED_SLOTS,
                                     ANY(allreduce_sum)};
#define KIND NS_PLUGIN_BACKEND
#elif defined(BROKEN_WRONG_KIND)
__attribute__((unused)) static const ns_augment_api table = {sizeof(ns_augment_api), NULL, NULL, 0, NULL};
#define KIND NS_PLUGIN_AUGMENT
#elif defined(BROKEN_SMALL_TABLE)
__attribute__((unused)) static const ns_backend_api table = {.struct_size = 8, REQUIRED_SLOTS};
#define KIND NS_PLUGIN_BACKEND
#elif defined(BROKEN_MISSING_SLOT)
/* Every slot NULL: must be refused before create() would be called. */
__attribute__((unused)) static const ns_backend_api table = {.struct_size = sizeof(ns_backend_api)};
#define KIND NS_PLUGIN_BACKEND
#else
__attribute__((unused)) static const ns_backend_api table = {.struct_size = sizeof(ns_backend_api), REQUIRED_SLOTS};
#define KIND NS_PLUGIN_BACKEND
#endif
#undef ANY

/* Each BROKEN_* below spoils one descriptor field the host reads. */
#if defined(BROKEN_UNKNOWN_KIND)
#undef KIND
#define KIND 7u
#endif
#if defined(BROKEN_SMALL_DESC)
#define DESC_SIZE 8u
#else
#define DESC_SIZE sizeof(ns_plugin)
#endif

static const ns_plugin desc = {
    .abi_version = ABI,
    .struct_size = DESC_SIZE,
    .kind = KIND,
#if defined(BROKEN_NULL_NAME)
    .name = NULL,
#elif defined(BROKEN_BAD_NAME)
    .name = "Bad Name",
#elif defined(BROKEN_NAME_MISMATCH)
    .name = "someone_else",
#else
    .name = PLUGIN_NAME,
#endif
#if defined(BROKEN_NULL_VERSION)
    .version = NULL,
#else
    .version = "0.0.1",
#endif
#if defined(BROKEN_NULL_DESCRIPTION)
    .description = NULL,
#else
    .description = "a deliberately broken plugin",
#endif
    .probe = probe,
#if defined(BROKEN_NULL_VTABLE)
    .vtable = NULL,
#else
    .vtable = &table,
#endif
};

NS_PLUGIN_EXPORT const ns_plugin *ns_plugin_entry(void) { return &desc; }
#endif
