#include "data/class_names.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <jansson.h>

#include "util/error.h"

/* Zalando's published Fashion-MNIST labels and Krizhevsky's CIFAR-10 labels. */
static const char *const fashion_mnist_names[10] = {
    "T-shirt/top", "Trouser", "Pullover", "Dress", "Coat",
    "Sandal", "Shirt", "Sneaker", "Bag", "Ankle boot",
};
static const char *const cifar10_names[10] = {
    "airplane", "automobile", "bird", "cat", "deer", "dog", "frog", "horse", "ship", "truck",
};

static ns_status check_name(const char *name, int k)
{
    if (!name)
        return ns_fail(NS_ERR_INVALID_ARG, "class name %d: missing", k);
    size_t len = strlen(name);
    if (len == 0 || len > NS_CLASS_NAME_MAX)
        return ns_fail(NS_ERR_INVALID_ARG, "class name %d: %zu bytes, expected 1..%d", k, len, NS_CLASS_NAME_MAX);
    for (size_t i = 0; i < len; i++) {
        unsigned char ch = (unsigned char)name[i];
        if (ch < 0x20 || ch == 0x7f)
            return ns_fail(NS_ERR_INVALID_ARG, "class name %d ('%.32s'): control character 0x%02x at byte %zu",
                           k, name, ch, i);
    }
    return NS_OK;
}

void ns_class_names_free(ns_class_names *cn)
{
    if (!cn)
        return;
    for (int k = 0; k < cn->n; k++)
        free(cn->names ? cn->names[k] : NULL);
    free(cn->names);
    cn->names = NULL;
    cn->n = 0;
}

ns_status ns_class_names_set(ns_class_names *out, int n, const char *const *names)
{
    ns_class_names_free(out);
    if (n < 0 || n > NS_CLASS_NAMES_MAX)
        return ns_fail(NS_ERR_INVALID_ARG, "class names: %d names, expected 0..%d", n, NS_CLASS_NAMES_MAX);
    if (n == 0)
        return NS_OK;
    for (int k = 0; k < n; k++)
        NS_TRY(check_name(names[k], k));
    char **copy = calloc((size_t)n, sizeof *copy);
    if (!copy)
        return ns_fail(NS_ERR_NOMEM, "class names: out of memory for %d names", n);
    for (int k = 0; k < n; k++) {
        copy[k] = strdup(names[k]);
        if (!copy[k]) {
            for (int j = 0; j < k; j++)
                free(copy[j]);
            free(copy);
            return ns_fail(NS_ERR_NOMEM, "class names: out of memory");
        }
    }
    out->n = n;
    out->names = copy;
    return NS_OK;
}

ns_status ns_class_names_copy(ns_class_names *dst, const ns_class_names *src)
{
    if (dst == src)
        return NS_OK;
    if (!src || src->n == 0) {
        ns_class_names_free(dst);
        return NS_OK;
    }
    return ns_class_names_set(dst, src->n, (const char *const *)src->names);
}

const char *ns_class_name(const ns_class_names *cn, int k, char buf[16])
{
    if (cn && k >= 0 && k < cn->n && cn->names && cn->names[k])
        return cn->names[k];
    snprintf(buf, 16, "%d", k);
    return buf;
}

int ns_class_names_equal(const ns_class_names *a, const ns_class_names *b)
{
    int na = a ? a->n : 0, nb = b ? b->n : 0;
    if (na != nb)
        return 0;
    for (int k = 0; k < na; k++)
        if (strcmp(a->names[k], b->names[k]) != 0)
            return 0;
    return 1;
}

ns_status ns_class_names_to_json(const ns_class_names *cn, char **out)
{
    *out = NULL;
    json_t *arr = json_array();
    if (!arr)
        return ns_fail(NS_ERR_NOMEM, "class names: out of memory");
    for (int k = 0; cn && k < cn->n; k++) {
        if (json_array_append_new(arr, json_string(cn->names[k])) != 0) {
            json_decref(arr);
            return ns_fail(NS_ERR_INVALID_ARG, "class name %d: not valid UTF-8", k);
        }
    }
    /* Compact and ASCII-safe: the text goes into safetensors metadata and label-file headers. */
    *out = json_dumps(arr, JSON_COMPACT | JSON_ENSURE_ASCII);
    json_decref(arr);
    if (!*out)
        return ns_fail(NS_ERR_NOMEM, "class names: out of memory");
    return NS_OK;
}

ns_status ns_class_names_from_json(const char *json, const char *what, ns_class_names *out)
{
    ns_class_names_free(out);
    json_error_t err;
    json_t *arr = json_loads(json, JSON_REJECT_DUPLICATES, &err);
    if (!arr || !json_is_array(arr)) {
        json_decref(arr);
        return ns_fail(NS_ERR_FORMAT, "%s: class_names: expected a JSON array of strings%s%s", what,
                       arr ? "" : ": ", arr ? "" : err.text);
    }
    size_t n = json_array_size(arr);
    if (n > NS_CLASS_NAMES_MAX) {
        json_decref(arr);
        return ns_fail(NS_ERR_FORMAT, "%s: class_names: %zu names, at most %d", what, n, NS_CLASS_NAMES_MAX);
    }
    const char **names = calloc(n ? n : 1, sizeof *names);
    if (!names) {
        json_decref(arr);
        return ns_fail(NS_ERR_NOMEM, "%s: class_names: out of memory", what);
    }
    ns_status st = NS_OK;
    for (size_t k = 0; k < n && st == NS_OK; k++) {
        json_t *s = json_array_get(arr, k);
        if (!json_is_string(s) || strlen(json_string_value(s)) != json_string_length(s))
            st = ns_fail(NS_ERR_FORMAT, "%s: class_names[%zu]: expected a string without NUL", what, k);
        else
            names[k] = json_string_value(s);
    }
    if (st == NS_OK) {
        st = ns_class_names_set(out, (int)n, names);
        if (st != NS_OK)
            ns_error_prefix("%s", what);
    }
    free(names);
    json_decref(arr);
    return st;
}

ns_status ns_class_names_builtin(const char *dataset, ns_class_names *out)
{
    if (strcmp(dataset, "fashion-mnist") == 0)
        return ns_class_names_set(out, 10, fashion_mnist_names);
    if (strcmp(dataset, "cifar10") == 0)
        return ns_class_names_set(out, 10, cifar10_names);
    ns_class_names_free(out);
    return ns_fail(NS_ERR_NOT_FOUND, "class names: no built-in names for dataset '%s'", dataset);
}
