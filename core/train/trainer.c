#include "train/trainer.h"

#include <inttypes.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "augment/policy.h"
#include "data/loader.h"
#include "dist/dist.h"
#include "dist/grad_allreduce.h"
#include "data/normalize.h"
#include "data/source.h"
#include "data/split.h"
#include "io/file_util.h"
#include "io/run_dir.h"
#include "report/report.h"
#include "report/tb_run.h"
#include "train/budget.h"
#include "train/checkpoint.h"
#include "train/eval_record.h"
#include "train/evaluate.h"
#include "train/progress.h"
#include "train/scheduler.h"
#include "train/targets.h"
#include "train/train_step.h"
#include "util/clock.h"
#include "util/duration.h"
#include "util/error.h"
#include "util/fault_point.h"

/* Everything one run holds; released in one place. */
typedef struct run {
    const ns_train_config *cfg;
    ns_train_config *cfgw; /* the same, writable: a budget fits its epochs */
    FILE *out;
    double t_start;
    /* A budget not yet fitted: timing from step fit_from at fit_t0. */
    int fit_pending, fit_from;
    int refit_pending; /* the first epoch's whole time corrects the fit once */
    double fit_t0;
    int fit_max; /* the configured epochs, the bound of every fit */
    double fit_warm_s, fit_step_s; /* the first fit's warm steps' time and its steady step time */
    char fit_msg[200]; /* said after the epoch's progress bar, not across it */
    ns_backend *be;
    ns_dataset train, test;
    ns_index_list labeled, rest, fit, val;
    float mean[4], std[4];
    float *targets;           /* fit.n x classes */
    int classes;
    ns_model *model;
    ns_optimizer *opt;
    ns_scheduler *sched;
    ns_augment_policy *policy;
    ns_loader *loader;
    const ns_pseudo_set *pseudo; /* NULL for a teacher */
    ns_loader *ploader;
    int pbatch;                  /* pseudo images per step */
    ns_buf *xbuf, *tbuf;
    ns_train_step *step; /* the step bench runs too (train_step.h) */
    ns_tb_run *tb;       /* RUN_DIR/tb (report/tb_run.h) */
    char ckpt_path[1024], model_path[1024];
    ns_grad_fusion bcast; /* host scratch of the broadcasts (data parallelism) */
} run;

static void run_free(run *r)
{
    ns_backend *be = r->be;
    if (be) {
        be->api->buf_free(be->ctx, r->xbuf);
        be->api->buf_free(be->ctx, r->tbuf);
    }
    ns_train_step_destroy(r->step);
    ns_grad_fusion_free(&r->bcast);
    ns_tb_run_close(r->tb); /* every epoch was flushed when it ended */
    ns_loader_destroy(r->loader);
    ns_loader_destroy(r->ploader);
    ns_augment_policy_close(r->policy);
    ns_scheduler_close(r->sched);
    ns_optimizer_destroy(r->opt);
    ns_model_destroy(r->model);
    free(r->targets);
    ns_index_list_free(&r->labeled);
    ns_index_list_free(&r->rest);
    ns_index_list_free(&r->fit);
    ns_index_list_free(&r->val);
    ns_dataset_free(&r->train);
    ns_dataset_free(&r->test);
}

/* Everything is checked before anything is loaded or written (a plateau
 * schedule without validation data included), so a typo costs nothing and
 * leaves no run directory behind. */
static ns_status check_config(const ns_train_config *c)
{
    return ns_train_config_validate(c, NULL);
}

/* Data: datasets, the labeled subset, the validation split, normalisation. */
static ns_status prepare_data(run *r)
{
    const ns_train_config *c = r->cfg;
    ns_data_options o;
    NS_TRY(ns_train_config_data_options(c, &o));
    NS_TRY(ns_dataset_open_opts(c->data, 1, &o, &r->train));
    NS_TRY(ns_dataset_open_opts(c->data, 0, &o, &r->test));
    if (r->train.c != r->test.c || r->train.h != r->test.h || r->train.w != r->test.w)
        return ns_fail(NS_ERR_FORMAT, "%s: training images are %dx%dx%d but test images %dx%dx%d", c->data,
                       r->train.c, r->train.h, r->train.w, r->test.c, r->test.h, r->test.w);
    r->classes = r->train.num_classes > r->test.num_classes ? r->train.num_classes : r->test.num_classes;
    if (r->classes < 2)
        return ns_fail(NS_ERR_FORMAT, "%s: found %d class(es) in the labels, expected at least 2", c->data,
                       r->classes);
    if (r->train.c > 4)
        return ns_fail(NS_ERR_FORMAT, "%s: %d channels, expected 1..4", c->data, r->train.c);
    if (c->labels_per_class > 0) {
        NS_TRY(ns_split_per_class(&r->train, c->labels_per_class, c->split_seed, &r->labeled, &r->rest));
    } else {
        NS_TRY(ns_index_list_range(&r->labeled, r->train.n));
    }
    if (c->val_per_class > 0) {
        NS_TRY(ns_split_holdout(&r->labeled, &r->train, 0.0, c->val_per_class, c->split_seed + 1, &r->fit,
                                &r->val));
    } else {
        NS_TRY(ns_index_list_alloc(&r->fit, r->labeled.n));
        memcpy(r->fit.idx, r->labeled.idx, r->labeled.n * sizeof *r->fit.idx);
    }
    NS_TRY(ns_normalize_stats(&r->train, &r->fit, r->mean, r->std));
    r->targets = malloc(r->fit.n * (size_t)r->classes * sizeof *r->targets);
    if (!r->targets)
        return ns_fail(NS_ERR_NOMEM, "targets: out of memory");
    ns_targets_one_hot(r->train.labels, r->fit.idx, r->fit.n, r->classes, c->label_smoothing, r->targets);
    return NS_OK;
}

