#include "plugin/loader.h"

#include <dirent.h>
#include <dlfcn.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "io/file_util.h"
#include "plugin/search_path.h"
#include "plugin/vtable_check.h"
#include "util/error.h"

struct ns_plugin_handle {
    void *dl;
    const ns_plugin *desc;
    char file[NS_PATH_MAX];
};

const char *ns_plugin_kind_name(unsigned kind)
{
    switch (kind) {
    case NS_PLUGIN_BACKEND: return "backend";
    case NS_PLUGIN_AUGMENT: return "augment";
    case NS_PLUGIN_SCHEDULER: return "scheduler";
    }
    return "unknown";
}

static int known_kind(uint32_t kind)
{
    return kind == NS_PLUGIN_BACKEND || kind == NS_PLUGIN_AUGMENT || kind == NS_PLUGIN_SCHEDULER;
}

ns_status ns_plugin_add_search_dir(const char *dir)
{
    if (!dir || !*dir)
        return ns_fail(NS_ERR_USAGE, "--plugin-dir: expected a directory, got an empty string");
    if (!ns_path_is_dir(dir))
        return ns_fail(NS_ERR_USAGE, "--plugin-dir %s: not a directory", dir);
    if (!ns_search_dirs_add(dir))
        return ns_fail(NS_ERR_USAGE, "--plugin-dir %s: too many plugin directories (max %d) or path too long",
                       dir, NS_MAX_SEARCH_DIRS);
    return NS_OK;
}

void ns_plugin_clear_search_dirs(void) { ns_search_dirs_clear(); }

static int is_path_spec(const char *spec)
{
    size_t len = strlen(spec);
    return strchr(spec, '/') != NULL || (len > 3 && strcmp(spec + len - 3, ".so") == 0);
}

