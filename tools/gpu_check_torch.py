#!/usr/bin/env python3
"""PyTorch on the GPU for tools/gpu-check: the same models (bench/torch_reference.py's
builder), input, batch, steps and optimizer as `noisystudent bench`, in several
variants in one process (one CUDA start-up and one import for all of them):

  eager-fp32   NCHW, float32, TF32 off (what `bench --precision fp32` computes)
  cl-bf16      channels-last + autocast bfloat16 (fp32 master weights)
  cl-fp16      channels-last + autocast float16 with a GradScaler

  python3 tools/gpu_check_torch.py --model resnet20 --batch 512 --steps 20 --warmup 5 \
      --variants eager-fp32,cl-bf16,cl-fp16

Each variant prints `<variant> train|infer N images/s ...` as soon as it is measured
(flushed), so a run stopped by its time box still leaves the figures done so far.
cudnn.benchmark is on (PyTorch's fastest setting for fixed shapes)."""
import argparse
import os
import sys
import time

import torch
import torch.nn.functional as F

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "bench"))
from torch_reference import build, count_macs  # noqa: E402

VARIANTS = {"eager-fp32": (False, None), "cl-bf16": (True, torch.bfloat16), "cl-fp16": (True, torch.float16)}


def run_variant(a, name, macs):
    channels_last, low = VARIANTS[name]
    dev = torch.device(a.device)
    c, h, w = (int(v) for v in a.input.split("x"))
    torch.manual_seed(1)
    model = build(a.model, c, a.classes).to(dev)
    x = (torch.rand(a.batch, c, h, w) * 2 - 1).to(dev)
    t = F.one_hot(torch.randint(0, a.classes, (a.batch,)), a.classes).float().to(dev)
    if channels_last:
        model = model.to(memory_format=torch.channels_last)
        x = x.contiguous(memory_format=torch.channels_last)
    # noisystudent train's optimizer (and so bench's): SGD, momentum 0.9, Nesterov, wd 5e-4, lr 0.1
    opt = torch.optim.SGD(model.parameters(), lr=0.1, momentum=0.9, nesterov=True, weight_decay=5e-4)
    try:
        scaler = torch.amp.GradScaler("cuda", enabled=low is torch.float16)
    except (AttributeError, TypeError):  # torch < 2.3
        scaler = torch.cuda.amp.GradScaler(enabled=low is torch.float16)

    def sync():
        if dev.type == "cuda":
            torch.cuda.synchronize()

    def report(what, seconds, flops):
        images = a.batch * a.steps
        print(f"{name} {what:<6} {images / seconds:10.1f} images/s {images * flops / seconds * 1e-9:9.2f} "
              f"GFLOP/s {1e3 * seconds / a.steps:9.2f} ms/step", flush=True)

    def train_step():
        with torch.autocast(dev.type, dtype=low or torch.bfloat16, enabled=low is not None):
            loss = F.cross_entropy(model(x), t)
        opt.zero_grad(set_to_none=True)
        scaler.scale(loss).backward()
        scaler.step(opt)
        scaler.update()
        return loss.item()  # the loss reaches the host every step, as in noisystudent bench

    model.train()
    for _ in range(a.warmup):
        train_step()
    sync()
    t0 = time.perf_counter()
    for _ in range(a.steps):
        last = train_step()
    sync()
    report("train", time.perf_counter() - t0, macs * 6)
    print(f"{name} loss {last:.4f}", flush=True)
    model.eval()
    with torch.inference_mode(), torch.autocast(dev.type, dtype=low or torch.bfloat16, enabled=low is not None):
        for _ in range(a.warmup):
            model(x)
        sync()
        t0 = time.perf_counter()
        for _ in range(a.steps):
            model(x)
        sync()
        report("infer", time.perf_counter() - t0, macs * 2)


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--model", default="resnet20")
    ap.add_argument("--input", default="3x32x32")
    ap.add_argument("--batch", type=int, default=512)
    ap.add_argument("--classes", type=int, default=10)
    ap.add_argument("--steps", type=int, default=20)
    ap.add_argument("--warmup", type=int, default=5)
    ap.add_argument("--variants", default="eager-fp32,cl-bf16,cl-fp16")
    ap.add_argument("--device", default="cuda", help="cuda; cpu only to try this script without a GPU")
    a = ap.parse_args()
    names = [v for v in a.variants.split(",") if v]
    for v in names:
        if v not in VARIANTS:
            sys.exit(f"gpu_check_torch: --variants {v}: expected one of {', '.join(VARIANTS)}")
    if a.device == "cuda" and not torch.cuda.is_available():
        sys.exit("gpu_check_torch: torch.cuda.is_available() is False")
    # exact float32 for eager-fp32, as `bench --precision fp32` (TF32 off) computes
    torch.backends.cudnn.allow_tf32 = False
    torch.backends.cuda.matmul.allow_tf32 = False
    torch.backends.cudnn.benchmark = True
    c, h, w = (int(v) for v in a.input.split("x"))
    macs = count_macs(build(a.model, c, a.classes), torch.zeros(1, c, h, w))
    print(f"torch {torch.__version__} (CUDA {torch.version.cuda}, cuDNN {torch.backends.cudnn.version()}) on "
          f"{torch.cuda.get_device_name() if a.device == 'cuda' else 'cpu'}: model {a.model}, input {a.input}, batch {a.batch}, "
          f"{a.warmup} warm-up + {a.steps} timed steps", flush=True)
    for v in names:
        run_variant(a, v, macs)


if __name__ == "__main__":
    main()
