/* Pseudo-labels in memory (ns_label_set) and on disk (.nspl).
 *
 * One record per unlabeled image: where it came from (source id: a dataset
 * index, or an image folder's ordinal), its true label when the source has one
 * (-1 unknown; kept ONLY to report pseudo-label accuracy, never to train), the
 * teacher's top class and confidence, and the whole soft probability vector.
 *
 * File layout (.nspl, little-endian, version 4):
 *   "NSPL" | u32 version | u32 classes | u32 count | u32 source_len |
 *   u8 labeled_by[32] | source bytes | u32 names_len | names bytes |
 *   u32 tta_len | tta bytes
 *   count x { u32 source_id | i32 true_label | i32 top | f32 confidence | f32 probs[classes] }
 *   u32 CRC-32 (zlib) of every byte before it
 * labeled_by is the SHA-256 of the model.safetensors file that labeled the
 * images (all zero: unknown). Version 1 files (no labeled_by) are still read,
 * as of unknown origin: `train --pseudo` can learn them, selftrain does not
 * reuse them (it cannot tell which teacher made them). names (version 3) is
 * the teacher's class names as a JSON array (data/class_names.h), "[]" when
 * it had none; versions 1 and 2 read as having no names. tta (version 4) is
 * the test-time augmentation the teacher labeled with, spelled as
 * predict/tta.h parses it ("flip", "flip+crops"); versions 1 to 3 read as
 * "none" (labeling had no TTA before version 4). The writer emits version 3,
 * byte for byte what it wrote before TTA existed, when the TTA is none, and
 * version 4 otherwise: a file without TTA stays readable by older builds.
 * Written atomically (io/atomic_file.h): a reader sees the old file or the new one.
 */
#ifndef NS_SELFTRAIN_LABEL_FILE_H
#define NS_SELFTRAIN_LABEL_FILE_H

#include <stddef.h>
#include <stdint.h>

#include <noisystudent/status.h>

#include "data/class_names.h"
#include "predict/tta.h"
#include "util/digest.h"

#define NS_LABEL_FILE_MAGIC "NSPL"
#define NS_LABEL_FILE_VERSION 4u
#define NS_LABEL_FILE_MAX_TTA 64u
/* Refused on read (and write) before allocating anything. */
#define NS_LABEL_FILE_MAX_CLASSES 100000u
#define NS_LABEL_FILE_MAX_SOURCE 4096u
/* How far a record's probabilities may sum from 1 (reader and writer). */
#define NS_LABEL_FILE_SUM_TOLERANCE 1e-3
#define NS_LABEL_FILE_MAX_NAMES_BYTES (16u << 20)

typedef struct ns_label_set {
    int classes;
    size_t count;
    char source[NS_LABEL_FILE_MAX_SOURCE]; /* the SRC spec that was labeled */
    /* SHA-256 of the labeling model's file; all zero = unknown (written as
     * such; a version 1 file reads as unknown). */
    uint8_t labeled_by[NS_SHA256_BYTES];
    /* Set by ns_label_file_read: SHA-256 of the file's bytes as read, what a
     * student run records about the labels it learned. Not written. */
    uint8_t file_sha256[NS_SHA256_BYTES];
    /* The labeling model's class names (owned; empty = none known, or n == classes). */
    ns_class_names class_names;
    ns_tta tta; /* how the teacher's probabilities were averaged (none: one forward) */
    uint32_t *source_id;                   /* count entries; all arrays owned by the set */
    int32_t *true_label;                   /* count entries, -1 unknown */
    int32_t *top;                          /* count entries, argmax of the row (first on ties) */
    float *confidence;                     /* count entries, probs[top] */
    float *probs;                          /* count * classes, row i at probs + i*classes */
} ns_label_set;

/* Allocates a set of `count` records of `classes` probabilities (true labels
 * -1, the rest zero). On failure the set is left empty. Free with
 * ns_label_set_free. Errors: NS_ERR_INVALID_ARG (classes out of 1..MAX_CLASSES
 * or count above UINT32_MAX), NS_ERR_NOMEM. */
ns_status ns_label_set_alloc(ns_label_set *s, size_t count, int classes);

/* Frees the arrays and zeroes *s. NULL-safe, safe twice. */
void ns_label_set_free(ns_label_set *s);

/* Sets top[i] and confidence[i] of record i from its probability row. */
void ns_label_set_update_top(ns_label_set *s, size_t i);

/* Writes s to `path` atomically (version 3 when s->tta is none, else 4). Errors: NS_ERR_INVALID_ARG (a
 * record whose top or label is out of range, or whose probabilities are not a
 * distribution: a NaN, a value outside [0, 1], a sum further than
 * NS_LABEL_FILE_SUM_TOLERANCE from 1; class names neither empty nor one per
 * class; an unknown tta), I/O errors naming the path. Nothing is written on error. */
ns_status ns_label_file_write(const char *path, const ns_label_set *s);

/* Reads and validates `path` into *s (zeroed first; the caller frees it). A
 * missing file is NS_ERR_NOT_FOUND; a short file, wrong magic, unknown version,
 * a size that does not match the header, a CRC mismatch, a record out of range
 * or a record whose probabilities are not a distribution (as for the writer;
 * a valid CRC does not make them one), or class names that are not a JSON
 * array of `classes` valid names, or a tta that is not one of
 * predict/tta.h's, is NS_ERR_FORMAT with one line naming the
 * file (the record index and byte offset where one is at fault) and what was
 * expected. Reads versions 1 to 4. On error *s is empty. */
ns_status ns_label_file_read(const char *path, ns_label_set *s);

#endif
