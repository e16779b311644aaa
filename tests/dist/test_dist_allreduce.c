/* The collectives of core/dist and the fused gradient all-reduce, run by
 * ctest under `mpirun -np N` (tests/dist/CMakeLists.txt: N = 2 over TCP
 * loopback, N = 3 over shared memory). Every rank runs every test; each rank
 * contributes values that depend on its rank, so a missing or doubled
 * contribution changes the result.
 *
 * Proves: integer sums and maxima are exact; the fused f32 all-reduce of
 * several tensors of sizes that are not a multiple of anything (1, 3, 1031,
 * 17, a 0 in between) is the sum within rounding, tensor by tensor, in place
 * on the backend's buffers, with nothing shifted between tensors; the fused
 * broadcast makes every rank hold rank 0's tensors.
 * Skips (visibly) when the world is not the size ctest asked for
 * (NS_TEST_RANKS): no mpirun, or a build without MPI. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <math.h>
#include <stdlib.h>

#include <cmocka.h>

#include "dist/dist.h"
#include "dist/grad_allreduce.h"
#include "ns_test_ref.h"

static ns_backend *be;

static int world_as_asked(void)
{
    const char *want = getenv("NS_TEST_RANKS");
    return want && atoi(want) == ns_dist_size() && ns_dist_size() > 1;
}

static void i64_exact(void **state)
{
    (void)state;
    if (!world_as_asked())
        skip();
    const int r = ns_dist_rank(), n = ns_dist_size();
    const size_t lens[] = {1, 7, 1031};
    for (size_t t = 0; t < sizeof lens / sizeof *lens; t++) {
        int64_t *a = malloc(lens[t] * sizeof *a), *m = malloc(lens[t] * sizeof *m);
        assert_non_null(a);
        assert_non_null(m);
        for (size_t i = 0; i < lens[t]; i++) {
            /* Large values: a sum through floating point would lose the low bits. */
            a[i] = ((int64_t)1 << 52) + (int64_t)i * 1000003 + (int64_t)(r + 1) * 7;
            m[i] = (int64_t)((i * 31 + (size_t)r * 17) % 101);
        }
        assert_int_equal(ns_dist_allreduce_sum_i64(a, lens[t]), NS_OK);
        assert_int_equal(ns_dist_allreduce_max_i64(m, lens[t]), NS_OK);
        for (size_t i = 0; i < lens[t]; i++) {
            int64_t want = 0, mx = 0;
            for (int k = 0; k < n; k++) {
                want += ((int64_t)1 << 52) + (int64_t)i * 1000003 + (int64_t)(k + 1) * 7;
                int64_t v = (int64_t)((i * 31 + (size_t)k * 17) % 101);
                mx = v > mx ? v : mx;
            }
            assert_true(a[i] == want);
            assert_true(m[i] == mx);
        }
        free(a);
        free(m);
    }
}

/* The value rank k puts at element i of tensor t. */
static float val(int k, size_t t, size_t i) { return (float)((double)(k + 1) * 0.37 + (double)t * 1.5 - (double)i * 1e-3); }

static void fused_f32(void **state)
{
    (void)state;
    if (!world_as_asked())
        skip();
    const int r = ns_dist_rank(), n = ns_dist_size();
    const size_t sizes[] = {1, 3, 0, 1031, 17};
    enum { T = sizeof sizes / sizeof *sizes };
    ns_buf *bufs[T];
    float *host = malloc(1031 * sizeof *host);
    assert_non_null(host);
    for (size_t t = 0; t < T; t++) {
        assert_int_equal(be->api->buf_alloc(be->ctx, sizes[t] ? sizes[t] : 1, &bufs[t]), NS_OK);
        for (size_t i = 0; i < sizes[t]; i++)
            host[i] = val(r, t, i);
        if (sizes[t])
            assert_int_equal(be->api->upload(be->ctx, bufs[t], 0, host, sizes[t]), NS_OK);
    }
    ns_grad_fusion f = {0};
    /* Twice: the fusion buffer is reused, and a second sum of sums is n * sum. */
    for (int round = 1; round <= 2; round++) {
        assert_int_equal(ns_grad_allreduce(be, &f, T, bufs, sizes), NS_OK);
        for (size_t t = 0; t < T; t++) {
            if (!sizes[t])
                continue;
            assert_int_equal(be->api->download(be->ctx, bufs[t], 0, host, sizes[t]), NS_OK);
            for (size_t i = 0; i < sizes[t]; i++) {
                double want = 0;
                for (int k = 0; k < n; k++)
                    want += val(k, t, i);
                if (round == 2)
                    want *= n;
                assert_true(fabs(host[i] - want) <= 1e-6 * (fabs(want) + 1));
            }
        }
    }
    assert_int_equal((int)f.calls, 2);
    ns_grad_fusion_free(&f);
    for (size_t t = 0; t < T; t++)
        be->api->buf_free(be->ctx, bufs[t]);
    free(host);
}

static void broadcast_from_root(void **state)
{
    (void)state;
    if (!world_as_asked())
        skip();
    const int r = ns_dist_rank();
    const size_t sizes[] = {5, 1, 333};
    ns_buf *bufs[3];
    float host[333];
    for (size_t t = 0; t < 3; t++) {
        assert_int_equal(be->api->buf_alloc(be->ctx, sizes[t], &bufs[t]), NS_OK);
        for (size_t i = 0; i < sizes[t]; i++)
            host[i] = val(r, t, i);
        assert_int_equal(be->api->upload(be->ctx, bufs[t], 0, host, sizes[t]), NS_OK);
    }
    ns_grad_fusion f = {0};
    assert_int_equal(ns_dist_broadcast_bufs(be, &f, 3, bufs, sizes, 0), NS_OK);
    for (size_t t = 0; t < 3; t++) {
        assert_int_equal(be->api->download(be->ctx, bufs[t], 0, host, sizes[t]), NS_OK);
        for (size_t i = 0; i < sizes[t]; i++)
            assert_true(host[i] == val(0, t, i));
        be->api->buf_free(be->ctx, bufs[t]);
    }
    ns_grad_fusion_free(&f);
}

static int setup(void **state)
{
    (void)state;
    return ns_test_require_ref(&be);
}

static int teardown(void **state)
{
    (void)state;
    ns_backend_close(be);
    return 0;
}

int main(int argc, char **argv)
{
    if (ns_dist_init(&argc, &argv) != NS_OK)
        return 1;
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(i64_exact),
        cmocka_unit_test(fused_f32),
        cmocka_unit_test(broadcast_from_root),
    };
    int rc = cmocka_run_group_tests(tests, setup, teardown);
    ns_dist_finalize();
    return rc;
}
