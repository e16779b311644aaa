#!/usr/bin/env bash
# Noisy Student experiments on Fashion-MNIST (400 labels per class): the blog's
# 2x2 table and the ablations of issue #4, each a `noisystudent selftrain` run
# that differs from the quick preset in one thing.
#
# usage: experiments/selftrain-variants.sh [--bin PATH] [--out DIR] [--seed S]
#                                          [--backend B] [--precision P] [--base "FLAGS"]
#                                          [--from RUN]
#                                          [VARIANT ...]
#   --base "FLAGS" adds selftrain flags to the quick preset for every variant (a smoke
#   test: --base "--teacher-epochs 1 --student-epochs 1"; one-step ablations:
#   --base "--iterations 1").
#   --from RUN starts DIR/base from the stages of a finished run of the same
#   configuration (its teacher/ and iter*/ are copied; selftrain skips them), e.g. a
#   main-job run of the same seed, so the base is not trained twice.
#   VARIANT (default: all, in this order):
#     base          the quick preset as it is: teacher without noise, student noised
#     noise-T1-S1   teacher also trained noised (RandAugment 2/5, dropout 0.1), student noised
#     noise-T1-S0   teacher noised, student without any noise (no dropout, stochastic depth,
#                   RandAugment, pad-crop or flip)
#     noise-T0-S0   neither noised (base, noise-T1-S1, noise-T1-S0 and this: the blog's 2x2)
#     hard          one-hot pseudo-labels instead of soft
#     t075          confidence threshold 0.75 (the blog) instead of 0.3 (the paper)
#     no-balance    every pseudo-label that passes the threshold, no per-class balancing
#     larger        a 2x wider student (resnet8:mult=2)
#     iter3         three iterations (the report gives the accuracy after each)
#   A variant reuses the stages it shares with an earlier one (copied into its run
#   directory; selftrain skips a stage whose output exists): the teacher and its
#   labels, or for iter3 the base run's iterations. Each run goes to DIR/<variant>
#   (default DIR: runs/experiments); DIR/results.md collects one line per variant:
#   accuracies, gain, wall time.
# Needs jq (the variants are jq edits of `selftrain --print-config`).
set -euo pipefail

here="$(cd "$(dirname "$0")" && pwd)"
bin="${NS_BIN:-$here/../build/bin/noisystudent}"
out="runs/experiments" seed=1 backend=auto precision="" base_flags="" from_run=""
variants=()
while [ $# -gt 0 ]; do
  case "$1" in
    --bin) bin="$2"; shift 2 ;;
    --out) out="$2"; shift 2 ;;
    --seed) seed="$2"; shift 2 ;;
    --backend) backend="$2"; shift 2 ;;
    --precision) precision="$2"; shift 2 ;;
    --base) base_flags="$2"; shift 2 ;;
    --from) from_run="$2"; shift 2 ;;
    -h|--help) awk 'NR > 1 && /^#/ { sub(/^# ?/, ""); print; next } NR > 1 { exit }' "$0"; exit 0 ;;
    -*) echo "selftrain-variants: unknown option $1 (see --help)" >&2; exit 2 ;;
    *) variants+=("$1"); shift ;;
  esac
