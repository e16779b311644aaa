/* The RandAugment policy: spec parsing and its errors, what apply does with
 * n, m, p, sample_m and ops, and determinism across loader threads. */
#include "augment_test_util.h"

#include <stdio.h>
#include <string.h>

#include "augment/policy.h"
#include "data/dataset.h"
#include "data/loader.h"

static ns_augment_policy *open_ok(const char *spec)
{
    ns_augment_policy *p = NULL;
    ns_status st = ns_augment_policy_open(spec, &p);
    if (st != NS_OK)
        fail_msg("%s: %s", spec, ns_last_error());
    return p;
}

static void test_canonical_specs(void **state)
{
    (void)state;
    const char *cases[][2] = {
        {"randaugment:n=2,m=27", "randaugment:n=2,m=27,sample_m=0,p=1"},
        {"seed:n=2,m=9", "seed:n=2,m=9,sample_m=0,p=1"},
        {"randaugment", "randaugment:n=2,m=9,sample_m=0,p=1"},
        {"randaugment:ops=rotate+shear_x,p=0.5,sample_m=1,m=3",
         "randaugment:n=2,m=3,sample_m=1,p=0.5,ops=rotate+shear_x"},
        {"none", "none"},
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        ns_augment_policy *p = open_ok(cases[i][0]);
        assert_string_equal(ns_augment_policy_describe(p), cases[i][1]);
        ns_augment_policy_close(p);
    }
}

static void test_path_spec(void **state)
{
    (void)state;
    const char *dir = getenv("NS_PLUGIN_PATH");
    assert_non_null(dir);
    char spec[2048];
    snprintf(spec, sizeof spec, "%s/ns_augment_seed.so:n=1,m=5", dir);
    ns_augment_policy *p = open_ok(spec);
    assert_string_equal(ns_augment_opset_name(ns_augment_policy_opset(p)), "seed");
    assert_int_equal(ns_augment_policy_op_count(p), 13);
    ns_augment_policy_close(p);
}

static void expect_error(const char *spec, ns_status want, const char *needle1, const char *needle2)
{
    ns_augment_policy *p = (ns_augment_policy *)1;
    ns_status st = ns_augment_policy_open(spec, &p);
    assert_null(p);
    if (st != want)
        fail_msg("%s: expected status %s, got %s (%s)", spec, ns_status_name(want), ns_status_name(st),
                 ns_last_error());
    const char *msg = ns_last_error();
    if (!strstr(msg, needle1) || (needle2 && !strstr(msg, needle2)))
        fail_msg("%s: message '%s' does not name '%s'%s%s", spec, msg, needle1, needle2 ? " and " : "",
                 needle2 ? needle2 : "");
    assert_null(strchr(msg, '\n'));
}

static void test_bad_specs(void **state)
{
    (void)state;
    expect_error("", NS_ERR_USAGE, "--augment", NULL);
    expect_error(":n=2", NS_ERR_USAGE, "--augment", "keys: n, m");
    expect_error("randaugment:n=-1", NS_ERR_USAGE, "n=-1", "0..64");
    expect_error("randaugment:n=65", NS_ERR_USAGE, "n=65", NULL);
    expect_error("randaugment:n=two", NS_ERR_USAGE, "n=two", "integer");
    expect_error("randaugment:m=101", NS_ERR_USAGE, "m=101", "0..100");
    expect_error("randaugment:m=-1", NS_ERR_USAGE, "m=-1", NULL);
    expect_error("randaugment:m=x", NS_ERR_USAGE, "m=x", "number");
    expect_error("randaugment:p=1.5", NS_ERR_USAGE, "p=1.5", "0..1");
    expect_error("randaugment:sample_m=2", NS_ERR_USAGE, "sample_m=2", "0 or 1");
    expect_error("randaugment:ops=rotat", NS_ERR_USAGE, "'rotat'", "rotate, posterize");
    expect_error("seed:ops=invert", NS_ERR_USAGE, "'invert'", "shear_x");
    expect_error("randaugment:ops=rotate+rotate", NS_ERR_USAGE, "'rotate' listed twice", NULL);
    expect_error("randaugment:ops=", NS_ERR_USAGE, "key=value", NULL);
    expect_error("randaugment:foo=1", NS_ERR_USAGE, "'foo'", "n, m, sample_m, p, ops");
    expect_error("randaugment:n", NS_ERR_USAGE, "key=value", NULL);
    expect_error("randaugment:n=1,n=2", NS_ERR_USAGE, "'n' given twice", NULL);
    expect_error("none:n=2", NS_ERR_USAGE, "none takes no options", NULL);
    expect_error("nosuchset:n=2", NS_ERR_NOT_FOUND, "nosuchset", NULL);
    expect_error("./nowhere/x.so:n=2", NS_ERR_NOT_FOUND, "./nowhere/x.so", NULL);
}

