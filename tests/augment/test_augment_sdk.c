/* The third-party example (examples/augment-plugin), built against the
 * installed SDK by the augment_sdk_install fixture, loaded by path through the
 * policy like `--augment ./ns_augment_noise.so:n=2,m=9`. */
#include "augment_test_util.h"

#include <stdio.h>
#include <string.h>

#include "augment/policy.h"

static const char *plugin(void)
{
    const char *p = getenv("NS_EXAMPLE_PLUGIN");
    assert_non_null(p);
    return p;
}

static ns_augment_policy *open_with(const char *options)
{
    char spec[2048];
    snprintf(spec, sizeof spec, "%s:%s", plugin(), options);
    ns_augment_policy *p = NULL;
    if (ns_augment_policy_open(spec, &p) != NS_OK)
        fail_msg("%s: %s", spec, ns_last_error());
    return p;
}

static void test_loads_and_augments(void **state)
{
    (void)state;
    ns_augment_policy *p = open_with("n=2,m=9");
    const ns_augment_opset *set = ns_augment_policy_opset(p);
    assert_string_equal(ns_augment_opset_name(set), "noise");
    assert_int_equal(ns_augment_opset_count(set), 2);
    assert_true(ns_augment_opset_find(set, "gaussian_noise") >= 0);
    assert_true(ns_augment_opset_find(set, "gaussian_blur") >= 0);
    /* a batch of Fashion-MNIST-sized and CIFAR-sized images, deterministic per rng */
    const int shapes[][3] = {{28, 28, 1}, {32, 32, 3}};
    for (int s = 0; s < 2; s++)
        for (uint64_t i = 0; i < 64; i++) {
            uint8_t a[32 * 32 * 3], b[32 * 32 * 3], orig[32 * 32 * 3], scratch[32 * 32 * 3];
            ns_image ia = {a, shapes[s][0], shapes[s][1], shapes[s][2]}, ib = ia;
            ib.data = b;
            fill_random(&ia, i);
            size_t n = (size_t)ia.width * ia.height * ia.channels;
            memcpy(b, a, n);
            memcpy(orig, a, n);
            ns_rng r1 = ns_rng_make(5, i), r2 = ns_rng_make(5, i);
            assert_int_equal(ns_augment_policy_apply(p, &ia, scratch, &r1), NS_OK);
            assert_int_equal(ns_augment_policy_apply(p, &ib, scratch, &r2), NS_OK);
            assert_memory_equal(a, b, n);
            assert_true(memcmp(a, orig, n) != 0);
        }
    ns_augment_policy_close(p);
}

static void test_options_and_errors(void **state)
{
    (void)state;
    /* the plugin's own key reaches its create() and shows in the canonical spec */
    ns_augment_policy *p = open_with("n=1,m=10,ops=gaussian_noise,noise_scale=0");
    assert_non_null(strstr(ns_augment_policy_describe(p), "noise_scale=0"));
    uint8_t a[4 * 4], scratch[4 * 4];
    memset(a, 100, sizeof a);
    ns_image img = {a, 4, 4, 1};
    ns_rng rng = ns_rng_make(1, 1);
    assert_int_equal(ns_augment_policy_apply(p, &img, scratch, &rng), NS_OK);
    for (int i = 0; i < 16; i++)
        assert_int_equal(a[i], 100); /* sigma 0: unchanged */
    ns_augment_policy_close(p);
    /* an option it does not know: its own message, as a usage error */
    char spec[2048];
    snprintf(spec, sizeof spec, "%s:n=2,bogus=1", plugin());
    p = NULL;
    assert_int_equal(ns_augment_policy_open(spec, &p), NS_ERR_USAGE);
    assert_null(p);
    /* the host names the set once: the plugin's message does not repeat it */
    if (!strstr(ns_last_error(), "augment noise: create: option 'bogus' not understood"))
        fail_msg("unexpected message: %s", ns_last_error());
}

/* The installed noisystudent.pc states the ABI of the installed headers, as
 * the C preprocessor sees it (the .pc said 1.0 while plugin.h said 1.1). */
static void test_pc_states_header_abi(void **state)
{
    (void)state;
    const char *path = getenv("NS_SDK_PC");
    assert_non_null(path);
    FILE *f = fopen(path, "rb");
    if (!f)
        fail_msg("%s: cannot open", path);
    static char pc[8192];
    size_t n = fread(pc, 1, sizeof pc - 1, f);
    fclose(f);
    pc[n] = '\0';
    char want[64];
    snprintf(want, sizeof want, "schedulers), ABI %u.%u\n", NS_ABI_MAJOR, NS_ABI_MINOR);
    if (!strstr(pc, want))
        fail_msg("%s lacks '%s':\n%s", path, want, pc);
    snprintf(want, sizeof want, "\nabi_version=%u.%u\n", NS_ABI_MAJOR, NS_ABI_MINOR);
    if (!strstr(pc, want))
        fail_msg("%s lacks '%s':\n%s", path, want + 1, pc);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_loads_and_augments),
        cmocka_unit_test(test_options_and_errors),
        cmocka_unit_test(test_pc_states_header_abi),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
