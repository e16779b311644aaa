#!/usr/bin/env bash
# One entry point for a fresh Debian machine, as root:
#   bash tools/setup.sh test   install, build, run the whole test suite, then the
#                              suite again under ASan + UBSan and every fuzz target
#                              for 15 s on its corpus (what CI runs: .ci/run)
#   bash tools/setup.sh main   install, build, run the main job (see README)
#   bash tools/setup.sh sanitize  only the test suite under AddressSanitizer + UBSan
#   bash tools/setup.sh fuzz   only the fuzz targets (tools/fuzz.sh; arguments after
#                              `fuzz` go to it, e.g. fuzz --runs 1000000)
#   bash tools/setup.sh bench  install (with PyTorch), build, run bench/compare
#   bash tools/setup.sh deps   only install the Debian packages
# Environment: BUILD_DIR (default build), JOBS (default: number of cores).
set -euo pipefail
cd "$(dirname "$0")/.."

mode=${1:-test}
BUILD_DIR=${BUILD_DIR:-build}
JOBS=${JOBS:-$(nproc)}

# Every Debian package the build, the tests, the plugins and the main job use.
packages=(
  build-essential cmake pkg-config          # toolchain
  libcmocka-dev                             # tests
  libjansson-dev zlib1g-dev                 # JSON (configs, safetensors headers), gzip
  nettle-dev                                # SHA-256 of what each selftrain stage was made from
  libpng-dev libjpeg-dev                    # preview grids, image-folder sources
  dataset-fashion-mnist                     # the real data of the main job
  libdnnl-dev                               # cpu backend (oneDNN)
  ocl-icd-opencl-dev opencl-headers libclblast-dev pocl-opencl-icd   # opencl backend on PoCL
  python3 python3-pil time                  # benchmark references (PIL), peak memory (/usr/bin/time)
  clang                                     # libFuzzer targets (fuzz/, tools/fuzz.sh)
  libopenmpi-dev openmpi-bin                # many processes, one job (core/dist/, mpirun tests)
  libstb-dev python3-numpy                  # bench/image_resize: stb_image_resize v1 against ours, quality against Pillow
  chromium                                  # report_browser: loads report.html headless
  python3-venv tmux                         # test venv (test_venv); terminal tests (tests/tboard)
  libonnx-dev libprotobuf-c-dev protobuf-c-compiler   # export --format onnx: onnx.proto compiled by protoc-c
  jq                                        # experiments/*.sh read selftrain.json and eval.json
  patchelf                                  # tools/gpu-check --prepare: $ORIGIN-relative RUNPATH in the carried tree
)
# Only for `bench`: PyTorch on the same machine as the reference.
bench_packages=(python3-torch)

install_deps() {
  local missing=()
  for p in "${packages[@]}" "$@"; do
    dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
  done
  if [ ${#missing[@]} -gt 0 ]; then
    echo "setup: installing ${missing[*]}"
    export DEBIAN_FRONTEND=noninteractive
    apt-get update -qq
    apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
  fi
}

# Test-only PyPI tools in one virtual environment, .venv at the repository
# root (ignored by git); tests find it there or through NS_TEST_PYTHON. Every
# package is listed in tools/test-requirements.txt. Without PyPI the suites
# that need it skip, saying so; the rest of the run goes on.
test_venv() {
  { [ -x .venv/bin/python3 ] || python3 -m venv .venv; } &&
    .venv/bin/python3 -m pip install -q -r tools/test-requirements.txt ||
    echo "setup: the test venv (.venv) is incomplete; tests that need it will skip"
}

build() {
  cmake -S . -B "$BUILD_DIR" -DCMAKE_BUILD_TYPE=RelWithDebInfo "$@" >/dev/null
  cmake --build "$BUILD_DIR" -j "$JOBS"
}

# The whole suite under AddressSanitizer + UndefinedBehaviorSanitizer, in a
# build tree of its own. UBSan stops at the first finding (the build passes
# -fno-sanitize-recover), with a stack to find it by.
sanitize() {
  local dir=${BUILD_DIR%/}-sanitize
  BUILD_DIR=$dir build -DNS_SANITIZE=ON
  POCL_CACHE_DIR=${POCL_CACHE_DIR:-$PWD/$dir/pocl-cache} UBSAN_OPTIONS=${UBSAN_OPTIONS:-print_stacktrace=1} \
    ctest --test-dir "$dir" --output-on-failure -j "$JOBS"
}

case "$mode" in
  deps)
    install_deps ;;
  test)
    # Each phase says how long it took, so a slow CI run shows where.
    install_deps
    t=$SECONDS; test_venv; echo "setup: test venv took $((SECONDS - t)) s"
    t=$SECONDS; build; echo "setup: build took $((SECONDS - t)) s"
    t=$SECONDS
    POCL_CACHE_DIR=${POCL_CACHE_DIR:-$PWD/$BUILD_DIR/pocl-cache} \
      ctest --test-dir "$BUILD_DIR" --output-on-failure -j "$JOBS"
    echo "setup: test suite took $((SECONDS - t)) s"
    t=$SECONDS; sanitize; echo "setup: sanitizer build and suite took $((SECONDS - t)) s"
    t=$SECONDS; FUZZ_BUILD_DIR=${BUILD_DIR%/}-fuzz JOBS=$JOBS tools/fuzz.sh --time 15
    echo "setup: fuzz build and targets took $((SECONDS - t)) s" ;;
  main)
    install_deps
    build
    exec tools/main-job.sh "$BUILD_DIR" ;;
  sanitize)
    install_deps
    test_venv
    sanitize ;;
  fuzz)
    install_deps
    shift
    FUZZ_BUILD_DIR=${BUILD_DIR%/}-fuzz JOBS=$JOBS exec tools/fuzz.sh "$@" ;;
  bench)
    install_deps "${bench_packages[@]}"
    build -DCMAKE_BUILD_TYPE=Release
    NS_BIN="$PWD/$BUILD_DIR/bin/noisystudent" exec bench/compare ;;
  *)
    echo "usage: bash tools/setup.sh [test|main|sanitize|fuzz [tools/fuzz.sh options]|bench|deps]" >&2
    exit 2 ;;
esac
