#include "data/file_list.h"

#include <dirent.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/stat.h>

#include "util/error.h"

/* Deep trees are refused rather than recursed into without bound (a
 * symlink loop would otherwise never end). */
#define MAX_DEPTH 32

static int has_image_extension(const char *name)
{
    const char *dot = strrchr(name, '.');
    return dot && dot != name &&
           (!strcasecmp(dot, ".png") || !strcasecmp(dot, ".jpg") || !strcasecmp(dot, ".jpeg"));
}

static int by_bytes(const void *a, const void *b)
{
    return strcmp(*(char *const *)a, *(char *const *)b);
}

typedef struct str_list {
    char **s;
    size_t n, cap;
} str_list;

static void strs_free(str_list *l)
{
    for (size_t i = 0; i < l->n; i++)
        free(l->s[i]);
    free(l->s);
    memset(l, 0, sizeof *l);
}

/* Takes ownership of s (freed on failure). */
static ns_status strs_push(str_list *l, char *s, const char *where)
{
    if (s && l->n == l->cap) {
        size_t cap = l->cap ? 2 * l->cap : 64;
        char **grown = realloc(l->s, cap * sizeof *grown);
        if (!grown) {
            free(s);
            s = NULL;
        } else {
            l->s = grown;
            l->cap = cap;
        }
    }
    if (!s)
        return ns_fail(NS_ERR_NOMEM, "%s: out of memory listing files", where);
    l->s[l->n++] = s;
    return NS_OK;
}

static char *join(const char *dir, const char *name)
{
    size_t a = strlen(dir), b = strlen(name);
    char *p = malloc(a + b + 2);
    if (p) {
        memcpy(p, dir, a);
        p[a] = '/';
        memcpy(p + a + 1, name, b + 1);
    }
    return p;
}

/* Adds DIR's image files to *files and, when subdirs is not NULL, its
 * subfolders to *subdirs (both as full paths, unsorted). */
static ns_status list_dir(const char *dir, str_list *files, str_list *subdirs)
{
    DIR *d = opendir(dir);
    if (!d)
        return ns_fail(errno == ENOENT || errno == ENOTDIR ? NS_ERR_NOT_FOUND : NS_ERR_IO,
                       "%s: cannot open directory: %s", dir, strerror(errno));
    ns_status st = NS_OK;
    for (struct dirent *e; st == NS_OK && (e = readdir(d));) {
        if (e->d_name[0] == '.')
            continue;
        const int image = has_image_extension(e->d_name);
        if (!image && !subdirs)
            continue;
        char *path = join(dir, e->d_name);
        struct stat sb;
        if (!path)
            st = ns_fail(NS_ERR_NOMEM, "%s: out of memory listing files", dir);
        else if (stat(path, &sb) != 0)
            free(path); /* a dangling link: not an image we could read */
        else if (S_ISDIR(sb.st_mode) && subdirs)
            st = strs_push(subdirs, path, dir);
        else if (S_ISREG(sb.st_mode) && image)
            st = strs_push(files, path, dir);
        else
            free(path);
    }
    closedir(d);
    return st;
}

static ns_status walk(const char *dir, int depth, str_list *files)
{
    if (depth > MAX_DEPTH)
        return ns_fail(NS_ERR_FORMAT, "%s: folders nested more than %d deep (a symlink loop?)", dir, MAX_DEPTH);
    str_list subs = {0};
    ns_status st = list_dir(dir, files, &subs);
    for (size_t i = 0; st == NS_OK && i < subs.n; i++)
        st = walk(subs.s[i], depth + 1, files);
    strs_free(&subs);
    return st;
}

static ns_status alloc_list(ns_file_list *out, size_t n, const char *where)
{
    out->labels = malloc((n ? n : 1) * sizeof *out->labels);
    if (!out->labels)
        return ns_fail(NS_ERR_NOMEM, "%s: out of memory", where);
    return NS_OK;
}

