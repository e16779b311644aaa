#include "nn/model.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <noisystudent/rng.h>

#include "nn/block.h"
#include "nn/dense.h"
#include "nn/dropout.h"
#include "nn/init_rng.h"
#include "util/error.h"

struct ns_model {
    ns_backend *be;
    ns_model_spec spec;
    int in_c, in_h, in_w, classes;
    ns_conv_bn stem;
    int n_blocks;
    ns_block *blocks;
    int feat_c, feat_h, feat_w;
    ns_act pooled;
    ns_dropout drop;
    ns_dense fc;
    ns_param **params, **states;
    size_t n_params, n_states;
    size_t max_act; /* per image, largest gradient the backward keeps in g[] */
    ns_act g[4];
    const ns_buf *x;       /* input of the last forward (caller's) */
    const ns_buf *head_in; /* dense input of the last forward */
    int batch;
    int trained; /* the last forward was a training one */
    ns_class_names class_names; /* owned; empty when unknown */
    ns_drop_path_mode infer_dp_mode; /* inference drop-path (ns_model_set_inference_drop_path) */
    float *infer_dp_p;               /* [n_blocks] survival probabilities, 1 until set */
};

static ns_status push(ns_param ***list, size_t *n, ns_param *p)
{
    ns_param **grown = realloc(*list, (*n + 1) * sizeof **list);
    if (!grown)
        return ns_fail(NS_ERR_NOMEM, "model: parameter list of %zu entries", *n + 1);
    grown[*n] = p;
    *list = grown;
    (*n)++;
    return NS_OK;
}

static ns_status register_unit(ns_model *m, ns_conv_bn *u)
{
    NS_TRY(push(&m->params, &m->n_params, &u->conv.weight));
    NS_TRY(push(&m->params, &m->n_params, &u->bn.gamma));
    NS_TRY(push(&m->params, &m->n_params, &u->bn.beta));
    NS_TRY(push(&m->states, &m->n_states, &u->bn.running_mean));
    return push(&m->states, &m->n_states, &u->bn.running_var);
}

static ns_status build(ns_model *m)
{
    ns_backend *be = m->be;
    const ns_model_spec *s = &m->spec;
    NS_TRY(ns_conv_bn_create(be, &m->stem, "stem", "", m->in_c, s->stem_width, s->stem_kernel, 1,
                             1, m->in_h, m->in_w));
    NS_TRY(register_unit(m, &m->stem));
    m->max_act = ns_conv_bn_out_size(&m->stem);
    m->n_blocks = ns_model_spec_blocks(s);
    m->blocks = calloc((size_t)m->n_blocks, sizeof *m->blocks);
    m->infer_dp_p = malloc((size_t)m->n_blocks * sizeof *m->infer_dp_p);
    if (!m->blocks || !m->infer_dp_p)
        return ns_fail(NS_ERR_NOMEM, "model: %d blocks", m->n_blocks);
    for (int i = 0; i < m->n_blocks; i++)
        m->infer_dp_p[i] = 1.0f;
    int c = s->stem_width, h = m->stem.p, w = m->stem.q, l = 0;
    for (int st = 0; st < s->n_stages; st++) {
        for (int j = 0; j < s->stage_blocks[st]; j++, l++) {
            char prefix[64];
            snprintf(prefix, sizeof prefix, "stage%d.block%d", st + 1, j);
            int stride = j == 0 ? s->stage_stride[st] : 1;
            ns_block *b = &m->blocks[l];
            if (s->bottleneck)
                NS_TRY(ns_block_bottleneck_create(be, b, prefix, c, h, w, s->stage_width[st],
                                                  s->expansion, stride));
            else
                NS_TRY(ns_block_basic_create(be, b, prefix, c, h, w, s->stage_width[st], stride));
            for (int i = 0; i < b->n_units; i++)
                NS_TRY(register_unit(m, &b->unit[i]));
            if (b->has_proj)
                NS_TRY(register_unit(m, &b->proj));
            size_t a = ns_block_max_act(b);
            m->max_act = a > m->max_act ? a : m->max_act;
            c = b->out_c;
            h = b->out_h;
            w = b->out_w;
        }
    }
    m->feat_c = c;
    m->feat_h = h;
    m->feat_w = w;
    NS_TRY(ns_dense_create(be, &m->fc, "fc", c, m->classes));
    NS_TRY(push(&m->params, &m->n_params, &m->fc.weight));
    return push(&m->params, &m->n_params, &m->fc.bias);
}

