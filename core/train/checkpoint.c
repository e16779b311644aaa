#include "train/checkpoint.h"

#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <jansson.h>

#include "io/safetensors.h"
#include "util/error.h"

typedef struct tensor_list {
    ns_param **p;
    size_t n;
} tensor_list;

/* Every tensor the file holds for (m, o), in a fixed order. */
static ns_status collect(ns_model *m, ns_optimizer *o, tensor_list *out)
{
    size_t np = ns_model_num_params(m), ns = ns_model_num_states(m);
    size_t no = o ? ns_optimizer_num_states(o) : 0;
    out->n = 0;
    out->p = malloc((np + ns + no + 1) * sizeof *out->p);
    if (!out->p)
        return ns_fail(NS_ERR_NOMEM, "checkpoint: out of memory");
    for (size_t i = 0; i < np; i++)
        out->p[out->n++] = ns_model_param(m, i);
    for (size_t i = 0; i < ns; i++)
        out->p[out->n++] = ns_model_state(m, i);
    for (size_t i = 0; i < no; i++)
        out->p[out->n++] = ns_optimizer_state(o, i);
    return NS_OK;
}

static void tensor_name(const ns_param *p, int is_opt, char *buf, size_t len)
{
    snprintf(buf, len, "%s%s", is_opt ? "optimizer." : "", p->name);
}

static void format_floats(const float *v, int n, char *buf, size_t len)
{
    size_t used = 0;
    buf[0] = '\0';
    for (int i = 0; i < n; i++) {
        int w = snprintf(buf + used, len - used, "%s%a", i ? "," : "", (double)v[i]);
        if (w < 0 || (size_t)w >= len - used)
            break;
        used += (size_t)w;
    }
}

static int parse_floats(const char *text, float *v, int n)
{
    const char *p = text;
    for (int i = 0; i < n; i++) {
        char *end;
        errno = 0;
        double d = strtod(p, &end);
        if (errno || end == p)
            return 0;
        v[i] = (float)d;
        p = end;
        if (i + 1 < n) {
            if (*p != ',')
                return 0;
            p++;
        }
    }
    return *p == '\0';
}

/* The model's inference survival probabilities, one %a per block. */
static void format_survival(const ns_model *m, char *buf, size_t len)
{
    size_t used = 0;
    buf[0] = '\0';
    for (int l = 0; l < ns_model_num_blocks(m); l++) {
        int w = snprintf(buf + used, len - used, "%s%a", l ? "," : "", (double)ns_model_inference_survival(m, l));
        if (w < 0 || (size_t)w >= len - used)
            break;
        used += (size_t)w;
    }
}

