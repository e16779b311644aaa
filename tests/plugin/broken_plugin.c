/* One source, many deliberately broken plugins (selected by a BROKEN_* macro)
 * for the loader's failure tests. */
#include <stdio.h>

#include <noisystudent/augment.h>
#include <noisystudent/backend.h>
#include <noisystudent/plugin.h>

#if defined(BROKEN_NO_ENTRY)
NS_PLUGIN_EXPORT int ns_not_the_entry(void) { return 42; }
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
#else
    snprintf(why, len, "test plugin");
    return NS_OK;
#endif
}

#if defined(BROKEN_TABLE_1_0)
/* A backend built against ABI 1.0: its table ends before the 1.1 slots. The
 * bytes after it hold a non-NULL conv2d_bn_infer that the host must not read.
 * Only create and destroy are ever called; the other required slots just need
 * to be non-NULL (void (*)(void) converts to any function pointer type). */
static ns_status create(const ns_host_api *host, const ns_backend_options *opt, void **ctx)
{
    (void)host;
    (void)opt;
    static int dummy;
    *ctx = &dummy;
    return NS_OK;
}
static void destroy(void *ctx) { (void)ctx; }
static void never_called(void) {}
#define ANY(slot) .slot = (__typeof__(((ns_backend_api *)0)->slot))never_called
static const ns_backend_api table = {
    .struct_size = NS_BACKEND_API_SIZE_1_0, .create = create, .destroy = destroy,
    ANY(buf_alloc), ANY(buf_free), ANY(upload), ANY(download), ANY(fill), ANY(copy),
    ANY(conv2d_forward), ANY(conv2d_backward_data), ANY(conv2d_backward_filter),
    ANY(batchnorm_forward_train), ANY(batchnorm_forward_infer), ANY(batchnorm_backward),
    ANY(relu_forward), ANY(relu_backward), ANY(add), ANY(axpby), ANY(mul), ANY(mul_rows),
    ANY(mask_bernoulli), ANY(global_avg_pool_forward), ANY(global_avg_pool_backward),
    ANY(dense_forward), ANY(dense_backward), ANY(softmax_cross_entropy), ANY(softmax),
    ANY(sgd_update), ANY(adam_update), ANY(conv2d_bn_infer)};
#undef ANY
#define KIND NS_PLUGIN_BACKEND
#elif defined(BROKEN_WRONG_KIND)
static const ns_augment_api table = {sizeof(ns_augment_api), NULL, NULL, 0, NULL};
#define KIND NS_PLUGIN_AUGMENT
#else
/* Every slot NULL: create() is never reached in these tests, and the
 * missing_slot variant must be refused before it would be. */
static const ns_backend_api table = {.struct_size = sizeof(ns_backend_api)};
#define KIND NS_PLUGIN_BACKEND
#endif

static const ns_plugin desc = {ABI, sizeof(ns_plugin), KIND, "broken", "0.0.1", "a deliberately broken plugin",
                               probe, &table};

NS_PLUGIN_EXPORT const ns_plugin *ns_plugin_entry(void) { return &desc; }
#endif
