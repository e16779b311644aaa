/* The labeler end to end on the ref backend: a tiny ResNet checkpoint labels
 * the withheld pool of its split, the whole IDX set it was made from, and an
 * image folder of the same pictures; all three agree, and the result survives
 * the label file and the filter. */
#include <fcntl.h>
#include <math.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <cmocka.h>

#include "data/source.h"
#include "data/split.h"
#include "io/file_util.h"
#include "nn/model.h"
#include "nn/model_spec.h"
#include "plugin/backend_loader.h"
#include "selftrain/filter_balance.h"
#include "selftrain/label_file.h"
#include "selftrain/labeler.h"
#include "selftrain/source_images.h"
#include "selftrain_test_images.h"
#include "selftrain_test_util.h"
#include "train/checkpoint.h"
#include "util/error.h"

enum { N = 30, K = 3, S = 8, PER_CLASS = 2, SPLIT_SEED = 5 };

typedef struct fixture {
    ns_backend *be;
    ns_model *m;
    ns_ckpt_info info;
    char images[512], labels[512], ckpt[512], dir[512], spec[1100];
    uint8_t pix[N][S * S];
} fixture;

static void be32(unsigned char *p, uint32_t v)
{
    p[0] = (unsigned char)(v >> 24);
    p[1] = (unsigned char)(v >> 16);
    p[2] = (unsigned char)(v >> 8);
    p[3] = (unsigned char)v;
}

/* Class k images: a bright band at rows 2k..2k+2 over a per-image texture. */
static int write_idx(fixture *f)
{
    unsigned char img[16 + N * S * S], lab[8 + N];
    be32(img, 0x803);
    be32(img + 4, N);
    be32(img + 8, S);
    be32(img + 12, S);
    be32(lab, 0x801);
    be32(lab + 4, N);
    for (int i = 0; i < N; i++) {
        const int k = i % K;
        lab[8 + i] = (unsigned char)k;
        for (int p = 0; p < S * S; p++) {
            const int y = p / S;
            int v = (int)((p * 37 + i * 101) % 60) + (y >= 2 * k && y <= 2 * k + 2 ? 150 : 20);
            f->pix[i][p] = (uint8_t)v;
            img[16 + i * S * S + p] = (uint8_t)v;
        }
    }
    return st_write_bytes(f->images, img, sizeof img) | st_write_bytes(f->labels, lab, sizeof lab);
}

static int setup(void **state)
{
    fixture *f = calloc(1, sizeof *f);
    *state = f;
    st_path(f->images, sizeof f->images, "pool-images-idx3-ubyte");
    st_path(f->labels, sizeof f->labels, "pool-labels-idx1-ubyte");
    st_path(f->ckpt, sizeof f->ckpt, "teacher.safetensors");
    st_path(f->dir, sizeof f->dir, "labeler-folder");
    snprintf(f->spec, sizeof f->spec, "idx:%s,%s", f->images, f->labels);
    if (write_idx(f))
        return -1;
    ns_backend_options opt = ns_backend_options_default();
    opt.threads = 2;
    ns_model_spec spec;
    if (ns_backend_open("ref", &opt, &f->be) != NS_OK || ns_model_spec_parse("resnet8:width=4", &spec) != NS_OK ||
        ns_model_create(f->be, &spec, 1, S, S, K, &f->m) != NS_OK || ns_model_init(f->m, 7) != NS_OK) {
        fprintf(stderr, "setup: %s\n", ns_last_error());
        return -1;
    }
    ns_ckpt_info info;
    memset(&info, 0, sizeof info);
    info.mean[0] = 0.3f;
    info.std[0] = 0.25f;
    snprintf(info.config, sizeof info.config,
             "{\"data\": \"%s\", \"labels_per_class\": %d, \"split_seed\": %d}", f->spec, PER_CLASS, SPLIT_SEED);
    ns_model_destroy(f->m);
    f->m = NULL;
    /* Saved and loaded back: the labeler runs on what a checkpoint gives. */
    ns_model *fresh = NULL;
    if (ns_model_create(f->be, &spec, 1, S, S, K, &fresh) != NS_OK || ns_model_init(fresh, 7) != NS_OK ||
        ns_checkpoint_save(f->ckpt, fresh, NULL, &info) != NS_OK ||
        ns_checkpoint_load_model(f->ckpt, f->be, &f->m, &f->info) != NS_OK) {
        fprintf(stderr, "setup: %s\n", ns_last_error());
        ns_model_destroy(fresh);
        return -1;
    }
    ns_model_destroy(fresh);
    return 0;
}

