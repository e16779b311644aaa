/* `noisystudent pack`: any image source streamed into .nsds shards (nsds.h).
 *
 * Sources, read in bounded batches (never the whole source in memory unless
 * the source itself is an in-memory dataset such as Fashion-MNIST):
 *   idx:IMAGES[,LABELS]  IDX files read as a stream (raw or gzip): uint8 images
 *                        of 3 dims (n,h,w: gray) or 4 dims (n,h,w,c: HWC)
 *   folder:DIR           a flat folder of PNG/JPEG files (file_list.h's
 *                        order), every label -1
 *   ROOT                 a class-folder tree: the split `train` picks, as
 *                        training opens it (class_folder_source.h: train/ +
 *                        test/ or val/, else a seeded stratified holdout of
 *                        test_fraction), labels and class names from the folders
 * Image files are decoded in parallel (image_load.h, `threads`) batch by
 * batch; a file that does not decode is warned (one line) and counted.
 *   anything else        a dataset spec (data/source.h), the split `train` picks
 * Images are converted to `c` channels (gray <-> RGB) and resized to h x w
 * (image_load.h's antialiased bilinear) when the target shape differs;
 * c = h = w = 0 keeps the source's shape (3x32x32 for image files).
 *
 * Output: `out` (a name ending in .nsds). With shard_images or shard_bytes
 * set the images are split into the series OUT-00000.nsds, OUT-00001.nsds,
 * ... (a shard holds a multiple of the images that fill whole 4 KiB pages, so
 * the shards map back to back), and numbers left from an earlier, longer
 * series are removed. Each shard is written atomically; on failure every
 * shard this call wrote is removed again, so no half dataset is left.
 */
#ifndef NS_DATA_PACK_H
#define NS_DATA_PACK_H

#include <signal.h>
#include <stddef.h>
#include <stdint.h>

#include <noisystudent/status.h>

typedef struct ns_pack_options {
    const char *src;
    const char *out;
    int train;            /* which split of a dataset spec (1 train, 0 test) */
    int c, h, w;          /* target shape; 0 = the source's */
    size_t shard_images;  /* 0 = no limit */
    uint64_t shard_bytes; /* 0 = no limit */
    int threads;          /* decode/convert threads (<= 0: 1) */
    int progress;         /* progress bar on stderr (a terminal only) */
    double test_fraction; /* class-folder tree without test/: held-out share (0: the default 0.2) */
    uint64_t seed;        /* ... and its seed (train's --split-seed) */
    /* Polled between batches (may be NULL): non-zero stops the pack as a
     * failure (NS_ERR_IO, "interrupted"),
     * which removes the temp file and the shards already written. The CLI
     * points it at a flag its SIGINT/SIGTERM handler sets. */
    const volatile sig_atomic_t *cancel;
} ns_pack_options;

typedef struct ns_pack_result {
    size_t images;   /* images stored */
    size_t skipped;  /* unreadable files, warned one line each */
    size_t shards;
    double seconds;
} ns_pack_result;

/* Errors: the source's (ns_dataset_open, IDX format and truncation with the
 * byte offset), NS_ERR_USAGE for a bad out name or shape, NS_ERR_FORMAT when
 * no image could be read, the writer's (NS_ERR_IO). */
ns_status ns_pack(const ns_pack_options *opt, ns_pack_result *res);

#endif
