#include "train/train_config.h"

#include <errno.h>
#include <float.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "augment/policy.h"
#include "nn/model_spec.h"
#include "train/checkpoint.h"
#include "train/scheduler.h"
#include "util/error.h"

ns_status ns_train_config_data_options(const ns_train_config *c, ns_data_options *o)
{
    *o = ns_data_options_default();
    if (c->input[0])
        NS_TRY(ns_data_options_parse_input(c->input, "input", o));
    o->test_fraction = c->test_fraction;
    o->seed = c->split_seed;
    return NS_OK;
}

void ns_ckpt_data_options(const struct ns_ckpt_info *info, ns_data_options *o)
{
    *o = ns_data_options_default();
    if (info->config[0]) {
        json_t *j = json_loads(info->config, 0, NULL);
        ns_train_config cfg;
        if (j && ns_train_config_from_json(j, "checkpoint configuration", &cfg) == NS_OK) {
            o->test_fraction = cfg.test_fraction;
            o->seed = cfg.split_seed;
        }
        json_decref(j);
        ns_clear_error();
    }
    o->c = info->in_c;
    o->h = info->in_h;
    o->w = info->in_w;
}

ns_train_config ns_train_config_default(void)
{
    ns_train_config c;
    memset(&c, 0, sizeof c);
    snprintf(c.data, sizeof c.data, "fashion-mnist");
    c.labels_per_class = 0;
    c.split_seed = 1;
    c.val_per_class = 0;
    c.test_fraction = (float)NS_DATA_DEFAULT_TEST_FRACTION;
    c.unlabeled_ratio = 1.0f;
    c.pseudo_threshold = 0.3f;
    c.pseudo_per_class = 0;
    c.pseudo_stochastic = 0;
    c.pseudo_hard = 0;
    c.pseudo_temperature = 1.0f;
    snprintf(c.model, sizeof c.model, "resnet8");
    c.epochs = 30;
    c.batch = 128;
    c.lr = 0.1f;
    c.optimizer = NS_OPT_SGD;
    c.opt = ns_optimizer_config_default(NS_OPT_SGD);
    snprintf(c.schedule, sizeof c.schedule, "cosine");
    c.label_smoothing = 0.0f;
    c.noise.dropout = 0.0f;
    c.noise.drop_path_pl = 1.0f;
    c.noise.drop_path_mode = NS_DROP_PATH_PER_SAMPLE;
    snprintf(c.augment, sizeof c.augment, "none");
    c.pad_crop = 1;
    c.flip = 1;
    c.seed = 1;
    c.loader_threads = 2;
    c.eval_every = 1;
    return c;
}

/* One table drives both directions, so a field cannot be written but not read. */
typedef enum { F_STR, F_INT, F_U64, F_FLOAT } ftype;
typedef struct field {
    const char *key;
    ftype type;
    size_t offset;
    size_t size; /* for strings */
} field;

#define S(k, m) {k, F_STR, offsetof(ns_train_config, m), sizeof(((ns_train_config *)0)->m)}
#define I(k, m) {k, F_INT, offsetof(ns_train_config, m), 0}
#define U(k, m) {k, F_U64, offsetof(ns_train_config, m), 0}
#define F(k, m) {k, F_FLOAT, offsetof(ns_train_config, m), 0}
static const field fields[] = {
    S("data", data), I("labels_per_class", labels_per_class), U("split_seed", split_seed),
    I("val_per_class", val_per_class), S("input", input), F("test_fraction", test_fraction), S("pseudo", pseudo), S("pseudo_sha256", pseudo_sha256),
    F("unlabeled_ratio", unlabeled_ratio),
    F("pseudo_threshold", pseudo_threshold), I("pseudo_per_class", pseudo_per_class),
    I("pseudo_stochastic", pseudo_stochastic), I("pseudo_hard", pseudo_hard),
    F("pseudo_temperature", pseudo_temperature),
    S("model", model), S("init", init), I("epochs", epochs), I("batch", batch), F("lr", lr),
    F("momentum", opt.momentum), I("nesterov", opt.nesterov), F("weight_decay", opt.weight_decay), I("decay_all", opt.decay_all),
    F("adam_beta1", opt.beta1), F("adam_beta2", opt.beta2), F("adam_eps", opt.eps),
    S("schedule", schedule), F("label_smoothing", label_smoothing), F("dropout", noise.dropout),
    F("stochastic_depth", noise.drop_path_pl), S("augment", augment), I("pad_crop", pad_crop),
    I("flip", flip), U("seed", seed), I("loader_threads", loader_threads), I("eval_every", eval_every),
    I("sync_bn", sync_bn), F("budget_s", budget_s), I("budget_fitted", budget_fitted), S("run_dir", run_dir),
};
#undef S
#undef I
#undef U
#undef F

