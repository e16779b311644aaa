/* Optimizers over a model's parameters: SGD (momentum, Nesterov) and Adam,
 * with weight decay applied only to parameters marked decay (conv and dense
 * weights), or with decay_all to every parameter (batchnorm gamma/beta and
 * biases too: what PyTorch's plain weight_decay argument does). The update math runs on the
 * backend (sgd_update / adam_update); this module owns the state buffers. */
#ifndef NS_TRAIN_OPTIMIZER_H
#define NS_TRAIN_OPTIMIZER_H

#include <stddef.h>

#include "nn/model.h"

typedef enum { NS_OPT_SGD = 0, NS_OPT_ADAM = 1 } ns_optimizer_kind;

typedef struct ns_optimizer_config {
    ns_optimizer_kind kind;
    float momentum;     /* SGD, default 0.9 */
    int nesterov;       /* SGD, default 1 */
    float weight_decay; /* default 5e-4 (SGD), 0 (Adam, as Keras) */
    int decay_all;      /* 1: decay batchnorm and bias parameters too (default 0) */
    float beta1, beta2, eps; /* Adam: 0.9, 0.999, 1e-7 (Keras' eps) */
} ns_optimizer_config;

typedef struct ns_optimizer ns_optimizer;

/* Allocates zeroed state for every parameter of m (m must outlive it). */
ns_status ns_optimizer_create(ns_model *m, const ns_optimizer_config *cfg, ns_optimizer **out);
void ns_optimizer_destroy(ns_optimizer *o);

/* One update of every parameter from its grad at learning rate lr. */
ns_status ns_optimizer_step(ns_optimizer *o, float lr);

/* Updates taken so far (Adam's bias-correction step). */
int ns_optimizer_steps(const ns_optimizer *o);
void ns_optimizer_set_steps(ns_optimizer *o, int steps);

/* State buffers for checkpoints: slot i names "<param>.momentum", "<param>.adam_m",
 * "<param>.adam_v"; buffers owned by o. */
size_t ns_optimizer_num_states(const ns_optimizer *o);
ns_param *ns_optimizer_state(ns_optimizer *o, size_t i);

/* Parses "sgd" or "adam"; NS_ERR_USAGE otherwise. */
ns_status ns_optimizer_kind_parse(const char *text, ns_optimizer_kind *out);
ns_optimizer_config ns_optimizer_config_default(ns_optimizer_kind kind);

#endif