static int teardown(void **state)
{
    fixture *f = *state;
    ns_model_destroy(f->m);
    ns_backend_close(f->be);
    unlink(f->images);
    unlink(f->labels);
    unlink(f->ckpt);
    free(f);
    return 0;
}

static void assert_rows_valid(const ns_label_set *s)
{
    for (size_t i = 0; i < s->count; i++) {
        const float *row = s->probs + i * K;
        double sum = 0;
        int best = 0;
        for (int k = 0; k < K; k++) {
            assert_true(row[k] >= 0.0f && row[k] <= 1.0f);
            sum += row[k];
            if (row[k] > row[best])
                best = k;
        }
        assert_float_equal(sum, 1.0, 1e-5);
        assert_int_equal(s->top[i], best);
        assert_float_equal(s->confidence[i], row[best], 0);
    }
}

/* Rows of `a` equal the rows of `b` for the same source ids (b indexed by id). */
static void assert_same_probs(const ns_label_set *a, const ns_label_set *by_id)
{
    for (size_t i = 0; i < a->count; i++)
        for (int k = 0; k < K; k++)
            assert_float_equal(a->probs[i * K + k], by_id->probs[(size_t)a->source_id[i] * K + k], 1e-5);
}

static void test_pool_dataset_and_folder_agree(void **state)
{
    fixture *f = *state;
    ns_label_set pool, all, folder;
    size_t skipped = 99;
    assert_int_equal(ns_label_source(f->m, &f->info, "pool", 7, NS_TTA_NONE, &pool, &skipped), NS_OK);
    assert_int_equal(skipped, 0);
    assert_string_equal(pool.source, "pool");
    /* the pool is exactly the `rest` of the checkpoint's split, true labels kept */
    ns_dataset d;
    ns_index_list lab = {0}, rest = {0};
    assert_int_equal(ns_dataset_open(f->spec, 1, &d), NS_OK);
    assert_int_equal(ns_split_per_class(&d, PER_CLASS, SPLIT_SEED, &lab, &rest), NS_OK);
    assert_int_equal(pool.count, N - K * PER_CLASS);
    assert_int_equal(pool.count, rest.n);
    for (size_t i = 0; i < rest.n; i++) {
        assert_int_equal(pool.source_id[i], rest.idx[i]);
        assert_int_equal(pool.true_label[i], d.labels[rest.idx[i]]);
    }
    assert_rows_valid(&pool);

    /* the whole set, another batch size: the pool's rows are the same images' rows */
    assert_int_equal(ns_label_source(f->m, &f->info, f->spec, 4, NS_TTA_NONE, &all, NULL), NS_OK);
    assert_int_equal(all.count, N);
    for (size_t i = 0; i < N; i++)
        assert_int_equal(all.source_id[i], i);
    assert_rows_valid(&all);
    assert_same_probs(&pool, &all);
    /* not a constant model: the rows differ between images */
    int differ = 0;
    for (size_t i = 1; i < N; i++)
        differ |= fabsf(all.probs[i * K] - all.probs[0]) > 1e-4f;
    assert_true(differ);

    /* the first 6 images as PNG files plus one broken file, sorted 4th */
    assert_int_equal(ns_mkdir_p(f->dir), NS_OK);
    char p[1200];
    for (int i = 0; i < 6; i++) {
        snprintf(p, sizeof p, "%s/img%03d.png", f->dir, i);
        assert_int_equal(st_write_png(p, f->pix[i], S, S, 1), 0);
    }
    snprintf(p, sizeof p, "%s/img002_broken.png", f->dir);
    assert_int_equal(st_write_bytes(p, "GIF89a", 6), 0);
    char src[1200];
    snprintf(src, sizeof src, "folder:%s", f->dir);
    fflush(stderr);
    int saved_err = dup(2), null = open("/dev/null", O_WRONLY);
    dup2(null, 2);
    close(null);
    ns_status st = ns_label_source(f->m, &f->info, src, 256, NS_TTA_NONE, &folder, &skipped);
    dup2(saved_err, 2);
    assert_int_equal(st, NS_OK);
    assert_int_equal(skipped, 1);
    assert_int_equal(folder.count, 6);
    const uint32_t ordinals[6] = {0, 1, 2, 4, 5, 6};
    for (size_t i = 0; i < 6; i++) {
        assert_int_equal(folder.source_id[i], ordinals[i]);
        assert_int_equal(folder.true_label[i], -1);
        for (int k = 0; k < K; k++)
            assert_float_equal(folder.probs[i * K + k], all.probs[i * K + k], 1e-5);
    }
    /* the student's view: images by source id, the broken slot black, no labels */
    ns_dataset imgs;
    null = open("/dev/null", O_WRONLY);
    dup2(null, 2);
    close(null);
    ns_data_options o = ns_data_options_default();
    o.c = 1, o.h = S, o.w = S;
    st = ns_source_images_open(src, NULL, &o, &imgs);
    dup2(saved_err, 2);
    close(saved_err);
    assert_int_equal(st, NS_OK);
    assert_int_equal(imgs.n, 7);
    for (size_t i = 0; i < 6; i++)
        assert_memory_equal(ns_dataset_image(&imgs, ordinals[i]), f->pix[i], S * S);
    for (size_t p3 = 0; p3 < S * S; p3++)
        assert_int_equal(ns_dataset_image(&imgs, 3)[p3], 0);
    for (size_t i = 0; i < imgs.n; i++)
        assert_int_equal(imgs.labels[i], -1);
    ns_dataset_free(&imgs);
    assert_int_equal(ns_source_images_open("pool", f->spec, &o, &imgs), NS_OK);
    assert_int_equal(imgs.n, N);
    for (size_t i = 0; i < pool.count; i++) {
        assert_memory_equal(ns_dataset_image(&imgs, pool.source_id[i]), f->pix[pool.source_id[i]], S * S);
        assert_int_equal(imgs.labels[pool.source_id[i]], -1);
    }
    ns_dataset_free(&imgs);
    assert_int_equal(ns_source_images_open("pool", NULL, &o, &imgs), NS_ERR_INVALID_ARG);
    for (int i = 0; i < 6; i++) {
        snprintf(p, sizeof p, "%s/img%03d.png", f->dir, i);
        unlink(p);
    }
    snprintf(p, sizeof p, "%s/img002_broken.png", f->dir);
    unlink(p);
    rmdir(f->dir);

    /* through the file and into the filter */
    char out[512];
    st_path(out, sizeof out, "pool.nspl");
    ns_label_set back;
    assert_int_equal(ns_label_file_write(out, &pool), NS_OK);
    assert_int_equal(ns_label_file_read(out, &back), NS_OK);
    assert_int_equal(back.count, pool.count);
    assert_memory_equal(back.probs, pool.probs, pool.count * K * sizeof *pool.probs);
    ns_filter_config fc = ns_filter_config_default();
    fc.threshold = 0.0f;
    fc.per_class = -1;
    ns_student_set ss;
    ns_class_table t;
    assert_int_equal(ns_filter_balance(&back, &fc, &ss, &t), NS_OK);
    assert_int_equal(ss.n, pool.count);
    size_t known = 0;
    for (int k = 0; k < K; k++)
        known += t.rows[k].known;
    assert_int_equal(known, pool.count);
    ns_student_set_free(&ss);
    ns_class_table_free(&t);
    ns_label_set_free(&back);
    unlink(out);

    ns_index_list_free(&lab);
    ns_index_list_free(&rest);
    ns_dataset_free(&d);
    ns_label_set_free(&pool);
    ns_label_set_free(&all);
    ns_label_set_free(&folder);
}

