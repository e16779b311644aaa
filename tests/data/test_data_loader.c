/* The threaded batch loader: coverage, determinism across thread counts,
 * target routing, failures and early teardown. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <cmocka.h>

#include <stdlib.h>
#include <string.h>

#include "data/loader.h"
#include "data/normalize.h"
#include "util/error.h"

#define N_IMAGES 203
#define CLASSES 7

static ns_dataset make_set(void)
{
    ns_dataset d;
    assert_int_equal(ns_dataset_alloc(&d, N_IMAGES, 8, 6, 3), NS_OK);
    for (size_t i = 0; i < d.n; i++) {
        d.labels[i] = (int32_t)(i % CLASSES);
        uint8_t *img = ns_dataset_image(&d, i);
        for (size_t k = 0; k < ns_dataset_image_bytes(&d); k++)
            img[k] = (uint8_t)((i * 131 + k * 17 + (k * k) % 13) & 255);
    }
    ns_dataset_count_classes(&d);
    return d;
}

/* Extra noise in the style of a RandAugment op: adds rng-drawn offsets. */
static ns_status add_noise(void *user, ns_image *img, uint8_t *scratch, ns_rng *rng)
{
    (void)scratch;
    const uint32_t *fail_on = user;
    size_t n = (size_t)img->width * (size_t)img->height * (size_t)img->channels;
    if (fail_on && img->data[0] == *fail_on)
        return ns_fail(NS_ERR_NUMERIC, "add_noise: refusing pixel value %u", *fail_on);
    for (size_t k = 0; k < n; k += 5)
        img->data[k] = (uint8_t)(img->data[k] + ns_rng_below(rng, 16));
    return NS_OK;
}

static ns_loader_config base_config(const ns_dataset *d, const uint32_t *idx, size_t count)
{
    static const float mean[3] = {0.4f, 0.5f, 0.6f}, std[3] = {0.2f, 0.25f, 0.3f};
    ns_loader_config c;
    memset(&c, 0, sizeof c);
    c.data = d;
    c.indices = idx;
    c.count = count;
    c.batch = 16;
    c.shuffle = 1;
    c.seed = 1234;
    c.threads = 2;
    c.pad_crop = 1;
    c.flip = 1;
    c.mean = mean;
    c.std = std;
    return c;
}

/* Everything one epoch produced, concatenated. */
typedef struct epoch_dump {
    float *x, *t;
    int32_t *labels;
    uint32_t *index;
    size_t n, batches;
} epoch_dump;

static epoch_dump run_epoch(ns_loader *l, int epoch, const ns_dataset *d, int classes)
{
    size_t chw = ns_dataset_image_bytes(d);
    epoch_dump e = {0};
    e.x = calloc(N_IMAGES * 2 * chw, sizeof(float));
    e.t = calloc(N_IMAGES * 2 * (size_t)classes, sizeof(float));
    e.labels = calloc(N_IMAGES * 2, sizeof(int32_t));
    e.index = calloc(N_IMAGES * 2, sizeof(uint32_t));
    assert_int_equal(ns_loader_start_epoch(l, epoch), NS_OK);
    ns_batch *b;
    for (;;) {
        assert_int_equal(ns_loader_next(l, &b), NS_OK);
        if (!b)
            break;
        assert_int_equal(b->number, e.batches);
        assert_int_equal(b->classes, classes);
        memcpy(e.x + e.n * chw, b->x, (size_t)b->n * chw * sizeof(float));
        memcpy(e.t + e.n * (size_t)classes, b->targets, (size_t)b->n * (size_t)classes * sizeof(float));
        memcpy(e.labels + e.n, b->labels, (size_t)b->n * sizeof(int32_t));
        memcpy(e.index + e.n, b->index, (size_t)b->n * sizeof(uint32_t));
        e.n += (size_t)b->n;
        e.batches++;
        ns_loader_release(l, b);
    }
    /* Stays at the end until the next start_epoch. */
    assert_int_equal(ns_loader_next(l, &b), NS_OK);
    assert_null(b);
    return e;
}

