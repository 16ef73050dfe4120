#!/usr/bin/env bash
# Criterion's parse benchmark (benches/parse.rs) of this tree side by side with an earlier
# revision's (default ceb57dc: the JSON reader before issue 9). The two bench executables run
# alternately, each first in every other round, so a change of the shared machine's speed hits
# both.
#
#   scripts/parse-baseline.sh [--rev REV] [--rounds N] [--filter REGEX]
#
# --rev     revision to compare against (default ceb57dc); its bench executable is built once,
#           in a temporary worktree (under TMPDIR), and kept under target/baseline-COMMIT/
# --rounds  alternations (default 5); each runs both executables once
# --filter  criterion's benchmark filter (default 'parse/(datastore|snapshots)/')
#
# Prints each run's medians (benches/medians.py), then per benchmark the median of the runs'
# medians in MB/s (10^6 bytes of JSON a second), their range, and the ratio.
set -euo pipefail

rev=ceb57dc
rounds=5
filter='parse/(datastore|snapshots)/'
while [ $# -gt 0 ]; do
    case "$1" in
        --rev) rev="$2"; shift 2 ;;
        --rounds) rounds="$2"; shift 2 ;;
        --filter) filter="$2"; shift 2 ;;
        -h|--help) sed -n '2,15p' "$0"; exit 0 ;;
        *) echo "parse-baseline.sh: unknown argument '$1'" >&2; exit 2 ;;
    esac
done

cd "$(dirname "$0")/.."
source scripts/baseline-lib.sh
baseline_setup "$rev"

# The parse bench executable that `cargo bench` builds in directory $1; fails unless there is
# exactly one.
bench_exe() {
    (cd "$1" && cargo bench --bench parse --no-run --message-format=json) | python3 -c '
import json, sys
exes = [m["executable"] for m in map(json.loads, sys.stdin)
        if m.get("reason") == "compiler-artifact" and m.get("executable")
        and m["target"]["name"] == "parse"]
if len(exes) != 1:
    sys.exit(f"parse-baseline.sh: {len(exes)} parse bench executables built in {sys.argv[1]}")
print(exes[0])' "$1"
}
old="$dir/parse-bench"
if [ ! -x "$old" ]; then
    baseline_checkout
    built=$(CARGO_TARGET_DIR="$dir/target" bench_exe "$tmp/src")
    cp "$built" "$old.tmp"
    mv "$old.tmp" "$old"
fi
new=$(bench_exe "$root")

results="$tmp/results"
: > "$results"
for round in $(seq "$rounds"); do
    order="old new"
    [ $((round % 2)) = 0 ] && order="new old"
    for side in $order; do
        exe=$new label=$here
        [ "$side" = old ] && exe=$old label=$commit
        # Each side's criterion data apart, so neither compares itself with the other's runs.
        home="$tmp/criterion-$side"
        rm -rf "$home"
        CRITERION_HOME="$home" "$exe" --bench "$filter" > "$tmp/$side-$round.log" 2>&1 || {
            echo "parse-baseline.sh: the $side ($label) bench failed; its output:" >&2
            cat "$tmp/$side-$round.log" >&2
            exit 1
        }
        echo "round $round: $side ($label)"
        python3 benches/medians.py "$home" | tee "$tmp/medians"
        # A benchmark without a throughput has no MB/s to compare.
        awk -v side="$side" '$NF == "MB/s" {print side, $1, $(NF-1)}' "$tmp/medians" >> "$results"
    done
done
python3 - "$results" "$commit" "$here" <<'PY'
import statistics, sys
runs = {}
for side, bench, rate in (l.split() for l in open(sys.argv[1])):
    runs.setdefault(bench, {}).setdefault(side, []).append(float(rate))
if not runs:
    sys.exit("parse-baseline.sh: no benchmark ran (rounds 0, or a filter that matched none)")
print(f"medians of the runs' medians, MB/s (min–max): {sys.argv[2]} → {sys.argv[3]}")
for bench, sides in sorted(runs.items()):
    def fmt(side):
        r = sides.get(side)
        return f"{statistics.median(r):,.0f} ({min(r):,.0f}–{max(r):,.0f})" if r else "–"
    if "old" in sides and "new" in sides:
        ratio = f"  ×{statistics.median(sides['new']) / statistics.median(sides['old']):.2f}"
    else:  # the IDs carry the body's size: the two simulators sent different bodies
        ratio = "  (one side only: no ratio)"
    print(f"{bench:<40} {fmt('old'):>22} → {fmt('new'):>22}{ratio}")
PY
