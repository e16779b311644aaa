/* CIFAR-10 binary batches through ns_cifar_load_files.
 * Input: 1 flag byte; bit 0 set: 4 bytes (little-endian) giving where the
 * rest splits into two batch files loaded in order; clear: one file. */
#include <stdlib.h>

#include "data/cifar.h"
#include "fuzz_util.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    if (size < 1)
        return 0;
    const size_t n = (data[0] & 1) ? 2 : 1;
    data++, size--;
    size_t split = size;
    if (n == 2) {
        if (size < 4)
            return 0;
        uint32_t at = (uint32_t)data[0] | (uint32_t)data[1] << 8 | (uint32_t)data[2] << 16 | (uint32_t)data[3] << 24;
        data += 4, size -= 4;
        split = at % (size + 1);
    }
    ns_fuzz_quiet();
    ns_fuzz_file f[2] = {{.fd = -1}, {.fd = -1}};
    ns_fuzz_file_open(&f[0], data, split);
    if (n == 2)
        ns_fuzz_file_open(&f[1], data + split, size - split);
    const char *paths[2] = {f[0].path, f[1].path};
    ns_dataset d;
    if (ns_cifar_load_files(paths, n, &d) == NS_OK) {
        if (d.c != 3 || d.h != NS_CIFAR_SIDE || d.w != NS_CIFAR_SIDE || d.num_classes != NS_CIFAR_CLASSES ||
            d.n * NS_CIFAR_RECORD != size)
            abort();
        for (size_t i = 0; i < d.n; i++)
            if (d.labels[i] < 0 || d.labels[i] >= NS_CIFAR_CLASSES)
                abort();
        ns_dataset_free(&d);
    }
    ns_fuzz_file_close(&f[0]);
    ns_fuzz_file_close(&f[1]);
    return 0;
}
