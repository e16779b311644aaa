/* Safetensors files through ns_safetensors_open; on success every view is
 * read end to end (so ASan sees a view that runs past its buffer) and checked
 * against what safetensors.h promises: nbytes = product(shape) * dtype size,
 * data aligned to the dtype size, find(name) gives the same view. */
#include <stdlib.h>
#include <string.h>

#include "fuzz_util.h"
#include "io/safetensors.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static volatile unsigned sink;

static void check_view(const ns_safetensors *st, const ns_st_view *v)
{
    size_t elem = ns_st_dtype_size(v->dtype);
    if (!v->name || elem == 0 || v->ndim < 0 || v->ndim > NS_ST_MAX_DIMS)
        abort();
    size_t n = elem;
    for (int d = 0; d < v->ndim; d++) {
        if (v->shape[d] < 0)
            abort();
        n *= (size_t)v->shape[d];
    }
    if (n != v->nbytes || (v->nbytes && (!v->data || (uintptr_t)v->data % elem)))
        abort();
    const unsigned char *p = v->data;
    unsigned acc = 0;
    for (size_t i = 0; i < v->nbytes; i++)
        acc += p[i];
    sink = acc;
    if (ns_safetensors_find(st, v->name) != v)
        abort();
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    ns_fuzz_quiet();
    ns_fuzz_file f;
    ns_fuzz_file_open(&f, data, size);
    ns_safetensors *st = NULL;
    if (ns_safetensors_open(f.path, &st) == NS_OK) {
        for (size_t i = 0; i < ns_safetensors_count(st); i++)
            check_view(st, ns_safetensors_tensor(st, i));
        if (ns_safetensors_tensor(st, ns_safetensors_count(st)))
            abort();
        for (size_t i = 0; i < ns_safetensors_meta_count(st); i++) {
            const char *k = NULL, *v = NULL;
            if (!ns_safetensors_meta_at(st, i, &k, &v) || !k || !v || ns_safetensors_meta(st, k) != v)
                abort();
        }
        ns_safetensors_close(st);
    } else if (st) {
        abort(); /* *out must be NULL on failure */
    }
    ns_fuzz_file_close(&f);
    return 0;
}
