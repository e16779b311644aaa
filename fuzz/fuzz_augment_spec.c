/* --augment policy strings through ns_augment_policy_open with the op sets
 * built beside the target (randaugment, seed): the policy's own keys, ops=,
 * and the leftovers handed to the op set's create(). An accepted spec must
 * describe itself canonically, and the canonical text must open again to the
 * same policy. */
#include <stdlib.h>
#include <string.h>

#include "augment/policy.h"
#include "fuzz_util.h"

int LLVMFuzzerInitialize(int *argc, char ***argv);
int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

/* Held for the whole run so that the op-set libraries stay loaded: opening a
 * spec then costs a reference count, not a dlopen from disk. */
static ns_augment_policy *pinned[2];

int LLVMFuzzerInitialize(int *argc, char ***argv)
{
    (void)argc, (void)argv;
    ns_fuzz_quiet();
    setenv("NS_PLUGIN_PATH", NS_FUZZ_PLUGIN_DIR, 1);
    if (ns_augment_policy_open("randaugment", &pinned[0]) != NS_OK ||
        ns_augment_policy_open("seed", &pinned[1]) != NS_OK)
        abort(); /* the op sets must be built: cmake --build the fuzz tree */
    return 0;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    char *spec = ns_fuzz_strndup(data, size);
    /* Only short names: a path would make the fuzzer dlopen files from the disk. */
    if (strchr(spec, '/') || strstr(spec, ".so")) {
        free(spec);
        return 0;
    }
    ns_augment_policy *p = NULL;
    if (ns_augment_policy_open(spec, &p) == NS_OK) {
        const char *canon = ns_augment_policy_describe(p);
        ns_augment_policy *again = NULL;
        if (!canon || ns_augment_policy_open(canon, &again) != NS_OK ||
            strcmp(ns_augment_policy_describe(again), canon) != 0 ||
            ns_augment_policy_op_count(again) != ns_augment_policy_op_count(p))
            abort();
        ns_augment_policy_close(again);
        ns_augment_policy_close(p);
    } else if (p) {
        abort();
    }
    free(spec);
    return 0;
}