static void apply_ok(ns_augment_policy *p, ns_image *img, uint64_t stream)
{
    uint8_t scratch[32 * 32 * 3];
    ns_rng rng = ns_rng_make(11, stream);
    ns_status st = ns_augment_policy_apply(p, img, scratch, &rng);
    if (st != NS_OK)
        fail_msg("%s: %s", ns_augment_policy_describe(p), ns_last_error());
}

/* Fraction of 200 images whose pixel 0 changed (value 10 -> something else). */
static int changed_count(const char *spec, uint8_t *first_values)
{
    ns_augment_policy *p = open_ok(spec);
    int changed = 0;
    for (int i = 0; i < 200; i++) {
        uint8_t buf[4 * 4];
        memset(buf, 10, sizeof buf);
        ns_image img = {buf, 4, 4, 1};
        apply_ok(p, &img, (uint64_t)i);
        changed += buf[0] != 10;
        if (first_values)
            first_values[i] = buf[0];
    }
    ns_augment_policy_close(p);
    return changed;
}

static void test_apply_semantics(void **state)
{
    (void)state;
    /* one invert: always changes; two inverts cancel; p=0 and n=0 do nothing */
    assert_int_equal(changed_count("randaugment:n=1,ops=invert", NULL), 200);
    assert_int_equal(changed_count("randaugment:n=2,ops=invert", NULL), 0);
    assert_int_equal(changed_count("randaugment:n=3,p=0,m=30", NULL), 0);
    assert_int_equal(changed_count("randaugment:n=0,m=30", NULL), 0);
    assert_int_equal(changed_count("none", NULL), 0);
    /* p=0.5: about half */
    int half = changed_count("randaugment:n=1,p=0.5,ops=invert", NULL);
    assert_true(half > 70 && half < 130);
    /* fixed m: solarize_add adds int(110 m/10) = 110; sampled m: anything in 0..110 */
    uint8_t v[200];
    changed_count("randaugment:n=1,m=10,ops=solarize_add", v);
    for (int i = 0; i < 200; i++)
        assert_int_equal(v[i], 120);
    changed_count("randaugment:n=1,m=10,sample_m=1,ops=solarize_add", v);
    int distinct = 0, seen[256] = {0};
    for (int i = 0; i < 200; i++) {
        assert_true(v[i] >= 10 && v[i] <= 120);
        distinct += !seen[v[i]]++;
    }
    assert_true(distinct > 20);
}