static ns_status prepare_model(run *r)
{
    const ns_train_config *c = r->cfg;
    ns_backend *be = r->be;
    ns_model_spec spec;
    NS_TRY(ns_model_spec_parse(c->model, &spec));
    NS_TRY(ns_model_create(be, &spec, r->train.c, r->train.h, r->train.w, r->classes, &r->model));
    NS_TRY(ns_model_init(r->model, c->seed));
    if (c->init[0]) { /* a warm start: the weights and statistics of c->init */
        ns_ckpt_info info;
        ns_status st = ns_checkpoint_restore(c->init, r->model, NULL, &info);
        if (st != NS_OK) {
            ns_error_prefix("init");
            return st;
        }
    }
    ns_model_set_sync_bn(r->model, c->sync_bn);
    if (r->train.class_names.n == r->classes) /* names ride along into every checkpoint */
        NS_TRY(ns_model_set_class_names(r->model, &r->train.class_names));
    else if (r->pseudo && r->pseudo->class_names && r->pseudo->class_names->n == r->classes)
        NS_TRY(ns_model_set_class_names(r->model, r->pseudo->class_names)); /* teacher -> labels -> student */
    /* Evaluation (val/test accuracy, the checkpoints' users) scales the branches
     * the way this run's drop-path noise needs (nn/model.h). */
    NS_TRY(ns_model_set_inference_drop_path(r->model, c->noise.drop_path_mode, c->noise.drop_path_pl));
    ns_optimizer_config oc = c->opt;
    oc.kind = c->optimizer;
    NS_TRY(ns_optimizer_create(r->model, &oc, &r->opt));
    NS_TRY(ns_scheduler_open(c->schedule, &r->sched));
    const size_t img = (size_t)r->train.c * r->train.h * r->train.w;
    if (r->pseudo) {
        r->pbatch = (int)lroundf(c->unlabeled_ratio * (float)c->batch);
        if (r->pbatch < 1)
            r->pbatch = 1;
    }
    const size_t b = (size_t)c->batch + (size_t)r->pbatch;
    NS_TRY(be->api->buf_alloc(be->ctx, b * img, &r->xbuf));
    NS_TRY(be->api->buf_alloc(be->ctx, b * r->classes, &r->tbuf));
    return ns_train_step_create(r->model, r->opt, (int)b, &r->step);
}

static ns_status make_loader(run *r, const ns_dataset *data, const uint32_t *ids, size_t count,
                             const float *targets, int batch, uint64_t seed, ns_loader **out)
{
    const ns_train_config *c = r->cfg;
    ns_loader_config lc;
    memset(&lc, 0, sizeof lc);
    lc.data = data;
    lc.indices = ids;
    lc.count = count;
    lc.targets = targets;
    lc.classes = r->classes;
    lc.batch = batch;
    /* A final batch of one would give batchnorm a zero variance: drop partials. */
    lc.drop_last = count > (size_t)batch;
    lc.shuffle = 1;
    lc.seed = seed;
    lc.threads = c->loader_threads;
    lc.pad_crop = c->pad_crop;
    lc.flip = c->flip;
    lc.mean = r->mean;
    lc.std = r->std;
    if (ns_dist_size() > 1) { /* each rank builds its slice of every global batch */
        lc.shard_rank = ns_dist_rank();
        lc.shard_count = ns_dist_size();
    }
    if (r->policy) {
        lc.augment = ns_augment_policy_apply;
        lc.augment_user = r->policy;
    }
    return ns_loader_create(&lc, out);
}

static ns_status prepare_loaders(run *r)
{
    const ns_train_config *c = r->cfg;
    if (strcmp(c->augment, "none") != 0 && c->augment[0])
        NS_TRY(ns_augment_policy_open(c->augment, &r->policy));
    NS_TRY(make_loader(r, &r->train, r->fit.idx, r->fit.n, r->targets, c->batch, c->seed, &r->loader));
    if (!r->pseudo)
        return NS_OK;
    const ns_pseudo_set *p = r->pseudo;
    if (p->classes != r->classes)
        return ns_fail(NS_ERR_FORMAT, "%s: pseudo-labels have %d classes, the labeled data %d", c->pseudo,
                       p->classes, r->classes);
    const ns_class_names *pn = p->class_names, *dn = &r->train.class_names;
    if (pn && pn->n > 0 && dn->n > 0 && !ns_class_names_equal(pn, dn)) {
        int k = 0;
        while (k < pn->n && k < dn->n && strcmp(pn->names[k], dn->names[k]) == 0)
            k++;
        char b1[16], b2[16];
        return ns_fail(NS_ERR_FORMAT, "%s: the pseudo-labels' class %d is \"%s\" but the labeled data %s names it "
                       "\"%s\" (%d vs %d classes): label with a teacher trained on this data",
                       c->pseudo, k, ns_class_name(pn, k, b1), c->data, ns_class_name(dn, k, b2), pn->n, dn->n);
    }
    if (p->data->c != r->train.c || p->data->h != r->train.h || p->data->w != r->train.w)
        return ns_fail(NS_ERR_FORMAT, "%s: pseudo-labeled images are %dx%dx%d, the labeled ones %dx%dx%d", c->pseudo,
                       p->data->c, p->data->h, p->data->w, r->train.c, r->train.h, r->train.w);
    if (p->count < (size_t)r->pbatch)
        return ns_fail(NS_ERR_USAGE, "%s: %zu pseudo-labeled images, fewer than one step needs (%d = "
                       "--unlabeled-ratio x --batch)", c->pseudo, p->count, r->pbatch);
    /* A different seed stream keeps the two orders independent. */
    return make_loader(r, p->data, p->ids, p->count, p->targets, r->pbatch, c->seed ^ 0x5eed50f7ull, &r->ploader);
}

