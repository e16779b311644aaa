#include "train/optimizer.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "util/error.h"

struct ns_optimizer {
    ns_model *model;
    ns_optimizer_config cfg;
    int steps;
    size_t n_states;
    ns_param *states; /* SGD: one per param; Adam: two per param (m, v) */
};

ns_optimizer_config ns_optimizer_config_default(ns_optimizer_kind kind)
{
    ns_optimizer_config c = {kind, 0.9f, 1, kind == NS_OPT_SGD ? 5e-4f : 0.0f, 0, 0.9f, 0.999f, 1e-7f};
    return c;
}

ns_status ns_optimizer_kind_parse(const char *text, ns_optimizer_kind *out)
{
    if (strcmp(text, "sgd") == 0)
        *out = NS_OPT_SGD;
    else if (strcmp(text, "adam") == 0)
        *out = NS_OPT_ADAM;
    else
        return ns_fail(NS_ERR_USAGE, "--optimizer %s: expected sgd or adam", text);
    return NS_OK;
}

void ns_optimizer_destroy(ns_optimizer *o)
{
    if (!o)
        return;
    ns_backend *be = ns_model_backend(o->model);
    for (size_t i = 0; i < o->n_states; i++)
        ns_param_free(be, &o->states[i]);
    free(o->states);
    free(o);
}

ns_status ns_optimizer_create(ns_model *m, const ns_optimizer_config *cfg, ns_optimizer **out)
{
    *out = NULL;
    ns_optimizer *o = calloc(1, sizeof *o);
    size_t np = ns_model_num_params(m);
    size_t per = cfg->kind == NS_OPT_ADAM ? 2 : 1;
    if (!o || !(o->states = calloc(np * per, sizeof *o->states))) {
        free(o);
        return ns_fail(NS_ERR_NOMEM, "optimizer: out of memory");
    }
    o->model = m;
    o->cfg = *cfg;
    ns_backend *be = ns_model_backend(m);
    static const char *const suffix[2][2] = {{"momentum", ""}, {"adam_m", "adam_v"}};
    for (size_t i = 0; i < np; i++) {
        const ns_param *p = ns_model_param(m, i);
        for (size_t k = 0; k < per; k++) {
            char name[128];
            snprintf(name, sizeof name, "%s.%s", p->name, suffix[cfg->kind == NS_OPT_ADAM][k]);
            ns_param *s = &o->states[o->n_states];
            ns_status st = ns_param_alloc(be, s, name, p->ndim, p->shape, 0, 0);
            if (st == NS_OK) {
                o->n_states++;
                st = be->api->fill(be->ctx, s->value, s->size, 0.0f);
            }
            if (st != NS_OK) {
                ns_optimizer_destroy(o);
                return st;
            }
        }
    }
    *out = o;
    return NS_OK;
}

ns_status ns_optimizer_step(ns_optimizer *o, float lr)
{
    ns_backend *be = ns_model_backend(o->model);
    size_t np = ns_model_num_params(o->model);
    o->steps++;
    for (size_t i = 0; i < np; i++) {
        ns_param *p = ns_model_param(o->model, i);
        float wd = p->decay || o->cfg.decay_all ? o->cfg.weight_decay : 0.0f;
        ns_status st;
        if (o->cfg.kind == NS_OPT_SGD) {
            ns_sgd_params sp = {lr, o->cfg.momentum, wd, o->cfg.nesterov};
            st = be->api->sgd_update(be->ctx, &sp, p->value, p->grad, o->states[i].value, p->size);
        } else {
            ns_adam_params ap = {lr, o->cfg.beta1, o->cfg.beta2, o->cfg.eps, wd, o->steps};
            st = be->api->adam_update(be->ctx, &ap, p->value, p->grad, o->states[2 * i].value,
                                      o->states[2 * i + 1].value, p->size);
        }
        if (st != NS_OK) {
            ns_error_prefix("optimizer update of %s", p->name);
            return st;
        }
    }
    return NS_OK;
}

int ns_optimizer_steps(const ns_optimizer *o) { return o->steps; }
void ns_optimizer_set_steps(ns_optimizer *o, int steps) { o->steps = steps; }
size_t ns_optimizer_num_states(const ns_optimizer *o) { return o->n_states; }
ns_param *ns_optimizer_state(ns_optimizer *o, size_t i) { return i < o->n_states ? &o->states[i] : NULL; }
