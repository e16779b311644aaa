/* PNG encoding into memory, for images embedded in a report as data URIs. */
#ifndef NS_REPORT_PNG_MEM_H
#define NS_REPORT_PNG_MEM_H

#include <stddef.h>
#include <stdint.h>

#include <noisystudent/status.h>

/* Encodes an 8-bit image of w x h pixels, HWC with c = 1 (gray) or 3 (RGB)
 * channels, as PNG. *out is malloc'd (the caller frees it), *n its size.
 * NS_ERR_INVALID_ARG for a bad shape, NS_ERR_NOMEM, NS_ERR_INTERNAL for a
 * libpng error (named). */
ns_status ns_png_encode(const uint8_t *px, int w, int h, int c, uint8_t **out, size_t *n);

#endif
