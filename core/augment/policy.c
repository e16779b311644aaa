#include "augment/policy.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "util/error.h"
#include "util/kv.h"

#define POLICY_MAX_N 64
#define POLICY_MAX_M 100.0f
#define POLICY_KEYS "n, m, sample_m, p, ops"
#define POLICY_NAME_MAX 1024

struct ns_augment_policy {
    ns_augment_opset *set; /* NULL: "none" */
    int n;
    float m;
    int sample_m;
    float p;
    size_t n_sel;
    size_t *sel; /* indices into the set's ops */
    char *spec;  /* canonical */
};

/* "./x.so:n=2" splits after ".so"; otherwise at the first ':'. */
static ns_status split_spec(const char *spec, char *name, const char **options)
{
    const char *so = strstr(spec, ".so:");
    const char *colon = so ? so + 3 : strchr(spec, ':');
    size_t len = colon ? (size_t)(colon - spec) : strlen(spec);
    if (len == 0 || len >= POLICY_NAME_MAX)
        return ns_fail(NS_ERR_USAGE, "--augment %s: expected none, an op set name or a .so path, then "
                       "optionally :key=value,... (keys: %s)", spec, POLICY_KEYS);
    memcpy(name, spec, len);
    name[len] = '\0';
    *options = colon ? colon + 1 : "";
    return NS_OK;
}

static void list_ops(const ns_augment_opset *s, char *buf, size_t len)
{
    size_t used = 0;
    buf[0] = '\0';
    for (size_t i = 0; i < ns_augment_opset_count(s) && used < len; i++)
        used += (size_t)snprintf(buf + used, len - used, "%s%s", i ? ", " : "", ns_augment_opset_op(s, i)->name);
}

static ns_status select_ops(ns_augment_policy *p, const char *what, const char *ops)
{
    size_t total = ns_augment_opset_count(p->set);
    p->sel = calloc(total, sizeof *p->sel);
    if (!p->sel)
        return ns_fail(NS_ERR_NOMEM, "%s: out of memory", what);
    if (!ops) {
        for (size_t i = 0; i < total; i++)
            p->sel[i] = i;
        p->n_sel = total;
        return NS_OK;
    }
    char valid[2048];
    list_ops(p->set, valid, sizeof valid);
    for (const char *at = ops;;) {
        const char *plus = strchr(at, '+');
        size_t len = plus ? (size_t)(plus - at) : strlen(at);
        char name[64];
        snprintf(name, sizeof name, "%.*s", (int)(len < sizeof name ? len : sizeof name - 1), at);
        long idx = len < sizeof name ? ns_augment_opset_find(p->set, name) : -1;
        if (idx < 0)
            return ns_fail(NS_ERR_USAGE, "%s: ops: no op '%s' in op set '%s' (ops: %s)", what, name,
                           ns_augment_opset_name(p->set), valid);
        for (size_t j = 0; j < p->n_sel; j++)
            if (p->sel[j] == (size_t)idx)
                return ns_fail(NS_ERR_USAGE, "%s: ops: '%s' listed twice", what, name);
        p->sel[p->n_sel++] = (size_t)idx;
        if (!plus)
            return NS_OK;
        at = plus + 1;
    }
}

/* Reads the policy's keys from kv and checks their ranges. */
static ns_status read_keys(ns_augment_policy *p, ns_kv *kv, const char *what)
{
    NS_TRY(ns_kv_int(kv, "n", what, &p->n));
    NS_TRY(ns_kv_float(kv, "m", what, &p->m));
    NS_TRY(ns_kv_int(kv, "sample_m", what, &p->sample_m));
    NS_TRY(ns_kv_float(kv, "p", what, &p->p));
    if (p->n < 0 || p->n > POLICY_MAX_N)
        return ns_fail(NS_ERR_USAGE, "%s: n=%d: expected 0..%d ops per image", what, p->n, POLICY_MAX_N);
    if (!(p->m >= 0.0f && p->m <= POLICY_MAX_M))
        return ns_fail(NS_ERR_USAGE, "%s: m=%g: expected a magnitude in 0..%g", what, (double)p->m,
                       (double)POLICY_MAX_M);
    if (p->sample_m != 0 && p->sample_m != 1)
        return ns_fail(NS_ERR_USAGE, "%s: sample_m=%d: expected 0 or 1", what, p->sample_m);
    if (!(p->p >= 0.0f && p->p <= 1.0f))
        return ns_fail(NS_ERR_USAGE, "%s: p=%g: expected a probability in 0..1", what, (double)p->p);
    return NS_OK;
}

/* The keys no getter read, as "k=v,..." for the op set's create(). */
static ns_status leftovers(const ns_kv *kv, const char *what, char *rest, size_t len)
{
    size_t used = 0;
    rest[0] = '\0';
    for (size_t i = 0; i < kv->n; i++)
        if (!kv->used[i]) {
            used += (size_t)snprintf(rest + used, used < len ? len - used : 0, "%s%s=%s", used ? "," : "",
                                     kv->key[i], kv->value[i]);
            if (used >= len)
                return ns_fail(NS_ERR_USAGE, "%s: op set options too long", what);
        }
    return NS_OK;
}

