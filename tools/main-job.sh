#!/usr/bin/env bash
# The main job: Noisy Student on Fashion-MNIST with 400 labels per class, on
# the best backend that works here (--backend auto: cuda, cpu, opencl, ref).
# Usage: tools/main-job.sh [BUILD_DIR]   (after tools/setup.sh has built it)
set -euo pipefail
cd "$(dirname "$0")/.."
BUILD_DIR=${1:-build}
ns="$BUILD_DIR/bin/noisystudent"
run=${NS_RUN_DIR:-runs/main-$(date -u +%Y%m%d-%H%M%S)}

"$ns" plugins
if "$ns" --help | grep -q '^  selftrain'; then
  exec "$ns" selftrain --preset quick --backend auto --run-dir "$run"
fi
# Without the selftrain pipeline in this build: the teacher stage alone.
"$ns" train --backend auto --data fashion-mnist --labels-per-class 400 --model resnet8 \
  --epochs 30 --eval-every 5 --run-dir "$run/teacher"
"$ns" eval --backend auto --model "$run/teacher/model.safetensors"
