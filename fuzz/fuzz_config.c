/* config.json / selftrain.json through the readers --resume uses
 * (ns_train_config_from_json, ns_selftrain_config_from_json), after jansson
 * parses the input. A config that is accepted must survive a round trip:
 * to_json(from_json(x)) read back gives the same configuration. */
#include <stdlib.h>
#include <string.h>

#include <jansson.h>

#include "fuzz_util.h"
#include "selftrain/selftrain.h"
#include "train/train_config.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static void round_trip_train(const ns_train_config *c)
{
    json_t *j = ns_train_config_to_json(c);
    ns_train_config back;
    if (!j || ns_train_config_from_json(j, "round trip", &back) != NS_OK)
        abort();
    json_t *again = ns_train_config_to_json(&back);
    if (!again || !json_equal(j, again))
        abort();
    json_decref(j);
    json_decref(again);
}

static void round_trip_selftrain(const ns_selftrain_config *c)
{
    json_t *j = ns_selftrain_config_to_json(c);
    ns_selftrain_config back;
    if (!j || ns_selftrain_config_from_json(j, "round trip", &back) != NS_OK)
        abort();
    json_t *again = ns_selftrain_config_to_json(&back);
    if (!again || !json_equal(j, again))
        abort();
    json_decref(j);
    json_decref(again);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    ns_fuzz_quiet();
    json_t *j = json_loadb((const char *)data, size, 0, NULL);
    if (!j)
        return 0;
    ns_train_config tc;
    if (ns_train_config_from_json(j, "config.json", &tc) == NS_OK)
        round_trip_train(&tc);
    ns_selftrain_config sc;
    if (ns_selftrain_config_from_json(j, "selftrain.json", &sc) == NS_OK)
        round_trip_selftrain(&sc);
    json_decref(j);
    return 0;
}
