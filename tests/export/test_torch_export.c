/* docs/checkpoint-format.md proved by a second implementation:
 * tools/checkpoint_to_torch.py rebuilds each network in PyTorch from the
 * document's rules alone and must print the logits the project's own
 * eval-mode forward (ref) computes for the same uint8 images, within 1e-4
 * (relative to the largest logit where that is above 1: float32 rounding
 * grows with the logits, to 3e-5 at 9.8 in the 16-block seed-resnet50).
 *
 * Each model is freshly initialised, its batchnorm running statistics are
 * calibrated on random inputs and then its gammas and betas drawn at random,
 * so that no batchnorm is an identity: a wrong epsilon, ReLU placement,
 * shortcut, padding, stride, weight layout or normalisation shows in the
 * logits. The conv weights are scaled down first, so that every batchnorm
 * sees variances near 1e-4, where an epsilon of 1e-5 matters by 5%. One more
 * model comes from a real one-epoch training run (model.safetensors and
 * checkpoint.safetensors, with the optimizer's tensors). The script needs a
 * python3 with torch; without one (tests/export/with_torch.sh exits 77) every
 * test here skips. */
#include <math.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>

#include <cmocka.h>

#include <noisystudent/rng.h>

#include "data/normalize.h"
#include "io/safetensors.h"
#include "ns_test_ref.h"
#include "plugin/backend_loader.h"
#include "synthetic_data.h"
#include "train/checkpoint.h"
#include "train/trainer.h"
#include "util/error.h"

#define TOLERANCE 1e-4
#define N_IMAGES 5

static ns_backend *be;
static char dir[1024];

static int setup(void **state)
{
    (void)state;
    if (ns_test_require_ref(&be) != 0)
        return -1; /* ref is always built: its absence fails the suite */
    ns_test_fresh_dir("export_torch", dir, sizeof dir);
    return 0;
}

static int teardown(void **state)
{
    (void)state;
    ns_backend_close(be);
    return 0;
}

static float uniform(uint64_t seed, uint64_t stream, uint64_t i)
{
    return (float)ns_philox_u32_at(seed, stream, i) / 4294967296.0f;
}

static void download(ns_param *p, float *host)
{
    assert_int_equal(be->api->download(be->ctx, p->value, 0, host, p->size), NS_OK);
}

static void upload(ns_param *p, const float *host)
{
    assert_int_equal(be->api->upload(be->ctx, p->value, 0, host, p->size), NS_OK);
}

static int ends_with(const char *s, const char *tail)
{
    size_t a = strlen(s), b = strlen(tail);
    return a >= b && strcmp(s + a - b, tail) == 0;
}

/* Conv weights x0.01, batchnorm statistics from 20 training forwards of
 * random inputs (debiased: the running averages start at 0), then gamma in
 * [0.5, 1.5) and beta in [-0.5, 0.5). */
static void randomise(ns_model *m, uint64_t seed)
{
    int c, h, w;
    ns_model_input(m, &c, &h, &w);
    float *host = NULL;
    size_t cap = 0;
    for (size_t i = 0; i < ns_model_num_params(m) + ns_model_num_states(m); i++) {
        ns_param *p = i < ns_model_num_params(m) ? ns_model_param(m, i)
                                                 : ns_model_state(m, i - ns_model_num_params(m));
        if (p->size > cap) {
            cap = p->size;
            host = realloc(host, cap * sizeof *host);
            assert_non_null(host);
        }
        int conv = p->ndim == 4, stat = ends_with(p->name, "running_mean") || ends_with(p->name, "running_var");
        if (!conv && !stat)
            continue;
        download(p, host);
        for (size_t j = 0; j < p->size; j++)
            host[j] = conv ? host[j] * 0.01f : 0.0f;
        upload(p, host);
    }
    const int batch = 16, rounds = 20;
    size_t img = (size_t)c * h * w;
    float *x = malloc((size_t)batch * img * sizeof *x);
    ns_buf *xb = NULL;
    assert_non_null(x);
    assert_int_equal(be->api->buf_alloc(be->ctx, (size_t)batch * img, &xb), NS_OK);
    for (int r = 0; r < rounds; r++) {
        for (size_t j = 0; j < (size_t)batch * img; j++)
            x[j] = 4.0f * uniform(seed, 100 + (uint64_t)r, j) - 2.0f;
        assert_int_equal(be->api->upload(be->ctx, xb, 0, x, (size_t)batch * img), NS_OK);
        const ns_buf *logits;
        assert_int_equal(ns_model_forward(m, xb, batch, 1, NULL, seed, (uint64_t)r, &logits), NS_OK);
    }
    be->api->buf_free(be->ctx, xb);
    free(x);
    const float debias = 1.0f / (1.0f - powf(0.9f, (float)rounds));
    for (size_t i = 0; i < ns_model_num_states(m); i++) {
        ns_param *p = ns_model_state(m, i);
        download(p, host);
        for (size_t j = 0; j < p->size; j++)
            host[j] *= debias;
        upload(p, host);
    }
    for (size_t i = 0; i < ns_model_num_params(m); i++) {
        ns_param *p = ns_model_param(m, i);
        int gamma = strstr(p->name, ".bn") && ends_with(p->name, ".weight");
        int beta = strstr(p->name, ".bn") && ends_with(p->name, ".bias");
        if (!gamma && !beta)
            continue;
        for (size_t j = 0; j < p->size; j++)
            host[j] = uniform(seed, 1000 + i, j) + (gamma ? 0.5f : -0.5f);
        upload(p, host);
    }
    free(host);
}