typedef struct epoch_stats {
    double loss_sum; /* sum over steps of the step's loss (CE(labeled) + R * CE(pseudo)) */
    size_t steps;
    size_t seen, correct; /* labeled images and how many the noised model got right */
    size_t images;        /* labeled + pseudo-labeled images processed */
    double seconds;
} epoch_stats;

/* The next labeled batch; in a student run the labeled set cycles within an
 * epoch of the pseudo-labeled set, restarting under a derived epoch number so
 * that the order stays a function of (seed, epoch) and a resume reproduces it. */
static ns_status next_labeled(run *r, int epoch, int *cycle, ns_batch **b)
{
    NS_TRY(ns_loader_next(r->loader, b));
    if (*b || !r->ploader)
        return NS_OK;
    (*cycle)++;
    NS_TRY(ns_loader_start_epoch(r->loader, epoch * 1024 + *cycle));
    return ns_loader_next(r->loader, b);
}

/* Uploads one part of the step's batch at row `row` of the device buffers. */
static ns_status upload_part(run *r, const ns_batch *b, int row)
{
    const size_t img = (size_t)b->c * b->h * b->w;
    NS_TRY(r->be->api->upload(r->be->ctx, r->xbuf, (size_t)row * img, b->x, (size_t)b->n * img));
    return r->be->api->upload(r->be->ctx, r->tbuf, (size_t)row * r->classes, b->targets,
                              (size_t)b->n * r->classes);
}

/* One step of the shared training step (train_step.h) on rows [0, n_lab)
 * labeled and [n_lab, n) pseudo-labeled: loss CE(labeled) + R * CE(pseudo). */
static ns_status train_step(run *r, int epoch, int s, int spe, int64_t step, const ns_batch *lb, const ns_batch *pb,
                            epoch_stats *es)
{
    const ns_train_config *c = r->cfg;
    ns_sched_point at = {epoch, s, spe, c->epochs, c->lr};
    const int n_lab = lb->n, n = lb->n + (pb ? pb->n : 0);
    /* Noise masks are drawn per step from (seed, step) by row of the batch
     * a rank holds: a rank whose slice does not start at global row 0 keys
     * its masks by that row too, so ranks do not share masks (rank 0, and a
     * single process, keep the plain seed). */
    uint64_t mask_seed = c->seed;
    if (lb->global_row)
        mask_seed ^= 0x9E3779B97F4A7C15ull * (uint64_t)lb->global_row;
    ns_step_args a = {r->xbuf, r->tbuf, n, n_lab, lb->labels, &c->noise, mask_seed, step, epoch,
                      ns_scheduler_lr(r->sched, &at), lb->global_n};
    ns_step_result res;
    NS_TRY(ns_train_step_run(r->step, &a, &res));
    es->loss_sum += res.loss;
    es->steps++;
    es->correct += (size_t)res.correct;
    es->seen += (size_t)lb->global_n;
    es->images += (size_t)lb->global_n + (pb ? (size_t)pb->global_n : 0);
    return ns_tb_run_step(r->tb, step + 1, res.loss, a.lr);
}

/* Steps not timed for a budget (first primitives, caches, loader start-up),
 * then steps timed before the fit: about 2% of a Fashion-MNIST student's
 * epoch, long enough to average the loader's jitter. */
#define NS_BUDGET_WARM_STEPS 3
#define NS_BUDGET_TIMED_STEPS 20

/* Fixes the epochs of a budgeted run from a measurement (f; its
 * max_epochs is the configured bound): the schedule reads cfg->epochs at
 * every step, so it follows from the next step on (the steps before ran at a
 * learning rate within a few 1e-4 of what the fitted schedule gives them).
 * Records the fit in config.json, and under data parallelism takes rank 0's
 * fit everywhere. */
