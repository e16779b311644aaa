#include "predict/predict_files.h"

#include <dirent.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/stat.h>

#include "util/error.h"

void ns_path_list_free(ns_path_list *l)
{
    for (size_t i = 0; i < l->n; i++)
        free(l->path[i]);
    free(l->path);
    memset(l, 0, sizeof *l);
}

static ns_status push(ns_path_list *l, const char *dir, const char *name)
{
    if (l->n == l->cap) {
        size_t cap = l->cap ? 2 * l->cap : 64;
        char **grown = realloc(l->path, cap * sizeof *grown);
        if (!grown)
            return ns_fail(NS_ERR_NOMEM, "predict: out of memory listing files");
        l->path = grown;
        l->cap = cap;
    }
    size_t len = (dir ? strlen(dir) + 1 : 0) + strlen(name) + 1;
    char *p = malloc(len);
    if (!p)
        return ns_fail(NS_ERR_NOMEM, "predict: out of memory listing files");
    if (dir)
        snprintf(p, len, "%s%s%s", dir, dir[0] && dir[strlen(dir) - 1] == '/' ? "" : "/", name);
    else
        snprintf(p, len, "%s", name);
    l->path[l->n++] = p;
    return NS_OK;
}

static int has_image_extension(const char *name)
{
    const char *dot = strrchr(name, '.');
    return dot && dot != name &&
           (!strcasecmp(dot, ".png") || !strcasecmp(dot, ".jpg") || !strcasecmp(dot, ".jpeg"));
}

static int by_path(const void *a, const void *b)
{
    return strcmp(*(char *const *)a, *(char *const *)b);
}

/* Appends the image files of `dir`, sorted; returns how many (0 is reported
 * by the caller). */
static ns_status expand_dir(const char *dir, ns_path_list *l, size_t *added, int *unreadable)
{
    *added = 0;
    *unreadable = 0;
    DIR *d = opendir(dir);
    if (!d) {
        ns_log(0, "%s: cannot read directory: %s", dir, strerror(errno));
        *unreadable = 1;
        return NS_OK;
    }
    const size_t first = l->n;
    ns_status st = NS_OK;
    char path[4096];
    for (struct dirent *e; st == NS_OK && (e = readdir(d));) {
        if (!has_image_extension(e->d_name))
            continue;
        struct stat sb;
        snprintf(path, sizeof path, "%s/%s", dir, e->d_name);
        if (stat(path, &sb) != 0 || !S_ISREG(sb.st_mode))
            continue;
        st = push(l, dir, e->d_name);
    }
    closedir(d);
    if (st == NS_OK) {
        *added = l->n - first;
        qsort(l->path + first, *added, sizeof *l->path, by_path);
    }
    return st;
}

ns_status ns_predict_expand(const char *const *args, size_t n, ns_path_list *out, size_t *bad)
{
    memset(out, 0, sizeof *out);
    *bad = 0;
    ns_status st = NS_OK;
    for (size_t i = 0; st == NS_OK && i < n; i++) {
        struct stat sb;
        if (stat(args[i], &sb) != 0) {
            ns_log(0, "%s: %s", args[i], strerror(errno));
            (*bad)++;
        } else if (S_ISDIR(sb.st_mode)) {
            size_t added = 0;
            int unreadable = 0;
            st = expand_dir(args[i], out, &added, &unreadable);
            if (st == NS_OK && added == 0) {
                if (!unreadable)
                    ns_log(0, "%s: no *.png, *.jpg or *.jpeg files in this directory", args[i]);
                (*bad)++;
            }
        } else {
            st = push(out, NULL, args[i]);
        }
    }
    if (st != NS_OK)
        ns_path_list_free(out);
    return st;
}
