/* Sharded labeling (issue 13): `mpirun -np N noisystudent label` writes the
 * same label file, byte for byte, as one process, for N = 1, 2 and 3 (3 does
 * not divide the batches evenly), on the checkpoint's withheld pool and on a
 * whole dataset whose two batches leave one of three ranks without work; and
 * every batch was labeled once over all ranks (the fault trace); also with
 * test-time augmentation (--tta flip, flip+crops). Skips
 * visibly without mpirun or an MPI build. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <cmocka.h>

#include "mpi_run.h"
#include "nn/model.h"
#include "nn/model_spec.h"
#include "plugin/backend_loader.h"
#include "selftrain/label_shard.h"
#include "train/checkpoint.h"
#include "util/error.h"

enum { N = 100, K = 3, S = 8, PER_CLASS = 2, SPLIT_SEED = 5 };

typedef struct fixture {
    char images[512], labels[512], ckpt[512], spec[1100];
} fixture;

static const char *tmp_path(char *buf, size_t len, const char *name)
{
    const char *tmp = getenv("NS_TEST_TMP");
    snprintf(buf, len, "%s/dist-label-%ld-%s", tmp && *tmp ? tmp : "/tmp", (long)getpid(), name);
    return buf;
}

static void be32(unsigned char *p, uint32_t v)
{
    p[0] = (unsigned char)(v >> 24), p[1] = (unsigned char)(v >> 16), p[2] = (unsigned char)(v >> 8),
    p[3] = (unsigned char)v;
}

static int write_file(const char *path, const void *b, size_t n)
{
    FILE *f = fopen(path, "wb");
    int bad = !f || fwrite(b, 1, n, f) != n;
    if (f)
        bad |= fclose(f) != 0;
    return bad;
}

static int setup(void **state)
{
    fixture *f = calloc(1, sizeof *f);
    *state = f;
    tmp_path(f->images, sizeof f->images, "images-idx3-ubyte");
    tmp_path(f->labels, sizeof f->labels, "labels-idx1-ubyte");
    tmp_path(f->ckpt, sizeof f->ckpt, "teacher.safetensors");
    snprintf(f->spec, sizeof f->spec, "idx:%s,%s", f->images, f->labels);
    static unsigned char img[16 + N * S * S], lab[8 + N];
    be32(img, 0x803), be32(img + 4, N), be32(img + 8, S), be32(img + 12, S);
    be32(lab, 0x801), be32(lab + 4, N);
    for (int i = 0; i < N; i++) {
        lab[8 + i] = (unsigned char)(i % K);
        for (int p = 0; p < S * S; p++)
            img[16 + i * S * S + p] = (unsigned char)((p * 37 + i * 101) % 200 + (p / S == i % K ? 50 : 0));
    }
    if (write_file(f->images, img, sizeof img) || write_file(f->labels, lab, sizeof lab))
        return -1;
    ns_backend *be = NULL;
    ns_backend_options opt = ns_backend_options_default();
    ns_model_spec spec;
    ns_model *m = NULL;
    ns_ckpt_info info;
    memset(&info, 0, sizeof info);
    info.mean[0] = 0.4f;
    info.std[0] = 0.3f;
    snprintf(info.config, sizeof info.config, "{\"data\": \"%s\", \"labels_per_class\": %d, \"split_seed\": %d}",
             f->spec, PER_CLASS, SPLIT_SEED);
    int bad = ns_backend_open("ref", &opt, &be) != NS_OK || ns_model_spec_parse("resnet8:width=4", &spec) != NS_OK ||
              ns_model_create(be, &spec, 1, S, S, K, &m) != NS_OK || ns_model_init(m, 11) != NS_OK ||
              ns_checkpoint_save(f->ckpt, m, NULL, &info) != NS_OK;
    if (bad)
        fprintf(stderr, "setup: %s\n", ns_last_error());
    ns_model_destroy(m);
    ns_backend_close(be);
    return bad ? -1 : 0;
}

static int teardown(void **state)
{
    fixture *f = *state;
    unlink(f->images);
    unlink(f->labels);
    unlink(f->ckpt);
    free(f);
    return 0;
}

static unsigned char *slurp(const char *path, size_t *n)
{
    FILE *f = fopen(path, "rb");
    if (!f)
        return NULL;
    unsigned char *b = malloc(1 << 20);
    *n = b ? fread(b, 1, 1 << 20, f) : 0;
    fclose(f);
    return b;
}

/* Labels `src` with `ranks` ranks (0: no launcher) into a file named after
 * tag; returns the path in out. Fails the test when the run fails. */
static void label(const fixture *f, int ranks, const char *src, int batch, const char *tta, const char *tag,
                  char *out, size_t cap, char *log, size_t logcap)
{
    char args[4096];
    tmp_path(out, cap, tag);
    tmp_path(log, logcap, "log");
    snprintf(args, sizeof args, "'%s' label --backend ref --threads 1 --model '%s' --unlabeled '%s' "
             "--batch %d --tta %s --out '%s'", NS_CLI_PATH, f->ckpt, src, batch, tta, out);
    int rc = mpi_run(ranks, args, log);
    if (rc != 0) {
        size_t n = 0;
        unsigned char *b = slurp(log, &n);
        fail_msg("%d ranks: exit %d: %.*s", ranks, rc, (int)(n > 2000 ? 2000 : n), b ? (char *)b : "");
    }
}