/* n random uint8 images of the model's input shape, HWC, back to back. */
static uint8_t *random_images(int n, int c, int h, int w, uint64_t seed)
{
    size_t bytes = (size_t)n * c * h * w;
    uint8_t *img = malloc(bytes);
    assert_non_null(img);
    for (size_t j = 0; j < bytes; j++)
        img[j] = (uint8_t)(ns_philox_u32_at(seed, 7, j) & 0xff);
    return img;
}

/* The project's logits for the images, as `noisystudent eval` computes them:
 * the model loaded from the file, the file's normalisation, eval mode on ref. */
static float *project_logits(const char *path, const uint8_t *images, int n, int *classes)
{
    ns_model *m;
    ns_ckpt_info info;
    assert_int_equal(ns_checkpoint_load_model(path, be, &m, &info), NS_OK);
    int c = info.in_c, h = info.in_h, w = info.in_w;
    size_t img = (size_t)c * h * w;
    float *x = malloc((size_t)n * img * sizeof *x);
    assert_non_null(x);
    for (int i = 0; i < n; i++)
        ns_image_to_chw(images + (size_t)i * img, h, w, c, info.mean, info.std, x + (size_t)i * img);
    ns_buf *xb = NULL;
    assert_int_equal(be->api->buf_alloc(be->ctx, (size_t)n * img, &xb), NS_OK);
    assert_int_equal(be->api->upload(be->ctx, xb, 0, x, (size_t)n * img), NS_OK);
    const ns_buf *lb;
    assert_int_equal(ns_model_forward(m, xb, n, 0, NULL, 0, 0, &lb), NS_OK);
    *classes = info.classes;
    float *logits = malloc((size_t)n * info.classes * sizeof *logits);
    assert_non_null(logits);
    assert_int_equal(be->api->download(be->ctx, lb, 0, logits, (size_t)n * info.classes), NS_OK);
    be->api->buf_free(be->ctx, xb);
    free(x);
    ns_model_destroy(m);
    return logits;
}

/* Runs the script on `model` with the images in `raw`; its stdout goes to
 * `out`, its stderr to `err` (NULL: the test's). Returns its exit status;
 * skips the test when it is 77 (no torch). */
static int run_script(const char *model, const char *raw, const char *out, const char *err)
{
    char cmd[4096], redirect[1300] = "";
    if (err)
        snprintf(redirect, sizeof redirect, " 2> '%s'", err);
    snprintf(cmd, sizeof cmd, "sh '%s' '%s' '%s' --raw '%s' > '%s'%s", NS_WITH_TORCH, NS_EXPORT_SCRIPT, model,
             raw, out, redirect);
    int rc = system(cmd);
    assert_true(rc != -1 && WIFEXITED(rc));
    if (WEXITSTATUS(rc) == 77) {
        print_message("no python3 with torch (python3-torch): skipped\n");
        skip();
    }
    return WEXITSTATUS(rc);
}

/* Writes the images, runs the script, and compares its logits with the
 * project's: every value within TOLERANCE x max(1, largest |logit|), and the
 * logits not degenerate. */
