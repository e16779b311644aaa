/* Parity of the fused inference unit conv2d_bn_infer (ABI 1.1): the backend's
 * slot against ref's composition conv2d_forward -> batchnorm_forward_infer ->
 * add -> relu_forward, the ops the host calls when the slot is NULL. */
#ifndef NS_PARITY_CONV_BN_H
#define NS_PARITY_CONV_BN_H

#include "parity_harness.h"

/* One conv2d_bn_infer shape (output size derived from stride and pad). */
typedef struct parity_conv_bn_shape {
    int n, c, h, w, k, r, s, stride, pad;
} parity_conv_bn_shape;

/* Every shape with and without a residual, ReLU on and off; then an output
 * buffer holding NaN or another tensor in another layout, inputs arriving in a
 * convolution's blocked layout, and weights and statistics changed in place
 * between two calls. Each comparison must be within `tol` (nmse); failures go
 * through cmocka's fail_msg. The caller skips when the dut's slot is NULL. */
void parity_conv_bn_run(parity_pair *p, const parity_conv_bn_shape *shapes, size_t count,
                        double tol);

/* Invalid calls: a batchnorm descriptor that does not match the convolution's
 * output, a NULL gamma, y aliasing the residual. Each must return
 * NS_ERR_INVALID_ARG with a message, on every side whose slot is set. */
void parity_conv_bn_invalid(parity_pair *p);

#endif