ns_status ns_checkpoint_save(const char *path, ns_model *m, ns_optimizer *o, const ns_ckpt_info *info)
{
    tensor_list list;
    NS_TRY(collect(m, o, &list));
    size_t n_model = ns_model_num_params(m) + ns_model_num_states(m);
    ns_backend *be = ns_model_backend(m);
    ns_st_tensor *t = calloc(list.n ? list.n : 1, sizeof *t);
    char (*names)[128] = calloc(list.n ? list.n : 1, sizeof *names);
    float **host = calloc(list.n ? list.n : 1, sizeof *host);
    char *names_json = NULL;
    /* One %a float is at most 15 characters plus the comma. */
    size_t dp_len = (size_t)ns_model_num_blocks(m) * 24 + 1;
    char *dp_survival = malloc(dp_len);
    ns_status st = (!t || !names || !host || !dp_survival) ? ns_fail(NS_ERR_NOMEM, "checkpoint %s: out of memory", path) : NS_OK;
    for (size_t i = 0; st == NS_OK && i < list.n; i++) {
        const ns_param *p = list.p[i];
        host[i] = malloc((p->size ? p->size : 1) * sizeof(float));
        if (!host[i]) {
            st = ns_fail(NS_ERR_NOMEM, "checkpoint %s: out of memory for %s", path, p->name);
            break;
        }
        st = be->api->download(be->ctx, p->value, 0, host[i], p->size);
        tensor_name(p, i >= n_model, names[i], sizeof names[i]);
        t[i].name = names[i];
        t[i].dtype = NS_ST_F32;
        t[i].ndim = p->ndim;
        for (int d = 0; d < p->ndim; d++)
            t[i].shape[d] = p->shape[d];
        t[i].data = host[i];
    }
    if (st == NS_OK) {
        int c, h, w;
        ns_model_input(m, &c, &h, &w);
        char spec[256], input[64], classes[16], epoch[16], step[32], osteps[16], seed[32], mean[256], sd[256];
        ns_model_spec_format(ns_model_get_spec(m), spec, sizeof spec);
        snprintf(input, sizeof input, "%dx%dx%d", c, h, w);
        snprintf(classes, sizeof classes, "%d", ns_model_classes(m));
        snprintf(epoch, sizeof epoch, "%d", info->epoch);
        snprintf(step, sizeof step, "%" PRId64, info->step);
        snprintf(osteps, sizeof osteps, "%d", o ? ns_optimizer_steps(o) : 0);
        snprintf(seed, sizeof seed, "%" PRIu64, info->seed);
        format_floats(info->mean, c, mean, sizeof mean);
        format_floats(info->std, c, sd, sizeof sd);
        format_survival(m, dp_survival, dp_len);
        ns_st_meta meta[] = {
            {"format", NS_CKPT_FORMAT}, {"format_version", NS_CKPT_VERSION},
            {"model", spec}, {"input", input}, {"classes", classes}, {"epoch", epoch},
            {"step", step}, {"optimizer", o ? info->optimizer : ""}, {"optimizer_steps", osteps},
            {"seed", seed}, {"scheduler_state", info->scheduler_state},
            {"normalize_mean", mean}, {"normalize_std", sd}, {"config", info->config},
            {"drop_path_mode", ns_model_inference_drop_path_mode(m) == NS_DROP_PATH_PER_BATCH ? "batch" : "sample"},
            {"drop_path_survival", dp_survival},
            {NULL, NULL}, {NULL, NULL}, /* optional keys below */
        };
        size_t n_meta = sizeof meta / sizeof *meta - 2;
        if (info->loss_scale_state[0])
            meta[n_meta++] = (ns_st_meta){"loss_scale_state", info->loss_scale_state};
        if (ns_model_class_names(m)->n > 0) {
            st = ns_class_names_to_json(ns_model_class_names(m), &names_json);
            if (st == NS_OK)
                meta[n_meta++] = (ns_st_meta){"class_names", names_json};
        }
        if (st == NS_OK)
            st = ns_safetensors_write(path, t, list.n, meta, n_meta);
    }
    free(names_json);
    free(dp_survival);
    for (size_t i = 0; host && i < list.n; i++)
        free(host[i]);
    free(host);
    free(names);
    free(t);
    free(list.p);
    return st;
}

static ns_status meta_int(const ns_safetensors *f, const char *key, long long lo, long long hi, long long *out)
{
    const char *v = ns_safetensors_meta(f, key);
    if (!v)
        return ns_fail(NS_ERR_FORMAT, "checkpoint %s: metadata lacks '%s'", ns_safetensors_path(f), key);
    char *end;
    errno = 0;
    long long x = strtoll(v, &end, 10);
    if (errno || !*v || *end || x < lo || x > hi)
        return ns_fail(NS_ERR_FORMAT, "checkpoint %s: metadata %s='%s', expected an integer in [%lld, %lld]",
                       ns_safetensors_path(f), key, v, lo, hi);
    *out = x;
    return NS_OK;
}

