/* export --format onnx, checked by a second runtime: the exported graph run in
 * onnxruntime (tests/export/onnx_run.py, in the test Python of
 * tools/setup.sh) must give the logits of the project's eval-mode forward
 * (ref) within 1e-4 (relative to the largest logit where that is above 1) on
 * a few hundred images, hence the same predictions and accuracy, for the
 * CIFAR ResNet preset, a bottleneck net with an identity first shortcut,
 * seed-resnet50 at 1/16 width and a really trained model, with a fixed batch
 * and opset 17 too (those two also pass onnx.checker's full check when the
 * onnx wheel is there, as does resnet8). The models' batchnorms are not identities
 * (common/random_model.h), so a fold that drops the shift, a wrong epsilon or
 * a lost normalisation shows. Every test skips when the build has no ONNX
 * writer or no Python with onnxruntime is found. */
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
#include "data/source.h"
#include "export/onnx_export.h"
#include "ns_test_ref.h"
#include "predict/predict.h"
#include "random_model.h"
#include "synthetic_data.h"
#include "train/checkpoint.h"
#include "train/evaluate.h"
#include "train/trainer.h"

#define TOLERANCE 1e-4

static ns_backend *be;
static char dir[1024];

static int setup(void **state)
{
    (void)state;
    if (ns_test_require_ref(&be) != 0)
        return -1;
    ns_test_fresh_dir("export_onnx", dir, sizeof dir);
    return 0;
}

static int teardown(void **state)
{
    (void)state;
    ns_backend_close(be);
    return 0;
}

static const char *test_python(void)
{
    const char *p = getenv("NS_TEST_PYTHON");
    return p && *p ? p : NS_TEST_PYTHON;
}

static void require_onnx(void)
{
    if (!ns_onnx_export_available()) {
        print_message("this build has no ONNX writer (protoc-c / libprotobuf-c / onnx.proto): skipped\n");
        skip();
    }
}

/* Runs the script with `args`, stdout to `out`; skips on 77. */
static int run_script(const char *args, const char *out)
{
    char cmd[4096];
    snprintf(cmd, sizeof cmd, "sh '%s' '%s' '%s' %s > '%s'", NS_WITH_ORT, test_python(), NS_ORT_SCRIPT, args, out);
    int rc = system(cmd);
    assert_true(rc != -1 && WIFEXITED(rc));
    if (WEXITSTATUS(rc) == 77) {
        print_message("no Python with onnxruntime (%s): skipped\n", test_python());
        skip();
    }
    return WEXITSTATUS(rc);
}

static int run_cli(const char *args)
{
    char cmd[4096];
    snprintf(cmd, sizeof cmd, "'%s' export %s > /dev/null 2> '%s/cli.err'", NS_CLI_PATH, args, dir);
    int rc = system(cmd);
    return WIFEXITED(rc) ? WEXITSTATUS(rc) : -1;
}

static uint8_t *random_images(int n, size_t img, uint64_t seed)
{
    uint8_t *p = malloc((size_t)n * img);
    assert_non_null(p);
    for (size_t j = 0; j < (size_t)n * img; j++)
        p[j] = (uint8_t)(ns_philox_u32_at(seed, 9, j) >> 24);
    return p;
}

/* Exports `model` with extra CLI flags, runs n images through onnxruntime and
 * compares with the project's logits. labels (may be NULL): also compares the
 * two accuracies, which must be equal. */