json_t *ns_train_config_to_json(const ns_train_config *c)
{
    json_t *j = json_object();
    const char *base = (const char *)c;
    for (size_t i = 0; i < sizeof fields / sizeof *fields; i++) {
        const field *f = &fields[i];
        const void *p = base + f->offset;
        json_t *v = NULL;
        switch (f->type) {
        case F_STR: v = json_string((const char *)p); break;
        case F_INT: v = json_integer(*(const int *)p); break;
        case F_U64: v = json_integer((json_int_t) * (const uint64_t *)p); break;
        case F_FLOAT: v = json_real(*(const float *)p); break;
        }
        json_object_set_new(j, f->key, v);
    }
    json_object_set_new(j, "optimizer", json_string(c->optimizer == NS_OPT_ADAM ? "adam" : "sgd"));
    json_object_set_new(j, "drop_path_mode",
                        json_string(c->noise.drop_path_mode == NS_DROP_PATH_PER_BATCH ? "batch" : "sample"));
    return j;
}

ns_status ns_train_config_from_json(const json_t *j, const char *where, ns_train_config *c)
{
    *c = ns_train_config_default();
    if (!json_is_object(j))
        return ns_fail(NS_ERR_FORMAT, "%s: expected a JSON object", where);
    char *base = (char *)c;
    const char *key;
    json_t *v;
    json_object_foreach((json_t *)j, key, v)
    {
        if (strcmp(key, "optimizer") == 0) {
            if (!json_is_string(v) || ns_optimizer_kind_parse(json_string_value(v), &c->optimizer) != NS_OK)
                return ns_fail(NS_ERR_FORMAT, "%s: optimizer: expected \"sgd\" or \"adam\"", where);
            continue;
        }
        if (strcmp(key, "drop_path_mode") == 0) {
            const char *s = json_is_string(v) ? json_string_value(v) : "";
            if (strcmp(s, "sample") && strcmp(s, "batch"))
                return ns_fail(NS_ERR_FORMAT, "%s: drop_path_mode: expected \"sample\" or \"batch\"", where);
            c->noise.drop_path_mode = strcmp(s, "batch") == 0 ? NS_DROP_PATH_PER_BATCH : NS_DROP_PATH_PER_SAMPLE;
            continue;
        }
        const field *f = NULL;
        for (size_t i = 0; i < sizeof fields / sizeof *fields && !f; i++)
            if (strcmp(fields[i].key, key) == 0)
                f = &fields[i];
        if (!f)
            return ns_fail(NS_ERR_FORMAT, "%s: unknown key '%s'", where, key);
        void *p = base + f->offset;
        switch (f->type) {
        case F_STR:
            if (!json_is_string(v) || strlen(json_string_value(v)) >= f->size)
                return ns_fail(NS_ERR_FORMAT, "%s: %s: expected a string shorter than %zu bytes", where, key,
                               f->size);
            snprintf((char *)p, f->size, "%s", json_string_value(v));
            break;
        case F_INT:
            if (!json_is_integer(v) || json_integer_value(v) < -2147483647LL ||
                json_integer_value(v) > 2147483647LL)
                return ns_fail(NS_ERR_FORMAT, "%s: %s: expected an integer", where, key);
            *(int *)p = (int)json_integer_value(v);
            break;
        case F_U64:
            if (!json_is_integer(v) || json_integer_value(v) < 0)
                return ns_fail(NS_ERR_FORMAT, "%s: %s: expected a non-negative integer", where, key);
            *(uint64_t *)p = (uint64_t)json_integer_value(v);
            break;
        case F_FLOAT:
            /* A double beyond FLT_MAX would become an infinite float, which
             * config.json cannot hold: the key would vanish from the saved
             * file and --resume would run with the default (found by
             * fuzz/fuzz_config's round trip). */
            if (!json_is_number(v) || !isfinite(json_number_value(v)) || fabs(json_number_value(v)) > FLT_MAX)
                return ns_fail(NS_ERR_FORMAT, "%s: %s: expected a finite number of at most %g in magnitude", where,
                               key, (double)FLT_MAX);
            *(float *)p = (float)json_number_value(v);
            break;
        }
    }
    c->opt.kind = c->optimizer;
    return NS_OK;
}

