#include "data/loader.h"

#include <pthread.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "data/light_augment.h"
#include "data/normalize.h"
#include "data/shuffle.h"
#include "util/clock.h"
#include "util/error.h"

typedef enum slot_state { SLOT_FREE, SLOT_FILLING, SLOT_READY, SLOT_HANDED_OUT } slot_state;

/* The batch comes first so that a released ns_batch* finds its slot. */
typedef struct loader_slot {
    ns_batch batch;
    slot_state state;
    uint8_t *image;   /* h*w*c work copy of the image being augmented */
    uint8_t *scratch; /* h*w*c for the augmenters */
} loader_slot;

struct ns_loader {
    ns_loader_config cfg;
    size_t image_bytes;
    size_t batches;   /* per epoch */
    uint32_t *order;  /* count positions into cfg.indices, this epoch's order */
    float *onehot;    /* count x classes when cfg.targets is NULL */
    loader_slot *slots;
    int n_slots;
    pthread_t *threads;
    int n_threads;

    pthread_mutex_t mu;
    pthread_cond_t work;  /* workers: a slot freed, an epoch started, quit */
    pthread_cond_t ready; /* consumer: a slot became ready, or a failure */
    pthread_cond_t idle;  /* start_epoch: busy dropped to 0 */
    int epoch;
    int active;           /* an epoch is running */
    int quit;
    int busy;             /* workers filling a slot right now */
    size_t next_fill;     /* next batch number to claim */
    size_t next_consume;  /* next batch number to hand out */
    ns_status failure;    /* first augment failure of this epoch */
    char failure_msg[NS_ERROR_MAX];
    ns_loader_stats stats;
    size_t read_since_trim; /* bytes the reads from mapped data may have mapped since the last trim */
};

/* Mapped pools: drop our page-table references every this many bytes mapped,
 * so a pass over a pool bigger than RAM keeps a bounded resident set. */
#define NS_LOADER_TRIM_BYTES ((size_t)256 << 20)
/* What one random read of an image can map: on a fault the kernel also maps
 * the neighbouring pages that are already in the page cache (fault-around,
 * 64 KiB by default), so a student drawing 45,000 images at random from a
 * freshly labeled 6 GB pool mapped ~4 GB when only the image bytes counted. */
#define NS_LOADER_FAULT_AROUND_BYTES ((size_t)64 << 10)

/* Builds batch `b` of the current epoch into slot s (no lock held: the slot
 * is ours while FILLING and everything else read here is fixed for the epoch). */
static ns_status fill_batch(ns_loader *l, loader_slot *s, size_t b, int epoch)
{
    const ns_loader_config *cfg = &l->cfg;
    const ns_dataset *d = cfg->data;
    size_t first = b * (size_t)cfg->batch;
    size_t gn = cfg->count - first < (size_t)cfg->batch ? cfg->count - first : (size_t)cfg->batch;
    size_t lo = 0, n = gn;
    if (cfg->shard_count > 1) { /* this rank's slice of the global batch */
        lo = gn * (size_t)cfg->shard_rank / (size_t)cfg->shard_count;
        n = gn * (size_t)(cfg->shard_rank + 1) / (size_t)cfg->shard_count - lo;
    }
    size_t chw = l->image_bytes;
    ns_batch *out = &s->batch;
    out->n = (int)n;
    out->global_n = (int)gn;
    out->global_row = (int)lo;
    out->number = b;
    int classes = out->classes;
    const float *targets = cfg->targets ? cfg->targets : l->onehot;
    for (size_t k = 0; k < n; k++) {
        uint32_t pos = l->order[first + lo + k];
        uint32_t idx = cfg->indices[pos];
        memcpy(s->image, ns_dataset_image(d, idx), l->image_bytes);
        ns_image img = {s->image, d->w, d->h, d->c};
        ns_rng rng = ns_rng_make(cfg->seed, ns_rng_stream_id(NS_RNG_PURPOSE_LOADER_AUGMENT, (uint64_t)epoch, pos));
        ns_light_augment(&img, s->scratch, cfg->pad_crop, cfg->flip, &rng);
        if (cfg->augment) {
            ns_status st = cfg->augment(cfg->augment_user, &img, s->scratch, &rng);
            if (st != NS_OK) {
                ns_error_prefix("loader: augmenting image %u (epoch %d, batch %zu)", idx, epoch, b);
                return st;
            }
        }
        ns_image_to_chw(s->image, d->h, d->w, d->c, cfg->mean, cfg->std, out->x + k * chw);
        if (classes > 0)
            memcpy(out->targets + k * (size_t)classes, targets + (size_t)pos * (size_t)classes,
                   (size_t)classes * sizeof(float));
        out->labels[k] = d->labels[idx];
        out->index[k] = idx;
    }
    return NS_OK;
}

