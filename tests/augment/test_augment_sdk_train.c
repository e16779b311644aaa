/* Training steps with the third-party example op set through the CLI:
 *   noisystudent train --data DIR --augment <example>.so:n=2,m=9 ...
 * on a small synthetic IDX dataset, with the ref backend. argv[1] is the CLI;
 * NS_EXAMPLE_PLUGIN is the example built by the augment_sdk_install fixture. */
#include "augment_test_util.h"

#include <stdio.h>
#include <string.h>
#include <sys/wait.h>

static const char *cli;

static void write_be32(FILE *f, uint32_t v)
{
    uint8_t b[4] = {(uint8_t)(v >> 24), (uint8_t)(v >> 16), (uint8_t)(v >> 8), (uint8_t)v};
    assert_int_equal(fwrite(b, 1, 4, f), 4);
}

/* <dir>/<split>-{images-idx3,labels-idx1}-ubyte: n random 16x16 images, labels i % 4. */
static void write_idx(const char *dir, const char *split, uint32_t n, uint64_t seed)
{
    char path[1024];
    snprintf(path, sizeof path, "%s/%s-images-idx3-ubyte", dir, split);
    FILE *f = fopen(path, "wb");
    assert_non_null(f);
    write_be32(f, 0x803);
    write_be32(f, n);
    write_be32(f, 16);
    write_be32(f, 16);
    ns_rng r = ns_rng_make(seed, 0);
    for (uint32_t i = 0; i < n * 256; i++)
        fputc((int)(ns_rng_u32(&r) & 0xFF), f);
    assert_int_equal(fclose(f), 0);
    snprintf(path, sizeof path, "%s/%s-labels-idx1-ubyte", dir, split);
    f = fopen(path, "wb");
    assert_non_null(f);
    write_be32(f, 0x801);
    write_be32(f, n);
    for (uint32_t i = 0; i < n; i++)
        fputc((int)(i % 4), f);
    assert_int_equal(fclose(f), 0);
}

static int run(const char *cmd)
{
    int st = system(cmd);
    return WIFEXITED(st) ? WEXITSTATUS(st) : -1;
}

static int file_contains(const char *path, const char *needle)
{
    static char buf[1 << 16];
    FILE *f = fopen(path, "rb");
    if (!f)
        return 0;
    size_t n = fread(buf, 1, sizeof buf - 1, f);
    fclose(f);
    buf[n] = '\0';
    return strstr(buf, needle) != NULL;
}

static void test_train_with_example_plugin(void **state)
{
    (void)state;
    const char *tmp = getenv("NS_TEST_TMP"), *plugin = getenv("NS_EXAMPLE_PLUGIN");
    assert_non_null(tmp);
    assert_non_null(plugin);
    char data[1024], runs[1024], cmd[4096], path[1200];
    snprintf(data, sizeof data, "%s/augment-sdk-train-data", tmp);
    snprintf(runs, sizeof runs, "%s/augment-sdk-train-run", tmp);
    snprintf(cmd, sizeof cmd, "rm -rf '%s' '%s' && mkdir -p '%s'", data, runs, data);
    assert_int_equal(run(cmd), 0);
    write_idx(data, "train", 64, 1);
    write_idx(data, "t10k", 16, 2);
    snprintf(cmd, sizeof cmd,
             "'%s' train --data '%s' --epochs 2 --batch 16 --model resnet8 --backend ref --loader-threads 2 "
             "--augment '%s:n=2,m=9,blur_scale=1.5' --run-dir '%s' > '%s.log' 2>&1",
             cli, data, plugin, runs, runs);
    int rc = run(cmd);
    if (rc != 0) {
        snprintf(cmd, sizeof cmd, "cat '%s.log' >&2", runs);
        run(cmd);
        fail_msg("noisystudent train with the example plugin exited %d", rc);
    }
    snprintf(path, sizeof path, "%s/metrics.jsonl", runs);
    assert_true(file_contains(path, "\"epoch\":2"));
    snprintf(path, sizeof path, "%s/config.json", runs);
    assert_true(file_contains(path, "ns_augment_noise.so:n=2,m=9"));
    /* a bad option of the plugin is a usage error (exit 2) naming it */
    snprintf(cmd, sizeof cmd,
             "'%s' train --data '%s' --epochs 1 --backend ref --augment '%s:n=2,bogus=1' --run-dir '%s-bad' "
             "> '%s.bad.log' 2>&1", cli, data, plugin, runs, runs);
    assert_int_equal(run(cmd), 2);
    snprintf(path, sizeof path, "%s.bad.log", runs);
    assert_true(file_contains(path, "option 'bogus' not understood"));
}

int main(int argc, char **argv)
{
    if (argc < 2) {
        fprintf(stderr, "usage: %s <noisystudent CLI>\n", argv[0]);
        return 2;
    }
    cli = argv[1];
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_train_with_example_plugin),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
