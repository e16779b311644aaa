#!/usr/bin/env bash
# Noisy Student on top of the same-compute baseline: does a student beat
# training longer when its teacher is already the best supervised model of
# the first budget? For each seed:
#   1. the baseline: the student's architecture and noise on the labeled
#      images only, N epochs (what budget B holds on this machine);
#   2. a selftrain run whose teacher IS that baseline (copied in as its
#      teacher/, the teacher flags matching its recipe, so selftrain reuses
#      it), the pool labeled with flip TTA, one student of M passes;
#   3. the long baseline: the student's architecture and the same noise on the
#      labeled images only for L epochs, what the whole of 2 (N epochs +
#      labeling + M passes) holds on this machine (the same as 1, longer, when
#      the student is the teacher's size).
# The student must beat 3 (the same compute); 1 is its teacher.
#
# usage: experiments/teacher-from-baseline.sh [--bin PATH] [--out DIR] [--seeds "1 2 3"]
#          [--threads N] [--epochs N] [--student-epochs M] [--long-epochs L]
#          [--reuse-baseline PATTERN] [--student-model SPEC]
#   (The labeled/unlabeled split is the default, split seed 1, for every seed, as in
#   experiments/same-compute.sh: seeds vary initialisation, order and noise.)
#   --epochs N          the baseline and teacher's epochs (default 360: 14 minutes of
#                       ResNet-8 in fp32 on a 2-core AVX2 machine)
#   --student-epochs M  the student's passes (default 16: 12-13 minutes there)
#   --long-epochs L     the long baseline's epochs (default 2N: the teacher's time
#                       plus the student's, which the README measured equal within a
#                       minute on that machine; size L from quiet runs elsewhere;
#                       0: skip step 3, the table says "not run")
#   --reuse-baseline P  take step 1 from an earlier run: P with %s for the seed (e.g.
#                       "runs/sc/s%s/baseline-s%s" from experiments/same-compute.sh);
#                       its configuration must be what step 1 would train
#   --student-model S   the student's model, and the long baseline's (default resnet8,
#                       the teacher's): a larger one (e.g. resnet8:mult=2, the paper's
#                       setting) costs more a pass and an epoch, so size --student-epochs
#                       and --long-epochs by its measured times
#   DIR (default runs/teacher-from-baseline) gets baseline-sS/, selftrain-sS/,
#   long-sS/ and results.md. Runs at fixed epochs (seeds may run side by side, at
#   --threads 1); precision fp32. A finished step is not run again. Needs jq.
set -euo pipefail

here="$(cd "$(dirname "$0")" && pwd)"
bin="${NS_BIN:-$here/../build/bin/noisystudent}"
out="runs/teacher-from-baseline" seeds="1 2 3" threads=0 epochs=360 s_epochs=16 long="" reuse="" s_model=resnet8
while [ $# -gt 0 ]; do
  case "$1" in
    --bin) bin="$2"; shift 2 ;;
    --out) out="$2"; shift 2 ;;
    --seeds) seeds="$2"; shift 2 ;;
    --threads) threads="$2"; shift 2 ;;
    --epochs) epochs="$2"; shift 2 ;;
    --student-epochs) s_epochs="$2"; shift 2 ;;
    --long-epochs) long="$2"; shift 2 ;;
    --reuse-baseline) reuse="$2"; shift 2 ;;
    --student-model) s_model="$2"; shift 2 ;;
    -h|--help) awk 'NR > 1 && /^#/ { sub(/^# ?/, ""); print; next } NR > 1 { exit }' "$0"; exit 0 ;;
    *) echo "teacher-from-baseline: unknown argument $1 (see --help)" >&2; exit 2 ;;
  esac
done
[ -n "$long" ] || long=$((2 * epochs))
[ -x "$bin" ] || { echo "teacher-from-baseline: $bin is not an executable (build first or pass --bin)" >&2; exit 1; }
command -v jq >/dev/null || { echo "teacher-from-baseline: jq is needed (apt-get install jq)" >&2; exit 1; }
mkdir -p "$out"

# The quick preset's student recipe, the baseline's and the teacher's here.
aug="randaugment:n=2,m=5" dropout=0.1 sched="cosine:warmup=1" lr=0.2
baseline() { # DIR SEED EPOCHS MODEL
  [ -f "$1/model.safetensors" ] && return 0
  rm -rf "$1"
  "$bin" train --data fashion-mnist --labels-per-class 400 --seed "$2" --model "$4" \
    --augment "$aug" --dropout "$dropout" --stochastic-depth 1 --schedule "$sched" --lr "$lr" --batch 128 \
    --epochs "$3" --eval-every 0 --threads "$threads" --precision fp32 --run-dir "$1"
}
acc() { jq -r '.accuracy' "$1/eval.json"; }
pct() { awk "BEGIN { printf \"%.2f\", 100 * ($1) }"; }

results="$out/results.md"
{
  echo "| seed | teacher = baseline ($epochs epochs) | its labels, correct | student ($s_model, $s_epochs passes) | gain over the teacher | long baseline ($s_model, $long epochs) | student - long baseline |"
  echo "|---|---|---|---|---|---|---|"
} > "$results"
for s in $seeds; do
  bl="$out/baseline-s$s" st="$out/selftrain-s$s" lg="$out/long-s$s"
  if [ -n "$reuse" ]; then
    # shellcheck disable=SC2059
    bl=$(printf "$reuse" "$s" "$s")
    [ "$(jq -r .epochs "$bl/config.json")" = "$epochs" ] ||
      { echo "teacher-from-baseline: $bl/config.json: expected $epochs epochs" >&2; exit 1; }
  fi
  baseline "$bl" "$s" "$epochs" resnet8
  if [ ! -f "$st/report.json" ]; then
    rm -rf "$st"
    mkdir -p "$st"
    cp -r "$bl" "$st/teacher"
    rm -f "$st/teacher/wall_seconds"
    "$bin" selftrain --preset quick --seed "$s" --budget none --precision fp32 \
      --threads "$threads" --label-tta flip --iterations 1 --teacher-epochs "$epochs" \
      --teacher.augment "$aug" --teacher.dropout "$dropout" --teacher.schedule "$sched" --teacher.lr "$lr" \
      --student-model "$s_model" --student-epochs "$s_epochs" --run-dir "$st" | tee "$st.log"
    grep -q "teacher: already trained, skipping" "$st.log" ||
      { echo "teacher-from-baseline: $st retrained its teacher: the copied baseline did not match" >&2; exit 1; }
  fi
  t=$(acc "$bl") f=$(jq -r '.student_test_acc[0]' "$st/report.json")
  p=$(jq -r '.student_pseudo_label_acc[0]' "$st/report.json")
  printf '| %s | %s%% | %s%% | %s%% | %+.2f |' "$s" "$(pct "$t")" "$(pct "$p")" "$(pct "$f")" "$(pct "$f - $t")" >> "$results"
  if [ "$long" -gt 0 ]; then
    baseline "$lg" "$s" "$long" "$s_model"
    l=$(acc "$lg")
    printf ' %s%% | %+.2f |\n' "$(pct "$l")" "$(pct "$f - $l")" >> "$results"
  else
    printf ' not run | |\n' >> "$results"
  fi
done
cat "$results"
