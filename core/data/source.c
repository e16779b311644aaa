#include "data/source.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "data/cifar.h"
#include "data/class_folder_source.h"
#include "data/idx.h"
#include "io/file_util.h"
#include "data/nsds.h"
#include "util/error.h"

#define PATH_CAP 4096

/* Finds dir/<base> or dir/<base>.gz; returns 1 and fills path when found. */
static int find_idx_file(const char *dir, const char *base, char *path)
{
    snprintf(path, PATH_CAP, "%s/%s", dir, base);
    if (ns_path_is_file(path))
        return 1;
    snprintf(path, PATH_CAP, "%s/%s.gz", dir, base);
    return ns_path_is_file(path);
}

/* 1 found and loaded or failed (status in *st), 0 not an IDX folder. */
static int try_idx_dir(const char *dir, int train, ns_dataset *out, ns_status *st)
{
    const char *prefix = train ? "train" : "t10k";
    char base[64], images[PATH_CAP], labels[PATH_CAP];
    snprintf(base, sizeof base, "%s-images-idx3-ubyte", prefix);
    if (!find_idx_file(dir, base, images))
        return 0;
    snprintf(base, sizeof base, "%s-labels-idx1-ubyte", prefix);
    if (!find_idx_file(dir, base, labels)) {
        *st = ns_fail(NS_ERR_NOT_FOUND, "%s: found %s but no %s-labels-idx1-ubyte[.gz] beside it", dir, images,
                      prefix);
        return 1;
    }
    *st = ns_idx_load(images, labels, out);
    return 1;
}

static ns_status open_dir(const char *dir, int train, const ns_data_options *o, ns_dataset *out)
{
    if (!ns_path_is_dir(dir))
        return ns_fail(NS_ERR_NOT_FOUND, "%s: dataset directory does not exist", dir);
    ns_status st;
    if (try_idx_dir(dir, train, out, &st))
        return st;
    if (ns_cifar_dir_has(dir, train))
        return ns_cifar_load_dir(dir, train, out);
    char sub[PATH_CAP];
    snprintf(sub, sizeof sub, "%s/cifar-10-batches-bin", dir);
    if (ns_cifar_dir_has(sub, train))
        return ns_cifar_load_dir(sub, train, out);
    if (ns_class_folder_source_has(dir))
        return ns_class_folder_open(dir, train, o, out);
    const char *prefix = train ? "train" : "t10k";
    return ns_fail(NS_ERR_NOT_FOUND,
                   "%s: no dataset found for the %s split; looked for IDX %s-images-idx3-ubyte[.gz] + "
                   "%s-labels-idx1-ubyte[.gz], CIFAR-10 %s (also under cifar-10-batches-bin/) and class "
                   "subfolders holding *.png/*.jpg/*.jpeg files",
                   dir, train ? "train" : "test", prefix, prefix,
                   train ? "data_batch_*.bin" : "test_batch.bin");
}

static ns_status open_idx_pair(const char *list, ns_dataset *out)
{
    char *copy = strdup(list);
    if (!copy)
        return ns_fail(NS_ERR_NOMEM, "idx:%s: out of memory", list);
    char *comma = strchr(copy, ',');
    if (comma)
        *comma = '\0';
    ns_status st;
    if (copy[0] == '\0' || (comma && comma[1] == '\0'))
        st = ns_fail(NS_ERR_USAGE, "dataset 'idx:%s': expected idx:IMAGES[,LABELS]", list);
    else
        st = ns_idx_load(copy, comma ? comma + 1 : NULL, out);
    free(copy);
    return st;
}

ns_data_options ns_data_options_default(void)
{
    ns_data_options o = {NS_DATA_DEFAULT_C, NS_DATA_DEFAULT_H, NS_DATA_DEFAULT_W, NS_DATA_DEFAULT_TEST_FRACTION, 1};
    return o;
}

ns_status ns_data_options_parse_input(const char *text, const char *flag, ns_data_options *o)
{
    int c, h, w, end = -1;
    if (!text || sscanf(text, "%dx%dx%d%n", &c, &h, &w, &end) != 3 || end < 0 || text[end] != '\0' ||
        (c != 1 && c != 3) || h < 1 || h > 4096 || w < 1 || w > 4096)
        return ns_fail(NS_ERR_USAGE, "%s '%s': expected CxHxW with C = 1 (gray) or 3 (RGB) and H, W in 1..4096, "
                                     "e.g. 3x32x32",
                       flag, text ? text : "");
    o->c = c, o->h = h, o->w = w;
    return NS_OK;
}

ns_status ns_dataset_open(const char *spec, int train, ns_dataset *out)
{
    return ns_dataset_open_opts(spec, train, NULL, out);
}

ns_status ns_dataset_open_opts(const char *spec, int train, const ns_data_options *o, ns_dataset *out)
{
    const ns_data_options defaults = ns_data_options_default();
    if (!o)
        o = &defaults;
    memset(out, 0, sizeof *out);
    if (!spec || !*spec)
        return ns_fail(NS_ERR_USAGE, "dataset: empty spec, expected fashion-mnist, cifar10:DIR, "
                                     "idx:IMAGES[,LABELS] or a directory");
    if (strcmp(spec, "fashion-mnist") == 0) {
        const char *dir = getenv("NS_DATA_DIR");
        if (!dir || !*dir)
            dir = NS_FASHION_MNIST_DIR;
        ns_status st = open_dir(dir, train, o, out);
        if (st == NS_OK && out->num_classes == 10) {
            st = ns_class_names_builtin("fashion-mnist", &out->class_names);
            if (st != NS_OK)
                ns_dataset_free(out);
        }
        if (st != NS_OK)
            ns_error_prefix("dataset fashion-mnist (directory from %s)",
                            getenv("NS_DATA_DIR") && *getenv("NS_DATA_DIR") ? "$NS_DATA_DIR" : "default");
        return st;
    }
    if (strncmp(spec, "cifar10:", 8) == 0)
        return ns_cifar_load_dir(spec + 8, train, out);
    if (strncmp(spec, "idx:", 4) == 0)
        return open_idx_pair(spec + 4, out);
    if (ns_nsds_spec_is(spec))
        return ns_nsds_open(spec, train, out);
    if (ns_path_is_dir(spec))
        return open_dir(spec, train, o, out);
    return ns_fail(NS_ERR_NOT_FOUND,
                   "dataset '%s': not a directory and not one of fashion-mnist, cifar10:DIR, idx:IMAGES[,LABELS], "
                   "A.nsds[,B.nsds...]",
                   spec);
}
