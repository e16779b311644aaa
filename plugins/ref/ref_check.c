/* Argument validation shared by every op: one message naming the op and the
 * field, and what was expected. */
#include "ref_backend.h"

#include <stdint.h>

ns_status ref_check_ptr(ref_ctx *ctx, const char *op, const char *field, const void *p)
{
    if (!p)
        return REF_FAIL(ctx, NS_ERR_INVALID_ARG, "%s: %s is NULL", op, field);
    return NS_OK;
}

ns_status ref_check_buf(ref_ctx *ctx, const char *op, const char *field, const ns_buf *b,
                        size_t need)
{
    if (!b)
        return REF_FAIL(ctx, NS_ERR_INVALID_ARG, "%s: %s buffer is NULL (expected %zu floats)",
                        op, field, need);
    if (b->n < need)
        return REF_FAIL(ctx, NS_ERR_INVALID_ARG,
                        "%s: %s buffer holds %zu floats, expected at least %zu", op, field, b->n,
                        need);
    return NS_OK;
}

ns_status ref_check_range(ref_ctx *ctx, const char *op, const char *field, const ns_buf *b,
                          size_t offset, size_t n)
{
    if (!b)
        return REF_FAIL(ctx, NS_ERR_INVALID_ARG, "%s: %s buffer is NULL", op, field);
    if (offset > b->n || n > b->n - offset)
        return REF_FAIL(ctx, NS_ERR_INVALID_ARG,
                        "%s: range [%zu, %zu+%zu) outside the %s buffer of %zu floats", op,
                        offset, offset, n, field, b->n);
    return NS_OK;
}

/* `fields` names the dims in order, e.g. "n,c,hw", for the message. */
ns_status ref_check_dims(ref_ctx *ctx, const char *op, const char *fields, size_t *count,
                         int ndims, const int *dims)
{
    /* Cap element counts at 2^40 floats: far above any real tensor, far below
     * where size_t arithmetic on them could wrap. */
    const size_t cap = (size_t)1 << 40;
    size_t prod = 1;
    for (int i = 0; i < ndims; i++) {
        if (dims[i] <= 0)
            return REF_FAIL(ctx, NS_ERR_INVALID_ARG,
                            "%s: dimension %d of (%s) is %d, expected > 0", op, i + 1, fields,
                            dims[i]);
        prod *= (size_t)dims[i];
        if (prod > cap)
            return REF_FAIL(ctx, NS_ERR_INVALID_ARG,
                            "%s: (%s) describe more than 2^40 elements", op, fields);
    }
    if (count)
        *count = prod;
    return NS_OK;
}

ns_status ref_check_conv(ref_ctx *ctx, const char *op, const ns_conv_desc *d)
{
    if (!d)
        return REF_FAIL(ctx, NS_ERR_INVALID_ARG, "%s: descriptor is NULL", op);
    const char *names[] = {"n", "c", "h", "w", "k", "r", "s", "stride", "p", "q"};
    int values[] = {d->n, d->c, d->h, d->w, d->k, d->r, d->s, d->stride, d->p, d->q};
    for (int i = 0; i < 10; i++)
        if (values[i] <= 0)
            return REF_FAIL(ctx, NS_ERR_INVALID_ARG, "%s: %s is %d, expected > 0", op, names[i],
                            values[i]);
    if (d->pad < 0)
        return REF_FAIL(ctx, NS_ERR_INVALID_ARG, "%s: pad is %d, expected >= 0", op, d->pad);
    /* Each tensor's element count must stay in range (the dims alone can be fine). */
    int x[] = {d->n, d->c, d->h, d->w}, w[] = {d->k, d->c, d->r, d->s},
        y[] = {d->n, d->k, d->p, d->q};
    ns_status st = ref_check_dims(ctx, op, "n,c,h,w", NULL, 4, x);
    if (st == NS_OK)
        st = ref_check_dims(ctx, op, "k,c,r,s", NULL, 4, w);
    if (st == NS_OK)
        st = ref_check_dims(ctx, op, "n,k,p,q", NULL, 4, y);
    if (st != NS_OK)
        return st;
    if (d->h + 2LL * d->pad < d->r || d->w + 2LL * d->pad < d->s)
        return REF_FAIL(ctx, NS_ERR_INVALID_ARG,
                        "%s: kernel %dx%d larger than the padded input %dx%d (pad %d)", op, d->r,
                        d->s, d->h, d->w, d->pad);
    long long p = ((long long)d->h + 2LL * d->pad - d->r) / d->stride + 1;
    long long q = ((long long)d->w + 2LL * d->pad - d->s) / d->stride + 1;
    if (d->p != p || d->q != q)
        return REF_FAIL(ctx, NS_ERR_INVALID_ARG,
                        "%s: output p=%d q=%d, expected p=%lld q=%lld for h=%d w=%d r=%d s=%d "
                        "stride=%d pad=%d",
                        op, d->p, d->q, p, q, d->h, d->w, d->r, d->s, d->stride, d->pad);
    return NS_OK;
}

ns_status ref_check_bn(ref_ctx *ctx, const char *op, const ns_bn_desc *d)
{
    if (!d)
        return REF_FAIL(ctx, NS_ERR_INVALID_ARG, "%s: descriptor is NULL", op);
    int dims[] = {d->n, d->c, d->hw};
    ns_status st = ref_check_dims(ctx, op, "n,c,hw", NULL, 3, dims);
    if (st != NS_OK)
        return st;
    if (!(d->eps > 0.0f))
        return REF_FAIL(ctx, NS_ERR_INVALID_ARG, "%s: eps is %g, expected > 0", op,
                        (double)d->eps);
    if (!(d->momentum >= 0.0f && d->momentum <= 1.0f))
        return REF_FAIL(ctx, NS_ERR_INVALID_ARG, "%s: momentum is %g, expected in [0, 1]", op,
                        (double)d->momentum);
    return NS_OK;
}

ns_status ref_check_dense(ref_ctx *ctx, const char *op, const ns_dense_desc *d)
{
    if (!d)
        return REF_FAIL(ctx, NS_ERR_INVALID_ARG, "%s: descriptor is NULL", op);
    int dims[] = {d->n, d->in, d->out};
    return ref_check_dims(ctx, op, "n,in,out", NULL, 3, dims);
}
