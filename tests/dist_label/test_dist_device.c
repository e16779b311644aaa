/* The device all-reduce (ABI 1.3 slots dist_unique_id / dist_attach /
 * allreduce_sum) and its host default, core/dist/device_allreduce.h:
 *  - host path under `mpirun -np 2` and `-np 3`: exact for integer values,
 *    scaled within float rounding, on buffers of odd sizes in one fused call
 *    (this binary runs itself as the ranks, "--child");
 *  - host path in one process: scale only, and nothing touched at scale 1;
 *  - every backend but cuda leaves the three slots NULL together, and attach
 *    then keeps the host path and says why;
 *  - cuda with NCCL, one rank: the slots themselves (skips without a GPU).
 * Skips visibly where mpirun, MPI or a GPU is missing. */
#include <math.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <cmocka.h>

#include "dist/device_allreduce.h"
#include "dist/dist.h"
#include "dist/grad_allreduce.h"
#include "mpi_run.h"
#include "plugin/backend_loader.h"
#include "util/error.h"

/* Sizes that are a multiple of nothing in particular, one empty. */
static const size_t sizes[] = {1, 7, 0, 1000, 4099, 3};
enum { NBUF = sizeof sizes / sizeof *sizes };

/* Rank r's value at element j of buffer i: an integer, so sums are exact. */
static float value(int r, size_t i, size_t j)
{
    return (float)((int)(j % 1013) - 500 + 3 * (int)i + 1000 * r);
}

typedef struct bufs {
    ns_buf *b[NBUF];
} bufs;

static ns_status fill(ns_backend *be, bufs *x, int rank)
{
    float *h = malloc(4099 * sizeof *h);
    ns_status st = h ? NS_OK : NS_ERR_NOMEM;
    for (size_t i = 0; st == NS_OK && i < NBUF; i++) {
        for (size_t j = 0; j < sizes[i]; j++)
            h[j] = value(rank, i, j);
        st = be->api->buf_alloc(be->ctx, sizes[i], &x->b[i]);
        if (st == NS_OK)
            st = be->api->upload(be->ctx, x->b[i], 0, h, sizes[i]);
    }
    free(h);
    return st;
}

static void release(ns_backend *be, bufs *x)
{
    for (size_t i = 0; i < NBUF; i++)
        be->api->buf_free(be->ctx, x->b[i]);
}

/* Largest |got - scale * sum over ranks| over every element; -1 on error. */
static double check(ns_backend *be, bufs *x, int ranks, float scale)
{
    float *h = malloc(4099 * sizeof *h);
    double worst = 0;
    for (size_t i = 0; h && i < NBUF; i++) {
        if (be->api->download(be->ctx, x->b[i], 0, h, sizes[i]) != NS_OK) {
            worst = -1;
            break;
        }
        for (size_t j = 0; j < sizes[i]; j++) {
            double want = 0;
            for (int r = 0; r < ranks; r++)
                want += value(r, i, j);
            want *= scale;
            double d = fabs((double)h[j] - want);
            worst = d > worst ? d : worst;
        }
    }
    free(h);
    return h ? worst : -1;
}

/* A test double of a device collective on top of ref (its buffers are host
 * memory): the id is 16 bytes rank 0 makes, attach checks every rank got
 * them, the all-reduce goes through the world and counts its calls. */
static ns_backend_api plain;
static int fake_calls, fake_attached;
static const unsigned char fake_id[16] = "ns-fake-comm-id";

static ns_status fake_unique_id(void *ctx, void *id, size_t cap, size_t *id_bytes)
{
    (void)ctx;
    if (cap < sizeof fake_id)
        return NS_ERR_INVALID_ARG;
    memcpy(id, fake_id, sizeof fake_id);
    *id_bytes = sizeof fake_id;
    return NS_OK;
}

static ns_status fake_attach(void *ctx, int rank, int size, const void *id, size_t id_bytes)
{
    (void)ctx;
    if (id_bytes != sizeof fake_id || memcmp(id, fake_id, id_bytes) != 0 || rank != ns_dist_rank() ||
        size != ns_dist_size())
        return NS_ERR_INVALID_ARG;
    fake_attached = 1;
    return NS_OK;
}

static ns_status fake_allreduce(void *ctx, size_t count, ns_buf *const *b, const size_t *ns, float scale)
{
    if (!fake_attached)
        return NS_ERR_INVALID_ARG;
    fake_calls++;
    float *h = malloc(4099 * sizeof *h);
    ns_status st = h ? NS_OK : NS_ERR_NOMEM;
    for (size_t i = 0; st == NS_OK && i < count; i++) {
        st = plain.download(ctx, b[i], 0, h, ns[i]);
        if (st == NS_OK)
            st = ns_dist_allreduce_sum_f32(h, ns[i]);
        for (size_t j = 0; j < ns[i]; j++)
            h[j] *= scale;
        if (st == NS_OK)
            st = plain.upload(ctx, b[i], 0, h, ns[i]);
    }
    free(h);
    return st;
}

/* One rank of the mpirun runs: exact integer sums (scale 1), then the same
 * buffers scaled by 1/ranks (the gradient mean) to within rounding. */
