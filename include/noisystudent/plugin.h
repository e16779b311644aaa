/* noisystudent SDK — the plugin descriptor and ABI versioning.
 *
 * A plugin is a shared object named ns_<kind>_<name>.so that exports exactly one
 * symbol the host looks for:
 *
 *     NS_PLUGIN_EXPORT const ns_plugin *ns_plugin_entry(void);
 *
 * Lifecycle rules (MUST / SHOULD, as LV2 and GStreamer write them):
 *  - ns_plugin_entry MUST be cheap and side-effect free: no device init, no
 *    allocation the host would have to free. It returns a pointer to static data
 *    that stays valid until the object is unloaded.
 *  - The descriptor MUST start with abi_version and struct_size. The host reads
 *    those two fields first and touches nothing else when the major differs or
 *    the plugin's minor is newer than the host's (older minors load: fields added
 *    in a newer minor are appended, and the host checks struct_size before
 *    reading them).
 *  - probe() MAY be NULL (always usable). When present it MUST NOT keep state
 *    and SHOULD take well under a second: it answers "can this run here?".
 *  - Every function returns ns_status (or void where it cannot fail). A plugin
 *    MUST NOT print to stdout, abort or exit; it reports detail through
 *    ns_host_api.set_error. It MAY log to the host's log function.
 *  - A plugin MUST NOT include any header outside include/noisystudent/.
 */
#ifndef NS_PLUGIN_H
#define NS_PLUGIN_H

#include <stddef.h>
#include <stdint.h>

#include "status.h"

#ifdef __cplusplus
extern "C" {
#endif

#define NS_ABI_MAJOR 1u
#define NS_ABI_MINOR 3u
#define NS_ABI_VERSION ((NS_ABI_MAJOR << 16) | NS_ABI_MINOR)
#define NS_ABI_VERSION_MAJOR(v) ((uint32_t)(v) >> 16)
#define NS_ABI_VERSION_MINOR(v) ((uint32_t)(v)&0xffffu)

#if defined(_WIN32)
#define NS_PLUGIN_EXPORT __declspec(dllexport)
#else
#define NS_PLUGIN_EXPORT __attribute__((visibility("default")))
#endif

typedef enum ns_plugin_kind {
    NS_PLUGIN_BACKEND = 1,   /* vtable: const ns_backend_api *   (backend.h)   */
    NS_PLUGIN_AUGMENT = 2,   /* vtable: const ns_augment_api *   (augment.h)   */
    NS_PLUGIN_SCHEDULER = 3  /* vtable: const ns_scheduler_api * (scheduler.h) */
} ns_plugin_kind;

/* What the host hands a plugin. Owned by the host, valid for the plugin's
 * lifetime, safe to call from any thread. */
typedef struct ns_host_api {
    uint32_t struct_size;
    /* printf-style; formats into the calling thread's error buffer, replacing
     * what was there. One line, no trailing newline, name what was expected. */
    void (*set_error)(const char *fmt, ...)
#if defined(__GNUC__)
        __attribute__((format(printf, 1, 2)))
#endif
        ;
    /* printf-style diagnostics to stderr, shown when level <= the host's
     * verbosity (0 = warnings, 1 = info, 2 = debug). */
    void (*log)(int level, const char *fmt, ...)
#if defined(__GNUC__)
        __attribute__((format(printf, 2, 3)))
#endif
        ;
} ns_host_api;

typedef struct ns_plugin {
    uint32_t abi_version;    /* NS_ABI_VERSION the plugin was built against   */
    uint32_t struct_size;    /* sizeof(ns_plugin) as the plugin saw it         */
    uint32_t kind;           /* ns_plugin_kind                                 */
    const char *name;        /* short name: "ref", "cpu", "randaugment"        */
    const char *version;     /* plugin's own version string, e.g. "0.1.0"     */
    const char *description; /* one line                                       */
    /* Can it run here? Writes a one-line detail into why[0..why_len): on NS_OK
     * what it found ("oneDNN 2.6, avx512_core_amx"), otherwise why not
     * ("no CUDA device: driver too old for runtime 13.0"). NULL: always usable. */
    ns_status (*probe)(const ns_host_api *host, char *why, size_t why_len);
    const void *vtable;      /* kind-specific API table, see the kind's header */
} ns_plugin;

typedef const ns_plugin *(*ns_plugin_entry_fn)(void);
#define NS_PLUGIN_ENTRY_SYMBOL "ns_plugin_entry"

#ifdef __cplusplus
}
#endif
#endif
