#include "nn/model_spec.h"

#include <ctype.h>
#include <errno.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "util/error.h"

#define SPEC_NAMES                                                                             \
    "resnet8, resnet20, resnet32, resnet56, resnetD (D=6n+2), seed-resnet50, basic:OPTS, "  \
    "bottleneck:OPTS"

#define MAX_WIDTH 65536
#define MAX_BLOCKS 1000

/* Options as written, before they are applied to a family's defaults. */
typedef struct spec_opts {
    int width;                 /* 0: family default */
    int n_widths, widths[NS_MAX_STAGES];
    int n_blocks, blocks[NS_MAX_STAGES];
    int n_strides, strides[NS_MAX_STAGES];
    int stem_kernel, stem_width; /* 0: default */
    int expansion;             /* 0: default */
    double mult;               /* 0: none */
    char name[32];
} spec_opts;

static ns_status bad(const char *text, const char *fmt, const char *part, const char *accepted)
{
    char what[256];
    snprintf(what, sizeof what, fmt, part);
    return ns_fail(NS_ERR_USAGE, "model spec '%s': %s; accepted: %s", text, what, accepted);
}

/* Positive integer, whole string. */
static int parse_int(const char *s, int lo, int hi, int *out)
{
    if (!isdigit((unsigned char)s[0]))
        return 0;
    errno = 0;
    char *end = NULL;
    long v = strtol(s, &end, 10);
    if (errno || *end || v < lo || v > hi)
        return 0;
    *out = (int)v;
    return 1;
}

/* "3-4-6-3" */
static int parse_list(const char *s, int lo, int hi, int *vals, int *count)
{
    char tmp[128];
    if (strlen(s) >= sizeof tmp)
        return 0;
    snprintf(tmp, sizeof tmp, "%s", s);
    int n = 0;
    char *save = NULL;
    size_t len = strlen(tmp);
    if (len == 0 || tmp[0] == '-' || tmp[len - 1] == '-' || strstr(tmp, "--"))
        return 0;
    for (char *tok = strtok_r(tmp, "-", &save); tok; tok = strtok_r(NULL, "-", &save)) {
        if (n == NS_MAX_STAGES || !parse_int(tok, lo, hi, &vals[n]))
            return 0;
        n++;
    }
    *count = n;
    return n > 0;
}

static int valid_name(const char *s)
{
    size_t n = strlen(s);
    if (n == 0 || n >= 32)
        return 0;
    for (size_t i = 0; i < n; i++) {
        unsigned char ch = (unsigned char)s[i];
        if (!isalnum(ch) && ch != '-' && ch != '_' && ch != '.')
            return 0;
    }
    return 1;
}

/* Parses "k=v,k=v" accepting only the keys listed in `allowed` (comma-separated). */
static ns_status parse_opts(const char *text, const char *opts, const char *allowed,
                            spec_opts *o)
{
    char buf[512];
    if (strlen(opts) >= sizeof buf)
        return bad(text, "%s", "options longer than 511 characters", allowed);
    snprintf(buf, sizeof buf, "%s", opts);
    char *save = NULL;
    for (char *kv = strtok_r(buf, ",", &save); kv; kv = strtok_r(NULL, ",", &save)) {
        char *eq = strchr(kv, '=');
        if (!eq)
            return bad(text, "option '%s' has no '=value'", kv, allowed);
        *eq = '\0';
        const char *key = kv, *val = eq + 1;
        /* whole-word match in the allowed list */
        int ok = 0;
        size_t kl = strlen(key);
        /* An empty key would match everywhere and never advance the scan
         * below (found by fuzz/fuzz_model_spec: "resnet20:=" hung). */
        if (kl == 0)
            return bad(text, "option '=%s' has no key", val, allowed);
        for (const char *p = allowed; (p = strstr(p, key)) != NULL; p += kl) {
            int start = (p == allowed || p[-1] == ' ');
            int stop = (p[kl] == '\0' || p[kl] == ',');
            if (kl && start && stop) {
                ok = 1;
                break;
            }
        }
        if (!ok)
            return bad(text, "unknown option '%s'", key, allowed);
        int good = 1;
        if (!strcmp(key, "width")) {
            good = parse_int(val, 1, MAX_WIDTH, &o->width);
        } else if (!strcmp(key, "widths")) {
            good = parse_list(val, 1, MAX_WIDTH, o->widths, &o->n_widths);
        } else if (!strcmp(key, "blocks")) {
            good = parse_list(val, 1, MAX_BLOCKS, o->blocks, &o->n_blocks);
        } else if (!strcmp(key, "strides")) {
            good = parse_list(val, 1, 4, o->strides, &o->n_strides);
        } else if (!strcmp(key, "expansion")) {
            good = parse_int(val, 1, 16, &o->expansion);
        } else if (!strcmp(key, "stem")) {
            char tmp[64];
            snprintf(tmp, sizeof tmp, "%s", val);
            char *x = strchr(tmp, 'x');
            good = x != NULL;
            if (good) {
                *x = '\0';
                good = parse_int(tmp, 1, 15, &o->stem_kernel) && (o->stem_kernel % 2 == 1) &&
                       parse_int(x + 1, 1, MAX_WIDTH, &o->stem_width);
            }
        } else if (!strcmp(key, "mult")) {
            char *end = NULL;
            errno = 0;
            o->mult = strtod(val, &end);
            good = !errno && *val && !*end && o->mult > 0 && o->mult <= 64;
        } else if (!strcmp(key, "name")) {
            good = valid_name(val);
            if (good)
                snprintf(o->name, sizeof o->name, "%s", val);
        }
        if (!good) {
            char part[200];
            snprintf(part, sizeof part, "%s=%s", key, val);
            const char *expect =
                !strcmp(key, "stem")      ? "stem=KxW with K odd 1..15, W >= 1"
                : !strcmp(key, "mult")    ? "mult=M with 0 < M <= 64"
                : !strcmp(key, "name")    ? "name of 1..31 chars [A-Za-z0-9._-]"
                : !strcmp(key, "strides") ? "1 to 6 strides of 1..4 joined by '-'"
                : !strcmp(key, "blocks")  ? "1 to 6 block counts of 1..1000 joined by '-'"
                : !strcmp(key, "widths")  ? "1 to 6 widths joined by '-'"
                                          : "a positive integer";
            return bad(text, "bad value in '%s'", part, expect);
        }
    }
    return NS_OK;
}

