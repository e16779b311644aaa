/* `noisystudent augment list` and `noisystudent plugins` with a folder of
 * ns_augment_*.so files, good and broken (NS_LISTED_DIR): neither crashes,
 * both exit 0, every broken file is listed with why, and the good op sets
 * (the test's own and the built-in ones) are listed with their ops.
 * argv[1] is the CLI. The old host crashed on the NULL-vtable plugin and
 * omitted every plugin that failed to open from `augment list`. */
#include "augment_test_util.h"

#include <stdio.h>
#include <string.h>
#include <sys/wait.h>

static const char *cli;
static char out[1 << 16];

/* Runs the CLI with the listed folder searched first; returns its exit code
 * (-1 when it did not exit, e.g. a crash), stdout+stderr in `out`. */
static int run_cli(const char *args)
{
    char cmd[4096];
    snprintf(cmd, sizeof cmd, "'%s' --plugin-dir '%s' %s 2>&1", cli, getenv("NS_LISTED_DIR"), args);
    FILE *p = popen(cmd, "r");
    assert_non_null(p);
    size_t n = fread(out, 1, sizeof out - 1, p);
    out[n] = '\0';
    int st = pclose(p);
    return WIFEXITED(st) ? WEXITSTATUS(st) : -1;
}

static void expect_line(const char *start, const char *needle)
{
    for (const char *line = out; line && *line; line = strchr(line, '\n') ? strchr(line, '\n') + 1 : NULL)
        if (strncmp(line, start, strlen(start)) == 0) {
            const char *end = strchr(line, '\n');
            size_t len = end ? (size_t)(end - line) : strlen(line);
            char buf[2048];
            snprintf(buf, sizeof buf, "%.*s", (int)len, line);
            if (!strstr(buf, needle))
                fail_msg("line '%s' lacks '%s'", buf, needle);
            return;
        }
    fail_msg("no line starting with '%s' in:\n%s", start, out);
}

static const struct {
    const char *variant;
    const char *why;
} broken[] = {
    {"op_upper", "op 1 is named 'Flip', expected 1 to 32 of a-z, 0-9, '_', '-'"},
    {"op_plus", "op 1 is named 'a+b'"},
    {"op_comma", "op 1 is named 'c,d'"},
    {"null_vtable", "descriptor's vtable is NULL"},
    {"many_ops", "n_ops is 1099511627776, expected at most 256"},
    {"abi_major", "built for ABI 2.0"},
    {"mismatch", "the file name says augment 'mismatch' but the descriptor says augment 'someone_else'"},
    {"kindswap", "the file name says augment 'kindswap' but the descriptor says backend 'kindswap'"},
};

static void test_augment_list_shows_broken_with_why(void **state)
{
    (void)state;
    int rc = run_cli("augment list");
    if (rc != 0)
        fail_msg("augment list exited %d:\n%s", rc, out);
    for (size_t i = 0; i < sizeof broken / sizeof *broken; i++) {
        char start[128];
        snprintf(start, sizeof start, "%s", broken[i].variant);
        /* "<name>[ <version>]: cannot be used: plugin <file>: <why>" */
        char file[128];
        snprintf(file, sizeof file, "ns_augment_%s.so", broken[i].variant);
        expect_line(start, "cannot be used: ");
        expect_line(start, file);
        expect_line(start, broken[i].why);
    }
    /* the good ones are intact */
    expect_line("good 0.0.1: ", "a deliberately broken augment plugin");
    assert_non_null(strstr(out, "\n  fine "));
    assert_non_null(strstr(out, "\n  bad "));
    expect_line("randaugment ", "RandAugment");
    expect_line("seed ", "");
}

static void test_plugins_lists_broken_as_broken(void **state)
{
    (void)state;
    int rc = run_cli("plugins");
    if (rc != 0)
        fail_msg("plugins exited %d:\n%s", rc, out);
    for (size_t i = 0; i < sizeof broken / sizeof *broken; i++) {
        char start[128];
        snprintf(start, sizeof start, "augment    %-12s ", broken[i].variant);
        expect_line(start, "broken");
        expect_line(start, broken[i].why);
    }
    expect_line("augment    good ", "usable");
    expect_line("augment    randaugment ", "usable");
}

int main(int argc, char **argv)
{
    if (argc < 2) {
        fprintf(stderr, "usage: %s <noisystudent CLI>\n", argv[0]);
        return 2;
    }
    cli = argv[1];
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_augment_list_shows_broken_with_why),
        cmocka_unit_test(test_plugins_lists_broken_as_broken),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