static void compare(const char *name, const char *model, const uint8_t *images, int n)
{
    int classes;
    float *want = project_logits(model, images, n, &classes);
    ns_ckpt_info info;
    assert_int_equal(ns_checkpoint_read_info(model, &info), NS_OK);
    char raw[1200], out[1200];
    snprintf(raw, sizeof raw, "%s/%s.u8", dir, name);
    snprintf(out, sizeof out, "%s/%s.logits", dir, name);
    FILE *f = fopen(raw, "wb");
    assert_non_null(f);
    size_t bytes = (size_t)n * info.in_c * info.in_h * info.in_w;
    assert_int_equal(fwrite(images, 1, bytes, f), bytes);
    assert_int_equal(fclose(f), 0);
    assert_int_equal(run_script(model, raw, out, NULL), 0);

    f = fopen(out, "r");
    assert_non_null(f);
    double max_diff = 0, max_abs = 0, spread = 0;
    for (int i = 0; i < n * classes; i++) {
        double got;
        if (fscanf(f, "%lf", &got) != 1)
            fail_msg("%s: the script printed %d logits, expected %d x %d", name, i, n, classes);
        double d = fabs(got - want[i]);
        max_diff = d > max_diff ? d : max_diff;
        max_abs = fabs(want[i]) > max_abs ? fabs(want[i]) : max_abs;
        spread = fmax(spread, fabs(want[i] - want[i % classes])); /* vs. the first image */
    }
    double extra;
    int more = fscanf(f, "%lf", &extra);
    fclose(f);
    double tol = TOLERANCE * fmax(1.0, max_abs);
    print_message("%s (%s): %d images x %d classes, largest |logit| %.4g, largest difference %.3g (tolerance %.3g)\n",
                  name, info.model, n, classes, max_abs, max_diff, tol);
    assert_int_equal(more, EOF);
    /* Degenerate logits (all zero, or the same for every image) would let a
     * wrong network pass. */
    assert_true(max_abs > 0.1);
    assert_true(spread > 0.01);
    assert_true(max_diff <= tol);
    free(want);
}

/* A fresh model of `spec` for c x h x w images, randomised, set to evaluate
 * with per-batch drop-path of last-block survival pl (1: off), saved as a
 * model.safetensors would be (no optimizer), then compared. */
static void check_spec_dp(const char *name, const char *spec_text, int c, int h, int w, int classes, uint64_t seed,
                          float pl)
{
    ns_model_spec spec;
    ns_model *m;
    assert_int_equal(ns_model_spec_parse(spec_text, &spec), NS_OK);
    assert_int_equal(ns_model_create(be, &spec, c, h, w, classes, &m), NS_OK);
    assert_int_equal(ns_model_init(m, seed), NS_OK);
    randomise(m, seed);
    assert_int_equal(ns_model_set_inference_drop_path(m, NS_DROP_PATH_PER_BATCH, pl), NS_OK);
    ns_ckpt_info info;
    memset(&info, 0, sizeof info);
    info.epoch = 1;
    info.seed = seed;
    for (int ch = 0; ch < c; ch++) { /* distinct per channel: a channel mix-up shows */
        info.mean[ch] = 0.2f + 0.15f * (float)ch;
        info.std[ch] = 0.15f + 0.1f * (float)ch;
    }
    char path[1200];
    snprintf(path, sizeof path, "%s/%s.safetensors", dir, name);
    assert_int_equal(ns_checkpoint_save(path, m, NULL, &info), NS_OK);
    ns_model_destroy(m);
    uint8_t *images = random_images(N_IMAGES, c, h, w, seed);
    compare(name, path, images, N_IMAGES);
    free(images);
}

static void check_spec(const char *name, const char *spec_text, int c, int h, int w, int classes, uint64_t seed)
{
    check_spec_dp(name, spec_text, c, h, w, classes, seed, 1.0f);
}

/* The CIFAR family as a bare preset (its canonical spec is "resnet8"): basic
 * blocks, projection shortcuts at stages 2 and 3, on odd 9x9 RGB input. */
static void test_resnet8_preset(void **state)
{
    (void)state;
    check_spec("resnet8", "resnet8", 3, 9, 9, 5, 21);
}

/* Basic blocks in the explicit form: a 5x5 stem, a stride-2 first stage
 * whose projection changes only the stride (6 channels in and out), an
 * identity stage of two blocks, non-square 11x7 input with two channels. */
static void test_basic_custom(void **state)
{
    (void)state;
    check_spec("basic", "basic:blocks=1-2-1,widths=6-6-8,strides=2-1-2,stem=5x6", 2, 11, 7, 3, 22);
}

/* Bottleneck blocks: the first block's output (width 4 x expansion 2) equals
 * the stem's 8 channels, so it has an identity shortcut; the second stage
 * projects with stride 2 on the 3x3. */
static void test_bottleneck_custom(void **state)
{
    (void)state;
    check_spec("bottleneck", "bottleneck:blocks=2-1,width=4,strides=1-2,stem=3x8,expansion=2", 1, 10, 10, 4, 23);
}

/* The seed blog's ResNet-50 at 1/16 width: 16 bottleneck blocks, 5x5 stem,
 * strides 1-2-1-2. */
static void test_seed_resnet50(void **state)
{
    (void)state;
    check_spec("seed_resnet50", "seed-resnet50:mult=0.0625", 3, 16, 16, 10, 24);
}

/* A model trained with --drop-path-mode batch: eval mode scales each block's
 * branch by its survival probability (metadata drop_path_survival); seven
 * blocks of distinct p, projections included. */
static void test_batch_drop_path(void **state)
{
    (void)state;
    check_spec_dp("batch_drop_path", "basic:blocks=2-3-2,widths=4-6-8,strides=1-2-2,stem=3x4", 3, 9, 9, 5, 26,
                  0.4f);
}

