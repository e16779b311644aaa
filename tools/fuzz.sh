#!/usr/bin/env bash
# Builds the libFuzzer targets (fuzz/) with clang under ASan + UBSan and runs
# each on its seed corpus (fuzz/corpus/<target>), one after another.
#   tools/fuzz.sh                      every target for 15 s (what CI runs)
#   tools/fuzz.sh --time 600 idx       one target for at most 600 s
#   tools/fuzz.sh --runs 1000000       every target for one million executions
# Exit status: 0 when no target found anything, 1 on a finding (the input
# that triggered it is kept as $FUZZ_BUILD_DIR/artifacts/<target>-crash-...,
# rerun it with build-fuzz/fuzz/fuzz_<target> <file>), 2 on a usage error.
# New inputs go to $FUZZ_BUILD_DIR/corpus/<target>, never into fuzz/corpus.
# Environment: FUZZ_BUILD_DIR (default build-fuzz), JOBS (build jobs).
set -euo pipefail
cd "$(dirname "$0")/.."

BUILD=${FUZZ_BUILD_DIR:-build-fuzz}
JOBS=${JOBS:-$(nproc)}
all=(idx cifar safetensors label_file image config model_spec augment_spec schedule)
limit=(-max_total_time=15)
targets=()
while [ $# -gt 0 ]; do
  case "$1" in
    --time) [ $# -ge 2 ] || { echo "fuzz.sh: --time needs seconds" >&2; exit 2; }
            limit=(-max_total_time="$2"); shift 2 ;;
    --runs) [ $# -ge 2 ] || { echo "fuzz.sh: --runs needs a count" >&2; exit 2; }
            limit=(-runs="$2"); shift 2 ;;
    -h|--help) sed -n '2,12p' "$0"; exit 0 ;;
    -*) echo "fuzz.sh: unknown option $1 (expected --time S, --runs N, target names)" >&2; exit 2 ;;
    *) [[ " ${all[*]} " == *" $1 "* ]] || { echo "fuzz.sh: no target '$1' (targets: ${all[*]})" >&2; exit 2; }
       targets+=("$1"); shift ;;
  esac
done
[ ${#targets[@]} -gt 0 ] || targets=("${all[@]}")

command -v clang >/dev/null || { echo "fuzz.sh: clang not found (bash tools/setup.sh deps installs it)" >&2; exit 1; }
CC=clang cmake -S . -B "$BUILD" -DNS_FUZZ=ON -DCMAKE_BUILD_TYPE=RelWithDebInfo >/dev/null
cmake --build "$BUILD" -j "$JOBS" >/dev/null

mkdir -p "$BUILD/artifacts" "$BUILD/logs"
status=0
printf '%-13s %10s %7s %7s %7s  %s\n' target execs seconds cov features result
for t in "${targets[@]}"; do
  mkdir -p "$BUILD/corpus/$t"
  log="$BUILD/logs/$t.log"
  start=$(date +%s.%N)
  # -timeout: one input running this long is a finding (a hang); -rss_limit_mb:
  # so is a parser that asks for this much memory. Fuzzing output goes to the log.
  rc=0
  "$BUILD/fuzz/fuzz_$t" "${limit[@]}" -timeout=10 -rss_limit_mb=2048 -print_final_stats=1 \
    -artifact_prefix="$BUILD/artifacts/$t-" "$BUILD/corpus/$t" "fuzz/corpus/$t" >"$log" 2>&1 || rc=$?
  secs=$(awk -v a="$start" -v b="$(date +%s.%N)" 'BEGIN { print b - a }')
  # A target that dies while loading its corpus prints no cov: line; the
  # greps must not end the script (set -e) before the finding is reported.
  execs=$(sed -n 's/^stat::number_of_executed_units: *//p' "$log" | tail -1)
  cov=$(grep -o 'cov: [0-9]*' "$log" | tail -1 | cut -d' ' -f2 || true)
  ft=$(grep -o 'ft: [0-9]*' "$log" | tail -1 | cut -d' ' -f2 || true)
  if [ $rc -eq 0 ]; then result=ok; else result="FINDING (exit $rc, log $log)"; status=1; fi
  printf '%-13s %10s %7.1f %7s %7s  %s\n' "$t" "${execs:-?}" "$secs" "${cov:-?}" "${ft:-?}" "$result"
  if [ $rc -ne 0 ]; then grep -E 'ERROR|SUMMARY|runtime error|Test unit written' "$log" | head -5 >&2 || true; fi
done
exit $status