static void test_pool_needs_a_withheld_split(void **state)
{
    fixture *f = *state;
    ns_ckpt_info info = f->info;
    ns_label_set s;
    info.config[0] = '\0';
    assert_int_equal(ns_label_source(f->m, &info, "pool", 8, NS_TTA_NONE, &s, NULL), NS_ERR_FORMAT);
    assert_non_null(strstr(ns_last_error(), "no run configuration"));
    snprintf(info.config, sizeof info.config, "{\"data\": \"%s\", \"labels_per_class\": 0}", f->spec);
    assert_int_equal(ns_label_source(f->m, &info, "pool", 8, NS_TTA_NONE, &s, NULL), NS_ERR_FORMAT);
    assert_non_null(strstr(ns_last_error(), "no withheld pool"));
    snprintf(info.config, sizeof info.config, "{not json");
    assert_int_equal(ns_label_source(f->m, &info, "pool", 8, NS_TTA_NONE, &s, NULL), NS_ERR_FORMAT);
    assert_null(s.probs);
    /* a source that does not read as images is refused, the set left empty */
    char wrong[1100];
    snprintf(wrong, sizeof wrong, "idx:%s", f->ckpt);
    assert_int_not_equal(ns_label_source(f->m, &f->info, wrong, 8, NS_TTA_NONE, &s, NULL), NS_OK);
    assert_null(s.probs);
}

