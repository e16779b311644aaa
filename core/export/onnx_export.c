#include "export/onnx_export.h"

#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "util/error.h"

#ifndef NS_HAVE_ONNX

int ns_onnx_export_available(void) { return 0; }

ns_status ns_onnx_export(ns_model *m, const float *mean, const float *std, const ns_onnx_options *opt,
                         const char *path)
{
    (void)m, (void)mean, (void)std, (void)opt;
    return ns_fail(NS_ERR_UNSUPPORTED, "%s: this build has no ONNX writer (protoc-c, libprotobuf-c or "
                   "/usr/include/onnx/onnx.proto were not found when it was configured)", path);
}

#else

#include "data/class_names.h"
#include "io/atomic_file.h"
#include "onnx.pb-c.h"

#define BN_EPS 1e-5 /* the batchnorm epsilon of every model (nn/batchnorm.h) */

/* Everything the message tree points to is allocated here and freed at once:
 * protobuf-c only reads the tree when packing. */
typedef struct arena {
    void **blocks;
    size_t n, cap;
    int failed;
} arena;

static void *arena_alloc(arena *a, size_t bytes)
{
    if (a->failed)
        return NULL;
    if (a->n == a->cap) {
        size_t cap = a->cap ? 2 * a->cap : 256;
        void **grown = realloc(a->blocks, cap * sizeof *grown);
        if (!grown) {
            a->failed = 1;
            return NULL;
        }
        a->blocks = grown;
        a->cap = cap;
    }
    void *p = calloc(1, bytes ? bytes : 1);
    if (!p) {
        a->failed = 1;
        return NULL;
    }
    return a->blocks[a->n++] = p;
}

