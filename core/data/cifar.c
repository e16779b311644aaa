#include "data/cifar.h"

#include <dirent.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "io/file_util.h"
#include "util/error.h"

#define CIFAR_PIXELS (NS_CIFAR_SIDE * NS_CIFAR_SIDE)

static ns_status file_records(const char *path, size_t *records)
{
    struct stat st;
    if (stat(path, &st) != 0)
        return ns_fail(NS_ERR_IO, "%s: cannot open: %s", path, strerror(errno));
    if (!S_ISREG(st.st_mode))
        return ns_fail(NS_ERR_IO, "%s: not a regular file", path);
    if (st.st_size % NS_CIFAR_RECORD != 0)
        return ns_fail(NS_ERR_FORMAT, "%s: size %lld bytes is not a multiple of the %d-byte CIFAR-10 record",
                       path, (long long)st.st_size, NS_CIFAR_RECORD);
    *records = (size_t)st.st_size / NS_CIFAR_RECORD;
    return NS_OK;
}

static ns_status read_file(const char *path, size_t records, ns_dataset *d, size_t first)
{
    FILE *fp = fopen(path, "rb");
    if (!fp)
        return ns_fail(NS_ERR_IO, "%s: cannot open: %s", path, strerror(errno));
    unsigned char rec[NS_CIFAR_RECORD];
    ns_status st = NS_OK;
    for (size_t r = 0; r < records && st == NS_OK; r++) {
        if (fread(rec, 1, sizeof rec, fp) != sizeof rec) {
            st = ns_fail(NS_ERR_IO, "%s: short read at record %zu (file changed while reading?)", path, r);
            break;
        }
        if (rec[0] >= NS_CIFAR_CLASSES) {
            st = ns_fail(NS_ERR_FORMAT, "%s: record %zu has label %u, expected 0..%d", path, r, rec[0],
                         NS_CIFAR_CLASSES - 1);
            break;
        }
        d->labels[first + r] = rec[0];
        uint8_t *dst = ns_dataset_image(d, first + r);
        for (int p = 0; p < CIFAR_PIXELS; p++)
            for (int ch = 0; ch < 3; ch++)
                dst[p * 3 + ch] = rec[1 + ch * CIFAR_PIXELS + p];
    }
    fclose(fp);
    return st;
}

ns_status ns_cifar_load_files(const char *const *paths, size_t n, ns_dataset *out)
{
    memset(out, 0, sizeof *out);
    if (n == 0 || !paths)
        return ns_fail(NS_ERR_INVALID_ARG, "cifar: no files given");
    size_t total = 0;
    size_t *records = calloc(n, sizeof *records);
    if (!records)
        return ns_fail(NS_ERR_NOMEM, "cifar: cannot allocate %zu file entries", n);
    ns_status st = NS_OK;
    for (size_t i = 0; i < n && st == NS_OK; i++) {
        st = file_records(paths[i], &records[i]);
        total += records[i];
    }
    if (st == NS_OK)
        st = ns_dataset_alloc(out, total, NS_CIFAR_SIDE, NS_CIFAR_SIDE, 3);
    for (size_t i = 0, first = 0; i < n && st == NS_OK; first += records[i], i++)
        st = read_file(paths[i], records[i], out, first);
    free(records);
    if (st != NS_OK) {
        ns_dataset_free(out);
        return st;
    }
    out->num_classes = NS_CIFAR_CLASSES;
    int len = snprintf(out->source, sizeof out->source, "cifar10:%s", paths[0]);
    if (n > 1 && len > 0 && (size_t)len < sizeof out->source)
        snprintf(out->source + len, sizeof out->source - (size_t)len, " (+%zu more)", n - 1);
    return NS_OK;
}

static int is_train_batch(const char *name)
{
    size_t len = strlen(name);
    return strncmp(name, "data_batch_", 11) == 0 && len > 15 && strcmp(name + len - 4, ".bin") == 0;
}

static int cmp_str(const void *a, const void *b)
{
    return strcmp(*(char *const *)a, *(char *const *)b);
}

/* Collects full paths of dir's training batches, sorted. Caller frees each and the array. */
static ns_status list_train_batches(const char *dir, char ***out, size_t *count)
{
    *out = NULL;
    *count = 0;
    DIR *dp = opendir(dir);
    if (!dp)
        return ns_fail(NS_ERR_NOT_FOUND, "%s: cannot open directory: %s", dir, strerror(errno));
    size_t cap = 0;
    char **list = NULL;
    ns_status st = NS_OK;
    struct dirent *e;
    while ((e = readdir(dp)) != NULL) {
        if (!is_train_batch(e->d_name))
            continue;
        if (*count == cap) {
            cap = cap ? cap * 2 : 8;
            char **grown = realloc(list, cap * sizeof *list);
            if (!grown) {
                st = ns_fail(NS_ERR_NOMEM, "%s: cannot list files", dir);
                break;
            }
            list = grown;
        }
        size_t len = strlen(dir) + strlen(e->d_name) + 2;
        list[*count] = malloc(len);
        if (!list[*count]) {
            st = ns_fail(NS_ERR_NOMEM, "%s: cannot list files", dir);
            break;
        }
        snprintf(list[*count], len, "%s/%s", dir, e->d_name);
        (*count)++;
    }
    closedir(dp);
    if (st == NS_OK && *count > 0)
        qsort(list, *count, sizeof *list, cmp_str);
    if (st != NS_OK) {
        for (size_t i = 0; i < *count; i++)
            free(list[i]);
        free(list);
        *count = 0;
        return st;
    }
    *out = list;
    return NS_OK;
}

int ns_cifar_dir_has(const char *dir, int train)
{
    if (!train) {
        char path[4096];
        snprintf(path, sizeof path, "%s/test_batch.bin", dir);
        return ns_path_is_file(path);
    }
    DIR *dp = opendir(dir);
    if (!dp)
        return 0;
    int found = 0;
    struct dirent *e;
    while (!found && (e = readdir(dp)) != NULL)
        found = is_train_batch(e->d_name);
    closedir(dp);
    return found;
}

/* CIFAR-10's ten published class names (batches.meta.txt holds the same). */
static ns_status with_names(ns_dataset *out)
{
    ns_status st = ns_class_names_builtin("cifar10", &out->class_names);
    if (st != NS_OK)
        ns_dataset_free(out);
    return st;
}

ns_status ns_cifar_load_dir(const char *dir, int train, ns_dataset *out)
{
    memset(out, 0, sizeof *out);
    if (!train) {
        char path[4096];
        snprintf(path, sizeof path, "%s/test_batch.bin", dir);
        if (!ns_cifar_dir_has(dir, 0))
            return ns_fail(NS_ERR_NOT_FOUND, "%s: no CIFAR-10 test batch, looked for test_batch.bin", dir);
        const char *one[1] = {path};
        ns_status st = ns_cifar_load_files(one, 1, out);
        return st == NS_OK ? with_names(out) : st;
    }
    char **list;
    size_t count;
    NS_TRY(list_train_batches(dir, &list, &count));
    if (count == 0)
        return ns_fail(NS_ERR_NOT_FOUND, "%s: no CIFAR-10 training batches, looked for data_batch_*.bin", dir);
    ns_status st = ns_cifar_load_files((const char *const *)list, count, out);
    for (size_t i = 0; i < count; i++)
        free(list[i]);
    free(list);
    if (st == NS_OK)
        snprintf(out->source, sizeof out->source, "cifar10:%s (train, %zu batches)", dir, count);
    return st == NS_OK ? with_names(out) : st;
}
