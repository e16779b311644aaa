/* A cmocka program whose tests skip, pass or fail on demand, linked like
 * every suite (ns_use_test_common), so test_skip_logic.c can check the exit
 * status ctest sees:  skip_probe <all-skip|mixed|fail|setup-fail|empty> */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <string.h>

#include <cmocka.h>

static const char *mode = "";

static void first(void **state)
{
    (void)state;
    skip();
}

static void second(void **state)
{
    (void)state;
    if (strcmp(mode, "mixed") == 0)
        return; /* runs to its end: the suite passed */
    if (strcmp(mode, "fail") == 0)
        fail_msg("failing on purpose");
    skip();
}

static int group_setup(void **state)
{
    (void)state;
    return strcmp(mode, "setup-fail") == 0 ? -1 : 0;
}

int main(int argc, char **argv)
{
    if (argc != 2) {
        fprintf(stderr, "usage: skip_probe <all-skip|mixed|fail|setup-fail|empty>\n");
        return 2;
    }
    mode = argv[1];
    const struct CMUnitTest tests[] = {cmocka_unit_test(first), cmocka_unit_test(second)};
    if (strcmp(mode, "empty") == 0)
        return _cmocka_run_group_tests("skip_probe", tests, 0, group_setup, NULL);
    return cmocka_run_group_tests_name("skip_probe", tests, group_setup, NULL);
}
