/* Model spec parsing: presets, options, errors, canonical round trip, and the
 * seed's ResNet-50 against its closed-form parameter count. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include "nn_test_util.h"

static void expect_stages(const ns_model_spec *s, int n, const int *blocks, const int *widths,
                          const int *strides)
{
    assert_int_equal(s->n_stages, n);
    for (int i = 0; i < n; i++) {
        assert_int_equal(s->stage_blocks[i], blocks[i]);
        assert_int_equal(s->stage_width[i], widths[i]);
        assert_int_equal(s->stage_stride[i], strides[i]);
    }
}

static void test_cifar_presets(void **state)
{
    (void)state;
    const char *names[] = {"resnet8", "resnet20", "resnet32", "resnet56", "resnet110"};
    const int per_stage[] = {1, 3, 5, 9, 18};
    const int widths[] = {16, 32, 64}, strides[] = {1, 2, 2};
    for (int i = 0; i < 5; i++) {
        ns_model_spec s;
        assert_int_equal(ns_model_spec_parse(names[i], &s), NS_OK);
        int blocks[3] = {per_stage[i], per_stage[i], per_stage[i]};
        expect_stages(&s, 3, blocks, widths, strides);
        assert_string_equal(s.name, names[i]);
        assert_int_equal(s.bottleneck, 0);
        assert_int_equal(s.stem_kernel, 3);
        assert_int_equal(s.stem_width, 16);
        assert_int_equal(s.expansion, 1);
        assert_int_equal(ns_model_spec_blocks(&s), 3 * per_stage[i]);
        /* depth = 2 convs per block + stem + fc */
        assert_int_equal(2 * ns_model_spec_blocks(&s) + 2, atoi(names[i] + 6));
    }
}

static void test_options(void **state)
{
    (void)state;
    ns_model_spec s;
    assert_int_equal(ns_model_spec_parse("resnet8:width=16,mult=2", &s), NS_OK);
    int b1[3] = {1, 1, 1}, w1[3] = {32, 64, 128}, st[3] = {1, 2, 2};
    expect_stages(&s, 3, b1, w1, st);
    assert_int_equal(s.stem_width, 32);

    assert_int_equal(ns_model_spec_parse("resnet20:width=8", &s), NS_OK);
    int b3[3] = {3, 3, 3}, w8[3] = {8, 16, 32};
    expect_stages(&s, 3, b3, w8, st);
    assert_int_equal(s.stem_width, 8);

    assert_int_equal(ns_model_spec_parse("resnet8:mult=1.5", &s), NS_OK);
    int w15[3] = {24, 48, 96};
    expect_stages(&s, 3, b1, w15, st);

    assert_int_equal(ns_model_spec_parse("resnet8:width=3,mult=0.5", &s), NS_OK);
    int wr[3] = {2, 3, 6}; /* round(1.5)=2, round(3)=3, round(6)=6 */
    expect_stages(&s, 3, b1, wr, st);

    assert_int_equal(ns_model_spec_parse(
                         "bottleneck:blocks=3-4-6-3,width=64,stem=5x32,strides=1-2-1-2,expansion=4",
                         &s),
                     NS_OK);
    int bb[4] = {3, 4, 6, 3}, bw[4] = {64, 128, 256, 512}, bs[4] = {1, 2, 1, 2};
    expect_stages(&s, 4, bb, bw, bs);
    assert_int_equal(s.bottleneck, 1);
    assert_int_equal(s.expansion, 4);
    assert_int_equal(s.stem_kernel, 5);
    assert_int_equal(s.stem_width, 32);
    assert_string_equal(s.name, "bottleneck");

    assert_int_equal(ns_model_spec_parse("basic:blocks=2-2,widths=8-24,name=tiny", &s), NS_OK);
    int tb[2] = {2, 2}, tw[2] = {8, 24}, ts[2] = {1, 2};
    expect_stages(&s, 2, tb, tw, ts);
    assert_string_equal(s.name, "tiny");
    assert_int_equal(s.stem_width, 8);
}

