#!/usr/bin/env bash
# The scale benchmark of packed .nsds shards (issue 14), one command:
#
#   bash bench/scale/run.sh [N]        (N pool images, default 2000000: about 6 GB)
#
# 1. generates a 32x32x3 labeled set (Fashion-MNIST train/test as coloured,
#    cropped, shifted variants) and an N-image pool of such variants, streamed
#    to IDX files (gen_scale_pool), and packs them (noisystudent pack);
# 2. trains a small teacher on the labeled set, labels the .nsds pool with it;
# 3. trains the same student for the same steps three times: on a small pool
#    held in memory (IDX), on the same small pool packed (.nsds), and on the
#    N-image .nsds pool;
# and reports pack images/s, label images/s, the students' images/s and the
# peak resident memory of every step (/usr/bin/time -v).
#
# Environment: BUILD (default build), WORK (default $BUILD/scale-bench; needs
# about 2 x 3 KiB x N of disk while packing, 3 KiB x N after), BACKEND
# (default cpu), THREADS (default 2), SMALL (in-memory pool size, default
# 100000), STOP_AFTER=pack (only generate, pack and check: the pack figures
# at full size in minutes), MODEL (teacher and student, default resnet8:width=8: small, so the
# storage path rather than the convolutions shows), PER_CLASS (pseudo-labeled
# images per class of every student, default 5000: the same number of steps
# whatever the pool's size), KEEP=1 keeps WORK afterwards.
set -euo pipefail

