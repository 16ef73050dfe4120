#!/usr/bin/env bash
# Criterion's parse benchmark (benches/parse.rs) of this tree side by side with an earlier
# revision's (default ceb57dc: the JSON reader before issue 9). The two bench executables run
# alternately, so a change of the shared machine's speed hits both.
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

# The parse bench executable that `cargo bench` builds in directory $1.
bench_exe() {
    (cd "$1" && cargo bench --bench parse --no-run --message-format=json) | python3 -c '
import json, sys
for line in sys.stdin:
    m = json.loads(line)
    if m.get("reason") == "compiler-artifact" and m.get("executable") and m["target"]["name"] == "parse":
        print(m["executable"])'
}
old="$dir/parse-bench"
if [ ! -x "$old" ]; then
    baseline_checkout
    built=$(CARGO_TARGET_DIR="$dir/target" bench_exe "$tmp/src")
    cp "$built" "$old.tmp"
    mv "$old.tmp" "$old"
fi
new=$(bench_exe "$root")
[ -x "$new" ] || { echo "parse-baseline.sh: no parse bench executable built here" >&2; exit 1; }

here="$(git rev-parse --short HEAD)$(git diff --quiet HEAD -- . || echo '+changes')"
results="$tmp/results"
for round in $(seq "$rounds"); do
    for side in old new; do
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
        awk -v side="$side" '{print side, $1, $(NF-1)}' "$tmp/medians" >> "$results"
    done
done
python3 - "$results" "$commit" "$here" <<'PY'
import statistics, sys
runs = {}
for side, bench, rate in (l.split() for l in open(sys.argv[1])):
    runs.setdefault(bench, {}).setdefault(side, []).append(float(rate))
print(f"medians of the runs' medians, MB/s (min–max): {sys.argv[2]} → {sys.argv[3]}")
for bench, sides in sorted(runs.items()):
    def fmt(side):
        r = sides.get(side)
        return f"{statistics.median(r):,.0f} ({min(r):,.0f}–{max(r):,.0f})" if r else "–"
    ratio = ""
    if "old" in sides and "new" in sides:
        ratio = f"  ×{statistics.median(sides['new']) / statistics.median(sides['old']):.2f}"
    print(f"{bench:<40} {fmt('old'):>22} → {fmt('new'):>22}{ratio}")
PY