static int child(int argc, char **argv)
{
    if (ns_dist_init(&argc, &argv) != NS_OK)
        return 3;
    const int rank = ns_dist_rank(), size = ns_dist_size();
    ns_backend_options opt = ns_backend_options_default();
    opt.threads = 1;
    ns_backend *be = NULL;
    bufs x = {{0}};
    ns_dist_fusion f = {0};
    char why[800];
    int rc = 1;
    ns_buf *const *b = x.b;
    const int fake = argc > 2 && strcmp(argv[2], "fake") == 0;
    ns_status st = ns_backend_open("ref", &opt, &be);
    if (st == NS_OK && fake) {
        plain = be->table;
        be->table.dist_unique_id = fake_unique_id;
        be->table.dist_attach = fake_attach;
        be->table.allreduce_sum = fake_allreduce;
    }
    if (st == NS_OK && fake) {
        /* The training step's all-reduce (grad_allreduce.h) attaches on its
         * first call and then takes the device path: the slot, once a call. */
        ns_grad_fusion g = {0};
        st = fill(be, &x, rank);
        for (int k = 0; st == NS_OK && k < 2; k++)
            st = ns_grad_allreduce(be, &g, NBUF, b, sizes);
        ns_grad_fusion_free(&g);
        double twice = st == NS_OK ? check(be, &x, size, (float)size) : -1; /* sum, then size x sum */
        printf("rank %d of %d: grad_allreduce device calls %d, error %g\n", rank, size, fake_calls, twice);
        if (st == NS_OK && (fake_calls != 2 || !be->dist_attached || twice != 0))
            st = NS_ERR_INTERNAL;
        release(be, &x);
        x = (bufs){{0}};
        be->table = plain;
        rc = st == NS_OK ? 0 : 1;
    } else if (st == NS_OK && ns_dist_device_attach(be, why, sizeof why) == NS_OK && fill(be, &x, rank) == NS_OK &&
        ns_dist_device_allreduce(be, &f, NBUF, b, sizes, 1.0f) == NS_OK) {
        double exact = check(be, &x, size, 1.0f);
        /* The sums are back on every rank: scale them by 1/size. */
        float s = 1.0f / (float)size;
        if (ns_dist_device_allreduce(be, &f, NBUF, b, sizes, s) == NS_OK) {
            /* Second pass summed `size` copies of the sum and scaled: sum * size * s. */
            double scaled = check(be, &x, size, (float)size * s);
            printf("rank %d of %d: %s path, exact error %g, scaled error %g\n", rank, size,
                   be->dist_attached ? "device" : "host", exact, scaled);
            rc = exact == 0 && scaled >= 0 && scaled <= 1e-2 ? 0 : 1;
        }
    }
    if (rc)
        fprintf(stderr, "rank %d: %s\n", rank, ns_last_error());
    if (be)
        release(be, &x);
    ns_dist_fusion_free(&f);
    ns_backend_close(be);
    if (rc && size > 1)
        ns_dist_abort(rc, "device all-reduce check failed");
    ns_dist_finalize();
    return rc;
}

static char self_path[4096];

static void run_ranks(int ranks, const char *mode, const char *expect)
{
    const char *why = mpi_run_unavailable();
    if (why) {
        print_message("skipped: %s\n", why);
        skip();
    }
    char args[4200], log[600];
    const char *tmp = getenv("NS_TEST_TMP");
    snprintf(log, sizeof log, "%s/dist-device-%ld.log", tmp && *tmp ? tmp : "/tmp", (long)getpid());
    snprintf(args, sizeof args, "'%s' --child %s", self_path, mode);
    int rc = mpi_run(ranks, args, log);
    FILE *fp = fopen(log, "r");
    char text[8192] = "";
    size_t n = fp ? fread(text, 1, sizeof text - 1, fp) : 0;
    text[n] = '\0';
    if (fp)
        fclose(fp);
    unlink(log);
    if (rc != 0)
        fail_msg("mpirun -np %d: exit %d\n%s", ranks, rc, text);
    for (int r = 0; r < ranks; r++) {
        char want[96];
        snprintf(want, sizeof want, "rank %d of %d: %s", r, ranks, expect);
        if (!strstr(text, want))
            fail_msg("no '%s' in:\n%s", want, text);
    }
}

static void test_host_path_two_ranks(void **state)
{
    (void)state;
    run_ranks(2, "ref", "host path, exact error 0,");
}

static void test_host_path_three_ranks(void **state)
{
    (void)state;
    run_ranks(3, "ref", "host path, exact error 0,");
}

/* The training step's gradient all-reduce takes a backend's device slot once
 * every rank attached (a test double of NCCL on ref), one call per step. */
static void test_grad_allreduce_takes_the_device_slot(void **state)
{
    (void)state;
    run_ranks(3, "fake", "grad_allreduce device calls 2, error 0\n");
}

