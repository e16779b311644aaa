#!/usr/bin/env bash
# One entry point for a fresh Debian machine, as root:
#   bash tools/setup.sh test   install, build, run the whole test suite (what CI runs)
#   bash tools/setup.sh main   install, build, run the main job (see README)
#   bash tools/setup.sh sanitize  the test suite again under AddressSanitizer + UBSan
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

build() {
  cmake -S . -B "$BUILD_DIR" -DCMAKE_BUILD_TYPE=RelWithDebInfo "$@" >/dev/null
  cmake --build "$BUILD_DIR" -j "$JOBS"
}

case "$mode" in
  deps)
    install_deps ;;
  test)
    install_deps
    build
    export POCL_CACHE_DIR=${POCL_CACHE_DIR:-$PWD/$BUILD_DIR/pocl-cache}
    ctest --test-dir "$BUILD_DIR" --output-on-failure -j "$JOBS" ;;
  main)
    install_deps
    build
    exec tools/main-job.sh "$BUILD_DIR" ;;
  sanitize)
    install_deps
    BUILD_DIR=${BUILD_DIR%/}-sanitize
    build -DNS_SANITIZE=ON
    export POCL_CACHE_DIR=${POCL_CACHE_DIR:-$PWD/$BUILD_DIR/pocl-cache}
    ctest --test-dir "$BUILD_DIR" --output-on-failure -j "$JOBS" ;;
  bench)
    install_deps "${bench_packages[@]}"
    build -DCMAKE_BUILD_TYPE=Release
    NS_BIN="$PWD/$BUILD_DIR/bin/noisystudent" exec bench/compare ;;
  *)
    echo "usage: bash tools/setup.sh [test|main|sanitize|bench|deps]" >&2
    exit 2 ;;
esac
