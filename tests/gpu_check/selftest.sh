#!/usr/bin/env bash
# The proof that tools/gpu-check survives a bare GPU machine, run here without a
# GPU: a carried tree is prepared from a build, then run in a simulated bare
# environment (PATH without compilers, cmake, pkg-config, nvcc or nvidia-smi, so
# no cmocka/jansson development files can be found; cuDNN and cuBLAS only in
# wheel-style folders site-packages/nvidia/{cudnn,cublas}/lib reached through
# PYTHONPATH, with no unversioned libcudnn.so link; the system's CUDA libraries
# are not searched).
#
#   selftest.sh GPU_CHECK BUILD quick   (ctest gpu_check_carry, ~10 s)
#     --prepare: no absolute RUNPATH (readelf), the cuda plugin needs
#     libcudnn.so.9, size under the carry limit; --run: preflight says what is
#     there and what is not, the plugin resolves cuDNN from the wheel folder,
#     every CUDA step SKIPS saying why, exactly summary.md + gpu-check.tar.gz.
#   selftest.sh GPU_CHECK BUILD full    (tools/gpu-check --self-test, ~2 min)
#     the same, then NS_GPU_CHECK_SMOKE=ref runs every step on ref at toy sizes
#     within its budget; a step that outruns its box is TIMED OUT and the check
#     still passes; SIGKILL and SIGTERM in the middle leave a summary and a
#     readable tarball of what was done; mode (a): configure without cmocka
#     turns the tests off, without jansson stops with a line naming mode (b).
# Exit 0 pass, 1 fail (the first broken promise named), 77 skip (no cuda
# plugin in BUILD, or patchelf/readelf missing).
set -u
GC=${1:?usage: selftest.sh GPU_CHECK BUILD [quick|full]}
B=${2:-}
LEVEL=${3:-full}
ROOT=$(cd "$(dirname "$GC")/.." && pwd)
[ -n "$B" ] || B=${NS_GPU_CHECK_BUILD:-"$ROOT/build-gpu-check"}
B=$(cd "$B" 2>/dev/null && pwd) || { echo "gpu-check self-test: skipped: no build folder '$2'"; exit 77; }

if [ ! -f "$B/plugins/ns_backend_cuda.so" ]; then
    echo "gpu-check self-test: skipped: $B has no cuda plugin (it needs nvcc, the CUDA toolkit and cuDNN at build time)"
    exit 77
fi
for t in patchelf readelf objdump ldd strip python3; do
    command -v $t >/dev/null || { echo "gpu-check self-test: skipped: $t not installed (tools/setup.sh)"; exit 77; }
done

T=$(mktemp -d -t gpu-check-selftest.XXXXXX)
cleanup() {
    local f
    # a step's `timeout` runs in a process group of its own: end those left by a kill
    for f in "$T"/logs-*/step.pid; do
        [ -f "$f" ] && kill -KILL -- "-$(cat "$f")" 2>/dev/null
    done
    [ "${KEEP:-0}" = 1 ] && echo "kept $T" >&2 || rm -rf "$T"
}
trap cleanup EXIT
KEEP=${NS_SELFTEST_KEEP:-0} # 1: keep the scratch folder (summaries, logs) to read
fail() { echo "gpu-check self-test: FAILED: $*" >&2; exit 1; }
has() { grep -qF -- "$2" "$1" || fail "$(basename "$(dirname "$1")")/$(basename "$1") lacks '$2'"; }
hasnt() { ! grep -qF -- "$2" "$1" || fail "$(basename "$(dirname "$1")")/$(basename "$1") has '$2'"; }
t0=$(date +%s)

# ---- 1. the carried tree
"$GC" --from-build "$B" --prepare "$T/carry" >"$T/prepare.log" 2>&1 ||
    fail "--prepare: $(tail -3 "$T/prepare.log")"
