/* End to end on a generated class-folder tree (PNG and JPEG mixed: gray,
 * RGBA, palette, 16-bit, CMYK, odd sizes, a nested folder, a corrupt file):
 * train a tiny teacher on ref, its checkpoint and eval carry the folder
 * names and the same held-out split, label a folder pool (the table by
 * name, the names in the label file), train a student that inherits them,
 * and the user's mistakes each give one line and the right exit status. */
#include <math.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>

#include <cmocka.h>
#include <jansson.h>
#include <png.h>

#include "if_images.h"
#include "selftrain/label_file.h"
#include "cli_run.h"
#include "synthetic_data.h"
#include "export/onnx_export.h"
#include "train/checkpoint.h"

static char dir[1024], tree[1100], pool[1100];

static const char *at(const char *root, const char *rel)
{
    static char buf[4][1400];
    static int slot;
    slot = (slot + 1) % 4;
    snprintf(buf[slot], sizeof buf[slot], "%s/%s", root, rel);
    return buf[slot];
}

/* A w x h RGB image of colour (r, g, b) with a little texture. */
static void fill(uint8_t *px, int h, int w, int r, int g, int b, int seed)
{
    for (int i = 0; i < h * w; i++) {
        const int n = ((i * 37 + seed * 11) % 17) - 8;
        px[3 * i] = (uint8_t)(r + n < 0 ? 0 : r + n > 255 ? 255 : r + n);
        px[3 * i + 1] = (uint8_t)(g + n < 0 ? 0 : g + n > 255 ? 255 : g + n);
        px[3 * i + 2] = (uint8_t)(b + n < 0 ? 0 : b + n > 255 ? 255 : b + n);
    }
}

/* Class k of the tree: 10 files of every kind, dominated by one colour. */
static int write_class(const char *root_arg, const char *name, int r, int g, int b)
{
    char root[1400]; /* at() reuses its buffers: root may be one */
    snprintf(root, sizeof root, "%s", root_arg);
    static uint8_t px[40 * 40 * 4], rgba[40 * 40 * 4], cmyk[40 * 40 * 4];
    char rel[256];
    int bad = 0;
    for (int i = 0; i < 10; i++) {
        const int h = 9 + 3 * i, w = 40 - 2 * i; /* odd sizes, none square */
        fill(px, h, w, r, g, b, i);
        switch (i % 5) {
        case 0:
            snprintf(rel, sizeof rel, "%s/%d.png", name, i);
            bad |= if_write_png(at(root, rel), PNG_COLOR_TYPE_RGB, 8, px, h, w);
            break;
        case 1:
            for (int p = 0; p < h * w; p++)
                memcpy(rgba + 4 * p, px + 3 * p, 3), rgba[4 * p + 3] = (uint8_t)(p % 256);
            snprintf(rel, sizeof rel, "%s/nested/deeper/%d.PNG", name, i);
            bad |= if_write_png(at(root, rel), PNG_COLOR_TYPE_RGB_ALPHA, 8, rgba, h, w);
            break;
        case 2:
            snprintf(rel, sizeof rel, "%s/%d.jpg", name, i);
            bad |= if_write_jpeg(at(root, rel), px, h, w, 3, 6, 1);
            break;
        case 3:
            for (int p = 0; p < h * w; p++) { /* inverted CMYK with an Adobe marker */
                cmyk[4 * p] = px[3 * p], cmyk[4 * p + 1] = px[3 * p + 1], cmyk[4 * p + 2] = px[3 * p + 2];
                cmyk[4 * p + 3] = 255;
            }
            snprintf(rel, sizeof rel, "%s/%d.jpeg", name, i);
            bad |= if_write_jpeg_cmyk(at(root, rel), cmyk, h, w, 1, 0);
            break;
        default: {
            static uint8_t pal[3 * 2], idx[40 * 40];
            pal[0] = (uint8_t)r, pal[1] = (uint8_t)g, pal[2] = (uint8_t)b;
            pal[3] = (uint8_t)(r / 2), pal[4] = (uint8_t)(g / 2), pal[5] = (uint8_t)(b / 2);
            for (int p = 0; p < h * w; p++)
                idx[p] = (uint8_t)(p % 3 == 0);
            snprintf(rel, sizeof rel, "%s/%d.png", name, i);
            bad |= if_write_png_palette(at(root, rel), idx, h, w, pal, 2, NULL, 0);
        }
        }
    }
    return bad;
}

