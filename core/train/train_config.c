#include "train/train_config.h"

#include <float.h>
#include <math.h>
#include <stdio.h>
#include <string.h>

#include "util/error.h"

ns_train_config ns_train_config_default(void)
{
    ns_train_config c;
    memset(&c, 0, sizeof c);
    snprintf(c.data, sizeof c.data, "fashion-mnist");
    c.labels_per_class = 0;
    c.split_seed = 1;
    c.val_per_class = 0;
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
    I("val_per_class", val_per_class), S("pseudo", pseudo), F("unlabeled_ratio", unlabeled_ratio),
    F("pseudo_threshold", pseudo_threshold), I("pseudo_per_class", pseudo_per_class),
    I("pseudo_stochastic", pseudo_stochastic), I("pseudo_hard", pseudo_hard),
    F("pseudo_temperature", pseudo_temperature),
    S("model", model), I("epochs", epochs), I("batch", batch), F("lr", lr),
    F("momentum", opt.momentum), I("nesterov", opt.nesterov), F("weight_decay", opt.weight_decay),
    F("adam_beta1", opt.beta1), F("adam_beta2", opt.beta2), F("adam_eps", opt.eps),
    S("schedule", schedule), F("label_smoothing", label_smoothing), F("dropout", noise.dropout),
    F("stochastic_depth", noise.drop_path_pl), S("augment", augment), I("pad_crop", pad_crop),
    I("flip", flip), U("seed", seed), I("loader_threads", loader_threads), I("eval_every", eval_every),
    S("run_dir", run_dir),
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