static void test_seed_resnet50(void **state)
{
    (void)state;
    ns_model_spec s, custom;
    assert_int_equal(ns_model_spec_parse("seed-resnet50", &s), NS_OK);
    assert_int_equal(ns_model_spec_blocks(&s), 16);
    int bb[4] = {3, 4, 6, 3}, bw[4] = {64, 128, 256, 512}, bs[4] = {1, 2, 1, 2};
    expect_stages(&s, 4, bb, bw, bs);
    assert_int_equal(s.bottleneck, 1);
    assert_int_equal(s.expansion, 4);
    assert_int_equal(s.stem_kernel, 5);
    assert_int_equal(s.stem_width, 32);
    assert_int_equal(ns_model_spec_parse("bottleneck:blocks=3-4-6-3,width=64,stem=5x32,"
                                         "strides=1-2-1-2,expansion=4,name=seed-resnet50",
                                         &custom),
                     NS_OK);
    assert_true(ns_model_spec_equal(&s, &custom));

    /* Closed form, written out independently of the model code: stem conv + BN,
     * per block 1x1, 3x3, 1x1 convs and 3 BNs (+ projection on the first block of
     * each stage, since the channels change there), then fc. */
    const int in_c = 3, classes = 10;
    size_t expect = 5 * 5 * (size_t)in_c * 32 + 2 * 32;
    size_t c = 32;
    for (int st = 0; st < 4; st++) {
        size_t w = (size_t)bw[st], o = 4 * w;
        for (int j = 0; j < bb[st]; j++) {
            expect += c * w + 2 * w + 9 * w * w + 2 * w + w * o + 2 * o;
            if (j == 0)
                expect += c * o + 2 * o;
            c = o;
        }
    }
    expect += 2048 * (size_t)classes + (size_t)classes;
    /* torchvision's resnet50 has 25,557,032; ours differs by the 5x5x32 stem
     * (vs 7x7x64), 32 input channels to stage 1 and a 10-class head. */
    assert_int_equal(expect, 23511210);

    ns_backend *be = nn_open_ref();
    assert_non_null(be);
    ns_model *m = NULL;
    assert_int_equal(ns_model_create(be, &s, in_c, 32, 32, classes, &m), NS_OK);
    printf("seed-resnet50 (3x32x32, 10 classes): %zu parameters (closed form %zu), "
           "%.3f GFLOPs/image forward\n",
           ns_model_param_total(m), expect, ns_model_flops(m, 0) / 1e9);
    assert_int_equal(ns_model_param_total(m), expect);
    /* 16 blocks * 3 units + 4 projections + stem = 53 conv/BN pairs */
    assert_int_equal(ns_model_num_params(m), 53 * 3 + 2);
    assert_int_equal(ns_model_num_states(m), 53 * 2);
    assert_non_null(ns_model_find(m, "stage2.block0.shortcut.conv.weight"));
    assert_null(ns_model_find(m, "stage2.block1.shortcut.conv.weight"));
    ns_param *w = ns_model_find(m, "stage4.block2.conv3.weight");
    assert_non_null(w);
    assert_int_equal(w->shape[0], 2048);
    assert_int_equal(w->shape[1], 512);
    ns_model_destroy(m);
    ns_backend_close(be);
}

static void expect_usage(const char *text, const char *needle1, const char *needle2)
{
    ns_model_spec s;
    ns_status st = ns_model_spec_parse(text, &s);
    const char *msg = ns_last_error();
    if (st != NS_ERR_USAGE || !strstr(msg, needle1) || (needle2 && !strstr(msg, needle2)) ||
        strchr(msg, '\n'))
        fail_msg("'%s': status %d message '%s', expected usage error naming '%s' and '%s'", text,
                 (int)st, msg, needle1, needle2 ? needle2 : "");
}

