/* Host-side logic of the cuda backend's resident 16-bit path (see
 * plugins/cuda/README.md): what can be checked without a GPU. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>

#include <cmocka.h>

#include "cuda_options.h"
#include "cuda_plan_key.h"
#include "cuda_resident.h"

/* ------------------------------------------------------------ residency */

static void test_residency_transitions(void **state)
{
    (void)state;
    const int d[4] = {2, 16, 8, 8}, other[4] = {2, 8, 16, 8}; /* same count, other dims */
    ns_cuda_res r = ns_cuda_res_plain();
    assert_int_equal(r.f32_valid, 1);
    assert_int_equal(r.h16_valid, 0);
    assert_false(ns_cuda_res_h16_fits(&r, d, 0));

    /* a float32 tensor rounded for a convolution: a cache, not exact */
    ns_cuda_res_narrowed(&r, d);
    assert_int_equal(r.f32_valid, 1);
    assert_true(ns_cuda_res_h16_fits(&r, d, 0));
    assert_false(ns_cuda_res_h16_fits(&r, d, 1));
    assert_false(ns_cuda_res_h16_fits(&r, other, 0));

    /* a float32 write (optimizer step, upload) drops the rounded copy */
    ns_cuda_res_wrote_f32(&r);
    assert_int_equal(r.f32_valid, 1);
    assert_false(ns_cuda_res_h16_fits(&r, d, 0));

    /* a 16-bit op's output: 16-bit only, exact */
    ns_cuda_res_wrote_h16(&r, d);
    assert_int_equal(r.f32_valid, 0);
    assert_true(ns_cuda_res_h16_fits(&r, d, 1));
    assert_false(ns_cuda_res_h16_fits(&r, other, 0));

    /* widened for a float32 op: both valid, still exact */
    ns_cuda_res_widened(&r);
    assert_int_equal(r.f32_valid, 1);
    assert_true(ns_cuda_res_h16_fits(&r, d, 1));
}

static void test_bn_view(void **state)
{
    (void)state;
    const int d[4] = {4, 17, 8, 8};
    int out[4] = {0, 0, 0, 0};
    ns_cuda_res r = ns_cuda_res_plain();
    assert_false(ns_cuda_res_h16_fits_bn(&r, 4, 17, 64, out));
    ns_cuda_res_narrowed(&r, d); /* a rounded cache never feeds batchnorm */
    assert_false(ns_cuda_res_h16_fits_bn(&r, 4, 17, 64, out));
    ns_cuda_res_wrote_h16(&r, d);
    assert_true(ns_cuda_res_h16_fits_bn(&r, 4, 17, 64, out));
    assert_memory_equal(out, d, sizeof d);
    assert_false(ns_cuda_res_h16_fits_bn(&r, 4, 17, 63, out)); /* other hw */
    assert_false(ns_cuda_res_h16_fits_bn(&r, 2, 34, 64, out)); /* same count, other n, c */
    assert_false(ns_cuda_res_h16_fits_bn(&r, 4, 16, 68, out));
}

static void test_elementwise16(void **state)
{
    (void)state;
    const int d[4] = {2, 16, 8, 8}, other[4] = {2, 8, 16, 8};
    const size_t count = 2 * 16 * 8 * 8;
    int out[4];
    ns_cuda_res a = ns_cuda_res_plain(), b = ns_cuda_res_plain();
    const ns_cuda_res *ab[2] = {&a, &b};
    assert_false(ns_cuda_res_elementwise16(ab, 2, count, out)); /* float32 inputs */
    ns_cuda_res_wrote_h16(&a, d);
    assert_true(ns_cuda_res_elementwise16(ab, 1, count, out));
    assert_memory_equal(out, d, sizeof d);
    assert_false(ns_cuda_res_elementwise16(ab, 2, count, out)); /* b float32: mixed */
    ns_cuda_res_narrowed(&b, d);
    assert_false(ns_cuda_res_elementwise16(ab, 2, count, out)); /* b only a rounded cache */
    ns_cuda_res_wrote_h16(&b, other);
    assert_false(ns_cuda_res_elementwise16(ab, 2, count, out)); /* dims differ */
    ns_cuda_res_wrote_h16(&b, d);
    assert_true(ns_cuda_res_elementwise16(ab, 2, count, out));
    assert_false(ns_cuda_res_elementwise16(ab, 2, count - 1, out)); /* a prefix: float32 */
    ns_cuda_res_widened(&a); /* downloaded: stays on the 16-bit path */
    assert_true(ns_cuda_res_elementwise16(ab, 2, count, out));
    ns_cuda_res_wrote_f32(&a);
    assert_false(ns_cuda_res_elementwise16(ab, 2, count, out));
}

