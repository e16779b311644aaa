/* The progress bar's text (train/progress.h): its numbers, and that it never
 * reaches the terminal's last column (a wrapped bar cannot be redrawn in place). */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <string.h>

#include <cmocka.h>

#include "train/progress.h"

static void test_numbers(void **state)
{
    (void)state;
    char buf[512];
    /* 250 of 1000 in 5 s: 50 img/s, 750 left: 15 s. */
    ns_progress_format(buf, sizeof buf, "epoch 3/30", 250, 1000, 5.0, 0.5, 120);
    assert_non_null(strstr(buf, "epoch 3/30 ["));
    assert_non_null(strstr(buf, " 25%  250/1000  50 img/s  loss 0.5000  ETA 0:15"));
    /* a quarter of the 30 cells filled, then the head */
    assert_non_null(strstr(buf, "[=======>"));
    /* an hour and more */
    ns_progress_format(buf, sizeof buf, "labeling", 1, 10001, 1.0, -1, 120);
    assert_non_null(strstr(buf, "ETA 2:46:40"));
    assert_null(strstr(buf, "loss"));
    /* done: how long it took */
    ns_progress_format(buf, sizeof buf, "evaluating", 10, 10, 75.0, -1, 120);
    assert_non_null(strstr(buf, "100%  10/10  0 img/s  took 1:15"));
    assert_non_null(strstr(buf, "[==============================]"));
}

static void test_fits_the_terminal(void **state)
{
    (void)state;
    char buf[512];
    for (int cols = 1; cols <= 200; cols++) {
        ns_progress_format(buf, sizeof buf, "epoch 123/456", 123456, 999999, 12.5, 1.25, cols);
        if ((int)strlen(buf) > cols - 1)
            fail_msg("%d columns: a %zu-character bar '%s'", cols, strlen(buf), buf);
    }
    ns_progress_format(buf, sizeof buf, "epoch 1/2", 1, 2, 1.0, 1.0, 80);
    assert_non_null(strchr(buf, '[')); /* 80 columns have room for a bar */
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_numbers),
        cmocka_unit_test(test_fits_the_terminal),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