static ns_status check_spec(const ns_model_spec *s)
{
    if (s->n_stages < 1 || s->n_stages > NS_MAX_STAGES)
        return ns_fail(NS_ERR_INVALID_ARG, "model spec '%s': %d stages, expected 1..%d", s->name,
                       s->n_stages, NS_MAX_STAGES);
    if (s->stem_kernel < 1 || s->stem_kernel % 2 == 0 || s->stem_width < 1 || s->expansion < 1)
        return ns_fail(NS_ERR_INVALID_ARG,
                       "model spec '%s': stem %dx%d expansion %d, expected an odd kernel, "
                       "width >= 1, expansion >= 1",
                       s->name, s->stem_kernel, s->stem_width, s->expansion);
    for (int i = 0; i < s->n_stages; i++)
        if (s->stage_width[i] < 1 || s->stage_blocks[i] < 1 || s->stage_stride[i] < 1)
            return ns_fail(NS_ERR_INVALID_ARG,
                           "model spec '%s': stage %d has width %d blocks %d stride %d, "
                           "expected all >= 1",
                           s->name, i + 1, s->stage_width[i], s->stage_blocks[i],
                           s->stage_stride[i]);
    return NS_OK;
}

ns_status ns_model_create(ns_backend *be, const ns_model_spec *spec, int in_c, int in_h, int in_w,
                          int classes, ns_model **out)
{
    *out = NULL;
    if (!be || !spec)
        return ns_fail(NS_ERR_INVALID_ARG, "model_create: backend or spec is NULL");
    if (in_c < 1 || in_h < 1 || in_w < 1 || classes < 1)
        return ns_fail(NS_ERR_INVALID_ARG,
                       "model_create: input %dx%dx%d, %d classes, expected all >= 1", in_c, in_h,
                       in_w, classes);
    NS_TRY(check_spec(spec));
    ns_model *m = calloc(1, sizeof *m);
    if (!m)
        return ns_fail(NS_ERR_NOMEM, "model_create: model struct");
    m->be = be;
    m->spec = *spec;
    m->in_c = in_c;
    m->in_h = in_h;
    m->in_w = in_w;
    m->classes = classes;
    ns_status st = build(m);
    if (st != NS_OK) {
        ns_error_prefix("model %s", spec->name);
        ns_model_destroy(m);
        return st;
    }
    *out = m;
    return NS_OK;
}

void ns_model_destroy(ns_model *m)
{
    if (!m)
        return;
    ns_backend *be = m->be;
    ns_conv_bn_destroy(be, &m->stem);
    for (int i = 0; m->blocks && i < m->n_blocks; i++)
        ns_block_destroy(be, &m->blocks[i]);
    free(m->blocks);
    free(m->infer_dp_p);
    ns_act_free(be, &m->pooled);
    ns_dropout_destroy(be, &m->drop);
    ns_dense_destroy(be, &m->fc);
    for (int i = 0; i < 4; i++)
        ns_act_free(be, &m->g[i]);
    ns_class_names_free(&m->class_names);
    free(m->params);
    free(m->states);
    free(m);
}

static uint64_t init_stream(const ns_model *m, const ns_param *p)
{
    size_t i = 0;
    while (i < m->n_params && m->params[i] != p)
        i++;
    return ns_rng_stream_id(NS_RNG_PURPOSE_INIT, i, 0);
}

