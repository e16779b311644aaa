#include "util/kv.h"

#include <errno.h>
#include <float.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "util/error.h"

ns_status ns_kv_parse(const char *text, const char *what, ns_kv *out)
{
    memset(out, 0, sizeof *out);
    if (!text || !*text)
        return NS_OK;
    char buf[2048];
    if (strlen(text) >= sizeof buf)
        return ns_fail(NS_ERR_USAGE, "%s: option string too long", what);
    snprintf(buf, sizeof buf, "%s", text);
    char *save = NULL;
    for (char *tok = strtok_r(buf, ",", &save); tok; tok = strtok_r(NULL, ",", &save)) {
        char *eq = strchr(tok, '=');
        if (!eq || eq == tok || !eq[1])
            return ns_fail(NS_ERR_USAGE, "%s: expected key=value, got '%s'", what, tok);
        *eq = '\0';
        if (out->n == NS_KV_MAX || strlen(tok) >= sizeof out->key[0] || strlen(eq + 1) >= sizeof out->value[0])
            return ns_fail(NS_ERR_USAGE, "%s: too many or too long options at '%s'", what, tok);
        for (size_t i = 0; i < out->n; i++)
            if (strcmp(out->key[i], tok) == 0)
                return ns_fail(NS_ERR_USAGE, "%s: option '%s' given twice", what, tok);
        snprintf(out->key[out->n], sizeof out->key[0], "%s", tok);
        snprintf(out->value[out->n], sizeof out->value[0], "%s", eq + 1);
        out->n++;
    }
    return NS_OK;
}

static int find(ns_kv *kv, const char *key)
{
    for (size_t i = 0; i < kv->n; i++)
        if (strcmp(kv->key[i], key) == 0) {
            kv->used[i] = 1;
            return (int)i;
        }
    return -1;
}

ns_status ns_kv_float(ns_kv *kv, const char *key, const char *what, float *v)
{
    int i = find(kv, key);
    if (i < 0)
        return NS_OK;
    char *end;
    errno = 0;
    double d = strtod(kv->value[i], &end);
    /* Beyond FLT_MAX the float would be infinite (plateau:min_lr=1e200 gave
     * an infinite learning rate; found by fuzz/fuzz_schedule). */
    if (errno || *end || !isfinite(d) || fabs(d) > FLT_MAX)
        return ns_fail(NS_ERR_USAGE, "%s: %s=%s: expected a number of at most %g in magnitude", what, key,
                       kv->value[i], (double)FLT_MAX);
    *v = (float)d;
    return NS_OK;
}

ns_status ns_kv_int(ns_kv *kv, const char *key, const char *what, int *v)
{
    int i = find(kv, key);
    if (i < 0)
        return NS_OK;
    char *end;
    errno = 0;
    long l = strtol(kv->value[i], &end, 10);
    if (errno || *end || l < -2147483647L || l > 2147483647L)
        return ns_fail(NS_ERR_USAGE, "%s: %s=%s: expected an integer", what, key, kv->value[i]);
    *v = (int)l;
    return NS_OK;
}

const char *ns_kv_str(ns_kv *kv, const char *key)
{
    int i = find(kv, key);
    return i < 0 ? NULL : kv->value[i];
}

ns_status ns_kv_check_unused(const ns_kv *kv, const char *what, const char *accepted)
{
    for (size_t i = 0; i < kv->n; i++)
        if (!kv->used[i])
            return ns_fail(NS_ERR_USAGE, "%s: unknown option '%s' (accepted: %s)", what, kv->key[i],
                           accepted);
    return NS_OK;
}
