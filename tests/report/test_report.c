/* The report writer (core/report): escaping, base64, chart point counts, the
 * eval.json record, partial and pre-report runs, the atomic rewrite, and the
 * pseudo-label image grids against a label file over real IDX images. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>
#include <dirent.h>
#include <math.h>
#include <png.h>
#include <sys/stat.h>
#include <unistd.h>

#include "data/source.h"
#include "report/grids.h"
#include "report/html.h"
#include "report/png_memory.h"
#include "report/report.h"
#include "report/svg.h"
#include "report_test_util.h"
#include "selftrain/label_file.h"
#include "synthetic_data.h"
#include "train/eval_record.h"
#include "util/error.h"

static void test_escape(void **state)
{
    (void)state;
    ns_html h = {0};
    ns_html_text(&h, "a<b>&\"'\x01" "\xc3\xa9\tz\n\x7f");
    assert_string_equal(h.text, "a&lt;b&gt;&amp;&quot;&#39;\xef\xbf\xbd\xc3\xa9\tz\n\xef\xbf\xbd");
    ns_html_text(&h, NULL);
    ns_html_raw(&h, "<i>");
    ns_html_printf(&h, "%d%s", 42, "!");
    assert_string_equal(h.text + strlen(h.text) - 6, "<i>42!");
    assert_int_equal(ns_html_status(&h, "x"), NS_OK);
    ns_html_free(&h);
    ns_html_free(&h);
}

static void test_base64_rfc4648(void **state)
{
    (void)state;
    const char *in[] = {"", "f", "fo", "foo", "foob", "fooba", "foobar"};
    const char *out[] = {"", "Zg==", "Zm8=", "Zm9v", "Zm9vYg==", "Zm9vYmE=", "Zm9vYmFy"};
    for (int i = 0; i < 7; i++) {
        ns_html h = {0};
        ns_html_raw(&h, "");
        ns_html_base64(&h, (const uint8_t *)in[i], strlen(in[i]));
        assert_string_equal(h.text ? h.text : "", out[i]);
        ns_html_free(&h);
    }
}

static void test_line_chart_counts_finite_points(void **state)
{
    (void)state;
    double x[] = {1, 2, 3, 4}, a[] = {0.5, NAN, 0.7, 0.8}, b[] = {NAN, NAN, NAN, 0.6};
    ns_series s[] = {{"train <acc>", x, a, 4}, {"test", x, b, 4}};
    ns_line_chart c = {"c1", "accuracy", "epoch", s, 2, 1, 0.65, "teacher"};
    ns_html h = {0};
    ns_svg_line_chart(&h, &c);
    assert_int_equal(ns_line_chart_points(&c), 4);
    const char *body = NULL, *end = NULL;
    assert_int_equal(rt_attr(h.text, "data-chart", "c1", "data-points", &body, &end, "</svg>"), 4);
    assert_int_equal(rt_count(body, end, "class=\"pt\""), 4);
    assert_non_null(strstr(h.text, "data-ref=\"0.65\""));
    assert_non_null(strstr(h.text, "train &lt;acc&gt;"));
    assert_null(strstr(h.text, "<acc>"));
    ns_html_free(&h);
    /* no points: says so, draws none */
    ns_line_chart e = {"c2", "loss", "epoch", s, 0, 0, NAN, NULL};
    ns_svg_line_chart(&h, &e);
    assert_int_equal(rt_attr(h.text, "data-chart", "c2", "data-points", NULL, NULL, NULL), 0);
    assert_non_null(strstr(h.text, "no data yet"));
    assert_int_equal(rt_count(h.text, NULL, "class=\"pt\""), 0);
    ns_html_free(&h);
}