static int setup(void **state)
{
    (void)state;
    ns_test_fresh_dir("folder-cli", dir, sizeof dir);
    snprintf(tree, sizeof tree, "%s/photos", dir);
    snprintf(pool, sizeof pool, "%s/pool", dir);
    ns_cli_init(dir);
    int bad = write_class(tree, "blue", 20, 40, 220) | write_class(tree, "green", 30, 200, 40) |
              write_class(tree, "red", 220, 30, 30);
    bad |= if_write_bytes(at(tree, "red/broken.jpg"), "\xff\xd8\xff not really", 14);
    /* the same tree under other names, for a student whose names differ */
    bad |= write_class(at(dir, "renamed"), "a", 20, 40, 220) | write_class(at(dir, "renamed"), "b", 30, 200, 40) |
           write_class(at(dir, "renamed"), "c", 220, 30, 30);
    static uint8_t px[20 * 20 * 3];
    for (int i = 0; i < 9; i++) {
        char rel[64];
        fill(px, 20, 20, i % 3 == 0 ? 220 : 30, i % 3 == 1 ? 200 : 30, i % 3 == 2 ? 220 : 40, i);
        snprintf(rel, sizeof rel, "p%d.png", i);
        bad |= if_write_png(at(pool, rel), PNG_COLOR_TYPE_RGB, 8, px, 20, 20);
    }
    bad |= if_write_png(at(dir, "empty-class/cat/x.png"), PNG_COLOR_TYPE_RGB, 8, px, 20, 20) |
           if_mkdirs(at(dir, "empty-class/dog"), 1);
    return bad ? -1 : 0;
}

static void assert_names(const char *ckpt)
{
    ns_class_names cn = {0};
    assert_int_equal(ns_checkpoint_read_class_names(ckpt, &cn), NS_OK);
    assert_int_equal(cn.n, 3);
    assert_string_equal(cn.names[0], "blue");
    assert_string_equal(cn.names[1], "green");
    assert_string_equal(cn.names[2], "red");
    ns_class_names_free(&cn);
}

/* The number after `key` in text ("15 test" -> 15 for key " test," read backwards). */
static long number_before(const char *text, const char *key)
{
    const char *k = strstr(text, key);
    if (!k)
        return -1;
    while (k > text && k[-1] >= '0' && k[-1] <= '9')
        k--;
    return strtol(k, NULL, 10);
}

static void test_teacher_label_student(void **state)
{
    (void)state;
    const char *common = "--backend ref --input 3x8x8 --model resnet8 --batch 8 --loader-threads 1";
    /* teacher: 31 files (one broken), round(0.2 * 10 or 11) = 2 held out per class; the broken one falls in train (seed 1) */
    int rc = ns_cli_run("train --data '%s' %s --epochs 3 --lr 0.05 --run-dir '%s/teacher'", tree, common, dir);
    if (rc != 0)
        fail_msg("train exit %d:\n%s\n%s", rc, ns_cli_out, ns_cli_err);
    if (!strstr(ns_cli_err, "red/broken.jpg: JPEG") || !strstr(ns_cli_err, "1 of 25 image files could not be read"))
        fail_msg("the broken file's warning and count:\n%s", ns_cli_err);
    assert_int_equal(number_before(ns_cli_out, " test, 3 classes"), 6);
    char ckpt[1200];
    snprintf(ckpt, sizeof ckpt, "%s/teacher/model.safetensors", dir);
    assert_names(ckpt);
    /* eval splits the tree as the run did: the same 6 test images */
    rc = ns_cli_run("eval --model '%s' --backend ref", ckpt);
    if (rc != 0)
        fail_msg("eval exit %d:\n%s", rc, ns_cli_err);
    if (!strstr(ns_cli_out, "/6)"))
        fail_msg("eval did not see the run's 6 test images:\n%s", ns_cli_out);
    /* label a folder pool: the table by name, the names in the file */
    rc = ns_cli_run("label --model '%s' --unlabeled 'folder:%s' --out '%s/l.nspl' --backend ref", ckpt, pool, dir);
    if (rc != 0)
        fail_msg("label exit %d:\n%s", rc, ns_cli_err);
    if (!strstr(ns_cli_out, "   blue ") || !strstr(ns_cli_out, "  green ") || !strstr(ns_cli_out, "    red ") ||
        !strstr(ns_cli_out, "labeled 9 images"))
        fail_msg("label's table lacks the class names:\n%s", ns_cli_out);
    char labels[1200];
    snprintf(labels, sizeof labels, "%s/l.nspl", dir);
    ns_label_set ls;
    assert_int_equal(ns_label_file_read(labels, &ls), NS_OK);
    assert_int_equal(ls.class_names.n, 3);
    assert_string_equal(ls.class_names.names[2], "red");
    ns_label_set_free(&ls);
    /* a student on the pseudo-labels: the table by name, the names in its checkpoint */
    rc = ns_cli_run("train --data '%s' %s --epochs 1 --pseudo '%s' --threshold 0 --per-class -1 --run-dir '%s/student'", tree,
             common, labels, dir);
    if (rc != 0)
        fail_msg("student exit %d:\n%s\n%s", rc, ns_cli_out, ns_cli_err);
    if (!strstr(ns_cli_out, "  green "))
        fail_msg("student's pseudo-label table lacks the names:\n%s", ns_cli_out);
    snprintf(ckpt, sizeof ckpt, "%s/student/model.safetensors", dir);
    assert_names(ckpt);
    /* data whose folders are named otherwise: refused, one line */
    rc = ns_cli_run("train --data '%s/renamed' %s --epochs 1 --pseudo '%s' --run-dir '%s/wrong'", dir, common, labels, dir);
    assert_int_equal(rc, 1);
    ns_cli_assert_one_line_error("the pseudo-labels' class 0 is \"blue\" but the labeled data");
}

