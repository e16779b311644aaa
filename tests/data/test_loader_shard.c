/* The loader's data-parallel slices (shard_rank/shard_count): for N = 2, 3
 * and 5 ranks and a batch of 16 (uneven for 3 and 5), the N slices of every
 * global batch, put side by side, are the one-process batch bit for bit:
 * the same images in the same order with the same augmentation (pad-crop,
 * flip and an rng-drawn extra noise), targets and labels; slice sizes differ
 * by at most one and start where the previous ended (global_row); the batch
 * count per epoch is N's no matter the rank; a batch smaller than N is
 * refused. One process: the slicing is all in the loader. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <cmocka.h>

#include <stdlib.h>
#include <string.h>

#include "data/loader.h"
#include "util/error.h"

#define N_IMAGES 203 /* 12 full batches of 16 and a partial one of 11 */
#define BATCH 16

static ns_dataset make_set(void)
{
    ns_dataset d;
    assert_int_equal(ns_dataset_alloc(&d, N_IMAGES, 8, 6, 3), NS_OK);
    for (size_t i = 0; i < d.n; i++) {
        d.labels[i] = (int32_t)(i % 5);
        uint8_t *img = ns_dataset_image(&d, i);
        for (size_t k = 0; k < ns_dataset_image_bytes(&d); k++)
            img[k] = (uint8_t)((i * 131 + k * 17 + (k * k) % 13) & 255);
    }
    ns_dataset_count_classes(&d);
    return d;
}

static ns_status noise(void *user, ns_image *img, uint8_t *scratch, ns_rng *rng)
{
    (void)user;
    (void)scratch;
    size_t n = (size_t)img->width * (size_t)img->height * (size_t)img->channels;
    for (size_t k = 0; k < n; k += 3)
        img->data[k] = (uint8_t)(img->data[k] + ns_rng_below(rng, 32));
    return NS_OK;
}

static ns_loader *make(const ns_dataset *d, const uint32_t *idx, int rank, int count)
{
    ns_loader_config c;
    memset(&c, 0, sizeof c);
    c.data = d;
    c.indices = idx;
    c.count = N_IMAGES;
    c.batch = BATCH;
    c.shuffle = 1;
    c.seed = 99;
    c.threads = 2;
    c.pad_crop = 1;
    c.flip = 1;
    c.augment = noise;
    c.shard_rank = rank;
    c.shard_count = count;
    ns_loader *l = NULL;
    assert_int_equal(ns_loader_create(&c, &l), NS_OK);
    return l;
}

static void slices_make_the_batch(void **state)
{
    (void)state;
    ns_dataset d = make_set();
    uint32_t idx[N_IMAGES];
    for (uint32_t i = 0; i < N_IMAGES; i++)
        idx[i] = (N_IMAGES - 1 - i) * 7 % N_IMAGES; /* a permutation, so positions differ from indices */
    const size_t chw = ns_dataset_image_bytes(&d);
    const int counts[] = {2, 3, 5};
    ns_loader *one = make(&d, idx, 0, 0);
    for (int epoch = 0; epoch < 2; epoch++)
        for (size_t ci = 0; ci < sizeof counts / sizeof *counts; ci++) {
            const int n = counts[ci];
            ns_loader *part[5];
            for (int r = 0; r < n; r++) {
                part[r] = make(&d, idx, r, n);
                assert_int_equal(ns_loader_batches_per_epoch(part[r]), ns_loader_batches_per_epoch(one));
                assert_int_equal(ns_loader_start_epoch(part[r], epoch), NS_OK);
            }
            assert_int_equal(ns_loader_start_epoch(one, epoch), NS_OK);
            for (;;) {
                ns_batch *whole = NULL;
                assert_int_equal(ns_loader_next(one, &whole), NS_OK);
                int row = 0;
                for (int r = 0; r < n; r++) {
                    ns_batch *b = NULL;
                    assert_int_equal(ns_loader_next(part[r], &b), NS_OK);
                    assert_true(!b == !whole);
                    if (!b)
                        continue;
                    assert_int_equal(b->global_n, whole->n);
                    assert_int_equal(b->global_row, row);
                    assert_true(b->n == whole->n / n || b->n == whole->n / n + 1);
                    assert_memory_equal(b->x, whole->x + (size_t)row * chw, (size_t)b->n * chw * sizeof(float));
                    assert_memory_equal(b->targets, whole->targets + (size_t)row * whole->classes,
                                        (size_t)b->n * whole->classes * sizeof(float));
                    assert_memory_equal(b->labels, whole->labels + row, (size_t)b->n * sizeof(int32_t));
                    row += b->n;
                    ns_loader_release(part[r], b);
                }
                if (!whole)
                    break;
                assert_int_equal(row, whole->n);
                ns_loader_release(one, whole);
            }
            for (int r = 0; r < n; r++)
                ns_loader_destroy(part[r]);
        }
    ns_loader_destroy(one);
    ns_dataset_free(&d);
}

static void batch_smaller_than_ranks_refused(void **state)
{
    (void)state;
    ns_dataset d = make_set();
    uint32_t idx[N_IMAGES];
    for (uint32_t i = 0; i < N_IMAGES; i++)
        idx[i] = i;
    ns_loader_config c;
    memset(&c, 0, sizeof c);
    c.data = &d;
    c.indices = idx;
    c.count = N_IMAGES;
    c.batch = 4;
    c.shard_rank = 0;
    c.shard_count = 5;
    ns_loader *l = NULL;
    assert_int_equal(ns_loader_create(&c, &l), NS_ERR_INVALID_ARG);
    assert_non_null(strstr(ns_last_error(), "at least 5"));
    c.shard_count = 4;
    c.shard_rank = 4;
    assert_int_equal(ns_loader_create(&c, &l), NS_ERR_INVALID_ARG);
    ns_dataset_free(&d);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(slices_make_the_batch),
        cmocka_unit_test(batch_smaller_than_ranks_refused),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