static void test_heatmap_and_bars(void **state)
{
    (void)state;
    const char *names[] = {"cat & dog", "b"};
    ns_class_names cn = {0};
    assert_int_equal(ns_class_names_set(&cn, 2, names), NS_OK);
    uint64_t counts[] = {3, 1, 0, 4};
    double acc[] = {0.75, NAN};
    ns_html h = {0};
    ns_svg_heatmap(&h, "hm", &cn, counts, 2);
    ns_svg_bars(&h, "bars", &cn, acc, 2);
    assert_int_equal(rt_count(h.text, NULL, "class=\"cell\""), 4);
    assert_int_equal(rt_count(h.text, NULL, "class=\"bar\""), 1);
    assert_int_equal(rt_attr(h.text, "data-chart", "bars", "data-bars", NULL, NULL, NULL), 1);
    assert_non_null(strstr(h.text, "true cat &amp; dog, predicted b: 1 (25.0%)"));
    ns_html_free(&h);
    ns_class_names_free(&cn);
}

static char tmp[600];

static void path(char *buf, size_t len, const char *name)
{
    snprintf(buf, len, "%s/%s", tmp, name);
}

static void test_eval_record_roundtrip(void **state)
{
    (void)state;
    ns_test_fresh_dir("report_eval", tmp, sizeof tmp);
    ns_eval_record r;
    memset(&r, 0, sizeof r);
    assert_int_equal(ns_confusion_init(&r.conf, 3), NS_OK);
    int32_t truth[10] = {0, 1, 2, 0, 1, 2, 0, 1, 2, -1}, pred[10] = {0, 1, 1, 0, 2, 2, 0, 1, 0, 1};
    r.n = 10;
    r.truth = malloc(sizeof truth);
    r.predicted = malloc(sizeof pred);
    memcpy(r.truth, truth, sizeof truth);
    memcpy(r.predicted, pred, sizeof pred);
    for (int i = 0; i < 10; i++)
        ns_confusion_add(&r.conf, truth[i], pred[i]);
    const char *names[] = {"a<", "b", "c"};
    assert_int_equal(ns_class_names_set(&r.names, 3, names), NS_OK);
    snprintf(r.backend, sizeof r.backend, "ref");
    assert_int_equal(ns_eval_record_write(tmp, &r), NS_OK);
    char p[700];
    path(p, sizeof p, "eval.json");
    char *text = rt_slurp(p);
    assert_non_null(text);
    /* correct: images 0,1,3,5,6,7 -> bits 0,1,3,5,6,7 = 0xeb; image 8 wrong, 9 unknown -> 0x00 */
    assert_non_null(strstr(text, "\"correct_bits\": \"eb00\""));
    assert_non_null(strstr(text, "\"predicted_hex\": \"00010100020200010001\""));
    free(text);
    ns_eval_record b;
    assert_int_equal(ns_eval_record_read(p, &b), NS_OK);
    assert_int_equal(b.conf.classes, 3);
    assert_int_equal(b.n, 10);
    assert_memory_equal(b.predicted, pred, sizeof pred);
    assert_memory_equal(b.conf.counts, r.conf.counts, 9 * sizeof *b.conf.counts);
    assert_int_equal(b.conf.correct, 6);
    assert_true(ns_class_names_equal(&b.names, &r.names));
    assert_string_equal(b.backend, "ref");
    ns_eval_record_free(&b);
    ns_eval_record_free(&r);

    /* more than 256 classes: four hex digits per image */
    memset(&r, 0, sizeof r);
    assert_int_equal(ns_confusion_init(&r.conf, 300), NS_OK);
    r.n = 2;
    r.truth = calloc(2, sizeof *r.truth);
    r.predicted = calloc(2, sizeof *r.predicted);
    r.predicted[0] = 299, r.predicted[1] = 17;
    assert_int_equal(ns_eval_record_write(tmp, &r), NS_OK);
    assert_int_equal(ns_eval_record_read(p, &b), NS_OK);
    assert_int_equal(b.n, 2);
    assert_int_equal(b.predicted[0], 299);
    assert_int_equal(b.predicted[1], 17);
    ns_eval_record_free(&b);
    ns_eval_record_free(&r);

    /* a bad digit is refused naming the file */
    assert_int_equal(rt_write(p, "{\"confusion\": [[1,0],[0,1]], \"predicted_hex\": \"00zz\"}"), 0);
    assert_int_equal(ns_eval_record_read(p, &b), NS_ERR_FORMAT);
    assert_non_null(strstr(ns_last_error(), "eval.json"));
    assert_non_null(strstr(ns_last_error(), "predicted_hex"));
    assert_int_equal(rt_write(p, "{\"confusion\": [[1,0],[0]]}"), 0);
    assert_int_equal(ns_eval_record_read(p, &b), NS_ERR_FORMAT);
    unlink(p);
    assert_int_equal(ns_eval_record_read(p, &b), NS_ERR_NOT_FOUND);
}