static ns_status read_info(const ns_safetensors *f, ns_ckpt_info *info)
{
    memset(info, 0, sizeof *info);
    const char *path = ns_safetensors_path(f);
    const char *fmt = ns_safetensors_meta(f, "format");
    const char *ver = ns_safetensors_meta(f, "format_version");
    if (!fmt || strcmp(fmt, NS_CKPT_FORMAT) != 0)
        return ns_fail(NS_ERR_FORMAT, "%s: a safetensors file but not a noisystudent checkpoint "
                       "(metadata format='%s', expected '%s')", path, fmt ? fmt : "", NS_CKPT_FORMAT);
    if (!ver || strcmp(ver, NS_CKPT_VERSION) != 0)
        return ns_fail(NS_ERR_FORMAT, "%s: checkpoint format version '%s', this build reads '%s'", path,
                       ver ? ver : "", NS_CKPT_VERSION);
    const char *model = ns_safetensors_meta(f, "model");
    const char *input = ns_safetensors_meta(f, "input");
    if (!model || !input)
        return ns_fail(NS_ERR_FORMAT, "%s: checkpoint metadata lacks '%s'", path, !model ? "model" : "input");
    snprintf(info->model, sizeof info->model, "%s", model);
    char tail;
    if (sscanf(input, "%dx%dx%d%c", &info->in_c, &info->in_h, &info->in_w, &tail) != 3 || info->in_c < 1 ||
        info->in_c > 4 || info->in_h < 1 || info->in_w < 1 || info->in_h > 4096 || info->in_w > 4096)
        return ns_fail(NS_ERR_FORMAT, "%s: checkpoint input='%s', expected CxHxW with C in 1..4", path, input);
    long long v;
    NS_TRY(meta_int(f, "classes", 1, 100000, &v));
    info->classes = (int)v;
    NS_TRY(meta_int(f, "epoch", 0, 1000000, &v));
    info->epoch = (int)v;
    NS_TRY(meta_int(f, "step", 0, INT64_MAX, &v));
    info->step = v;
    NS_TRY(meta_int(f, "optimizer_steps", 0, 2147483647LL, &v));
    info->optimizer_steps = (int)v;
    const char *seed = ns_safetensors_meta(f, "seed");
    info->seed = seed ? strtoull(seed, NULL, 10) : 0;
    const char *s;
    if ((s = ns_safetensors_meta(f, "optimizer")))
        snprintf(info->optimizer, sizeof info->optimizer, "%s", s);
    if ((s = ns_safetensors_meta(f, "scheduler_state")))
        snprintf(info->scheduler_state, sizeof info->scheduler_state, "%s", s);
    if ((s = ns_safetensors_meta(f, "loss_scale_state")))
        snprintf(info->loss_scale_state, sizeof info->loss_scale_state, "%s", s);
    if ((s = ns_safetensors_meta(f, "config")))
        snprintf(info->config, sizeof info->config, "%s", s);
    const char *mean = ns_safetensors_meta(f, "normalize_mean");
    const char *sd = ns_safetensors_meta(f, "normalize_std");
    if (!mean || !sd || !parse_floats(mean, info->mean, info->in_c) || !parse_floats(sd, info->std, info->in_c))
        return ns_fail(NS_ERR_FORMAT, "%s: checkpoint normalize_mean/normalize_std missing or not %d numbers",
                       path, info->in_c);
    for (int i = 0; i < info->in_c; i++)
        if (!(info->std[i] > 0))
            return ns_fail(NS_ERR_FORMAT, "%s: checkpoint normalize_std[%d] = %g, expected > 0", path, i,
                           (double)info->std[i]);
    return NS_OK;
}

ns_status ns_checkpoint_read_info(const char *path, ns_ckpt_info *info)
{
    ns_safetensors *f;
    NS_TRY(ns_safetensors_open(path, &f));
    ns_status st = read_info(f, info);
    ns_safetensors_close(f);
    return st;
}

static void shape_text(const int64_t *shape, int ndim, char *buf, size_t len)
{
    size_t used = 0;
    used += (size_t)snprintf(buf, len, "[");
    for (int i = 0; i < ndim && used < len; i++)
        used += (size_t)snprintf(buf + used, len - used, "%s%" PRId64, i ? "," : "", shape[i]);
    if (used < len)
        snprintf(buf + used, len - used, "]");
}