static ns_status budget_apply(run *r, const ns_budget_fit *f)
{
    ns_train_config *c = r->cfgw;
    int64_t epochs = ns_budget_fit_epochs(f);
    if (ns_dist_size() > 1)
        NS_TRY(ns_dist_broadcast(&epochs, sizeof epochs, 0));
    c->epochs = (int)epochs;
    c->budget_fitted = 1;
    r->fit_pending = 0;
    if (ns_dist_is_root()) {
        json_t *j = ns_train_config_to_json(c);
        ns_status st = ns_run_dir_write_json(c->run_dir, "config.json", j);
        json_decref(j);
        NS_TRY(st);
    }
    char b[32];
    ns_format_duration(c->budget_s, b, sizeof b);
    snprintf(r->fit_msg, sizeof r->fit_msg, "budget %s: a step takes %.1f ms here (%d steps an epoch): %d epoch%s fit%s "
             "(at most %d)", b, 1e3 * f->step_s, f->steps_per_epoch, c->epochs, c->epochs == 1 ? "" : "s",
             c->epochs == 1 ? "s" : "", f->max_epochs);
    return NS_OK;
}

/* A fit from a measured step cost (step_s) after `done` of `spe` steps.
 * Evaluation is a forward pass: about a third of a training step's cost per
 * image. per_epoch_evals: add the evaluations after each epoch (0 when
 * step_s was measured over a whole epoch and already holds them). */
static ns_budget_fit budget_measure(const run *r, double step_s, int done, int spe, int per_epoch_evals)
{
    const ns_train_config *c = r->cfgw;
    const double per_image_eval = step_s / (double)(c->batch + r->pbatch) / 3.0;
    ns_budget_fit f = {c->budget_s, ns_now() - r->t_start, step_s, done, spe, 0, 0, r->fit_max};
    if (per_epoch_evals)
        f.eval_epoch_s =
            per_image_eval * ((double)r->val.n + (c->eval_every > 0 ? (double)r->test.n / c->eval_every : 0));
    f.eval_final_s = per_image_eval * ((double)r->val.n + (double)r->test.n);
    return f;
}

/* At the end of the first epoch, before its checkpoint: the epoch's whole
 * time (steps, evaluation, metrics, report) replaces the first steps'
 * estimate, which cannot see what an epoch costs beyond its steps (a run of
 * tiny epochs is mostly that). *changed when the epochs moved. */
static ns_status budget_refit(run *r, double t_epoch, int spe, int *changed)
{
    ns_train_config *c = r->cfgw;
    /* The warm steps (first primitives, caches, loader start) count at the
     * steady step cost: they happen once, not every epoch, and short
     * epochs would otherwise be overestimated (a same-compute baseline
     * given less time than it was due). */
    double epoch_s = ns_now() - t_epoch;
    if (r->fit_warm_s > 0 && r->fit_step_s > 0)
        epoch_s -= r->fit_warm_s - NS_BUDGET_WARM_STEPS * r->fit_step_s;
    const ns_budget_fit f = budget_measure(r, epoch_s / spe, spe, spe, 0);
    const int before = c->epochs;
    NS_TRY(budget_apply(r, &f));
    r->refit_pending = 0;
    *changed = c->epochs != before;
    return NS_OK;
}

/* After `done` steps of the first epoch (begun at t_epoch): time them, fit. */
static ns_status budget_step(run *r, int done, int spe, double t_epoch)
{
    if (!r->fit_pending)
        return NS_OK;
    if (done == NS_BUDGET_WARM_STEPS) {
        r->fit_t0 = ns_now();
        r->fit_from = done;
    }
    const int fit_at = spe < NS_BUDGET_WARM_STEPS + NS_BUDGET_TIMED_STEPS ? spe
                                                                          : NS_BUDGET_WARM_STEPS + NS_BUDGET_TIMED_STEPS;
    if (done < fit_at)
        return NS_OK;
    const double now = ns_now();
    const double step_s = r->fit_from > 0 && done > r->fit_from ? (now - r->fit_t0) / (done - r->fit_from)
                                                                : (now - t_epoch) / done;
    r->fit_max = r->cfgw->epochs;
    r->refit_pending = 1;
    r->fit_step_s = step_s;
    r->fit_warm_s = r->fit_from > 0 ? r->fit_t0 - t_epoch : 0;
    const ns_budget_fit f = budget_measure(r, step_s, done, spe, 1);
    return budget_apply(r, &f);
}

static ns_status train_epoch(run *r, int epoch, int64_t *global_step, epoch_stats *es)
{
    const ns_train_config *c = r->cfg;
    memset(es, 0, sizeof *es);
    NS_TRY(ns_loader_start_epoch(r->loader, epoch));
    if (r->ploader)
        NS_TRY(ns_loader_start_epoch(r->ploader, epoch));
    ns_loader *driver = r->ploader ? r->ploader : r->loader;
    const int spe = (int)ns_loader_batches_per_epoch(driver);
    const int per_step = c->batch + r->pbatch;
    char label[64];
    snprintf(label, sizeof label, "epoch %d/%d", epoch + 1, c->epochs);
    ns_progress bar;
    ns_progress_begin(&bar, label, (size_t)spe * (size_t)per_step);
    if (!ns_dist_is_root())
        bar.enabled = 0; /* progress from rank 0 only */
    double t0 = ns_now();
    ns_status st = NS_OK;
    int cycle = 0;
    for (int s = 0; st == NS_OK; s++) {
        ns_batch *lb = NULL, *pb = NULL;
        if (r->ploader) {
            st = ns_loader_next(r->ploader, &pb);
            if (st != NS_OK || !pb)
                break;
        }
        st = next_labeled(r, epoch, &cycle, &lb);
        if (st == NS_OK && !lb)
            break; /* teacher: end of the epoch */
        if (st == NS_OK)
            st = upload_part(r, lb, 0);
        if (st == NS_OK && pb)
            st = upload_part(r, pb, lb->n);
        if (st == NS_OK)
            st = train_step(r, epoch, s, spe, *global_step, lb, pb, es);
        ns_loader_release(r->loader, lb);
        if (pb)
            ns_loader_release(r->ploader, pb);
        if (st != NS_OK)
            break;
        (*global_step)++;
        st = budget_step(r, s + 1, spe, t0);
        if (st != NS_OK)
            break;
        ns_fault_point(r->pseudo ? "train:step:student" : "train:step:teacher");
        ns_progress_update(&bar, es->images, es->loss_sum / (double)es->steps);
    }
    ns_progress_end(&bar);
    /* The epoch's last update is checked too, before its metrics or
     * checkpoint can be written (the per-step guard sees each update only at
     * the next step). */
    if (st == NS_OK && es->steps)
        st = ns_train_step_check_weights(r->step, epoch, *global_step - 1);
    es->seconds = ns_now() - t0;
    return st;
}