static void test_apply_rng_contract(void **state)
{
    (void)state;
    ns_augment_policy *p = open_ok("randaugment:n=2,m=27");
    uint8_t a[32 * 32 * 3], b[32 * 32 * 3], scratch[32 * 32 * 3];
    ns_image ia = {a, 32, 32, 3}, ib = {b, 32, 32, 3};
    fill_random(&ia, 5);
    fill_random(&ib, 5);
    ns_rng r1 = ns_rng_make(9, 1), r2 = ns_rng_make(9, 1);
    r1.index = r2.index = 3; /* a loader may have drawn before (light augmentation) */
    assert_int_equal(ns_augment_policy_apply(p, &ia, scratch, &r1), NS_OK);
    assert_int_equal(ns_augment_policy_apply(p, &ib, scratch, &r2), NS_OK);
    assert_memory_equal(a, b, sizeof a);
    assert_true(r1.index == 3 + (3ull << 32));
    /* a malformed image is refused, not touched */
    ns_image bad = {a, 32, 32, 2};
    assert_int_equal(ns_augment_policy_apply(p, &bad, scratch, &r1), NS_ERR_INVALID_ARG);
    assert_non_null(strstr(ns_last_error(), "32x32x2"));
    ns_augment_policy_close(p);
}

/* All augmented batches of two epochs with `threads` loader threads. */
static float *run_loader(const ns_dataset *d, ns_augment_policy *p, int threads, size_t *floats)
{
    ns_loader_config cfg = {0};
    cfg.data = d;
    uint32_t idx[96];
    for (uint32_t i = 0; i < d->n; i++)
        idx[i] = i;
    cfg.indices = idx;
    cfg.count = d->n;
    cfg.batch = 16;
    cfg.shuffle = 1;
    cfg.seed = 1234;
    cfg.threads = threads;
    cfg.augment = p ? ns_augment_policy_apply : NULL;
    cfg.augment_user = p;
    ns_loader *l;
    if (ns_loader_create(&cfg, &l) != NS_OK)
        fail_msg("loader: %s", ns_last_error());
    size_t per_image = (size_t)d->c * d->h * d->w, total = 2 * d->n * per_image, at = 0;
    float *out = malloc(total * sizeof *out);
    assert_non_null(out);
    for (int epoch = 0; epoch < 2; epoch++) {
        assert_int_equal(ns_loader_start_epoch(l, epoch), NS_OK);
        for (;;) {
            ns_batch *b;
            if (ns_loader_next(l, &b) != NS_OK)
                fail_msg("loader: %s", ns_last_error());
            if (!b)
                break;
            memcpy(out + at, b->x, (size_t)b->n * per_image * sizeof *out);
            at += (size_t)b->n * per_image;
            ns_loader_release(l, b);
        }
    }
    assert_int_equal(at, total);
    ns_loader_destroy(l);
    *floats = total;
    return out;
}

static void test_same_images_with_1_2_4_threads(void **state)
{
    (void)state;
    ns_dataset d = {0};
    assert_int_equal(ns_dataset_alloc(&d, 96, 32, 32, 3), NS_OK);
    ns_image all = {d.images, 32, 32 * 96, 3};
    fill_random(&all, 77);
    ns_augment_policy *p = open_ok("randaugment:n=2,m=27");
    size_t n1, n2, n4, n0;
    float *x1 = run_loader(&d, p, 1, &n1);
    float *x2 = run_loader(&d, p, 2, &n2);
    float *x4 = run_loader(&d, p, 4, &n4);
    float *x0 = run_loader(&d, NULL, 2, &n0);
    assert_int_equal(n1, n2);
    assert_int_equal(n1, n4);
    assert_memory_equal(x1, x2, n1 * sizeof *x1);
    assert_memory_equal(x1, x4, n1 * sizeof *x1);
    /* and the policy did something */
    assert_true(memcmp(x1, x0, n1 * sizeof *x1) != 0);
    free(x1);
    free(x2);
    free(x4);
    free(x0);
    ns_augment_policy_close(p);
    ns_dataset_free(&d);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_canonical_specs),
        cmocka_unit_test(test_path_spec),
        cmocka_unit_test(test_bad_specs),
        cmocka_unit_test(test_apply_semantics),
        cmocka_unit_test(test_apply_rng_contract),
        cmocka_unit_test(test_same_images_with_1_2_4_threads),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
