/* The student's loss CE(labeled) + R x CE(pseudo), with hand-computed values:
 *
 *  - targets as the student run makes them (selftrain/filter_balance.c via
 *    ns_filter_balance, train/targets.c): soft targets at temperature 1, 2
 *    and 0.5, hard targets with label smoothing;
 *  - the step loss and its gradient as the training step computes them
 *    (train/step_loss.c: one softmax_cross_entropy over labeled + pseudo rows
 *    with grad_scale 1/n_lab);
 *  - ns_train itself on a student run: every step's loss call is recorded
 *    through a shim on ref's op table; its pseudo-labeled rows must carry the
 *    label file's targets (each once per epoch), grad_scale must be 1/n_lab,
 *    the gradient (p*T - t)/n_lab, and the epoch's train_loss in
 *    metrics.jsonl the mean over steps of CE(labeled) + R x CE(pseudo)
 *    recomputed here in double from the recorded logits and targets.
 *
 * Replacing every pseudo target by zeros (no loss, no gradient from the pool)
 * turns each of these red. The ref backend is always built: a missing ref
 * fails the suite, it does not skip it. */
#include <math.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>
#include <jansson.h>

#include "plugin/backend_loader.h"
#include "selftrain/filter_balance.h"
#include "selftrain/label_file.h"
#include "selftrain/pseudo_set.h"
#include "synthetic_data.h"
#include "train/step_loss.h"
#include "train/targets.h"
#include "train/trainer.h"
#include "util/error.h"

static ns_backend *be;

static int setup(void **state)
{
    (void)state;
    if (ns_backend_open("ref", NULL, &be) != NS_OK) {
        fprintf(stderr, "the ref backend is always built but does not open: %s\n", ns_last_error());
        return -1;
    }
    return 0;
}

static int teardown(void **state)
{
    (void)state;
    ns_backend_close(be);
    return 0;
}

/* A one-record label set of K = 3 classes with probabilities p. */
static void one_record(ns_label_set *s, const float p[3])
{
    assert_int_equal(ns_label_set_alloc(s, 1, 3), NS_OK);
    snprintf(s->source, sizeof s->source, "pool");
    s->source_id[0] = 0;
    s->true_label[0] = -1;
    memcpy(s->probs, p, 3 * sizeof *p);
    ns_label_set_update_top(s, 0);
}

/* The target row the filter makes of p (threshold 0, no balancing). */
static void filter_target(const float p[3], int hard, float temperature, float smoothing, float out[3])
{
    ns_label_set s;
    one_record(&s, p);
    ns_filter_config c = ns_filter_config_default();
    c.threshold = 0.0f;
    c.per_class = -1;
    c.hard = hard;
    c.temperature = temperature;
    c.smoothing = smoothing;
    ns_student_set set;
    assert_int_equal(ns_filter_balance(&s, &c, &set, NULL), NS_OK);
    assert_int_equal(set.n, 1);
    memcpy(out, set.targets, 3 * sizeof *out);
    ns_student_set_free(&set);
    ns_label_set_free(&s);
}

static void assert_row(const float *got, const double *want, int k, double tol, const char *what)
{
    for (int j = 0; j < k; j++)
        if (!(fabs((double)got[j] - want[j]) <= tol))
            fail_msg("%s: element %d is %.9g, worked out by hand %.9g", what, j, (double)got[j], want[j]);
}

/* Teacher probabilities p = (0.5, 0.3, 0.2):
 *  soft, T = 1:   softmax(log p) = p                       = (0.5, 0.3, 0.2)
 *  soft, T = 2:   softmax(log p / 2) = sqrt(p) / sum sqrt(p);
 *                 sqrt(p) = (0.707107, 0.547723, 0.447214), sum 1.702043
 *                                                          = (0.415446, 0.321803, 0.262751)
 *  soft, T = 0.5: p^2 / sum p^2; p^2 = (0.25, 0.09, 0.04), sum 0.38
 *                                                          = (0.657895, 0.236842, 0.105263)
 * Teacher probabilities (0.2, 0.1, 0.7), hard, smoothing 0.1 (K = 3):
 *  top class 2 gets 1 - 0.1 + 0.1/3 = 0.933333, the others 0.1/3 = 0.033333.
 * Labeled class 1 with smoothing 0.3: (0.1, 0.8, 0.1). */
