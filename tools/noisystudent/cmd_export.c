/* noisystudent export: a checkpoint as an ONNX inference graph
 * (core/export/onnx_export.h says what the graph holds). */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cli_options.h"
#include "commands.h"
#include "export/onnx_export.h"
#include "train/checkpoint.h"
#include "util/error.h"

int ns_cmd_export(int argc, char **argv)
{
    const char *model_path = NULL, *format = NULL, *out = NULL, *batch_text = "dynamic";
    int opset = NS_ONNX_OPSET_MIN, help = 0;
    const ns_opt opts[] = {
        {"model", NS_OPT_STRING, &model_path, "PATH", "checkpoint (model.safetensors or checkpoint.safetensors)",
         NULL, 0, -1},
        {"format", NS_OPT_STRING, &format, "F", "onnx (the only format)", NULL, 0, -1},
        {"out", NS_OPT_STRING, &out, "PATH", "file to write (replaced atomically)", NULL, 0, -1},
        {"opset", NS_OPT_INT, &opset, "N", "ONNX opset, 13 (default) to 17", NULL, NS_ONNX_OPSET_MIN,
         NS_ONNX_OPSET_MAX},
        {"batch", NS_OPT_STRING, &batch_text, "B", "dynamic (default: a batch dimension named N) or a fixed "
                                                   "batch size", NULL, 0, -1},
    };
    const size_t n_opts = sizeof opts / sizeof *opts;
    ns_status st = ns_cli_parse("export", argc, argv, 1, opts, n_opts, NULL, 0, NULL, &help);
    if (st != NS_OK)
        return ns_cli_fail(st);
    if (help) {
        ns_cli_print_help("export", "--model PATH --format onnx --out PATH [options]",
                          "Writes the model's inference graph as ONNX: batchnorm folded into the convolutions,\n"
                          "the checkpoint's normalisation as the first nodes (the input is float32 NCHW pixels\n"
                          "in [0, 1], i.e. uint8 / 255), outputs \"logits\" and \"probabilities\" (softmax);\n"
                          "class names and the normalisation in the model's metadata_props.",
                          opts, n_opts);
        return 0;
    }
    const char *missing = !model_path ? "--model PATH" : !format ? "--format onnx" : !out ? "--out PATH" : NULL;
    if (missing) {
        ns_set_error("export: %s is required", missing);
        return ns_cli_fail(NS_ERR_USAGE);
    }
    if (strcmp(format, "onnx")) {
        ns_set_error("export --format %s: expected onnx", format);
        return ns_cli_fail(NS_ERR_USAGE);
    }
    int batch = 0;
    if (strcmp(batch_text, "dynamic")) {
        char *end;
        long v = strtol(batch_text, &end, 10);
        if (!*batch_text || *end || v < 1 || v > 1 << 20) {
            ns_set_error("export --batch %s: expected dynamic or a batch size 1..1048576", batch_text);
            return ns_cli_fail(NS_ERR_USAGE);
        }
        batch = (int)v;
    }
    /* The weights only need a host-side copy: ref is always there and exact. */
    ns_backend *be = NULL;
    ns_model *m = NULL;
    ns_ckpt_info info;
    st = ns_backend_open("ref", NULL, &be);
    if (st == NS_OK)
        st = ns_checkpoint_load_model(model_path, be, &m, &info);
    if (st == NS_OK) {
        ns_onnx_options oo = {opset, batch};
        st = ns_onnx_export(m, info.mean, info.std, &oo, out);
    }
    if (st == NS_OK)
        printf("wrote %s: %s, input %s x %dx%dx%d in [0,1], outputs logits and probabilities (%d classes), "
               "opset %d\n", out, info.model, batch ? batch_text : "N", info.in_c, info.in_h, info.in_w,
               info.classes, opset);
    ns_model_destroy(m);
    ns_backend_close(be);
    return ns_cli_fail(st);
}