# The whole script is one function, parsed before it runs: editing this file
# while a long run is in progress cannot change what that run does.
main() {

local N=${1:-2000000}
ROOT=$(cd "$(dirname "$0")/../.." && pwd)
BUILD=${BUILD:-$ROOT/build}
WORK=${WORK:-$BUILD/scale-bench}
BACKEND=${BACKEND:-cpu}
THREADS=${THREADS:-2}
SMALL=${SMALL:-100000}
MODEL=${MODEL:-resnet8:width=8}
PER_CLASS=${PER_CLASS:-5000}   # pseudo-labels per class: every student takes the same steps
(( SMALL > N )) && SMALL=$N
NS=$BUILD/bin/noisystudent
GEN=$BUILD/bin/gen_scale_pool

cmake --build "$BUILD" -j"$THREADS" --target noisystudent_cli gen_scale_pool ns_backend_"$BACKEND" >/dev/null

need=$(( N * 3072 * 2 / 1024 + 4 * 1024 * 1024 ))   # KiB: pool IDX + shards + 4 GiB slack
mkdir -p "$WORK"
avail=$(df -Pk "$WORK" | awk 'NR==2 {print $4}')
if (( avail < need )); then
    echo "run.sh: $WORK has $((avail / 1024 / 1024)) GiB free, N=$N needs about $((need / 1024 / 1024)) GiB" >&2
    exit 1
fi
rm -rf "$WORK"/*
RES=$WORK/results.txt
: > "$RES"

# timed NAME CMD...: runs CMD under /usr/bin/time -v, keeps its output in
# WORK/NAME.log, records seconds and peak RSS.
timed() {
    local name=$1; shift
    /usr/bin/time -v -o "$WORK/$name.time" "$@" > "$WORK/$name.log" 2>&1 || {
        echo "run.sh: step $name failed:" >&2; tail -5 "$WORK/$name.log" >&2; exit 1; }
    local rss wall
    rss=$(awk -F': ' '/Maximum resident set size/ {print $2}' "$WORK/$name.time")
    wall=$(awk -F': ' '/Elapsed \(wall clock\)/ {print $2}' "$WORK/$name.time")
    echo "$name wall=$wall peak_rss_mib=$((rss / 1024))" | tee -a "$RES"
}

echo "== data (N=$N, small in-memory pool $SMALL) =="
mkdir -p "$WORK/labeled/train" "$WORK/labeled/test"
"$GEN" train 60000 "$WORK/lab-img.idx" "$WORK/lab-lab.idx" 7
"$GEN" test 10000 "$WORK/test-img.idx" "$WORK/test-lab.idx" 8
"$NS" pack "idx:$WORK/lab-img.idx,$WORK/lab-lab.idx" --out "$WORK/labeled/train/fm.nsds" --quiet >/dev/null
"$NS" pack "idx:$WORK/test-img.idx,$WORK/test-lab.idx" --out "$WORK/labeled/test/fm.nsds" --quiet >/dev/null
rm -f "$WORK"/lab-*.idx "$WORK"/test-*.idx
"$GEN" train "$SMALL" "$WORK/small-img.idx" "$WORK/small-lab.idx" 3
"$NS" pack "idx:$WORK/small-img.idx,$WORK/small-lab.idx" --out "$WORK/small.nsds" --quiet >/dev/null
SMALL_MEM="idx:$WORK/small-img.idx,$WORK/small-lab.idx"
t0=$(date +%s.%N)
"$GEN" train "$N" "$WORK/pool-img.idx" "$WORK/pool-lab.idx" 1
echo "generate wall_s=$(echo "$(date +%s.%N) - $t0" | bc)" | tee -a "$RES"

echo "== pack =="
timed pack "$NS" pack "idx:$WORK/pool-img.idx,$WORK/pool-lab.idx" --out "$WORK/pool.nsds" \
    --shard-bytes $((1 << 30)) --threads "$THREADS" --quiet
grep '^packed' "$WORK/pack.log" | tee -a "$RES"
rm -f "$WORK"/pool-*.idx
du -sh "$WORK"/pool-*.nsds | tail -1
timed check "$NS" pack --check "$WORK"/pool-*.nsds
if [[ ${STOP_AFTER:-} == pack ]]; then
    echo "== summary (N=$N; $(lscpu | awk -F': *' '/Model name/ {print $2}'), $(nproc) cores): pack only ==" | tee -a "$RES"
    [[ ${KEEP:-0} == 1 ]] || rm -rf "$WORK"/pool-*.nsds "$WORK"/small*
    exit 0
fi

echo "== teacher =="
COMMON=(--backend "$BACKEND" --threads "$THREADS" --labels-per-class 300 --batch 64 --seed 1)
timed teacher "$NS" train "${COMMON[@]}" --data "$WORK/labeled" --model "$MODEL" --epochs 2 \
    --run-dir "$WORK/teacher"

echo "== label =="
timed label "$NS" label --backend "$BACKEND" --threads "$THREADS" --model "$WORK/teacher/model.safetensors" \
    --unlabeled "$WORK/pool.nsds" --out "$WORK/pool.nspl" --batch 512
timed label_small_mem "$NS" label --backend "$BACKEND" --threads "$THREADS" \
    --model "$WORK/teacher/model.safetensors" --unlabeled "$SMALL_MEM" --out "$WORK/small-mem.nspl" --batch 512
timed label_small_nsds "$NS" label --backend "$BACKEND" --threads "$THREADS" \
    --model "$WORK/teacher/model.safetensors" --unlabeled "$WORK/small.nsds" --out "$WORK/small-nsds.nspl" --batch 512

echo "== students (same steps, same noise) =="
STUDENT=(--data "$WORK/labeled" --model "$MODEL" --epochs 1 --unlabeled-ratio 3 --augment randaugment:n=2,m=9
         --dropout 0.5 --stochastic-depth 0.8 --eval-every 0 --per-class "$PER_CLASS")
timed student_small_mem "$NS" train "${COMMON[@]}" "${STUDENT[@]}" --pseudo "$WORK/small-mem.nspl" \
    --run-dir "$WORK/student-small-mem"
timed student_small_nsds "$NS" train "${COMMON[@]}" "${STUDENT[@]}" --pseudo "$WORK/small-nsds.nspl" \
    --run-dir "$WORK/student-small-nsds"
timed student_pool_nsds "$NS" train "${COMMON[@]}" "${STUDENT[@]}" --pseudo "$WORK/pool.nspl" \
    --run-dir "$WORK/student-pool-nsds"

ips() { python3 -c "import json,sys; r=[json.loads(l) for l in open(sys.argv[1]) if '\"images_per_s\"' in l]; print('%.0f' % r[-1]['images_per_s'])" "$1"; }
{
    echo "== summary (N=$N; $(lscpu | awk -F': *' '/Model name/ {print $2}'), $(nproc) cores) =="
    echo "pack images/s:   $(grep -o '[0-9]* images/s' "$WORK/pack.log")"
    echo "label images/s:  $(python3 -c "print('%.0f' % ($N / $(awk -F': ' '/Elapsed/ {split($2,a,":"); s=0; for(i=1;i<=length(a);i++) s=s*60+a[i]; print s}' "$WORK/label.time")))") (whole command, model load included)"
    echo "student images/s: small pool in memory $(ips "$WORK/student-small-mem/metrics.jsonl"), small pool .nsds $(ips "$WORK/student-small-nsds/metrics.jsonl"), $N-image pool .nsds $(ips "$WORK/student-pool-nsds/metrics.jsonl")"
} | tee -a "$RES"
echo "results: $RES"
[[ ${KEEP:-0} == 1 ]] || rm -rf "$WORK"/pool-*.nsds "$WORK"/small*
}

main "$@"
