/* Where plugins are looked for, in DESIGN.md's order. Internal to core/plugin. */
#ifndef NS_PLUGIN_SEARCH_PATH_H
#define NS_PLUGIN_SEARCH_PATH_H

#include <stddef.h>

#define NS_MAX_SEARCH_DIRS 32
#define NS_PATH_MAX 1024

typedef struct ns_search_path {
    size_t n;
    char dir[NS_MAX_SEARCH_DIRS][NS_PATH_MAX];
} ns_search_path;

/* Fills `sp` with the directories to search, in order, duplicates removed:
 * --plugin-dir entries, $NS_PLUGIN_PATH, <exe>/../lib/noisystudent/plugins,
 * the build tree. */
void ns_search_path_build(ns_search_path *sp);

/* Registry of --plugin-dir entries (the one piece of global state). */
int ns_search_dirs_add(const char *dir);
void ns_search_dirs_clear(void);

#endif