static void test_user_errors(void **state)
{
    (void)state;
    assert_int_equal(ns_cli_run("train --data '%s' --input 2x8x8 --run-dir '%s/x1'", tree, dir), 2);
    ns_cli_assert_one_line_error("--input '2x8x8': expected CxHxW");
    assert_int_equal(ns_cli_run("train --data '%s' --test-fraction 1 --run-dir '%s/x2'", tree, dir), 2);
    ns_cli_assert_one_line_error("--test-fraction 1: expected a fraction in (0, 1)");
    assert_int_equal(ns_cli_run("train --data '%s/empty-class' --backend ref --run-dir '%s/x3'", dir, dir), 1);
    ns_cli_assert_one_line_error("empty-class/dog: class folder holds no *.png, *.jpg or *.jpeg files");
    assert_int_equal(ns_cli_run("train --data '%s/pool' --backend ref --run-dir '%s/x4'", dir, dir), 1);
    ns_cli_assert_one_line_error("no dataset found");
}

/* The whole journey of issue 14 on the same tree: pack both splits into
 * .nsds shards, a teacher trained from the shards, a folder pool labeled, a
 * student, predict on new photos, export to ONNX, and onnxruntime gives the
 * probabilities predict printed (within 1e-4). The new photos are stored at
 * the model's input size so both sides see the same pixels. */