int ns_plugin_valid_name(const char *name)
{
    size_t len = 0;
    for (; name[len]; len++) {
        char c = name[len];
        if (len == NS_PLUGIN_NAME_MAX || !((c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '_' || c == '-'))
            return 0;
    }
    return len > 0;
}

/* Opens `file` and checks every descriptor field the host reads before
 * reading it: loadable, exports the entry, entry returns a descriptor, ABI
 * compatible, struct_size, a valid name, version and description present,
 * a known kind, a vtable. Nothing of the descriptor is read once the object
 * is unmapped: each refusal is formatted first, then dlclose'd. */
static ns_status open_file(const char *file, ns_plugin_handle **out)
{
    dlerror();
    void *dl = dlopen(file, RTLD_NOW | RTLD_LOCAL);
    if (!dl) {
        const char *why = dlerror();
        return ns_fail(NS_ERR_FORMAT, "plugin %s: cannot load as a shared object: %s", file,
                       why ? why : "unknown dlopen error");
    }
    dlerror();
    void *sym = dlsym(dl, NS_PLUGIN_ENTRY_SYMBOL);
    ns_status st = NS_OK;
    const ns_plugin *desc = NULL;
    if (!sym) {
        st = ns_fail(NS_ERR_ABI, "plugin %s: no '%s' symbol: not a noisystudent plugin", file,
                     NS_PLUGIN_ENTRY_SYMBOL);
    } else {
        ns_plugin_entry_fn entry;
        memcpy(&entry, &sym, sizeof entry); /* object->function pointer without a cast warning */
        desc = entry();
        if (!desc)
            st = ns_fail(NS_ERR_ABI, "plugin %s: %s() returned NULL", file, NS_PLUGIN_ENTRY_SYMBOL);
    }
    /* Only abi_version and struct_size may be read before the version check. */
    uint32_t v = st == NS_OK ? desc->abi_version : 0;
    if (st == NS_OK && (NS_ABI_VERSION_MAJOR(v) != NS_ABI_MAJOR || NS_ABI_VERSION_MINOR(v) > NS_ABI_MINOR))
        st = ns_fail(NS_ERR_ABI,
                     "plugin %s: built for ABI %u.%u, this host speaks ABI %u.%u (major must match, "
                     "minor at most %u): rebuild it against this SDK",
                     file, NS_ABI_VERSION_MAJOR(v), NS_ABI_VERSION_MINOR(v), NS_ABI_MAJOR, NS_ABI_MINOR,
                     NS_ABI_MINOR);
    if (st == NS_OK && desc->struct_size < sizeof(ns_plugin))
        st = ns_fail(NS_ERR_ABI, "plugin %s: descriptor is %u bytes, ABI %u.0 requires at least %zu", file,
                     (unsigned)desc->struct_size, NS_ABI_MAJOR, sizeof(ns_plugin));
    if (st == NS_OK && (!desc->name || !desc->version || !desc->description))
        st = ns_fail(NS_ERR_ABI, "plugin %s: descriptor's %s is NULL, expected a string", file,
                     !desc->name ? "name" : !desc->version ? "version" : "description");
    /* The name is what --backend/--augment/--schedule and the file name use. */
    if (st == NS_OK && !ns_plugin_valid_name(desc->name))
        st = ns_fail(NS_ERR_ABI, "plugin %s: descriptor's name '%.*s' is not a plugin name (expected 1 to %d of "
                     "a-z, 0-9, '_', '-')", file, NS_PLUGIN_NAME_MAX + 1, desc->name, NS_PLUGIN_NAME_MAX);
    if (st == NS_OK && !known_kind(desc->kind))
        st = ns_fail(NS_ERR_ABI, "plugin %s: descriptor's kind is %u, expected %d (backend), %d (augment) or "
                     "%d (scheduler)", file, (unsigned)desc->kind, NS_PLUGIN_BACKEND, NS_PLUGIN_AUGMENT,
                     NS_PLUGIN_SCHEDULER);
    if (st == NS_OK && !desc->vtable)
        st = ns_fail(NS_ERR_ABI, "plugin %s: descriptor's vtable is NULL, expected its %s API table", file,
                     ns_plugin_kind_name(desc->kind));
    ns_plugin_handle *h = NULL;
    if (st == NS_OK && !(h = calloc(1, sizeof *h)))
        st = ns_fail(NS_ERR_NOMEM, "plugin %s: out of memory", file);
    if (st != NS_OK) {
        dlclose(dl);
        return st;
    }
    h->dl = dl;
    h->desc = desc;
    snprintf(h->file, sizeof h->file, "%s", file);
    *out = h;
    return NS_OK;
}

int ns_plugin_parse_file_name(const char *file, char *kind, size_t kind_len, char *name, size_t name_len)
{
    const char *base = strrchr(file, '/');
    base = base ? base + 1 : file;
    size_t len = strlen(base);
    if (strncmp(base, "ns_", 3) != 0 || len < 3 + 3 + 3)
        return 0;
    const char *k = base + 3, *us = strchr(k, '_');
    if (!us || strcmp(base + len - 3, ".so") != 0 || us + 1 >= base + len - 3)
        return 0;
    snprintf(kind, kind_len, "%.*s", (int)(us - k), k);
    snprintf(name, name_len, "%.*s", (int)(base + len - 3 - (us + 1)), us + 1);
    return 1;
}

/* A file called ns_<kind>_<name>.so promises that kind and name: loading by
 * name finds it through them and the listings sort by them, so a descriptor
 * that says otherwise is refused rather than loaded under a false name. */
static ns_status check_file_name(const char *file, const ns_plugin *desc)
{
    char kind[64], name[256];
    if (!ns_plugin_parse_file_name(file, kind, sizeof kind, name, sizeof name))
        return NS_OK; /* any other file name: loaded by path only, promises nothing */
    const char *dkind = ns_plugin_kind_name(desc->kind);
    if (strcmp(kind, dkind) != 0 || strcmp(name, desc->name) != 0)
        return ns_fail(NS_ERR_ABI, "plugin %s: the file name says %s '%s' but the descriptor says %s '%s': "
                       "rename the file to ns_%s_%s.so or fix the descriptor", file, kind, name, dkind,
                       desc->name, dkind, desc->name);
    return NS_OK;
}

/* Resolves a short name to a file, or fails listing every place looked. */
static ns_status resolve(ns_plugin_kind kind, const char *name, char *file, size_t len)
{
    const char *kname = ns_plugin_kind_name(kind);
    if (!ns_plugin_valid_name(name))
        return ns_fail(NS_ERR_USAGE,
                       "%s '%s': not a plugin name (expected lower-case letters, digits, '_' or '-') "
                       "nor a path to a .so",
                       kname, name);
    ns_search_path sp;
    ns_search_path_build(&sp);
    char looked[3072] = "";
    size_t used = 0;
    for (size_t i = 0; i < sp.n; i++) {
        snprintf(file, len, "%s/ns_%s_%s.so", sp.dir[i], kname, name);
        if (ns_path_is_file(file))
            return NS_OK;
        int w = snprintf(looked + used, sizeof looked - used, "%s%s", i ? ", " : "", sp.dir[i]);
        if (w > 0 && (size_t)w < sizeof looked - used)
            used += (size_t)w;
    }
    return ns_fail(NS_ERR_NOT_FOUND,
                   "%s '%s' not found: no ns_%s_%s.so in %s (add a directory with --plugin-dir or "
                   "NS_PLUGIN_PATH, or give a path)",
                   kname, name, kname, name, sp.n ? looked : "(no search directories)");
}

ns_status ns_plugin_probe(const ns_plugin_handle *h, char *detail, size_t len)
{
    if (len)
        detail[0] = '\0';
    if (!h->desc->probe)
        return NS_OK;
    ns_status st = h->desc->probe(ns_host_api_get(), detail, len);
    if (len)
        detail[len - 1] = '\0';
    return st;
}

ns_status ns_plugin_load(ns_plugin_kind kind, const char *spec, int run_probe, ns_plugin_handle **out)
{
    *out = NULL;
    if (!spec || !*spec)
        return ns_fail(NS_ERR_USAGE, "%s: expected a plugin name or a path, got an empty string",
                       ns_plugin_kind_name(kind));
    char file[NS_PATH_MAX];
    if (is_path_spec(spec)) {
        if (!ns_path_is_file(spec))
            return ns_fail(NS_ERR_NOT_FOUND, "%s plugin %s: no such file", ns_plugin_kind_name(kind), spec);
        /* dlopen treats a bare name as a library to look up in the system
         * paths; make a relative path explicit. */
        snprintf(file, sizeof file, "%s%s", strchr(spec, '/') ? "" : "./", spec);
    } else {
        NS_TRY(resolve(kind, spec, file, sizeof file));
    }
    ns_plugin_handle *h;
    NS_TRY(open_file(file, &h));
    ns_status st = NS_OK;
    if (h->desc->kind != (uint32_t)kind)
        st = ns_fail(NS_ERR_ABI, "plugin %s ('%s') is of kind %s, expected kind %s", file, h->desc->name,
                     ns_plugin_kind_name(h->desc->kind), ns_plugin_kind_name(kind));
    if (st == NS_OK)
        st = check_file_name(file, h->desc);
    if (st == NS_OK)
        st = ns_plugin_check_vtable(file, h->desc);
    if (st != NS_OK) {
        ns_plugin_unload(h);
        return st;
    }
    if (run_probe) {
        char why[512];
        st = ns_plugin_probe(h, why, sizeof why);
        if (st != NS_OK) {
            st = ns_fail(NS_ERR_UNSUPPORTED, "%s '%s' (%s) cannot run here: %s", ns_plugin_kind_name(kind),
                         h->desc->name, file, why[0] ? why : ns_status_name(st));
            ns_plugin_unload(h);
            return st;
        }
    }
    *out = h;
    return NS_OK;
}

void ns_plugin_unload(ns_plugin_handle *h)
{
    if (!h)
        return;
    /* Plugins linked against runtimes that register atexit handlers (CUDA,
     * OpenMP pools) must stay mapped until exit; unloading them early is a
     * classic source of exit-time crashes. Keep the mapping, drop our handle. */
    free(h);
}

const ns_plugin *ns_plugin_desc(const ns_plugin_handle *h) { return h->desc; }
const char *ns_plugin_file(const ns_plugin_handle *h) { return h->file; }

static int is_plugin_file_name(const char *n)
{
    size_t len = strlen(n);
    return strncmp(n, "ns_", 3) == 0 && len > 6 && strcmp(n + len - 3, ".so") == 0;
}

static int cmp_info(const void *a, const void *b)
{
    const ns_plugin_info *x = a, *y = b;
    int k = strcmp(x->kind, y->kind);
    return k ? k : strcmp(x->name, y->name);
}

/* Fills one listing entry. Whatever is wrong with the plugin ends up in
 * info->detail; a plugin that cannot be opened is listed under the kind and
 * name its file name gives (or "?"), so that `augment list` still shows it. */
static void describe_one(const char *file, ns_plugin_info *info)
{
    memset(info, 0, sizeof *info);
    snprintf(info->file, sizeof info->file, "%s", file);
    char fkind[64], fname[256];
    if (!ns_plugin_parse_file_name(file, fkind, sizeof fkind, fname, sizeof fname)) {
        const char *base = strrchr(file, '/');
        snprintf(fkind, sizeof fkind, "?");
        snprintf(fname, sizeof fname, "%s", base ? base + 1 : file);
    }
    snprintf(info->kind, sizeof info->kind, "%s", fkind);
    snprintf(info->name, sizeof info->name, "%s", fname);
    snprintf(info->version, sizeof info->version, "-");
    ns_plugin_handle *h;
    if (open_file(file, &h) != NS_OK) {
        snprintf(info->detail, sizeof info->detail, "%s", ns_last_error());
        return;
    }
    ns_status st = check_file_name(file, h->desc);
    if (st == NS_OK)
        st = ns_plugin_check_vtable(file, h->desc);
    if (st != NS_OK) {
        /* Keep the file's kind and name: that is where the user will look. */
        snprintf(info->detail, sizeof info->detail, "%s", ns_last_error());
        snprintf(info->version, sizeof info->version, "%.*s", (int)sizeof info->version - 1, h->desc->version);
        ns_plugin_unload(h);
        return;
    }
    info->loadable = 1;
    /* Precisions bound what is read of the plugin's strings. */
    snprintf(info->kind, sizeof info->kind, "%s", ns_plugin_kind_name(h->desc->kind));
    snprintf(info->name, sizeof info->name, "%s", h->desc->name);
    snprintf(info->version, sizeof info->version, "%.*s", (int)sizeof info->version - 1, h->desc->version);
    snprintf(info->description, sizeof info->description, "%.*s", (int)sizeof info->description - 1,
             h->desc->description);
    st = ns_plugin_probe(h, info->detail, sizeof info->detail);
    info->usable = st == NS_OK;
    if (!info->usable && !info->detail[0])
        snprintf(info->detail, sizeof info->detail, "probe failed: %s", ns_status_name(st));
    ns_plugin_unload(h);
}

ns_status ns_plugin_scan(ns_plugin_info **out, size_t *count)
{
    *out = NULL;
    *count = 0;
    ns_search_path sp;
    ns_search_path_build(&sp);
    size_t cap = 16, n = 0;
    ns_plugin_info *list = malloc(cap * sizeof *list);
    char (*seen)[256] = malloc(256 * sizeof *seen);
    size_t n_seen = 0;
    if (!list || !seen) {
        free(list);
        free(seen);
        return ns_fail(NS_ERR_NOMEM, "plugin scan: out of memory");
    }
    for (size_t d = 0; d < sp.n; d++) {
        DIR *dir = opendir(sp.dir[d]);
        if (!dir)
            continue;
        struct dirent *e;
        while ((e = readdir(dir)) != NULL) {
            if (!is_plugin_file_name(e->d_name) || strlen(e->d_name) >= 256)
                continue;
            int dup = 0;
            for (size_t i = 0; i < n_seen && !dup; i++)
                dup = strcmp(seen[i], e->d_name) == 0;
            if (dup || n_seen >= 256)
                continue; /* an earlier directory wins, as when loading by name */
            snprintf(seen[n_seen++], 256, "%s", e->d_name);
            if (n == cap) {
                ns_plugin_info *grown = realloc(list, 2 * cap * sizeof *list);
                if (!grown)
                    break;
                list = grown;
                cap *= 2;
            }
            char file[NS_PATH_MAX + 256];
            snprintf(file, sizeof file, "%s/%s", sp.dir[d], e->d_name);
            describe_one(file, &list[n++]);
        }
        closedir(dir);
    }
    free(seen);
    qsort(list, n, sizeof *list, cmp_info);
    ns_clear_error();
    *out = list;
    *count = n;
    return NS_OK;
}
