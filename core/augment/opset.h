/* A loaded augmentation op set (a plugin of kind "augment", augment.h).
 *
 * Opening checks what the host relies on before any op runs: the vtable's
 * struct_size covers the fields we read, there is at least one op, every op
 * has a name and an apply function, and names are unique. Then it calls the
 * plugin's create() with the options the policy did not consume.
 */
#ifndef NS_AUGMENT_OPSET_H
#define NS_AUGMENT_OPSET_H

#include <stddef.h>

#include <noisystudent/augment.h>

typedef struct ns_augment_opset ns_augment_opset;

/* Limits the host enforces on an op table (docs/plugin-guide.md states them). */
#define NS_AUGMENT_MAX_OPS 256
#define NS_AUGMENT_OP_NAME_MAX 32

/* Whether `name` is a valid op name: 1 to NS_AUGMENT_OP_NAME_MAX characters
 * of a-z, 0-9, '_' and '-' (so that ops=A+B can select every op). */
int ns_augment_valid_op_name(const char *name);

/* The table checks loading runs before any op: struct_size covers the fields
 * read, 1..NS_AUGMENT_MAX_OPS ops, each with a valid unique name and an
 * apply. NS_ERR_ABI naming `file` and the fault otherwise. */
ns_status ns_augment_check_api(const char *file, const ns_augment_api *api);

/* Loads `name_or_path` (a short name resolved through the plugin search path,
 * or a path to a .so) and creates its context from `options` ("k=v,..." or
 * NULL). Errors: the loader's (not found, ABI, kind), NS_ERR_ABI for a
 * malformed op table, NS_ERR_USAGE when options are given to a set without
 * create(), or whatever create() returned, with the set's name prefixed.
 * On success *out is owned by the caller (ns_augment_opset_close). */
ns_status ns_augment_opset_open(const char *name_or_path, const char *options, ns_augment_opset **out);
/* The two halves of open, for a caller that must look at the set before
 * handing it options: load + check the table, then create (exactly once). */
ns_status ns_augment_opset_load(const char *name_or_path, ns_augment_opset **out);
ns_status ns_augment_opset_create(ns_augment_opset *s, const char *options);
/* Whether the set has a create() that takes options of its own. */
int ns_augment_opset_takes_options(const ns_augment_opset *s);
void ns_augment_opset_close(ns_augment_opset *s); /* NULL-safe */

const char *ns_augment_opset_name(const ns_augment_opset *s);    /* descriptor name */
const char *ns_augment_opset_file(const ns_augment_opset *s);    /* resolved path */
const char *ns_augment_opset_version(const ns_augment_opset *s);
const char *ns_augment_opset_description(const ns_augment_opset *s);
size_t ns_augment_opset_count(const ns_augment_opset *s);
/* Op i (i < count): static data of the plugin, valid until close. */
const ns_augment_op *ns_augment_opset_op(const ns_augment_opset *s, size_t i);
/* Index of the op called `name`, or -1. */
long ns_augment_opset_find(const ns_augment_opset *s, const char *name);
/* Runs op i on img; the plugin's context is passed for you. Failures come back
 * as the op's status with "<set> op '<name>': " prefixed to its message. */
ns_status ns_augment_opset_apply(const ns_augment_opset *s, size_t i, ns_image *img, uint8_t *scratch,
                                 float magnitude, ns_rng *rng);

#endif
