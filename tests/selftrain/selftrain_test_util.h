/* Scratch paths and label-set builders shared by the selftrain suites. */
#ifndef NS_TESTS_SELFTRAIN_UTIL_H
#define NS_TESTS_SELFTRAIN_UTIL_H

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "selftrain/label_file.h"

/* $NS_TEST_TMP/selftrain-<pid>-<name> in buf (falls back to /tmp). */
static inline const char *st_path(char *buf, size_t len, const char *name)
{
    const char *tmp = getenv("NS_TEST_TMP");
    snprintf(buf, len, "%s/selftrain-%ld-%s", tmp && *tmp ? tmp : "/tmp", (long)getpid(), name);
    return buf;
}

/* Sets record i to a distribution with `conf` on class `top` and the rest
 * spread evenly over the other classes; source id and true label as given. */
static inline void st_set_record(ns_label_set *s, size_t i, uint32_t source_id, int truth, int top, float conf)
{
    float *row = s->probs + i * (size_t)s->classes;
    for (int k = 0; k < s->classes; k++)
        row[k] = s->classes > 1 ? (1.0f - conf) / (float)(s->classes - 1) : 1.0f;
    row[top] = conf;
    s->source_id[i] = source_id;
    s->true_label[i] = truth;
    s->top[i] = top;
    s->confidence[i] = conf;
}

#endif
