#!/usr/bin/env python3
"""Runs a model written by `noisystudent export --format onnx` in onnxruntime.

  onnx_run.py MODEL.onnx IMAGES.u8 [--check]  prints the logits, one image per line
  onnx_run.py MODEL.onnx --meta               prints the producer, opsets, ops and
                                              metadata_props as JSON (and checks)

IMAGES.u8 holds raw uint8 images of the model's input, HWC interleaved, back
to back (what noisystudent's datasets hold); they go in as float32 NCHW
pixels / 255, the input the exported graph documents. With --check or --meta,
when the `onnx` package is importable, the model is also checked with
onnx.checker (full_check), and a failure is an error (importing onnx costs
seconds, so the logits runs check only when asked). Exit 77 (skip) when onnxruntime cannot be imported.
"""
import json
import sys

try:
    import numpy as np
    import onnxruntime as ort
except ImportError as e:
    print(f"onnxruntime not importable ({e}): skipped", file=sys.stderr)
    sys.exit(77)


def check(path):
    try:
        import onnx
    except ImportError:
        print("onnx.checker: the onnx package is absent, not checked", file=sys.stderr)
        return None
    model = onnx.load(path)
    onnx.checker.check_model(model, full_check=True)
    return model


def main():
    path = sys.argv[1]
    model = check(path) if "--check" in sys.argv[2:] or sys.argv[2] == "--meta" else None
    if sys.argv[2] == "--meta":
        if model is None:
            import onnx  # --meta needs it: fail loudly rather than print nothing
        out = {"producer_name": model.producer_name, "producer_version": model.producer_version,
               "opset": [o.version for o in model.opset_import], "ir_version": model.ir_version,
               "ops": sorted({n.op_type for n in model.graph.node}),
               "metadata": {p.key: p.value for p in model.metadata_props}}
        print(json.dumps(out))
        return
    sess = ort.InferenceSession(path, providers=["CPUExecutionProvider"])
    inp = sess.get_inputs()[0]
    n_dim, c, h, w = inp.shape
    raw = np.fromfile(sys.argv[2], dtype=np.uint8)
    images = raw.reshape(-1, h, w, c).transpose(0, 3, 1, 2).astype(np.float32) / np.float32(255)
    step = n_dim if isinstance(n_dim, int) else len(images)
    rows = []
    for i in range(0, len(images), step):
        logits, probs = sess.run(["logits", "probabilities"], {"input": images[i:i + step]})
        if not np.allclose(probs.sum(axis=1), 1.0, atol=1e-5):
            sys.exit("probabilities do not sum to 1")
        rows.append(logits)
    for row in np.concatenate(rows):
        print(" ".join(f"{v:.9g}" for v in row))


if __name__ == "__main__":
    main()
