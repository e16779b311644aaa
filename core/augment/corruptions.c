/* Corruption benchmark pieces (corruptions.h). */
#include "augment/corruptions.h"

#include <errno.h>
#include <math.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "io/atomic_file.h"
#include "util/error.h"

/* "1-5", "3", "1,3,5", "1,3-5" -> ascending distinct severities. */
static ns_status parse_severities(const char *text, ns_corruptions *c)
{
    int seen[NS_CORRUPTION_MAX_SEVERITY + 1] = {0};
    const char *p = text && *text ? text : "1-5";
    for (;;) {
        char *end;
        errno = 0;
        long a = strtol(p, &end, 10), b = a;
        int ok = end != p && *p >= '0' && *p <= '9';
        if (ok && *end == '-') {
            const char *q = end + 1;
            ok = *q >= '0' && *q <= '9';
            b = strtol(q, &end, 10);
        }
        ok = ok && errno == 0 && (*end == ',' || *end == '\0') && a >= 1 && b <= NS_CORRUPTION_MAX_SEVERITY && a <= b;
        if (!ok)
            return ns_fail(NS_ERR_USAGE, "--severities %s: expected severities 1 to %d as N, A-B or a comma list "
                                         "(e.g. 1-5, 3, 1,3,5)", text, NS_CORRUPTION_MAX_SEVERITY);
        for (long s = a; s <= b; s++)
            seen[s] = 1;
        if (*end == '\0')
            break;
        p = end + 1;
    }
    c->n_sev = 0;
    for (int s = 1; s <= NS_CORRUPTION_MAX_SEVERITY; s++)
        if (seen[s])
            c->sev[c->n_sev++] = s;
    return NS_OK;
}

static void list_ops(const ns_augment_opset *set, char *buf, size_t len)
{
    size_t used = 0;
    buf[0] = '\0';
    for (size_t i = 0; i < ns_augment_opset_count(set) && used < len; i++) {
        int k = snprintf(buf + used, len - used, "%s%s", i ? ", " : "", ns_augment_opset_op(set, i)->name);
        used += k > 0 ? (size_t)k : 0;
    }
}

static ns_status parse_ops(const char *spec, const char *list, ns_corruptions *c)
{
    const size_t count = ns_augment_opset_count(c->set);
    c->ops = malloc((count ? count : 1) * sizeof *c->ops);
    if (!c->ops)
        return ns_fail(NS_ERR_NOMEM, "--corruptions: out of memory");
    if (strcmp(list, "all") == 0) {
        for (size_t i = 0; i < count; i++)
            c->ops[i] = i;
        c->n_ops = count;
        return NS_OK;
    }
    char valid[1024];
    const char *p = list;
    for (;;) {
        size_t len = strcspn(p, ",");
        char name[NS_AUGMENT_OP_NAME_MAX + 2];
        long k = -1;
        if (len > 0 && len <= NS_AUGMENT_OP_NAME_MAX) {
            memcpy(name, p, len);
            name[len] = '\0';
            k = ns_augment_opset_find(c->set, name);
        }
        if (k < 0) {
            list_ops(c->set, valid, sizeof valid);
            return ns_fail(NS_ERR_USAGE, "--corruptions %s: '%.*s' is not an op of %s (expected all or a comma list "
                                         "of: %s)", spec, (int)len, p, ns_augment_opset_name(c->set), valid);
        }
        for (size_t j = 0; j < c->n_ops; j++)
            if (c->ops[j] == (size_t)k)
                return ns_fail(NS_ERR_USAGE, "--corruptions %s: '%s' is listed twice", spec, name);
        if (c->n_ops == count) /* cannot happen: distinct ops <= count */
            return ns_fail(NS_ERR_INTERNAL, "--corruptions %s: too many ops", spec);
        c->ops[c->n_ops++] = (size_t)k;
        if (p[len] == '\0')
            break;
        p += len + 1;
    }
    return NS_OK;
}

ns_status ns_corruptions_open(const char *spec, const char *severities, ns_corruptions *out)
{
    memset(out, 0, sizeof *out);
    if (!spec || !*spec)
        return ns_fail(NS_ERR_USAGE, "--corruptions: expected SET:all or SET:op,op,... (e.g. corrupt:all)");
    ns_status st = parse_severities(severities, out);
    if (st != NS_OK)
        return st;
    char name[1024];
    const char *colon = strrchr(spec, ':');
    const char *list = colon ? colon + 1 : "all";
    size_t name_len = colon ? (size_t)(colon - spec) : strlen(spec);
    if (name_len == 0 || name_len >= sizeof name || !*list)
        return ns_fail(NS_ERR_USAGE, "--corruptions %s: expected SET:all or SET:op,op,... (e.g. corrupt:all, "
                                     "corrupt:gaussian_noise,fog)", spec);
    memcpy(name, spec, name_len);
    name[name_len] = '\0';
    st = ns_augment_opset_open(name, NULL, &out->set);
    if (st == NS_ERR_NOT_FOUND) /* a misspelt set is a usage error like a misspelt op */
        st = NS_ERR_USAGE;
    if (st != NS_OK) {
        ns_error_prefix("--corruptions %s", spec);
        ns_corruptions_close(out);
        return st;
    }
    st = parse_ops(spec, list, out);
    if (st != NS_OK)
        ns_corruptions_close(out);
    return st;
}

void ns_corruptions_close(ns_corruptions *c)
{
    if (!c)
        return;
    ns_augment_opset_close(c->set);
    free(c->ops);
    memset(c, 0, sizeof *c);
}

uint64_t ns_corruption_key(const char *op_name, int severity)
{
    uint32_t h = 2166136261u;
    for (const unsigned char *p = (const unsigned char *)op_name; *p; p++)
        h = (h ^ *p) * 16777619u;
    return ((uint64_t)(h & 0x3FFFFu) << 3) | (uint64_t)(severity & 7);
}

