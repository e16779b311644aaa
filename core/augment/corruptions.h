/* A corruption benchmark (eval --corruptions): which corruptions of an op set
 * at which severities, the corrupted copies of a test set, and the mean
 * corruption error.
 *
 * SPEC is "<op set>:all", "<op set>:op,op,..." or just "<op set>" (= all); the
 * op set is a name or a path to a .so as in --augment (the last ':' splits,
 * so a path may hold ':'). Every op is applied with magnitude = severity
 * (the `corrupt` set's convention, plugins/augment/corrupt/README.md).
 *
 * Determinism: image i (its index in the dataset) corrupted by op `name` at
 * severity s gets ns_rng_make(NS_CORRUPTION_SEED, ns_rng_stream_id(
 * NS_RNG_PURPOSE_CORRUPT, ns_corruption_key(name, s), i)), so a corrupted test
 * set is the same on every run, for any thread count and any backend, and
 * does not change when other ops are added to the spec or the set.
 *
 * Errors: NS_ERR_USAGE naming the flag and what was expected; the op set's
 * loading errors otherwise. */
#ifndef NS_AUGMENT_CORRUPTIONS_H
#define NS_AUGMENT_CORRUPTIONS_H

#include <stddef.h>
#include <stdint.h>

#include <jansson.h>

#include "augment/opset.h"
#include "data/dataset.h"

/* After the loader's purposes (data/shuffle.h: 0x101..0x104). */
#define NS_RNG_PURPOSE_CORRUPT 0x105u
#define NS_CORRUPTION_SEED 0x436f7272757074ull /* "Corrupt" */
#define NS_CORRUPTION_MAX_SEVERITY 5

typedef struct ns_corruptions {
    ns_augment_opset *set; /* owned */
    size_t n_ops;
    size_t *ops;           /* n_ops indices into set, spec order */
    int n_sev;
    int sev[NS_CORRUPTION_MAX_SEVERITY]; /* ascending, 1..5, distinct */
} ns_corruptions;

/* Parses --corruptions SPEC and --severities LIST ("1-5", "3", "1,3,5", NULL =
 * all five) and opens the op set. On failure *out is empty. */
ns_status ns_corruptions_open(const char *spec, const char *severities, ns_corruptions *out);
void ns_corruptions_close(ns_corruptions *c); /* NULL-safe, zeroes */

/* The middle field of the stream id: 18 bits of an FNV-1a hash of the op
 * name, then the severity in 3 bits. */
uint64_t ns_corruption_key(const char *op_name, int severity);

/* Writes the first dst->n images of src, corrupted by op k (index into c->ops)
 * at severity sev, into dst (ns_dataset_alloc'd with src's shape; its labels
 * are copied too). Runs on `threads` threads (<= 0: one per core); the
 * result does not depend on it. An op's failure comes back naming the image. */
ns_status ns_corruptions_apply(const ns_corruptions *c, size_t k, int sev, const ns_dataset *src, ns_dataset *dst,
                               int threads);

/* The corruption error of one corruption: sum over severities of the model's
 * error divided by the same sum for the reference (n values each, errors as
 * fractions). NaN when the reference never errs. */
double ns_corruption_ce(const double *err, const double *ref_err, int n);

/* mean over n_ops of ns_corruption_ce(err + k*n_sev, ref + k*n_sev, n_sev)
 * (row k of an n_ops x n_sev table); ce[k] receives each (may be NULL). */
double ns_corruption_mce(const double *err, const double *ref_err, size_t n_ops, int n_sev, double *ce);

/* Sets (or replaces) key `key` of the JSON object in `path` to `value`,
 * keeping every other key, atomically; a missing file is created holding
 * {"format": "noisystudent-eval", "version": 1, key: value}. NS_ERR_FORMAT
 * naming the file when it exists but is not a JSON object. */
ns_status ns_json_file_set_key(const char *path, const char *key, json_t *value);

#endif