static ns_status load_tensors(const ns_safetensors *f, ns_model *m, ns_optimizer *o)
{
    tensor_list list;
    NS_TRY(collect(m, o, &list));
    size_t n_model = ns_model_num_params(m) + ns_model_num_states(m);
    ns_backend *be = ns_model_backend(m);
    ns_status st = NS_OK;
    for (size_t i = 0; st == NS_OK && i < list.n; i++) {
        const ns_param *p = list.p[i];
        char name[128];
        tensor_name(p, i >= n_model, name, sizeof name);
        const ns_st_view *v = ns_safetensors_find(f, name);
        int64_t want[4];
        for (int d = 0; d < p->ndim; d++)
            want[d] = p->shape[d];
        char ws[64], hs[64];
        shape_text(want, p->ndim, ws, sizeof ws);
        if (!v) {
            st = ns_fail(NS_ERR_FORMAT, "checkpoint %s: no tensor '%s' (the model %s needs it, shape %s)",
                         ns_safetensors_path(f), name, ns_model_get_spec(m)->name, ws);
            break;
        }
        int same = v->dtype == NS_ST_F32 && v->ndim == p->ndim;
        for (int d = 0; same && d < p->ndim; d++)
            same = v->shape[d] == p->shape[d];
        if (!same) {
            shape_text(v->shape, v->ndim, hs, sizeof hs);
            st = ns_fail(NS_ERR_FORMAT, "checkpoint %s: tensor '%s' is %s %s, the model expects F32 %s",
                         ns_safetensors_path(f), name, ns_st_dtype_name(v->dtype), hs, ws);
            break;
        }
        /* safetensors data need not be 4-byte aligned inside the file buffer. */
        float *tmp = malloc((p->size ? p->size : 1) * sizeof *tmp);
        if (!tmp) {
            st = ns_fail(NS_ERR_NOMEM, "checkpoint: out of memory for %s", name);
            break;
        }
        memcpy(tmp, v->data, p->size * sizeof *tmp);
        st = be->api->upload(be->ctx, p->value, 0, tmp, p->size);
        free(tmp);
    }
    free(list.p);
    return st;
}

static ns_status read_drop_path(const ns_safetensors *f, ns_model *m);

ns_status ns_checkpoint_restore(const char *path, ns_model *m, ns_optimizer *o, ns_ckpt_info *info)
{
    ns_safetensors *f;
    NS_TRY(ns_safetensors_open(path, &f));
    ns_status st = read_info(f, info);
    if (st == NS_OK) {
        char spec[256];
        ns_model_spec_format(ns_model_get_spec(m), spec, sizeof spec);
        int c, h, w;
        ns_model_input(m, &c, &h, &w);
        if (strcmp(spec, info->model) != 0 || c != info->in_c || h != info->in_h || w != info->in_w ||
            ns_model_classes(m) != info->classes)
            st = ns_fail(NS_ERR_FORMAT, "checkpoint %s holds %s for %dx%dx%d, %d classes; expected %s for "
                         "%dx%dx%d, %d classes", path, info->model, info->in_c, info->in_h, info->in_w,
                         info->classes, spec, c, h, w, ns_model_classes(m));
    }
    if (st == NS_OK)
        st = load_tensors(f, m, o);
    if (st == NS_OK)
        st = read_drop_path(f, m);
    if (st == NS_OK && o)
        ns_optimizer_set_steps(o, info->optimizer_steps);
    ns_safetensors_close(f);
    return st;
}

/* A checkpoint from before the drop_path_* keys: its run configuration says
 * how it was trained (train_config.h keys drop_path_mode, stochastic_depth);
 * no configuration, or one without those keys, means per-sample. */
static ns_status drop_path_from_config(const ns_safetensors *f, const char *config, ns_model *m)
{
    const char *path = ns_safetensors_path(f);
    if (!config || !config[0])
        return NS_OK;
    json_error_t jerr;
    json_t *j = json_loads(config, 0, &jerr);
    if (!j)
        return NS_OK; /* a caller's free-form config: nothing to learn from it */
    const char *mode = json_string_value(json_object_get(j, "drop_path_mode"));
    json_t *sd = json_object_get(j, "stochastic_depth");
    ns_status st = NS_OK;
    if (mode && strcmp(mode, "batch") == 0) {
        double pl = json_is_number(sd) ? json_number_value(sd) : 1.0;
        if (!(pl > 0.0 && pl <= 1.0))
            st = ns_fail(NS_ERR_FORMAT, "checkpoint %s: config stochastic_depth %g, expected a survival "
                         "probability in (0, 1]", path, pl);
        else
            st = ns_model_set_inference_drop_path(m, NS_DROP_PATH_PER_BATCH, (float)pl);
    }
    json_decref(j);
    return st;
}

/* The inference drop-path (nn/model.h) from the keys drop_path_mode ("sample" |
 * "batch") and drop_path_survival (one %a float per residual block). Both or
 * neither; neither: derived from the run configuration. */