static ns_status init_unit(ns_model *m, ns_conv_bn *u, uint64_t seed)
{
    NS_TRY(ns_conv_init(m->be, &u->conv, seed, init_stream(m, &u->conv.weight)));
    return ns_batchnorm_init(m->be, &u->bn);
}

ns_status ns_model_init(ns_model *m, uint64_t seed)
{
    NS_TRY(init_unit(m, &m->stem, seed));
    for (int l = 0; l < m->n_blocks; l++) {
        ns_block *b = &m->blocks[l];
        for (int i = 0; i < b->n_units; i++)
            NS_TRY(init_unit(m, &b->unit[i], seed));
        if (b->has_proj)
            NS_TRY(init_unit(m, &b->proj, seed));
    }
    return ns_dense_init(m->be, &m->fc, seed, init_stream(m, &m->fc.weight),
                         init_stream(m, &m->fc.bias));
}

void ns_model_set_sync_bn(ns_model *m, int on)
{
    m->stem.bn.sync = on;
    for (int l = 0; l < m->n_blocks; l++) {
        ns_block *b = &m->blocks[l];
        for (int i = 0; i < b->n_units; i++)
            b->unit[i].bn.sync = on;
        if (b->has_proj)
            b->proj.bn.sync = on;
    }
}

static ns_status check_noise(const ns_noise *nz)
{
    if (!(nz->dropout >= 0.0f && nz->dropout < 1.0f))
        return ns_fail(NS_ERR_INVALID_ARG, "noise: dropout %g, expected 0 <= rate < 1",
                       nz->dropout);
    if (!(nz->drop_path_pl > 0.0f && nz->drop_path_pl <= 1.0f))
        return ns_fail(NS_ERR_INVALID_ARG,
                       "noise: drop-path survival %g, expected 0 < pL <= 1 (1 = off)",
                       nz->drop_path_pl);
    if (nz->drop_path_mode != NS_DROP_PATH_PER_SAMPLE &&
        nz->drop_path_mode != NS_DROP_PATH_PER_BATCH)
        return ns_fail(NS_ERR_INVALID_ARG, "noise: drop-path mode %d, expected 0 or 1",
                       (int)nz->drop_path_mode);
    return NS_OK;
}

float ns_model_inference_branch_scale(const ns_model *m, int l)
{
    if (m->infer_dp_mode != NS_DROP_PATH_PER_BATCH || l < 0 || l >= m->n_blocks)
        return 1.0f;
    return m->infer_dp_p[l];
}

/* A training forward's noise must be the one the model will be evaluated
 * for: per-batch training leaves unscaled branches that only an eval scaled
 * by p_l matches; anything else must evaluate unscaled. */
static ns_status check_training_drop_path(const ns_model *m, const ns_noise *nz)
{
    for (int l = 0; l < m->n_blocks; l++) {
        float want = nz->drop_path_mode == NS_DROP_PATH_PER_BATCH
                         ? ns_drop_path_survival(l, m->n_blocks, nz->drop_path_pl)
                         : 1.0f;
        float have = ns_model_inference_branch_scale(m, l);
        if (want != have)
            return ns_fail(NS_ERR_INVALID_ARG,
                           "model_forward: training with %s drop-path (pL %g) but the model is set to "
                           "evaluate block %d's branch scaled by %g, not %g: set its inference drop-path "
                           "(ns_model_set_inference_drop_path) to the training noise",
                           nz->drop_path_mode == NS_DROP_PATH_PER_BATCH ? "per-batch" : "per-sample",
                           (double)nz->drop_path_pl, l, (double)have, (double)want);
    }
    return NS_OK;
}

