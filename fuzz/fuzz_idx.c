/* IDX images (+ labels), raw or gzip, through ns_idx_load.
 * Input: 1 flag byte; bit 0 set: 4 bytes (little-endian) giving where the
 * rest splits into an images file and a labels file; clear: the rest is the
 * images file alone. */
#include <stdlib.h>
#include <string.h>

#include "data/idx.h"
#include "fuzz_util.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    if (size < 1)
        return 0;
    const int with_labels = data[0] & 1;
    data++, size--;
    size_t split = size;
    if (with_labels) {
        if (size < 4)
            return 0;
        uint32_t at = (uint32_t)data[0] | (uint32_t)data[1] << 8 | (uint32_t)data[2] << 16 | (uint32_t)data[3] << 24;
        data += 4, size -= 4;
        split = at % (size + 1);
    }
    ns_fuzz_quiet();
    ns_fuzz_file images, labels = {.fd = -1};
    ns_fuzz_file_open(&images, data, split);
    if (with_labels)
        ns_fuzz_file_open(&labels, data + split, size - split);
    ns_dataset d;
    if (ns_idx_load(images.path, with_labels ? labels.path : NULL, &d) == NS_OK) {
        /* What a consumer relies on: the shape is plausible (gray, or RGB
         * from a 4-dim HWC file) and every label is a class below
         * num_classes (or -1 without a labels file). */
        if ((d.c != 1 && d.c != 3) || d.h < 1 || d.w < 1)
            abort();
        for (size_t i = 0; i < d.n; i++)
            if (d.labels[i] >= (with_labels ? d.num_classes : 0) || (with_labels && d.labels[i] < 0))
                abort();
        ns_dataset_free(&d);
    }
    ns_fuzz_file_close(&images);
    ns_fuzz_file_close(&labels);
    return 0;
}
