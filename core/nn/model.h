/* A ResNet built from an ns_model_spec on a backend: forward with noise
 * (dropout, stochastic depth), backward, parameters and running statistics.
 *
 * Layout: stem conv-BN-ReLU; stages of residual blocks (basic or bottleneck,
 * projection shortcut 1x1 conv + BN where stride != 1 or channels change,
 * drop-path on the residual branch before the add, ReLU after the add);
 * global average pool; dropout; dense(classes). Convs have no bias; BN eps
 * 1e-5, momentum 0.1.
 *
 * Threading: a model is used by one thread at a time (its backend context is). */
#ifndef NS_NN_MODEL_H
#define NS_NN_MODEL_H

#include <stddef.h>
#include <stdint.h>

#include <noisystudent/backend.h>

#include "data/class_names.h"
#include "nn/drop_path.h"
#include "nn/model_spec.h"
#include "nn/param.h"
#include "plugin/backend_loader.h"

typedef enum {
    NS_DROP_PATH_PER_SAMPLE = 0, /* the paper's code: per-sample gate, inverted scaling 1/p */
    NS_DROP_PATH_PER_BATCH = 1   /* Huang et al. / the blog: one gate per batch, eval scales by p */
} ns_drop_path_mode;

typedef struct ns_noise {
    float dropout;      /* drop rate before the classifier; 0 = off */
    float drop_path_pl; /* survival prob of the LAST block; 1 = off; block l (1-based) of L
                           survives with 1 - (l/L)(1 - pL) */
    ns_drop_path_mode drop_path_mode;
} ns_noise;

/* Purposes (first field of ns_rng_stream_id) of the masks the model draws:
 * stream = ns_rng_stream_id(purpose, step, layer index). */
#define NS_RNG_PURPOSE_DROPOUT 0x1D0u
#define NS_RNG_PURPOSE_DROP_PATH 0x1D1u
#define NS_RNG_PURPOSE_INIT 0x1D2u

typedef struct ns_model ns_model;

/* Builds the network for inputs [in_c][in_h][in_w] and `classes` outputs.
 * Parameters are allocated but not initialised (ns_model_init). `be` and
 * `spec` are not owned; be must outlive the model (spec is copied). The caller
 * owns *out (ns_model_destroy). Errors: NS_ERR_INVALID_ARG for a bad spec or
 * an input too small for the strides; backend allocation failures. */
ns_status ns_model_create(ns_backend *be, const ns_model_spec *spec, int in_c, int in_h, int in_w,
                          int classes, ns_model **out);
void ns_model_destroy(ns_model *m); /* NULL is a no-op */

/* Kaiming-normal (fan_out, relu) convs, BN gamma 1 beta 0, running mean 0 var 1,
 * dense weight and bias U(-1/sqrt(in), 1/sqrt(in)); drawn on the host from
 * Philox (stream ns_rng_stream_id(NS_RNG_PURPOSE_INIT, param index, 0)) and
 * uploaded, so init is identical on every backend. */
ns_status ns_model_init(ns_model *m, uint64_t seed);
/* Data parallelism: 1 makes every batchnorm layer's training statistics
 * those of all ranks' rows together (nn/batchnorm_sync.h); 0 (the default)
 * each rank's own. No effect on one process. */
void ns_model_set_sync_bn(ns_model *m, int on);

/* x: [batch][in_c][in_h][in_w]. training=1: BN batch statistics (running stats
 * updated), noise applied with masks from (seed, step); the noise's drop-path
 * must agree with the model's inference setting (below), else
 * NS_ERR_INVALID_ARG. training=0: BN running stats, no dropout, `noise`,
 * `seed` and `step` ignored; each residual branch scaled by the model's
 * inference setting (ns_model_inference_branch_scale). *logits
 * ([batch][classes]) is owned by m and valid until the next forward.
 * Internal buffers grow when a larger batch arrives. x is not copied: it must
 * stay valid and unchanged until the backward that follows a training forward.
 * Masks: dropout stream ns_rng_stream_id(NS_RNG_PURPOSE_DROPOUT, step, 0),
 * drop-path of block l (0-based, over all stages) ns_rng_stream_id(
 * NS_RNG_PURPOSE_DROP_PATH, step, l); the per-batch gate is element 0 of that
 * stream drawn on the host. step is taken modulo 2^21 by the stream id. */
