#include "augment/opset.h"

#include <stdlib.h>
#include <string.h>

#include "plugin/loader.h"
#include "util/error.h"

struct ns_augment_opset {
    ns_plugin_handle *plugin;
    const ns_plugin *desc;
    const ns_augment_api *api;
    void *ctx;
    int created; /* create() succeeded: destroy() is owed */
};

/* The fields the host reads, up to and including `ops`. */
#define NS_AUGMENT_API_MIN_SIZE (offsetof(ns_augment_api, ops) + sizeof(((ns_augment_api *)0)->ops))

int ns_augment_valid_op_name(const char *name)
{
    size_t len = 0;
    for (; name[len]; len++) {
        char c = name[len];
        if (len == NS_AUGMENT_OP_NAME_MAX || !((c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '_' || c == '-'))
            return 0;
    }
    return len > 0;
}

ns_status ns_augment_check_api(const char *file, const ns_augment_api *api)
{
    if (!api)
        return ns_fail(NS_ERR_ABI, "augment plugin %s: descriptor has a NULL vtable", file);
    if (api->struct_size < NS_AUGMENT_API_MIN_SIZE)
        return ns_fail(NS_ERR_ABI, "augment plugin %s: ns_augment_api.struct_size is %u, expected at least %zu",
                       file, api->struct_size, (size_t)NS_AUGMENT_API_MIN_SIZE);
    if (api->n_ops == 0 || !api->ops)
        return ns_fail(NS_ERR_ABI, "augment plugin %s: op table is empty, expected at least one op", file);
    /* A garbage count would have us read far past the plugin's table. */
    if (api->n_ops > NS_AUGMENT_MAX_OPS)
        return ns_fail(NS_ERR_ABI, "augment plugin %s: n_ops is %zu, expected at most %d", file, api->n_ops,
                       NS_AUGMENT_MAX_OPS);
    for (size_t i = 0; i < api->n_ops; i++) {
        const ns_augment_op *op = &api->ops[i];
        if (!op->name || !op->name[0])
            return ns_fail(NS_ERR_ABI, "augment plugin %s: op %zu has no name", file, i);
        /* Names are what ops=A+B selects and what `augment list` prints: a
         * character the policy's syntax uses (',', '+', ':', '=') would make
         * the op unselectable, upper case would make ops= case-sensitive. */
        if (!ns_augment_valid_op_name(op->name))
            return ns_fail(NS_ERR_ABI,
                           "augment plugin %s: op %zu is named '%.*s', expected 1 to %d of a-z, 0-9, '_', '-'",
                           file, i, NS_AUGMENT_OP_NAME_MAX + 1, op->name, NS_AUGMENT_OP_NAME_MAX);
        if (!op->apply)
            return ns_fail(NS_ERR_ABI, "augment plugin %s: op '%s' has no apply function", file, op->name);
        for (size_t j = 0; j < i; j++)
            if (strcmp(api->ops[j].name, op->name) == 0)
                return ns_fail(NS_ERR_ABI, "augment plugin %s: op name '%s' appears twice", file, op->name);
    }
    return NS_OK;
}

ns_status ns_augment_opset_load(const char *name_or_path, ns_augment_opset **out)
{
    *out = NULL;
    ns_plugin_handle *h;
    NS_TRY(ns_plugin_load(NS_PLUGIN_AUGMENT, name_or_path, 1, &h));
    const ns_plugin *desc = ns_plugin_desc(h);
    ns_status st = ns_augment_check_api(ns_plugin_file(h), desc->vtable); /* loading ran it too */
    ns_augment_opset *s = st == NS_OK ? calloc(1, sizeof *s) : NULL;
    if (st == NS_OK && !s)
        st = ns_fail(NS_ERR_NOMEM, "augment %s: out of memory", name_or_path);
    if (st != NS_OK) {
        ns_plugin_unload(h);
        return st;
    }
    s->plugin = h;
    s->desc = desc;
    s->api = desc->vtable;
    *out = s;
    return NS_OK;
}

ns_status ns_augment_opset_create(ns_augment_opset *s, const char *options)
{
    int has_options = options && options[0];
    if (!s->api->create) {
        if (has_options)
            return ns_fail(NS_ERR_USAGE, "op set '%s' takes no options of its own, got '%s'", s->desc->name,
                           options);
        return NS_OK;
    }
    ns_clear_error();
    ns_status st = s->api->create(ns_host_api_get(), has_options ? options : "", &s->ctx);
    if (st != NS_OK) {
        if (!ns_last_error()[0])
            ns_set_error("failed with '%s' and no message", ns_status_name(st));
        ns_error_prefix("augment %s: create", s->desc->name);
        return st;
    }
    s->created = 1;
    return NS_OK;
}

ns_status ns_augment_opset_open(const char *name_or_path, const char *options, ns_augment_opset **out)
{
    ns_augment_opset *s;
    NS_TRY(ns_augment_opset_load(name_or_path, &s));
    ns_status st = ns_augment_opset_create(s, options);
    if (st != NS_OK) {
        ns_augment_opset_close(s);
        return st;
    }
    *out = s;
    return NS_OK;
}

void ns_augment_opset_close(ns_augment_opset *s)
{
    if (!s)
        return;
    if (s->created && s->api->destroy)
        s->api->destroy(s->ctx);
    ns_plugin_unload(s->plugin);
    free(s);
}

int ns_augment_opset_takes_options(const ns_augment_opset *s) { return s->api->create != NULL; }
const char *ns_augment_opset_name(const ns_augment_opset *s) { return s->desc->name; }
const char *ns_augment_opset_file(const ns_augment_opset *s) { return ns_plugin_file(s->plugin); }
const char *ns_augment_opset_version(const ns_augment_opset *s) { return s->desc->version; }
const char *ns_augment_opset_description(const ns_augment_opset *s) { return s->desc->description; }
size_t ns_augment_opset_count(const ns_augment_opset *s) { return s->api->n_ops; }
const ns_augment_op *ns_augment_opset_op(const ns_augment_opset *s, size_t i) { return &s->api->ops[i]; }

long ns_augment_opset_find(const ns_augment_opset *s, const char *name)
{
    for (size_t i = 0; i < s->api->n_ops; i++)
        if (strcmp(s->api->ops[i].name, name) == 0)
            return (long)i;
    return -1;
}

ns_status ns_augment_opset_apply(const ns_augment_opset *s, size_t i, ns_image *img, uint8_t *scratch,
                                 float magnitude, ns_rng *rng)
{
    const ns_augment_op *op = &s->api->ops[i];
    const ns_image before = *img;
    ns_clear_error(); /* so that an op failing without a message is noticed */
    ns_status st = op->apply(s->ctx, img, scratch, magnitude, rng);
    if (st != NS_OK) {
        if (!ns_last_error()[0])
            ns_set_error("failed with '%s' and no message", ns_status_name(st));
        ns_error_prefix("augment %s op '%s'", s->desc->name, op->name);
        return st;
    }
    if (img->data != before.data || img->width != before.width || img->height != before.height ||
        img->channels != before.channels) {
        *img = before;
        return ns_fail(NS_ERR_ABI, "augment %s op '%s' changed the image it was given (pointer or shape); ops "
                       "must transform the pixels in place", s->desc->name, op->name);
    }
    return NS_OK;
}
