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

#if defined(BROKEN_WRONG_KIND)
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