ns_status ns_model_forward(ns_model *m, const ns_buf *x, int batch, int training,
                           const ns_noise *noise, uint64_t seed, uint64_t step,
                           const ns_buf **logits);

/* Inference-time drop-path: how every eval-mode forward (training 0: eval,
 * label, predict, the trainer's validation/test accuracy) treats the residual
 * branches. It follows from how the weights were trained, so it belongs to
 * the model and checkpoints carry it (train/checkpoint.h).
 *   per-sample mode (the default; inverted 1/p scaling happened in training),
 *   or pL = 1:   branches used as they are;
 *   per-batch mode, pL < 1:   the branch of block l (0-based over all stages)
 *                is multiplied by its survival probability
 *                p_l = ns_drop_path_survival(l, blocks, pL) before the add,
 *                the shortcut is not (Huang et al.'s test-time rule).
 * A training forward checks that its noise matches this setting, so a model
 * cannot be trained one way and then evaluated another without an error.
 * Errors: NS_ERR_INVALID_ARG for a mode other than the two or pL outside
 * (0, 1]; the model is then unchanged. */
ns_status ns_model_set_inference_drop_path(ns_model *m, ns_drop_path_mode mode, float pl);
/* As above with one survival probability per block (p[0 .. n), n must equal
 * ns_model_num_blocks, each in (0, 1]): what a checkpoint stores. */
ns_status ns_model_set_inference_survival(ns_model *m, ns_drop_path_mode mode, const float *p, int n);
ns_drop_path_mode ns_model_inference_drop_path_mode(const ns_model *m);
/* Survival probability of block l as set (1 when never set); l out of range: 1. */
float ns_model_inference_survival(const ns_model *m, int l);
/* What an eval forward multiplies block l's branch by: the survival
 * probability in per-batch mode, 1 otherwise (what an exporter must emit). */
float ns_model_inference_branch_scale(const ns_model *m, int l);
/* Residual blocks over all stages (the l above ranges over [0, this)). */
int ns_model_num_blocks(const ns_model *m);

/* After a training forward: overwrites every param's grad from dlogits
 * ([batch][classes] of that forward). NS_ERR_INVALID_ARG when the last forward
 * was not a training one. */
ns_status ns_model_backward(ns_model *m, const ns_buf *dlogits);
/* As ns_model_backward, and also writes the gradient w.r.t. the input into dx
 * ([batch][in_c][in_h][in_w] floats) when dx is not NULL. */
ns_status ns_model_backward_input(ns_model *m, const ns_buf *dlogits, ns_buf *dx);

/* Trainable parameters (with grads) and states (BN running mean/var: grad NULL,
 * decay 0), in a fixed order; pointers owned by m. i out of range: NULL. */
size_t ns_model_num_params(const ns_model *m);
ns_param *ns_model_param(ns_model *m, size_t i);
size_t ns_model_num_states(const ns_model *m);
ns_param *ns_model_state(ns_model *m, size_t i);
/* Looks a parameter or state up by name; NULL when absent. */
ns_param *ns_model_find(ns_model *m, const char *name);

int ns_model_classes(const ns_model *m);
/* Class names (data/class_names.h): copied into the model, which owns its copy.
 * names may be NULL or empty (= unknown, classes print as numbers); otherwise
 * names->n must equal the model's classes (NS_ERR_INVALID_ARG). */
ns_status ns_model_set_class_names(ns_model *m, const ns_class_names *names);
/* The model's names (never NULL; n == 0 when unknown). Owned by m. */
const ns_class_names *ns_model_class_names(const ns_model *m);
void ns_model_input(const ns_model *m, int *c, int *h, int *w);
const ns_model_spec *ns_model_get_spec(const ns_model *m);
ns_backend *ns_model_backend(const ns_model *m);
/* Per image: conv + dense MACs * 2; x3 when training (forward + two backward GEMMs). */
double ns_model_flops(const ns_model *m, int training);
/* Number of trainable scalars. */
size_t ns_model_param_total(const ns_model *m);

#endif
