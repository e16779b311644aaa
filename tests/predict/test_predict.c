/* noisystudent predict, on PNG and JPEG files written here and a random model
 * whose batchnorms are not identities (common/random_model.h):
 *   - ns_top_k orders by probability, lower index first on ties;
 *   - the library's probabilities are bit-for-bit eval's (ns_evaluate) for the
 *     same decoded images, and its logits eval's forward;
 *   - the command's table, csv and jsonl parse, list the top k in decreasing
 *     order with the class names, sum to 1 over all classes, agree with the
 *     library to the printed precision, and follow directories (sorted);
 *   - --tta flip prints the mean of the probabilities of an image and of its
 *     mirrored copy;
 *   - a corrupt or missing file gets one warning line, the others are still
 *     predicted, and the exit status is 1; no file, a bad flag: exit 2. */
#include <math.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>

#include <cmocka.h>
#include <jansson.h>

#include <noisystudent/rng.h>

#include "data/class_names.h"
#include "data/normalize.h"
#include "ns_test_ref.h"
#include "predict/predict.h"
#include "random_model.h"
#include "data/image_load.h"
#include "cli_run.h"
#include "synthetic_data.h"
#include "train/checkpoint.h"
#include "train/evaluate.h"
#include "../selftrain/selftrain_test_images.h"

#define C 3
#define H 12
#define W 10
#define CLASSES 4
#define N_FILES 7

static ns_backend *be;
static char dir[1024], model[1200], img_dir[1200];
static char files[N_FILES][1300];
static const char *const class_names[CLASSES] = {"cat", "dog", "bird, small", "say \"hi\""};

static void random_image(uint8_t *img, uint64_t seed)
{
    for (size_t j = 0; j < (size_t)H * W * C; j++)
        img[j] = (uint8_t)(ns_philox_u32_at(seed, 3, j) >> 24);
}

