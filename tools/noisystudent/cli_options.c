#include "cli_options.h"

#include <errno.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "dist/dist.h"
#include "util/error.h"

static const ns_opt *find(const ns_opt *opts, size_t n, const char *name, size_t len)
{
    for (size_t i = 0; i < n; i++)
        if (strlen(opts[i].name) == len && strncmp(opts[i].name, name, len) == 0)
            return &opts[i];
    for (size_t i = 0; i < n; i++) { /* "--student.dropout": the prefix "student." and a key */
        const size_t plen = strlen(opts[i].name);
        if (opts[i].type == NS_OPT_PREFIX && len > plen && strncmp(opts[i].name, name, plen) == 0)
            return &opts[i];
    }
    return NULL;
}

static ns_status out_of_range(const char *cmd, const ns_opt *o, const char *val)
{
    return ns_fail(NS_ERR_USAGE, "%s --%s %s: expected a value from %g to %g", cmd, o->name, val, o->min,
                   o->max);
}

static ns_status set_value(const char *cmd, const ns_opt *o, const char *name, size_t len, const char *val)
{
    char *end = NULL;
    errno = 0;
    switch (o->type) {
    case NS_OPT_FLAG:
        *(int *)o->target = 1;
        return NS_OK;
    case NS_OPT_STRING:
        if (!*val)
            return ns_fail(NS_ERR_USAGE, "%s --%s: expected %s, got an empty string", cmd, o->name,
                           o->metavar ? o->metavar : "a value");
        *(const char **)o->target = val;
        return NS_OK;
    case NS_OPT_INT: {
        long v = strtol(val, &end, 10);
        if (errno || !*val || *end || v < -2147483647L || v > 2147483647L)
            return ns_fail(NS_ERR_USAGE, "%s --%s %s: expected an integer", cmd, o->name, val);
        if (o->min <= o->max && (v < o->min || v > o->max))
            return out_of_range(cmd, o, val);
        *(int *)o->target = (int)v;
        return NS_OK;
    }
    case NS_OPT_U64: {
        if (*val == '-')
            return ns_fail(NS_ERR_USAGE, "%s --%s %s: expected a non-negative integer", cmd, o->name, val);
        unsigned long long v = strtoull(val, &end, 10);
        if (errno || !*val || *end)
            return ns_fail(NS_ERR_USAGE, "%s --%s %s: expected a non-negative integer", cmd, o->name, val);
        *(uint64_t *)o->target = (uint64_t)v;
        return NS_OK;
    }
    case NS_OPT_PREFIX: {
        ns_cli_assignments *a = o->target;
        const size_t plen = strlen(o->name), klen = len - plen;
        if (klen == 0)
            return ns_fail(NS_ERR_USAGE, "%s --%s: expected --%sKEY VALUE", cmd, o->name, o->name);
        if (klen >= sizeof a->item[0].key)
            return ns_fail(NS_ERR_USAGE, "%s --%.*s: key too long", cmd, (int)len, name);
        if (a->n >= NS_CLI_MAX_ASSIGN)
            return ns_fail(NS_ERR_USAGE, "%s --%.*s: more than %d --%sKEY options", cmd, (int)len, name,
                           NS_CLI_MAX_ASSIGN, o->name);
        if (!*val)
            return ns_fail(NS_ERR_USAGE, "%s --%.*s: expected a value, got an empty string", cmd, (int)len, name);
        memcpy(a->item[a->n].key, name + plen, klen);
        a->item[a->n].key[klen] = '\0';
        a->item[a->n].value = val;
        a->n++;
        return NS_OK;
    }
    case NS_OPT_FLOAT: {
        double v = strtod(val, &end);
        if (errno || !*val || *end || !isfinite(v))
            return ns_fail(NS_ERR_USAGE, "%s --%s %s: expected a number", cmd, o->name, val);
        if (o->min <= o->max && (v < o->min || v > o->max))
            return out_of_range(cmd, o, val);
        *(float *)o->target = (float)v;
        return NS_OK;
    }
    }
    return ns_fail(NS_ERR_INTERNAL, "%s --%s: unknown option type", cmd, o->name);
}

