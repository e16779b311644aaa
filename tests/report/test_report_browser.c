/* The report of a real run, in a real browser: a small selftrain run on ref
 * (seconds), `noisystudent report`, then headless Chromium loads the page
 * from file:// (no network), dumps the DOM it built and takes a screenshot.
 * Checked: no console message at all (the page has no script; anything
 * logged is an error), every chart has as many points as metrics.jsonl has
 * finite values, every grid as many images as the label file and the two
 * eval.json files call for. Skips, saying so, where chromium is absent.
 * Also: the trainer writes report.html after every epoch (a paused run has
 * one with its epochs). */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>
#include <jansson.h>
#include <math.h>
#include <sys/stat.h>
#include <unistd.h>

#include "data/source.h"
#include "report/grids.h"
#include "report_test_util.h"
#include "selftrain/label_file.h"
#include "synthetic_data.h"
#include "train/eval_record.h"

static char root[600], data[700], run[700];

static int setup(void **state)
{
    (void)state;
    ns_test_fresh_dir("report_browser", root, sizeof root);
    snprintf(data, sizeof data, "%s/data", root);
    snprintf(run, sizeof run, "%s/run", root);
    return ns_test_write_synthetic(data, 30, 20, 7);
}

static int sh(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
static int sh(const char *fmt, ...)
{
    char cmd[4096];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(cmd, sizeof cmd, fmt, ap);
    va_end(ap);
    int rc = system(cmd);
    return WIFEXITED(rc) ? WEXITSTATUS(rc) : -1;
}

static int finite_count(json_t *metrics, const char *key)
{
    int n = 0;
    for (size_t i = 0; i < json_array_size(metrics); i++) {
        json_t *v = json_object_get(json_array_get(metrics, i), key);
        n += json_is_number(v) && isfinite(json_number_value(v));
    }
    return n;
}

/* data-points of chart `id` and the <circle class="pt"> inside it, both = want */
static void check_chart(const char *dom, const char *id, int want)
{
    const char *body = NULL, *end = NULL;
    long n = rt_attr(dom, "data-chart", id, "data-points", &body, &end, "</svg>");
    if (n != want || rt_count(body, end, "class=\"pt\"") != want)
        fail_msg("chart %s: data-points %ld, %d circles drawn, expected %d", id, n,
                 body ? rt_count(body, end, "class=\"pt\"") : -1, want);
}

static int check_grid(const char *dom, const char *id, int want)
{
    const char *body = NULL, *end = NULL;
    long n = rt_attr(dom, "data-grid", id, "data-images", &body, &end, "</div>");
    int imgs = body ? rt_count(body, end, "<img ") : -1;
    if (n != want || imgs != want)
        fail_msg("grid %s: data-images %ld, %d <img> in the DOM, expected %d", id, n, imgs, want);
    return want;
}

static void check_stage_charts(const char *dom, const char *stage_dir, const char *id)
{
    char p[900];
    snprintf(p, sizeof p, "%s/%s/metrics.jsonl", run, stage_dir);
    json_t *m = json_array();
    char *text = rt_slurp(p);
    assert_non_null(text);
    for (char *save = NULL, *line = strtok_r(text, "\n", &save); line; line = strtok_r(NULL, "\n", &save))
        json_array_append_new(m, json_loads(line, 0, NULL));
    free(text);
    assert_true(json_array_size(m) >= 2);
    char c[64];
    snprintf(c, sizeof c, "%s-loss", id);
    check_chart(dom, c, finite_count(m, "train_loss"));
    snprintf(c, sizeof c, "%s-acc", id);
    check_chart(dom, c, finite_count(m, "train_acc") + finite_count(m, "val_acc") + finite_count(m, "test_acc"));
    snprintf(c, sizeof c, "%s-lr", id);
    check_chart(dom, c, finite_count(m, "lr"));
    snprintf(c, sizeof c, "%s-ips", id);
    check_chart(dom, c, finite_count(m, "images_per_s"));
    json_decref(m);
}

static int train_run(const char *dir, const char *extra)
{
    return sh("'%s' train --backend ref --threads 1 --data '%s' --labels-per-class 5 --model resnet8:width=4 "
              "--batch 4 --lr 0.05 --run-dir '%s' %s > '%s.log' 2>&1",
              NS_CLI_PATH, data, dir, extra, dir);
}

static void test_report_after_every_epoch(void **state)
{
    (void)state;
    char dir[800], p[900];
    snprintf(dir, sizeof dir, "%s/paused", root);
    assert_int_equal(train_run(dir, "--epochs 3 --stop-after 2"), 0);
    snprintf(p, sizeof p, "%s/report.html", dir);
    char *html = rt_slurp(p);
    assert_non_null(html);
    assert_int_equal(rt_attr(html, "data-chart", "run-loss", "data-points", NULL, NULL, NULL), 2);
    assert_non_null(strstr(html, "appear when the stage finishes")); /* no eval.json yet */
    assert_non_null(strstr(html, ">in progress or stopped<"));
    free(html);
    assert_int_equal(sh("'%s' train --resume '%s' --backend ref --threads 1 > '%s.log2' 2>&1", NS_CLI_PATH, dir, dir),
                     0);
    html = rt_slurp(p);
    assert_non_null(html);
    assert_int_equal(rt_attr(html, "data-chart", "run-loss", "data-points", NULL, NULL, NULL), 3);
    assert_int_equal(rt_count(html, NULL, "class=\"cell\""), 16); /* eval.json's 4x4 confusion matrix */
    assert_non_null(strstr(html, ">finished<")); /* written after model.safetensors */
    free(html);
    /* eval prints the same matrix as eval.json holds, and writes it as CSV */
    char csv[900];
    snprintf(csv, sizeof csv, "%s/confusion.csv", root);
    assert_int_equal(sh("'%s' eval --model '%s/model.safetensors' --backend ref --threads 1 --confusion-out '%s' "
                        "> '%s/eval.out' 2>&1", NS_CLI_PATH, dir, csv, root),
                     0);
    ns_eval_record r;
    snprintf(p, sizeof p, "%s/eval.json", dir);
    assert_int_equal(ns_eval_record_read(p, &r), NS_OK);
    char want[2048];
    int at = snprintf(want, sizeof want, "\"true \\ predicted\",\"0\",\"1\",\"2\",\"3\"\n");
    for (int t = 0; t < 4; t++) {
        at += snprintf(want + at, sizeof want - at, "\"%d\"", t);
        for (int q = 0; q < 4; q++)
            at += snprintf(want + at, sizeof want - at, ",%llu", (unsigned long long)r.conf.counts[t * 4 + q]);
        at += snprintf(want + at, sizeof want - at, "\n");
    }
    char *got = rt_slurp(csv);
    assert_non_null(got);
    assert_string_equal(got, want);
    free(got);
    snprintf(p, sizeof p, "%s/eval.out", root);
    got = rt_slurp(p);
    assert_non_null(got);
    char acc[64];
    snprintf(acc, sizeof acc, "accuracy %.2f%%", 100 * ns_confusion_accuracy(&r.conf));
    assert_non_null(strstr(got, acc));
    assert_non_null(strstr(got, "confusion matrix (rows: true class"));
    free(got);
    ns_eval_record_free(&r);
}

static void test_chromium_loads_the_report(void **state)
{
    (void)state;
    if (sh("command -v chromium > /dev/null 2>&1") != 0) {
        print_message("chromium not found: install Debian's chromium (tools/setup.sh does) to run this test\n");
        skip();
    }
    assert_int_equal(sh("'%s' selftrain --backend ref --threads 1 --data '%s' --labels-per-class 5 "
                        "--teacher-model resnet8:width=4 --student-model resnet8:width=4 --teacher-epochs 3 "
                        "--student-epochs 2 --iterations 1 --batch 4 --lr 0.05 --per-class 10 --unlabeled-ratio 2 "
                        "--run-dir '%s' > '%s/selftrain.log' 2>&1",
                        NS_CLI_PATH, data, run, root),
                     0);
    assert_int_equal(sh("'%s' report '%s' > '%s/report.log' 2>&1", NS_CLI_PATH, run, root), 0);
    char page[800], dom_path[800], err_path[800], shot[800];
    snprintf(page, sizeof page, "%s/report.html", run);
    snprintf(dom_path, sizeof dom_path, "%s/dom.html", root);
    snprintf(err_path, sizeof err_path, "%s/chromium.err", root);
    snprintf(shot, sizeof shot, "%s/report.png", root);
    struct stat sb;
    assert_int_equal(stat(page, &sb), 0);
    assert_true(sb.st_size < 5 * 1024 * 1024);
    const long long page_bytes = (long long)sb.st_size;
    const char *flags = "--headless --no-sandbox --disable-gpu --no-first-run --disable-extensions "
                        "--enable-logging=stderr --v=0 --hide-scrollbars";
    assert_int_equal(sh("timeout 120 chromium %s --user-data-dir='%s/ud' --dump-dom 'file://%s' > '%s' 2> '%s'", flags,
                        root, page, dom_path, err_path),
                     0);
    assert_int_equal(sh("timeout 120 chromium %s --user-data-dir='%s/ud' --window-size=1100,1500 --screenshot='%s' "
                        "'file://%s' > /dev/null 2>> '%s'",
                        flags, root, shot, page, err_path),
                     0);
    char *dom = rt_slurp(dom_path), *err = rt_slurp(err_path);
    assert_non_null(dom);
    assert_non_null(err);
    /* loaded whole from file:// */
    assert_non_null(strstr(dom, "id=\"summary-table\""));
    assert_non_null(strstr(dom, "</body>"));
    /* no console output: the page has no script, so any message is an error */
    const char *console = strstr(err, "CONSOLE");
    if (console)
        fail_msg("chromium console: %.300s", console);

    check_stage_charts(dom, "teacher", "teacher");
    check_stage_charts(dom, "iter1/student", "s1");

    /* pseudo-label grids: per class min(found, 8) */
    int images = 0;
    char p[900];
    snprintf(p, sizeof p, "%s/iter1/labels.nspl", run);
    ns_label_set s;
    assert_int_equal(ns_label_file_read(p, &s), NS_OK);
    for (int k = 0; k < s.classes; k++) {
        int found = 0;
        for (size_t i = 0; i < s.count; i++)
            found += s.top[i] == k;
        char id[64];
        snprintf(id, sizeof id, "s1-pseudo-%d", k);
        images += check_grid(dom, id, found < 2 * NS_REPORT_PER_CLASS ? found : 2 * NS_REPORT_PER_CLASS);
    }
    ns_label_set_free(&s);

    /* test images: student right and teacher wrong, and the reverse */
    ns_eval_record te, se;
    snprintf(p, sizeof p, "%s/teacher/eval.json", run);
    assert_int_equal(ns_eval_record_read(p, &te), NS_OK);
    snprintf(p, sizeof p, "%s/iter1/student/eval.json", run);
    assert_int_equal(ns_eval_record_read(p, &se), NS_OK);
    ns_dataset test;
    assert_int_equal(ns_dataset_open(data, 0, &test), NS_OK);
    assert_int_equal(te.n, test.n);
    int gained = 0, lost = 0;
    for (size_t i = 0; i < test.n; i++) {
        int sr = se.predicted[i] == test.labels[i], tr = te.predicted[i] == test.labels[i];
        gained += sr && !tr;
        lost += tr && !sr;
    }
    images += check_grid(dom, "s1-test-gained", gained < NS_REPORT_TEST_IMAGES ? gained : NS_REPORT_TEST_IMAGES);
    images += check_grid(dom, "s1-test-lost", lost < NS_REPORT_TEST_IMAGES ? lost : NS_REPORT_TEST_IMAGES);
    /* and each image shown is one of its kind */
    for (int g = 0; g < 2; g++) {
        const char *body = NULL, *end = NULL;
        rt_attr(dom, "data-grid", g ? "s1-test-lost" : "s1-test-gained", "data-images", &body, &end, "</div>");
        for (const char *a = strstr(body, "alt=\"test image "); a && a < end; a = strstr(a + 1, "alt=\"test image ")) {
            size_t i = strtoul(a + 16, NULL, 10);
            assert_true(i < test.n);
            int sr = se.predicted[i] == test.labels[i], tr = te.predicted[i] == test.labels[i];
            if (g ? !(tr && !sr) : !(sr && !tr))
                fail_msg("test image %zu in the %s grid: student %s, teacher %s", i, g ? "lost" : "gained",
                         sr ? "right" : "wrong", tr ? "right" : "wrong");
        }
    }

    /* the student's noise (the teacher has none) */
    images += check_grid(dom, "s1-noise-original", NS_REPORT_NOISE_IMAGES);
    images += check_grid(dom, "s1-noise", NS_REPORT_NOISE_IMAGES);
    assert_null(strstr(dom, "data-grid=\"teacher-noise"));
    /* the noised row is not the originals again */
    {
        const char *ob = NULL, *oe = NULL, *nb = NULL, *ne = NULL;
        rt_attr(dom, "data-grid", "s1-noise-original", "data-images", &ob, &oe, "</div>");
        rt_attr(dom, "data-grid", "s1-noise", "data-images", &nb, &ne, "</div>");
        int same = 0;
        for (const char *o = strstr(ob, "base64,"), *n = strstr(nb, "base64,"); o && n && o < oe && n < ne;
             o = strstr(o + 1, "base64,"), n = strstr(n + 1, "base64,")) {
            size_t lo = strcspn(o, "\""), ln = strcspn(n, "\"");
            same += lo == ln && memcmp(o, n, lo) == 0;
        }
        assert_true(same < NS_REPORT_NOISE_IMAGES / 2);
    }
    assert_int_equal(rt_count(dom, NULL, "<img "), images);
    /* nothing from the network: every image is a data URI */
    assert_int_equal(rt_count(dom, NULL, "src=\"data:image/png;base64,"), images);
    assert_null(strstr(dom, "http://"));
    assert_null(strstr(dom, "https://"));

    /* the screenshot is a PNG of some substance */
    char *png = rt_slurp(shot);
    assert_non_null(png);
    assert_memory_equal(png, "\x89PNG", 4);
    assert_int_equal(stat(shot, &sb), 0);
    assert_true(sb.st_size > 20000);
    ns_dataset_free(&test);
    ns_eval_record_free(&te);
    ns_eval_record_free(&se);
    print_message("report %s: %lld bytes, %d images; screenshot %s\n", page, page_bytes, images, shot);
    free(png);
    free(dom);
    free(err);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_report_after_every_epoch),
        cmocka_unit_test(test_chromium_loads_the_report),
    };
    return cmocka_run_group_tests(tests, setup, NULL);
}