static const char metrics3[] =
    "{\"epoch\":1,\"step\":5,\"lr\":0.1,\"train_loss\":1.5,\"train_acc\":0.4,\"val_acc\":null,\"test_acc\":null,"
    "\"seconds\":2.0,\"images_per_s\":100.0,\"loader_wait_s\":0}\n"
    "{\"epoch\":2,\"step\":10,\"lr\":0.05,\"train_loss\":1.2,\"train_acc\":0.5,\"val_acc\":null,\"test_acc\":null,"
    "\"seconds\":2.0,\"images_per_s\":110.0,\"loader_wait_s\":0}\n"
    "{\"epoch\":3,\"step\":15,\"lr\":0.01,\"train_loss\":1.0,\"train_acc\":0.6,\"val_acc\":null,\"test_acc\":0.55,"
    "\"seconds\":2.0,\"images_per_s\":120.0,\"loader_wait_s\":0}\n";

static void test_run_made_before_the_report(void **state)
{
    (void)state;
    ns_test_fresh_dir("report_old_run", tmp, sizeof tmp);
    char p[700];
    path(p, sizeof p, "metrics.jsonl");
    assert_int_equal(rt_write(p, metrics3), 0);
    path(p, sizeof p, "config.json");
    assert_int_equal(rt_write(p, "{\"model\": \"resnet8\", \"epochs\": 3, \"augment\": \"none\", \"data\": \"nowhere\"}"), 0);
    path(p, sizeof p, "model.safetensors");
    assert_int_equal(rt_write(p, "x"), 0);
    ns_html h;
    assert_int_equal(ns_report_render(tmp, &h), NS_OK);
    assert_int_equal(rt_attr(h.text, "data-chart", "run-loss", "data-points", NULL, NULL, NULL), 3);
    assert_int_equal(rt_attr(h.text, "data-chart", "run-acc", "data-points", NULL, NULL, NULL), 4); /* 3 train + 1 test */
    assert_int_equal(rt_attr(h.text, "data-chart", "run-lr", "data-points", NULL, NULL, NULL), 3);
    assert_int_equal(rt_attr(h.text, "data-chart", "run-ips", "data-points", NULL, NULL, NULL), 3);
    assert_int_equal(rt_count(h.text, NULL, "class=\"pt\""), 13);
    assert_non_null(strstr(h.text, "No eval.json"));
    assert_non_null(strstr(h.text, "55.00%")); /* the test accuracy from metrics.jsonl */
    assert_non_null(strstr(h.text, "0 min 06 s"));
    assert_null(strstr(h.text, "data-grid="));
    ns_html_free(&h);
}

