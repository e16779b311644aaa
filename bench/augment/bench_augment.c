/* Augmentation throughput on one core: images/s of a policy (default
 * randaugment:n=2,m=27) on 32x32x3 images, the same per op, and the ratio
 * against the blog's PIL pipeline (pil_reference.py) measured in the same run
 * when python3 with Pillow is present.
 *
 *   bench_augment [--augment SPEC] [--size WxHxC] [--seconds S] [--no-pil]
 *
 * A program, not a test: it prints numbers. Times are the thread's CPU time
 * (the reference script uses process CPU time too), so the rates are per core. Each image gets its own Philox
 * stream, as the data loader keys them, so the timing includes that cost. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "augment/policy.h"
#include "data/dataset.h"
#include "data/loader.h"
#include "util/error.h"

#ifndef NS_BENCH_AUGMENT_DIR
#define NS_BENCH_AUGMENT_DIR "."
#endif

#define POOL 1024

/* CPU time of this thread: images per CPU-second is images/s per core, and
 * it does not count the time a busy shared machine gives to other work. */
static double now(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_THREAD_CPUTIME_ID, &ts);
    return (double)ts.tv_sec + ts.tv_nsec * 1e-9;
}

typedef struct bench {
    uint8_t *pool, *work, *scratch;
    int w, h, c;
    size_t bytes;
} bench;

/* Runs `one` on fresh copies of pool images for about `seconds`; images/s. */
static double measure(bench *b, double seconds, ns_status (*one)(void *, ns_image *, uint8_t *, ns_rng *),
                      void *user)
{
    uint64_t done = 0;
    double start = now(), elapsed = 0;
    while (elapsed < seconds) {
        for (int i = 0; i < 256; i++, done++) {
            memcpy(b->work, b->pool + (done % POOL) * b->bytes, b->bytes);
            ns_image img = {b->work, b->w, b->h, b->c};
            ns_rng rng = ns_rng_make(1, ns_rng_stream_id(3, 0, done));
            if (one(user, &img, b->scratch, &rng) != NS_OK) {
                fprintf(stderr, "bench_augment: %s\n", ns_last_error());
                exit(1);
            }
        }
        elapsed = now() - start;
    }
    return (double)done / elapsed;
}

typedef struct single_op {
    const ns_augment_opset *set;
    size_t op;
    float m;
} single_op;

static ns_status run_single(void *user, ns_image *img, uint8_t *scratch, ns_rng *rng)
{
    single_op *s = user;
    return ns_augment_opset_apply(s->set, s->op, img, scratch, s->m, rng);
}

static ns_status copy_only(void *user, ns_image *img, uint8_t *scratch, ns_rng *rng)
{
    (void)user, (void)img, (void)scratch, (void)rng;
    return NS_OK;
}

static double wall(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + ts.tv_nsec * 1e-9;
}

/* One epoch of the data loader (1 worker thread, pad-crop + flip, then the
 * policy or nothing, then float conversion) over a pool-made dataset, with a
 * consumer that does no work: images/s of the whole loader path on one
 * worker, and the share of it that the policy costs. */
static double loader_rate(const bench *b, ns_augment_policy *p, size_t n_images)
{
    ns_dataset d = {0};
    if (ns_dataset_alloc(&d, n_images, b->h, b->w, b->c) != NS_OK)
        return 0;
    for (size_t i = 0; i < n_images; i++)
        memcpy(ns_dataset_image(&d, i), b->pool + (i % POOL) * b->bytes, b->bytes);
    uint32_t *idx = malloc(n_images * sizeof *idx);
    for (size_t i = 0; idx && i < n_images; i++)
        idx[i] = (uint32_t)i;
    ns_loader_config cfg = {.data = &d, .indices = idx, .count = n_images, .classes = 10, .batch = 128,
                            .shuffle = 1, .seed = 1, .threads = 1, .pad_crop = 1, .flip = 1,
                            .augment = p ? ns_augment_policy_apply : NULL, .augment_user = p};
    ns_loader *l = NULL;
    double rate = 0;
    if (idx && ns_loader_create(&cfg, &l) == NS_OK && ns_loader_start_epoch(l, 0) == NS_OK) {
        double start = wall();
        size_t seen = 0;
        ns_batch *batch;
        while (ns_loader_next(l, &batch) == NS_OK && batch) {
            seen += (size_t)batch->n;
            ns_loader_release(l, batch);
        }
        rate = (double)seen / (wall() - start);
    } else {
        fprintf(stderr, "bench_augment: loader: %s\n", ns_last_error());
    }
    ns_loader_destroy(l);
    free(idx);
    ns_dataset_free(&d);
    return rate;
}

