/* config.json reader (ns_train_config_from_json): what it refuses, and that
 * what it accepts is written back unchanged (the file --resume reads). */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <cmocka.h>

#include <float.h>
#include <string.h>

#include <jansson.h>

#include "train/scheduler.h"
#include "train/train_config.h"
#include "util/error.h"

static ns_status from_text(const char *text, ns_train_config *c)
{
    json_t *j = json_loads(text, 0, NULL);
    assert_non_null(j);
    ns_status st = ns_train_config_from_json(j, "config.json", c);
    json_decref(j);
    return st;
}

static void expect_refused(const char *text, const char *key)
{
    ns_train_config c;
    ns_status st = from_text(text, &c);
    const char *msg = ns_last_error();
    if (st != NS_ERR_FORMAT || !strstr(msg, "config.json") || !strstr(msg, key) || !strstr(msg, "finite") ||
        strchr(msg, '\n'))
        fail_msg("%s: status %d, message '%s'; expected a format error naming %s", text, (int)st, msg, key);
}

/* A number that is finite as a double but not as a float used to be accepted
 * as an infinite float, which to_json cannot write: the key disappeared from
 * config.json and a resumed run took the default instead (fuzz_config). */
static void float_out_of_range_refused(void **state)
{
    (void)state;
    expect_refused("{\"lr\": 1e300}", "lr");
    expect_refused("{\"pseudo_temperature\": 1e39}", "pseudo_temperature");
    expect_refused("{\"label_smoothing\": -3.5e38}", "label_smoothing");
}

/* The same in key=value specs (util/kv.c, behind --schedule and --augment):
 * plateau:min_lr=1e200 opened with an infinite learning-rate floor, so every
 * step's lr was inf (fuzz_schedule). */
static void spec_float_out_of_range_refused(void **state)
{
    (void)state;
    static const char *const specs[] = {"plateau:min_lr=1e200", "step:every=2,gamma=-1e39", "cosine:min=3.5e38"};
    for (size_t i = 0; i < sizeof specs / sizeof *specs; i++) {
        ns_scheduler *s = NULL;
        ns_status st = ns_scheduler_open(specs[i], &s);
        const char *msg = ns_last_error();
        if (st != NS_ERR_USAGE || s || !strstr(msg, "at most") || strchr(msg, '\n'))
            fail_msg("%s: status %d, message '%s'; expected a usage error on the range", specs[i], (int)st, msg);
    }
    ns_scheduler *s = NULL;
    assert_int_equal(ns_scheduler_open("plateau:min_lr=1e-30", &s), NS_OK);
    ns_scheduler_close(s);
}

static void round_trip(void **state)
{
    (void)state;
    ns_train_config c, back;
    assert_int_equal(from_text("{\"lr\": 3.4028234663852886e38, \"pseudo_temperature\": 0.5, \"model\": "
                               "\"resnet8\", \"seed\": 9223372036854775807, \"optimizer\": \"adam\"}",
                               &c),
                     NS_OK);
    assert_true(c.lr == FLT_MAX);
    json_t *j = ns_train_config_to_json(&c);
    assert_non_null(json_object_get(j, "lr"));
    assert_int_equal(ns_train_config_from_json(j, "again", &back), NS_OK);
    json_t *again = ns_train_config_to_json(&back);
    assert_true(json_equal(j, again));
    json_decref(j);
    json_decref(again);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(float_out_of_range_refused),
        cmocka_unit_test(spec_float_out_of_range_refused),
        cmocka_unit_test(round_trip),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
