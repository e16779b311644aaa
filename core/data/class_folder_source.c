#include "data/class_folder_source.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "io/file_util.h"
#include "data/file_list.h"
#include "data/file_list_load.h"
#include "data/shuffle.h"
#include "util/error.h"

/* ROOT/train when it is a class-folder tree itself, else NULL in *train. */
static void split_dirs(const char *root, char *train, char *test, size_t cap)
{
    snprintf(train, cap, "%s/train", root);
    if (!ns_path_is_dir(train) || !ns_class_folder_detect(train)) {
        train[0] = test[0] = '\0';
        return;
    }
    snprintf(test, cap, "%s/test", root);
    if (ns_path_is_dir(test))
        return;
    snprintf(test, cap, "%s/val", root);
    if (!ns_path_is_dir(test))
        test[0] = '\0';
}

int ns_class_folder_source_has(const char *root)
{
    return ns_class_folder_detect(root);
}

/* Keeps the entries of l whose flag equals `keep`, in order (paths not kept are freed). */
static void keep_only(ns_file_list *l, const uint8_t *flag, uint8_t keep)
{
    size_t n = 0;
    for (size_t i = 0; i < l->n; i++) {
        if (flag[i] == keep) {
            l->paths[n] = l->paths[i];
            l->labels[n++] = l->labels[i];
        } else {
            free(l->paths[i]);
        }
    }
    l->n = n;
}

/* Marks the held-out test files of each class (see the header). */
static ns_status holdout(const char *root, ns_file_list *l, int train, const ns_data_options *o)
{
    if (!(o->test_fraction > 0 && o->test_fraction < 1))
        return ns_fail(NS_ERR_USAGE, "--test-fraction %g: %s has no test/ or val/ split, expected a fraction in (0, 1) "
                                     "of each class to hold out for testing",
                       o->test_fraction, root);
    uint8_t *is_test = calloc(l->n ? l->n : 1, 1);
    uint32_t *members = malloc((l->n ? l->n : 1) * sizeof *members);
    if (!is_test || !members) {
        free(is_test);
        free(members);
        return ns_fail(NS_ERR_NOMEM, "%s: out of memory splitting", root);
    }
    /* The scan lists classes one after another, so each class is a run. */
    for (size_t lo = 0; lo < l->n;) {
        size_t hi = lo;
        while (hi < l->n && l->labels[hi] == l->labels[lo])
            hi++;
        const size_t count = hi - lo;
        size_t take = (size_t)llround(o->test_fraction * (double)count);
        if (take > count - 1)
            take = count - 1; /* every class keeps a training image */
        for (size_t k = 0; k < count; k++)
            members[k] = (uint32_t)(lo + k);
        ns_rng rng = ns_rng_make(o->seed, ns_rng_stream_id(NS_RNG_PURPOSE_HOLDOUT_FILES, (uint64_t)l->labels[lo], 0));
        ns_shuffle_u32(members, count, &rng);
        for (size_t k = 0; k < take; k++)
            is_test[members[k]] = 1;
        lo = hi;
    }
    keep_only(l, is_test, train ? 0 : 1);
    free(is_test);
    free(members);
    return NS_OK;
}

/* Re-labels a test tree's files with the train tree's class indices. */
static ns_status map_test_classes(const char *test_dir, ns_file_list *test, const ns_class_names *train)
{
    int *to = malloc((size_t)(test->classes.n ? test->classes.n : 1) * sizeof *to);
    if (!to)
        return ns_fail(NS_ERR_NOMEM, "%s: out of memory", test_dir);
    for (int k = 0; k < test->classes.n; k++) {
        to[k] = -1;
        for (int j = 0; j < train->n && to[k] < 0; j++)
            if (strcmp(test->classes.names[k], train->names[j]) == 0)
                to[k] = j;
        if (to[k] < 0) {
            free(to);
            return ns_fail(NS_ERR_FORMAT, "%s/%s: class folder in the test split but not in the train split", test_dir,
                           test->classes.names[k]);
        }
    }
    for (size_t i = 0; i < test->n; i++)
        test->labels[i] = to[test->labels[i]];
    free(to);
    return ns_class_names_copy(&test->classes, train);
}

ns_status ns_class_folder_list(const char *root, int train, const ns_data_options *o, ns_file_list *out, char *what,
                               size_t cap)
{
    char train_dir[4096], test_dir[4096];
    split_dirs(root, train_dir, test_dir, sizeof train_dir);
    const int given = train_dir[0] && test_dir[0];
    const char *tree = train_dir[0] ? train_dir : root;
    ns_file_list l = {0};
    ns_status st = ns_class_folder_scan(tree, &l);
    if (st == NS_OK && given && !train) {
        ns_file_list t;
        st = ns_class_folder_scan(test_dir, &t);
        if (st == NS_OK)
            st = map_test_classes(test_dir, &t, &l.classes);
        ns_file_list_free(&l);
        l = t;
    } else if (st == NS_OK && !given) {
        st = holdout(root, &l, train, o);
        if (st == NS_OK && l.n == 0)
            st = ns_fail(NS_ERR_FORMAT, "%s: --test-fraction %g holds out no image (too few per class); add images "
                                        "or give a test/ folder",
                         root, o->test_fraction);
    }
    if (given)
        snprintf(what, cap, "%s", train ? train_dir : test_dir);
    else
        snprintf(what, cap, "%s (%s split: %g held out, seed %llu)", tree, train ? "train" : "test",
                 o->test_fraction, (unsigned long long)o->seed);
    if (st != NS_OK)
        ns_file_list_free(&l);
    *out = l;
    return st;
}

ns_status ns_class_folder_open(const char *root, int train, const ns_data_options *o, ns_dataset *out)
{
    memset(out, 0, sizeof *out);
    char what[600];
    ns_file_list l = {0};
    ns_status st = ns_class_folder_list(root, train, o, &l, what, sizeof what);
    size_t skipped = 0;
    if (st == NS_OK)
        st = ns_file_list_load(&l, o->c, o->h, o->w, what, out, NULL, &skipped);
    ns_file_list_free(&l);
    return st;
}
