#!/usr/bin/env bash
# Corruption robustness of a finished selftrain run: is the noised student
# more robust than its teacher? (the paper's ImageNet-C question, on our
# `corrupt` op set: 12 corruptions x 5 severities of the test split).
#
# usage: experiments/robustness.sh [--bin PATH] [--backend B] [--threads N]
#                                  [--corruptions SPEC] [--severities LIST]
#                                  [--limit N] [--control NAME=MODEL]... RUN_DIR
#   Evaluates RUN_DIR/teacher/model.safetensors and every RUN_DIR/iterK/student/model.safetensors
#   with `noisystudent eval --corruptions SPEC` (default corrupt:all, severities 1-5),
#   the students with --reference <the teacher>, so each stage's eval.json gets a
#   "corruptions" key with its table, and writes RUN_DIR/robustness.md: one row per
#   model with clean accuracy, mean corrupted accuracy and mCE relative to the teacher
#   (the teacher's is 1 by definition), then the mean accuracy per corruption.
#   --control NAME=MODEL adds a row for another model, also against the teacher, e.g. the
#   same-compute baseline (experiments/same-compute.sh): trained with the students' noise
#   but without pseudo-labels, it separates what the noise buys from what the labels buy.
#   Its table goes to RUN_DIR/robustness-NAME.json (the model's own eval.json is kept).
#   --limit N evaluates only the first N test images; --severities 1 for a smoke test.
#   Every corrupted image is the same on every run (seeded by corruption, severity and
#   image index), so rows of different runs compare image for image.
# Needs jq.
set -euo pipefail

here="$(cd "$(dirname "$0")" && pwd)"
bin="${NS_BIN:-$here/../build/bin/noisystudent}"
backend=auto threads=0 spec="corrupt:all" severities="1-5" limit=0 run="" controls=()
while [ $# -gt 0 ]; do
  case "$1" in
    --bin) bin="$2"; shift 2 ;;
    --backend) backend="$2"; shift 2 ;;
    --threads) threads="$2"; shift 2 ;;
    --corruptions) spec="$2"; shift 2 ;;
    --severities) severities="$2"; shift 2 ;;
    --limit) limit="$2"; shift 2 ;;
    --control) [[ "$2" == ?*=?* ]] || { echo "robustness: --control $2: expected NAME=MODEL" >&2; exit 2; }
               [ -f "${2#*=}" ] || { echo "robustness: --control $2: ${2#*=} not found" >&2; exit 1; }
               controls+=("$2"); shift 2 ;;
    -h|--help) awk 'NR > 1 && /^#/ { sub(/^# ?/, ""); print; next } NR > 1 { exit }' "$0"; exit 0 ;;
    -*) echo "robustness: unknown option $1 (see --help)" >&2; exit 2 ;;
    *) [ -z "$run" ] || { echo "robustness: one RUN_DIR expected, got $run and $1" >&2; exit 2; }
       run="$1"; shift ;;
  esac
done
[ -n "$run" ] || { echo "robustness: RUN_DIR expected (a finished selftrain run; see --help)" >&2; exit 2; }
[ -x "$bin" ] || { echo "robustness: $bin is not an executable (build first or pass --bin)" >&2; exit 1; }
command -v jq >/dev/null || { echo "robustness: jq is needed (apt-get install jq)" >&2; exit 1; }
teacher="$run/teacher/model.safetensors"
[ -f "$teacher" ] || { echo "robustness: $teacher not found (expected a finished selftrain run)" >&2; exit 1; }
# iter1, iter2, ..., iter10 in numeric order.
students=()
while IFS= read -r d; do
  if [ -f "$run/$d/student/model.safetensors" ]; then students+=("$d"); fi
done < <(ls "$run" | grep -E '^iter[0-9]+$' | sort -t r -k 2 -n)
[ ${#students[@]} -gt 0 ] || { echo "robustness: no $run/iterK/student/model.safetensors (no student finished)" >&2; exit 1; }

# Every row after the teacher's: a name, its model and where its table goes.
names=() models=() jsons=()
for s in "${students[@]}"; do
  names+=("$s") models+=("$run/$s/student/model.safetensors") jsons+=("$run/$s/student/eval.json")
done
for c in ${controls[@]+"${controls[@]}"}; do
  names+=("${c%%=*}") models+=("${c#*=}") jsons+=("$run/robustness-${c%%=*}.json")
done

common=(--backend "$backend" --threads "$threads" --corruptions "$spec" --severities "$severities" --limit "$limit")
start=$SECONDS
echo "robustness: teacher" >&2
"$bin" eval --model "$teacher" "${common[@]}" --eval-json "$run/teacher/eval.json"
for i in "${!names[@]}"; do
  echo "robustness: ${names[$i]} (reference: the teacher)" >&2
  "$bin" eval --model "${models[$i]}" --reference "$teacher" "${common[@]}" --eval-json "${jsons[$i]}"
done

pct='(. * 10000 | round / 100 | tostring)'
tmp="$run/robustness.md.tmp.$$"
trap 'rm -f "$tmp"' EXIT
{
  c="$run/teacher/eval.json"
  echo "# Corruption robustness: $(basename "$run")"
  echo
  echo "\`noisystudent eval --corruptions $spec --severities $severities\`$([ "$limit" != 0 ] && echo " --limit $limit")," \
       "$(jq -r '.corruptions.images' "$c") test images of $(jq -r '.corruptions.data' "$c"), op set" \
       "$(jq -r '.corruptions.op_set + " " + .corruptions.op_set_version' "$c");" \
       "mCE = mean over corruptions of (sum over severities of the student's error) / (the same for the teacher):" \
       "below 1, the student is more robust. $((SECONDS - start)) s."
  echo
  echo "| model | clean acc % | mean corrupted acc % | mCE vs teacher |"
  echo "|---|---:|---:|---:|"
  jq -r ".corruptions | \"| teacher | \(.clean_accuracy | $pct) | \(.mean_corrupted_accuracy | $pct) | 1 (reference) |\"" "$c"
  for i in "${!names[@]}"; do
    jq -r --arg s "${names[$i]}" ".corruptions | \"| \(\$s) | \(.clean_accuracy | $pct) | \(.mean_corrupted_accuracy | $pct) | \(.mce * 1000 | round / 1000) |\"" "${jsons[$i]}"
  done
  echo
  echo "Mean accuracy % over the severities, per corruption:"
  echo
  printf '| corruption | teacher |'; for s in "${names[@]}"; do printf ' %s |' "$s"; done; echo
  printf '|---|---:|'; for s in "${names[@]}"; do printf -- '---:|'; done; echo
  n=$(jq '.corruptions.per_corruption | length' "$c")
  for ((k = 0; k < n; k++)); do
    printf '| %s | %s |' "$(jq -r ".corruptions.per_corruption[$k].name" "$c")" \
      "$(jq -r ".corruptions.per_corruption[$k].mean_accuracy | $pct" "$c")"
    for j in "${jsons[@]}"; do
      printf ' %s |' "$(jq -r ".corruptions.per_corruption[$k].mean_accuracy | $pct" "$j")"
    done
    echo
  done
} > "$tmp"
mv "$tmp" "$run/robustness.md"
trap - EXIT
echo "robustness: wrote $run/robustness.md" >&2
