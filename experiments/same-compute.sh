#!/usr/bin/env bash
# Does Noisy Student beat simply training longer? For each seed: a selftrain run
# of the quick preset (timed), then the same-compute baseline: the final
# student's architecture trained on the labeled images only, with the
# students' noise (RandAugment, dropout, stochastic depth, pad-crop, flip), for
# the selftrain run's whole wall time (`train --budget`: the epochs are fitted
# to that time, measured on this machine in the same session).
#
# usage: experiments/same-compute.sh [--bin PATH] [--out DIR] [--seeds "1 2 3"]
#                                    [--selftrain "FLAGS"] [--threads N]
#                                    [--baseline-epochs N]
#   --selftrain "FLAGS"  extra selftrain flags for every seed (e.g. "--budget 10m",
#                        "--precision fp32"); the baseline uses the resolved
#                        configuration of that run (selftrain.json).
#   --baseline-epochs N  train the baseline for N epochs instead of the selftrain run's
#                        wall time. For seeds run side by side on a shared machine
#                        (--threads 1), where a wall-time budget would measure the
#                        sharing, not the machine: take N from a quiet `train --budget`
#                        of the baseline's configuration (the README says which).
#   DIR (default runs/same-compute) gets selftrain-sS/, baseline-sS/ and results.md:
#   one line per seed (teacher, final student, baseline, student - baseline, times)
#   and the mean. A seed whose runs are complete is not run again.
# Needs jq.
set -euo pipefail

here="$(cd "$(dirname "$0")" && pwd)"
bin="${NS_BIN:-$here/../build/bin/noisystudent}"
out="runs/same-compute" seeds="1 2 3" st_flags="" threads=0 bl_epochs=""
while [ $# -gt 0 ]; do
  case "$1" in
    --bin) bin="$2"; shift 2 ;;
    --out) out="$2"; shift 2 ;;
    --seeds) seeds="$2"; shift 2 ;;
    --selftrain) st_flags="$2"; shift 2 ;;
    --threads) threads="$2"; shift 2 ;;
    --baseline-epochs) bl_epochs="$2"; shift 2 ;;
    -h|--help) awk 'NR > 1 && /^#/ { sub(/^# ?/, ""); print; next } NR > 1 { exit }' "$0"; exit 0 ;;
    *) echo "same-compute: unknown argument $1 (see --help)" >&2; exit 2 ;;
  esac
done
[ -x "$bin" ] || { echo "same-compute: $bin is not an executable (build first or pass --bin)" >&2; exit 1; }
command -v jq >/dev/null || { echo "same-compute: jq is needed (apt-get install jq)" >&2; exit 1; }
mkdir -p "$out"
results="$out/results.md"
{
  echo "| seed | teacher | final student | same-compute baseline (epochs) | student - baseline | selftrain wall s | baseline wall s |"
  echo "|---|---|---|---|---|---|---|"
} > "$results"

acc() { jq -r '.accuracy // empty' "$1/eval.json"; }
calc() { awk "BEGIN { printf \"%.6f\", $1 }"; }
sum_t=0 sum_s=0 sum_b=0 n=0
for s in $seeds; do
  st="$out/selftrain-s$s" bl="$out/baseline-s$s"
  if [ ! -f "$st/report.json" ]; then
    rm -rf "$st"
    t0=$(date +%s.%N)
    # shellcheck disable=SC2086
    "$bin" selftrain --preset quick --seed "$s" --threads "$threads" --run-dir "$st" $st_flags
    calc "$(date +%s.%N) - $t0" > "$st/wall_seconds"
  fi
  wall=$(cat "$st/wall_seconds")
  cfg="$st/selftrain.json"
  iters=$(jq -r .iterations "$cfg")
  model=$(jq -r --argjson k "$iters" '(.grow | split("|") | map(select(length > 0))) as $g
      | if ($g | length) == 0 then .student.model elif ($g | length) >= $k then $g[$k - 1] else $g[-1] end' "$cfg")
  if [ ! -f "$bl/model.safetensors" ]; then
    rm -rf "$bl"
    flags=(--labels-per-class "$(jq -r .teacher.labels_per_class "$cfg")" --split-seed "$(jq -r .teacher.split_seed "$cfg")"
           --data "$(jq -r .teacher.data "$cfg")" --model "$model" --seed "$s"
           --augment "$(jq -r .student.augment "$cfg")" --dropout "$(jq -r .student.dropout "$cfg")"
           --stochastic-depth "$(jq -r .student.stochastic_depth "$cfg")"
           --schedule "$(jq -r .student.schedule "$cfg")" --lr "$(jq -r .student.lr "$cfg")"
           --batch "$(jq -r .student.batch "$cfg")" --eval-every 0 --threads "$threads" --run-dir "$bl")
    if [ -n "$bl_epochs" ]; then
      flags+=(--epochs "$bl_epochs")
    else
      flags+=(--epochs 100000 --budget "${wall%.*}s")
    fi
    [ "$(jq -r .student.pad_crop "$cfg")" = 1 ] || flags+=(--no-pad-crop)
    [ "$(jq -r .student.flip "$cfg")" = 1 ] || flags+=(--no-flip)
    # The selftrain run's precision (selftrain's default is auto: bf16 where native).
    prec=$(echo "$st_flags" | sed -n 's/.*--precision[ =]\([a-z0-9]*\).*/\1/p')
    flags+=(--precision "${prec:-auto}")
    t0=$(date +%s.%N)
    "$bin" train "${flags[@]}" ${NS_BASELINE_FLAGS:-}
    calc "$(date +%s.%N) - $t0" > "$bl/wall_seconds"
  fi
  t=$(jq -r .teacher_test_acc "$st/report.json")
  f=$(jq -r '.student_test_acc[-1]' "$st/report.json")
  b=$(acc "$bl")
  e=$(jq -r .epochs "$bl/config.json")
  bw=$(cat "$bl/wall_seconds")
  printf '| %s | %.2f%% | %.2f%% | %.2f%% (%s) | %+.2f | %.0f | %.0f |\n' "$s" "$(calc "100*$t")" \
    "$(calc "100*$f")" "$(calc "100*$b")" "$e" "$(calc "100*($f-$b)")" "$wall" "$bw" >> "$results"
  sum_t=$(calc "$sum_t+$t") sum_s=$(calc "$sum_s+$f") sum_b=$(calc "$sum_b+$b") n=$((n + 1))
done
printf '| **mean** | %.2f%% | %.2f%% | %.2f%% | **%+.2f** | | |\n' "$(calc "100*$sum_t/$n")" \
  "$(calc "100*$sum_s/$n")" "$(calc "100*$sum_b/$n")" "$(calc "100*($sum_s-$sum_b)/$n")" >> "$results"
cat "$results"
