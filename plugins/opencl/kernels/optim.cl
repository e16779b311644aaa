/* Optimizer updates, PyTorch semantics (see ns_sgd_params / ns_adam_params). */

__kernel void ns_sgd_update(__global float *w, __global const float *g, __global float *vel,
                            ulong n, float lr, float momentum, float weight_decay, int nesterov)
{
    ulong i = get_global_id(0);
    if (i >= n)
        return;
    float gp = g[i] + weight_decay * w[i];
    float v = momentum * vel[i] + gp;
    vel[i] = v;
    float upd = nesterov ? gp + momentum * v : v;
    w[i] -= lr * upd;
}

/* bc1 = 1 - beta1^step and bc2 = 1 - beta2^step come from the host. */
__kernel void ns_adam_update(__global float *w, __global const float *g, __global float *m,
                             __global float *v, ulong n, float lr, float beta1, float beta2,
                             float eps, float weight_decay, float bc1, float bc2)
{
    ulong i = get_global_id(0);
    if (i >= n)
        return;
    float gp = g[i] + weight_decay * w[i];
    float mi = beta1 * m[i] + (1.0f - beta1) * gp;
    float vi = beta2 * v[i] + (1.0f - beta2) * gp * gp;
    m[i] = mi;
    v[i] = vi;
    w[i] -= lr * (mi / bc1) / (sqrt(vi / bc2) + eps);
}