/* One process: attach keeps the host path; the all-reduce only scales. */
static void test_single_process_scales(void **state)
{
    (void)state;
    ns_backend_options opt = ns_backend_options_default();
    opt.threads = 1;
    ns_backend *be = NULL;
    assert_int_equal(ns_backend_open("ref", &opt, &be), NS_OK);
    char why[800];
    assert_int_equal(ns_dist_device_attach(be, why, sizeof why), NS_OK);
    assert_int_equal(be->dist_attached, 0);
    bufs x = {{0}};
    ns_dist_fusion f = {0};
    assert_int_equal(fill(be, &x, 0), NS_OK);
    assert_int_equal(ns_dist_device_allreduce(be, &f, NBUF, x.b, sizes, 1.0f), NS_OK);
    assert_true(check(be, &x, 1, 1.0f) == 0);
    assert_null(f.host); /* scale 1, one rank: not even a download */
    assert_int_equal(ns_dist_device_allreduce(be, &f, NBUF, x.b, sizes, 0.5f), NS_OK);
    assert_true(check(be, &x, 1, 0.5f) == 0); /* halving integers is exact */
    release(be, &x);
    ns_dist_fusion_free(&f);
    ns_backend_close(be);
}

/* The three slots come together or not at all, on every backend here; only
 * cuda (built with nccl.h) fills them. */
static void test_backends_fill_all_or_none(void **state)
{
    (void)state;
    const char *names[] = {"ref", "cpu", "opencl", "cuda"};
    int opened = 0;
    for (size_t i = 0; i < sizeof names / sizeof *names; i++) {
        ns_backend_options opt = ns_backend_options_default();
        opt.threads = 1;
        ns_backend *be = NULL;
        if (ns_backend_open(names[i], &opt, &be) != NS_OK) {
            print_message("note: %s not available here: %s\n", names[i], ns_last_error());
            continue;
        }
        opened++;
        const int n = (be->api->dist_unique_id != NULL) + (be->api->dist_attach != NULL) +
                      (be->api->allreduce_sum != NULL);
        if (strcmp(names[i], "cuda") != 0 && n != 0)
            fail_msg("%s fills %d of the device all-reduce slots; only cuda has a device collective", names[i], n);
        if (n != 0 && n != 3)
            fail_msg("%s fills %d of 3 device all-reduce slots", names[i], n);
        ns_backend_close(be);
    }
    assert_true(opened >= 1);
}

/* cuda + NCCL with one rank: the communicator of one, the slots called
 * directly; a sum over one rank is the buffer itself, scaled. */
static void test_cuda_nccl_one_rank(void **state)
{
    (void)state;
    ns_backend_options opt = ns_backend_options_default();
    ns_backend *be = NULL;
    if (ns_backend_open("cuda", &opt, &be) != NS_OK) {
        print_message("skipped: cuda backend not available: %s\n", ns_last_error());
        skip();
    }
    if (!be->api->allreduce_sum) {
        ns_backend_close(be);
        print_message("skipped: cuda built without nccl.h: no device all-reduce\n");
        skip();
    }
    unsigned char id[1024];
    size_t id_bytes = 0;
    ns_status st = be->api->dist_unique_id(be->ctx, id, sizeof id, &id_bytes);
    if (st == NS_ERR_UNSUPPORTED) {
        ns_backend_close(be);
        print_message("skipped: %s\n", ns_last_error());
        skip();
    }
    assert_int_equal(st, NS_OK);
    assert_true(id_bytes > 0 && id_bytes <= sizeof id);
    bufs x = {{0}};
    assert_int_equal(fill(be, &x, 0), NS_OK);
    /* before attach: refused, buffers untouched */
    assert_int_equal(be->api->allreduce_sum(be->ctx, NBUF, x.b, sizes, 1.0f), NS_ERR_INVALID_ARG);
    assert_int_equal(be->api->dist_attach(be->ctx, 0, 1, id, id_bytes), NS_OK);
    assert_int_equal(be->api->allreduce_sum(be->ctx, NBUF, x.b, sizes, 1.0f), NS_OK);
    assert_true(check(be, &x, 1, 1.0f) == 0);
    assert_int_equal(be->api->allreduce_sum(be->ctx, NBUF, x.b, sizes, 0.25f), NS_OK);
    double err = check(be, &x, 1, 0.25f);
    if (!(err >= 0 && err <= 1e-4))
        fail_msg("NCCL pre-multiplied sum off by %g", err);
    /* a second attach on the same context is refused */
    assert_int_equal(be->api->dist_attach(be->ctx, 0, 1, id, id_bytes), NS_ERR_INVALID_ARG);
    release(be, &x);
    ns_backend_close(be);
}

int main(int argc, char **argv)
{
    if (argc > 1 && strcmp(argv[1], "--child") == 0)
        return child(argc, argv);
    if (!realpath(argv[0], self_path))
        snprintf(self_path, sizeof self_path, "%s", argv[0]);
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_single_process_scales),
        cmocka_unit_test(test_backends_fill_all_or_none),
        cmocka_unit_test(test_host_path_two_ranks),
        cmocka_unit_test(test_host_path_three_ranks),
        cmocka_unit_test(test_grad_allreduce_takes_the_device_slot),
        cmocka_unit_test(test_cuda_nccl_one_rank),
    };
    return cmocka_run_group_tests_name("dist_device", tests, NULL, NULL);
}
