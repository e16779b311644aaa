#!/usr/bin/env bash
# The main job: Noisy Student on Fashion-MNIST with 400 labels per class
# (selftrain --preset quick), on the best backend that works here
# (--backend auto: cuda, cpu, opencl, ref). Ends by printing the teacher's and
# the student's test accuracy side by side; everything lands in the run dir.
# Usage: tools/main-job.sh [BUILD_DIR]   (after tools/setup.sh has built it)
set -euo pipefail
cd "$(dirname "$0")/.."
BUILD_DIR=${1:-build}
ns="$BUILD_DIR/bin/noisystudent"
run=${NS_RUN_DIR:-runs/main-$(date -u +%Y%m%d-%H%M%S)}

"$ns" plugins
exec "$ns" selftrain --preset quick --backend auto --run-dir "$run"