static int setup(void **state)
{
    (void)state;
    if (ns_test_require_ref(&be) != 0)
        return -1;
    ns_test_fresh_dir("predict", dir, sizeof dir);
    snprintf(model, sizeof model, "%s/model.safetensors", dir);
    snprintf(img_dir, sizeof img_dir, "%s/images", dir);
    ns_cli_init(dir);
    mkdir(img_dir, 0755);
    ns_class_names names = {0};
    if (ns_class_names_set(&names, CLASSES, class_names) != NS_OK)
        return -1;
    ns_test_random_model(be, "resnet8:width=4", C, H, W, CLASSES, &names, 41, model);
    ns_class_names_free(&names);
    /* Files in the image folder: PNG at the model's size, a PNG twice as
     * large (resized on load), JPEGs; names chosen so that the sorted order
     * differs from the order they are written in. */
    uint8_t img[2 * H * 2 * W * C];
    for (int i = 0; i < N_FILES; i++) {
        const int big = i == 2;
        const int jpeg = i % 3 == 1;
        snprintf(files[i], sizeof files[i], "%s/img%d_%c.%s", img_dir, N_FILES - i, 'a' + i, jpeg ? "jpg" : "png");
        for (size_t j = 0; j < sizeof img; j++)
            img[j] = (uint8_t)(ns_philox_u32_at(50 + (uint64_t)i, 3, j) >> 24);
        int rc = jpeg ? st_write_jpeg(files[i], img, H, W, C, 95)
                      : st_write_png(files[i], img, big ? 2 * H : H, big ? 2 * W : W, C);
        if (rc != 0)
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

/* The library's probabilities for one file, decoded as the command decodes it. */
static void library_probs(ns_model *m, const ns_ckpt_info *info, const char *path, int flip, float *probs)
{
    uint8_t img[H * W * C];
    assert_int_equal(ns_image_load(path, C, H, W, img), NS_OK);
    ns_predict_config cfg = {4, info->mean, info->std, flip};
    assert_int_equal(ns_predict_images(m, &cfg, img, 1, probs, NULL), NS_OK);
}

static void test_top_k(void **state)
{
    (void)state;
    const float p[6] = {0.1f, 0.3f, 0.05f, 0.3f, 0.2f, 0.05f};
    int idx[6];
    assert_int_equal(ns_top_k(p, 6, 3, idx), 3);
    assert_int_equal(idx[0], 1); /* tie with 3: the lower index first */
    assert_int_equal(idx[1], 3);
    assert_int_equal(idx[2], 4);
    assert_int_equal(ns_top_k(p, 6, 99, idx), 6);
    const int want[6] = {1, 3, 4, 0, 2, 5};
    for (int r = 0; r < 6; r++)
        assert_int_equal(idx[r], want[r]);
    assert_int_equal(ns_top_k(p, 6, 0, idx), 1);
    assert_int_equal(idx[0], 1);
}

static void test_flip_horizontal(void **state)
{
    (void)state;
    const uint8_t src[2 * 3 * 2] = {1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12};
    uint8_t dst[12];
    ns_image_flip_horizontal(src, 2, 3, 2, dst);
    const uint8_t want[12] = {5, 6, 3, 4, 1, 2, 11, 12, 9, 10, 7, 8};
    assert_memory_equal(dst, want, sizeof want);
}

static ns_status keep_probs(void *user, const uint32_t *index, const float *probs, int n, int classes)
{
    float *all = user;
    for (int i = 0; i < n; i++)
        memcpy(all + (size_t)index[i] * classes, probs + (size_t)i * classes, (size_t)classes * sizeof *probs);
    return NS_OK;
}

/* The same decoded images through ns_evaluate (what eval and label run) and
 * through ns_predict_images, in batches of different sizes. */
static void test_library_equals_eval(void **state)
{
    (void)state;
    ns_model *m;
    ns_ckpt_info info;
    assert_int_equal(ns_checkpoint_load_model(model, be, &m, &info), NS_OK);
    ns_dataset d;
    assert_int_equal(ns_dataset_alloc(&d, N_FILES, H, W, C), NS_OK);
    for (int i = 0; i < N_FILES; i++)
        assert_int_equal(ns_image_load(files[i], C, H, W, ns_dataset_image(&d, (size_t)i)), NS_OK);
    float eval_probs[N_FILES * CLASSES], probs[N_FILES * CLASSES], logits[N_FILES * CLASSES];
    ns_eval_config ec = {5, info.mean, info.std, keep_probs, eval_probs, 0, NS_TTA_NONE};
    assert_int_equal(ns_evaluate(m, &d, NULL, &ec, NULL), NS_OK);
    ns_predict_config pc = {3, info.mean, info.std, 0};
    assert_int_equal(ns_predict_images(m, &pc, d.images, N_FILES, probs, logits), NS_OK);
    assert_memory_equal(probs, eval_probs, sizeof probs);

    /* eval's forward of the whole set at once gives the same logits */
    const size_t img = (size_t)C * H * W;
    float *x = malloc(N_FILES * img * sizeof *x);
    assert_non_null(x);
    for (int i = 0; i < N_FILES; i++)
        ns_image_to_chw(ns_dataset_image(&d, (size_t)i), H, W, C, info.mean, info.std, x + i * img);
    ns_buf *xb;
    const ns_buf *lb;
    float want[N_FILES * CLASSES];
    assert_int_equal(be->api->buf_alloc(be->ctx, N_FILES * img, &xb), NS_OK);
    assert_int_equal(be->api->upload(be->ctx, xb, 0, x, N_FILES * img), NS_OK);
    assert_int_equal(ns_model_forward(m, xb, N_FILES, 0, NULL, 0, 0, &lb), NS_OK);
    assert_int_equal(be->api->download(be->ctx, lb, 0, want, N_FILES * CLASSES), NS_OK);
    be->api->buf_free(be->ctx, xb);
    double spread = 0;
    for (int j = 0; j < N_FILES * CLASSES; j++) {
        assert_float_equal(logits[j], want[j], 1e-5 * fmax(1.0, fabs(want[j])));
        spread = fmax(spread, fabs(want[j] - want[j % CLASSES]));
    }
    assert_true(spread > 0.01); /* the images are told apart: not a constant model */
    free(x);
    ns_dataset_free(&d);
    ns_model_destroy(m);
}

/* Splits one CSV line into cells (quoted cells unquoted); returns the count. */
static int csv_split(const char *line, char cells[][256], int max)
{
    int n = 0;
    const char *s = line;
    while (n < max) {
        size_t len = 0;
        if (*s == '"') {
            for (s++; *s && !(*s == '"' && s[1] != '"'); s++) {
                if (*s == '"')
                    s++;
                cells[n][len++] = *s;
            }
            s++;
        } else {
            for (; *s && *s != ',' && *s != '\n'; s++)
                cells[n][len++] = *s;
        }
        cells[n++][len] = '\0';
        if (*s != ',')
            break;
        s++;
    }
    return n;
}

static void test_csv(void **state)
{
    (void)state;
    char args[4096];
    snprintf(args, sizeof args, "--model '%s' --format csv --top %d --batch 3 '%s'", model, CLASSES, img_dir);
    assert_int_equal(ns_cli_run("predict --backend ref %s", args), 0);
    ns_model *m;
    ns_ckpt_info info;
    assert_int_equal(ns_checkpoint_load_model(model, be, &m, &info), NS_OK);
    char *save = NULL, *line = strtok_r(ns_cli_out, "\n", &save);
    assert_string_equal(line, "file,rank,class_index,class,probability");
    /* The directory lists its files sorted by name: img1_g.png .. img7_a.png */
    for (int f = N_FILES - 1; f >= 0; f--) {
        float want[CLASSES];
        library_probs(m, &info, files[f], 0, want);
        double sum = 0, prev = 2;
        for (int r = 1; r <= CLASSES; r++) {
            line = strtok_r(NULL, "\n", &save);
            assert_non_null(line);
            char cells[8][256];
            assert_int_equal(csv_split(line, cells, 8), 5);
            assert_string_equal(cells[0], files[f]);
            assert_int_equal(atoi(cells[1]), r);
            int k = atoi(cells[2]);
            assert_true(k >= 0 && k < CLASSES);
            assert_string_equal(cells[3], class_names[k]);
            double p = strtod(cells[4], NULL);
            assert_true(p <= prev);
            prev = p;
            sum += p;
            assert_float_equal(p, want[k], 1e-7);
        }
        assert_float_equal(sum, 1.0, 1e-5);
    }
    assert_null(strtok_r(NULL, "\n", &save));
    assert_string_equal(ns_cli_err, "");
    ns_model_destroy(m);
}

static void test_jsonl_and_table(void **state)
{
    (void)state;
    char args[4096];
    snprintf(args, sizeof args, "--model '%s' --format jsonl --top 2 '%s' '%s'", model, files[0], files[1]);
    assert_int_equal(ns_cli_run("predict --backend ref %s", args), 0);
    ns_model *m;
    ns_ckpt_info info;
    assert_int_equal(ns_checkpoint_load_model(model, be, &m, &info), NS_OK);
    char *save = NULL, *line = strtok_r(ns_cli_out, "\n", &save);
    for (int f = 0; f < 2; f++, line = strtok_r(NULL, "\n", &save)) {
        assert_non_null(line);
        json_error_t err;
        json_t *o = json_loads(line, 0, &err);
        assert_non_null(o);
        assert_string_equal(json_string_value(json_object_get(o, "file")), files[f]);
        json_t *top = json_object_get(o, "top");
        assert_int_equal(json_array_size(top), 2);
        float want[CLASSES];
        library_probs(m, &info, files[f], 0, want);
        int best[2];
        ns_top_k(want, CLASSES, 2, best);
        for (int r = 0; r < 2; r++) {
            json_t *e = json_array_get(top, (size_t)r);
            assert_int_equal(json_integer_value(json_object_get(e, "index")), best[r]);
            assert_string_equal(json_string_value(json_object_get(e, "class")), class_names[best[r]]);
            assert_float_equal(json_real_value(json_object_get(e, "probability")), want[best[r]], 1e-7);
        }
        json_decref(o);
    }
    assert_null(line);

    /* table: a header and one aligned row per file, the best class first */
    snprintf(args, sizeof args, "--model '%s' --top 3 '%s' '%s'", model, files[0], files[1]);
    assert_int_equal(ns_cli_run("predict --backend ref %s", args), 0);
    print_message("%s", ns_cli_out);
    char *rows[3];
    save = NULL;
    for (int i = 0; i < 3; i++)
        assert_non_null(rows[i] = strtok_r(i ? NULL : ns_cli_out, "\n", &save));
    assert_null(strtok_r(NULL, "\n", &save));
    assert_true(strncmp(rows[0], "file ", 5) == 0);
    assert_non_null(strstr(rows[0], "top-1"));
    assert_non_null(strstr(rows[0], "top-3"));
    for (int f = 0; f < 2; f++) {
        assert_true(strncmp(rows[f + 1], files[f], strlen(files[f])) == 0);
        float want[CLASSES];
        library_probs(m, &info, files[f], 0, want);
        int best = ns_argmax(want, CLASSES);
        char *first = strstr(rows[f + 1], class_names[best]);
        assert_non_null(first);
        /* columns align: the header's "top-1" is where the best class starts */
        assert_int_equal(first - rows[f + 1], strstr(rows[0], "top-1") - rows[0]);
        char pct[32];
        snprintf(pct, sizeof pct, "%6.2f%%", 100.0 * want[best]);
        assert_non_null(strstr(rows[f + 1], pct));
    }
    ns_model_destroy(m);
}

/* The jsonl probability of class k for the single file in ns_cli_out. */
static double jsonl_prob(int k)
{
    json_error_t err;
    json_t *o = json_loads(ns_cli_out, JSON_DISABLE_EOF_CHECK, &err);
    assert_non_null(o);
    json_t *top = json_object_get(o, "top");
    double p = -1;
    for (size_t r = 0; r < json_array_size(top); r++)
        if (json_integer_value(json_object_get(json_array_get(top, r), "index")) == k)
            p = json_real_value(json_object_get(json_array_get(top, r), "probability"));
    json_decref(o);
    assert_true(p >= 0);
    return p;
}

static void test_flip_tta(void **state)
{
    (void)state;
    uint8_t img[H * W * C], mirror[H * W * C];
    random_image(img, 77);
    ns_image_flip_horizontal(img, H, W, C, mirror);
    char a[1300], b[1300], args[4096];
    snprintf(a, sizeof a, "%s/tta.png", dir);
    snprintf(b, sizeof b, "%s/tta_mirror.png", dir);
    assert_int_equal(st_write_png(a, img, H, W, C), 0);
    assert_int_equal(st_write_png(b, mirror, H, W, C), 0);
    double pa[CLASSES], pb[CLASSES], pt[CLASSES];
    const char *variants[3] = {a, b, a};
    double *into[3] = {pa, pb, pt};
    for (int v = 0; v < 3; v++) {
        snprintf(args, sizeof args, "--model '%s' --format jsonl --top %d %s '%s'", model, CLASSES,
                 v == 2 ? "--tta flip" : "", variants[v]);
        assert_int_equal(ns_cli_run("predict --backend ref %s", args), 0);
        for (int k = 0; k < CLASSES; k++)
            into[v][k] = jsonl_prob(k);
    }
    double differ = 0;
    for (int k = 0; k < CLASSES; k++) {
        assert_float_equal(pt[k], 0.5 * (pa[k] + pb[k]), 2e-7);
        differ = fmax(differ, fabs(pa[k] - pb[k]));
    }
    assert_true(differ > 1e-3); /* the mirror is a different input: the test can tell */
}

static void test_bad_files(void **state)
{
    (void)state;
    char bad[1300], missing[1300], args[8192];
    snprintf(bad, sizeof bad, "%s/corrupt.png", dir);
    snprintf(missing, sizeof missing, "%s/no-such-file.png", dir);
    assert_int_equal(st_write_bytes(bad, "\x89PNG\r\n\x1a\nnot really", 18), 0);
    snprintf(args, sizeof args, "--model '%s' --format csv --top 1 '%s' '%s' '%s' '%s'", model, files[0], bad,
             missing, files[1]);
    assert_int_equal(ns_cli_run("predict --backend ref %s", args), 1);
    /* both good files predicted, in order */
    char *first = strstr(ns_cli_out, files[0]), *second = strstr(ns_cli_out, files[1]);
    assert_non_null(first);
    assert_non_null(second);
    assert_true(first < second);
    assert_null(strstr(ns_cli_out, "corrupt"));
    /* one warning line per bad file, then the summary */
    int lines = 0;
    for (const char *s = ns_cli_err; *s; s++)
        lines += *s == '\n';
    print_message("%s", ns_cli_err);
    assert_int_equal(lines, 3);
    assert_non_null(strstr(ns_cli_err, "corrupt.png"));
    assert_non_null(strstr(ns_cli_err, "no-such-file.png"));
    assert_non_null(strstr(ns_cli_err, "2 of 4 inputs"));
}

static void test_usage(void **state)
{
    (void)state;
    char args[4096];
    snprintf(args, sizeof args, "--model '%s'", model);
    assert_int_equal(ns_cli_run("predict --backend ref %s", args), 2);
    assert_non_null(strstr(ns_cli_err, "expected image files"));
    snprintf(args, sizeof args, "--model '%s' --format xml '%s'", model, files[0]);
    assert_int_equal(ns_cli_run("predict --backend ref %s", args), 2);
    assert_non_null(strstr(ns_cli_err, "--format xml"));
    snprintf(args, sizeof args, "--model '%s' --tta rotate '%s'", model, files[0]);
    assert_int_equal(ns_cli_run("predict --backend ref %s", args), 2);
    assert_non_null(strstr(ns_cli_err, "--tta rotate"));
    snprintf(args, sizeof args, "--model '%s' --top 0 '%s'", model, files[0]);
    assert_int_equal(ns_cli_run("predict --backend ref %s", args), 2);
    snprintf(args, sizeof args, "'%s'", files[0]);
    assert_int_equal(ns_cli_run("predict --backend ref %s", args), 2);
    assert_non_null(strstr(ns_cli_err, "--model"));
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_top_k),         cmocka_unit_test(test_flip_horizontal),
        cmocka_unit_test(test_library_equals_eval), cmocka_unit_test(test_csv),
        cmocka_unit_test(test_jsonl_and_table), cmocka_unit_test(test_flip_tta),
        cmocka_unit_test(test_bad_files),     cmocka_unit_test(test_usage),
    };
    return cmocka_run_group_tests(tests, setup, teardown);
}