static void compare(const char *name, const char *model, const char *flags, const uint8_t *images, int n,
                    const int32_t *labels, int check)
{
    char onnx[1200], raw[1200], out[1200], args[4096];
    snprintf(onnx, sizeof onnx, "%s/%s.onnx", dir, name);
    snprintf(raw, sizeof raw, "%s/%s.u8", dir, name);
    snprintf(out, sizeof out, "%s/%s.logits", dir, name);
    snprintf(args, sizeof args, "--model '%s' --format onnx --out '%s' %s", model, onnx, flags);
    assert_int_equal(run_cli(args), 0);

    ns_model *m;
    ns_ckpt_info info;
    assert_int_equal(ns_checkpoint_load_model(model, be, &m, &info), NS_OK);
    const int classes = info.classes;
    const size_t img = (size_t)info.in_c * info.in_h * info.in_w;
    float *want = malloc((size_t)n * classes * sizeof *want), *probs = malloc((size_t)n * classes * sizeof *probs);
    assert_non_null(want);
    assert_non_null(probs);
    ns_predict_config pc = {64, info.mean, info.std, 0};
    assert_int_equal(ns_predict_images(m, &pc, images, (size_t)n, probs, want), NS_OK);
    ns_model_destroy(m);

    FILE *f = fopen(raw, "wb");
    assert_non_null(f);
    assert_int_equal(fwrite(images, 1, (size_t)n * img, f), (size_t)n * img);
    assert_int_equal(fclose(f), 0);
    snprintf(args, sizeof args, "'%s' '%s'%s", onnx, raw, check ? " --check" : "");
    assert_int_equal(run_script(args, out), 0);

    f = fopen(out, "r");
    assert_non_null(f);
    double max_diff = 0, max_abs = 0, spread = 0;
    int agree = 0, right_ns = 0, right_ort = 0;
    float *got = malloc((size_t)classes * sizeof *got);
    assert_non_null(got);
    for (int i = 0; i < n; i++) {
        for (int k = 0; k < classes; k++) {
            double v;
            if (fscanf(f, "%lf", &v) != 1)
                fail_msg("%s: onnxruntime printed fewer than %d x %d logits", name, n, classes);
            got[k] = (float)v;
            const double w = want[(size_t)i * classes + k];
            max_diff = fmax(max_diff, fabs(v - w));
            max_abs = fmax(max_abs, fabs(w));
            spread = fmax(spread, fabs(w - want[k]));
        }
        const int a = ns_argmax(got, classes), b = ns_argmax(want + (size_t)i * classes, classes);
        agree += a == b;
        if (labels) {
            right_ort += a == labels[i];
            right_ns += b == labels[i];
        }
    }
    double extra;
    const int more = fscanf(f, "%lf", &extra);
    fclose(f);
    const double tol = TOLERANCE * fmax(1.0, max_abs);
    print_message("%s (%s): %d images x %d classes, largest |logit| %.4g, largest difference %.3g "
                  "(tolerance %.3g), top-1 agrees on %d", name, info.model, n, classes, max_abs, max_diff, tol,
                  agree);
    if (labels)
        print_message(", accuracy %.2f%% (noisystudent) vs %.2f%% (onnxruntime)", 100.0 * right_ns / n,
                      100.0 * right_ort / n);
    print_message("\n");
    assert_int_equal(more, EOF);
    assert_true(max_abs > 0.1); /* degenerate logits would let a wrong graph pass */
    assert_true(spread > 0.01);
    assert_true(max_diff <= tol);
    if (labels)
        assert_int_equal(right_ort, right_ns);
    free(got);
    free(want);
    free(probs);
}

static void random_model_check(const char *name, const char *spec, int c, int h, int w, int classes, int n,
                               const char *flags, uint64_t seed, int check)
{
    require_onnx();
    char path[1200];
    snprintf(path, sizeof path, "%s/%s.safetensors", dir, name);
    ns_test_random_model(be, spec, c, h, w, classes, NULL, seed, path);
    uint8_t *images = random_images(n, (size_t)c * h * w, seed);
    compare(name, path, flags, images, n, NULL, check);
    free(images);
}

/* The CIFAR preset (basic blocks, projections at stages 2 and 3) with class
 * names; its metadata: names, normalisation, producer, opset, and the ops
 * (no BatchNormalization left: it was folded). */
static void test_resnet8(void **state)
{
    (void)state;
    require_onnx();
    const char *const names[5] = {"airplane", "car, red", "bird \"x\"", "cat", "deer"};
    ns_class_names cn = {0};
    assert_int_equal(ns_class_names_set(&cn, 5, names), NS_OK);
    char path[1200], onnx[1200], out[1200], args[4096];
    snprintf(path, sizeof path, "%s/resnet8.safetensors", dir);
    ns_test_random_model(be, "resnet8", 3, 9, 9, 5, &cn, 31, path);
    uint8_t *images = random_images(300, 3 * 9 * 9, 31);
    compare("resnet8", path, "", images, 300, NULL, 0); /* --meta below checks it */
    free(images);

    snprintf(onnx, sizeof onnx, "%s/resnet8.onnx", dir);
    snprintf(out, sizeof out, "%s/resnet8.meta", dir);
    snprintf(args, sizeof args, "'%s' --meta", onnx);
    assert_int_equal(run_script(args, out), 0);
    json_error_t err;
    json_t *meta = json_load_file(out, 0, &err);
    assert_non_null(meta);
    assert_string_equal(json_string_value(json_object_get(meta, "producer_name")), "noisystudent");
    assert_int_equal(json_integer_value(json_array_get(json_object_get(meta, "opset"), 0)), 13);
    json_t *md = json_object_get(meta, "metadata");
    ns_class_names back = {0};
    assert_int_equal(ns_class_names_from_json(json_string_value(json_object_get(md, "class_names")), "onnx", &back),
                     NS_OK);
    assert_true(ns_class_names_equal(&back, &cn));
    assert_string_equal(json_string_value(json_object_get(md, "normalize_mean")), "0.200000003,0.350000024,0.5");
    assert_string_equal(json_string_value(json_object_get(md, "input")), "3x9x9");
    json_t *ops = json_object_get(meta, "ops");
    for (size_t i = 0; i < json_array_size(ops); i++)
        assert_string_not_equal(json_string_value(json_array_get(ops, i)), "BatchNormalization");
    ns_class_names_free(&back);
    ns_class_names_free(&cn);
    json_decref(meta);
}

/* Bottleneck blocks, identity shortcut in the first block (4 x 2 = 8 = the
 * stem's width), stride 2 on the 3x3 of the second stage; gray input. */