C=$T/carry
for f in "$C"/bin/* "$C"/lib/* "$C"/plugins/*.so; do
    rp=$(readelf -d "$f" | grep -E '\((RUNPATH|RPATH)\)' | sed 's/.*\[\(.*\)\]/\1/')
    case ":$rp:" in *:/*) fail "$f keeps an absolute RUNPATH: $rp" ;; esac
    case "$rp" in '$ORIGIN'*) ;; *) fail "$f: RUNPATH '$rp' is not \$ORIGIN-relative" ;; esac
    # every library it needs is in the folder, or is the C runtime / a CUDA library
    ldd "$f" | awk '$3 ~ /^\// { print $1, $3 }' | while read -r n p; do
        case "$n" in libc.so* | libm.so* | libdl.so* | libpthread.so* | librt.so* | ld-linux* | libstdc++* | libgcc_s* | \
            libcudnn* | libcublas* | libcuda.so* | libnccl*) continue ;; esac
        case "$p" in "$C"/*) ;; *) echo "$f: $n resolves to $p, outside the carried folder" >"$T/outside"; exit 1 ;; esac
    done || fail "$(cat "$T/outside")"
done
readelf -d "$C/plugins/ns_backend_cuda.so" | grep -q 'NEEDED.*\[libcudnn\.so\.9\]' ||
    fail "the cuda plugin does not need the soname libcudnn.so.9: $(readelf -d "$C/plugins/ns_backend_cuda.so" | grep cudnn)"
for lib in libjansson.so.4 libnoisystudent.so.0; do [ -f "$C/lib/$lib" ] || fail "$lib not carried"; done
bytes=$(du -sb "$C" | cut -f1)
[ "$bytes" -lt $((64 * 1024 * 1024)) ] || fail "the carried folder is $bytes bytes, over 64 MiB"
has "$C/MANIFEST.txt" "## size"

# ---- 2. the bare machine: cuDNN/cuBLAS only as wheel folders, no toolchain
W=$T/site/nvidia
mkdir -p "$W/cudnn/lib" "$W/cublas/lib" "$T/bin"
src=$(ldconfig -p | awk '$1 == "libcudnn.so.9" { print $NF; exit }')
[ -n "$src" ] || src=/usr/local/cuda/lib64/libcudnn.so.9
[ -e "$src" ] || { echo "gpu-check self-test: skipped: no libcudnn.so.9 here to make a wheel folder of"; exit 77; }
srcdir=$(dirname "$src")
cp -L "$src" "$W/cudnn/lib/libcudnn.so.9" # the one the plugin needs: a real copy
for f in "$srcdir"/libcudnn_*.so.9; do ln -s "$f" "$W/cudnn/lib/"; done # its engines (large): links
for f in libcublas.so.13 libcublasLt.so.13; do
    p=$(ldconfig -p | awk -v s="$f" '$1 == s { print $NF; exit }')
    [ -n "$p" ] && ln -s "$p" "$W/cublas/lib/$f"
done
for f in /usr/bin/* /usr/sbin/ldconfig; do
    case "${f##*/}" in # no basename process per file: 1,500 files
    pkg-config | *-pkg-config | pkgconf | cc | c++ | gcc* | g++* | cpp* | clang* | cmake | ctest | cpack | \
        nvcc | nvidia-smi | compute-sanitizer | x86_64-linux-gnu-gcc* | ld | ld.* | x86_64-linux-gnu-ld*) continue ;;
    esac
    ln -s "$f" "$T/bin/"
done
bare() { # bare LOGS OUT [VAR=VALUE ...]: gpu-check --run in the bare environment
    local logs=$1 out=$2
    shift 2
    set -- env -i HOME="$T" PATH="$T/bin" PYTHONPATH="$T/site" NS_GPU_CHECK_NO_SYSTEM_CUDA_LIBS=1 \
        NS_GPU_CHECK_LOGS="$T/$logs" "$@" bash "$GC" --run "$C" "$T/$out"
    # in the background (killed_run) the signal must reach gpu-check itself
    if [ "${BARE_EXEC:-0}" = 1 ]; then exec "$@"; else "$@"; fi
}

