/* "key=value,key=value" option strings, as used by --schedule, --augment and
 * backend extras. Parsing copies the text; values stay strings until a typed
 * getter reads them, and every getter names the key and the expectation. */
#ifndef NS_UTIL_KV_H
#define NS_UTIL_KV_H

#include <stddef.h>

#include <noisystudent/status.h>

#define NS_KV_MAX 32

typedef struct ns_kv {
    size_t n;
    char key[NS_KV_MAX][32];
    char value[NS_KV_MAX][256];
    int used[NS_KV_MAX]; /* set by the getters: lets callers reject unknown keys */
} ns_kv;

/* what: the context for messages ("--schedule cosine"). NULL or "" text: empty. */
ns_status ns_kv_parse(const char *text, const char *what, ns_kv *out);
/* Each getter leaves *v unchanged when the key is absent. */
ns_status ns_kv_float(ns_kv *kv, const char *key, const char *what, float *v);
ns_status ns_kv_int(ns_kv *kv, const char *key, const char *what, int *v);
const char *ns_kv_str(ns_kv *kv, const char *key); /* NULL when absent */
/* NS_ERR_USAGE naming the first key no getter asked for, listing `accepted`. */
ns_status ns_kv_check_unused(const ns_kv *kv, const char *what, const char *accepted);

#endif
