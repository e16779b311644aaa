/* .nsds packed shards: a dataset's images stored once as uint8 HWC pixels,
 * page-aligned so that readers memory-map them and use them in place (the
 * page cache, not malloc, holds a pool bigger than RAM). The byte layout is
 * specified in docs/nsds-format.md; this module is its only reader and writer.
 *
 * Integrity: CRC32 (zlib's, the IEEE polynomial) over the header, the labels,
 * the class names and the table of pixel-chunk CRCs is checked at every open
 * (a few bytes per image); the pixels themselves (one CRC per 1 MiB chunk)
 * are checked by ns_nsds_check (`noisystudent pack --check`), so opening a
 * 6 GB pool costs milliseconds, not a full read. Every refusal is one line
 * naming the file and the byte offset of what failed.
 *
 * Dataset specs (data/source.h routes them here, ns_nsds_spec_is):
 *   A.nsds             one shard; when A.nsds does not exist but A-00000.nsds
 *                      does, the series A-00000.nsds, A-00001.nsds, ... up to
 *                      the first missing number (what `pack --shard-size` writes)
 *   A.nsds,B.nsds,...  these shards in this order
 *   DIR                every *.nsds in DIR in byte order of the names; when DIR
 *                      has train/ (and test/) subfolders of shards, the train
 *                      split opens DIR/train and the test split DIR/test
 * Without train/ and test/ both splits are the same images (as idx:).
 * Shards of one dataset must agree on c, h, w and class names.
 */
#ifndef NS_DATA_NSDS_H
#define NS_DATA_NSDS_H

#include <stddef.h>
#include <stdint.h>

#include "data/dataset.h"

#define NS_NSDS_VERSION 1u
#define NS_NSDS_HEADER_BYTES 4096u /* the pixels start here: page-aligned */
#define NS_NSDS_CHUNK_BYTES (1u << 20)
#define NS_NSDS_MAGIC "\x89NSDS\r\n\x1a"
#define NS_NSDS_MAX_SIDE 16384u
#define NS_NSDS_MAX_SHARDS 100000u

/* 1 when `spec` names .nsds data (a name ending in .nsds, a comma list of
 * them, or a directory holding *.nsds directly or in train/). Cheap: stats
 * and one directory listing at most. */
int ns_nsds_spec_is(const char *spec);

/* Opens the train (train != 0) or test split of an .nsds spec into *out
 * (zeroed first): pixels memory-mapped read-only (PROT_READ: writing into an
 * image crashes, by design), labels and class names copied and checked.
 * Free with ns_dataset_free (unmaps). Errors: NS_ERR_NOT_FOUND (no such
 * shard, no test/ split), NS_ERR_IO, NS_ERR_FORMAT (bad magic, version,
 * checksum, truncation, shards that disagree; the file and byte offset
 * named). On error *out is empty. */
ns_status ns_nsds_open(const char *spec, int train, ns_dataset *out);

/* Full verification of one shard file, pixels included: every check of
 * ns_nsds_open plus each pixel chunk's CRC. *count (may be NULL) gets the
 * number of images. */
ns_status ns_nsds_check(const char *path, size_t *count);

/* Streaming writer. pull() fills up to `max` images (HWC pixels and labels,
 * -1 = unknown) and sets *got; *got == 0 means the source is exhausted.
 * ns_nsds_write writes `path` atomically (io/atomic_file.h: a failure or a
 * kill leaves no partial file) with at most max_images images (0 = no
 * limit), pulling in batches so memory stays bounded by one batch plus the
 * labels (4 bytes per image). `names` may be NULL or empty. *written (may be
 * NULL) gets the number of images stored. */
typedef ns_status (*ns_nsds_pull_fn)(void *user, size_t max, uint8_t *pixels, int32_t *labels, size_t *got);
ns_status ns_nsds_write(const char *path, int c, int h, int w, const ns_class_names *names, size_t max_images,
                        ns_nsds_pull_fn pull, void *user, size_t *written);

#endif
