#include "selftrain/image_folder.h"

#include <dirent.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/stat.h>

#include "selftrain/image_decode.h"
#include "util/error.h"

static int has_image_extension(const char *name)
{
    const char *dot = strrchr(name, '.');
    return dot && dot != name &&
           (!strcasecmp(dot, ".png") || !strcasecmp(dot, ".jpg") || !strcasecmp(dot, ".jpeg"));
}

static int by_name(const void *a, const void *b)
{
    return strcmp(*(char *const *)a, *(char *const *)b);
}

typedef struct name_list {
    char **name;
    size_t n, cap;
} name_list;

static void names_free(name_list *l)
{
    for (size_t i = 0; i < l->n; i++)
        free(l->name[i]);
    free(l->name);
    memset(l, 0, sizeof *l);
}

static ns_status list_images(const char *dir, name_list *l)
{
    DIR *d = opendir(dir);
    if (!d)
        return ns_fail(errno == ENOENT ? NS_ERR_NOT_FOUND : NS_ERR_IO, "folder:%s: cannot open directory: %s", dir,
                       strerror(errno));
    ns_status st = NS_OK;
    char path[4096];
    for (struct dirent *e; st == NS_OK && (e = readdir(d));) {
        if (!has_image_extension(e->d_name))
            continue;
        struct stat sb;
        snprintf(path, sizeof path, "%s/%s", dir, e->d_name);
        if (stat(path, &sb) != 0 || !S_ISREG(sb.st_mode))
            continue;
        if (l->n == l->cap) {
            size_t cap = l->cap ? 2 * l->cap : 64;
            char **grown = realloc(l->name, cap * sizeof *grown);
            if (!grown) {
                st = ns_fail(NS_ERR_NOMEM, "folder:%s: out of memory listing files", dir);
                break;
            }
            l->name = grown;
            l->cap = cap;
        }
        if (!(l->name[l->n] = strdup(e->d_name)))
            st = ns_fail(NS_ERR_NOMEM, "folder:%s: out of memory listing files", dir);
        else
            l->n++;
    }
    closedir(d);
    if (st == NS_OK && l->n == 0)
        st = ns_fail(NS_ERR_NOT_FOUND, "folder:%s: no *.png, *.jpg or *.jpeg files", dir);
    if (st == NS_OK)
        qsort(l->name, l->n, sizeof *l->name, by_name);
    return st;
}

ns_status ns_image_folder_load(const char *dir, int c, int h, int w, ns_dataset *out, uint32_t **ordinal,
                               size_t *skipped)
{
    memset(out, 0, sizeof *out);
    *ordinal = NULL;
    *skipped = 0;
    name_list names = {0};
    ns_status st = list_images(dir, &names);
    if (st == NS_OK && names.n > UINT32_MAX)
        st = ns_fail(NS_ERR_UNSUPPORTED, "folder:%s: %zu images, at most %u are supported", dir, names.n,
                     UINT32_MAX);
    if (st == NS_OK)
        st = ns_dataset_alloc(out, names.n, h, w, c);
    if (st == NS_OK && !(*ordinal = malloc(names.n * sizeof **ordinal)))
        st = ns_fail(NS_ERR_NOMEM, "folder:%s: out of memory", dir);
    size_t kept = 0;
    char path[4096];
    for (size_t i = 0; st == NS_OK && i < names.n; i++) {
        snprintf(path, sizeof path, "%s/%s", dir, names.name[i]);
        ns_status img = ns_image_decode_file(path, c, h, w, ns_dataset_image(out, kept));
        if (img == NS_ERR_NOMEM) {
            st = img;
        } else if (img != NS_OK) {
            ns_log(0, "skipped %s", ns_last_error());
            (*skipped)++;
        } else {
            (*ordinal)[kept++] = (uint32_t)i;
        }
    }
    if (st == NS_OK && kept == 0)
        st = ns_fail(NS_ERR_FORMAT, "folder:%s: none of its %zu image files could be decoded", dir, names.n);
    if (st == NS_OK) {
        out->n = kept;
        snprintf(out->source, sizeof out->source, "folder:%s", dir);
        ns_clear_error();
    } else {
        ns_dataset_free(out);
        free(*ordinal);
        *ordinal = NULL;
    }
    names_free(&names);
    return st;
}