static void test_dims_count(void **state)
{
    (void)state;
    const int d[4] = {3, 5, 9, 7}, zero[4] = {3, 0, 9, 7}, neg[4] = {3, 5, -9, 7};
    assert_int_equal(ns_cuda_dims_count(d), 3 * 5 * 9 * 7);
    assert_int_equal(ns_cuda_dims_count(zero), 0);
    assert_int_equal(ns_cuda_dims_count(neg), 0);
}

/* ------------------------------------------------------------ strides */

/* Every (n, c, h, w) element lands at a distinct offset below the count,
 * with the channel innermost for NHWC: checked against the index formula the
 * conversion kernels (k_layout16.cu) use. */
static void test_strides(void **state)
{
    (void)state;
    const int64_t dims[4] = {3, 5, 4, 7};
    int64_t nchw[4], nhwc[4];
    ns_cuda_strides_nchw(dims, nchw);
    ns_cuda_strides_nhwc(dims, nhwc);
    const int64_t want_nchw[4] = {5 * 4 * 7, 4 * 7, 7, 1};
    const int64_t want_nhwc[4] = {4 * 7 * 5, 1, 7 * 5, 5};
    assert_memory_equal(nchw, want_nchw, sizeof nchw);
    assert_memory_equal(nhwc, want_nhwc, sizeof nhwc);
    const int64_t total = 3 * 5 * 4 * 7;
    unsigned char seen[3 * 5 * 4 * 7];
    memset(seen, 0, sizeof seen);
    for (int64_t n = 0; n < dims[0]; n++)
        for (int64_t c = 0; c < dims[1]; c++)
            for (int64_t h = 0; h < dims[2]; h++)
                for (int64_t w = 0; w < dims[3]; w++) {
                    int64_t at = n * nhwc[0] + c * nhwc[1] + h * nhwc[2] + w * nhwc[3];
                    assert_true(at >= 0 && at < total);
                    assert_int_equal(seen[at], 0);
                    seen[at] = 1;
                    /* k_narrow: i = ((n*H + h)*W + w)*C + c */
                    assert_int_equal(at, ((n * dims[2] + h) * dims[3] + w) * dims[1] + c);
                    /* and the NCHW offset k_widen writes */
                    assert_int_equal(n * nchw[0] + c * nchw[1] + h * nchw[2] + w * nchw[3],
                                     ((n * dims[1] + c) * dims[2] + h) * dims[3] + w);
                }
}

/* ------------------------------------------------------------ plan keys */

static ns_cuda_plan_key key_of(void)
{
    ns_cuda_plan_key k;
    memset(&k, 0, sizeof k);
    k.kind = 1;
    k.dtype = 9;
    k.layout = NS_CUDA_LAYOUT_NHWC;
    ns_conv_desc d = {2, 16, 32, 32, 32, 3, 3, 2, 1, 16, 16};
    k.d = d;
    return k;
}

static void test_plan_key(void **state)
{
    (void)state;
    ns_cuda_plan_key a = key_of(), b = key_of();
    assert_true(ns_cuda_plan_key_equal(&a, &b));
    /* every field takes part */
    int *fields[] = {&b.kind, &b.dtype, &b.layout, &b.d.n, &b.d.c, &b.d.h, &b.d.w, &b.d.k,
                     &b.d.r, &b.d.s, &b.d.stride, &b.d.pad, &b.d.p, &b.d.q};
    for (size_t i = 0; i < sizeof fields / sizeof *fields; i++) {
        b = key_of();
        *fields[i] += 1;
        if (ns_cuda_plan_key_equal(&a, &b))
            fail_msg("plan key field %zu does not take part in the comparison", i);
    }
}

/* ------------------------------------------------------------ pack ring */