/* TensorBoard from `step` on: the configuration, a noised run's augmentation
 * preview and a student's pseudo-label grid (report/tb_run.h). */
static ns_status open_tensorboard(run *r, int64_t step)
{
    ns_loader *driver = r->ploader ? r->ploader : r->loader;
    json_t *j = ns_train_config_to_json(r->cfg);
    ns_status st = ns_tb_run_open(r->cfg->run_dir, j, step, (int)ns_loader_batches_per_epoch(driver), &r->tb);
    json_decref(j);
    if (step > 0)
        return st; /* the run's first events file has the pictures */
    if (st == NS_OK)
        st = ns_tb_run_augment_preview(r->tb, step, r->policy, &r->train, r->fit.idx, r->fit.n, r->cfg->seed);
    if (st == NS_OK && r->pseudo)
        st = ns_tb_run_pseudo_grid(r->tb, step, r->pseudo);
    return st;
}

/* Under data parallelism each rank evaluates a share (ns_evaluate_ranks). */
static ns_status evaluate_acc(run *r, const ns_dataset *d, const ns_index_list *subset, double *acc)
{
    ns_confusion conf;
    NS_TRY(ns_confusion_init(&conf, r->classes));
    ns_eval_config ec = {256, r->mean, r->std, NULL, NULL, 1, NS_TTA_NONE}; /* progress: rank 0 only (ns_evaluate_ranks) */
    ns_status st = ns_evaluate_ranks(r->model, d, subset, &ec, &conf);
    *acc = ns_confusion_accuracy(&conf);
    ns_confusion_free(&conf);
    return st;
}

/* The test set once more at the end, recording every image's prediction. */
static ns_status final_evaluation(run *r, double *acc, int root)
{
    ns_eval_record rec;
    NS_TRY(ns_eval_record_run(r->model, &r->test, r->mean, r->std, 256, &rec));
    snprintf(rec.data, sizeof rec.data, "%s", r->cfg->data);
    snprintf(rec.backend, sizeof rec.backend, "%s",
             r->be->api->describe ? r->be->api->describe(r->be->ctx) : r->be->name);
    *acc = ns_confusion_accuracy(&rec.conf);
    ns_status st = root ? ns_eval_record_write(r->cfg->run_dir, &rec) : NS_OK; /* rank 0 writes */
    ns_eval_record_free(&rec);
    return st;
}

static ns_status save_checkpoint(run *r, const char *path, int with_optimizer, int epoch, int64_t step)
{
    ns_ckpt_info info;
    memset(&info, 0, sizeof info);
    info.epoch = epoch;
    info.step = step;
    info.seed = r->cfg->seed;
    snprintf(info.optimizer, sizeof info.optimizer, "%s", r->cfg->optimizer == NS_OPT_ADAM ? "adam" : "sgd");
    NS_TRY(ns_scheduler_get_state(r->sched, info.scheduler_state, sizeof info.scheduler_state));
    NS_TRY(ns_train_step_get_scale_state(r->step, info.loss_scale_state, sizeof info.loss_scale_state));
    memcpy(info.mean, r->mean, sizeof info.mean);
    memcpy(info.std, r->std, sizeof info.std);
    json_t *j = ns_train_config_to_json(r->cfg);
    char *text = json_dumps(j, JSON_COMPACT | JSON_SORT_KEYS);
    json_decref(j);
    snprintf(info.config, sizeof info.config, "%s", text ? text : "");
    free(text);
    return ns_checkpoint_save(path, r->model, with_optimizer ? r->opt : NULL, &info);
}

static json_t *num_or_null(double v) { return isfinite(v) ? json_real(v) : json_null(); }

static void print_epoch(FILE *out, const ns_train_config *c, int epoch, float lr, const epoch_stats *es,
                        double val, double test, double wait)
{
    if (!out)
        return;
    fprintf(out, "epoch %3d/%d  lr %.5f  loss %.4f  train %5.2f%%", epoch + 1, c->epochs, (double)lr,
            es->loss_sum / (double)(es->steps ? es->steps : 1), 100.0 * es->correct / (double)(es->seen ? es->seen : 1));
    if (isfinite(val))
        fprintf(out, "  val %5.2f%%", 100 * val);
    if (isfinite(test))
        fprintf(out, "  test %5.2f%%", 100 * test);
    fprintf(out, "  %5.0f img/s  %5.1fs  (waited %.1fs for data)\n", es->images / (es->seconds > 0 ? es->seconds : 1),
            es->seconds, wait);
    fflush(out);
}

