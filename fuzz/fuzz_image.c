/* PNG/JPEG files through the decode path image folders use
 * (ns_image_load: libpng / libjpeg-turbo, conversion, resize).
 * Input: 3 bytes choosing channels (bit 0 of the first: 3, else 1) and the
 * output height and width (1..48 each), then the file. The output buffer is
 * exactly h*w*c bytes, so ASan catches a write past it. */
#include <stdlib.h>

#include "fuzz_util.h"
#include "data/image_load.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    if (size < 3)
        return 0;
    const int c = (data[0] & 1) ? 3 : 1, h = 1 + data[1] % 48, w = 1 + data[2] % 48;
    data += 3, size -= 3;
    ns_fuzz_quiet();
    ns_fuzz_file f;
    ns_fuzz_file_open(&f, data, size);
    uint8_t *out = malloc((size_t)h * w * c);
    if (!out)
        abort();
    (void)ns_image_load(f.path, c, h, w, out);
    free(out);
    ns_fuzz_file_close(&f);
    return 0;
}