# ---- 3. no GPU: the CUDA steps skip, saying why; two files come back
bare logs-skip out-skip NS_GPU_CHECK_BUDGET=120 >"$T/skip.log" 2>&1 || fail "--run without smoke exited $?: $(tail -3 "$T/skip.log")"
S=$T/out-skip/summary.md
[ "$(ls -A "$T/out-skip" | paste -sd' ')" = "gpu-check.tar.gz summary.md" ] ||
    fail "RESULTS_DIR holds '$(ls -A "$T/out-skip" | paste -sd' ')', expected gpu-check.tar.gz summary.md"
has "$S" "gpu: nvidia-smi not found"
has "$S" "pkg-config: absent"
has "$S" "cmocka: dev no"
has "$S" "jansson: dev no"
has "$S" "cmake: absent; cc: absent; pkg-config: absent"
has "$S" "cuDNN: headers none;"
has "$S" "libcudnn.so.9 $W/cudnn/lib wheel, no unversioned link"
has "$S" "libcudnn.so.9 => $W/cudnn/lib/libcudnn.so.9"
has "$S" "cuda plugin loads (dlopen, descriptor, probe): ok"
has "$S" "parity on cuda (fp32, bf16, fp16): SKIPPED (cuda backend not usable here: no CUDA device"
has "$S" "selftrain --preset quick on cuda: SKIPPED"
has "$S" "0 failed, 0 timed out"
tar -tzf "$T/out-skip/gpu-check.tar.gz" | grep -q '/summary.md$' || fail "the tarball has no summary.md"
# the promise is 5 s; quick (CI, on 2 shared cores under any load) allows 30 s
pf=$(sed -n 's/^- preflight took \([0-9]*\) ms$/\1/p' "$S")
pf_max=5000
[ "$LEVEL" = quick ] && pf_max=30000
[ -n "$pf" ] && [ "$pf" -le $pf_max ] || fail "preflight took '${pf}' ms, more than $pf_max ms"
echo "gpu-check self-test: carried tree and bare run without GPU: ok ($(( $(date +%s) - t0 )) s)"
[ "$LEVEL" = quick ] && exit 0

# ---- 4. every step on ref at toy sizes, within the budget
bare logs-smoke out-smoke NS_GPU_CHECK_SMOKE=ref NS_GPU_CHECK_BUDGET=240 >"$T/smoke.log" 2>&1 ||
    fail "--run with the ref smoke exited $?: $(grep -E 'FAILED|TIMED' "$T/out-smoke/summary.md" | head -3)"
S=$T/out-smoke/summary.md
for l in "parity ref fp32 against ref: ok" "[  PASSED  ] 17 test(s)." "bench ref resnet8 batch 16 fp32: ok" \
    "bench --backend ref --check ref fp32: ok" "selftrain --preset quick --backend ref (small epochs, Fashion-MNIST subset): ok" \
    "| resnet8 | 16 | fp32 |" "0 failed, 0 timed out" "PASS"; do has "$S" "$l"; done
total=$(sed -n 's/^total: \([0-9]*\) s of \([0-9]*\).*/\1 \2/p' "$S")
[ -n "$total" ] && [ "${total% *}" -le "${total#* }" ] || fail "total '$total' beyond the budget"
echo "gpu-check self-test: smoke run on ref: ok (${total% *} s of ${total#* })"

# ---- 5. a step that outruns its box is TIMED OUT, not a failure
bare logs-box out-box NS_GPU_CHECK_SMOKE=ref NS_GPU_CHECK_BOX_selftrain=2 >"$T/box.log" 2>&1 ||
    fail "a timed-out step made the check exit non-zero: $(grep -E 'FAILED|TIMED' "$T/out-box/summary.md" | head -3)"
S=$T/out-box/summary.md
has "$S" "selftrain --preset quick --backend ref (small epochs, Fashion-MNIST subset): TIMED OUT after its 2 s box"
has "$S" "0 failed, 1 timed out"
echo "gpu-check self-test: time box: ok"

