/* Plugin discovery and loading (DESIGN.md, "The plugin ABI").
 *
 * A spec is either a path (contains '/' or ends in ".so": loaded as given) or a
 * short name, resolved to ns_<kind>_<name>.so by looking, in order, in:
 *   1. directories added with ns_plugin_add_search_dir() (the CLI's --plugin-dir)
 *   2. each directory of $NS_PLUGIN_PATH (':'-separated)
 *   3. <directory of the executable>/../lib/noisystudent/plugins
 *   4. the build tree's plugin folder (compiled in)
 * Every failure sets one line naming the file and what was expected:
 * not found (every place looked), not a shared object (dlerror), no
 * ns_plugin_entry, ABI mismatch (both versions), a descriptor field missing or
 * invalid (every field the host reads is checked before it is read), wrong
 * kind, a file name ns_<kind>_<name>.so that disagrees with the descriptor, a
 * malformed vtable (plugin/vtable_check.h), probe refusal. A broken plugin is
 * refused, never a crash; the listing (ns_plugin_scan) shows it with why.
 */
#ifndef NS_PLUGIN_LOADER_H
#define NS_PLUGIN_LOADER_H

#include <stddef.h>

#include <noisystudent/plugin.h>
#include <noisystudent/status.h>

typedef struct ns_plugin_handle ns_plugin_handle;

/* Loads a plugin of `kind` from `spec` and checks ABI and kind. When
 * run_probe is non-zero, a probe refusal is an error (NS_ERR_UNSUPPORTED) with
 * the plugin's reason. On success *out is owned by the caller (ns_plugin_unload). */
ns_status ns_plugin_load(ns_plugin_kind kind, const char *spec, int run_probe,
                         ns_plugin_handle **out);
void ns_plugin_unload(ns_plugin_handle *h);

const ns_plugin *ns_plugin_desc(const ns_plugin_handle *h);
const char *ns_plugin_file(const ns_plugin_handle *h); /* resolved path */

/* Adds a directory searched before the others (the CLI's --plugin-dir). Copies dir. */
ns_status ns_plugin_add_search_dir(const char *dir);
/* Forgets the added directories (tests). */
void ns_plugin_clear_search_dirs(void);

/* Whether `name` is a plugin name: 1 to NS_PLUGIN_NAME_MAX of a-z, 0-9, '_', '-'. */
#define NS_PLUGIN_NAME_MAX 48
int ns_plugin_valid_name(const char *name);

/* Splits a path whose base name is ns_<kind>_<name>.so into kind and name
 * (kind is everything up to the second '_'). Returns 0 for any other name. */
int ns_plugin_parse_file_name(const char *file, char *kind, size_t kind_len, char *name, size_t name_len);

/* "backend", "augment", "scheduler" (or "unknown"). */
const char *ns_plugin_kind_name(unsigned kind);

/* One entry of a discovery scan. */
typedef struct ns_plugin_info {
    char file[1024];
    char kind[16];
    char name[64];
    char version[32];
    char description[160];
    int loadable;      /* opened and passed the ABI checks */
    int usable;        /* loadable and probe said yes */
    char detail[256];  /* probe detail, or why it could not load */
} ns_plugin_info;

/* Scans every search directory for ns_*.so (first occurrence of a file name
 * wins, as loading would) and fills a malloc'd array the caller frees. */
ns_status ns_plugin_scan(ns_plugin_info **out, size_t *count);

/* Probes one loaded plugin: returns NS_OK if usable; detail gets the reason. */
ns_status ns_plugin_probe(const ns_plugin_handle *h, char *detail, size_t len);

#endif
