#!/usr/bin/env python3
"""PyTorch reference for `noisystudent bench`: the same architecture (core/nn's
ResNet family), batch, threads and steps, printing the same figures.

  python3 bench/torch_reference.py --model resnet20 --input 3x32x32 --batch 128 \
      --threads 2 [--precision fp32|bf16] [--channels-last] [--steps 20] [--warmup 3]

bf16 is PyTorch's fastest CPU mixed-precision mode: autocast to bfloat16 with
channels-last memory (fp32 master weights, as noisystudent's bf16). GFLOP/s
counts conv and linear MACs x2 (x3 for a training step), as ns_model_flops."""
import argparse
import re
import sys
import time

import torch
import torch.nn as nn
import torch.nn.functional as F


def conv_bn(cin, cout, k, stride):
    return nn.Sequential(nn.Conv2d(cin, cout, k, stride, k // 2, bias=False), nn.BatchNorm2d(cout))


class Basic(nn.Module):
    def __init__(self, cin, width, stride):
        super().__init__()
        self.a = conv_bn(cin, width, 3, stride)
        self.b = conv_bn(width, width, 3, 1)
        self.short = conv_bn(cin, width, 1, stride) if stride != 1 or cin != width else None
        self.out = width

    def forward(self, x):
        y = self.b(F.relu(self.a(x)))
        return F.relu(y + (self.short(x) if self.short is not None else x))


class Bottleneck(nn.Module):
    def __init__(self, cin, width, stride, expansion):
        super().__init__()
        self.out = width * expansion
        self.a = conv_bn(cin, width, 1, 1)
        self.b = conv_bn(width, width, 3, stride)
        self.c = conv_bn(width, self.out, 1, 1)
        self.short = conv_bn(cin, self.out, 1, stride) if stride != 1 or cin != self.out else None

    def forward(self, x):
        y = self.c(F.relu(self.b(F.relu(self.a(x)))))
        return F.relu(y + (self.short(x) if self.short is not None else x))


class ResNet(nn.Module):
    def __init__(self, in_c, classes, bottleneck, stem_k, stem_w, widths, blocks, strides, expansion):
        super().__init__()
        self.stem = conv_bn(in_c, stem_w, stem_k, 1)
        layers, cin = [], stem_w
        for w, n, s in zip(widths, blocks, strides):
            for i in range(n):
                b = Bottleneck(cin, w, s if i == 0 else 1, expansion) if bottleneck else \
                    Basic(cin, w, s if i == 0 else 1)
                layers.append(b)
                cin = b.out
        self.blocks = nn.Sequential(*layers)
        self.fc = nn.Linear(cin, classes)

    def forward(self, x):
        x = self.blocks(F.relu(self.stem(x)))
        return self.fc(torch.flatten(F.adaptive_avg_pool2d(x, 1), 1))


def build(spec, in_c, classes):
    if spec == "seed-resnet50":
        return ResNet(in_c, classes, True, 5, 32, [64, 128, 256, 512], [3, 4, 6, 3], [1, 2, 1, 2], 4)
    m = re.fullmatch(r"resnet(\d+)", spec)
    if m and (int(m.group(1)) - 2) % 6 == 0 and int(m.group(1)) >= 8:
        n = (int(m.group(1)) - 2) // 6
        return ResNet(in_c, classes, False, 3, 16, [16, 32, 64], [n] * 3, [1, 2, 2], 1)
    sys.exit(f"torch_reference: model '{spec}' not supported (resnetD with D=6n+2, seed-resnet50)")


def count_macs(model, x):
    macs = [0]

    def hook(mod, inp, out):
        if isinstance(mod, nn.Conv2d):
            macs[0] += out.numel() // out.shape[0] * (mod.in_channels // mod.groups) * \
                mod.kernel_size[0] * mod.kernel_size[1]
        elif isinstance(mod, nn.Linear):
            macs[0] += mod.in_features * mod.out_features
    hs = [m.register_forward_hook(hook) for m in model.modules() if isinstance(m, (nn.Conv2d, nn.Linear))]
    with torch.no_grad():
        model.eval()
        model(x[:1])
    for h in hs:
        h.remove()
    return macs[0]


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--model", default="resnet20")
    ap.add_argument("--input", default="3x32x32")
    ap.add_argument("--batch", type=int, default=128)
    ap.add_argument("--steps", type=int, default=20)
    ap.add_argument("--warmup", type=int, default=3)
    ap.add_argument("--threads", type=int, default=0)
    ap.add_argument("--classes", type=int, default=10)
    ap.add_argument("--precision", choices=["fp32", "bf16"], default="fp32")
    ap.add_argument("--channels-last", action="store_true", help="channels-last memory (implied by bf16)")
    ap.add_argument("--mode", choices=["train", "infer", "both"], default="both")
    a = ap.parse_args()
    if a.threads > 0:
        torch.set_num_threads(a.threads)
    c, h, w = (int(v) for v in a.input.split("x"))
    torch.manual_seed(1)
    model = build(a.model, c, a.classes)
    x = torch.rand(a.batch, c, h, w) * 2 - 1
    t = F.one_hot(torch.randint(0, a.classes, (a.batch,)), a.classes).float()
    macs = count_macs(model, x)
    cl = a.channels_last or a.precision == "bf16"
    if cl:
        model = model.to(memory_format=torch.channels_last)
        x = x.contiguous(memory_format=torch.channels_last)
    bf16 = a.precision == "bf16"
    # The optimizer `noisystudent train` (and so `bench`) steps with: SGD, momentum 0.9,
    # Nesterov, weight decay 5e-4, lr 0.1.
    opt = torch.optim.SGD(model.parameters(), lr=0.1, momentum=0.9, nesterov=True, weight_decay=5e-4)
    print(f"torch: {torch.__version__}, {torch.get_num_threads()} threads, model {a.model}, input {a.input}, "
          f"batch {a.batch}, precision {a.precision}{' channels-last' if cl else ''}, "
          f"{sum(p.numel() for p in model.parameters())} params")
    print(f"torch: {a.warmup} warm-up + {a.steps} timed steps; GFLOP per image: train {macs * 6e-9:.4f}, "
          f"infer {macs * 2e-9:.4f}")
    sys.stdout.flush()

    def report(what, seconds, flops):
        images = a.batch * a.steps
        print(f"{what:<6} {images / seconds:10.1f} images/s {images * flops / seconds * 1e-9:9.2f} GFLOP/s "
              f"{1e3 * seconds / a.steps:9.2f} ms/step")
        sys.stdout.flush()

    def train_step():
        with torch.autocast("cpu", dtype=torch.bfloat16, enabled=bf16):
            loss = F.cross_entropy(model(x), t)
        opt.zero_grad(set_to_none=True)
        loss.backward()
        opt.step()
        return loss.item()

    if a.mode != "infer":
        model.train()
        for _ in range(a.warmup):
            first = train_step()
        t0 = time.perf_counter()
        for _ in range(a.steps):
            last = train_step()
        report("train", time.perf_counter() - t0, macs * 6)
        if a.warmup:
            print(f"torch: training loss {first:.4f} after warm-up, {last:.4f} at the end")
    if a.mode != "train":
        model.eval()
        with torch.inference_mode(), torch.autocast("cpu", dtype=torch.bfloat16, enabled=bf16):
            for _ in range(a.warmup):
                model(x)
            t0 = time.perf_counter()
            for _ in range(a.steps):
                model(x)
            report("infer", time.perf_counter() - t0, macs * 2)


if __name__ == "__main__":
    main()
