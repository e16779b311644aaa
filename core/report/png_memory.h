/* PNG encoding into memory with libpng: TensorBoard image summaries embed
 * the bytes, report.html embeds them as data URIs. */
#ifndef NS_REPORT_PNG_MEMORY_H
#define NS_REPORT_PNG_MEMORY_H

#include <stddef.h>
#include <stdint.h>

#include "noisystudent/status.h"

/* Encodes width x height 8-bit pixels, HWC with `channels` 1 (gray), 2 (gray
 * + alpha), 3 (RGB) or 4 (RGBA). On NS_OK *png (malloc'd, the caller frees)
 * holds *len bytes; otherwise *png is NULL and the error names what was
 * wrong (NS_ERR_INVALID_ARG for a size or channel count, NS_ERR_NOMEM, or
 * libpng's message as NS_ERR_IO). */
ns_status ns_png_encode(const uint8_t *pixels, int width, int height, int channels, uint8_t **png, size_t *len);

#endif