/* images/s of the PIL reference, or 0 when python3 + Pillow are absent. */
static double pil_reference(const char *script, int w, int h, int c, double seconds)
{
    const char *pythons[] = {"python3", "/usr/bin/python3"};
    for (int i = 0; i < 2; i++) {
        char cmd[2048];
        snprintf(cmd, sizeof cmd, "%s '%s' --size %dx%dx%d --seconds %g 2>/dev/null", pythons[i], script, w, h, c,
                 seconds);
        FILE *p = popen(cmd, "r");
        if (!p)
            continue;
        char line[256];
        double ips = 0;
        while (fgets(line, sizeof line, p))
            sscanf(line, "images_per_second %lf", &ips);
        if (pclose(p) == 0 && ips > 0)
            return ips;
    }
    return 0;
}

int main(int argc, char **argv)
{
    const char *spec = "randaugment:n=2,m=27", *script = NS_BENCH_AUGMENT_DIR "/pil_reference.py";
    double seconds = 1.0;
    int w = 32, h = 32, c = 3, pil = 1;
    for (int i = 1; i < argc; i++) {
        if (!strcmp(argv[i], "--augment") && i + 1 < argc)
            spec = argv[++i];
        else if (!strcmp(argv[i], "--size") && i + 1 < argc && sscanf(argv[i + 1], "%dx%dx%d", &w, &h, &c) == 3)
            i++;
        else if (!strcmp(argv[i], "--seconds") && i + 1 < argc)
            seconds = atof(argv[++i]);
        else if (!strcmp(argv[i], "--pil-script") && i + 1 < argc)
            script = argv[++i];
        else if (!strcmp(argv[i], "--no-pil"))
            pil = 0;
        else {
            fprintf(stderr, "usage: bench_augment [--augment SPEC] [--size WxHxC] [--seconds S] [--pil-script PY] "
                            "[--no-pil]\n");
            return 2;
        }
    }
    if (w < 1 || h < 1 || w > 1024 || h > 1024 || (c != 1 && c != 3) || !(seconds > 0)) {
        fprintf(stderr, "bench_augment: --size must be WxHx1 or WxHx3 up to 1024, --seconds > 0\n");
        return 2;
    }
    ns_augment_policy *p;
    if (ns_augment_policy_open(spec, &p) != NS_OK) {
        fprintf(stderr, "bench_augment: %s\n", ns_last_error());
        return 1;
    }
    bench b = {.w = w, .h = h, .c = c, .bytes = (size_t)w * h * c};
    b.pool = malloc(POOL * b.bytes);
    b.work = malloc(b.bytes);
    b.scratch = malloc(b.bytes);
    if (!b.pool || !b.work || !b.scratch)
        return fprintf(stderr, "bench_augment: out of memory\n"), 1;
    ns_rng fill = ns_rng_make(7, 7);
    for (size_t i = 0; i < POOL * b.bytes; i++)
        b.pool[i] = (uint8_t)ns_rng_u32(&fill);

    printf("augmentation throughput, one thread, %dx%dx%d images\n", w, h, c);
    double base = measure(&b, seconds / 4, copy_only, NULL);
    printf("  %-34s %12.0f images/s (copy + rng setup only)\n", "baseline", base);
    const ns_augment_opset *set = ns_augment_policy_opset(p);
    for (size_t k = 0; set && k < ns_augment_policy_op_count(p); k++) {
        single_op s = {set, ns_augment_policy_op_index(p, k), ns_augment_policy_magnitude(p)};
        char label[64];
        snprintf(label, sizeof label, "op %s m=%g", ns_augment_opset_op(set, s.op)->name, (double)s.m);
        printf("  %-34s %12.0f images/s\n", label, measure(&b, seconds / 8, run_single, &s));
    }
    double ours = measure(&b, seconds, ns_augment_policy_apply, p);
    printf("  %-34s %12.0f images/s   <- %s\n", "policy", ours, ns_augment_policy_describe(p));
    double plain = loader_rate(&b, NULL, 20000), noisy = loader_rate(&b, p, 20000);
    printf("data loader, 1 worker, pad-crop + flip + float conversion (wall clock, shared machine):\n"
           "  %-34s %12.0f images/s\n  %-34s %12.0f images/s\n", "without the policy", plain, "with the policy",
           noisy);
    if (pil) {
        double ref = pil_reference(script, w, h, c, seconds);
        if (ref > 0)
            printf("  %-34s %12.0f images/s   (the blog's PIL Rand_Augment, N=2)\nratio: %.1fx the PIL pipeline\n",
                   "reference: pil_reference.py", ref, ours / ref);
        else
            printf("reference: python3 with Pillow not found, no ratio (install python3-pil)\n");
    }
    free(b.pool);
    free(b.work);
    free(b.scratch);
    ns_augment_policy_close(p);
    return 0;
}
