#!/bin/sh
# The OpenCL backend against `ref` in one run: for each repeat, ResNet-20
# training and inference images/s on ref, then on opencl, one after the other,
# and the ratio of each pair (pairs, so that load on a shared machine hits both
# sides of a ratio alike). Prints the CPU and the OpenCL device first, so every
# figure says which CPU gave it.
#
#   bench/opencl/vs_ref.sh [BUILD_DIR] [REPEATS] [STEPS]
#
# Defaults: build, 3 repeats, 5 steps (1 warm-up) at batch 128. The first run
# on a cold kernel cache compiles the kernels (a minute on PoCL): it is an
# untimed warm-up here.
set -eu
build=${1:-build}
repeats=${2:-3}
steps=${3:-5}
bin="$build/bin/noisystudent"
[ -x "$bin" ] || { echo "vs_ref.sh: $bin not found (build first, or pass BUILD_DIR)" >&2; exit 2; }
: "${POCL_CACHE_DIR:=$build/pocl-cache}"
export POCL_CACHE_DIR
mkdir -p "$POCL_CACHE_DIR"
cpu=$(sed -n 's/^model name[[:space:]]*: //p' /proc/cpuinfo | head -1)
isa=$(grep -o -w -E 'avx512f|avx2' /proc/cpuinfo | sort -u | tr '\n' ' ')
echo "cpu: $cpu, $(nproc) cores, ${isa:-no avx2}"
"$bin" bench --backend opencl --model resnet20 --batch 128 --steps 1 --warmup 1 --mode infer 2>&1 |
    sed -n 's/^bench: backend /device: /p'

rate() { # backend mode -> images/s
    "$bin" bench --backend "$1" --model resnet20 --batch 128 --steps "$steps" --warmup 1 \
        --mode "$2" 2>/dev/null | awk -v m="$2" '$1 == m { print $2 }'
}
for i in $(seq 1 "$repeats"); do
    for mode in train infer; do
        r=$(rate ref "$mode")
        o=$(rate opencl "$mode")
        echo "$i $mode ref $r opencl $o" |
            awk '{ printf "repeat %s %-5s ref %7.1f  opencl %7.1f images/s  %.2fx\n", $1, $2, $4, $6, $6 / $4 }'
    done
done