static int can_claim(const ns_loader *l)
{
    return l->active && l->failure == NS_OK && l->next_fill < l->batches &&
           l->slots[l->next_fill % (size_t)l->n_slots].state == SLOT_FREE;
}

static void *worker_main(void *arg)
{
    ns_loader *l = arg;
    pthread_mutex_lock(&l->mu);
    for (;;) {
        while (!l->quit && !can_claim(l))
            pthread_cond_wait(&l->work, &l->mu);
        if (l->quit)
            break;
        size_t b = l->next_fill++;
        loader_slot *s = &l->slots[b % (size_t)l->n_slots];
        s->state = SLOT_FILLING;
        int epoch = l->epoch;
        l->busy++;
        pthread_mutex_unlock(&l->mu);

        ns_status st = fill_batch(l, s, b, epoch);

        pthread_mutex_lock(&l->mu);
        l->busy--;
        s->state = SLOT_READY;
        if (l->cfg.data->map) {
            const size_t per_image =
                l->image_bytes > NS_LOADER_FAULT_AROUND_BYTES ? l->image_bytes : NS_LOADER_FAULT_AROUND_BYTES;
            l->read_since_trim += (size_t)s->batch.n * per_image;
            if (l->read_since_trim >= NS_LOADER_TRIM_BYTES) {
                l->read_since_trim = 0;
                ns_dataset_trim(l->cfg.data);
            }
        }
        if (st != NS_OK && l->failure == NS_OK) {
            l->failure = st;
            /* The message lives in this thread's error buffer; carry it over. */
            strncpy(l->failure_msg, ns_last_error(), sizeof l->failure_msg - 1);
            l->failure_msg[sizeof l->failure_msg - 1] = '\0';
        }
        pthread_cond_broadcast(&l->ready);
        if (l->busy == 0)
            pthread_cond_broadcast(&l->idle);
    }
    pthread_mutex_unlock(&l->mu);
    return NULL;
}

static ns_status check_config(const ns_loader_config *cfg)
{
    const ns_dataset *d = cfg->data;
    if (!d || !ns_dataset_has_pixels(d) || d->n == 0)
        return ns_fail(NS_ERR_INVALID_ARG, "loader: config.data is NULL or empty");
    if (d->c != 1 && d->c != 3)
        return ns_fail(NS_ERR_INVALID_ARG, "loader: dataset %s has %d channels, expected 1 or 3", d->source, d->c);
    if (!cfg->indices && cfg->count > 0)
        return ns_fail(NS_ERR_INVALID_ARG, "loader: config.indices is NULL with count %zu", cfg->count);
    if (cfg->count > UINT32_MAX)
        return ns_fail(NS_ERR_INVALID_ARG, "loader: config.count %zu exceeds the uint32 range", cfg->count);
    if (cfg->batch < 1)
        return ns_fail(NS_ERR_INVALID_ARG, "loader: config.batch %d, expected >= 1", cfg->batch);
    if (cfg->classes < 0)
        return ns_fail(NS_ERR_INVALID_ARG, "loader: config.classes %d, expected >= 0", cfg->classes);
    if (cfg->shard_count < 0 || (cfg->shard_count > 0 && (cfg->shard_rank < 0 || cfg->shard_rank >= cfg->shard_count)))
        return ns_fail(NS_ERR_INVALID_ARG, "loader: shard %d of %d, expected 0 <= shard < count", cfg->shard_rank,
                       cfg->shard_count);
    if (cfg->shard_count > cfg->batch)
        return ns_fail(NS_ERR_INVALID_ARG, "loader: a batch of %d split over %d ranks leaves a rank without an "
                       "image; expected a batch of at least %d", cfg->batch, cfg->shard_count, cfg->shard_count);
    for (size_t i = 0; i < cfg->count; i++)
        if (cfg->indices[i] >= d->n)
            return ns_fail(NS_ERR_INVALID_ARG, "loader: config.indices[%zu] = %u, dataset %s has %zu images", i,
                           cfg->indices[i], d->source, d->n);
    return NS_OK;
}

/* One-hot rows for cfg.targets == NULL; a label outside [0, classes) is an error. */
static ns_status build_onehot(ns_loader *l, int classes)
{
    const ns_loader_config *cfg = &l->cfg;
    l->onehot = calloc((cfg->count ? cfg->count : 1) * (size_t)classes, sizeof(float));
    if (!l->onehot)
        return ns_fail(NS_ERR_NOMEM, "loader: cannot allocate %zu one-hot targets", cfg->count);
    for (size_t i = 0; i < cfg->count; i++) {
        int32_t y = cfg->data->labels[cfg->indices[i]];
        if (y >= classes)
            return ns_fail(NS_ERR_INVALID_ARG, "loader: image %u has label %d, expected < %d classes",
                           cfg->indices[i], y, classes);
        if (y >= 0)
            l->onehot[i * (size_t)classes + (size_t)y] = 1.0f;
    }
    return NS_OK;
}

