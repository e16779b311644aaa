#include "train/step_loss.h"

#include "util/error.h"

ns_status ns_step_loss(ns_backend *be, int n, int n_lab, int classes, const ns_buf *logits, const ns_buf *targets,
                       float loss_scale, ns_buf *loss_buf, ns_buf *dlogits, float *loss_host, double *loss)
{
    return ns_step_loss_div(be, n, n_lab, n_lab, classes, logits, targets, loss_scale, loss_buf, dlogits, loss_host,
                            loss);
}

ns_status ns_step_loss_div(ns_backend *be, int n, int n_lab, int n_lab_div, int classes, const ns_buf *logits,
                           const ns_buf *targets, float loss_scale, ns_buf *loss_buf, ns_buf *dlogits,
                           float *loss_host, double *loss)
{
    if (n_lab_div < n_lab)
        return ns_fail(NS_ERR_INVALID_ARG, "step loss: divisor %d below the %d labeled rows", n_lab_div, n_lab);
    if (n_lab < 1 || n < n_lab)
        return ns_fail(NS_ERR_INVALID_ARG, "step loss: %d rows with %d labeled, expected 1 <= labeled <= rows",
                       n, n_lab);
    /* One grad_scale for every row: a pseudo-labeled row weighs what a
     * labeled one does, so the pseudo part sums to R times its mean. */
    const float grad_scale = loss_scale / (float)n_lab_div;
    NS_TRY(be->api->softmax_cross_entropy(be->ctx, n, classes, logits, targets, grad_scale, loss_buf, dlogits));
    NS_TRY(be->api->download(be->ctx, loss_buf, 0, loss_host, (size_t)n));
    double sum = 0.0;
    for (int i = 0; i < n; i++)
        sum += loss_host[i];
    *loss = sum / n_lab_div;
    return NS_OK;
}
