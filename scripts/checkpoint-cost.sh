#!/usr/bin/env bash
# What checkpoints cost a run (docs/guarantees.md, "Resuming a run"): REPS
# pairs of 20,000-iteration runs of the default network (relu), one without
# checkpoints and one with --checkpoint-every N, the order alternating from
# pair to pair, under `nice -n -19`; prints the medians and the median of
# the per-pair differences.
#   scripts/checkpoint-cost.sh [N] [REPS]      # defaults: 5000, 30
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."
n="${1:-5000}"; reps="${2:-30}"
binary=target/release/gradscope
[ -x "$binary" ] || cargo build --release
logs="$(mktemp -d)"; times="$(mktemp)"
trap 'rm -rf "$logs" "$times"' EXIT
for r in $(seq "$reps"); do
    if (( r % 2 )); then order="0 $n"; else order="$n 0"; fi
    for every in $order; do
        rm -rf "${logs:?}"/*
        start=$(date +%s.%N)
        nice -n -19 "$binary" --activation relu --iterations 20000 --data-dir data/mnist \
            --logdir "$logs" --no-progress --checkpoint-every "$every" >/dev/null
        echo "$r $every $(echo "$(date +%s.%N) - $start" | bc)" >> "$times"
    done
done
python3 - "$n" "$times" <<'PY'
import statistics, sys
n, path = sys.argv[1], sys.argv[2]
pairs = {}
for r, every, seconds in (line.split() for line in open(path)):
    pairs.setdefault(r, {})[every] = float(seconds)
without = statistics.median(p["0"] for p in pairs.values())
with_n = statistics.median(p[n] for p in pairs.values())
diff = statistics.median(p[n] - p["0"] for p in pairs.values())
print(f"--checkpoint-every {n}: {len(pairs)} pairs; median {with_n:.3f} s against {without:.3f} s "
      f"without; median difference {diff * 1000:+.1f} ms ({diff / without * 100:+.2f}%)")
PY