static void dump_free(epoch_dump *e)
{
    free(e->x);
    free(e->t);
    free(e->labels);
    free(e->index);
}

static void every_index_once(void **state)
{
    (void)state;
    ns_dataset d = make_set();
    uint32_t idx[N_IMAGES];
    for (uint32_t i = 0; i < N_IMAGES; i++)
        idx[i] = i;
    ns_loader_config cfg = base_config(&d, idx, N_IMAGES);
    ns_loader *l;
    assert_int_equal(ns_loader_create(&cfg, &l), NS_OK);
    assert_int_equal(ns_loader_batches_per_epoch(l), 13);
    for (int epoch = 0; epoch < 2; epoch++) {
        epoch_dump e = run_epoch(l, epoch, &d, CLASSES);
        assert_int_equal(e.n, N_IMAGES);
        assert_int_equal(e.batches, 13);
        int seen[N_IMAGES] = {0};
        int in_order = 1;
        for (size_t k = 0; k < e.n; k++) {
            seen[e.index[k]]++;
            in_order &= e.index[k] == k;
            assert_int_equal(e.labels[k], d.labels[e.index[k]]);
            for (int c = 0; c < CLASSES; c++) /* one-hot from labels when targets is NULL */
                assert_true(e.t[k * CLASSES + (size_t)c] == (c == d.labels[e.index[k]] ? 1.0f : 0.0f));
        }
        for (int i = 0; i < N_IMAGES; i++)
            assert_int_equal(seen[i], 1);
        assert_false(in_order);
        dump_free(&e);
    }
    ns_loader_destroy(l);
    /* drop_last drops the partial batch. */
    cfg.drop_last = 1;
    assert_int_equal(ns_loader_create(&cfg, &l), NS_OK);
    epoch_dump e = run_epoch(l, 0, &d, CLASSES);
    assert_int_equal(e.n, 192);
    assert_int_equal(e.batches, 12);
    dump_free(&e);
    ns_loader_destroy(l);
    ns_dataset_free(&d);
}

static void identical_across_thread_counts(void **state)
{
    (void)state;
    ns_dataset d = make_set();
    uint32_t idx[N_IMAGES];
    for (uint32_t i = 0; i < N_IMAGES; i++)
        idx[i] = (i * 37) % N_IMAGES;
    idx[5] = idx[6]; /* a repeated image still gets its own noise */
    size_t chw = ns_dataset_image_bytes(&d);
    epoch_dump ref[2];
    const int threads[3] = {1, 2, 4};
    for (int ti = 0; ti < 3; ti++) {
        ns_loader_config cfg = base_config(&d, idx, N_IMAGES);
        cfg.threads = threads[ti];
        cfg.batch = 10;
        cfg.augment = add_noise;
        ns_loader *l;
        assert_int_equal(ns_loader_create(&cfg, &l), NS_OK);
        for (int epoch = 0; epoch < 2; epoch++) {
            epoch_dump e = run_epoch(l, epoch + 3, &d, CLASSES);
            assert_int_equal(e.n, N_IMAGES);
            if (ti == 0) {
                ref[epoch] = e;
                continue;
            }
            assert_memory_equal(e.index, ref[epoch].index, e.n * sizeof(uint32_t));
            assert_memory_equal(e.x, ref[epoch].x, e.n * chw * sizeof(float));
            assert_memory_equal(e.t, ref[epoch].t, e.n * CLASSES * sizeof(float));
            dump_free(&e);
        }
        ns_loader_stats st = ns_loader_get_stats(l);
        assert_int_equal(st.batches, 2 * 21);
        assert_true(st.waits <= st.batches && st.wait_seconds >= 0.0);
        ns_loader_destroy(l);
    }
    /* Epochs differ in order and in noise. */
    assert_memory_not_equal(ref[0].index, ref[1].index, N_IMAGES * sizeof(uint32_t));
    /* The duplicated image (positions 5 and 6) was augmented differently. */
    ns_loader_config cfg = base_config(&d, idx, N_IMAGES);
    cfg.shuffle = 0;
    cfg.augment = add_noise;
    ns_loader *l;
    assert_int_equal(ns_loader_create(&cfg, &l), NS_OK);
    epoch_dump plain = run_epoch(l, 0, &d, CLASSES);
    ns_loader_destroy(l);
    for (size_t k = 0; k < plain.n; k++)
        assert_int_equal(plain.index[k], idx[k]);
    assert_int_equal(plain.index[5], plain.index[6]);
    assert_memory_not_equal(plain.x + 5 * chw, plain.x + 6 * chw, chw * sizeof(float));
    dump_free(&plain);
    dump_free(&ref[0]);
    dump_free(&ref[1]);
    ns_dataset_free(&d);
}