static void test_targets_by_hand(void **state)
{
    (void)state;
    const float p[3] = {0.5f, 0.3f, 0.2f}, q[3] = {0.2f, 0.1f, 0.7f};
    float t[3];
    filter_target(p, 0, 1.0f, 0.0f, t);
    assert_row(t, (const double[]){0.5, 0.3, 0.2}, 3, 1e-6, "soft T=1");
    filter_target(p, 0, 2.0f, 0.0f, t);
    assert_row(t, (const double[]){0.415446, 0.321803, 0.262751}, 3, 1e-6, "soft T=2");
    filter_target(p, 0, 0.5f, 0.0f, t);
    assert_row(t, (const double[]){0.657895, 0.236842, 0.105263}, 3, 1e-6, "soft T=0.5");
    filter_target(q, 1, 1.0f, 0.1f, t);
    assert_row(t, (const double[]){0.033333, 0.033333, 0.933333}, 3, 1e-6, "hard, smoothing 0.1");
    filter_target(q, 1, 1.0f, 0.0f, t);
    assert_row(t, (const double[]){0.0, 0.0, 1.0}, 3, 0.0, "hard, no smoothing");

    const int32_t labels[1] = {1};
    const uint32_t idx[1] = {0};
    ns_targets_one_hot(labels, idx, 1, 3, 0.3f, t);
    assert_row(t, (const double[]){0.1, 0.8, 0.1}, 3, 1e-7, "labeled, smoothing 0.3");
}

/* A student step of n_lab = 2 labeled and 3 pseudo-labeled rows (R = 1.5),
 * K = 3, targets made as above:
 *
 *  row  kind                      target t                     logits z         softmax p            CE = -t.log p
 *  0    labeled, one-hot class 0  (1, 0, 0)                    (ln 2, 0, 0)     (.5, .25, .25)       ln 2            = 0.693147
 *  1    labeled, class 1, s=0.3   (.1, .8, .1)                 (0, 0, 0)        (1/3, 1/3, 1/3)      ln 3            = 1.098612
 *  2    pseudo, soft T=1          (.5, .3, .2)                 (ln 2, 0, 0)     (.5, .25, .25)       .5 ln 2 + .5 ln 4 = 1.039721
 *  3    pseudo, soft T=2          (.415446, .321803, .262751)  (0, ln 3, 0)     (.2, .6, .2)         .678197 ln 5 + .321803 ln(5/3) = 1.255901
 *  4    pseudo, hard s=0.1        (.033333, .033333, .933333)  (0, 0, ln 2)     (.25, .25, .5)       .066667 ln 4 + .933333 ln 2 = 0.739357
 *
 *  CE(labeled) = (0.693147 + 1.098612) / 2           = 0.895880
 *  CE(pseudo)  = (1.039721 + 1.255901 + 0.739357) / 3 = 1.011660
 *  loss = CE(labeled) + 1.5 x CE(pseudo)             = 2.413369  (= sum of the five / n_lab)
 *  dlogits = (p x sum(t) - t) / n_lab, sum(t) = 1 on every row:
 *    row 0 (-0.25, 0.125, 0.125)      row 1 (0.116667, -0.233333, 0.116667)
 *    row 2 (0, -0.025, 0.025)         row 3 (-0.107723, 0.139098, -0.031376)
 *    row 4 (0.108333, 0.108333, -0.216667)
 * A teacher step on rows 0-1 alone: loss 0.895880, the same dlogits rows. */