static char *arena_printf(arena *a, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
static char *arena_printf(arena *a, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    int len = vsnprintf(NULL, 0, fmt, ap);
    va_end(ap);
    char *s = len >= 0 ? arena_alloc(a, (size_t)len + 1) : NULL;
    if (s) {
        va_start(ap, fmt);
        vsnprintf(s, (size_t)len + 1, fmt, ap);
        va_end(ap);
    }
    return s;
}

static void arena_free(arena *a)
{
    for (size_t i = 0; i < a->n; i++)
        free(a->blocks[i]);
    free(a->blocks);
    memset(a, 0, sizeof *a);
}

/* Growable pointer arrays of the graph (nodes, initializers, metadata). */
typedef struct ptr_list {
    void **item;
    size_t n, cap;
} ptr_list;

typedef struct builder {
    arena a;
    ptr_list nodes, inits, props;
    int next_value; /* for fresh intermediate names */
    ns_model *m;
    ns_backend *be;
    ns_status st;   /* first error; later steps do nothing */
} builder;

static void list_push(builder *b, ptr_list *l, void *p)
{
    if (!p) {
        b->a.failed = 1;
        return;
    }
    if (l->n == l->cap) {
        size_t cap = l->cap ? 2 * l->cap : 64;
        void **grown = arena_alloc(&b->a, cap * sizeof *grown);
        if (!grown)
            return;
        if (l->n)
            memcpy(grown, l->item, l->n * sizeof *grown);
        l->item = grown; /* the old array stays in the arena until the end */
        l->cap = cap;
    }
    l->item[l->n++] = p;
}

static int ok(const builder *b)
{
    return b->st == NS_OK && !b->a.failed;
}

static char *fresh(builder *b, const char *what)
{
    return arena_printf(&b->a, "%s_%d", what, b->next_value++);
}

/* A float initializer of the given dims, copied from data (n floats). */
static void add_initializer(builder *b, const char *name, const int64_t *dims, size_t ndims, const float *data,
                            size_t n)
{
    Onnx__TensorProto *t = arena_alloc(&b->a, sizeof *t);
    int64_t *d = arena_alloc(&b->a, ndims * sizeof *d);
    float *v = arena_alloc(&b->a, n * sizeof *v);
    char *nm = arena_printf(&b->a, "%s", name);
    if (!t || !d || !v || !nm)
        return;
    onnx__tensor_proto__init(t);
    memcpy(d, dims, ndims * sizeof *d);
    memcpy(v, data, n * sizeof *v);
    t->n_dims = ndims;
    t->dims = d;
    t->has_data_type = 1;
    t->data_type = ONNX__TENSOR_PROTO__DATA_TYPE__FLOAT;
    t->n_float_data = n;
    t->float_data = v;
    t->name = nm;
    list_push(b, &b->inits, t);
}

static Onnx__AttributeProto *attr_int(builder *b, const char *name, int64_t value)
{
    Onnx__AttributeProto *at = arena_alloc(&b->a, sizeof *at);
    if (!at)
        return NULL;
    onnx__attribute_proto__init(at);
    at->name = (char *)name;
    at->has_type = 1;
    at->type = ONNX__ATTRIBUTE_PROTO__ATTRIBUTE_TYPE__INT;
    at->has_i = 1;
    at->i = value;
    return at;
}

static Onnx__AttributeProto *attr_ints(builder *b, const char *name, const int64_t *values, size_t n)
{
    Onnx__AttributeProto *at = arena_alloc(&b->a, sizeof *at);
    int64_t *v = arena_alloc(&b->a, n * sizeof *v);
    if (!at || !v)
        return NULL;
    onnx__attribute_proto__init(at);
    memcpy(v, values, n * sizeof *v);
    at->name = (char *)name;
    at->has_type = 1;
    at->type = ONNX__ATTRIBUTE_PROTO__ATTRIBUTE_TYPE__INTS;
    at->n_ints = n;
    at->ints = v;
    return at;
}

/* A node op(inputs) -> output with n_attrs attributes (a NULL one, from a
 * failed allocation, marks the build failed). */
static void add_node(builder *b, const char *op, const char *const *in, size_t n_in, const char *out,
                     Onnx__AttributeProto *const *attrs, size_t n_attrs)
{
    Onnx__NodeProto *nd = arena_alloc(&b->a, sizeof *nd);
    char **ins = arena_alloc(&b->a, n_in * sizeof *ins);
    char **outs = arena_alloc(&b->a, sizeof *outs);
    Onnx__AttributeProto **at = n_attrs ? arena_alloc(&b->a, n_attrs * sizeof *at) : NULL;
    if (!nd || !ins || !outs || (n_attrs && !at))
        return;
    onnx__node_proto__init(nd);
    for (size_t i = 0; i < n_in; i++)
        ins[i] = (char *)in[i];
    outs[0] = (char *)out;
    for (size_t i = 0; i < n_attrs; i++) {
        if (!attrs[i]) {
            b->a.failed = 1;
            return;
        }
        at[i] = attrs[i];
    }
    nd->op_type = (char *)op;
    nd->name = arena_printf(&b->a, "%s_%d", op, b->next_value++);
    nd->n_input = n_in;
    nd->input = ins;
    nd->n_output = 1;
    nd->output = outs;
    nd->n_attribute = n_attrs;
    nd->attribute = at;
    list_push(b, &b->nodes, nd);
}

/* The host values of a named parameter or running statistic (malloc'd). */
static float *fetch(builder *b, const char *name, const ns_param **out)
{
    if (!ok(b))
        return NULL;
    ns_param *p = ns_model_find(b->m, name);
    if (!p) {
        b->st = ns_fail(NS_ERR_INTERNAL, "onnx export: the model has no tensor %s", name);
        return NULL;
    }
    float *v = malloc(p->size * sizeof *v);
    if (!v) {
        b->st = ns_fail(NS_ERR_NOMEM, "onnx export: out of memory for %s", name);
        return NULL;
    }
    ns_status st = b->be->api->download(b->be->ctx, p->value, 0, v, p->size);
    if (st != NS_OK) {
        free(v);
        b->st = st;
        return NULL;
    }
    if (out)
        *out = p;
    return v;
}

/* One conv + batchnorm unit ("<prefix>.conv<suffix>.weight", "<prefix>.bn<suffix>.*")
 * as a single Conv with a bias, then Relu when relu is set.
 *
 * In eval mode the batchnorm is an affine map per output channel o:
 *   bn(z) = gamma (z - mean) / sqrt(var + eps) + beta = s z + (beta - s mean),
 *   s = gamma / sqrt(var + eps),
 * and z = conv(x, W) is linear in W, so bn(conv(x, W)) = conv(x, s W) + t with
 * t = beta - s mean: the weights of output channel o scaled by s[o] and a
 * bias t[o]. `scale` (a per-batch drop-path survival probability, else 1)
 * multiplies the unit's whole output, so it multiplies both s and t. s and t
 * are computed in double and rounded once to float, so the folded weights are
 * the correctly rounded products; the difference from the unfused graph is
 * float rounding inside the convolution's sums, not in the constants. */
static const char *conv_bn(builder *b, const char *x, const char *prefix, const char *suffix, int stride,
                           int relu, double scale)
{
    char name[160];
    const ns_param *wp = NULL;
    snprintf(name, sizeof name, "%s.conv%s.weight", prefix, suffix);
    float *w = fetch(b, name, &wp);
    const char *fields[4] = {"weight", "bias", "running_mean", "running_var"};
    float *bn[4] = {NULL, NULL, NULL, NULL};
    for (int i = 0; i < 4; i++) {
        snprintf(name, sizeof name, "%s.bn%s.%s", prefix, suffix, fields[i]);
        bn[i] = fetch(b, name, NULL);
    }
    const char *out = NULL;
    float *bias = NULL;
    if (ok(b)) {
        const int o = wp->shape[0], per = (int)(wp->size / (size_t)o), k = wp->shape[2];
        bias = malloc((size_t)o * sizeof *bias);
        if (!bias)
            b->st = ns_fail(NS_ERR_NOMEM, "onnx export: out of memory");
        for (int c = 0; bias && c < o; c++) {
            const double s = (double)bn[0][c] / sqrt((double)bn[3][c] + BN_EPS);
            for (int j = 0; j < per; j++)
                w[(size_t)c * per + j] = (float)((double)w[(size_t)c * per + j] * s * scale);
            bias[c] = (float)(((double)bn[1][c] - (double)bn[2][c] * s) * scale);
        }
        char *wname = arena_printf(&b->a, "%s.conv%s.weight_folded", prefix, suffix);
        char *bname = arena_printf(&b->a, "%s.conv%s.bias_folded", prefix, suffix);
        if (ok(b) && wname && bname) {
            const int64_t wd[4] = {o, wp->shape[1], k, wp->shape[3]}, bd[1] = {o};
            add_initializer(b, wname, wd, 4, w, wp->size);
            add_initializer(b, bname, bd, 1, bias, (size_t)o);
            const int64_t ks[2] = {k, wp->shape[3]}, st[2] = {stride, stride},
                          pads[4] = {k / 2, wp->shape[3] / 2, k / 2, wp->shape[3] / 2};
            Onnx__AttributeProto *at[3] = {attr_ints(b, "kernel_shape", ks, 2), attr_ints(b, "strides", st, 2),
                                           attr_ints(b, "pads", pads, 4)};
            const char *in[3] = {x, wname, bname};
            out = fresh(b, relu ? "conv" : "conv_linear");
            add_node(b, "Conv", in, 3, out, at, 3);
            if (relu) {
                const char *r = fresh(b, "relu");
                add_node(b, "Relu", &out, 1, r, NULL, 0);
                out = r;
            }
        }
    }
    free(w);
    free(bias);
    for (int i = 0; i < 4; i++)
        free(bn[i]);
    return ok(b) ? out : NULL;
}

/* Residual block `prefix` on x (spec rules: docs/checkpoint-format.md). */
static const char *block(builder *b, const char *x, const char *prefix, int bottleneck, int stride, double scale)
{
    const char *h = x;
    if (bottleneck) {
        h = conv_bn(b, h, prefix, "1", 1, 1, 1.0);
        h = conv_bn(b, h, prefix, "2", stride, 1, 1.0);
        h = conv_bn(b, h, prefix, "3", 1, 0, scale);
    } else {
        h = conv_bn(b, h, prefix, "1", stride, 1, 1.0);
        h = conv_bn(b, h, prefix, "2", 1, 0, scale);
    }
    char name[160];
    snprintf(name, sizeof name, "%s.shortcut.conv.weight", prefix);
    const char *shortcut = x;
    if (ok(b) && ns_model_find(b->m, name)) {
        snprintf(name, sizeof name, "%s.shortcut", prefix);
        shortcut = conv_bn(b, x, name, "", stride, 0, 1.0);
    }
    if (!ok(b) || !h || !shortcut)
        return NULL;
    const char *in[2] = {h, shortcut};
    const char *sum = fresh(b, "add"), *out = fresh(b, "block");
    add_node(b, "Add", in, 2, sum, NULL, 0);
    add_node(b, "Relu", &sum, 1, out, NULL, 0);
    return out;
}

static Onnx__ValueInfoProto *value_info(builder *b, const char *name, int n_dims, const int64_t *dims,
                                        const char *batch_param)
{
    Onnx__ValueInfoProto *vi = arena_alloc(&b->a, sizeof *vi);
    Onnx__TypeProto *tp = arena_alloc(&b->a, sizeof *tp);
    Onnx__TypeProto__Tensor *tt = arena_alloc(&b->a, sizeof *tt);
    Onnx__TensorShapeProto *sh = arena_alloc(&b->a, sizeof *sh);
    Onnx__TensorShapeProto__Dimension **dim = arena_alloc(&b->a, (size_t)n_dims * sizeof *dim);
    if (!vi || !tp || !tt || !sh || !dim)
        return NULL;
    onnx__value_info_proto__init(vi);
    onnx__type_proto__init(tp);
    onnx__type_proto__tensor__init(tt);
    onnx__tensor_shape_proto__init(sh);
    for (int i = 0; i < n_dims; i++) {
        if (!(dim[i] = arena_alloc(&b->a, sizeof *dim[i])))
            return NULL;
        onnx__tensor_shape_proto__dimension__init(dim[i]);
        if (i == 0 && batch_param) {
            dim[i]->value_case = ONNX__TENSOR_SHAPE_PROTO__DIMENSION__VALUE_DIM_PARAM;
            dim[i]->dim_param = (char *)batch_param;
        } else {
            dim[i]->value_case = ONNX__TENSOR_SHAPE_PROTO__DIMENSION__VALUE_DIM_VALUE;
            dim[i]->dim_value = dims[i];
        }
    }
    sh->n_dim = (size_t)n_dims;
    sh->dim = dim;
    tt->has_elem_type = 1;
    tt->elem_type = ONNX__TENSOR_PROTO__DATA_TYPE__FLOAT;
    tt->shape = sh;
    tp->value_case = ONNX__TYPE_PROTO__VALUE_TENSOR_TYPE;
    tp->tensor_type = tt;
    vi->name = (char *)name;
    vi->type = tp;
    return vi;
}

static void add_prop(builder *b, const char *key, const char *value)
{
    Onnx__StringStringEntryProto *e = arena_alloc(&b->a, sizeof *e);
    char *v = value ? arena_printf(&b->a, "%s", value) : NULL;
    if (!e || !v) {
        b->a.failed = 1;
        return;
    }
    onnx__string_string_entry_proto__init(e);
    e->key = (char *)key;
    e->value = v;
    list_push(b, &b->props, e);
}

static char *float_list(builder *b, const float *v, int n)
{
    char buf[512] = "";
    size_t len = 0;
    for (int i = 0; i < n && len < sizeof buf; i++)
        len += (size_t)snprintf(buf + len, sizeof buf - len, "%s%.9g", i ? "," : "", (double)v[i]);
    return arena_printf(&b->a, "%s", buf);
}

int ns_onnx_export_available(void) { return 1; }

ns_status ns_onnx_export(ns_model *m, const float *mean, const float *std, const ns_onnx_options *opt,
                         const char *path)
{
    const int opset = opt && opt->opset ? opt->opset : NS_ONNX_OPSET_MIN;
    const int batch = opt ? opt->batch : 0;
    if (opset < NS_ONNX_OPSET_MIN || opset > NS_ONNX_OPSET_MAX)
        return ns_fail(NS_ERR_INVALID_ARG, "onnx export: opset %d, expected %d..%d", opset, NS_ONNX_OPSET_MIN,
                       NS_ONNX_OPSET_MAX);
    if (batch < 0)
        return ns_fail(NS_ERR_INVALID_ARG, "onnx export: batch %d, expected 0 (dynamic) or more", batch);
    builder b;
    memset(&b, 0, sizeof b);
    b.m = m;
    b.be = ns_model_backend(m);
    int c, h, w;
    ns_model_input(m, &c, &h, &w);
    const int classes = ns_model_classes(m);
    const ns_model_spec *spec = ns_model_get_spec(m);

    /* Normalisation as the graph's first two nodes: the input is what
     * torchvision's ToTensor gives (pixels / 255), the output what the
     * project's normalize.c feeds the network. */
    const int64_t nd[4] = {1, c, 1, 1}; /* broadcast over N, H, W */
    add_initializer(&b, "normalize_mean", nd, 4, mean, (size_t)c);
    add_initializer(&b, "normalize_std", nd, 4, std, (size_t)c);
    const char *x = "input";
    {
        const char *in1[2] = {x, "normalize_mean"};
        const char *centred = fresh(&b, "centred");
        add_node(&b, "Sub", in1, 2, centred, NULL, 0);
        const char *in2[2] = {centred, "normalize_std"};
        x = fresh(&b, "normalized");
        add_node(&b, "Div", in2, 2, x, NULL, 0);
    }
    x = conv_bn(&b, x, "stem", "", 1, 1, 1.0);

    for (int s = 0, l = 0; s < spec->n_stages && ok(&b); s++) {
        for (int k = 0; k < spec->stage_blocks[s] && ok(&b); k++, l++) {
            /* The host's eval-mode rule (nn/model.h): 1, or p_l in per-batch mode. */
            const double scale = (double)ns_model_inference_branch_scale(m, l);
            char prefix[64];
            snprintf(prefix, sizeof prefix, "stage%d.block%d", s + 1, k);
            x = block(&b, x, prefix, spec->bottleneck, k == 0 ? spec->stage_stride[s] : 1, scale);
        }
    }

    const ns_param *fcw = NULL;
    float *wv = fetch(&b, "fc.weight", &fcw);
    float *bv = fetch(&b, "fc.bias", NULL);
    if (ok(&b)) {
        const int64_t wd[2] = {fcw->shape[0], fcw->shape[1]}, bd[1] = {fcw->shape[0]};
        add_initializer(&b, "fc.weight", wd, 2, wv, fcw->size);
        add_initializer(&b, "fc.bias", bd, 1, bv, (size_t)fcw->shape[0]);
        const char *pooled = fresh(&b, "pooled"), *flat = fresh(&b, "features");
        add_node(&b, "GlobalAveragePool", &x, 1, pooled, NULL, 0);
        Onnx__AttributeProto *axis1[1] = {attr_int(&b, "axis", 1)};
        add_node(&b, "Flatten", &pooled, 1, flat, axis1, 1);
        const char *gin[3] = {flat, "fc.weight", "fc.bias"};
        Onnx__AttributeProto *transb[1] = {attr_int(&b, "transB", 1)};
        add_node(&b, "Gemm", gin, 3, "logits", transb, 1);
        const char *lg = "logits";
        Onnx__AttributeProto *axis[1] = {attr_int(&b, "axis", 1)};
        add_node(&b, "Softmax", &lg, 1, "probabilities", axis, 1);
    }
    free(wv);
    free(bv);

    /* Metadata: what a user of the file needs without this project. */
    char spec_text[256], input[64];
    ns_model_spec_format(spec, spec_text, sizeof spec_text);
    snprintf(input, sizeof input, "%dx%dx%d", c, h, w);
    char *names_json = NULL;
    const ns_class_names *cn = ns_model_class_names(m);
    if (ok(&b) && cn->n > 0 && ns_class_names_to_json(cn, &names_json) != NS_OK)
        b.st = NS_ERR_NOMEM;
    if (names_json)
        add_prop(&b, "class_names", names_json);
    free(names_json);
    add_prop(&b, "normalize_mean", float_list(&b, mean, c));
    add_prop(&b, "normalize_std", float_list(&b, std, c));
    add_prop(&b, "input", input);
    add_prop(&b, "input_range", c == 3 ? "float32 NCHW, RGB pixels / 255 in [0, 1]; normalised inside the graph"
                                       : "float32 NCHW, pixels / 255 in [0, 1]; normalised inside the graph");
    add_prop(&b, "model", spec_text);
    add_prop(&b, "outputs", "logits: [N, classes] before softmax; probabilities: softmax(logits) on axis 1");

    const int64_t in_dims[4] = {batch, c, h, w}, out_dims[2] = {batch, classes};
    const char *bp = batch ? NULL : "N";
    Onnx__ValueInfoProto *inputs[1] = {value_info(&b, "input", 4, in_dims, bp)};
    Onnx__ValueInfoProto *outputs[2] = {value_info(&b, "logits", 2, out_dims, bp),
                                        value_info(&b, "probabilities", 2, out_dims, bp)};
    Onnx__GraphProto graph = ONNX__GRAPH_PROTO__INIT;
    Onnx__ModelProto model = ONNX__MODEL_PROTO__INIT;
    Onnx__OperatorSetIdProto op = ONNX__OPERATOR_SET_ID_PROTO__INIT;
    Onnx__OperatorSetIdProto *ops[1] = {&op};
    op.domain = "";
    op.has_version = 1;
    op.version = opset;
    graph.name = spec_text;
    graph.n_node = b.nodes.n;
    graph.node = (Onnx__NodeProto **)b.nodes.item;
    graph.n_initializer = b.inits.n;
    graph.initializer = (Onnx__TensorProto **)b.inits.item;
    graph.n_input = 1;
    graph.input = inputs;
    graph.n_output = 2;
    graph.output = outputs;
    model.has_ir_version = 1;
    model.ir_version = opset <= 14 ? 7 : 8; /* the IR versions that introduced these opsets */
    model.n_opset_import = 1;
    model.opset_import = ops;
    model.producer_name = "noisystudent";
    model.producer_version = NS_VERSION;
    model.doc_string = "Exported by noisystudent: batchnorm folded into the convolutions, normalisation inside.";
    model.graph = &graph;
    model.n_metadata_props = b.props.n;
    model.metadata_props = (Onnx__StringStringEntryProto **)b.props.item;

    ns_status st = b.st;
    if (st == NS_OK && (b.a.failed || !inputs[0] || !outputs[0] || !outputs[1]))
        st = ns_fail(NS_ERR_NOMEM, "onnx export: out of memory building the graph");
    uint8_t *buf = NULL;
    if (st == NS_OK) {
        size_t size = onnx__model_proto__get_packed_size(&model);
        buf = malloc(size ? size : 1);
        if (!buf)
            st = ns_fail(NS_ERR_NOMEM, "onnx export: out of memory for %zu bytes", size);
        else if (onnx__model_proto__pack(&model, buf) != size)
            st = ns_fail(NS_ERR_INTERNAL, "onnx export: protobuf-c packed a different size than it measured");
        else
            st = ns_atomic_write_buffer(path, buf, size);
    }
    free(buf);
    arena_free(&b.a);
    return st;
}

#endif