done
all=(base noise-T1-S1 noise-T1-S0 noise-T0-S0 hard t075 no-balance larger iter3)
[ ${#variants[@]} -gt 0 ] || variants=("${all[@]}")
[ -x "$bin" ] || { echo "selftrain-variants: $bin is not an executable (build first or pass --bin)" >&2; exit 1; }
command -v jq >/dev/null || { echo "selftrain-variants: jq is needed (apt-get install jq)" >&2; exit 1; }
mkdir -p "$out"

teacher_noise='.teacher.augment = "randaugment:n=2,m=5" | .teacher.dropout = 0.1'
student_clean='.student.dropout = 0 | .student.stochastic_depth = 1 | .student.augment = "none" | .student.pad_crop = 0 | .student.flip = 0'
# variant -> jq edit of the base configuration
edit() {
  case "$1" in
    base) echo '.' ;;
    noise-T1-S1) echo "$teacher_noise" ;;
    noise-T1-S0) echo "$teacher_noise | $student_clean" ;;
    noise-T0-S0) echo "$student_clean" ;;
    hard) echo '.student.pseudo_hard = 1' ;;
    t075) echo '.student.pseudo_threshold = 0.75' ;;
    no-balance) echo '.student.pseudo_per_class = -1' ;;
    larger) echo '.student.model = "resnet8:mult=2"' ;;
    iter3) echo '.iterations = 3' ;;
    *) return 1 ;;
  esac
}
# variant -> "FROM WHAT": copy from variant FROM either its labels (teacher/ and
# iter1/labels.nspl) or its run (teacher/ and every iter*/); empty: a fresh run
reuse() {
  case "$1" in
    base|noise-T1-S1) echo "" ;;
    noise-T1-S0) echo "noise-T1-S1 labels" ;;
    iter3) echo "base run" ;;
    *) echo "base labels" ;;
  esac
}

prec=()
[ -z "$precision" ] || prec=(--precision "$precision")
base_cfg="$out/base-config.json"
# shellcheck disable=SC2086 # base_flags is a list of flags
"$bin" selftrain --preset quick --seed "$seed" $base_flags --run-dir "$out/base" --print-config > "$base_cfg"

for v in "${variants[@]}"; do
  filter="$(edit "$v")" || { echo "selftrain-variants: unknown variant '$v' (expected: ${all[*]})" >&2; exit 2; }
  dir="$out/$v"
  if [ -f "$dir/report.json" ]; then
    echo "== $v: done before ($dir/report.json)"
    continue
  fi
  rm -rf "$dir"
  mkdir -p "$dir"
  if [ "$v" = base ] && [ -n "$from_run" ]; then
    [ -d "$from_run/teacher" ] || { echo "selftrain-variants: --from $from_run: no teacher/ there" >&2; exit 1; }
    cp -r "$from_run/teacher" "$from_run"/iter* "$dir/"
  fi
  jq "$filter | .run_dir = \"$dir\"" "$base_cfg" > "$dir.config.json"
  read -r from what <<<"$(reuse "$v")" || true
  if [ -n "${from:-}" ]; then
    [ -f "$out/$from/report.json" ] || {
      echo "selftrain-variants: $v reuses the stages of $from: run $from first" >&2; exit 1; }
    cp -r "$out/$from/teacher" "$dir/"
    if [ "$what" = run ]; then
      cp -r "$out/$from"/iter* "$dir/"
    else
      mkdir -p "$dir/iter1"
      cp "$out/$from/iter1/labels.nspl" "$dir/iter1/"
    fi
  fi
  echo "== $v: $filter${from:+ (reusing the $what of $from)}"
  /usr/bin/time -f "%e" -o "$dir.seconds" \
    "$bin" selftrain --config "$dir.config.json" --backend "$backend" "${prec[@]}" | tee "$dir.log"
done

{
  echo "| variant | change against the quick preset | teacher | students (iteration 1, 2, ..) | gain of the last | wall s |"
  echo "|---|---|---|---|---|---|"
  for v in "${all[@]}"; do
    [ -f "$out/$v/report.json" ] || continue
    jq -r --arg v "$v" --arg e "$(edit "$v" | sed 's/|/\\|/g')" --arg s "$(cat "$out/$v.seconds" 2>/dev/null || echo -)" '
      def pct: . * 10000 | round / 100;
      "| \($v) | `\($e)` | \(.teacher_test_acc | pct)% | "
      + ([.student_test_acc[] | pct | "\(.)%"] | join(", "))
      + " | \(.student_test_acc[-1] - .teacher_test_acc | pct) | \($s) |"' "$out/$v/report.json"
  done
} > "$out/results.md"
cat "$out/results.md"