/* ---- validation ---- */

/* `train`'s flag for a key where it is not "--" + the key with dashes. */
static const char *train_flag(const char *key)
{
    static const char *const map[][2] = {
        {"pseudo_threshold", "threshold"},   {"pseudo_per_class", "per-class"},
        {"pseudo_stochastic", "stochastic-balance"}, {"pseudo_hard", "hard-targets"},
        {"pseudo_temperature", "temperature"}, {"nesterov", "no-nesterov"},
        {"pad_crop", "no-pad-crop"},         {"flip", "no-flip"},
        {"budget_s", "budget"}, {"decay_all", "decay-all"},
    };
    for (size_t i = 0; i < sizeof map / sizeof *map; i++)
        if (strcmp(map[i][0], key) == 0)
            return map[i][1];
    return NULL;
}

typedef struct namer {
    const char *prefix;
    char buf[4][160]; /* a few names alive at once in one message */
    int next;
} namer;

static const char *flag_name(namer *n, const char *key)
{
    char *b = n->buf[n->next++ % 4];
    if (n->prefix) {
        snprintf(b, sizeof n->buf[0], "--%s%s", n->prefix, key);
        return b;
    }
    const char *f = train_flag(key);
    if (f) {
        snprintf(b, sizeof n->buf[0], "--%s", f);
        return b;
    }
    snprintf(b, sizeof n->buf[0], "--%s", key);
    for (char *p = b + 2; *p; p++)
        if (*p == '_')
            *p = '-';
    return b;
}

static ns_status int_in(namer *n, const char *key, int v, long lo, long hi, const char *what)
{
    if (v < lo || v > hi)
        return ns_fail(NS_ERR_USAGE, "%s %d: expected %s", flag_name(n, key), v, what);
    return NS_OK;
}

static ns_status float_in(namer *n, const char *key, float v, int ok, const char *what)
{
    if (!ok || !isfinite(v))
        return ns_fail(NS_ERR_USAGE, "%s %g: expected %s", flag_name(n, key), (double)v, what);
    return NS_OK;
}

/* "plateau" or "plateau:..." */
static int is_plateau(const char *schedule)
{
    return strncmp(schedule, "plateau", 7) == 0 && (schedule[7] == '\0' || schedule[7] == ':');
}