/* The label file's probabilities are the checkpoint's eval-mode softmax: an
 * independent forward (the checkpoint loaded again from disk, the pixels
 * normalised here, one image per forward, batchnorm on its running
 * statistics, no noise) gives the same floats, bit for bit on ref. The
 * checkpoint's running statistics are made non-trivial first (training-mode
 * forwards), so a labeler that used batch statistics, another normalisation
 * or another image's row would differ. */
static void test_label_file_matches_eval_forward(void **state)
{
    fixture *f = *state;
    ns_backend *be = f->be;
    ns_model_spec spec;
    ns_model *m = NULL;
    assert_int_equal(ns_model_spec_parse("resnet8:width=4", &spec), NS_OK);
    assert_int_equal(ns_model_create(be, &spec, 1, S, S, K, &m), NS_OK);
    assert_int_equal(ns_model_init(m, 11), NS_OK);
    /* three training forwards move the running statistics away from 0 and 1 */
    enum { B = 6 };
    float host[B * S * S];
    ns_buf *x = NULL;
    assert_int_equal(be->api->buf_alloc(be->ctx, B * S * S, &x), NS_OK);
    for (int it = 0; it < 3; it++) {
        for (int i = 0; i < B * S * S; i++)
            host[i] = 0.5f + 1.5f * sinf(0.37f * (float)(i + 97 * it));
        assert_int_equal(be->api->upload(be->ctx, x, 0, host, B * S * S), NS_OK);
        const ns_buf *logits = NULL;
        assert_int_equal(ns_model_forward(m, x, B, 1, NULL, 1, (uint64_t)it, &logits), NS_OK);
    }
    ns_ckpt_info info = f->info;
    info.mean[0] = 0.41f;
    info.std[0] = 0.27f;
    char ckpt[512], out[512];
    st_path(ckpt, sizeof ckpt, "eval-teacher.safetensors");
    st_path(out, sizeof out, "eval.nspl");
    assert_int_equal(ns_checkpoint_save(ckpt, m, NULL, &info), NS_OK);
    ns_model_destroy(m);

    /* what the label stage does: load the checkpoint, label, write the file */
    ns_model *teacher = NULL;
    ns_ckpt_info tinfo;
    assert_int_equal(ns_checkpoint_load_model(ckpt, be, &teacher, &tinfo), NS_OK);
    ns_label_set labeled, back;
    assert_int_equal(ns_label_source(teacher, &tinfo, f->spec, 4, NS_TTA_NONE, &labeled, NULL), NS_OK);
    assert_int_equal(ns_label_file_write(out, &labeled), NS_OK);
    ns_label_set_free(&labeled);
    ns_model_destroy(teacher);
    assert_int_equal(ns_label_file_read(out, &back), NS_OK);
    assert_int_equal(back.count, N);

    /* the independent forward */
    ns_model *ref_m = NULL;
    ns_ckpt_info rinfo;
    assert_int_equal(ns_checkpoint_load_model(ckpt, be, &ref_m, &rinfo), NS_OK);
    ns_buf *probs = NULL;
    assert_int_equal(be->api->buf_alloc(be->ctx, K, &probs), NS_OK);
    const float scale = 1.0f / (255.0f * 0.27f), shift = -0.41f / 0.27f;
    int differ = 0;
    for (size_t r = 0; r < back.count; r++) {
        const uint32_t id = back.source_id[r];
        assert_true(id < N);
        for (int p = 0; p < S * S; p++)
            host[p] = (float)f->pix[id][p] * scale + shift;
        assert_int_equal(be->api->upload(be->ctx, x, 0, host, S * S), NS_OK);
        const ns_buf *logits = NULL;
        assert_int_equal(ns_model_forward(ref_m, x, 1, 0, NULL, 0, 0, &logits), NS_OK);
        assert_int_equal(be->api->softmax(be->ctx, 1, K, logits, probs), NS_OK);
        float want[K];
        assert_int_equal(be->api->download(be->ctx, probs, 0, want, K), NS_OK);
        for (int k = 0; k < K; k++)
            if (want[k] != back.probs[r * K + k])
                fail_msg("record %zu (image %u) class %d: label file %.9g, eval forward %.9g", r, id, k,
                         (double)back.probs[r * K + k], (double)want[k]);
        differ |= r && fabsf(back.probs[r * K] - back.probs[0]) > 1e-4f;
    }
    assert_true(differ); /* not a constant model */
    be->api->buf_free(be->ctx, probs);
    be->api->buf_free(be->ctx, x);
    ns_model_destroy(ref_m);
    ns_label_set_free(&back);
    unlink(out);
    unlink(ckpt);
}

