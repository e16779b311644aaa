/* Model specs (--model, and the "model" string stored in every checkpoint)
 * through ns_model_spec_parse. An accepted spec must keep the promise of
 * model_spec.h: parse(format(s)) reproduces s exactly. */
#include <stdlib.h>

#include "fuzz_util.h"
#include "nn/model_spec.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    ns_fuzz_quiet();
    char *text = ns_fuzz_strndup(data, size);
    ns_model_spec s, back;
    if (ns_model_spec_parse(text, &s) == NS_OK) {
        char canon[1024];
        ns_model_spec_format(&s, canon, sizeof canon);
        if (ns_model_spec_parse(canon, &back) != NS_OK || !ns_model_spec_equal(&s, &back))
            abort();
        if (s.n_stages < 1 || s.n_stages > NS_MAX_STAGES || ns_model_spec_blocks(&s) < 1)
            abort();
    }
    free(text);
    return 0;
}