ns_status ns_model_forward(ns_model *m, const ns_buf *x, int batch, int training,
                           const ns_noise *noise, uint64_t seed, uint64_t step,
                           const ns_buf **logits)
{
    ns_backend *be = m->be;
    m->trained = 0;
    if (!x || batch < 1 || !logits)
        return ns_fail(NS_ERR_INVALID_ARG, "model_forward: x/logits NULL or batch %d < 1", batch);
    ns_noise none = {0.0f, 1.0f, NS_DROP_PATH_PER_SAMPLE};
    const ns_noise *nz = noise && training ? noise : &none;
    NS_TRY(check_noise(nz));
    if (training)
        NS_TRY(check_training_drop_path(m, nz));
    m->x = x;
    m->batch = batch;
    NS_TRY(ns_conv_bn_forward(be, &m->stem, x, batch, training));
    const ns_buf *h = m->stem.bn.out.buf;
    for (int l = 0; l < m->n_blocks; l++) {
        ns_block *b = &m->blocks[l];
        float p = training ? ns_drop_path_survival(l, m->n_blocks, nz->drop_path_pl) : m->infer_dp_p[l];
        int mode = training ? (int)nz->drop_path_mode : (int)m->infer_dp_mode;
        NS_TRY(ns_drop_path_plan(be, &b->dp, mode, p, training, batch, seed,
                                 ns_rng_stream_id(NS_RNG_PURPOSE_DROP_PATH, step, (uint64_t)l)));
        NS_TRY(ns_block_forward(be, b, h, batch, training));
        h = b->out.buf;
    }
    size_t feat = (size_t)batch * (size_t)m->feat_c;
    NS_TRY(ns_act_reserve(be, &m->pooled, feat));
    NS_TRY(be->api->global_avg_pool_forward(be->ctx, h, m->pooled.buf, batch, m->feat_c,
                                            m->feat_h * m->feat_w));
    NS_TRY(ns_dropout_forward(be, &m->drop, m->pooled.buf, feat, nz->dropout, training, seed,
                              ns_rng_stream_id(NS_RNG_PURPOSE_DROPOUT, step, 0), &m->head_in));
    NS_TRY(ns_dense_forward(be, &m->fc, m->head_in, batch));
    *logits = m->fc.y.buf;
    m->trained = training != 0;
    return NS_OK;
}

ns_status ns_model_backward_input(ns_model *m, const ns_buf *dlogits, ns_buf *dx)
{
    ns_backend *be = m->be;
    if (!m->trained)
        return ns_fail(NS_ERR_INVALID_ARG,
                       "model_backward: the last forward was not a successful training forward");
    if (!dlogits)
        return ns_fail(NS_ERR_INVALID_ARG, "model_backward: dlogits is NULL");
    int n = m->batch;
    size_t need = (size_t)n * m->max_act;
    size_t feat = (size_t)n * (size_t)m->feat_c;
    need = need > feat ? need : feat;
    ns_buf *g[4];
    for (int i = 0; i < 4; i++) {
        NS_TRY(ns_act_reserve(be, &m->g[i], need));
        g[i] = m->g[i].buf;
    }
    NS_TRY(ns_dense_backward(be, &m->fc, m->head_in, n, dlogits, g[1]));
    NS_TRY(ns_dropout_backward(be, &m->drop, g[1], g[1]));
    NS_TRY(be->api->global_avg_pool_backward(be->ctx, g[1], g[0], n, m->feat_c,
                                             m->feat_h * m->feat_w));
    for (int l = m->n_blocks - 1; l >= 0; l--)
        NS_TRY(ns_block_backward(be, &m->blocks[l], g));
    return ns_conv_bn_backward(be, &m->stem, m->x, n, g[0], g[1], dx);
}

ns_status ns_model_backward(ns_model *m, const ns_buf *dlogits)
{
    return ns_model_backward_input(m, dlogits, NULL);
}

size_t ns_model_num_params(const ns_model *m) { return m->n_params; }
size_t ns_model_num_states(const ns_model *m) { return m->n_states; }

ns_param *ns_model_param(ns_model *m, size_t i)
{
    return i < m->n_params ? m->params[i] : NULL;
}

ns_param *ns_model_state(ns_model *m, size_t i)
{
    return i < m->n_states ? m->states[i] : NULL;
}