static ns_status alloc_slots(ns_loader *l, int classes)
{
    const ns_dataset *d = l->cfg.data;
    size_t cap = (size_t)l->cfg.batch;
    l->slots = calloc((size_t)l->n_slots, sizeof *l->slots);
    if (!l->slots)
        return ns_fail(NS_ERR_NOMEM, "loader: cannot allocate %d slots", l->n_slots);
    for (int i = 0; i < l->n_slots; i++) {
        loader_slot *s = &l->slots[i];
        s->batch.x = malloc(cap * l->image_bytes * sizeof(float));
        s->batch.targets = malloc(cap * (size_t)(classes ? classes : 1) * sizeof(float));
        s->batch.labels = malloc(cap * sizeof(int32_t));
        s->batch.index = malloc(cap * sizeof(uint32_t));
        s->image = malloc(l->image_bytes);
        s->scratch = malloc(l->image_bytes);
        if (!s->batch.x || !s->batch.targets || !s->batch.labels || !s->batch.index || !s->image || !s->scratch)
            return ns_fail(NS_ERR_NOMEM, "loader: cannot allocate batch slot %d (%zu images of %zu floats)", i, cap,
                           l->image_bytes);
        s->batch.c = d->c;
        s->batch.h = d->h;
        s->batch.w = d->w;
        s->batch.classes = classes;
        s->state = SLOT_FREE;
    }
    return NS_OK;
}

static void free_slots(ns_loader *l)
{
    if (!l->slots)
        return;
    for (int i = 0; i < l->n_slots; i++) {
        loader_slot *s = &l->slots[i];
        free(s->batch.x);
        free(s->batch.targets);
        free(s->batch.labels);
        free(s->batch.index);
        free(s->image);
        free(s->scratch);
    }
    free(l->slots);
    l->slots = NULL;
}

static void stop_workers(ns_loader *l)
{
    pthread_mutex_lock(&l->mu);
    l->quit = 1;
    pthread_cond_broadcast(&l->work);
    pthread_mutex_unlock(&l->mu);
    for (int i = 0; i < l->n_threads; i++)
        pthread_join(l->threads[i], NULL);
    l->n_threads = 0;
}

void ns_loader_destroy(ns_loader *l)
{
    if (!l)
        return;
    stop_workers(l);
    pthread_cond_destroy(&l->work);
    pthread_cond_destroy(&l->ready);
    pthread_cond_destroy(&l->idle);
    pthread_mutex_destroy(&l->mu);
    free_slots(l);
    free(l->threads);
    free(l->order);
    free(l->onehot);
    free(l);
}

ns_status ns_loader_create(const ns_loader_config *cfg, ns_loader **out)
{
    *out = NULL;
    if (!cfg)
        return ns_fail(NS_ERR_INVALID_ARG, "loader: config is NULL");
    NS_TRY(check_config(cfg));
    ns_loader *l = calloc(1, sizeof *l);
    if (!l)
        return ns_fail(NS_ERR_NOMEM, "loader: out of memory");
    l->cfg = *cfg;
    int classes = cfg->classes ? cfg->classes : cfg->data->num_classes;
    l->cfg.classes = classes;
    l->image_bytes = ns_dataset_image_bytes(cfg->data);
    l->batches = cfg->drop_last ? cfg->count / (size_t)cfg->batch
                                : (cfg->count + (size_t)cfg->batch - 1) / (size_t)cfg->batch;
    int threads = cfg->threads > 0 ? cfg->threads : 1;
    l->n_slots = cfg->prefetch > 0 ? cfg->prefetch : (2 * threads > 2 ? 2 * threads : 2);
    pthread_mutex_init(&l->mu, NULL);
    pthread_cond_init(&l->work, NULL);
    pthread_cond_init(&l->ready, NULL);
    pthread_cond_init(&l->idle, NULL);

    ns_status st = NS_OK;
    l->order = malloc((cfg->count ? cfg->count : 1) * sizeof *l->order);
    l->threads = calloc((size_t)threads, sizeof *l->threads);
    if (!l->order || !l->threads)
        st = ns_fail(NS_ERR_NOMEM, "loader: out of memory for %zu positions", cfg->count);
    if (st == NS_OK && !cfg->targets && classes > 0)
        st = build_onehot(l, classes);
    if (st == NS_OK)
        st = alloc_slots(l, classes);
    for (int i = 0; i < threads && st == NS_OK; i++) {
        if (pthread_create(&l->threads[i], NULL, worker_main, l) != 0)
            st = ns_fail(NS_ERR_INTERNAL, "loader: cannot start worker thread %d of %d", i + 1, threads);
        else
            l->n_threads++;
    }
    if (st != NS_OK) {
        ns_loader_destroy(l);
        return st;
    }
    *out = l;
    return NS_OK;
}