static void test_step_loss_by_hand(void **state)
{
    (void)state;
    enum { N = 5, K = 3, NL = 2 };
    float targets[N * K], logits[N * K] = {0};
    const int32_t lab[2] = {0, 1};
    const uint32_t i0[1] = {0}, i1[1] = {1};
    ns_targets_one_hot(lab, i0, 1, K, 0.0f, targets);
    ns_targets_one_hot(lab, i1, 1, K, 0.3f, targets + K);
    const float p[3] = {0.5f, 0.3f, 0.2f}, q[3] = {0.2f, 0.1f, 0.7f};
    filter_target(p, 0, 1.0f, 0.0f, targets + 2 * K);
    filter_target(p, 0, 2.0f, 0.0f, targets + 3 * K);
    filter_target(q, 1, 1.0f, 0.1f, targets + 4 * K);
    logits[0] = logf(2.0f);
    logits[2 * K] = logf(2.0f);
    logits[3 * K + 1] = logf(3.0f);
    logits[4 * K + 2] = logf(2.0f);

    ns_buf *z, *t, *l, *d;
    assert_int_equal(be->api->buf_alloc(be->ctx, N * K, &z), NS_OK);
    assert_int_equal(be->api->buf_alloc(be->ctx, N * K, &t), NS_OK);
    assert_int_equal(be->api->buf_alloc(be->ctx, N, &l), NS_OK);
    assert_int_equal(be->api->buf_alloc(be->ctx, N * K, &d), NS_OK);
    assert_int_equal(be->api->upload(be->ctx, z, 0, logits, N * K), NS_OK);
    assert_int_equal(be->api->upload(be->ctx, t, 0, targets, N * K), NS_OK);
    float per_row[N], grad[N * K];
    double loss = 0;
    assert_int_equal(ns_step_loss(be, N, NL, K, z, t, 1.0f, l, d, per_row, &loss), NS_OK);
    assert_row(per_row, (const double[]){0.693147, 1.098612, 1.039721, 1.255901, 0.739357}, N, 2e-6,
               "per-row cross-entropy");
    assert_float_equal(loss, 2.413369, 2e-6);
    assert_float_equal((per_row[0] + per_row[1]) / 2.0 + 1.5 * (per_row[2] + per_row[3] + per_row[4]) / 3.0, 2.413369,
                       2e-6);
    assert_int_equal(be->api->download(be->ctx, d, 0, grad, N * K), NS_OK);
    assert_row(grad, (const double[]){-0.25, 0.125, 0.125, 0.116667, -0.233333, 0.116667, 0.0, -0.025, 0.025,
                                      -0.107723, 0.139098, -0.031376, 0.108333, 0.108333, -0.216667},
               N * K, 1e-6, "dlogits");

    /* the teacher's step: the labeled rows alone */
    assert_int_equal(ns_step_loss(be, NL, NL, K, z, t, 1.0f, l, d, per_row, &loss), NS_OK);
    assert_float_equal(loss, 0.895880, 2e-6);
    assert_int_equal(be->api->download(be->ctx, d, 0, grad, NL * K), NS_OK);
    assert_row(grad, (const double[]){-0.25, 0.125, 0.125, 0.116667, -0.233333, 0.116667}, NL * K, 1e-6,
               "teacher dlogits");
    assert_int_equal(ns_step_loss(be, NL, NL + 1, K, z, t, 1.0f, l, d, per_row, &loss), NS_ERR_INVALID_ARG);
    be->api->buf_free(be->ctx, z);
    be->api->buf_free(be->ctx, t);
    be->api->buf_free(be->ctx, l);
    be->api->buf_free(be->ctx, d);
}

/* ------------------------------------------- ns_train, recorded at the loss */

enum { CLASSES = 4, BATCH = 8, PSEUDO = 8, MAX_CALLS = 8, MAX_ROWS = 16 };

/* What each training loss call (dlogits != NULL) of ns_train saw. */
static struct {
    __typeof__(((ns_backend_api *)0)->softmax_cross_entropy) orig;
    int calls;
    int n[MAX_CALLS];
    float grad_scale[MAX_CALLS];
    float logits[MAX_CALLS][MAX_ROWS * CLASSES], targets[MAX_CALLS][MAX_ROWS * CLASSES];
    float loss[MAX_CALLS][MAX_ROWS], dlogits[MAX_CALLS][MAX_ROWS * CLASSES];
} rec;