ns_status ns_train_config_validate(const ns_train_config *c, const char *flag_prefix)
{
    namer n = {flag_prefix, {{0}}, 0};
    if (!c->data[0])
        return ns_fail(NS_ERR_USAGE, "%s: expected a dataset spec, got an empty string", flag_name(&n, "data"));
    NS_TRY(int_in(&n, "labels_per_class", c->labels_per_class, 0, 1000000000L, "0 (every image) or more"));
    NS_TRY(int_in(&n, "val_per_class", c->val_per_class, 0, 1000000000L, "0 (none) or more"));
    if (c->val_per_class > 0 && c->labels_per_class > 0 && c->val_per_class >= c->labels_per_class)
        return ns_fail(NS_ERR_USAGE, "%s %d must be smaller than %s %d (some labeled images must remain to train on)",
                       flag_name(&n, "val_per_class"), c->val_per_class, flag_name(&n, "labels_per_class"),
                       c->labels_per_class);
    if (c->input[0]) {
        ns_data_options o;
        NS_TRY(ns_data_options_parse_input(c->input, flag_name(&n, "input"), &o));
    }
    NS_TRY(float_in(&n, "test_fraction", c->test_fraction, c->test_fraction > 0 && c->test_fraction < 1,
                    "a fraction in (0, 1) of each class held out when an image-folder tree has no test/ or val/"));
    if (c->pseudo_sha256[0]) {
        size_t len = strspn(c->pseudo_sha256, "0123456789abcdef");
        if (len != 64 || c->pseudo_sha256[len])
            return ns_fail(NS_ERR_USAGE, "%s '%s': expected 64 lower-case hex digits (a SHA-256) or nothing",
                           flag_name(&n, "pseudo_sha256"), c->pseudo_sha256);
    }
    NS_TRY(float_in(&n, "unlabeled_ratio", c->unlabeled_ratio, c->unlabeled_ratio > 0 && c->unlabeled_ratio <= 64,
                    "a ratio in (0, 64]"));
    NS_TRY(float_in(&n, "pseudo_threshold", c->pseudo_threshold,
                    c->pseudo_threshold >= 0 && c->pseudo_threshold <= 1, "a confidence from 0 to 1"));
    NS_TRY(int_in(&n, "pseudo_per_class", c->pseudo_per_class, -1, 1000000000L,
                  "-1 (no balancing), 0 (the median class) or a count"));
    NS_TRY(int_in(&n, "pseudo_stochastic", c->pseudo_stochastic, 0, 1, "0 or 1"));
    NS_TRY(int_in(&n, "pseudo_hard", c->pseudo_hard, 0, 1, "0 or 1"));
    NS_TRY(float_in(&n, "pseudo_temperature", c->pseudo_temperature,
                    c->pseudo_temperature >= 0.01f && c->pseudo_temperature <= 100, "a temperature from 0.01 to 100"));
    ns_model_spec spec;
    if (ns_model_spec_parse(c->model, &spec) != NS_OK) {
        ns_error_prefix("%s", flag_name(&n, "model"));
        return NS_ERR_USAGE;
    }
    NS_TRY(int_in(&n, "epochs", c->epochs, 1, 100000, "1..100000"));
    NS_TRY(int_in(&n, "batch", c->batch, 1, 65536, "1..65536"));
    NS_TRY(float_in(&n, "budget_s", c->budget_s, c->budget_s >= 0 && c->budget_s <= 1e8,
                    "0 (no budget) or a wall time in seconds up to 1e8"));
    NS_TRY(int_in(&n, "budget_fitted", c->budget_fitted, 0, 1, "0 or 1"));
    NS_TRY(float_in(&n, "lr", c->lr, c->lr > 0 && c->lr <= 100, "a learning rate in (0, 100]"));
    NS_TRY(float_in(&n, "momentum", c->opt.momentum, c->opt.momentum >= 0 && c->opt.momentum < 1, "0 <= m < 1"));
    NS_TRY(int_in(&n, "nesterov", c->opt.nesterov, 0, 1, "0 or 1"));
    NS_TRY(float_in(&n, "weight_decay", c->opt.weight_decay, c->opt.weight_decay >= 0 && c->opt.weight_decay <= 1,
                    "a weight decay from 0 to 1"));
    NS_TRY(int_in(&n, "decay_all", c->opt.decay_all, 0, 1, "0 or 1"));
    NS_TRY(float_in(&n, "adam_beta1", c->opt.beta1, c->opt.beta1 >= 0 && c->opt.beta1 < 1, "0 <= beta1 < 1"));
    NS_TRY(float_in(&n, "adam_beta2", c->opt.beta2, c->opt.beta2 >= 0 && c->opt.beta2 < 1, "0 <= beta2 < 1"));
    NS_TRY(float_in(&n, "adam_eps", c->opt.eps, c->opt.eps > 0 && c->opt.eps <= 1, "an epsilon in (0, 1]"));
    ns_scheduler *sched;
    if (ns_scheduler_open(c->schedule, &sched) != NS_OK) {
        ns_error_prefix("%s", flag_name(&n, "schedule"));
        return NS_ERR_USAGE;
    }
    ns_scheduler_close(sched);
    /* plateau reads the validation accuracy at the end of every epoch: without
     * a split it could only fail there, after an epoch's work. */
    if (is_plateau(c->schedule) && c->val_per_class < 1)
        return ns_fail(NS_ERR_USAGE, "%s %s: needs validation data; give %s N (validation images per class)",
                       flag_name(&n, "schedule"), c->schedule,
                       n.prefix ? "--val-per-class" : flag_name(&n, "val_per_class"));
    NS_TRY(float_in(&n, "label_smoothing", c->label_smoothing, c->label_smoothing >= 0 && c->label_smoothing < 1,
                    "0 <= s < 1"));
    NS_TRY(float_in(&n, "dropout", c->noise.dropout, c->noise.dropout >= 0 && c->noise.dropout < 1,
                    "a rate with 0 <= rate < 1"));
    NS_TRY(float_in(&n, "stochastic_depth", c->noise.drop_path_pl,
                    c->noise.drop_path_pl > 0 && c->noise.drop_path_pl <= 1, "a survival probability in (0, 1]"));
    if (!c->augment[0])
        return ns_fail(NS_ERR_USAGE, "%s: expected a RandAugment policy or none, got an empty string",
                       flag_name(&n, "augment"));
    if (strcmp(c->augment, "none") != 0) {
        ns_augment_policy *policy;
        if (ns_augment_policy_open(c->augment, &policy) != NS_OK) {
            ns_error_prefix("%s", flag_name(&n, "augment"));
            return NS_ERR_USAGE;
        }
        ns_augment_policy_close(policy);
    }
    NS_TRY(int_in(&n, "pad_crop", c->pad_crop, 0, 1, "0 or 1"));
    NS_TRY(int_in(&n, "flip", c->flip, 0, 1, "0 or 1"));
    NS_TRY(int_in(&n, "loader_threads", c->loader_threads, 1, 64, "1..64"));
    NS_TRY(int_in(&n, "eval_every", c->eval_every, 0, 100000, "0 (only the last epoch) or more"));
    NS_TRY(int_in(&n, "sync_bn", c->sync_bn, 0, 1, "0 or 1"));
    if (!c->run_dir[0])
        return ns_fail(NS_ERR_USAGE, "--run-dir: expected a directory for the run's outputs");
    return NS_OK;
}