static int scale_width(int w, double mult)
{
    if (mult <= 0)
        return w;
    long v = lround((double)w * mult);
    return v < 1 ? 1 : (v > MAX_WIDTH ? MAX_WIDTH : (int)v);
}

/* Fills `out` from family defaults overridden by options. */
static ns_status build(const char *text, const spec_opts *o, int bottleneck, int def_width,
                       int def_stem_kernel, int def_stem_width, int def_expansion, ns_model_spec *out)
{
    if (o->n_blocks == 0)
        return bad(text, "%s", "no blocks=... given", "blocks=N-N-.. (1 to 6 stages)");
    int n = o->n_blocks;
    if (o->n_widths && o->n_widths != n)
        return bad(text, "%s", "widths= and blocks= list different numbers of stages",
                   "one width per stage");
    if (o->n_strides && o->n_strides != n)
        return bad(text, "%s", "strides= and blocks= list different numbers of stages",
                   "one stride per stage");
    if (o->n_widths && o->width)
        return bad(text, "%s", "both width= and widths= given", "one of them");
    if (!bottleneck && o->expansion > 1)
        return bad(text, "%s", "expansion= for basic blocks", "expansion only for bottleneck");
    out->bottleneck = bottleneck;
    out->n_stages = n;
    int w0 = o->width ? o->width : def_width;
    for (int i = 0; i < n; i++) {
        out->stage_blocks[i] = o->blocks[i];
        long w = o->n_widths ? o->widths[i] : (long)w0 << i;
        if (w > MAX_WIDTH)
            return bad(text, "%s", "a stage width exceeds 65536", "smaller width=");
        out->stage_width[i] = scale_width((int)w, o->mult);
        out->stage_stride[i] = o->n_strides ? o->strides[i] : (i == 0 ? 1 : 2);
    }
    out->stem_kernel = o->stem_kernel ? o->stem_kernel : def_stem_kernel;
    int sw = o->stem_width       ? o->stem_width
             : def_stem_width ? def_stem_width
             : o->n_widths    ? o->widths[0]
                              : w0;
    out->stem_width = scale_width(sw, o->mult);
    out->expansion = bottleneck ? (o->expansion ? o->expansion : def_expansion) : 1;
    return NS_OK;
}

