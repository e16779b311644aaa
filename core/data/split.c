#include "data/split.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "data/shuffle.h"
#include "util/error.h"

/* Members of each class, grouped: order[start[c] .. start[c+1]) holds the
 * positions (into `src`) of class c, in source order. */
typedef struct class_groups {
    uint32_t *order;
    size_t *start; /* classes + 1 entries */
    int classes;
} class_groups;

static void groups_free(class_groups *g)
{
    free(g->order);
    free(g->start);
    memset(g, 0, sizeof *g);
}

/* Groups positions 0..n-1 whose dataset index is src[i] (or i when src is NULL). */
static ns_status groups_build(const ns_dataset *d, const uint32_t *src, size_t n, class_groups *g)
{
    memset(g, 0, sizeof *g);
    g->classes = d->num_classes;
    g->start = calloc((size_t)g->classes + 2, sizeof *g->start);
    g->order = malloc((n ? n : 1) * sizeof *g->order);
    if (!g->start || !g->order) {
        groups_free(g);
        return ns_fail(NS_ERR_NOMEM, "split: cannot allocate class groups for %zu images", n);
    }
    /* Counting sort: start[c+1] counts class c, unknown labels (-1) are left out. */
    for (size_t i = 0; i < n; i++) {
        int32_t y = d->labels[src ? src[i] : i];
        if (y >= 0 && y < g->classes)
            g->start[y + 1]++;
    }
    for (int c = 0; c < g->classes; c++)
        g->start[c + 1] += g->start[c];
    size_t *fill = calloc((size_t)g->classes + 1, sizeof *fill);
    if (!fill) {
        groups_free(g);
        return ns_fail(NS_ERR_NOMEM, "split: cannot allocate class groups");
    }
    for (size_t i = 0; i < n; i++) {
        int32_t y = d->labels[src ? src[i] : i];
        if (y >= 0 && y < g->classes)
            g->order[g->start[y] + fill[y]++] = (uint32_t)i;
    }
    free(fill);
    return NS_OK;
}

/* Marks `take` positions of class c chosen by Philox(seed, (purpose, c, 0)). */
static void pick_class(const class_groups *g, int c, size_t take, uint64_t seed, uint64_t purpose,
                       uint8_t *chosen)
{
    uint32_t *members = g->order + g->start[c];
    size_t count = g->start[c + 1] - g->start[c];
    ns_rng rng = ns_rng_make(seed, ns_rng_stream_id(purpose, (uint64_t)c, 0));
    ns_shuffle_u32(members, count, &rng);
    for (size_t k = 0; k < take; k++)
        chosen[members[k]] = 1;
}

/* Splits positions 0..n-1 by the chosen flags, keeping order; values are src[i] or i. */
static ns_status partition(const uint32_t *src, size_t n, const uint8_t *chosen, size_t n_chosen,
                           ns_index_list *yes, ns_index_list *no)
{
    NS_TRY(ns_index_list_alloc(yes, n_chosen));
    ns_status st = ns_index_list_alloc(no, n - n_chosen);
    if (st != NS_OK) {
        ns_index_list_free(yes);
        return st;
    }
    size_t a = 0, b = 0;
    for (size_t i = 0; i < n; i++) {
        uint32_t v = src ? src[i] : (uint32_t)i;
        if (chosen[i])
            yes->idx[a++] = v;
        else
            no->idx[b++] = v;
    }
    return NS_OK;
}

ns_status ns_split_per_class(const ns_dataset *d, int per_class, uint64_t seed, ns_index_list *labeled,
                             ns_index_list *rest)
{
    memset(labeled, 0, sizeof *labeled);
    memset(rest, 0, sizeof *rest);
    if (per_class < 1)
        return ns_fail(NS_ERR_INVALID_ARG, "split: %d labeled images per class, expected >= 1", per_class);
    if (d->n > UINT32_MAX)
        return ns_fail(NS_ERR_INVALID_ARG, "split: %zu images exceed the uint32 index range", d->n);
    if (d->num_classes < 1)
        return ns_fail(NS_ERR_INVALID_ARG, "split: dataset %s has no labels", d->source);
    class_groups g;
    NS_TRY(groups_build(d, NULL, d->n, &g));
    ns_status st = NS_OK;
    for (int c = 0; c < g.classes && st == NS_OK; c++)
        if (g.start[c + 1] - g.start[c] < (size_t)per_class)
            st = ns_fail(NS_ERR_FORMAT, "split: class %d of %s has %zu images, fewer than the %d per class asked",
                         c, d->source, g.start[c + 1] - g.start[c], per_class);
    uint8_t *chosen = NULL;
    if (st == NS_OK && !(chosen = calloc(d->n ? d->n : 1, 1)))
        st = ns_fail(NS_ERR_NOMEM, "split: cannot allocate %zu flags", d->n);
    for (int c = 0; c < g.classes && st == NS_OK; c++)
        pick_class(&g, c, (size_t)per_class, seed, NS_RNG_PURPOSE_SPLIT, chosen);
    if (st == NS_OK)
        st = partition(NULL, d->n, chosen, (size_t)per_class * (size_t)g.classes, labeled, rest);
    free(chosen);
    groups_free(&g);
    return st;
}

ns_status ns_split_holdout(const ns_index_list *in, const ns_dataset *d, double fraction, int per_class,
                           uint64_t seed, ns_index_list *train, ns_index_list *val)
{
    memset(train, 0, sizeof *train);
    memset(val, 0, sizeof *val);
    int by_fraction = fraction > 0.0;
    if (by_fraction == (per_class > 0) || (by_fraction && !(fraction < 1.0)) || per_class < 0 ||
        fraction < 0.0)
        return ns_fail(NS_ERR_INVALID_ARG,
                       "holdout: fraction %g and per_class %d, expected exactly one: a fraction in (0,1) "
                       "or a count >= 1",
                       fraction, per_class);
    for (size_t i = 0; i < in->n; i++) {
        if (in->idx[i] >= d->n)
            return ns_fail(NS_ERR_INVALID_ARG, "holdout: entry %zu is index %u, dataset %s has %zu images", i,
                           in->idx[i], d->source, d->n);
        if (d->labels[in->idx[i]] < 0 || d->labels[in->idx[i]] >= d->num_classes)
            return ns_fail(NS_ERR_INVALID_ARG, "holdout: entry %zu (image %u) has no known label", i, in->idx[i]);
    }
    class_groups g;
    NS_TRY(groups_build(d, in->idx, in->n, &g));
    uint8_t *chosen = calloc(in->n ? in->n : 1, 1);
    ns_status st = chosen ? NS_OK : ns_fail(NS_ERR_NOMEM, "holdout: cannot allocate %zu flags", in->n);
    size_t total = 0;
    for (int c = 0; c < g.classes && st == NS_OK; c++) {
        size_t count = g.start[c + 1] - g.start[c];
        size_t take = by_fraction ? (size_t)llround(fraction * (double)count) : (size_t)per_class;
        if (take > count) {
            st = ns_fail(NS_ERR_FORMAT, "holdout: class %d has %zu images, fewer than the %d per class asked", c,
                         count, per_class);
            break;
        }
        pick_class(&g, c, take, seed, NS_RNG_PURPOSE_HOLDOUT, chosen);
        total += take;
    }
    if (st == NS_OK)
        st = partition(in->idx, in->n, chosen, total, val, train);
    free(chosen);
    groups_free(&g);
    return st;
}
