#!/usr/bin/env bash
# Pseudo-label quality with test-time augmentation while labeling (issue #16,
# "better pseudo-labels for free"): one teacher per seed labels the withheld
# Fashion-MNIST pool (56,000 images at 400 labels per class) with --tta none,
# flip and flip+crops; for each, the pool's true labels give the accuracy of
# every pseudo-label, of those at confidence >= 0.3 (the threshold) and of those
# kept after class balancing (label's own table, the median rule), and the
# wall time of the labeling. Labeling only: no students are trained.
#
# usage: experiments/tta-labels.sh [--bin PATH] [--out DIR] [--seeds "1 2"] [--epochs N]
#                                  [--backend B] [--threshold T]
#   The teacher of seed S is `noisystudent train --labels-per-class 400 --epochs N
#   --seed S --run-dir DIR/teacher-S` (default N 30), trained once: an existing
#   DIR/teacher-S/model.safetensors is reused. Results: DIR/results.md (one row per
#   seed and TTA, appended) and DIR/teacher-S/labels-<tta>.nspl, .txt (label's output).
set -euo pipefail

here="$(cd "$(dirname "$0")" && pwd)"
bin="${NS_BIN:-$here/../build/bin/noisystudent}"
out="runs/tta-labels" seeds="1 2" epochs=30 backend=auto threshold=0.3
while [ $# -gt 0 ]; do
  case "$1" in
    --bin) bin="$2"; shift 2 ;;
    --out) out="$2"; shift 2 ;;
    --seeds) seeds="$2"; shift 2 ;;
    --epochs) epochs="$2"; shift 2 ;;
    --backend) backend="$2"; shift 2 ;;
    --threshold) threshold="$2"; shift 2 ;;
    -h|--help) awk 'NR > 1 && /^#/ { sub(/^# ?/, ""); print; next } NR > 1 { exit }' "$0"; exit 0 ;;
    *) echo "tta-labels: unknown argument $1 (see --help)" >&2; exit 2 ;;
  esac
done
[ -x "$bin" ] || { echo "tta-labels: $bin is not an executable (build first or pass --bin)" >&2; exit 1; }
mkdir -p "$out"

# Accuracy of a label file against the true labels it carries (label_file.h
# layout, versions 1 to 4): all records, and those at confidence >= threshold.
accuracy() {
  python3 - "$1" "$threshold" <<'PY'
import struct, sys
path, thr = sys.argv[1], float(sys.argv[2])
b = open(path, 'rb').read()
magic, version, classes, count, src_len = struct.unpack_from('<4sIIII', b, 0)
assert magic == b'NSPL', path
p = 20 + (32 if version >= 2 else 0) + src_len
if version >= 3:
    p += 4 + struct.unpack_from('<I', b, p)[0]
tta = 'none'
if version >= 4:
    n = struct.unpack_from('<I', b, p)[0]
    tta = b[p + 4:p + 4 + n].decode()
    p += 4 + n
rec = 16 + 4 * classes
known = right = passed = passed_right = 0
for i in range(count):
    _, truth, top, conf = struct.unpack_from('<Iiif', b, p + i * rec)
    if truth < 0:
        continue
    known += 1
    right += truth == top
    if conf >= thr:
        passed += 1
        passed_right += truth == top
print(f"{tta} {known} {100 * right / known:.2f} {passed} {100 * passed_right / max(passed, 1):.2f}")
PY
}

results="$out/results.md" # rows are appended: one invocation per seed adds to the same table
[ -f "$results" ] || {
  echo "| seed | TTA | views | pool accuracy | passed >= $threshold | accuracy of passed | kept after balancing | accuracy of kept | labeling time |"
  echo "|---|---|---|---|---|---|---|---|---|"
} > "$results"
for seed in $seeds; do
  t="$out/teacher-$seed"
  if [ ! -f "$t/model.safetensors" ]; then
    echo "== teacher, seed $seed: $epochs epochs"
    "$bin" train --labels-per-class 400 --epochs "$epochs" --seed "$seed" --backend "$backend" --run-dir "$t"
  fi
  for tta in none flip flip+crops; do
    file="$t/labels-$tta.nspl"
    # wall and CPU (user + system) seconds: on a busy machine the CPU time is the steadier figure
    TIMEFORMAT='%R %U %S'
    times=$( { time "$bin" label --model "$t/model.safetensors" --unlabeled pool --tta "$tta" \
      --threshold "$threshold" --backend "$backend" --out "$file" > "$t/labels-$tta.txt"; } 2>&1 )
    secs=$(echo "$times" | tail -1 | awk '{ printf "%.1f s wall, %.1f s CPU", $1, $2 + $3 }')
    read -r rec_tta known acc passed pacc < <(accuracy "$file")
    [ "$rec_tta" = "$tta" ] || { echo "tta-labels: $file records TTA $rec_tta, asked $tta" >&2; exit 1; }
    # label's table: the total row's kept count and pseudo-label accuracy
    read -r kept kacc < <(awk '$1 == "total" { print $4, $NF }' "$t/labels-$tta.txt")
    views=$([ "$tta" = none ] && echo 1 || { [ "$tta" = flip ] && echo 2 || echo 6; })
    echo "| $seed | $tta | $views | $acc% of $known | $passed | $pacc% | $kept | $kacc | $secs |" | tee -a "$results"
  done
done
# Paired against none, per seed (same teacher, same images): how many images
# each TTA turns right / wrong, and McNemar's two-sided exact p-value: whether
# the accuracy change is more than the luck of which images flipped.
paired() {
  python3 - "$@" <<'PY'
import math, struct, sys
def tops(path):
    b = open(path, 'rb').read()
    _, version, classes, count, src_len = struct.unpack_from('<4sIIII', b, 0)
    p = 20 + (32 if version >= 2 else 0) + src_len
    if version >= 3:
        p += 4 + struct.unpack_from('<I', b, p)[0]
    if version >= 4:
        p += 4 + struct.unpack_from('<I', b, p)[0]
    rec = 16 + 4 * classes
    return {struct.unpack_from('<I', b, p + i * rec)[0]: struct.unpack_from('<ii', b, p + i * rec + 4)
            for i in range(count)}
seed, base, others = sys.argv[1], tops(sys.argv[2]), sys.argv[3:]
for path in others:
    o = tops(path)
    fixed = sum(1 for i, (t, top) in base.items() if t >= 0 and top != t and o[i][1] == t)
    broke = sum(1 for i, (t, top) in base.items() if t >= 0 and top == t and o[i][1] != t)
    n, k = fixed + broke, min(fixed, broke)
    pv = min(1.0, 2 * sum(math.comb(n, j) for j in range(k + 1)) / 2 ** n) if n else 1.0
    name = path.rsplit('labels-', 1)[1][:-5]
    print(f"| {seed} | {name} vs none | {fixed} | {broke} | {fixed - broke:+d} ({100 * (fixed - broke) / len(base):+.2f} points) | {pv:.2g} |")
PY
}
{
  echo
  echo "| seed | pair | right only with TTA | right only without | net | McNemar p |"
  echo "|---|---|---|---|---|---|"
  for seed in $seeds; do
    t="$out/teacher-$seed"
    paired "$seed" "$t/labels-none.nspl" "$t/labels-flip.nspl" "$t/labels-flip+crops.nspl"
  done
} | tee -a "$results"
echo "results: $results"
