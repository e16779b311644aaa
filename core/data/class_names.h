/* Class names: the human names of a classifier's classes, index k -> name.
 *
 * They travel with the data and the model: a dataset source sets them
 * (Fashion-MNIST and CIFAR-10 have their published names, a class-folder tree
 * its sorted subfolder names), checkpoints store them in __metadata__ under
 * "class_names" as a JSON array of strings, and every command that prints a
 * class (eval, label, train --pseudo, predict, reports) prints the name.
 * Where no names are known the name of class k is its decimal number.
 *
 * A name is 1..NS_CLASS_NAME_MAX bytes of UTF-8 with no control characters
 * (so it can go in a CSV cell, a JSON string, a terminal line and an HTML
 * text node once escaped). Ownership: an ns_class_names owns its strings;
 * ns_class_names_free releases them. A zeroed struct is valid and empty. */
#ifndef NS_DATA_CLASS_NAMES_H
#define NS_DATA_CLASS_NAMES_H

#include <noisystudent/status.h>

#define NS_CLASS_NAME_MAX 128
#define NS_CLASS_NAMES_MAX 100000

typedef struct ns_class_names {
    int n;        /* number of names; 0 = none known */
    char **names; /* n strings, owned */
} ns_class_names;

/* Copies n names into *out (freed first). Each name is validated; on error
 * *out is left empty and the message names the index and what was wrong. */
ns_status ns_class_names_set(ns_class_names *out, int n, const char *const *names);

/* Deep copy (dst freed first). src may be empty. */
ns_status ns_class_names_copy(ns_class_names *dst, const ns_class_names *src);

/* Releases the names and zeroes *cn. NULL-safe, safe twice. */
void ns_class_names_free(ns_class_names *cn);

/* The name of class k: cn->names[k] when known, else the decimal k written
 * into buf (so buf must outlive the use of the result). cn may be NULL. */
const char *ns_class_name(const ns_class_names *cn, int k, char buf[16]);

/* 1 when both hold the same names in the same order (two empty sets are equal). */
int ns_class_names_equal(const ns_class_names *a, const ns_class_names *b);

/* JSON array text of the names; *out is malloc'd, caller frees. Empty -> "[]". */
ns_status ns_class_names_to_json(const ns_class_names *cn, char **out);

/* Parses a JSON array of strings (what ns_class_names_to_json writes) into
 * *out. `what` names the origin for errors (e.g. the checkpoint path). */
ns_status ns_class_names_from_json(const char *json, const char *what, ns_class_names *out);

/* The published names of a built-in dataset: "fashion-mnist" or "cifar10".
 * NS_ERR_NOT_FOUND for any other name. */
ns_status ns_class_names_builtin(const char *dataset, ns_class_names *out);

#endif
