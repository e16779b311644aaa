/* Row-wise kernels for dense layers and the loss: one work-item per row (or per
 * output column), rows are short (classes, features). */

/* y[i][j] += b[j]; 2-D: dimension 0 the outputs j, dimension 1 the rows i. */
__kernel void ns_bias_add(__global float *y, __global const float *b, uint n, uint out)
{
    uint j = get_global_id(0), i = get_global_id(1);
    if (j < out && i < n)
        y[(ulong)i * out + j] += b[j];
}

/* db[j] = sum_i dy[i][j] */
__kernel void ns_column_sum(__global const float *dy, __global float *db, uint n, uint out)
{
    uint j = get_global_id(0);
    if (j >= out)
        return;
    float s = 0.0f;
    for (uint i = 0; i < n; i++)
        s += dy[(ulong)i * out + j];
    db[j] = s;
}

/* loss[i] = logsumexp(z) * T - sum_j t_j z_j with z = logits - max, T = sum_j t_j;
 * dlogits = grad_scale * (p*T - t). A zero target contributes nothing. */
__kernel void ns_softmax_xent(__global const float *logits, __global const float *targets,
                              float grad_scale, __global float *loss, __global float *dlogits,
                              int has_grad, uint n, uint classes)
{
    uint row = get_global_id(0);
    if (row >= n)
        return;
    __global const float *z = logits + (ulong)row * classes;
    __global const float *t = targets + (ulong)row * classes;
    float mx = z[0];
    for (uint j = 1; j < classes; j++)
        mx = fmax(mx, z[j]);
    float se = 0.0f;
    for (uint j = 0; j < classes; j++)
        se += exp(z[j] - mx);
    float lse = log(se);
    float l = 0.0f, tsum = 0.0f;
    for (uint j = 0; j < classes; j++) {
        float tj = t[j];
        if (tj != 0.0f)
            l -= tj * (z[j] - mx - lse);
        tsum += tj;
    }
    loss[row] = l;
    if (has_grad) {
        __global float *d = dlogits + (ulong)row * classes;
        for (uint j = 0; j < classes; j++)
            d[j] = grad_scale * (exp(z[j] - mx) / se * tsum - t[j]);
    }
}

/* probs may alias logits: the row is read fully (max) before any write, and each
 * later write only replaces the value just read. */
__kernel void ns_softmax(__global const float *logits, __global float *probs, uint n, uint classes)
{
    uint row = get_global_id(0);
    if (row >= n)
        return;
    __global const float *z = logits + (ulong)row * classes;
    __global float *p = probs + (ulong)row * classes;
    float mx = z[0];
    for (uint j = 1; j < classes; j++)
        mx = fmax(mx, z[j]);
    float se = 0.0f;
    for (uint j = 0; j < classes; j++) {
        float e = exp(z[j] - mx);
        p[j] = e;
        se += e;
    }
    float inv = 1.0f / se;
    for (uint j = 0; j < classes; j++)
        p[j] *= inv;
}
