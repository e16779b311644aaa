#!/usr/bin/env python3
"""The teacher a new user would write in PyTorch, as the reference the quick
preset's teacher must match (issue #16): the same ResNet-8 (bench/
torch_reference.py builds the same architecture as core/nn), 400 labeled
Fashion-MNIST images per class, 30 epochs at batch 128, SGD with Nesterov
momentum 0.9 and weight decay 5e-4 on every parameter (PyTorch's plain
`weight_decay=` argument), pad-4-and-crop and horizontal flips, and PyTorch's
one-cycle learning rate (15% warm-up from max/25, cosine down, momentum
cycled 0.85-0.95). Prints the test accuracy of the final model.

  /usr/bin/python3 experiments/torch_teacher.py --seed 1 [--threads 2] [--max-lr 0.1]

The labeled subset is drawn per seed (numpy), so the spread over seeds covers
the choice of images as well as the initialisation. Needs python3-torch
(Debian) and python3-numpy."""
import argparse
import gzip
import os
import sys
import time

import numpy as np
import torch
import torch.nn.functional as F

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "bench"))
from torch_reference import build  # noqa: E402  (same architecture as core/nn)

DATA = "/usr/share/datasets/fashion-mnist"


def idx(name):
    with gzip.open(os.path.join(DATA, name), "rb") as f:
        raw = f.read()
    dims = raw[3]
    shape = [int.from_bytes(raw[4 + 4 * i:8 + 4 * i], "big") for i in range(dims)]
    return np.frombuffer(raw, np.uint8, offset=4 + 4 * dims).reshape(shape)


def augment(x, gen):
    """Pad 4 (zeros, after normalisation, as torchvision's RandomCrop(padding=4))
    and crop back, then flip half the images."""
    n, c, h, w = x.shape
    p = F.pad(x, (4, 4, 4, 4))
    dy = torch.randint(0, 9, (n,), generator=gen)
    dx = torch.randint(0, 9, (n,), generator=gen)
    flip = torch.rand(n, generator=gen) < 0.5
    rows = (dy[:, None] + torch.arange(h)[None, :])[:, None, :, None]
    cols = (dx[:, None] + torch.arange(w)[None, :])[:, None, None, :]
    out = p[torch.arange(n)[:, None, None, None], torch.arange(c)[None, :, None, None], rows, cols]
    out[flip] = out[flip].flip(3)
    return out


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--seed", type=int, default=1)
    ap.add_argument("--threads", type=int, default=0)
    ap.add_argument("--epochs", type=int, default=30)
    ap.add_argument("--batch", type=int, default=128)
    ap.add_argument("--max-lr", type=float, default=0.1)
    ap.add_argument("--per-class", type=int, default=400)
    ap.add_argument("--model", default="resnet8")
    a = ap.parse_args()
    if a.threads > 0:
        torch.set_num_threads(a.threads)
    torch.manual_seed(a.seed)
    rng = np.random.default_rng(a.seed)
    xtr, ytr = idx("train-images-idx3-ubyte.gz"), idx("train-labels-idx1-ubyte.gz")
    xte, yte = idx("t10k-images-idx3-ubyte.gz"), idx("t10k-labels-idx1-ubyte.gz")
    pick = np.concatenate([rng.choice(np.flatnonzero(ytr == c), a.per_class, replace=False) for c in range(10)])
    x = torch.tensor(xtr[pick], dtype=torch.float32).unsqueeze(1) / 255.0
    mean, std = x.mean().item(), x.std().item()
    x = (x - mean) / std
    y = torch.tensor(ytr[pick], dtype=torch.long)
    xt = (torch.tensor(xte, dtype=torch.float32).unsqueeze(1) / 255.0 - mean) / std
    yt = torch.tensor(yte, dtype=torch.long)

    model = build(a.model, 1, 10)
    opt = torch.optim.SGD(model.parameters(), lr=a.max_lr, momentum=0.9, nesterov=True, weight_decay=5e-4)
    steps = (len(x) + a.batch - 1) // a.batch
    sched = torch.optim.lr_scheduler.OneCycleLR(opt, max_lr=a.max_lr, epochs=a.epochs, steps_per_epoch=steps,
                                                pct_start=0.15)
    gen = torch.Generator().manual_seed(a.seed)
    t0 = time.time()
    for epoch in range(a.epochs):
        model.train()
        perm = torch.randperm(len(x), generator=gen)
        total = 0.0
        for s in range(steps):
            b = perm[s * a.batch:(s + 1) * a.batch]
            loss = F.cross_entropy(model(augment(x[b], gen)), y[b])
            opt.zero_grad(set_to_none=True)
            loss.backward()
            opt.step()
            sched.step()
            total += loss.item() * len(b)
        print(f"epoch {epoch + 1:3d}/{a.epochs}  loss {total / len(x):.4f}", flush=True)
    model.eval()
    correct = 0
    with torch.no_grad():
        for s in range(0, len(xt), 500):
            correct += (model(xt[s:s + 500]).argmax(1) == yt[s:s + 500]).sum().item()
    print(f"torch_teacher: seed {a.seed} model {a.model} test accuracy {100.0 * correct / len(xt):.2f}% "
          f"in {time.time() - t0:.1f} s ({torch.get_num_threads()} threads)")


if __name__ == "__main__":
    main()