static void test_bottleneck(void **state)
{
    (void)state;
    random_model_check("bottleneck", "bottleneck:blocks=2-1,width=4,strides=1-2,stem=3x8,expansion=2", 1, 10, 10,
                       4, 300, "", 33, 1);
}

/* The seed's ResNet-50 (16 bottleneck blocks, 5x5 stem) at 1/16 width. */
static void test_seed_resnet50(void **state)
{
    (void)state;
    random_model_check("seed_resnet50", "seed-resnet50:mult=0.0625", 3, 16, 16, 10, 100, "", 34, 0);
}

/* A fixed batch dimension and the newest opset this writer offers. */
static void test_fixed_batch_opset17(void **state)
{
    (void)state;
    random_model_check("fixed", "basic:blocks=1-2,widths=6-8,strides=2-1,stem=5x6", 3, 11, 7, 3, 64,
                       "--batch 16 --opset 17", 35, 1);
}

/* Per-batch stochastic depth: eval mode scales block l's branch by its
 * survival probability (nn/model.h); the export folds it into the branch's
 * last convolution. A basic and a bottleneck net, so both kinds of last unit
 * carry it; pL = 0.5 makes the scales 0.5..0.83, far from 1. */
static void test_batch_drop_path(void **state)
{
    (void)state;
    require_onnx();
    const char *specs[2] = {"resnet20:width=4", "bottleneck:blocks=2-1,width=4,strides=1-2,stem=3x8,expansion=2"};
    const char *names[2] = {"drop_path_basic", "drop_path_bottleneck"};
    for (int i = 0; i < 2; i++) {
        char path[1200];
        snprintf(path, sizeof path, "%s/%s.safetensors", dir, names[i]);
        ns_test_random_model_batch_drop_path(be, specs[i], 3, 8, 8, 4, 0.5f, 36 + (uint64_t)i, path);
        ns_model *m;
        ns_ckpt_info info;
        assert_int_equal(ns_checkpoint_load_model(path, be, &m, &info), NS_OK);
        assert_true(ns_model_inference_branch_scale(m, ns_model_num_blocks(m) - 1) < 0.51f);
        ns_model_destroy(m);
        uint8_t *images = random_images(100, 3 * 8 * 8, 36 + (uint64_t)i);
        compare(names[i], path, "", images, 100, NULL, 0);
        free(images);
    }
}

/* A real run: six epochs on synthetic 8x8 gray images (about 50% test
 * accuracy on 4 classes: far from both chance and 100%, so a graph that moves
 * decisions shows); its test split (256 labeled images) gives the same
 * accuracy in both runtimes. */
static void test_trained(void **state)
{
    (void)state;
    require_onnx();
    char data[1200], run[1200];
    snprintf(data, sizeof data, "%s/data", dir);
    snprintf(run, sizeof run, "%s/run", dir);
    assert_int_equal(ns_test_write_synthetic(data, 32, 64, 5), 0);
    ns_train_config c = ns_train_config_default();
    snprintf(c.data, sizeof c.data, "%s", data);
    snprintf(c.run_dir, sizeof c.run_dir, "%s", run);
    snprintf(c.model, sizeof c.model, "resnet8:width=4");
    c.epochs = 6;
    c.batch = 16;
    c.lr = 0.1f;
    c.eval_every = 0;
    ns_train_result res;
    assert_int_equal(ns_train(&c, be, 0, NULL, NULL, &res), NS_OK);
    ns_dataset test;
    assert_int_equal(ns_dataset_open(data, 0, &test), NS_OK);
    assert_true(test.n >= 200);
    compare("trained", res.model_path, "", test.images, (int)test.n, test.labels, 0);
    ns_dataset_free(&test);
}

static void test_cli_errors(void **state)
{
    (void)state;
    char args[4096], out[1200];
    snprintf(out, sizeof out, "%s/never.onnx", dir);
    snprintf(args, sizeof args, "--model '%s/none.safetensors' --format tflite --out '%s'", dir, out);
    assert_int_equal(run_cli(args), 2);
    snprintf(args, sizeof args, "--model '%s/none.safetensors' --format onnx", dir);
    assert_int_equal(run_cli(args), 2);
    snprintf(args, sizeof args, "--model '%s/none.safetensors' --format onnx --out '%s' --batch 0", dir, out);
    assert_int_equal(run_cli(args), 2);
    snprintf(args, sizeof args, "--model '%s/none.safetensors' --format onnx --out '%s' --opset 12", dir, out);
    assert_int_equal(run_cli(args), 2);
    snprintf(args, sizeof args, "--model '%s/none.safetensors' --format onnx --out '%s'", dir, out);
    assert_int_equal(run_cli(args), 1);
    struct stat sb;
    assert_int_not_equal(stat(out, &sb), 0); /* nothing half-written */
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_resnet8),          cmocka_unit_test(test_bottleneck),
        cmocka_unit_test(test_seed_resnet50),    cmocka_unit_test(test_fixed_batch_opset17),
        cmocka_unit_test(test_batch_drop_path),  cmocka_unit_test(test_trained),
        cmocka_unit_test(test_cli_errors),
    };
    return cmocka_run_group_tests(tests, setup, teardown);
}