/* ---- command-line overrides ---- */

const char *ns_train_config_keys(void)
{
    static char list[1024];
    if (!list[0]) {
        size_t len = 0;
        for (size_t i = 0; i < sizeof fields / sizeof *fields; i++)
            len += (size_t)snprintf(list + len, sizeof list - len, "%s, ", fields[i].key);
        snprintf(list + len, sizeof list - len, "optimizer, drop_path_mode");
    }
    return list;
}

ns_status ns_train_config_set(ns_train_config *c, const char *key_in, const char *text, const char *flag)
{
    char key[64];
    if (strlen(key_in) >= sizeof key)
        return ns_fail(NS_ERR_USAGE, "%s: unknown key (expected one of %s)", flag, ns_train_config_keys());
    snprintf(key, sizeof key, "%s", key_in);
    for (char *p = key; *p; p++)
        if (*p == '-')
            *p = '_';
    if (strcmp(key, "optimizer") == 0) {
        ns_optimizer_kind kind;
        if (ns_optimizer_kind_parse(text, &kind) != NS_OK)
            return ns_fail(NS_ERR_USAGE, "%s %s: expected sgd or adam", flag, text);
        c->optimizer = kind;
        c->opt = ns_optimizer_config_default(kind);
        return NS_OK;
    }
    if (strcmp(key, "drop_path_mode") == 0) {
        if (strcmp(text, "sample") && strcmp(text, "batch"))
            return ns_fail(NS_ERR_USAGE, "%s %s: expected sample or batch", flag, text);
        c->noise.drop_path_mode = strcmp(text, "batch") == 0 ? NS_DROP_PATH_PER_BATCH : NS_DROP_PATH_PER_SAMPLE;
        return NS_OK;
    }
    const field *f = NULL;
    for (size_t i = 0; i < sizeof fields / sizeof *fields && !f; i++)
        if (strcmp(fields[i].key, key) == 0)
            f = &fields[i];
    if (!f)
        return ns_fail(NS_ERR_USAGE, "%s: unknown key '%s' (expected one of %s)", flag, key, ns_train_config_keys());
    void *p = (char *)c + f->offset;
    char *end = NULL;
    errno = 0;
    switch (f->type) {
    case F_STR:
        if (strlen(text) >= f->size)
            return ns_fail(NS_ERR_USAGE, "%s: expected a string shorter than %zu bytes", flag, f->size);
        snprintf((char *)p, f->size, "%s", text);
        return NS_OK;
    case F_INT: {
        long v = strtol(text, &end, 10);
        if (errno || !*text || *end || v < -2147483647L || v > 2147483647L)
            return ns_fail(NS_ERR_USAGE, "%s %s: expected an integer", flag, text);
        *(int *)p = (int)v;
        return NS_OK;
    }
    case F_U64: {
        unsigned long long v = strtoull(text, &end, 10);
        if (errno || !*text || *end || *text == '-')
            return ns_fail(NS_ERR_USAGE, "%s %s: expected a non-negative integer", flag, text);
        *(uint64_t *)p = (uint64_t)v;
        return NS_OK;
    }
    case F_FLOAT: {
        double v = strtod(text, &end);
        /* beyond FLT_MAX the float would be infinite (see the JSON reader) */
        if (errno || !*text || *end || !isfinite(v) || fabs(v) > FLT_MAX)
            return ns_fail(NS_ERR_USAGE, "%s %s: expected a finite number of at most %g in magnitude", flag, text,
                           (double)FLT_MAX);
        *(float *)p = (float)v;
        return NS_OK;
    }
    }
    return ns_fail(NS_ERR_INTERNAL, "%s: unknown field type", flag);
}
