/* The loss of a training step as ns_train builds it, on the backend:
 *
 *   loss = (1/n_lab) * sum_{i<n} CE(logits_i, t_i)
 *        = CE(labeled) + R * CE(pseudo),  R = (n - n_lab) / n_lab,
 *
 * each CE the mean over its rows, the labeled rows [0, n_lab) first and the
 * pseudo-labeled rows [n_lab, n) after them (a teacher step has n == n_lab).
 * CE(z, t) = -sum_j t_j log softmax(z)_j; the gradient written to dlogits is
 * (softmax(z)_j * sum_k t_k - t_j) / n_lab per row (backend.h's
 * softmax_cross_entropy with grad_scale 1/n_lab), the exact derivative of
 * `loss` above. Targets may be soft (a teacher's tempered probabilities),
 * one-hot, or label-smoothed one-hot. */
#ifndef NS_TRAIN_STEP_LOSS_H
#define NS_TRAIN_STEP_LOSS_H

#include "plugin/backend_loader.h"

/* logits and targets: n x classes on be; loss_buf: n floats on be; dlogits:
 * n x classes on be or NULL (no gradient); loss_host: n floats on the host,
 * receiving the per-row CE. *loss gets the step's loss (NaN/Inf passed on:
 * the caller decides what a non-finite loss means). loss_scale multiplies
 * the gradient only (fp16 loss scaling; 1 otherwise), never *loss. */
ns_status ns_step_loss(ns_backend *be, int n, int n_lab, int classes, const ns_buf *logits, const ns_buf *targets,
                       float loss_scale, ns_buf *loss_buf, ns_buf *dlogits, float *loss_host, double *loss);
/* The same with the divisor given: data-parallel ranks each hold a slice of
 * the global batch and divide by the GLOBAL labeled count `n_lab_div`, so
 * that the sum over ranks of their losses and gradients is the global ones. */
ns_status ns_step_loss_div(ns_backend *be, int n, int n_lab, int n_lab_div, int classes, const ns_buf *logits,
                           const ns_buf *targets, float loss_scale, ns_buf *loss_buf, ns_buf *dlogits,
                           float *loss_host, double *loss);

#endif