static void test_pack_ring(void **state)
{
    (void)state;
    ns_cuda_pack_ring r;
    memset(&r, 0, sizeof r);
    char mem[64];
    void *t1[4] = {mem, mem + 1, mem + 2, mem + 3}, *t2[4] = {mem, mem + 1, mem + 2, mem + 4};
    assert_int_equal(ns_cuda_pack_find(&r, t1), -1);
    void *old = &old;
    int i = ns_cuda_pack_claim(&r, t1, &old);
    assert_null(old);
    assert_int_equal(ns_cuda_pack_find(&r, t1), -1); /* claimed but no pack stored yet */
    r.pack[i] = mem + 10;
    assert_int_equal(ns_cuda_pack_find(&r, t1), i);
    assert_int_equal(ns_cuda_pack_find(&r, t2), -1); /* another workspace: another pack */
    int j = ns_cuda_pack_claim(&r, t2, &old);
    assert_int_not_equal(i, j);
    r.pack[j] = mem + 11;
    assert_int_equal(ns_cuda_pack_find(&r, t1), i);
    assert_int_equal(ns_cuda_pack_find(&r, t2), j);
    /* the ring wraps: after RING claims the first slot comes back with its
     * old pack handed to the caller to destroy */
    for (int k = 2; k < NS_CUDA_PACK_RING; k++) {
        void *tk[4] = {mem + 20 + k, mem, mem, mem};
        int s = ns_cuda_pack_claim(&r, tk, &old);
        assert_null(old);
        r.pack[s] = mem + 30 + k;
    }
    void *t3[4] = {mem + 50, mem, mem, mem};
    int s = ns_cuda_pack_claim(&r, t3, &old);
    assert_int_equal(s, i);
    assert_ptr_equal(old, mem + 10);
    assert_int_equal(ns_cuda_pack_find(&r, t1), -1);
    assert_int_equal(ns_cuda_pack_find(&r, t2), j);
}

/* ------------------------------------------------------------ options */

static char last_error[256];

static void capture_error(const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(last_error, sizeof last_error, fmt, ap);
    va_end(ap);
}

static void quiet_log(int level, const char *fmt, ...)
{
    (void)level;
    (void)fmt;
}

static const ns_host_api host = {.struct_size = sizeof(ns_host_api),
                                 .set_error = capture_error,
                                 .log = quiet_log};

static void test_options_nhwc16(void **state)
{
    (void)state;
    ns_cuda_options o = {.tf32 = 0, .autotune = 4, .nhwc16 = 1};
    assert_int_equal(ns_cuda_options_parse(&host, "test", NULL, &o), NS_OK);
    assert_int_equal(o.nhwc16, 1);
    assert_int_equal(ns_cuda_options_parse(&host, "test", "nhwc16=0", &o), NS_OK);
    assert_int_equal(o.nhwc16, 0);
    assert_int_equal(o.tf32, 0);
    assert_int_equal(o.autotune, 4);
    assert_int_equal(ns_cuda_options_parse(&host, "test", "tf32=1,nhwc16=1,autotune=0", &o), NS_OK);
    assert_int_equal(o.nhwc16, 1);
    assert_int_equal(o.tf32, 1);
    assert_int_equal(o.autotune, 0);
    last_error[0] = '\0';
    assert_int_equal(ns_cuda_options_parse(&host, "NS_CUDA_OPTIONS", "nhwc16=2", &o),
                     NS_ERR_INVALID_ARG);
    assert_non_null(strstr(last_error, "NS_CUDA_OPTIONS"));
    assert_non_null(strstr(last_error, "nhwc16=2"));
    assert_int_equal(o.nhwc16, 1); /* unchanged by the refused value */
    last_error[0] = '\0';
    assert_int_equal(ns_cuda_options_parse(&host, "test", "nhwc=1", &o), NS_ERR_INVALID_ARG);
    assert_non_null(strstr(last_error, "nhwc16=0|1")); /* the accepted list names it */
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_residency_transitions),
        cmocka_unit_test(test_bn_view),
        cmocka_unit_test(test_elementwise16),
        cmocka_unit_test(test_dims_count),
        cmocka_unit_test(test_strides),
        cmocka_unit_test(test_plan_key),
        cmocka_unit_test(test_pack_ring),
        cmocka_unit_test(test_options_nhwc16),
    };
    return cmocka_run_group_tests_name("cuda host-side logic", tests, NULL, NULL);
}