ns_status ns_loader_start_epoch(ns_loader *l, int epoch)
{
    if (epoch < 0)
        return ns_fail(NS_ERR_INVALID_ARG, "loader: epoch %d, expected >= 0", epoch);
    pthread_mutex_lock(&l->mu);
    for (int i = 0; i < l->n_slots; i++)
        if (l->slots[i].state == SLOT_HANDED_OUT) {
            pthread_mutex_unlock(&l->mu);
            return ns_fail(NS_ERR_INVALID_ARG, "loader: start_epoch(%d) while batch %zu is still held; release it first",
                           epoch, l->slots[i].batch.number);
        }
    /* Stop claiming, let batches in hand finish, then reset: nothing reads
     * the order or the slots while busy is 0 and no epoch is active. */
    l->active = 0;
    while (l->busy > 0)
        pthread_cond_wait(&l->idle, &l->mu);
    for (int i = 0; i < l->n_slots; i++)
        l->slots[i].state = SLOT_FREE;
    size_t count = l->cfg.count;
    for (size_t i = 0; i < count; i++)
        l->order[i] = (uint32_t)i;
    if (l->cfg.shuffle) {
        ns_rng rng = ns_rng_make(l->cfg.seed, ns_rng_stream_id(NS_RNG_PURPOSE_LOADER_ORDER, (uint64_t)epoch, 0));
        ns_shuffle_u32(l->order, count, &rng);
    }
    l->epoch = epoch;
    l->next_fill = 0;
    l->next_consume = 0;
    l->failure = NS_OK;
    l->failure_msg[0] = '\0';
    l->active = 1;
    pthread_cond_broadcast(&l->work);
    pthread_mutex_unlock(&l->mu);
    return NS_OK;
}

ns_status ns_loader_next(ns_loader *l, ns_batch **batch)
{
    *batch = NULL;
    pthread_mutex_lock(&l->mu);
    ns_status st = NS_OK;
    if (!l->active) {
        st = ns_fail(NS_ERR_INVALID_ARG, "loader: next() before start_epoch()");
    } else if (l->failure != NS_OK) {
        st = l->failure;
        ns_set_error("%s", l->failure_msg);
    } else if (l->next_consume < l->batches) {
        size_t b = l->next_consume;
        loader_slot *s = &l->slots[b % (size_t)l->n_slots];
        if (s->state == SLOT_HANDED_OUT) {
            st = ns_fail(NS_ERR_INVALID_ARG,
                         "loader: next() would wait forever: %d batches are held (prefetch %d); release one first",
                         l->n_slots, l->n_slots);
        } else {
            if (!(s->state == SLOT_READY && s->batch.number == b) && l->failure == NS_OK) {
                double t0 = ns_now();
                while (!(s->state == SLOT_READY && s->batch.number == b) && l->failure == NS_OK)
                    pthread_cond_wait(&l->ready, &l->mu);
                l->stats.wait_seconds += ns_now() - t0;
                l->stats.waits++;
            }
            if (l->failure != NS_OK) {
                st = l->failure;
                ns_set_error("%s", l->failure_msg);
            } else {
                s->state = SLOT_HANDED_OUT;
                l->next_consume++;
                l->stats.batches++;
                *batch = &s->batch;
            }
        }
    }
    pthread_mutex_unlock(&l->mu);
    return st;
}

void ns_loader_release(ns_loader *l, ns_batch *batch)
{
    if (!batch)
        return;
    loader_slot *s = (loader_slot *)batch;
    pthread_mutex_lock(&l->mu);
    if (s >= l->slots && s < l->slots + l->n_slots && s->state == SLOT_HANDED_OUT) {
        s->state = SLOT_FREE;
        pthread_cond_broadcast(&l->work);
    }
    pthread_mutex_unlock(&l->mu);
}

size_t ns_loader_batches_per_epoch(const ns_loader *l)
{
    return l->batches;
}

ns_loader_stats ns_loader_get_stats(const ns_loader *l)
{
    pthread_mutex_lock((pthread_mutex_t *)&l->mu);
    ns_loader_stats s = l->stats;
    pthread_mutex_unlock((pthread_mutex_t *)&l->mu);
    return s;
}