# ---- 6. killed in the middle (SIGKILL, then SIGTERM): what was done is there
killed_run() { # killed_run SIGNAL NAME: prints the exit status
    local sig=$1 name=$2 pid i
    BARE_EXEC=1 bare "logs-$name" "out-$name" NS_GPU_CHECK_SMOKE=ref >"$T/$name.log" 2>&1 &
    pid=$!
    for i in $(seq 1 900); do # wait until the selftrain step has started
        grep -q "selftrain" "$T/logs-$name/current-step" 2>/dev/null && break
        sleep 0.2
    done
    sleep 1
    kill "-$sig" "$pid"
    wait "$pid" 2>/dev/null
    echo $?
    # SIGKILL leaves the step's own process group running: end it here (after
    # SIGTERM gpu-check must have ended it itself: checked by the caller)
    [ "$sig" = KILL ] && [ -f "$T/logs-$name/step.pid" ] && kill -KILL -- "-$(cat "$T/logs-$name/step.pid")" 2>/dev/null
    return 0
}
rc=$(killed_run KILL kill9)
S=$T/out-kill9/summary.md
[ -f "$S" ] || fail "SIGKILL left no summary.md"
has "$S" "bench --backend ref --check ref fp32: ok"
hasnt "$S" "total:"
tar -tzf "$T/out-kill9/gpu-check.tar.gz" | grep -q 'check_ref_fp32.txt$' || fail "after SIGKILL the tarball lacks check_ref_fp32.txt"
rc=$(killed_run TERM term)
S=$T/out-term/summary.md
[ "$rc" = 143 ] || fail "SIGTERM: exit status $rc, expected 143"
has "$S" "selftrain --preset quick --backend ref (small epochs, Fashion-MNIST subset): KILLED"
has "$S" "stopped by a signal"
sleep 6 # timeout's --kill-after=5
kill -0 -- "-$(cat "$T/logs-term/step.pid")" 2>/dev/null && fail "after SIGTERM the running step's processes are still there"
tar -tzf "$T/out-term/gpu-check.tar.gz" | grep -q '/summary.md$' || fail "after SIGTERM the tarball has no summary.md"
echo "gpu-check self-test: SIGKILL and SIGTERM mid-run: ok"

# ---- 7. mode (a) on a machine without cmocka, then without jansson
PC=$T/pc
mkdir -p "$PC/no-cmocka" "$PC/no-jansson"
for d in $(pkg-config --variable pc_path pkg-config | tr ':' ' '); do
    for f in "$d"/*.pc; do
        [ -e "$f" ] || continue
        case "${f##*/}" in cmocka.pc) ;; *) ln -sf "$f" "$PC/no-cmocka/" ;; esac
        case "${f##*/}" in cmocka.pc | jansson.pc) ;; *) ln -sf "$f" "$PC/no-jansson/" ;; esac
    done
done
PKG_CONFIG_LIBDIR="$PC/no-cmocka" cmake -S "$ROOT" -B "$T/build-a" -DCMAKE_BUILD_TYPE=Release -DNS_MPI=OFF >"$T/cfg-a.log" 2>&1 ||
    fail "configure without cmocka failed: $(grep -m1 -i error "$T/cfg-a.log")"
has "$T/cfg-a.log" "tests: off (cmocka not found"
NS_GPU_CHECK_BUILD="$T/build-b" NS_GPU_CHECK_LOGS="$T/logs-a" PKG_CONFIG_LIBDIR="$PC/no-jansson" \
    bash "$GC" "$T/out-a" >"$T/a.log" 2>&1 && fail "mode (a) without jansson exited 0"
S=$T/out-a/summary.md
has "$S" "configure (Release): FAILED"
has "$S" "jansson not found: required by the host library"
has "$S" "use mode (b)"
echo "gpu-check self-test: mode (a) without cmocka / without jansson: ok"
echo "gpu-check self-test: all ok ($(( $(date +%s) - t0 )) s)"