/* The fault trace (util/fault_point.h), which every rank appends to, holds
 * one "label:batch" line per forward: exactly the single process's count of
 * batches, so each batch was labeled once in all, not once per rank. */
static void assert_batches_once(const char *trace, size_t count, int batch)
{
    size_t n = 0, lines = 0;
    unsigned char *b = slurp(trace, &n);
    assert_non_null(b);
    for (const char *p = (const char *)b; (p = memmem(p, n - (size_t)(p - (const char *)b), "label:batch", 11));
         p += 11)
        lines++;
    free(b);
    const size_t want = (count + (size_t)batch - 1) / (size_t)batch;
    if (lines != want)
        fail_msg("%zu forwards of the labeler over all ranks, one process makes %zu", lines, want);
}

static void assert_same_bytes(const char *a, const char *b)
{
    size_t na = 0, nb = 0;
    unsigned char *x = slurp(a, &na), *y = slurp(b, &nb);
    assert_non_null(x);
    assert_non_null(y);
    assert_true(na > 64);
    if (na != nb || memcmp(x, y, na) != 0) {
        size_t i = 0;
        while (i < na && i < nb && x[i] == y[i])
            i++;
        fail_msg("%s (%zu bytes) and %s (%zu bytes) differ from byte %zu", a, na, b, nb, i);
    }
    free(x);
    free(y);
}

static void need_mpi(void)
{
    const char *why = mpi_run_unavailable();
    if (why) {
        print_message("skipped: %s\n", why);
        skip();
    }
}

static void check_source(const fixture *f, const char *src, size_t count, int batch, const char *tta)
{
    char one[600], many[600], log[600], trace[600];
    label(f, 0, src, batch, tta, "single.nspl", one, sizeof one, log, sizeof log);
    if (strcmp(tta, "none") != 0) { /* the TTA is on record (label_file.h, version 4) */
        size_t n = 0;
        unsigned char *b = slurp(one, &n);
        assert_non_null(b);
        assert_true(n > 8 && b[4] == 4 && memmem(b, n, tta, strlen(tta)));
        free(b);
    }
    tmp_path(trace, sizeof trace, "trace");
    for (int ranks = 1; ranks <= 3; ranks++) {
        char tag[32];
        snprintf(tag, sizeof tag, "np%d.nspl", ranks);
        unlink(trace);
        setenv("NS_FAULT_TRACE", trace, 1);
        label(f, ranks, src, batch, tta, tag, many, sizeof many, log, sizeof log);
        unsetenv("NS_FAULT_TRACE");
        assert_batches_once(trace, count, batch);
        assert_same_bytes(one, many);
        unlink(many);
    }
    unlink(trace);
    unlink(one);
    unlink(log);
}

/* The pool: 100 - 3*2 = 94 images in batches of 7 (14 batches: 7+7, 4+5+5). */
static void test_pool_same_bytes_on_1_2_3_ranks(void **state)
{
    need_mpi();
    check_source(*state, "pool", N - K * PER_CLASS, 7, "none");
}

/* label --tta flip and flip+crops: each rank runs the views of its own whole
 * batches, so the mean rows, and the file recording the TTA, are the same
 * bytes on 1, 2 and 3 ranks as in one process. */
static void test_pool_tta_same_bytes_on_1_2_3_ranks(void **state)
{
    need_mpi();
    check_source(*state, "pool", N - K * PER_CLASS, 7, "flip");
    check_source(*state, "pool", N - K * PER_CLASS, 7, "flip+crops");
}

/* A whole dataset in 2 batches of 64: with 3 ranks, rank 0 labels nothing. */
static void test_dataset_with_an_idle_rank(void **state)
{
    need_mpi();
    fixture *f = *state;
    check_source(f, f->spec, N, 64, "none");
}

/* The split itself (no MPI needed): whole batches, contiguous, in rank order,
 * covering [0, count) once, balanced to within one batch. */
static void test_shard_range_tiles(void **state)
{
    (void)state;
    const size_t counts[] = {0, 1, 94, 100, 255, 256, 257, 100000};
    const int batches[] = {1, 7, 64, 256};
    for (size_t c = 0; c < sizeof counts / sizeof *counts; c++)
        for (size_t b = 0; b < sizeof batches / sizeof *batches; b++)
            for (int size = 1; size <= 9; size++) {
                size_t next = 0, min_b = (size_t)-1, max_b = 0;
                const size_t bs = (size_t)batches[b];
                for (int r = 0; r < size; r++) {
                    size_t lo, hi;
                    ns_label_shard_range(counts[c], batches[b], r, size, &lo, &hi);
                    assert_int_equal(lo, next);
                    assert_true(hi >= lo);
                    assert_true(lo % bs == 0);
                    assert_true(hi % bs == 0 || hi == counts[c]);
                    const size_t nb = (hi - lo + bs - 1) / bs;
                    min_b = nb < min_b ? nb : min_b;
                    max_b = nb > max_b ? nb : max_b;
                    next = hi;
                }
                assert_int_equal(next, counts[c]);
                assert_true(max_b - min_b <= 1);
            }
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_shard_range_tiles),
        cmocka_unit_test(test_pool_same_bytes_on_1_2_3_ranks),
        cmocka_unit_test(test_dataset_with_an_idle_rank),
        cmocka_unit_test(test_pool_tta_same_bytes_on_1_2_3_ranks),
    };
    return cmocka_run_group_tests_name("dist_label", tests, setup, teardown);
}
