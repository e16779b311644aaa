/* IDX files (LeCun's MNIST format, also Fashion-MNIST), raw or gzip-compressed.
 *
 * Images: magic 0x00000803 (uint8, 3 dims: count, rows, cols) or 0x00000804
 * (uint8, 4 dims: count, rows, cols, channels 1 or 3, HWC), labels: magic
 * 0x00000801 (uint8, 1 dim: count); dimensions are big-endian uint32. A file
 * whose first two bytes are 1f 8b is read through zlib, any other as is.
 */
#ifndef NS_DATA_IDX_H
#define NS_DATA_IDX_H

#include "data/dataset.h"

#define NS_IDX_MAGIC_IMAGES 0x00000803u
#define NS_IDX_MAGIC_LABELS 0x00000801u
#define NS_IDX_MAGIC_IMAGES4 0x00000804u /* uint8, 4 dims: count, rows, cols, channels (1 or 3), HWC */
/* Refused before allocating: a side above this, or more images than this. */
#define NS_IDX_MAX_SIDE 16384u
#define NS_IDX_MAX_COUNT 100000000u
#define NS_IDX_MAX_BYTES (16ull << 30)

/* Loads images (c = 1, or the channels of a 4-dim file) and, when labels_path is not NULL, their labels into
 * *out (zeroed first; the caller frees it with ns_dataset_free). Without a
 * labels file every label is -1 and num_classes is 0; with one, num_classes
 * is max label + 1. out->source records the paths.
 * Errors (one line naming the file): NS_ERR_IO (cannot open), NS_ERR_FORMAT
 * (wrong magic with both values, truncated header or data with expected and
 * actual byte counts, gzip corruption with zlib's message, image/label count
 * mismatch, absurd dimensions), NS_ERR_NOMEM. On error *out is empty. */
ns_status ns_idx_load(const char *images_path, const char *labels_path, ns_dataset *out);

#endif
