#!/usr/bin/env python3
"""Rebuilds a noisystudent network in PyTorch from its checkpoint, following
docs/checkpoint-format.md and nothing else, and prints its logits.

usage: checkpoint_to_torch.py MODEL.safetensors [--raw FILE] [IMAGE.pgm|IMAGE.ppm ...]
                              [--describe]

  MODEL.safetensors  model.safetensors or checkpoint.safetensors of a run
  --raw FILE         images as raw uint8, height x width x channels each
                     (the shape of the checkpoint's "input"), back to back
  IMAGE.pgm/.ppm     binary netpbm images (P5 grey, P6 RGB, maxval 255)
  --describe         print the metadata and the rebuilt network on stderr

Prints one line per image (those of --raw first, then the netpbm files in
order): the eval-mode logits, one per class, separated by spaces. The file is parsed by hand (struct + json); only PyTorch is needed.
Errors: one line on stderr; exit 2 for usage errors, 1 for anything else."""
import json
import re
import struct
import sys
from array import array

import torch
from torch import nn

FORMAT = "noisystudent-checkpoint"
VERSION = "1"
BN_EPS = 1e-5        # docs/checkpoint-format.md, "Operations"
BN_MOMENTUM = 0.1    # PyTorch's convention: new = (1 - m) * old + m * batch


class CheckpointError(Exception):
    pass


# ---------------------------------------------------------------- the file

def read_safetensors(path):
    """(metadata dict, {name: float32 tensor}) of a safetensors file."""
    with open(path, "rb") as f:
        blob = f.read()
    if len(blob) < 8:
        raise CheckpointError(f"{path}: {len(blob)} bytes, shorter than the 8-byte header length")
    (hlen,) = struct.unpack("<Q", blob[:8])
    if hlen > len(blob) - 8:
        raise CheckpointError(f"{path}: header length {hlen} runs past the end of the file")
    try:
        header = json.loads(blob[8:8 + hlen].decode("utf-8"))
    except (UnicodeDecodeError, ValueError) as e:
        raise CheckpointError(f"{path}: header is not UTF-8 JSON ({e})")
    data = memoryview(blob)[8 + hlen:]
    meta = header.pop("__metadata__", {})
    tensors = {}
    for name, entry in header.items():
        if entry.get("dtype") != "F32":
            raise CheckpointError(f"{path}: tensor '{name}' is {entry.get('dtype')}, expected F32")
        shape = entry["shape"]
        begin, end = entry["data_offsets"]
        count = 1
        for d in shape:
            count *= d
        if end - begin != 4 * count or end > len(data):
            raise CheckpointError(f"{path}: tensor '{name}': data_offsets [{begin}, {end}] do not "
                                  f"hold {count} F32 values inside the {len(data)} data bytes")
        values = array("f")
        values.frombytes(data[begin:end])
        if sys.byteorder != "little":  # the data is little-endian
            values.byteswap()
        tensors[name] = torch.frombuffer(values, dtype=torch.float32).reshape(shape).clone()
    return meta, tensors


# ---------------------------------------------------------------- the spec

def parse_int_list(text, what):
    if not re.fullmatch(r"[0-9]+(-[0-9]+)*", text):
        raise CheckpointError(f"model spec: {what}={text}, expected numbers joined by '-'")
    return [int(v) for v in text.split("-")]