ns_param *ns_model_find(ns_model *m, const char *name)
{
    for (size_t i = 0; i < m->n_params; i++)
        if (!strcmp(m->params[i]->name, name))
            return m->params[i];
    for (size_t i = 0; i < m->n_states; i++)
        if (!strcmp(m->states[i]->name, name))
            return m->states[i];
    return NULL;
}

int ns_model_classes(const ns_model *m) { return m->classes; }

void ns_model_input(const ns_model *m, int *c, int *h, int *w)
{
    *c = m->in_c;
    *h = m->in_h;
    *w = m->in_w;
}

const ns_model_spec *ns_model_get_spec(const ns_model *m) { return &m->spec; }
ns_backend *ns_model_backend(const ns_model *m) { return m->be; }

double ns_model_flops(const ns_model *m, int training)
{
    double macs = ns_conv_macs(&m->stem.conv, m->in_h, m->in_w);
    for (int l = 0; l < m->n_blocks; l++)
        macs += ns_block_macs(&m->blocks[l]);
    macs += (double)m->fc.in * m->fc.out;
    return macs * 2.0 * (training ? 3.0 : 1.0);
}

size_t ns_model_param_total(const ns_model *m)
{
    size_t n = 0;
    for (size_t i = 0; i < m->n_params; i++)
        n += m->params[i]->size;
    return n;
}

ns_status ns_model_set_class_names(ns_model *m, const ns_class_names *names)
{
    if (names && names->n != 0 && names->n != m->classes)
        return ns_fail(NS_ERR_INVALID_ARG, "model: %d class names for a model of %d classes", names->n, m->classes);
    return ns_class_names_copy(&m->class_names, names);
}

const ns_class_names *ns_model_class_names(const ns_model *m)
{
    return &m->class_names;
}

ns_status ns_model_set_inference_survival(ns_model *m, ns_drop_path_mode mode, const float *p, int n)
{
    if (mode != NS_DROP_PATH_PER_SAMPLE && mode != NS_DROP_PATH_PER_BATCH)
        return ns_fail(NS_ERR_INVALID_ARG, "inference drop-path: mode %d, expected 0 (sample) or 1 (batch)",
                       (int)mode);
    if (n != m->n_blocks)
        return ns_fail(NS_ERR_INVALID_ARG, "inference drop-path: %d survival probabilities for a model of %d "
                       "residual blocks", n, m->n_blocks);
    for (int l = 0; l < n; l++)
        if (!(p[l] > 0.0f && p[l] <= 1.0f))
            return ns_fail(NS_ERR_INVALID_ARG, "inference drop-path: block %d survival probability %g, "
                           "expected (0, 1]", l, (double)p[l]);
    m->infer_dp_mode = mode;
    memcpy(m->infer_dp_p, p, (size_t)n * sizeof *p);
    return NS_OK;
}

ns_status ns_model_set_inference_drop_path(ns_model *m, ns_drop_path_mode mode, float pl)
{
    if (!(pl > 0.0f && pl <= 1.0f))
        return ns_fail(NS_ERR_INVALID_ARG, "inference drop-path: survival %g, expected 0 < pL <= 1", (double)pl);
    float *p = malloc((size_t)m->n_blocks * sizeof *p);
    if (!p)
        return ns_fail(NS_ERR_NOMEM, "inference drop-path: %d blocks", m->n_blocks);
    for (int l = 0; l < m->n_blocks; l++)
        p[l] = ns_drop_path_survival(l, m->n_blocks, pl);
    ns_status st = ns_model_set_inference_survival(m, mode, p, m->n_blocks);
    free(p);
    return st;
}

ns_drop_path_mode ns_model_inference_drop_path_mode(const ns_model *m) { return m->infer_dp_mode; }

float ns_model_inference_survival(const ns_model *m, int l)
{
    return l >= 0 && l < m->n_blocks ? m->infer_dp_p[l] : 1.0f;
}

int ns_model_num_blocks(const ns_model *m) { return m->n_blocks; }