static void test_bad_input(void **state)
{
    (void)state;
    expect_usage("vgg16", "vgg16", "seed-resnet50");
    expect_usage("resnet9", "resnet9", "6n+2");
    expect_usage("resnet2", "resnet2", "resnet20");
    expect_usage("", "empty", "resnet20");
    expect_usage("resnet20:", "options", NULL);
    expect_usage("resnet20:foo=1", "foo", "width");
    expect_usage("resnet20:blocks=1-1-1", "blocks", "mult");
    expect_usage("resnet20:width=abc", "width=abc", "integer");
    expect_usage("resnet20:width", "width", "=value");
    /* Hung in the key lookup before (fuzz/fuzz_model_spec): an empty key. */
    expect_usage("resnet20:=3", "no key", "width");
    expect_usage("bottleneck:blocks=2,=", "no key", NULL);
    expect_usage("resnet20:mult=0", "mult=0", "0 < M");
    expect_usage("seed-resnet50:width=3", "width", "mult");
    expect_usage("bottleneck:width=64", "blocks", NULL);
    expect_usage("bottleneck:blocks=3-4,widths=1-2-3", "widths", "stage");
    expect_usage("bottleneck:blocks=3-4,strides=1", "strides", "stage");
    expect_usage("bottleneck:blocks=1-1-1-1-1-1-1", "blocks", "1 to 6");
    expect_usage("bottleneck:blocks=3--4", "blocks", NULL);
    expect_usage("bottleneck:blocks=2,stem=4x8", "stem=4x8", "odd");
    expect_usage("basic:blocks=1,expansion=2", "expansion", "width");
    expect_usage("basic:blocks=1,name=a,b", "'b'", NULL);
    expect_usage("basic:blocks=1,name=a:b", "name=a:b", "chars");
}

static void round_trip(const char *text, const char *expect_canonical)
{
    ns_model_spec a, b;
    char buf[256];
    assert_int_equal(ns_model_spec_parse(text, &a), NS_OK);
    ns_model_spec_format(&a, buf, sizeof buf);
    if (expect_canonical)
        assert_string_equal(buf, expect_canonical);
    if (ns_model_spec_parse(buf, &b) != NS_OK)
        fail_msg("'%s' formatted as '%s' does not parse: %s", text, buf, ns_last_error());
    if (!ns_model_spec_equal(&a, &b))
        fail_msg("'%s' -> '%s' parses to a different spec", text, buf);
}

static void test_round_trip(void **state)
{
    (void)state;
    round_trip("resnet20", "resnet20");
    round_trip("resnet8", "resnet8");
    round_trip("resnet56", "resnet56");
    round_trip("seed-resnet50", "seed-resnet50");
    round_trip("resnet8:width=16,mult=2",
               "basic:name=resnet8,blocks=1-1-1,widths=32-64-128,strides=1-2-2,stem=3x32");
    round_trip("resnet32:mult=0.75", NULL);
    round_trip("seed-resnet50:mult=0.5", NULL);
    round_trip("bottleneck:blocks=3-4-6-3,width=64,stem=5x32,strides=1-2-1-2,expansion=4", NULL);
    round_trip("bottleneck:blocks=1-1,width=2,stem=3x4,expansion=2,name=tiny-b", NULL);
    round_trip("basic:blocks=2-2-2-2-2-2,width=1", NULL);
    /* A hand-built spec whose name is not a preset formats explicitly. */
    ns_model_spec s;
    assert_int_equal(ns_model_spec_parse("resnet20", &s), NS_OK);
    s.stage_width[1] = 40;
    char buf[256];
    ns_model_spec_format(&s, buf, sizeof buf);
    ns_model_spec t;
    assert_int_equal(ns_model_spec_parse(buf, &t), NS_OK);
    assert_true(ns_model_spec_equal(&s, &t));
    /* truncation keeps a terminated string */
    ns_model_spec_format(&s, buf, 8);
    assert_int_equal(strlen(buf), 7);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_cifar_presets), cmocka_unit_test(test_options),
        cmocka_unit_test(test_seed_resnet50), cmocka_unit_test(test_bad_input),
        cmocka_unit_test(test_round_trip),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
