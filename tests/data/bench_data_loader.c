/* Loader throughput: how many batches per second the worker threads deliver
 * when the consumer does nothing, against the same work done inline in one
 * thread (the reference measured in the same run).
 *
 *   bench_data_loader [spec=fashion-mnist] [threads=2] [batch=128] [epochs=2]
 *
 * Prints batches/s and images/s for the inline reference and the loader, the
 * ratio, and the consumer's total wait. Pad-crop and flip are on. */
#include <stdio.h>
#include <stdlib.h>
#include <time.h>

#include "data/light_augment.h"
#include "data/loader.h"
#include "data/normalize.h"
#include "data/source.h"
#include "util/error.h"

static double now(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + 1e-9 * (double)ts.tv_nsec;
}

int main(int argc, char **argv)
{
    const char *spec = argc > 1 ? argv[1] : "fashion-mnist";
    int threads = argc > 2 ? atoi(argv[2]) : 2;
    int batch = argc > 3 ? atoi(argv[3]) : 128;
    int epochs = argc > 4 ? atoi(argv[4]) : 2;
    ns_dataset d;
    double t0 = now();
    if (ns_dataset_open(spec, 1, &d) != NS_OK) {
        fprintf(stderr, "bench_data_loader: %s\n", ns_last_error());
        return 1;
    }
    double t_load = now() - t0;
    float mean[3], std[3];
    if (ns_normalize_stats(&d, NULL, mean, std) != NS_OK) {
        fprintf(stderr, "bench_data_loader: %s\n", ns_last_error());
        return 1;
    }
    ns_index_list all;
    if (ns_index_list_range(&all, d.n) != NS_OK)
        return 1;
    printf("dataset %s: %zu images %dx%dx%d, loaded in %.2f s\n", d.source, d.n, d.h, d.w, d.c, t_load);

    /* Reference: the same per-image work inline (no shuffle cost, one thread). */
    size_t bytes = ns_dataset_image_bytes(&d);
    uint8_t *img = malloc(bytes), *scratch = malloc(bytes);
    float *x = malloc((size_t)batch * bytes * sizeof(float));
    t0 = now();
    size_t inline_batches = 0;
    for (size_t first = 0; first < d.n; first += (size_t)batch, inline_batches++)
        for (size_t k = first; k < d.n && k < first + (size_t)batch; k++) {
            for (size_t b = 0; b < bytes; b++)
                img[b] = ns_dataset_image(&d, k)[b];
            ns_image im = {img, d.w, d.h, d.c};
            ns_rng rng = ns_rng_make(1, k);
            ns_light_augment(&im, scratch, 1, 1, &rng);
            ns_image_to_chw(img, d.h, d.w, d.c, mean, std, x + (k - first) * bytes);
        }
    double t_inline = now() - t0;

    ns_loader_config cfg = {0};
    cfg.data = &d;
    cfg.indices = all.idx;
    cfg.count = all.n;
    cfg.batch = batch;
    cfg.shuffle = 1;
    cfg.seed = 7;
    cfg.threads = threads;
    cfg.pad_crop = 1;
    cfg.flip = 1;
    cfg.mean = mean;
    cfg.std = std;
    ns_loader *l;
    if (ns_loader_create(&cfg, &l) != NS_OK) {
        fprintf(stderr, "bench_data_loader: %s\n", ns_last_error());
        return 1;
    }
    size_t batches = 0;
    double checksum = 0;
    t0 = now();
    for (int e = 0; e < epochs; e++) {
        ns_batch *b;
        if (ns_loader_start_epoch(l, e) != NS_OK)
            return 1;
        while (ns_loader_next(l, &b) == NS_OK && b) {
            checksum += b->x[0];
            batches++;
            ns_loader_release(l, b);
        }
    }
    double t_loader = now() - t0;
    ns_loader_stats st = ns_loader_get_stats(l);
    printf("inline (1 thread):   %8.1f batches/s %9.0f images/s\n", (double)inline_batches / t_inline,
           (double)d.n / t_inline);
    printf("loader (%d threads): %8.1f batches/s %9.0f images/s  (%.2fx inline; batch %d, %d epochs, "
           "consumer waited %.2f s of %.2f s)\n",
           threads, (double)batches / t_loader, (double)batches * batch / t_loader,
           ((double)batches / t_loader) / ((double)inline_batches / t_inline), batch, epochs, st.wait_seconds,
           t_loader);
    (void)checksum;
    ns_loader_destroy(l);
    free(img);
    free(scratch);
    free(x);
    ns_index_list_free(&all);
    ns_dataset_free(&d);
    return 0;
}
