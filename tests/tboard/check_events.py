#!/usr/bin/env python3
"""Reads RUN_DIR/tb with TensorBoard's own EventAccumulator and checks it
against the run's metrics.jsonl and config.json.

  check_events.py RUN_DIR --every N [--pseudo-acc A] [--image TAG=WxH | TAG=file:PATH]...
                  [--files N]

Checks: every number of every metrics.jsonl record (but epoch and step) is
the scalar epoch/<key> at the record's step, and there are no other epoch/*
tags; step/loss and step/lr are logged at each multiple of --every up to the
last step, and the step/loss points of an epoch average to its train_loss;
the config text is config.json; each --image has one event of that size
whose PNG decodes to it; --files events files exist. Prints one line per
failure and exits 1; prints a summary and exits 0 when all hold."""
import argparse
import glob
import json
import math
import os
import sys

from tensorboard.backend.event_processing import event_accumulator as ea
from tensorboard.util import tensor_util

failures = []


def check(ok, msg):
    if not ok:
        failures.append(msg)


def close(a, b, rel=2e-6):
    return abs(a - b) <= rel * max(1.0, abs(a), abs(b))


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("run_dir")
    ap.add_argument("--every", type=int, required=True)
    ap.add_argument("--pseudo-acc", type=float)
    ap.add_argument("--image", action="append", default=[])
    ap.add_argument("--files", type=int)
    ap.add_argument("--red-in", action="append", default=[],
                    help="an image tag that must hold pure red pixels (the frame of a wrong pseudo-label)")
    a = ap.parse_args()
    tb = os.path.join(a.run_dir, "tb")
    files = sorted(glob.glob(os.path.join(tb, "events.out.tfevents.*")))
    if a.files is not None:
        check(len(files) == a.files, f"{tb}: {len(files)} events files, expected {a.files}")
    acc = ea.EventAccumulator(tb, size_guidance={ea.SCALARS: 0, ea.IMAGES: 0, ea.TENSORS: 0})
    acc.Reload()
    tags = acc.Tags()
    scalars = {t: {e.step: e.value for e in acc.Scalars(t)} for t in tags["scalars"]}
    counts = {t: len(acc.Scalars(t)) for t in tags["scalars"]}

    records = [json.loads(l) for l in open(os.path.join(a.run_dir, "metrics.jsonl")) if l.strip()]
    want_epoch_tags = set()
    for r in records:
        for k, v in r.items():
            if k in ("epoch", "step") or not isinstance(v, (int, float)) or isinstance(v, bool):
                continue
            tag = "epoch/" + k
            want_epoch_tags.add(tag)
            got = scalars.get(tag, {}).get(r["step"])
            check(got is not None and close(got, v), f"{tag} at step {r['step']}: {got}, metrics.jsonl has {v}")
        if a.pseudo_acc is not None:
            got = scalars.get("epoch/pseudo_label_acc", {}).get(r["step"])
            check(got is not None and close(got, a.pseudo_acc),
                  f"epoch/pseudo_label_acc at step {r['step']}: {got}, expected {a.pseudo_acc}")
    if a.pseudo_acc is not None:
        want_epoch_tags.add("epoch/pseudo_label_acc")
    got_epoch_tags = {t for t in scalars if t.startswith("epoch/")}
    check(got_epoch_tags == want_epoch_tags, f"epoch tags {sorted(got_epoch_tags)}, expected {sorted(want_epoch_tags)}")
    for t in got_epoch_tags:
        check(counts[t] == len(scalars[t]), f"{t}: {counts[t]} events for {len(scalars[t])} steps (a step twice)")
        check(len(scalars[t]) == len(records) or t == "epoch/val_acc" or t == "epoch/test_acc",
              f"{t}: {len(scalars[t])} points for {len(records)} epochs")

    last = records[-1]["step"] if records else 0
    want_steps = list(range(a.every, last + 1, a.every))
    for t in ("step/loss", "step/lr"):
        check(sorted(scalars.get(t, {})) == want_steps,
              f"{t} at steps {sorted(scalars.get(t, {}))}, expected {want_steps}")
        check(counts.get(t, 0) == len(want_steps), f"{t}: {counts.get(t, 0)} events, expected {len(want_steps)}")
    config = json.load(open(os.path.join(a.run_dir, "config.json")))
    constant = config.get("schedule") == "constant"
    prev = 0
    for r in records:
        pts = [v for s, v in scalars.get("step/loss", {}).items() if prev < s <= r["step"]]
        if pts and (r["step"] - prev) % a.every == 0:
            mean = sum(pts) / len(pts)
            check(close(mean, r["train_loss"], 1e-5),
                  f"step/loss over epoch {r['epoch']} averages {mean}, its train_loss is {r['train_loss']}")
        for s, v in scalars.get("step/lr", {}).items():
            if prev < s <= r["step"]:
                # a constant schedule: every step's lr is the epoch's
                want = r["lr"] if constant else None
                check(v > 0 and (want is None or close(v, want)), f"step/lr at {s}: {v}, expected {want}")
        prev = r["step"]
    check("config" in tags["tensors"], f"no config text (tensor tags {tags['tensors']})")
    if "config" in tags["tensors"]:
        ev = acc.Tensors("config")[-1]
        text = tensor_util.make_ndarray(ev.tensor_proto).item().decode()
        lines = text.split("\n")
        check(all(l.startswith("    ") for l in lines), "config text is not a Markdown code block")
        check(json.loads("\n".join(l[4:] for l in lines)) == config, "config text differs from config.json")
        meta = acc.SummaryMetadata("config")
        check(meta.plugin_data.plugin_name == "text", f"config's plugin is '{meta.plugin_data.plugin_name}'")

    from PIL import Image
    import io
    want_images = set()
    for spec in a.image:
        tag, want = spec.split("=", 1)
        want_images.add(tag)
        evs = acc.Images(tag) if tag in tags["images"] else []
        check(len(evs) == 1, f"{tag}: {len(evs)} image events, expected 1")
        if not evs:
            continue
        ev = evs[0]
        img = Image.open(io.BytesIO(ev.encoded_image_string))
        check(img.size == (ev.width, ev.height), f"{tag}: PNG is {img.size}, the event says {ev.width}x{ev.height}")
        if tag in a.red_in:
            rgb = img.convert("RGB").tobytes()
            reds = sum(1 for i in range(0, len(rgb), 3) if rgb[i:i + 3] == b"\xff\x00\x00")
            check(reds > 0, f"{tag}: no red frame, but wrong pseudo-labels were among the most confident")
        if want.startswith("file:"):
            data = open(want[5:], "rb").read()
            check(ev.encoded_image_string == data, f"{tag}: not the bytes of {want[5:]}")
        else:
            w, h = (int(x) for x in want.split("x"))
            check((ev.width, ev.height) == (w, h), f"{tag}: {ev.width}x{ev.height}, expected {w}x{h}")
    check(set(tags["images"]) == want_images, f"image tags {tags['images']}, expected {sorted(want_images)}")

    for f in failures:
        print("FAIL:", f)
    if failures:
        return 1
    print(f"ok: {len(files)} file(s), {len(records)} epochs, scalar tags {sorted(scalars)}, "
          f"images {sorted(tags['images'])}, text {tags['tensors']}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