static ns_status describe(ns_augment_policy *p, const char *name, const char *rest)
{
    char ops[2048] = "";
    size_t used = 0;
    if (p->n_sel != ns_augment_opset_count(p->set))
        for (size_t i = 0; i < p->n_sel && used < sizeof ops; i++)
            used += (size_t)snprintf(ops + used, sizeof ops - used, "%s%s", i ? "+" : ",ops=",
                                     ns_augment_opset_op(p->set, p->sel[i])->name);
    int len = snprintf(NULL, 0, "%s:n=%d,m=%g,sample_m=%d,p=%g%s%s%s", name, p->n, (double)p->m, p->sample_m,
                       (double)p->p, ops, rest[0] ? "," : "", rest);
    p->spec = malloc((size_t)len + 1);
    if (!p->spec)
        return ns_fail(NS_ERR_NOMEM, "--augment %s: out of memory", name);
    snprintf(p->spec, (size_t)len + 1, "%s:n=%d,m=%g,sample_m=%d,p=%g%s%s%s", name, p->n, (double)p->m,
             p->sample_m, (double)p->p, ops, rest[0] ? "," : "", rest);
    return NS_OK;
}

static ns_status open_set(ns_augment_policy *p, const char *spec)
{
    char name[POLICY_NAME_MAX], what[POLICY_NAME_MAX + 16], rest[2048];
    const char *options = "";
    NS_TRY(split_spec(spec, name, &options));
    if (strcmp(name, "none") == 0)
        return ns_fail(NS_ERR_USAGE, "--augment %s: none takes no options", spec);
    snprintf(what, sizeof what, "--augment %s", name);
    ns_kv kv;
    NS_TRY(ns_kv_parse(options, what, &kv));
    NS_TRY(read_keys(p, &kv, what));
    const char *ops = ns_kv_str(&kv, "ops");
    NS_TRY(leftovers(&kv, what, rest, sizeof rest));
    NS_TRY(ns_augment_opset_load(name, &p->set));
    if (rest[0] && !ns_augment_opset_takes_options(p->set))
        return ns_kv_check_unused(&kv, what, POLICY_KEYS);
    NS_TRY(ns_augment_opset_create(p->set, rest));
    NS_TRY(select_ops(p, what, ops));
    return describe(p, name, rest);
}

ns_status ns_augment_policy_open(const char *spec, ns_augment_policy **out)
{
    *out = NULL;
    if (!spec || !spec[0])
        return ns_fail(NS_ERR_USAGE, "--augment: expected none or <op set>[:key=value,...], got an empty string");
    ns_augment_policy *p = calloc(1, sizeof *p);
    if (!p)
        return ns_fail(NS_ERR_NOMEM, "--augment %s: out of memory", spec);
    p->n = 2;
    p->m = 9.0f;
    p->p = 1.0f;
    ns_status st = NS_OK;
    if (strcmp(spec, "none") == 0) {
        p->spec = malloc(5);
        st = p->spec ? NS_OK : ns_fail(NS_ERR_NOMEM, "--augment none: out of memory");
        if (p->spec)
            memcpy(p->spec, "none", 5);
    } else {
        st = open_set(p, spec);
    }
    if (st != NS_OK) {
        ns_augment_policy_close(p);
        return st;
    }
    *out = p;
    return NS_OK;
}

void ns_augment_policy_close(ns_augment_policy *p)
{
    if (!p)
        return;
    ns_augment_opset_close(p->set);
    free(p->sel);
    free(p->spec);
    free(p);
}

ns_status ns_augment_policy_apply(void *policy, ns_image *img, uint8_t *scratch, ns_rng *rng)
{
    const ns_augment_policy *p = policy;
    if (!img || !img->data || !scratch || img->width < 1 || img->height < 1 ||
        (img->channels != 1 && img->channels != 3))
        return ns_fail(NS_ERR_INVALID_ARG, "augment: expected an image of >= 1x1 pixels with 1 or 3 channels "
                       "and a scratch buffer, got %dx%dx%d", img ? img->width : 0, img ? img->height : 0,
                       img ? img->channels : 0);
    if (!p->set)
        return NS_OK;
    uint64_t base = rng->index;
    for (int k = 0; k < p->n; k++) {
        size_t op = p->sel[ns_rng_below(rng, (uint32_t)p->n_sel)];
        if (p->p < 1.0f && ns_rng_uniform(rng) >= p->p)
            continue;
        float magnitude = p->sample_m ? ns_rng_uniform(rng) * p->m : p->m;
        ns_rng op_rng = *rng;
        op_rng.index = base + ((uint64_t)(k + 1) << 32);
        NS_TRY(ns_augment_opset_apply(p->set, op, img, scratch, magnitude, &op_rng));
    }
    rng->index = base + ((uint64_t)(p->n + 1) << 32);
    return NS_OK;
}

const char *ns_augment_policy_describe(const ns_augment_policy *p) { return p->spec; }
const ns_augment_opset *ns_augment_policy_opset(const ns_augment_policy *p) { return p->set; }
size_t ns_augment_policy_op_count(const ns_augment_policy *p) { return p->n_sel; }
size_t ns_augment_policy_op_index(const ns_augment_policy *p, size_t i) { return p->sel[i]; }
float ns_augment_policy_magnitude(const ns_augment_policy *p) { return p->m; }