ns_status ns_class_folder_scan(const char *root, ns_file_list *out)
{
    memset(out, 0, sizeof *out);
    str_list ignored = {0}, classes = {0}, all = {0};
    ns_status st = list_dir(root, &ignored, &classes);
    strs_free(&ignored);
    if (st == NS_OK && classes.n == 0)
        st = ns_fail(NS_ERR_NOT_FOUND, "%s: no class subfolders, expected ROOT/<class name>/*.png|jpg|jpeg", root);
    if (st == NS_OK && classes.n > NS_CLASS_NAMES_MAX)
        st = ns_fail(NS_ERR_FORMAT, "%s: %zu class subfolders, at most %d", root, classes.n, NS_CLASS_NAMES_MAX);
    if (st == NS_OK)
        qsort(classes.s, classes.n, sizeof *classes.s, by_bytes);
    /* Labels come from the class loop, so collect per class and append. */
    int32_t *labels = NULL;
    size_t cap = 0;
    const char **names = st == NS_OK ? malloc((classes.n ? classes.n : 1) * sizeof *names) : NULL;
    if (st == NS_OK && !names)
        st = ns_fail(NS_ERR_NOMEM, "%s: out of memory", root);
    for (size_t k = 0; st == NS_OK && k < classes.n; k++) {
        names[k] = classes.s[k] + strlen(root) + 1;
        const size_t before = all.n;
        st = walk(classes.s[k], 1, &all);
        if (st == NS_OK && all.n == before)
            st = ns_fail(NS_ERR_NOT_FOUND, "%s: class folder holds no *.png, *.jpg or *.jpeg files", classes.s[k]);
        if (st == NS_OK && all.n > cap) {
            size_t ncap = all.cap;
            int32_t *grown = realloc(labels, ncap * sizeof *grown);
            if (!grown)
                st = ns_fail(NS_ERR_NOMEM, "%s: out of memory", root);
            else
                labels = grown, cap = ncap;
        }
        if (st == NS_OK) {
            qsort(all.s + before, all.n - before, sizeof *all.s, by_bytes);
            for (size_t i = before; i < all.n; i++)
                labels[i] = (int32_t)k;
        }
    }
    if (st == NS_OK) {
        st = ns_class_names_set(&out->classes, (int)classes.n, names);
        if (st != NS_OK)
            ns_error_prefix("%s: a class subfolder's name", root);
    }
    free(names);
    strs_free(&classes);
    if (st != NS_OK) {
        free(labels);
        strs_free(&all);
        ns_file_list_free(out);
        return st;
    }
    out->n = all.n;
    out->paths = all.s;
    out->labels = labels;
    return NS_OK;
}

ns_status ns_flat_folder_scan(const char *dir, ns_file_list *out)
{
    memset(out, 0, sizeof *out);
    str_list files = {0};
    ns_status st = list_dir(dir, &files, NULL);
    if (st == NS_OK && files.n == 0)
        st = ns_fail(NS_ERR_NOT_FOUND, "%s: no *.png, *.jpg or *.jpeg files", dir);
    if (st == NS_OK)
        st = alloc_list(out, files.n, dir);
    if (st != NS_OK) {
        strs_free(&files);
        ns_file_list_free(out);
        return st;
    }
    qsort(files.s, files.n, sizeof *files.s, by_bytes);
    for (size_t i = 0; i < files.n; i++)
        out->labels[i] = -1;
    out->n = files.n;
    out->paths = files.s;
    return NS_OK;
}

static int has_image_below(const char *dir, int depth)
{
    if (depth > MAX_DEPTH)
        return 0;
    str_list files = {0}, subs = {0};
    int found = 0;
    if (list_dir(dir, &files, &subs) == NS_OK) {
        found = files.n > 0;
        for (size_t i = 0; !found && i < subs.n; i++)
            found = has_image_below(subs.s[i], depth + 1);
    }
    strs_free(&files);
    strs_free(&subs);
    return found;
}

int ns_class_folder_detect(const char *dir)
{
    str_list files = {0}, subs = {0};
    int found = 0;
    if (list_dir(dir, &files, &subs) == NS_OK)
        for (size_t i = 0; !found && i < subs.n; i++)
            found = has_image_below(subs.s[i], 1);
    strs_free(&files);
    strs_free(&subs);
    ns_clear_error();
    return found;
}

void ns_file_list_free(ns_file_list *l)
{
    if (!l)
        return;
    for (size_t i = 0; i < l->n; i++)
        free(l->paths[i]);
    free(l->paths);
    free(l->labels);
    ns_class_names_free(&l->classes);
    memset(l, 0, sizeof *l);
}