ns_status ns_model_spec_parse(const char *text, ns_model_spec *out)
{
    memset(out, 0, sizeof *out);
    if (!text || !*text)
        return ns_fail(NS_ERR_USAGE, "model spec is empty; accepted: %s", SPEC_NAMES);
    char head[32];
    const char *colon = strchr(text, ':');
    size_t hl = colon ? (size_t)(colon - text) : strlen(text);
    if (hl >= sizeof head)
        return bad(text, "%s", "model name longer than 31 characters", SPEC_NAMES);
    memcpy(head, text, hl);
    head[hl] = '\0';
    const char *opts = colon ? colon + 1 : "";
    if (colon && !*opts)
        return bad(text, "%s", "':' not followed by options", "name:key=value,...");

    spec_opts o;
    memset(&o, 0, sizeof o);
    ns_status st;
    if (!strncmp(head, "resnet", 6) && isdigit((unsigned char)head[6])) {
        int depth = 0;
        if (!parse_int(head + 6, 8, 6 * MAX_BLOCKS + 2, &depth) || (depth - 2) % 6 != 0)
            return bad(text, "unknown model '%s' (depth must be 6n+2 >= 8)", head, SPEC_NAMES);
        NS_TRY(parse_opts(text, opts, "width, mult, name", &o));
        o.n_blocks = 3;
        o.blocks[0] = o.blocks[1] = o.blocks[2] = (depth - 2) / 6;
        st = build(text, &o, 0, 16, 3, 0, 1, out);
    } else if (!strcmp(head, "seed-resnet50")) {
        NS_TRY(parse_opts(text, opts, "mult, name", &o));
        static const int blocks[4] = {3, 4, 6, 3}, strides[4] = {1, 2, 1, 2};
        o.n_blocks = o.n_strides = 4;
        memcpy(o.blocks, blocks, sizeof blocks);
        memcpy(o.strides, strides, sizeof strides);
        st = build(text, &o, 1, 64, 5, 32, 4, out);
    } else if (!strcmp(head, "basic") || !strcmp(head, "bottleneck")) {
        int bn = head[1] == 'o';
        NS_TRY(parse_opts(text, opts,
                          bn ? "blocks, width, widths, strides, stem, expansion, mult, name"
                             : "blocks, width, widths, strides, stem, mult, name",
                          &o));
        st = build(text, &o, bn, bn ? 64 : 16, 3, 0, 4, out);
    } else {
        return bad(text, "unknown model '%s'", head, SPEC_NAMES);
    }
    if (st != NS_OK) {
        memset(out, 0, sizeof *out);
        return st;
    }
    snprintf(out->name, sizeof out->name, "%s", o.name[0] ? o.name : head);
    return NS_OK;
}

int ns_model_spec_equal(const ns_model_spec *a, const ns_model_spec *b)
{
    if (strcmp(a->name, b->name) || a->bottleneck != b->bottleneck ||
        a->stem_kernel != b->stem_kernel || a->stem_width != b->stem_width ||
        a->n_stages != b->n_stages || a->expansion != b->expansion)
        return 0;
    for (int i = 0; i < a->n_stages && i < NS_MAX_STAGES; i++)
        if (a->stage_width[i] != b->stage_width[i] || a->stage_blocks[i] != b->stage_blocks[i] ||
            a->stage_stride[i] != b->stage_stride[i])
            return 0;
    return 1;
}

int ns_model_spec_blocks(const ns_model_spec *s)
{
    int n = 0;
    for (int i = 0; i < s->n_stages; i++)
        n += s->stage_blocks[i];
    return n;
}

static void append(char *buf, size_t len, size_t *pos, const char *fmt, int v)
{
    if (*pos >= len)
        return;
    int k = snprintf(buf + *pos, len - *pos, fmt, v);
    if (k > 0)
        *pos += (size_t)k;
}

static void append_list(char *buf, size_t len, size_t *pos, const char *key, const int *v, int n)
{
    if (*pos < len) {
        int k = snprintf(buf + *pos, len - *pos, ",%s=", key);
        if (k > 0)
            *pos += (size_t)k;
    }
    for (int i = 0; i < n; i++)
        append(buf, len, pos, i ? "-%d" : "%d", v[i]);
}

void ns_model_spec_format(const ns_model_spec *s, char *buf, size_t len)
{
    if (!len)
        return;
    buf[0] = '\0';
    /* A bare preset stays readable in checkpoints ("resnet20"). The parse sets the
     * thread's error buffer on failure: keep the caller's message intact. */
    char saved[NS_ERROR_MAX];
    snprintf(saved, sizeof saved, "%s", ns_last_error());
    ns_model_spec preset;
    int is_preset = ns_model_spec_parse(s->name, &preset) == NS_OK && ns_model_spec_equal(s, &preset);
    ns_set_error("%s", saved);
    if (is_preset) {
        snprintf(buf, len, "%s", s->name);
        return;
    }
    size_t pos = 0;
    int k = snprintf(buf, len, "%s:name=%s", s->bottleneck ? "bottleneck" : "basic", s->name);
    if (k > 0)
        pos = (size_t)k;
    int n = s->n_stages < 0 ? 0 : (s->n_stages > NS_MAX_STAGES ? NS_MAX_STAGES : s->n_stages);
    append_list(buf, len, &pos, "blocks", s->stage_blocks, n);
    append_list(buf, len, &pos, "widths", s->stage_width, n);
    append_list(buf, len, &pos, "strides", s->stage_stride, n);
    append(buf, len, &pos, ",stem=%d", s->stem_kernel);
    append(buf, len, &pos, "x%d", s->stem_width);
    if (s->bottleneck)
        append(buf, len, &pos, ",expansion=%d", s->expansion);
}