static void targets_routed_and_plain_pixels(void **state)
{
    (void)state;
    ns_dataset d = make_set();
    d.labels[9] = -1;
    /* A subset in a scrambled order with targets that encode their row. */
    enum { COUNT = 50, K = 3 };
    uint32_t idx[COUNT];
    float targets[COUNT * K];
    for (int i = 0; i < COUNT; i++) {
        idx[i] = (uint32_t)((i * 11 + 9) % N_IMAGES);
        for (int k = 0; k < K; k++)
            targets[i * K + k] = (float)(i * 100 + k);
    }
    ns_loader_config cfg = base_config(&d, idx, COUNT);
    cfg.targets = targets;
    cfg.classes = K;
    cfg.pad_crop = 0;
    cfg.flip = 0;
    cfg.threads = 3;
    cfg.batch = 7;
    ns_loader *l;
    assert_int_equal(ns_loader_create(&cfg, &l), NS_OK);
    epoch_dump e = run_epoch(l, 0, &d, K);
    size_t chw = ns_dataset_image_bytes(&d);
    float *want = malloc(chw * sizeof(float));
    int saw_unknown = 0;
    for (size_t j = 0; j < e.n; j++) {
        int row = (int)(e.t[j * K] / 100.0f);
        assert_true(row >= 0 && row < COUNT);
        assert_int_equal(e.index[j], idx[row]);
        for (int k = 0; k < K; k++)
            assert_true(e.t[j * K + (size_t)k] == targets[row * K + k]);
        assert_int_equal(e.labels[j], d.labels[idx[row]]);
        saw_unknown |= e.labels[j] == -1;
        /* No noise: x is exactly the normalised image. */
        ns_image_to_chw(ns_dataset_image(&d, idx[row]), d.h, d.w, d.c, cfg.mean, cfg.std, want);
        assert_memory_equal(e.x + j * chw, want, chw * sizeof(float));
    }
    assert_true(saw_unknown);
    free(want);
    dump_free(&e);
    ns_loader_destroy(l);
    ns_dataset_free(&d);
}

static void augment_failure_is_reported(void **state)
{
    (void)state;
    ns_dataset d = make_set();
    uint32_t idx[N_IMAGES];
    for (uint32_t i = 0; i < N_IMAGES; i++)
        idx[i] = i;
    ns_loader_config cfg = base_config(&d, idx, N_IMAGES);
    cfg.pad_crop = 0;
    cfg.flip = 0;
    uint32_t fail_on = ns_dataset_image(&d, 150)[0];
    cfg.augment = add_noise;
    cfg.augment_user = &fail_on;
    ns_loader *l;
    assert_int_equal(ns_loader_create(&cfg, &l), NS_OK);
    for (int round = 0; round < 2; round++) {
        assert_int_equal(ns_loader_start_epoch(l, round), NS_OK);
        ns_status st = NS_OK;
        ns_batch *b = NULL;
        int got = 0;
        while ((st = ns_loader_next(l, &b)) == NS_OK && b) {
            got++;
            ns_loader_release(l, b);
        }
        assert_int_equal(st, NS_ERR_NUMERIC);
        assert_null(b);
        assert_non_null(strstr(ns_last_error(), "refusing pixel value"));
        assert_non_null(strstr(ns_last_error(), "loader: augmenting image"));
        assert_true(got < 13);
        /* The failure repeats until the next epoch starts. */
        assert_int_equal(ns_loader_next(l, &b), NS_ERR_NUMERIC);
    }
    ns_loader_destroy(l);
    ns_dataset_free(&d);
}