/* A real run: one epoch of ns_train on synthetic 8x8 grey images; the final
 * model.safetensors (the trainer's own normalisation, trained running
 * statistics) and the epoch's checkpoint.safetensors (optimizer tensors too,
 * which the script must pass over). */
static void test_trained_run(void **state)
{
    (void)state;
    char data[1200], run[1200];
    snprintf(data, sizeof data, "%s/data", dir);
    snprintf(run, sizeof run, "%s/run", dir);
    assert_int_equal(ns_test_write_synthetic(data, 16, 4, 5), 0);
    ns_train_config c = ns_train_config_default();
    snprintf(c.data, sizeof c.data, "%s", data);
    snprintf(c.run_dir, sizeof c.run_dir, "%s", run);
    snprintf(c.model, sizeof c.model, "resnet8:width=4");
    c.epochs = 1;
    c.batch = 16;
    c.lr = 0.05f;
    c.eval_every = 0;
    ns_train_result res;
    assert_int_equal(ns_train(&c, be, 0, NULL, NULL, &res), NS_OK);
    uint8_t *images = random_images(N_IMAGES, 1, 8, 8, 25);
    compare("trained_model", res.model_path, images, N_IMAGES);
    char ckpt[1300];
    snprintf(ckpt, sizeof ckpt, "%s/checkpoint.safetensors", run);
    ns_safetensors *f;
    assert_int_equal(ns_safetensors_open(ckpt, &f), NS_OK);
    int has_optimizer = ns_safetensors_find(f, "optimizer.fc.weight.momentum") != NULL;
    ns_safetensors_close(f);
    assert_true(has_optimizer);
    compare("trained_checkpoint", ckpt, images, N_IMAGES);
    free(images);
}

/* The script is strict: a file lacking a tensor the documented network needs
 * is refused with exit 1 and one line naming the tensor, not half-loaded. */
static void test_missing_tensor_refused(void **state)
{
    (void)state;
    char full[1200], cut[1200], raw[1200], out[1200], err[1200];
    snprintf(full, sizeof full, "%s/resnet8.safetensors", dir);
    snprintf(cut, sizeof cut, "%s/cut.safetensors", dir);
    snprintf(raw, sizeof raw, "%s/resnet8.u8", dir);
    snprintf(out, sizeof out, "%s/cut.logits", dir);
    snprintf(err, sizeof err, "%s/cut.err", dir);
    FILE *probe = fopen(full, "rb");
    if (!probe) /* made by test_resnet8_preset; run it first */
        test_resnet8_preset(state);
    else
        fclose(probe);
    ns_safetensors *f;
    assert_int_equal(ns_safetensors_open(full, &f), NS_OK);
    size_t n = ns_safetensors_count(f), kept = 0, n_meta = ns_safetensors_meta_count(f);
    ns_st_tensor *t = calloc(n, sizeof *t);
    ns_st_meta *meta = calloc(n_meta, sizeof *meta);
    assert_non_null(t);
    assert_non_null(meta);
    for (size_t i = 0; i < n; i++) {
        const ns_st_view *v = ns_safetensors_tensor(f, i);
        if (strcmp(v->name, "stage2.block0.shortcut.bn.running_var") == 0)
            continue;
        t[kept].name = v->name;
        t[kept].dtype = v->dtype;
        t[kept].ndim = v->ndim;
        memcpy(t[kept].shape, v->shape, sizeof v->shape);
        t[kept].data = v->data;
        kept++;
    }
    assert_int_equal(kept, n - 1);
    for (size_t i = 0; i < n_meta; i++)
        assert_true(ns_safetensors_meta_at(f, i, &meta[i].key, &meta[i].value));
    assert_int_equal(ns_safetensors_write(cut, t, kept, meta, n_meta), NS_OK);
    ns_safetensors_close(f);
    free(t);
    free(meta);
    assert_int_equal(run_script(cut, raw, out, err), 1);
    FILE *e = fopen(err, "r");
    assert_non_null(e);
    char text[2048] = "", line[1024];
    int lines = 0;
    while (fgets(line, sizeof line, e)) {
        lines++;
        strncat(text, line, sizeof text - strlen(text) - 1);
    }
    fclose(e);
    print_message("script said: %s", text);
    assert_int_equal(lines, 1);
    assert_non_null(strstr(text, "no tensor 'stage2.block0.shortcut.bn.running_var'"));
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_resnet8_preset),     cmocka_unit_test(test_basic_custom),
        cmocka_unit_test(test_bottleneck_custom),  cmocka_unit_test(test_seed_resnet50),
        cmocka_unit_test(test_trained_run),        cmocka_unit_test(test_missing_tensor_refused),
        cmocka_unit_test(test_batch_drop_path),
    };
    return cmocka_run_group_tests(tests, setup, teardown);
}
