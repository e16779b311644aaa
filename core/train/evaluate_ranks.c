#include "train/evaluate.h"

#include <stdlib.h>

#include "dist/dist.h"
#include "util/error.h"

ns_status ns_evaluate_ranks(ns_model *m, const ns_dataset *d, const ns_index_list *subset,
                            const ns_eval_config *cfg, ns_confusion *conf)
{
    const int n_ranks = ns_dist_size(), rank = ns_dist_rank();
    if (n_ranks == 1)
        return ns_evaluate(m, d, subset, cfg, conf);
    /* A contiguous share of the images, in order. */
    const size_t total = subset ? subset->n : d->n;
    const size_t lo = total * (size_t)rank / (size_t)n_ranks, hi = total * (size_t)(rank + 1) / (size_t)n_ranks;
    ns_index_list share = {0};
    ns_status st = NS_OK;
    if (hi > lo)
        st = ns_index_list_alloc(&share, hi - lo);
    for (size_t i = lo; st == NS_OK && i < hi; i++)
        share.idx[i - lo] = subset ? subset->idx[i] : (uint32_t)i;
    ns_eval_config ec = *cfg;
    ec.progress = cfg->progress && ns_dist_is_root();
    if (st == NS_OK && share.n > 0)
        st = ns_evaluate(m, d, &share, &ec, conf);
    ns_index_list_free(&share);
    /* A rank that failed skips the sum: it reports, and main ends every rank. */
    const size_t k = (size_t)conf->classes * (size_t)conf->classes;
    int64_t *sum = malloc((k + 3) * sizeof *sum);
    if (!sum)
        return ns_fail(NS_ERR_NOMEM, "evaluation: out of memory");
    for (size_t i = 0; i < k; i++)
        sum[i] = (int64_t)conf->counts[i];
    sum[k] = (int64_t)conf->total;
    sum[k + 1] = (int64_t)conf->correct;
    sum[k + 2] = (int64_t)conf->unlabeled;
    ns_status rst = st == NS_OK ? ns_dist_allreduce_sum_i64(sum, k + 3) : st;
    if (rst == NS_OK) {
        for (size_t i = 0; i < k; i++)
            conf->counts[i] = (uint64_t)sum[i];
        conf->total = (uint64_t)sum[k];
        conf->correct = (uint64_t)sum[k + 1];
        conf->unlabeled = (uint64_t)sum[k + 2];
    }
    free(sum);
    return rst;
}