static ns_status resume_from(run *r, int *start_epoch, int64_t *step)
{
    ns_ckpt_info info;
    NS_TRY(ns_checkpoint_restore(r->ckpt_path, r->model, r->opt, &info));
    if (info.in_c > 4)
        return ns_fail(NS_ERR_FORMAT, "%s: %d channels", r->ckpt_path, info.in_c);
    for (int i = 0; i < info.in_c; i++)
        if (info.mean[i] != r->mean[i] || info.std[i] != r->std[i])
            return ns_fail(NS_ERR_FORMAT, "%s: normalisation differs from this run's data (mean %g vs %g): "
                           "not the same data or split", r->ckpt_path, (double)info.mean[i], (double)r->mean[i]);
    ns_status st = ns_scheduler_set_state(r->sched, info.scheduler_state);
    if (st != NS_OK) {
        ns_error_prefix("%s", r->ckpt_path);
        return st;
    }
    NS_TRY(ns_train_step_set_scale_state(r->step, info.loss_scale_state));
    *start_epoch = info.epoch;
    *step = info.step;
    return NS_OK;
}

/* Copies rank 0's parameters (with_params) and/or running statistics
 * (with_states) to every rank in one fused broadcast. */
static ns_status broadcast_model(run *r, int with_params, int with_states)
{
    if (ns_dist_size() <= 1)
        return NS_OK;
    const size_t np = with_params ? ns_model_num_params(r->model) : 0;
    const size_t ns = with_states ? ns_model_num_states(r->model) : 0;
    ns_buf **bufs = malloc((np + ns + 1) * sizeof *bufs);
    size_t *sizes = malloc((np + ns + 1) * sizeof *sizes);
    ns_status st = bufs && sizes ? NS_OK : ns_fail(NS_ERR_NOMEM, "broadcast: out of memory");
    for (size_t i = 0; st == NS_OK && i < np + ns; i++) {
        ns_param *p = i < np ? ns_model_param(r->model, i) : ns_model_state(r->model, i - np);
        bufs[i] = p->value;
        sizes[i] = p->size;
    }
    if (st == NS_OK)
        st = ns_dist_broadcast_bufs(r->be, &r->bcast, np + ns, bufs, sizes, 0);
    free(bufs);
    free(sizes);
    return st;
}

/* A data-parallel run needs at least one image per rank in every batch. */
static ns_status check_world(const run *r)
{
    const int n = ns_dist_size();
    if (n <= 1)
        return NS_OK;
    if (r->cfg->batch < n)
        return ns_fail(NS_ERR_USAGE, "--batch %d over %d ranks: every rank needs at least one image of each "
                       "global batch; use --batch %d or more (or fewer ranks)", r->cfg->batch, n, n);
    if (r->pseudo && r->pbatch < n)
        return ns_fail(NS_ERR_USAGE, "%d pseudo-labeled images per step (--unlabeled-ratio x --batch) over %d "
                       "ranks: every rank needs at least one", r->pbatch, n);
    if (r->fit.n < (size_t)n)
        return ns_fail(NS_ERR_USAGE, "%zu training images for %d ranks", r->fit.n, n);
    return NS_OK;
}

