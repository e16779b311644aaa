/* ONNX export: a trained model as an ONNX inference graph (opset 13..17),
 * serialised with protobuf-c from the onnx.proto of Debian's libonnx-dev
 * (compiled by protoc-c into the build tree; see core/CMakeLists.txt).
 *
 * The graph, for input "input" = float32 N x C x H x W pixels in [0, 1]
 * (uint8 / 255, channels in the checkpoint's order: R, G, B for colour):
 *   Sub(mean) -> Div(std)                        the checkpoint's normalisation
 *   Conv(+bias) [-> Relu]                        each conv + batchnorm unit, folded
 *   Add -> Relu                                  each residual block's join
 *   GlobalAveragePool -> Flatten -> Gemm         the classifier
 * with two outputs: "logits" ([N, classes], what `eval` computes before its
 * softmax) and "probabilities" (Softmax of the logits on axis 1). Dropout is
 * the identity at inference and has no node; stochastic depth follows the
 * host's eval mode: where the model's inference drop-path scales the residual
 * branch of block l (ns_model_inference_branch_scale: per-batch drop-path's
 * survival probability), the scale is folded into that branch's last
 * convolution, so the graph computes what `eval` computes.
 *
 * metadata_props: "class_names" (JSON array; absent when the model has none),
 * "normalize_mean" / "normalize_std" (per channel, comma-separated, %.9g),
 * "input" ("CxHxW"), "input_range" (what the input holds), "model" (the
 * canonical spec), "outputs". Producer "noisystudent" and its version. */
#ifndef NS_EXPORT_ONNX_EXPORT_H
#define NS_EXPORT_ONNX_EXPORT_H

#include "nn/model.h"

#define NS_ONNX_OPSET_MIN 13
#define NS_ONNX_OPSET_MAX 17

typedef struct ns_onnx_options {
    int opset;          /* NS_ONNX_OPSET_MIN..MAX; 0 means 13 */
    int batch;          /* 0: a dynamic batch dimension named "N"; > 0: fixed */
} ns_onnx_options;

/* Writes m (weights downloaded from its backend; batchnorm running statistics
 * folded) with the normalisation mean/std (in_c floats each) to `path`
 * atomically. Errors: NS_ERR_UNSUPPORTED when built without protobuf-c /
 * onnx.proto, or for an option out of range (NS_ERR_INVALID_ARG); the
 * backend's download errors; NS_ERR_IO naming the path; NS_ERR_NOMEM. */
ns_status ns_onnx_export(ns_model *m, const float *mean, const float *std, const ns_onnx_options *opt,
                         const char *path);

/* 1 when this build can write ONNX (protobuf-c and onnx.proto were found). */
int ns_onnx_export_available(void);

#endif