def parse_spec(text):
    """The canonical spec of the "model" key as a dict of the network's shape."""
    m = re.fullmatch(r"resnet([0-9]+)", text)
    if m:  # CIFAR ResNet preset: 3 stages of n basic blocks, widths 16-32-64
        depth = int(m.group(1))
        if depth < 8 or (depth - 2) % 6:
            raise CheckpointError(f"model spec '{text}': depth must be 6n+2 >= 8")
        n = (depth - 2) // 6
        return dict(bottleneck=False, blocks=[n, n, n], widths=[16, 32, 64], strides=[1, 2, 2],
                    stem_kernel=3, stem_width=16, expansion=1)
    if text == "seed-resnet50":
        return dict(bottleneck=True, blocks=[3, 4, 6, 3], widths=[64, 128, 256, 512],
                    strides=[1, 2, 1, 2], stem_kernel=5, stem_width=32, expansion=4)
    m = re.fullmatch(r"(basic|bottleneck):(.*)", text)
    if not m:
        raise CheckpointError(f"model spec '{text}': expected resnetD, seed-resnet50, "
                              "basic:... or bottleneck:...")
    opts = {}
    for kv in m.group(2).split(","):
        key, _, val = kv.partition("=")
        opts[key] = val
    known = {"name", "blocks", "widths", "strides", "stem", "expansion"}
    if set(opts) - known or not {"blocks", "widths", "strides", "stem"} <= set(opts):
        raise CheckpointError(f"model spec '{text}': expected name, blocks, widths, strides, "
                              "stem[, expansion]")
    stem = re.fullmatch(r"([0-9]+)x([0-9]+)", opts["stem"])
    if not stem:
        raise CheckpointError(f"model spec '{text}': stem={opts['stem']}, expected KxW")
    spec = dict(bottleneck=m.group(1) == "bottleneck",
                blocks=parse_int_list(opts["blocks"], "blocks"),
                widths=parse_int_list(opts["widths"], "widths"),
                strides=parse_int_list(opts["strides"], "strides"),
                stem_kernel=int(stem.group(1)), stem_width=int(stem.group(2)),
                expansion=int(opts.get("expansion", "1")))
    if not len(spec["blocks"]) == len(spec["widths"]) == len(spec["strides"]):
        raise CheckpointError(f"model spec '{text}': blocks, widths, strides differ in length")
    return spec


# ---------------------------------------------------------------- the network