static ns_status read_drop_path(const ns_safetensors *f, ns_model *m)
{
    const char *path = ns_safetensors_path(f);
    const char *mode = ns_safetensors_meta(f, "drop_path_mode");
    const char *surv = ns_safetensors_meta(f, "drop_path_survival");
    if (!mode && !surv)
        return drop_path_from_config(f, ns_safetensors_meta(f, "config"), m);
    if (!mode || !surv)
        return ns_fail(NS_ERR_FORMAT, "checkpoint %s: metadata has '%s' without '%s'", path,
                       mode ? "drop_path_mode" : "drop_path_survival", mode ? "drop_path_survival" : "drop_path_mode");
    ns_drop_path_mode md;
    if (strcmp(mode, "sample") == 0)
        md = NS_DROP_PATH_PER_SAMPLE;
    else if (strcmp(mode, "batch") == 0)
        md = NS_DROP_PATH_PER_BATCH;
    else
        return ns_fail(NS_ERR_FORMAT, "checkpoint %s: metadata drop_path_mode='%s', expected 'sample' or 'batch'",
                       path, mode);
    int n = ns_model_num_blocks(m);
    float *p = malloc((size_t)(n ? n : 1) * sizeof *p);
    if (!p)
        return ns_fail(NS_ERR_NOMEM, "checkpoint %s: out of memory", path);
    ns_status st = NS_OK;
    if (!parse_floats(surv, p, n))
        st = ns_fail(NS_ERR_FORMAT, "checkpoint %s: metadata drop_path_survival='%.64s', expected %d "
                     "comma-separated numbers (one per residual block)", path, surv, n);
    for (int l = 0; st == NS_OK && l < n; l++)
        if (!(p[l] > 0.0f && p[l] <= 1.0f))
            st = ns_fail(NS_ERR_FORMAT, "checkpoint %s: metadata drop_path_survival[%d] = %g, expected a "
                         "survival probability in (0, 1]", path, l, (double)p[l]);
    if (st == NS_OK)
        st = ns_model_set_inference_survival(m, md, p, n);
    free(p);
    return st;
}

/* The optional "class_names" key: absent -> empty; present -> exactly `classes` names. */
static ns_status read_class_names(const ns_safetensors *f, int classes, ns_class_names *out)
{
    ns_class_names_free(out);
    const char *json = ns_safetensors_meta(f, "class_names");
    if (!json)
        return NS_OK;
    char what[4200];
    snprintf(what, sizeof what, "checkpoint %s", ns_safetensors_path(f));
    NS_TRY(ns_class_names_from_json(json, what, out));
    if (out->n != classes) {
        int n = out->n;
        ns_class_names_free(out);
        return ns_fail(NS_ERR_FORMAT, "%s: class_names holds %d names, the model has %d classes", what, n, classes);
    }
    return NS_OK;
}

ns_status ns_checkpoint_read_class_names(const char *path, ns_class_names *out)
{
    memset(out, 0, sizeof *out);
    ns_safetensors *f;
    NS_TRY(ns_safetensors_open(path, &f));
    ns_ckpt_info info;
    ns_status st = read_info(f, &info);
    if (st == NS_OK)
        st = read_class_names(f, info.classes, out);
    ns_safetensors_close(f);
    return st;
}

ns_status ns_checkpoint_load_model(const char *path, ns_backend *be, ns_model **out, ns_ckpt_info *info)
{
    *out = NULL;
    ns_safetensors *f;
    NS_TRY(ns_safetensors_open(path, &f));
    ns_status st = read_info(f, info);
    ns_model_spec spec;
    ns_model *m = NULL;
    if (st == NS_OK) {
        st = ns_model_spec_parse(info->model, &spec);
        if (st != NS_OK) {
            st = NS_ERR_FORMAT;
            ns_error_prefix("checkpoint %s: model spec", path);
        }
    }
    if (st == NS_OK)
        st = ns_model_create(be, &spec, info->in_c, info->in_h, info->in_w, info->classes, &m);
    if (st == NS_OK)
        st = load_tensors(f, m, NULL);
    if (st == NS_OK)
        st = read_drop_path(f, m);
    ns_class_names names = {0, NULL};
    if (st == NS_OK)
        st = read_class_names(f, info->classes, &names);
    if (st == NS_OK)
        st = ns_model_set_class_names(m, &names);
    ns_class_names_free(&names);
    ns_safetensors_close(f);
    if (st != NS_OK) {
        ns_model_destroy(m);
        return st;
    }
    *out = m;
    return NS_OK;
}