static void misuse_and_early_destroy(void **state)
{
    (void)state;
    ns_dataset d = make_set();
    uint32_t idx[N_IMAGES];
    for (uint32_t i = 0; i < N_IMAGES; i++)
        idx[i] = i;
    ns_loader_config cfg = base_config(&d, idx, N_IMAGES);
    ns_loader *l;
    /* Bad configs name the field. */
    cfg.batch = 0;
    assert_int_equal(ns_loader_create(&cfg, &l), NS_ERR_INVALID_ARG);
    assert_non_null(strstr(ns_last_error(), "batch"));
    cfg.batch = 8;
    idx[3] = N_IMAGES;
    assert_int_equal(ns_loader_create(&cfg, &l), NS_ERR_INVALID_ARG);
    assert_non_null(strstr(ns_last_error(), "indices[3]"));
    idx[3] = 3;
    /* Destroy before any epoch. */
    assert_int_equal(ns_loader_create(&cfg, &l), NS_OK);
    ns_batch *b;
    assert_int_equal(ns_loader_next(l, &b), NS_ERR_INVALID_ARG);
    ns_loader_destroy(l);
    /* Holding more than prefetch batches is an error, not a deadlock. */
    cfg.prefetch = 2;
    assert_int_equal(ns_loader_create(&cfg, &l), NS_OK);
    assert_int_equal(ns_loader_start_epoch(l, 0), NS_OK);
    ns_batch *b1, *b2;
    assert_int_equal(ns_loader_next(l, &b1), NS_OK);
    assert_int_equal(ns_loader_next(l, &b2), NS_OK);
    assert_int_equal(ns_loader_next(l, &b), NS_ERR_INVALID_ARG);
    assert_non_null(strstr(ns_last_error(), "release"));
    /* Restarting an epoch while holding batches is refused. */
    assert_int_equal(ns_loader_start_epoch(l, 1), NS_ERR_INVALID_ARG);
    ns_loader_release(l, b1);
    ns_loader_release(l, b2);
    /* Restart mid-epoch gives the same batches as a fresh start. */
    assert_int_equal(ns_loader_start_epoch(l, 0), NS_OK);
    assert_int_equal(ns_loader_next(l, &b), NS_OK);
    uint32_t first[8];
    memcpy(first, b->index, sizeof first);
    ns_loader_release(l, b);
    assert_int_equal(ns_loader_start_epoch(l, 0), NS_OK);
    assert_int_equal(ns_loader_next(l, &b), NS_OK);
    assert_memory_equal(first, b->index, sizeof first);
    /* Destroy mid-epoch with a batch still held and workers busy. */
    ns_loader_destroy(l);
    cfg.prefetch = 0;
    cfg.threads = 4;
    assert_int_equal(ns_loader_create(&cfg, &l), NS_OK);
    assert_int_equal(ns_loader_start_epoch(l, 2), NS_OK);
    ns_loader_destroy(l);
    ns_dataset_free(&d);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(every_index_once),
        cmocka_unit_test(identical_across_thread_counts),
        cmocka_unit_test(targets_routed_and_plain_pixels),
        cmocka_unit_test(augment_failure_is_reported),
        cmocka_unit_test(misuse_and_early_destroy),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
