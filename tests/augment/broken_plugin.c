/* Deliberately broken augment plugins, one per BROKEN_* definition, for
 * test_augment_broken: each must be refused or fail with a clear message,
 * never crash the host. */
#include <stdlib.h>

#include <noisystudent/augment.h>
#include <noisystudent/plugin.h>

typedef struct broken_ctx {
    const ns_host_api *host;
} broken_ctx;

static ns_status broken_create(const ns_host_api *host, const char *options, void **ctx)
{
#ifdef BROKEN_CREATE_REJECTS
    if (options && options[0]) {
        host->set_error("unknown option in '%s' (this set accepts none)", options);
        return NS_ERR_USAGE;
    }
#else
    (void)options;
#endif
    broken_ctx *c = malloc(sizeof *c);
    if (!c) {
        host->set_error("out of memory");
        return NS_ERR_NOMEM;
    }
    c->host = host;
    *ctx = c;
    return NS_OK;
}

static void broken_destroy(void *ctx) { free(ctx); }

static ns_status op_fine(void *ctx, ns_image *img, uint8_t *scratch, float magnitude, ns_rng *rng)
{
    (void)ctx, (void)scratch, (void)magnitude, (void)rng;
    img->data[0] ^= 0xFF;
    return NS_OK;
}

__attribute__((unused)) static ns_status op_bad(void *ctx, ns_image *img, uint8_t *scratch, float magnitude, ns_rng *rng)
{
    (void)scratch, (void)rng;
#if defined(BROKEN_OP_ERROR)
    broken_ctx *c = ctx;
    c->host->set_error("cannot blur a %dx%d image at magnitude %g", img->width, img->height, (double)magnitude);
    return NS_ERR_INVALID_ARG;
#elif defined(BROKEN_OP_SILENT)
    (void)ctx, (void)img, (void)magnitude;
    return NS_ERR_INTERNAL;
#elif defined(BROKEN_SHAPE_CHANGE)
    (void)ctx, (void)magnitude;
    img->width = 1;
    return NS_OK;
#else
    return op_fine(ctx, img, scratch, magnitude, rng);
#endif
}

/* The second op's name: each BROKEN_OP_* spoils it in one way the host must
 * refuse (upper case, the policy's separators, missing). */
#if defined(BROKEN_DUP_NAMES)
#define SECOND_NAME "fine"
#elif defined(BROKEN_OP_UPPER)
#define SECOND_NAME "Flip"
#elif defined(BROKEN_OP_PLUS)
#define SECOND_NAME "a+b"
#elif defined(BROKEN_OP_COMMA)
#define SECOND_NAME "c,d"
#elif defined(BROKEN_OP_LONG)
#define SECOND_NAME "a_name_of_thirty_three_characters"
#elif defined(BROKEN_OP_NULL_NAME)
#define SECOND_NAME NULL
#else
#define SECOND_NAME "bad"
#endif

static const ns_augment_op ops[] = {
    {"fine", "flips the first byte", op_fine},
#ifdef BROKEN_OP_NULL_APPLY
    {SECOND_NAME, "has no apply", NULL},
#else
    {SECOND_NAME, "misbehaves as this build was told to", op_bad},
#endif
};

__attribute__((unused)) static const ns_augment_api api = { /* unused by null_vtable */
#ifdef BROKEN_SMALL_STRUCT
    .struct_size = 4,
#else
    .struct_size = sizeof(ns_augment_api),
#endif
    .create = broken_create,
    .destroy = broken_destroy,
#if defined(BROKEN_EMPTY_TABLE)
    .n_ops = 0,
#elif defined(BROKEN_MANY_OPS)
    .n_ops = (size_t)1 << 40, /* garbage: reading that many would fault */
#else
    .n_ops = 2,
#endif
    .ops = ops,
};

static const ns_plugin descriptor = {
#if defined(BROKEN_ABI_MAJOR)
    .abi_version = (NS_ABI_MAJOR + 1) << 16,
#elif defined(BROKEN_ABI_MINOR)
    .abi_version = (NS_ABI_MAJOR << 16) | (NS_ABI_MINOR + 7),
#else
    .abi_version = NS_ABI_VERSION,
#endif
    .struct_size = sizeof(ns_plugin),
#if defined(BROKEN_WRONG_KIND) || defined(BROKEN_KINDSWAP)
    .kind = NS_PLUGIN_BACKEND,
#else
    .kind = NS_PLUGIN_AUGMENT,
#endif
#ifdef PLUGIN_NAME
    .name = PLUGIN_NAME,
#else
    .name = "broken",
#endif
    .version = "0.0.1",
    .description = "a deliberately broken augment plugin (tests only)",
    .probe = NULL,
#ifdef BROKEN_NULL_VTABLE
    .vtable = NULL,
#else
    .vtable = &api,
#endif
};

NS_PLUGIN_EXPORT const ns_plugin *ns_plugin_entry(void) { return &descriptor; }
