/* Safetensors checkpoints, byte-exact to the format of
 * https://github.com/huggingface/safetensors#format :
 *
 *   u64 little-endian N | N bytes UTF-8 JSON header | data
 *
 * The header is a JSON object mapping each tensor name to
 * {"dtype": "F32", "shape": [..], "data_offsets": [begin, end]} with offsets
 * relative to the first data byte, plus an optional "__metadata__" object of
 * string -> string. The header is padded with spaces to a multiple of 8 bytes
 * (as the reference writer does) and the tensors cover the data buffer exactly,
 * without gaps or overlaps. Data is raw little-endian, row-major.
 *
 * Writer: header keys are "__metadata__" first (when there is metadata) then
 * the tensors in the order given, compact JSON; the data is packed in the same
 * order, so output is deterministic. The file is written atomically. Readers
 * that map the file in place (the reference's zero-copy loaders) want each
 * tensor aligned to its element size: give the tensors in descending dtype
 * size (F64/I64, then F32, ..., then U8) when that matters; our reader copies
 * a misaligned tensor instead.
 *
 * Reader: the whole file is read and every rule above is checked before
 * ns_safetensors_open returns; a violation is NS_ERR_FORMAT with one line
 * naming the file, the tensor or key, and what was expected.
 */
#ifndef NS_IO_SAFETENSORS_H
#define NS_IO_SAFETENSORS_H

#include <stddef.h>
#include <stdint.h>

#include <noisystudent/status.h>

#define NS_ST_MAX_DIMS 8
/* The reference implementation refuses headers above this size; so do we. */
#define NS_ST_MAX_HEADER_BYTES 100000000ull

/* The byte-sized dtypes of the spec. The numeric values are ours, not the
 * file's: files store the names ("F32"). The spec's sub-byte dtypes (F4,
 * F6_E2M3, F6_E3M2) are refused on read with NS_ERR_UNSUPPORTED. */
typedef enum ns_st_dtype {
    NS_ST_BOOL,
    NS_ST_U8,
    NS_ST_I8,
    NS_ST_F8_E5M2,
    NS_ST_F8_E4M3,
    NS_ST_I16,
    NS_ST_U16,
    NS_ST_F16,
    NS_ST_BF16,
    NS_ST_I32,
    NS_ST_U32,
    NS_ST_F32,
    NS_ST_F64,
    NS_ST_I64,
    NS_ST_U64,
    NS_ST_F8_E8M0,
    NS_ST_C64, /* complex: two F32 */
    NS_ST_DTYPE_COUNT
} ns_st_dtype;

/* The spec's name ("F32"), or NULL for a value out of range. */
const char *ns_st_dtype_name(ns_st_dtype dt);
/* Bytes per element, or 0 for a value out of range. */
size_t ns_st_dtype_size(ns_st_dtype dt);
/* Looks up a spec name; NS_ERR_NOT_FOUND (error set) when unknown. */
ns_status ns_st_dtype_from_name(const char *name, ns_st_dtype *out);

/* One tensor to write. data holds product(shape) * dtype size bytes (may be
 * NULL when that is 0); ndim is 0..NS_ST_MAX_DIMS (0 is a scalar). */
typedef struct ns_st_tensor {
    const char *name;
    ns_st_dtype dtype;
    int ndim;
    int64_t shape[NS_ST_MAX_DIMS];
    const void *data;
} ns_st_tensor;

typedef struct ns_st_meta {
    const char *key;
    const char *value;
} ns_st_meta;

/* Writes n tensors and n_meta metadata pairs to `path` atomically. The caller
 * keeps ownership of everything passed. NS_ERR_INVALID_ARG (naming the tensor
 * or key) for: a NULL/empty or duplicate name, the name "__metadata__", a name
 * or metadata string that is not valid UTF-8, an unknown dtype, ndim out of
 * range, a negative dimension, a size that overflows, NULL data with a
 * non-zero size, a duplicate metadata key. NS_ERR_IO from the atomic write. */
ns_status ns_safetensors_write(const char *path, const ns_st_tensor *t, size_t n,
                               const ns_st_meta *meta, size_t n_meta);

/* A read, validated file. Opaque; owns its bytes. */
typedef struct ns_safetensors ns_safetensors;

/* A tensor inside an open file. Everything it points to is owned by the
 * ns_safetensors and valid until ns_safetensors_close. data is aligned to the
 * dtype size (a tensor that is unaligned in the file is copied), and nbytes is
 * product(shape) * dtype size. */
typedef struct ns_st_view {
    const char *name;
    ns_st_dtype dtype;
    int ndim;
    int64_t shape[NS_ST_MAX_DIMS];
    const void *data;
    size_t nbytes;
} ns_st_view;

/* Reads and validates `path`. On success *out is owned by the caller
 * (ns_safetensors_close). Errors: NS_ERR_NOT_FOUND / NS_ERR_IO from reading,
 * NS_ERR_FORMAT for any violation of the format (the checks are listed in
 * safetensors.c), NS_ERR_UNSUPPORTED for a tensor with more than
 * NS_ST_MAX_DIMS dimensions, NS_ERR_NOMEM. *out is NULL on failure. */
ns_status ns_safetensors_open(const char *path, ns_safetensors **out);
void ns_safetensors_close(ns_safetensors *st); /* NULL is fine */

/* Number of tensors; ns_safetensors_tensor(st, i) for i < count, in the order
 * of their data in the file. NULL when i is out of range. */
size_t ns_safetensors_count(const ns_safetensors *st);
const ns_st_view *ns_safetensors_tensor(const ns_safetensors *st, size_t i);
/* The tensor called `name`, or NULL (no error set) when there is none. */
const ns_st_view *ns_safetensors_find(const ns_safetensors *st, const char *name);

/* The "__metadata__" value for key, or NULL when absent. Owned by st. */
const char *ns_safetensors_meta(const ns_safetensors *st, const char *key);
/* Metadata pairs in header order: count, and the i-th (key, value) pair;
 * returns 0 when i is out of range, 1 otherwise. Strings owned by st. */
size_t ns_safetensors_meta_count(const ns_safetensors *st);
int ns_safetensors_meta_at(const ns_safetensors *st, size_t i, const char **key,
                           const char **value);

/* The path the file was opened from (owned by st), for messages. */
const char *ns_safetensors_path(const ns_safetensors *st);

#endif