static void test_pack_train_label_predict_export(void **state)
{
    (void)state;
    const char *common = "--backend ref --model resnet8 --batch 8 --loader-threads 1";
    assert_int_equal(if_mkdirs(at(dir, "packed/train"), 1) | if_mkdirs(at(dir, "packed/test"), 1), 0);
    int rc = ns_cli_run("pack '%s' --out '%s/packed/train/photos.nsds' --split train --input 3x8x8 --quiet", tree, dir);
    if (rc != 0)
        fail_msg("pack (train) exit %d:\n%s", rc, ns_cli_err);
    rc = ns_cli_run("pack '%s' --out '%s/packed/test/photos.nsds' --split test --input 3x8x8 --quiet", tree, dir);
    if (rc != 0)
        fail_msg("pack (test) exit %d:\n%s", rc, ns_cli_err);
    rc = ns_cli_run("train --data '%s/packed' %s --epochs 3 --lr 0.05 --run-dir '%s/j-teacher'", dir, common, dir);
    if (rc != 0)
        fail_msg("teacher on the shards, exit %d:\n%s\n%s", rc, ns_cli_out, ns_cli_err);
    char teacher[1200], student[1200], labels[1200];
    snprintf(teacher, sizeof teacher, "%s/j-teacher/model.safetensors", dir);
    snprintf(student, sizeof student, "%s/j-student/model.safetensors", dir);
    snprintf(labels, sizeof labels, "%s/j.nspl", dir);
    assert_names(teacher); /* the folder names went through the shards */
    rc = ns_cli_run("label --model '%s' --backend ref --unlabeled 'folder:%s' --out '%s'", teacher, pool, labels);
    if (rc != 0)
        fail_msg("label exit %d:\n%s", rc, ns_cli_err);
    rc = ns_cli_run("train --data '%s/packed' %s --epochs 1 --pseudo '%s' --threshold 0 --per-class -1 --run-dir "
             "'%s/j-student'", dir, common, labels, dir);
    if (rc != 0)
        fail_msg("student exit %d:\n%s\n%s", rc, ns_cli_out, ns_cli_err);
    assert_names(student);

    enum { N = 4, S = 8 };
    static uint8_t px[N][S * S * 3];
    char raw[1200];
    snprintf(raw, sizeof raw, "%s/new.u8", dir);
    FILE *f = fopen(raw, "wb");
    assert_non_null(f);
    for (int i = 0; i < N; i++) {
        char rel[64];
        fill(px[i], S, S, i % 3 == 0 ? 220 : 30, i % 3 == 1 ? 200 : 30, i % 3 == 2 ? 220 : 40, 7 * i);
        snprintf(rel, sizeof rel, "new/n%d.png", i);
        assert_int_equal(if_write_png(at(dir, rel), PNG_COLOR_TYPE_RGB, 8, px[i], S, S), 0);
        assert_int_equal(fwrite(px[i], 1, sizeof px[i], f), sizeof px[i]);
    }
    assert_int_equal(fclose(f), 0);
    rc = ns_cli_run("predict --model '%s' --backend ref --format jsonl --top 3 '%s/new'", student, dir);
    if (rc != 0)
        fail_msg("predict exit %d:\n%s", rc, ns_cli_err);
    double probs[N][3] = {{0}};
    const char *line = ns_cli_out;
    for (int i = 0; i < N; i++) {
        const char *end = strchr(line, '\n');
        assert_non_null(end);
        json_t *j = json_loadb(line, (size_t)(end - line), 0, NULL);
        assert_non_null(j);
        char want_file[64];
        snprintf(want_file, sizeof want_file, "n%d.png", i);
        assert_non_null(strstr(json_string_value(json_object_get(j, "file")), want_file));
        json_t *top = json_object_get(j, "top");
        assert_int_equal(json_array_size(top), 3);
        for (size_t r = 0; r < 3; r++) {
            json_t *e = json_array_get(top, r);
            const int k = (int)json_integer_value(json_object_get(e, "index"));
            assert_true(k >= 0 && k < 3);
            probs[i][k] = json_number_value(json_object_get(e, "probability"));
        }
        json_decref(j);
        line = end + 1;
    }

    if (!ns_onnx_export_available()) {
        print_message("this build has no ONNX writer (protoc-c / onnx.proto): the ONNX half skipped\n");
        skip();
    }
    rc = ns_cli_run("export --model '%s' --format onnx --out '%s/j.onnx'", student, dir);
    if (rc != 0)
        fail_msg("export exit %d:\n%s", rc, ns_cli_err);
    const char *py = getenv("NS_TEST_PYTHON") && *getenv("NS_TEST_PYTHON") ? getenv("NS_TEST_PYTHON") : NS_TEST_PYTHON;
    char cmd[4096], logits[1200];
    snprintf(logits, sizeof logits, "%s/j.logits", dir);
    snprintf(cmd, sizeof cmd, "sh '%s' '%s' '%s' '%s/j.onnx' '%s' > '%s'", NS_WITH_ORT, py, NS_ORT_SCRIPT, dir, raw,
             logits);
    rc = system(cmd);
    assert_true(rc != -1 && WIFEXITED(rc));
    if (WEXITSTATUS(rc) == 77) {
        print_message("no Python with onnxruntime (%s): the ONNX half skipped\n", py);
        skip();
    }
    assert_int_equal(WEXITSTATUS(rc), 0);
    f = fopen(logits, "r");
    assert_non_null(f);
    double worst = 0;
    for (int i = 0; i < N; i++) {
        double z[3], m = -1e300, sum = 0;
        for (int k = 0; k < 3; k++) {
            assert_int_equal(fscanf(f, "%lf", &z[k]), 1);
            m = z[k] > m ? z[k] : m;
        }
        for (int k = 0; k < 3; k++)
            sum += exp(z[k] - m);
        for (int k = 0; k < 3; k++) {
            const double d = fabs(exp(z[k] - m) / sum - probs[i][k]);
            worst = d > worst ? d : worst;
        }
    }
    fclose(f);
    if (worst > 1e-4)
        fail_msg("onnxruntime's probabilities differ from predict's by %g (limit 1e-4)", worst);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_teacher_label_student),
        cmocka_unit_test(test_user_errors),
        cmocka_unit_test(test_pack_train_label_predict_export),
    };
    return cmocka_run_group_tests(tests, setup, NULL);
}