static void test_empty_and_partial_runs(void **state)
{
    (void)state;
    ns_test_fresh_dir("report_empty", tmp, sizeof tmp);
    ns_html h;
    assert_int_equal(ns_report_render(tmp, &h), NS_ERR_NOT_FOUND);
    assert_non_null(strstr(ns_last_error(), "not a run directory"));
    char p[700];
    path(p, sizeof p, "config.json");
    assert_int_equal(rt_write(p, "{\"model\": \"resnet8\", \"epochs\": 30}"), 0);
    assert_int_equal(ns_report_render(tmp, &h), NS_OK);
    assert_int_equal(rt_count(h.text, NULL, "no data yet"), 4);
    assert_non_null(strstr(h.text, "metrics.jsonl holds no epoch yet"));
    assert_non_null(strstr(h.text, "appear when the stage finishes"));
    assert_non_null(strstr(h.text, "0/30"));
    ns_html_free(&h);
    /* a selftrain run whose teacher has not started */
    ns_test_fresh_dir("report_empty_st", tmp, sizeof tmp);
    path(p, sizeof p, "selftrain.json");
    assert_int_equal(rt_write(p, "{\"iterations\": 1}"), 0);
    assert_int_equal(ns_report_render(tmp, &h), NS_OK);
    assert_non_null(strstr(h.text, "not started"));
    ns_html_free(&h);
    assert_int_equal(ns_report_render("/nonexistent/run", &h), NS_ERR_NOT_FOUND);
}

static void test_class_names_are_escaped(void **state)
{
    (void)state;
    ns_test_fresh_dir("report_names", tmp, sizeof tmp);
    char p[700];
    path(p, sizeof p, "metrics.jsonl");
    assert_int_equal(rt_write(p, metrics3), 0);
    path(p, sizeof p, "eval.json");
    assert_int_equal(rt_write(p, "{\"confusion\": [[2,1],[0,3]], \"class_names\": [\"<img src=x onerror=alert(1)>\", "
                                 "\"a&b\"], \"backend\": \"<b>ref</b>\", \"predicted_hex\": \"0001\"}"),
                     0);
    ns_html h;
    assert_int_equal(ns_report_render(tmp, &h), NS_OK);
    assert_null(strstr(h.text, "<img src=x"));
    assert_null(strstr(h.text, "<b>ref"));
    assert_non_null(strstr(h.text, "&lt;img src=x onerror=alert(1)&gt;"));
    assert_non_null(strstr(h.text, "a&amp;b"));
    assert_int_equal(rt_count(h.text, NULL, "class=\"cell\""), 4);
    assert_int_equal(rt_count(h.text, NULL, "class=\"bar\""), 2);
    assert_null(strstr(h.text, "<script"));
    ns_html_free(&h);
}

static int count_temps(const char *dir)
{
    int n = 0;
    DIR *d = opendir(dir);
    for (struct dirent *e; d && (e = readdir(d));)
        n += strstr(e->d_name, ".tmp.") != NULL;
    if (d)
        closedir(d);
    return n;
}

static void test_atomic_rewrite(void **state)
{
    (void)state;
    ns_test_fresh_dir("report_atomic", tmp, sizeof tmp);
    char p[700], rp[700], out[1200];
    path(p, sizeof p, "metrics.jsonl");
    assert_int_equal(rt_write(p, metrics3), 0);
    assert_int_equal(ns_report_write(tmp, out, sizeof out), NS_OK);
    path(rp, sizeof rp, "report.html");
    assert_string_equal(out, rp);
    char *first = rt_slurp(rp);
    assert_non_null(first);
    assert_non_null(strstr(first, "</html>"));
    /* a file the report cannot read: the old page stays whole, no temp */
    path(p, sizeof p, "config.json");
    assert_int_equal(rt_write(p, "{not json"), 0);
    assert_int_equal(ns_report_write(tmp, NULL, 0), NS_ERR_FORMAT);
    assert_non_null(strstr(ns_last_error(), "config.json"));
    char *second = rt_slurp(rp);
    assert_string_equal(first, second);
    assert_int_equal(count_temps(tmp), 0);
    /* the trainer's call warns in one line and carries on */
    char *buf = NULL;
    size_t len = 0;
    FILE *f = open_memstream(&buf, &len);
    ns_report_refresh(tmp, f);
    fclose(f);
    assert_int_equal(rt_count(buf, NULL, "\n"), 1);
    assert_non_null(strstr(buf, "warning: report not updated"));
    free(buf);
    free(first);
    free(second);
    /* fixed: rewritten */
    assert_int_equal(rt_write(p, "{\"model\": \"changed-model\"}"), 0);
    ns_report_refresh(tmp, NULL);
    first = rt_slurp(rp);
    assert_non_null(strstr(first, "changed-model"));
    free(first);
    assert_int_equal(count_temps(tmp), 0);
}