/* One image's eval-mode softmax by a plain forward, the pixels normalised
 * here with the fixture checkpoint's mean and std. */
static void forward_one(fixture *f, ns_buf *x, ns_buf *probs, const uint8_t *pix, double *out)
{
    ns_backend *be = f->be;
    float host[S * S], p[K];
    for (int i = 0; i < S * S; i++)
        host[i] = ((float)pix[i] / 255.0f - f->info.mean[0]) / f->info.std[0];
    assert_int_equal(be->api->upload(be->ctx, x, 0, host, S * S), NS_OK);
    const ns_buf *logits = NULL;
    assert_int_equal(ns_model_forward(f->m, x, 1, 0, NULL, 0, 0, &logits), NS_OK);
    assert_int_equal(be->api->softmax(be->ctx, 1, K, logits, probs), NS_OK);
    assert_int_equal(be->api->download(be->ctx, probs, 0, p, K), NS_OK);
    for (int k = 0; k < K; k++)
        out[k] += p[k];
}

/* View v of image `pix`, made here pixel by pixel as tta.h documents it:
 * 1 the left-right mirror; 2..5 the image moved 2 pixels right, left, down,
 * up with zeros shifted in. */
static void make_view(const uint8_t *pix, int v, uint8_t *out)
{
    static const int move[6][2] = {{0, 0}, {0, 0}, {0, 2}, {0, -2}, {2, 0}, {-2, 0}}; /* dy, dx */
    for (int y = 0; y < S; y++)
        for (int x = 0; x < S; x++) {
            const int sy = y - move[v][0], sx = v == 1 ? S - 1 - x : x - move[v][1];
            out[y * S + x] = sy >= 0 && sy < S && sx >= 0 && sx < S ? pix[sy * S + sx] : 0;
        }
}