ns_status ns_cli_parse(const char *cmd, int argc, char **argv, int first, const ns_opt *opts,
                       size_t n_opts, const char **positional, int max_positional,
                       int *n_positional, int *help)
{
    *help = 0;
    if (n_positional)
        *n_positional = 0;
    for (int i = first; i < argc; i++) {
        const char *a = argv[i];
        if (strcmp(a, "-h") == 0 || strcmp(a, "--help") == 0) {
            *help = 1;
            return NS_OK;
        }
        if (strncmp(a, "--", 2) != 0 || a[2] == '\0') {
            if (positional && n_positional && *n_positional < max_positional) {
                positional[(*n_positional)++] = a;
                continue;
            }
            return ns_fail(NS_ERR_USAGE, "%s: unexpected argument '%s' (options start with --; see "
                           "noisystudent %s --help)", cmd, a, cmd);
        }
        const char *name = a + 2;
        const char *eq = strchr(name, '=');
        size_t len = eq ? (size_t)(eq - name) : strlen(name);
        const ns_opt *o = find(opts, n_opts, name, len);
        if (!o)
            return ns_fail(NS_ERR_USAGE, "%s: unknown option --%.*s (see noisystudent %s --help)", cmd,
                           (int)len, name, cmd);
        const char *val = NULL;
        if (o->type == NS_OPT_FLAG) {
            if (eq)
                return ns_fail(NS_ERR_USAGE, "%s --%s takes no value", cmd, o->name);
        } else if (eq) {
            val = eq + 1;
        } else if (i + 1 < argc) {
            val = argv[++i];
        } else {
            return ns_fail(NS_ERR_USAGE, "%s --%.*s: expected %s after it", cmd, (int)len, name,
                           o->type == NS_OPT_PREFIX ? "a value" : o->metavar ? o->metavar : "a value");
        }
        NS_TRY(set_value(cmd, o, name, len, val));
        if (o->seen)
            *o->seen = 1;
    }
    return NS_OK;
}

void ns_cli_print_help(const char *cmd, const char *synopsis, const char *description,
                       const ns_opt *opts, size_t n_opts)
{
    printf("usage: noisystudent %s %s\n\n%s\n\noptions:\n", cmd, synopsis, description);
    for (size_t i = 0; i < n_opts; i++) {
        char left[64];
        snprintf(left, sizeof left, "--%s%s%s", opts[i].name,
                 opts[i].metavar && opts[i].type != NS_OPT_PREFIX ? " " : "", opts[i].metavar ? opts[i].metavar : "");
        printf("  %-28s %s\n", left, opts[i].help);
    }
    printf("  %-28s %s\n", "-h, --help", "show this help");
}

int ns_cli_fail(ns_status st)
{
    if (st == NS_OK)
        return 0;
    const char *msg = ns_last_error();
    if (ns_dist_size() > 1) /* under mpirun: which rank failed, in the same line */
        fprintf(stderr, "noisystudent: rank %d of %d: %s\n", ns_dist_rank(), ns_dist_size(),
                msg[0] ? msg : ns_status_name(st));
    else
        fprintf(stderr, "noisystudent: %s\n", msg[0] ? msg : ns_status_name(st));
    return st == NS_ERR_USAGE ? 2 : 1;
}

void ns_cli_default_run_dir(const char *what, char *buf, size_t len)
{
    time_t now = time(NULL);
    struct tm tm;
    char stamp[32];
    gmtime_r(&now, &tm);
    strftime(stamp, sizeof stamp, "%Y%m%d-%H%M%S", &tm);
    snprintf(buf, len, "runs/%s-%s", what, stamp);
}