/* A stage's per-epoch refresh also rewrites its selftrain run's report:
 * teacher/ one level down, iterK/student/ two. */
static void test_refresh_reaches_the_selftrain_report(void **state)
{
    (void)state;
    ns_test_fresh_dir("report_refresh", tmp, sizeof tmp);
    char p[900], stage[800];
    path(p, sizeof p, "selftrain.json");
    assert_int_equal(rt_write(p, "{\"iterations\": 1}"), 0);
    path(stage, sizeof stage, "iter1");
    assert_int_equal(mkdir(stage, 0755), 0);
    path(stage, sizeof stage, "iter1/student");
    assert_int_equal(mkdir(stage, 0755), 0);
    snprintf(p, sizeof p, "%s/metrics.jsonl", stage);
    assert_int_equal(rt_write(p, metrics3), 0);
    ns_report_refresh(stage, NULL);
    snprintf(p, sizeof p, "%s/report.html", stage);
    char *html = rt_slurp(p);
    assert_non_null(html);
    assert_int_equal(rt_attr(html, "data-chart", "run-loss", "data-points", NULL, NULL, NULL), 3);
    free(html);
    path(p, sizeof p, "report.html");
    html = rt_slurp(p);
    assert_non_null(html);
    assert_int_equal(rt_attr(html, "data-chart", "s1-loss", "data-points", NULL, NULL, NULL), 3);
    assert_non_null(strstr(html, "<section id=\"stage-teacher\">"));
    free(html);
}

/* Decodes a PNG data URI's payload (base64) and compares it with px. */
static int png_matches(const char *b64, const uint8_t *px, int w, int h, int c)
{
    static const char tab[] = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
    size_t n = strcspn(b64, "\"");
    uint8_t *bin = malloc(n);
    size_t m = 0;
    uint32_t acc = 0;
    int bits = 0;
    for (size_t i = 0; i < n && b64[i] != '='; i++) {
        acc = acc << 6 | (uint32_t)(strchr(tab, b64[i]) - tab);
        bits += 6;
        if (bits >= 8) {
            bits -= 8;
            bin[m++] = (uint8_t)(acc >> bits);
        }
    }
    png_image im;
    memset(&im, 0, sizeof im);
    im.version = PNG_IMAGE_VERSION;
    int ok = png_image_begin_read_from_memory(&im, bin, m);
    ok = ok && (int)im.width == w && (int)im.height == h;
    im.format = c == 1 ? PNG_FORMAT_GRAY : PNG_FORMAT_RGB;
    uint8_t *out = ok ? malloc((size_t)w * h * c) : NULL;
    ok = ok && out && png_image_finish_read(&im, NULL, out, 0, NULL);
    ok = ok && memcmp(out, px, (size_t)w * h * c) == 0;
    png_image_free(&im);
    free(out);
    free(bin);
    return ok;
}