static ns_status recording_loss(void *ctx, int n, int classes, const ns_buf *logits, const ns_buf *targets,
                                float grad_scale, ns_buf *loss, ns_buf *dlogits)
{
    ns_status st = rec.orig(ctx, n, classes, logits, targets, grad_scale, loss, dlogits);
    if (st != NS_OK || !dlogits || rec.calls >= MAX_CALLS || n > MAX_ROWS || classes != CLASSES)
        return st;
    const int c = rec.calls++;
    const size_t nk = (size_t)n * classes;
    rec.n[c] = n;
    rec.grad_scale[c] = grad_scale;
    if (st == NS_OK)
        st = be->api->download(ctx, logits, 0, rec.logits[c], nk);
    if (st == NS_OK)
        st = be->api->download(ctx, targets, 0, rec.targets[c], nk);
    if (st == NS_OK)
        st = be->api->download(ctx, loss, 0, rec.loss[c], (size_t)n);
    if (st == NS_OK)
        st = be->api->download(ctx, dlogits, 0, rec.dlogits[c], nk);
    return st;
}

/* The pseudo-label probabilities of record r: distinct rows, top class r % 4. */
static void pseudo_probs(int r, float *p)
{
    double w[CLASSES], sum = 0;
    for (int k = 0; k < CLASSES; k++) {
        w[k] = 1.0 + 0.5 * ((r * 3 + k * 5) % 7) + (k == r % CLASSES ? 4.0 + r : 0.0);
        sum += w[k];
    }
    for (int k = 0; k < CLASSES; k++)
        p[k] = (float)(w[k] / sum);
}

static double train_loss_of_epoch1(const char *run_dir)
{
    char path[1200];
    snprintf(path, sizeof path, "%s/metrics.jsonl", run_dir);
    FILE *f = fopen(path, "r");
    assert_non_null(f);
    char line[4096];
    assert_non_null(fgets(line, sizeof line, f));
    fclose(f);
    json_error_t err;
    json_t *j = json_loads(line, 0, &err);
    assert_non_null(j);
    assert_int_equal(json_integer_value(json_object_get(j, "epoch")), 1);
    double v = json_number_value(json_object_get(j, "train_loss"));
    json_decref(j);
    return v;
}