typedef struct job {
    const ns_corruptions *c;
    size_t op;
    int sev;
    uint64_t key;
    const ns_dataset *src;
    ns_dataset *dst;
    size_t begin, end;
    ns_status st;
    char error[512];
} job;

static void *run_job(void *arg)
{
    job *j = arg;
    const size_t bytes = ns_dataset_image_bytes(j->src);
    uint8_t *scratch = malloc(bytes);
    if (!scratch) {
        j->st = NS_ERR_NOMEM;
        snprintf(j->error, sizeof j->error, "corruptions: out of memory for a %zu-byte scratch image", bytes);
        return NULL;
    }
    for (size_t i = j->begin; i < j->end; i++) {
        uint8_t *px = ns_dataset_image(j->dst, i);
        memcpy(px, ns_dataset_image(j->src, i), bytes);
        ns_image img = {px, j->src->w, j->src->h, j->src->c};
        ns_rng rng = ns_rng_make(NS_CORRUPTION_SEED, ns_rng_stream_id(NS_RNG_PURPOSE_CORRUPT, j->key, i));
        ns_status st = ns_augment_opset_apply(j->c->set, j->c->ops[j->op], &img, scratch, (float)j->sev, &rng);
        if (st != NS_OK) {
            j->st = st;
            /* The error buffer is per thread: carry the line to the caller. */
            snprintf(j->error, sizeof j->error, "corrupting image %zu at severity %d: %s", i, j->sev, ns_last_error());
            break;
        }
    }
    free(scratch);
    return NULL;
}

ns_status ns_corruptions_apply(const ns_corruptions *c, size_t k, int sev, const ns_dataset *src, ns_dataset *dst,
                               int threads)
{
    if (k >= c->n_ops || dst->h != src->h || dst->w != src->w || dst->c != src->c || dst->n > src->n || !dst->images)
        return ns_fail(NS_ERR_INVALID_ARG, "corruptions: op %zu of %zu, or a destination that does not fit %s", k,
                       c->n_ops, src->source);
    memcpy(dst->labels, src->labels, dst->n * sizeof *dst->labels);
    if (threads <= 0) {
        long cores = sysconf(_SC_NPROCESSORS_ONLN);
        threads = cores > 0 ? (int)cores : 1;
    }
    if ((size_t)threads > dst->n)
        threads = dst->n ? (int)dst->n : 1;
    if (threads > 64)
        threads = 64;
    job jobs[64];
    pthread_t tid[64];
    const char *name = ns_augment_opset_op(c->set, c->ops[k])->name;
    for (int t = 0; t < threads; t++) {
        jobs[t] = (job){c, k, sev, ns_corruption_key(name, sev), src, dst, dst->n * t / threads,
                        dst->n * (t + 1) / threads, NS_OK, ""};
    }
    int started = 0;
    for (int t = 1; t < threads; t++, started++)
        if (pthread_create(&tid[t], NULL, run_job, &jobs[t]) != 0)
            break;
    run_job(&jobs[0]);
    for (int t = started; t < threads - 1; t++) /* threads that did not start: run them here */
        run_job(&jobs[t + 1]);
    for (int t = 1; t <= started; t++)
        pthread_join(tid[t], NULL);
    for (int t = 0; t < threads; t++)
        if (jobs[t].st != NS_OK)
            return ns_fail(jobs[t].st, "%s", jobs[t].error);
    return NS_OK;
}

double ns_corruption_ce(const double *err, const double *ref_err, int n)
{
    double a = 0.0, b = 0.0;
    for (int s = 0; s < n; s++) {
        a += err[s];
        b += ref_err[s];
    }
    return b > 0.0 ? a / b : NAN;
}

double ns_corruption_mce(const double *err, const double *ref_err, size_t n_ops, int n_sev, double *ce)
{
    double sum = 0.0;
    for (size_t k = 0; k < n_ops; k++) {
        double v = ns_corruption_ce(err + k * n_sev, ref_err + k * n_sev, n_sev);
        if (ce)
            ce[k] = v;
        sum += v;
    }
    return n_ops ? sum / (double)n_ops : NAN;
}

static ns_status dump(FILE *f, void *user)
{
    return json_dumpf((const json_t *)user, f, JSON_INDENT(2) | JSON_SORT_KEYS) == 0 && fputc('\n', f) != EOF
               ? NS_OK
               : ns_fail(NS_ERR_IO, "writing JSON failed");
}

ns_status ns_json_file_set_key(const char *path, const char *key, json_t *value)
{
    json_t *doc = NULL;
    FILE *f = fopen(path, "rb");
    if (f) {
        json_error_t err;
        doc = json_loadf(f, 0, &err);
        fclose(f);
        if (!doc)
            return ns_fail(NS_ERR_FORMAT, "%s: line %d: %s (expected a JSON object to add \"%s\" to)", path,
                           err.line, err.text, key);
        if (!json_is_object(doc)) {
            json_decref(doc);
            return ns_fail(NS_ERR_FORMAT, "%s: expected a JSON object to add \"%s\" to", path, key);
        }
    } else if (errno == ENOENT) {
        doc = json_pack("{s:s, s:i}", "format", "noisystudent-eval", "version", 1);
    } else {
        return ns_fail(NS_ERR_IO, "%s: cannot read: %s", path, strerror(errno));
    }
    if (!doc || json_object_set(doc, key, value) != 0) {
        json_decref(doc);
        return ns_fail(NS_ERR_NOMEM, "%s: out of memory", path);
    }
    ns_status st = ns_atomic_write(path, dump, doc);
    json_decref(doc);
    return st;
}
