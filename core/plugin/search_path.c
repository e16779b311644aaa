#include "plugin/search_path.h"

#include <limits.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "plugin/loader.h"

static pthread_mutex_t dirs_lock = PTHREAD_MUTEX_INITIALIZER;
static ns_search_path extra_dirs; /* --plugin-dir, in the order given */

int ns_search_dirs_add(const char *dir)
{
    int ok = 0;
    pthread_mutex_lock(&dirs_lock);
    if (extra_dirs.n < NS_MAX_SEARCH_DIRS && strlen(dir) < NS_PATH_MAX) {
        snprintf(extra_dirs.dir[extra_dirs.n++], NS_PATH_MAX, "%s", dir);
        ok = 1;
    }
    pthread_mutex_unlock(&dirs_lock);
    return ok;
}

void ns_search_dirs_clear(void)
{
    pthread_mutex_lock(&dirs_lock);
    extra_dirs.n = 0;
    pthread_mutex_unlock(&dirs_lock);
}

static void add_unique(ns_search_path *sp, const char *dir)
{
    if (!dir || !*dir || sp->n >= NS_MAX_SEARCH_DIRS || strlen(dir) >= NS_PATH_MAX)
        return;
    for (size_t i = 0; i < sp->n; i++)
        if (strcmp(sp->dir[i], dir) == 0)
            return;
    snprintf(sp->dir[sp->n++], NS_PATH_MAX, "%s", dir);
}

/* <exe>/../lib/noisystudent/plugins: lets an installed tree find its own
 * plugins wherever it was installed (relocatable, no rpath games). */
static void add_exe_relative(ns_search_path *sp)
{
    char exe[PATH_MAX];
    ssize_t len = readlink("/proc/self/exe", exe, sizeof exe - 1);
    if (len <= 0)
        return;
    exe[len] = '\0';
    char *slash = strrchr(exe, '/');
    if (!slash)
        return;
    *slash = '\0';
    char dir[NS_PATH_MAX + 64];
    snprintf(dir, sizeof dir, "%s/../%s", exe, NS_INSTALL_PLUGIN_SUBDIR);
    char real[PATH_MAX];
    if (realpath(dir, real))
        add_unique(sp, real);
}

void ns_search_path_build(ns_search_path *sp)
{
    sp->n = 0;
    pthread_mutex_lock(&dirs_lock);
    for (size_t i = 0; i < extra_dirs.n; i++)
        add_unique(sp, extra_dirs.dir[i]);
    pthread_mutex_unlock(&dirs_lock);

    const char *env = getenv("NS_PLUGIN_PATH");
    if (env) {
        char buf[4096];
        snprintf(buf, sizeof buf, "%s", env);
        char *save = NULL;
        for (char *tok = strtok_r(buf, ":", &save); tok; tok = strtok_r(NULL, ":", &save))
            add_unique(sp, tok);
    }
    add_exe_relative(sp);
    add_unique(sp, NS_BUILD_PLUGIN_DIR);
}