class ConvBN(nn.Module):
    """conv (no bias, zero padding k//2) -> batchnorm [-> ReLU]. Submodules are
    named so that the state_dict keys are the checkpoint's tensor names."""

    def __init__(self, cin, cout, k, stride, relu):
        super().__init__()
        self.relu = relu
        self.conv = nn.Conv2d(cin, cout, k, stride=stride, padding=k // 2, bias=False)
        self.bn = nn.BatchNorm2d(cout, eps=BN_EPS, momentum=BN_MOMENTUM)

    def forward(self, x):
        x = self.bn(self.conv(x))
        return torch.relu(x) if self.relu else x


class Block(nn.Module):
    """Residual block: branch units (ReLU after all but the last), shortcut
    (identity, or 1x1 conv + BN with the block's stride when the stride or the
    channel count changes), add, ReLU."""

    def __init__(self, cin, width, stride, bottleneck, expansion):
        super().__init__()
        if bottleneck:  # 1x1 -> 3x3 (the stride) -> 1x1 to width * expansion
            plan = [(cin, width, 1, 1), (width, width, 3, stride), (width, width * expansion, 1, 1)]
        else:           # 3x3 (the stride) -> 3x3
            plan = [(cin, width, 3, stride), (width, width, 3, 1)]
        self.units = []
        for i, (a, b, k, s) in enumerate(plan, start=1):
            self.add_module(f"conv{i}", nn.Conv2d(a, b, k, stride=s, padding=k // 2, bias=False))
            self.add_module(f"bn{i}", nn.BatchNorm2d(b, eps=BN_EPS, momentum=BN_MOMENTUM))
            self.units.append((f"conv{i}", f"bn{i}", i < len(plan)))  # ReLU on all but the last
        self.cout = plan[-1][1]
        self.shortcut = ConvBN(cin, self.cout, 1, stride, relu=False) \
            if stride != 1 or cin != self.cout else None
        self.branch_scale = 1.0  # drop-path at inference: see branch_scales()

    def forward(self, x):
        y = x
        for conv, bn, relu in self.units:
            y = getattr(self, bn)(getattr(self, conv)(y))
            if relu:
                y = torch.relu(y)
        if self.branch_scale != 1.0:
            y = y * self.branch_scale
        s = x if self.shortcut is None else self.shortcut(x)
        return torch.relu(y + s)


class Net(nn.Module):
    def __init__(self, spec, in_c, classes):
        super().__init__()
        self.stem = ConvBN(in_c, spec["stem_width"], spec["stem_kernel"], 1, relu=True)
        c = spec["stem_width"]
        self.stages = []
        for s, (n, width, stride) in enumerate(zip(spec["blocks"], spec["widths"],
                                                   spec["strides"]), start=1):
            stage = nn.Module()
            for j in range(n):
                block = Block(c, width, stride if j == 0 else 1, spec["bottleneck"],
                              spec["expansion"])
                stage.add_module(f"block{j}", block)
                c = block.cout
            self.add_module(f"stage{s}", stage)
            self.stages.append(stage)
        self.fc = nn.Linear(c, classes)  # weight [classes, features], bias [classes]

    def forward(self, x):
        x = self.stem(x)
        for stage in self.stages:
            for block in stage.children():
                x = block(x)
        x = x.mean(dim=(2, 3))  # global average pool; dropout is the identity in eval mode
        return self.fc(x)


def branch_scales(meta, n_blocks, path):
    """What eval mode multiplies each residual branch by, block by block over
    all stages: drop_path_survival in per-batch mode (drop_path_mode 'batch'),
    1 otherwise. A file without the keys takes them from its run configuration
    (drop_path_mode, stochastic_depth: linear decay over the blocks)."""
    mode, surv = meta.get("drop_path_mode"), meta.get("drop_path_survival")
    if mode is None and surv is None:
        try:
            cfg = json.loads(meta.get("config") or "{}")
        except ValueError:
            cfg = {}
        if not isinstance(cfg, dict) or cfg.get("drop_path_mode") != "batch":
            return [1.0] * n_blocks
        pl = float(cfg.get("stochastic_depth", 1.0))
        if not 0.0 < pl <= 1.0:
            raise CheckpointError(f"{path}: config stochastic_depth {pl}, expected (0, 1]")
        return [1.0 if pl >= 1.0 else 1.0 - (l + 1) / n_blocks * (1.0 - pl) for l in range(n_blocks)]
    if mode is None or surv is None:
        raise CheckpointError(f"{path}: metadata has only one of drop_path_mode, drop_path_survival")
    if mode not in ("sample", "batch"):
        raise CheckpointError(f"{path}: metadata drop_path_mode={mode!r}, expected 'sample' or 'batch'")
    try:
        p = [float.fromhex(v) if "x" in v.lower() else float(v) for v in surv.split(",")]
    except ValueError as e:
        raise CheckpointError(f"{path}: metadata drop_path_survival unreadable ({e})")
    if len(p) != n_blocks or not all(0.0 < v <= 1.0 for v in p):
        raise CheckpointError(f"{path}: metadata drop_path_survival holds {len(p)} values, expected "
                              f"{n_blocks} in (0, 1]")
    return p if mode == "batch" else [1.0] * n_blocks


def build(meta, tensors, path):
    if meta.get("format") != FORMAT or meta.get("format_version") != VERSION:
        raise CheckpointError(f"{path}: metadata format={meta.get('format')!r} "
                              f"format_version={meta.get('format_version')!r}, expected "
                              f"'{FORMAT}' version '{VERSION}'")
    try:
        c, h, w = (int(v) for v in meta["input"].split("x"))
        classes = int(meta["classes"])
        mean = [float.fromhex(v) for v in meta["normalize_mean"].split(",")]
        std = [float.fromhex(v) for v in meta["normalize_std"].split(",")]
    except (KeyError, ValueError) as e:
        raise CheckpointError(f"{path}: metadata input/classes/normalize_mean/normalize_std "
                              f"unreadable ({e})")
    if len(mean) != c or len(std) != c:
        raise CheckpointError(f"{path}: {len(mean)} means and {len(std)} stds for {c} channels")
    net = Net(parse_spec(meta.get("model", "")), c, classes)
    state = net.state_dict()
    load = {}
    for key, want in state.items():
        if key.endswith("num_batches_tracked"):  # PyTorch's own counter, not in the file
            load[key] = want
            continue
        if key not in tensors:
            raise CheckpointError(f"{path}: no tensor '{key}' (shape {list(want.shape)})")
        if tensors[key].shape != want.shape:
            raise CheckpointError(f"{path}: tensor '{key}' is {list(tensors[key].shape)}, "
                                  f"the documented network has {list(want.shape)}")
        load[key] = tensors[key]
    extra = sorted(k for k in tensors if k not in state and not k.startswith("optimizer."))
    if extra:
        raise CheckpointError(f"{path}: tensor '{extra[0]}' is not part of the documented "
                              f"network ({len(extra)} such)")
    net.load_state_dict(load, strict=True)
    blocks = [b for stage in net.stages for b in stage.children()]
    for block, scale in zip(blocks, branch_scales(meta, len(blocks), path)):
        block.branch_scale = scale
    net.eval()  # batchnorm uses the running statistics
    return net, (c, h, w), mean, std


# ---------------------------------------------------------------- images

def read_netpbm(path, c, h, w):
    with open(path, "rb") as f:
        blob = f.read()
    fields, pos = [], 0
    while len(fields) < 4:  # magic, width, height, maxval; '#' comments allowed
        m = re.compile(rb"\s*(?:#[^\n]*\n\s*)*(\S+)").match(blob, pos)
        if not m:
            raise CheckpointError(f"{path}: not a binary PGM/PPM file")
        fields.append(m.group(1))
        pos = m.end()
    want_magic = b"P5" if c == 1 else b"P6"
    if fields[0] != want_magic or c not in (1, 3):
        raise CheckpointError(f"{path}: {fields[0].decode(errors='replace')} image, the model "
                              f"takes {c} channel(s): expected {want_magic.decode()}")
    if (int(fields[1]), int(fields[2]), int(fields[3])) != (w, h, 255):
        raise CheckpointError(f"{path}: {int(fields[1])}x{int(fields[2])} maxval {int(fields[3])}, "
                              f"expected {w}x{h} maxval 255")
    pixels = blob[pos + 1:pos + 1 + h * w * c]
    if len(pixels) != h * w * c:
        raise CheckpointError(f"{path}: {len(pixels)} pixel bytes, expected {h * w * c}")
    return pixels


def to_input(hwc_bytes, n, c, h, w, mean, std):
    """uint8 HWC images -> float CHW: (p / 255 - mean[ch]) / std[ch]."""
    x = torch.frombuffer(bytearray(hwc_bytes), dtype=torch.uint8).reshape(n, h, w, c)
    x = x.permute(0, 3, 1, 2).to(torch.float32) / 255.0
    m = torch.tensor(mean, dtype=torch.float32).reshape(1, c, 1, 1)
    s = torch.tensor(std, dtype=torch.float32).reshape(1, c, 1, 1)
    return (x - m) / s


def main(argv):
    args, raw, images, describe = argv[1:], None, [], False
    model = None
    i = 0
    while i < len(args):
        a = args[i]
        if a in ("-h", "--help"):
            print(__doc__)
            return 0
        if a == "--describe":
            describe = True
        elif a == "--raw":
            if i + 1 >= len(args):
                raise SystemExit(usage("--raw needs a file"))
            raw = args[i + 1]
            i += 1
        elif a.startswith("-"):
            raise SystemExit(usage(f"unknown option {a}"))
        elif model is None:
            model = a
        else:
            images.append(a)
        i += 1
    if model is None or (raw is None and not images and not describe):
        raise SystemExit(usage("expected MODEL.safetensors and --raw FILE or images"))
    meta, tensors = read_safetensors(model)
    net, (c, h, w), mean, std = build(meta, tensors, model)
    if describe:
        for key in sorted(meta):
            if key != "config":
                print(f"{key}: {meta[key]}", file=sys.stderr)
        print(net, file=sys.stderr)
    blob = bytearray()
    n = 0
    if raw is not None:
        with open(raw, "rb") as f:
            data = f.read()
        if len(data) % (h * w * c):
            raise CheckpointError(f"{raw}: {len(data)} bytes, not a whole number of "
                                  f"{h}x{w}x{c} images")
        blob += data
        n += len(data) // (h * w * c)
    for path in images:
        blob += read_netpbm(path, c, h, w)
        n += 1
    if n == 0:
        return 0
    with torch.no_grad():
        logits = net(to_input(bytes(blob), n, c, h, w, mean, std))
    for row in logits.tolist():
        print(" ".join(f"{v:.9g}" for v in row))
    return 0


def usage(msg):
    print(f"checkpoint_to_torch.py: {msg} (see --help)", file=sys.stderr)
    return 2


if __name__ == "__main__":
    try:
        sys.exit(main(sys.argv))
    except CheckpointError as e:
        print(f"checkpoint_to_torch.py: {e}", file=sys.stderr)
        sys.exit(1)
    except OSError as e:
        print(f"checkpoint_to_torch.py: {e.filename}: {e.strerror}", file=sys.stderr)
        sys.exit(1)
