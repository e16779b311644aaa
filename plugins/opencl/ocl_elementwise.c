/* Element-wise ops, dropout / drop-path masks and global average pooling. */
#include "ocl_internal.h"

ns_status ocl_relu_forward(void *ctx, const ns_buf *x, ns_buf *y, size_t n)
{
    ocl_ctx *c = ctx;
    const char *op = "relu_forward";
    ns_status st = ocl_need(c, op, "x", x, n);
    if (st == NS_OK)
        st = ocl_need(c, op, "y", y, n);
    if (st != NS_OK)
        return st;
    return ocl_launch(c, op, OCL_K_RELU_FORWARD, n,
                      OCL_ARGS(OCL_MEM(x->mem), OCL_MEM(y->mem), OCL_U64(n)));
}

ns_status ocl_relu_backward(void *ctx, const ns_buf *y, const ns_buf *dy, ns_buf *dx, size_t n)
{
    ocl_ctx *c = ctx;
    const char *op = "relu_backward";
    ns_status st = ocl_need(c, op, "y", y, n);
    if (st == NS_OK)
        st = ocl_need(c, op, "dy", dy, n);
    if (st == NS_OK)
        st = ocl_need(c, op, "dx", dx, n);
    if (st != NS_OK)
        return st;
    return ocl_launch(c, op, OCL_K_RELU_BACKWARD, n,
                      OCL_ARGS(OCL_MEM(y->mem), OCL_MEM(dy->mem), OCL_MEM(dx->mem), OCL_U64(n)));
}

static ns_status binary(ocl_ctx *c, const char *op, ocl_kernel_id k, const ns_buf *a,
                        const ns_buf *b, ns_buf *y, size_t n)
{
    ns_status st = ocl_need(c, op, "a", a, n);
    if (st == NS_OK)
        st = ocl_need(c, op, "b", b, n);
    if (st == NS_OK)
        st = ocl_need(c, op, "y", y, n);
    if (st != NS_OK)
        return st;
    return ocl_launch(c, op, k, n,
                      OCL_ARGS(OCL_MEM(a->mem), OCL_MEM(b->mem), OCL_MEM(y->mem), OCL_U64(n)));
}

ns_status ocl_add(void *ctx, const ns_buf *a, const ns_buf *b, ns_buf *y, size_t n)
{
    return binary(ctx, "add", OCL_K_ADD, a, b, y, n);
}

ns_status ocl_mul(void *ctx, const ns_buf *a, const ns_buf *b, ns_buf *y, size_t n)
{
    return binary(ctx, "mul", OCL_K_MUL, a, b, y, n);
}

ns_status ocl_axpby(void *ctx, const ns_buf *x, ns_buf *y, size_t n, float alpha, float beta)
{
    ocl_ctx *c = ctx;
    const char *op = "axpby";
    ns_status st = ocl_need(c, op, "x", x, n);
    if (st == NS_OK)
        st = ocl_need(c, op, "y", y, n);
    if (st != NS_OK)
        return st;
    return ocl_launch(c, op, OCL_K_AXPBY, n,
                      OCL_ARGS(OCL_MEM(x->mem), OCL_MEM(y->mem), OCL_U64(n), OCL_F32(alpha),
                               OCL_F32(beta)));
}

ns_status ocl_mul_rows(void *ctx, const ns_buf *x, const ns_buf *scale, ns_buf *y, size_t rows,
                       size_t cols)
{
    ocl_ctx *c = ctx;
    const char *op = "mul_rows";
    size_t n = rows * cols;
    if (n == 0)
        return NS_OK;
    ns_status st = ocl_need(c, op, "x", x, n);
    if (st == NS_OK)
        st = ocl_need(c, op, "scale", scale, rows);
    if (st == NS_OK)
        st = ocl_need(c, op, "y", y, n);
    if (st != NS_OK)
        return st;
    return ocl_launch_2d(c, op, OCL_K_MUL_ROWS, cols, rows,
                         OCL_ARGS(OCL_MEM(x->mem), OCL_MEM(scale->mem), OCL_MEM(y->mem),
                                  OCL_U64(rows), OCL_U64(cols)));
}

ns_status ocl_mask_bernoulli(void *ctx, ns_buf *mask, size_t n, float keep_prob, float scale,
                             uint64_t seed, uint64_t stream)
{
    ocl_ctx *c = ctx;
    const char *op = "mask_bernoulli";
    ns_status st = ocl_need(c, op, "mask", mask, n);
    if (st != NS_OK)
        return st;
    return ocl_launch(c, op, OCL_K_MASK_BERNOULLI, (n + 3) / 4,
                      OCL_ARGS(OCL_MEM(mask->mem), OCL_U64(n), OCL_F32(keep_prob), OCL_F32(scale),
                               OCL_U32((cl_uint)seed), OCL_U32((cl_uint)(seed >> 32)),
                               OCL_U32((cl_uint)stream), OCL_U32((cl_uint)(stream >> 32))));
}

static ns_status pool_check(ocl_ctx *c, const char *op, int n, int ch, int hw)
{
    if (n < 0 || ch < 0 || hw <= 0) {
        c->host->set_error("opencl %s: bad sizes n=%d c=%d hw=%d (expected n, c >= 0, hw > 0)", op,
                           n, ch, hw);
        return NS_ERR_INVALID_ARG;
    }
    return NS_OK;
}

ns_status ocl_global_avg_pool_forward(void *ctx, const ns_buf *x, ns_buf *y, int n, int ch,
                                      int hw)
{
    ocl_ctx *c = ctx;
    const char *op = "global_avg_pool_forward";
    ns_status st = pool_check(c, op, n, ch, hw);
    size_t rows = (size_t)n * (size_t)ch;
    if (st == NS_OK)
        st = ocl_need(c, op, "x", x, rows * (size_t)hw);
    if (st == NS_OK)
        st = ocl_need(c, op, "y", y, rows);
    if (st != NS_OK || rows == 0)
        return st;
    return ocl_launch(c, op, OCL_K_GAP_FORWARD, rows,
                      OCL_ARGS(OCL_MEM(x->mem), OCL_MEM(y->mem), OCL_U32((cl_uint)rows),
                               OCL_U32((cl_uint)hw)));
}

ns_status ocl_global_avg_pool_backward(void *ctx, const ns_buf *dy, ns_buf *dx, int n, int ch,
                                       int hw)
{
    ocl_ctx *c = ctx;
    const char *op = "global_avg_pool_backward";
    ns_status st = pool_check(c, op, n, ch, hw);
    size_t rows = (size_t)n * (size_t)ch, total = rows * (size_t)hw;
    if (st == NS_OK)
        st = ocl_need(c, op, "dy", dy, rows);
    if (st == NS_OK)
        st = ocl_need(c, op, "dx", dx, total);
    if (st != NS_OK || total == 0)
        return st;
    return ocl_launch_2d(c, op, OCL_K_GAP_BACKWARD, (size_t)hw, rows,
                         OCL_ARGS(OCL_MEM(dy->mem), OCL_MEM(dx->mem), OCL_U32((cl_uint)rows),
                                  OCL_U32((cl_uint)hw)));
}
