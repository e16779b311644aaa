/* Pseudo-label files (.nspl) through ns_label_file_read.
 * Input: 1 flag byte, then the file. Flag bit 0 set: the harness rewrites the
 * trailing CRC-32 to match, so that mutations reach the header and record
 * checks behind it instead of all dying at the CRC. */
#include <stdlib.h>
#include <string.h>

#include <zlib.h>

#include "fuzz_util.h"
#include "selftrain/label_file.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    if (size < 1)
        return 0;
    const int fix_crc = data[0] & 1;
    data++, size--;
    uint8_t *copy = malloc(size ? size : 1);
    if (!copy)
        abort();
    memcpy(copy, data, size);
    if (fix_crc && size >= 4) {
        uint32_t crc = (uint32_t)crc32(0L, copy, (uInt)(size - 4));
        for (int i = 0; i < 4; i++)
            copy[size - 4 + (size_t)i] = (uint8_t)(crc >> (8 * i));
    }
    ns_fuzz_quiet();
    ns_fuzz_file f;
    ns_fuzz_file_open(&f, copy, size);
    free(copy);
    ns_label_set s;
    if (ns_label_file_read(f.path, &s) == NS_OK) {
        /* label_file.h: every record's top is a class, its label a class or -1. */
        if (s.classes < 1 || (unsigned)s.classes > NS_LABEL_FILE_MAX_CLASSES || strlen(s.source) >= sizeof s.source)
            abort();
        for (size_t i = 0; i < s.count; i++)
            if (s.top[i] < 0 || s.top[i] >= s.classes || s.true_label[i] < -1 || s.true_label[i] >= s.classes)
                abort();
        ns_label_set_free(&s);
    }
    ns_fuzz_file_close(&f);
    return 0;
}