static void test_train_feeds_pseudo_targets(void **state)
{
    (void)state;
    char data[1024], run[1024], nspl[1200];
    ns_test_fresh_dir("student_loss_data", data, sizeof data);
    assert_int_equal(ns_test_write_synthetic(data, 4, 2, 3), 0); /* 16 training images, 4 classes */
    ns_test_fresh_dir("student_loss_run", run, sizeof run);
    snprintf(nspl, sizeof nspl, "%s/labels.nspl", data);

    /* the label file: PSEUDO records of the training images 8..15 */
    ns_label_set s;
    assert_int_equal(ns_label_set_alloc(&s, PSEUDO, CLASSES), NS_OK);
    snprintf(s.source, sizeof s.source, "%s", data);
    for (int r = 0; r < PSEUDO; r++) {
        s.source_id[r] = (uint32_t)(8 + r);
        s.true_label[r] = -1;
        pseudo_probs(r, s.probs + (size_t)r * CLASSES);
        ns_label_set_update_top(&s, (size_t)r);
    }
    assert_int_equal(ns_label_file_write(nspl, &s), NS_OK);
    ns_label_set_free(&s);

    ns_train_config c = ns_train_config_default();
    snprintf(c.data, sizeof c.data, "%s", data);
    snprintf(c.model, sizeof c.model, "resnet8:width=4");
    snprintf(c.run_dir, sizeof c.run_dir, "%s", run);
    snprintf(c.pseudo, sizeof c.pseudo, "%s", nspl);
    c.epochs = 1;
    c.batch = BATCH;               /* 16 labeled images: two labeled batches */
    c.unlabeled_ratio = 0.5f;      /* R = 0.5: 4 pseudo rows per step, two steps */
    c.pseudo_threshold = 0.0f;
    c.pseudo_per_class = -1;       /* every record once: the targets are the label file's rows */
    c.pad_crop = 0;
    c.flip = 0;
    c.eval_every = 0;
    c.loader_threads = 1;
    c.lr = 0.01f;

    ns_pseudo_data pd;
    assert_int_equal(ns_pseudo_data_open(&c, NULL, &pd), NS_OK);
    assert_int_equal(pd.view.count, PSEUDO);

    memset(&rec, 0, sizeof rec);
    rec.orig = be->table.softmax_cross_entropy;
    be->table.softmax_cross_entropy = recording_loss;
    ns_train_result res;
    ns_status st = ns_train(&c, be, 0, &pd.view, NULL, &res);
    be->table.softmax_cross_entropy = rec.orig;
    if (st != NS_OK)
        fail_msg("ns_train: %s", ns_last_error());
    ns_pseudo_data_free(&pd);

    const int n_lab = BATCH, n_ps = BATCH / 2, n = n_lab + n_ps;
    assert_int_equal(rec.calls, PSEUDO / n_ps);
    int seen[PSEUDO] = {0};
    double epoch_loss = 0;
    for (int call = 0; call < rec.calls; call++) {
        assert_int_equal(rec.n[call], n);
        assert_true(rec.grad_scale[call] == 1.0f / (float)n_lab);
        double ce_lab = 0, ce_ps = 0;
        for (int i = 0; i < n; i++) {
            const float *z = rec.logits[call] + (size_t)i * CLASSES, *t = rec.targets[call] + (size_t)i * CLASSES;
            if (i < n_lab) { /* labeled: one-hot (no smoothing) */
                int ones = 0;
                for (int k = 0; k < CLASSES; k++)
                    ones += t[k] == 1.0f ? 1 : (assert_true(t[k] == 0.0f), 0);
                assert_int_equal(ones, 1);
            } else { /* pseudo: one of the label file's rows, each once per epoch */
                int match = -1;
                for (int r = 0; r < PSEUDO && match < 0; r++) {
                    float p[CLASSES];
                    pseudo_probs(r, p);
                    int same = 1;
                    for (int k = 0; k < CLASSES; k++)
                        same &= fabsf(t[k] - p[k]) <= 1e-6f;
                    if (same)
                        match = r;
                }
                if (match < 0)
                    fail_msg("step %d row %d: target (%g, %g, %g, %g) is none of the label file's rows", call, i,
                             (double)t[0], (double)t[1], (double)t[2], (double)t[3]);
                seen[match]++;
            }
            /* CE and its gradient in double, from the recorded logits */
            double mx = z[0], sum = 0, tsum = 0, ce = 0, p[CLASSES];
            for (int k = 1; k < CLASSES; k++)
                mx = z[k] > mx ? z[k] : mx;
            for (int k = 0; k < CLASSES; k++)
                sum += exp(z[k] - mx);
            for (int k = 0; k < CLASSES; k++) {
                p[k] = exp(z[k] - mx) / sum;
                ce -= t[k] * log(p[k]);
                tsum += t[k];
            }
            assert_float_equal(rec.loss[call][i], ce, 1e-5);
            for (int k = 0; k < CLASSES; k++)
                assert_float_equal(rec.dlogits[call][(size_t)i * CLASSES + k], (p[k] * tsum - t[k]) / n_lab, 1e-6);
            if (i < n_lab)
                ce_lab += ce;
            else
                ce_ps += ce;
        }
        assert_true(ce_ps > 0.1 * n_ps); /* the pool's rows carry loss */
        epoch_loss += ce_lab / n_lab + 0.5 * (ce_ps / n_ps); /* CE(labeled) + R x CE(pseudo) */
    }
    for (int r = 0; r < PSEUDO; r++)
        assert_int_equal(seen[r], 1);
    epoch_loss /= rec.calls;
    double logged = train_loss_of_epoch1(run);
    print_message("epoch 1: train_loss %.6f logged, %.6f recomputed from the recorded steps\n", logged, epoch_loss);
    assert_float_equal(logged, epoch_loss, 1e-5 * epoch_loss);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_targets_by_hand),
        cmocka_unit_test(test_step_loss_by_hand),
        cmocka_unit_test(test_train_feeds_pseudo_targets),
    };
    return cmocka_run_group_tests(tests, setup, teardown);
}