static void test_pseudo_label_grids(void **state)
{
    (void)state;
    ns_test_fresh_dir("report_grids", tmp, sizeof tmp);
    char data[700], lp[700];
    path(data, sizeof data, "data");
    assert_int_equal(ns_test_write_synthetic(data, 10, 2, 3), 0); /* 4 classes x 10 training images */
    ns_dataset d;
    assert_int_equal(ns_dataset_open(data, 1, &d), NS_OK);
    /* 30 records over images 0..29: class k gets images with top = i % 3
     * (class 3 none), confidence rising with i, every 5th one wrong */
    ns_label_set s;
    assert_int_equal(ns_label_set_alloc(&s, 30, 4), NS_OK);
    snprintf(s.source, sizeof s.source, "%s", data);
    int found[4] = {0}, wrong_shown = 0;
    for (size_t i = 0; i < 30; i++) {
        s.source_id[i] = (uint32_t)i;
        int top = (int)(i % 3);
        for (int k = 0; k < 4; k++)
            s.probs[i * 4 + k] = k == top ? 0.4f + 0.015f * (float)i : (0.6f - 0.015f * (float)i) / 3;
        ns_label_set_update_top(&s, i);
        s.true_label[i] = i % 5 == 0 ? (top + 1) % 4 : top;
        found[top]++;
    }
    /* class 0: records 0,3,...,27 (10): shown the 4 most (27,24,21,18) and the 4 least (9,6,3,0) confident;
     * wrong among them: 0 (i%5==0) -> 1 */
    wrong_shown = 1;
    path(lp, sizeof lp, "labels.nspl");
    assert_int_equal(ns_label_file_write(lp, &s), NS_OK);
    ns_report_images im;
    memset(&im, 0, sizeof im);
    ns_html h = {0};
    ns_report_label_views(&h, &im, lp, NULL, "s1", NULL);
    assert_int_equal(ns_html_status(&h, "t"), NS_OK);
    for (int k = 0; k < 4; k++) {
        char v[32];
        snprintf(v, sizeof v, "s1-pseudo-%d", k);
        const char *body = NULL, *end = NULL;
        long n = rt_attr(h.text, "data-grid", v, "data-images", &body, &end, "</div>");
        long want = found[k] < 8 ? found[k] : 8;
        assert_int_equal(n, want);
        assert_int_equal(rt_count(body, end, "<img "), want);
        if (k == 0) {
            assert_int_equal(rt_count(body, end, "thumb wrong"), wrong_shown);
            /* the most confident first: record 27 */
            const char *src = strstr(body, "base64,");
            assert_non_null(src);
            assert_true(png_matches(src + 7, ns_dataset_image(&d, 27), d.w, d.h, d.c));
            assert_false(png_matches(src + 7, ns_dataset_image(&d, 26), d.w, d.h, d.c));
            assert_non_null(strstr(body, "alt=\"pool image 27 labeled 0\""));
            assert_non_null(strstr(body, "alt=\"pool image 0 labeled 0\""));
            assert_null(strstr(body, "alt=\"pool image 12 labeled 0\"")); /* neither most nor least */
        }
    }
    /* histogram: 20 bins, correct and wrong segments */
    assert_int_equal(rt_attr(h.text, "data-chart", "s1-confidence", "data-bins", NULL, NULL, NULL), 20);
    assert_true(rt_count(h.text, NULL, "class=\"seg-wrong\"") >= 1);
    assert_true(rt_count(h.text, NULL, "class=\"seg-correct\"") >= 1);
    ns_html_free(&h);
    /* an image folder's labels: no pictures, a reason */
    snprintf(s.source, sizeof s.source, "folder:/somewhere");
    assert_int_equal(ns_label_file_write(lp, &s), NS_OK);
    ns_report_label_views(&h, &im, lp, NULL, "s1", NULL);
    assert_null(strstr(h.text, "data-grid="));
    assert_non_null(strstr(h.text, "image folder"));
    ns_html_free(&h);
    ns_report_images_free(&im);
    ns_label_set_free(&s);
    ns_dataset_free(&d);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_escape),
        cmocka_unit_test(test_base64_rfc4648),
        cmocka_unit_test(test_line_chart_counts_finite_points),
        cmocka_unit_test(test_heatmap_and_bars),
        cmocka_unit_test(test_eval_record_roundtrip),
        cmocka_unit_test(test_run_made_before_the_report),
        cmocka_unit_test(test_empty_and_partial_runs),
        cmocka_unit_test(test_class_names_are_escaped),
        cmocka_unit_test(test_atomic_rewrite),
        cmocka_unit_test(test_refresh_reaches_the_selftrain_report),
        cmocka_unit_test(test_pseudo_label_grids),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