ns_status ns_train(const ns_train_config *cfg_in, ns_backend *be, int resume, const ns_pseudo_set *pseudo, FILE *out,
                   ns_train_result *res)
{
    memset(res, 0, sizeof *res);
    res->val_acc = res->test_acc = res->train_acc = NAN;
    NS_TRY(check_config(cfg_in));
    double t_start = ns_now();
    ns_train_config cfg_w = *cfg_in;
    const ns_train_config *cfg = &cfg_w;
    run r;
    memset(&r, 0, sizeof r);
    r.cfg = cfg;
    r.cfgw = &cfg_w;
    r.t_start = t_start;
    r.fit_pending = cfg->budget_s > 0 && !cfg->budget_fitted;
    r.be = be;
    r.pseudo = pseudo;
    if (!!pseudo != !!cfg->pseudo[0])
        return ns_fail(NS_ERR_INTERNAL, "ns_train: a pseudo-label set %s without its source in the configuration",
                       pseudo ? "given" : "missing");
    /* Data parallelism: rank 0 alone writes (run directory, config,
     * metrics, checkpoints) and prints; the other ranks compute. */
    const int root = ns_dist_is_root();
    if (!root)
        out = NULL;
    r.out = out;
    ns_status st = root ? ns_run_dir_create(cfg->run_dir) : NS_OK;
    if (st == NS_OK)
        st = ns_run_dir_path(cfg->run_dir, "checkpoint.safetensors", r.ckpt_path, sizeof r.ckpt_path);
    if (st == NS_OK)
        st = ns_run_dir_path(cfg->run_dir, "model.safetensors", r.model_path, sizeof r.model_path);
    if (st == NS_OK && root && !resume && (ns_path_exists(r.ckpt_path) || ns_path_exists(r.model_path)))
        st = ns_fail(NS_ERR_USAGE, "--run-dir %s already holds a run: continue it with --resume %s or choose "
                     "another --run-dir", cfg->run_dir, cfg->run_dir);
    if (st == NS_OK && root && resume && ns_path_exists(r.model_path))
        st = ns_fail(NS_ERR_USAGE, "--resume %s: this run is complete (%s exists)", cfg->run_dir, r.model_path);
    /* Not only on resume: selftrain restarts a stage killed before its first
     * checkpoint as a fresh run (resume = 0), and that kill may have left the
     * temp of config.json or of the first checkpoint. */
    if (st == NS_OK && root)
        st = ns_run_dir_remove_stale_temps(cfg->run_dir, out);
    if (st == NS_OK && root && pseudo && pseudo->summary)
        st = ns_run_dir_write_json(cfg->run_dir, NS_PSEUDO_SUMMARY_FILE, pseudo->summary);
    if (st == NS_OK && root && !resume) {
        json_t *j = ns_train_config_to_json(cfg);
        st = ns_run_dir_write_json(cfg->run_dir, "config.json", j);
        json_decref(j);
    }
    if (st == NS_OK)
        st = prepare_data(&r);
    if (st == NS_OK)
        st = prepare_model(&r);
    if (st == NS_OK)
        st = prepare_loaders(&r);
    if (st == NS_OK)
        st = check_world(&r);
    /* The same initial weights on every rank (the seed makes them equal;
     * the broadcast makes it a fact rather than an assumption). */
    if (st == NS_OK)
        st = broadcast_model(&r, 1, 1);

    int start_epoch = 0;
    int64_t step = 0;
    /* Rank 0 decides whether there is a checkpoint to continue from, and the
     * others read it only after rank 0 is done with the run directory. */
    int64_t has_ckpt = st == NS_OK && resume && root && ns_path_exists(r.ckpt_path);
    if (st == NS_OK && ns_dist_size() > 1)
        st = ns_dist_broadcast(&has_ckpt, sizeof has_ckpt, 0);
    if (st == NS_OK && ns_dist_size() > 1 && has_ckpt)
        st = ns_dist_barrier();
    if (st == NS_OK && has_ckpt)
        st = resume_from(&r, &start_epoch, &step);
    if (start_epoch > 0)
        r.fit_pending = 0; /* fitted in the first epoch, before any checkpoint */
    if (st == NS_OK && root) /* rank 0 alone logs */
        st = open_tensorboard(&r, step);
    /* Records of epochs the checkpoint does not hold (a kill after an epoch's
     * record, before its checkpoint; or before the first checkpoint) would
     * appear twice once those epochs are trained again. */
    size_t dropped = 0;
    if (st == NS_OK && root)
        st = ns_metrics_keep_epochs(cfg->run_dir, start_epoch, &dropped);
    if (st == NS_OK && dropped && out)
        fprintf(out, "%s: dropped %zu record%s of epochs after the checkpoint (epoch %d)\n", cfg->run_dir,
                dropped, dropped == 1 ? "" : "s", start_epoch);
    if (st == NS_OK && out) {
        char spec[256];
        ns_model_spec_format(ns_model_get_spec(r.model), spec, sizeof spec);
        fprintf(out, "%s %s: %zu labeled training images (%zu validation, %zu unlabeled withheld), %zu test, "
                     "%d classes; model %s (%zu parameters) on %s\n",
                resume ? "resuming" : "training", cfg->run_dir, r.fit.n, r.val.n, r.rest.n, r.test.n, r.classes,
                spec, ns_model_param_total(r.model),
                be->api->describe ? be->api->describe(be->ctx) : be->name);
        if (resume)
            fprintf(out, "continuing after epoch %d (step %" PRId64 ")\n", start_epoch, step);
        if (ns_dist_size() > 1)
            fprintf(out, "data parallel: %s; global batch %d, %d to %d images per rank; batchnorm statistics %s\n",
                    ns_dist_describe(), cfg->batch + r.pbatch, (cfg->batch + r.pbatch) / ns_dist_size(),
                    (cfg->batch + r.pbatch + ns_dist_size() - 1) / ns_dist_size(),
                    cfg->sync_bn ? "over the global batch (--sync-bn)" : "per rank");
    }

    double last_wait = 0, last_comm = 0;
    int epoch = start_epoch, final_done = 0;
    for (; st == NS_OK && epoch < cfg->epochs; epoch++) {
        epoch_stats es;
        ns_sched_point at = {epoch, 0, 1, cfg->epochs, cfg->lr};
        float lr = ns_scheduler_lr(r.sched, &at);
        const double t_epoch = ns_now();
        st = train_epoch(&r, epoch, &step, &es);
        /* Per-rank batch statistics leave each rank its own running
         * statistics; as PyTorch DDP does, rank 0's are the model's (one
         * broadcast an epoch, before anything evaluates or saves them). */
        if (st == NS_OK && !cfg->sync_bn)
            st = broadcast_model(&r, 0, 1);
        if (st != NS_OK)
            break;
        double val = NAN, test = NAN;
        if (r.val.n)
            st = evaluate_acc(&r, &r.train, &r.val, &val);
        int last = epoch + 1 == cfg->epochs;
        int eval_now = cfg->eval_every > 0 && ((epoch + 1) % cfg->eval_every == 0);
        int stop = 0;
        if (st == NS_OK)
            st = ns_scheduler_epoch_end(r.sched, epoch, (float)val, &stop);
        /* The last epoch's evaluation is the final one, per class and per
         * image (eval.json): the test set once, not twice. */
        if (st == NS_OK && (last || stop)) {
            st = final_evaluation(&r, &test, root);
            final_done = st == NS_OK;
        } else if (st == NS_OK && eval_now) {
            st = evaluate_acc(&r, &r.test, NULL, &test);
        }
        if (st != NS_OK)
            break;
        double waited = ns_loader_get_stats(r.loader).wait_seconds +
                        (r.ploader ? ns_loader_get_stats(r.ploader).wait_seconds : 0);
        double wait = waited - last_wait;
        last_wait = waited;
        res->loader_wait_s += wait;
        res->train_acc = es.correct / (double)(es.seen ? es.seen : 1);
        res->val_acc = val;
        if (isfinite(test))
            res->test_acc = test;
        json_t *rec = json_pack("{s:i, s:I, s:f, s:f, s:f, s:o, s:o, s:f, s:f, s:f}", "epoch", epoch + 1,
                                "step", (json_int_t)step, "lr", (double)lr, "train_loss",
                                es.loss_sum / (double)(es.steps ? es.steps : 1), "train_acc", res->train_acc,
                                "val_acc", num_or_null(val), "test_acc", num_or_null(test), "seconds", es.seconds,
                                "images_per_s", es.images / (es.seconds > 0 ? es.seconds : 1), "loader_wait_s", wait);
        /* The record first, then the checkpoint: a kill between the two leaves
         * a record past the checkpoint, which the resume drops and writes again
         * when it retrains the epoch. The other order would lose the record of
         * a checkpointed epoch for good. */
        st = root ? ns_metrics_append(cfg->run_dir, rec) : NS_OK;
        if (st == NS_OK && root)
            st = ns_tb_run_epoch(r.tb, step, rec, pseudo ? ns_tb_pseudo_accuracy(pseudo->summary) : NAN);
        json_decref(rec);
        if (st == NS_OK)
            ns_fault_point("train:metrics-written");
        if (st == NS_OK && root)
            ns_report_refresh(cfg->run_dir, 0, out); /* curves now, pictures when the stage ends */
        /* No checkpoint of an epoch that stops the run early: a kill before
         * model.safetensors is written would resume after it and train past
         * the stop. Without it the resume retrains this epoch and stops again
         * (its record, already written, is dropped and written again). */
        if (st == NS_OK && r.refit_pending) {
            int changed = 0;
            st = budget_refit(&r, t_epoch, (int)es.steps, &changed);
            if (st == NS_OK && changed && final_done && epoch + 1 < cfg->epochs)
                final_done = 0; /* the run goes on: its last epoch evaluates again */
        }
        if (st == NS_OK && !stop && root)
            st = save_checkpoint(&r, r.ckpt_path, 1, epoch + 1, step);
        if (out && r.fit_msg[0])
            fprintf(out, "%s\n", r.fit_msg);
        r.fit_msg[0] = '\0';
        print_epoch(out, cfg, epoch, lr, &es, val, test, wait);
        if (ns_dist_size() > 1) { /* communication's share of the epoch */
            double comm = ns_train_step_allreduce_seconds(r.step) - last_comm;
            last_comm += comm;
            if (out)
                fprintf(out, "  gradient all-reduce: %.2fs of %.1fs (%.2f ms per step)\n", comm, es.seconds,
                        es.steps ? 1e3 * comm / (double)es.steps : 0.0);
        }
        if (cfg->stop_after_epoch > 0 && epoch + 1 >= cfg->stop_after_epoch && epoch + 1 < cfg->epochs) {
            if (out)
                fprintf(out, "paused after epoch %d as asked; continue with --resume %s\n", epoch + 1,
                        cfg->run_dir);
            res->epochs_run = epoch + 1;
            res->paused = 1;
            res->seconds = ns_now() - t_start;
            run_free(&r);
            return ns_dist_barrier(); /* the checkpoint is written before any rank moves on */
        }
        if (stop) {
            res->stopped_early = 1;
            if (out)
                fprintf(out, "early stop: no validation improvement (schedule %s)\n", cfg->schedule);
            epoch++;
            break;
        }
    }
    if (st == NS_OK) {
        /* The final test evaluation, per class and per image (eval.json),
         * before model.safetensors: a kill between the two redoes it. Done
         * with the last epoch, unless the run resumed after its checkpoint. */
        if (!final_done)
            st = final_evaluation(&r, &res->test_acc, root);
        if (st == NS_OK && root)
            st = save_checkpoint(&r, r.model_path, 0, epoch, step);
        if (st == NS_OK && root)
            ns_report_refresh(cfg->run_dir, 1, out);
        snprintf(res->model_path, sizeof res->model_path, "%s", r.model_path);
        res->epochs_run = epoch;
    }
    /* The model file is written before any rank moves on (selftrain's next
     * stage reads it on every rank). */
    if (st == NS_OK)
        st = ns_dist_barrier();
    res->seconds = ns_now() - t_start;
    run_free(&r);
    return st;
}
