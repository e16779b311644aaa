/* The residency state machine of cuda_resident.h: pure host logic. */
#include "cuda_resident.h"

ns_cuda_res ns_cuda_res_plain(void)
{
    ns_cuda_res r = {1, 0, 0, {0, 0, 0, 0}};
    return r;
}

void ns_cuda_res_wrote_f32(ns_cuda_res *r)
{
    r->f32_valid = 1;
    r->h16_valid = 0;
    r->h16_exact = 0;
}

void ns_cuda_res_wrote_h16(ns_cuda_res *r, const int dims[4])
{
    r->f32_valid = 0;
    r->h16_valid = 1;
    r->h16_exact = 1;
    for (int i = 0; i < 4; i++)
        r->dims[i] = dims[i];
}

void ns_cuda_res_widened(ns_cuda_res *r)
{
    /* widening is exact: h16 keeps whatever exactness it had (it had to be
     * the only valid copy, so it was exact) */
    r->f32_valid = 1;
}

void ns_cuda_res_narrowed(ns_cuda_res *r, const int dims[4])
{
    r->h16_valid = 1;
    r->h16_exact = 0; /* rounded from float32 content: a cache for convolutions only */
    for (int i = 0; i < 4; i++)
        r->dims[i] = dims[i];
}

size_t ns_cuda_dims_count(const int dims[4])
{
    size_t n = 1;
    for (int i = 0; i < 4; i++) {
        if (dims[i] < 1)
            return 0;
        n *= (size_t)dims[i];
    }
    return n;
}

static int same_dims(const int a[4], const int b[4])
{
    return a[0] == b[0] && a[1] == b[1] && a[2] == b[2] && a[3] == b[3];
}

int ns_cuda_res_h16_fits(const ns_cuda_res *r, const int dims[4], int need_exact)
{
    if (!r->h16_valid || !same_dims(r->dims, dims))
        return 0;
    return need_exact ? r->h16_exact : 1;
}

int ns_cuda_res_h16_fits_bn(const ns_cuda_res *r, int n, int c, int hw, int dims_out[4])
{
    if (!r->h16_valid || !r->h16_exact)
        return 0;
    if (r->dims[0] != n || r->dims[1] != c || (long long)r->dims[2] * r->dims[3] != (long long)hw)
        return 0;
    for (int i = 0; i < 4; i++)
        dims_out[i] = r->dims[i];
    return 1;
}

int ns_cuda_res_elementwise16(const ns_cuda_res *const *r, int k, size_t count, int dims_out[4])
{
    if (k < 1 || count == 0)
        return 0;
    for (int i = 0; i < k; i++) {
        if (!r[i]->h16_valid || !r[i]->h16_exact)
            return 0;
        if (!same_dims(r[i]->dims, r[0]->dims))
            return 0;
    }
    if (ns_cuda_dims_count(r[0]->dims) != count)
        return 0;
    for (int i = 0; i < 4; i++)
        dims_out[i] = r[0]->dims[i];
    return 1;
}

void ns_cuda_strides_nchw(const int64_t dims[4], int64_t strides[4])
{
    strides[3] = 1;
    strides[2] = dims[3];
    strides[1] = dims[2] * dims[3];
    strides[0] = dims[1] * dims[2] * dims[3];
}

void ns_cuda_strides_nhwc(const int64_t dims[4], int64_t strides[4])
{
    strides[1] = 1;                           /* c innermost */
    strides[3] = dims[1];                     /* w: one pixel of c channels */
    strides[2] = dims[3] * dims[1];           /* h: one row of w pixels */
    strides[0] = dims[2] * dims[3] * dims[1]; /* n: one image */
}