/* label --tta: each record's probabilities are the mean of the eval-mode
 * softmax of the image and of its views (flip: the mirror; flip+crops: and
 * four shifted copies), made and run one by one here; within 1e-6. The file
 * records the TTA and reads it back. Under none the rows are the image's own
 * (test_label_file_matches_eval_forward pins them bit for bit), and TTA rows
 * differ from them, so a labeler that ignored --tta fails. Batch 4 over 30
 * images: the views of a partial last batch too. */
static void test_tta_labels_are_view_means(void **state)
{
    fixture *f = *state;
    ns_backend *be = f->be;
    ns_buf *x = NULL, *probs = NULL;
    assert_int_equal(be->api->buf_alloc(be->ctx, S * S, &x), NS_OK);
    assert_int_equal(be->api->buf_alloc(be->ctx, K, &probs), NS_OK);
    const ns_tta kinds[2] = {NS_TTA_FLIP, NS_TTA_FLIP_CROPS};
    char out[512];
    st_path(out, sizeof out, "tta.nspl");
    for (int t = 0; t < 2; t++) {
        ns_label_set labeled, back;
        assert_int_equal(ns_label_source(f->m, &f->info, f->spec, 4, kinds[t], &labeled, NULL), NS_OK);
        assert_int_equal(labeled.tta, kinds[t]);
        assert_int_equal(ns_label_file_write(out, &labeled), NS_OK);
        ns_label_set_free(&labeled);
        assert_int_equal(ns_label_file_read(out, &back), NS_OK);
        assert_int_equal(back.tta, kinds[t]);
        assert_int_equal(back.count, N);
        assert_rows_valid(&back);
        const int views = kinds[t] == NS_TTA_FLIP ? 2 : 6;
        double moved = 0;
        for (size_t r = 0; r < back.count; r++) {
            const uint32_t id = back.source_id[r];
            assert_true(id < N);
            double want[K] = {0}, plain[K] = {0};
            forward_one(f, x, probs, f->pix[id], plain);
            for (int v = 0; v < views; v++) {
                uint8_t view[S * S];
                make_view(f->pix[id], v, view);
                forward_one(f, x, probs, view, want);
            }
            for (int k = 0; k < K; k++) {
                want[k] /= views;
                if (fabs(want[k] - back.probs[r * K + k]) > 1e-6)
                    fail_msg("%s: record %zu (image %u) class %d: label file %.9g, mean of %d views %.9g",
                             ns_tta_name(kinds[t]), r, id, k, (double)back.probs[r * K + k], views, want[k]);
                moved = fmax(moved, fabs(plain[k] - back.probs[r * K + k]));
            }
        }
        assert_true(moved > 1e-4); /* the views changed something: not the plain rows */
        ns_label_set_free(&back);
    }
    be->api->buf_free(be->ctx, probs);
    be->api->buf_free(be->ctx, x);
    unlink(out);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_label_file_matches_eval_forward),
        cmocka_unit_test(test_pool_dataset_and_folder_agree),
        cmocka_unit_test(test_pool_needs_a_withheld_split),
        cmocka_unit_test(test_tta_labels_are_view_means),
    };
    return cmocka_run_group_tests(tests, setup, teardown);
}
