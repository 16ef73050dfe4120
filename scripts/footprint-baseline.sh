#!/usr/bin/env bash
# Full-read CPU and peak RSS of this tree's static binary side by side with an earlier
# revision's (default ceb57dc: the exporter before issues 8 and 9, four collectors), on the
# large profile, every snapshot read each scrape (`PBS_SNAPSHOTS_REFRESH=always` for both; a
# revision from before the snapshot refresh reads everything anyway). The two binaries are measured alternately, so a change of
# the shared machine's speed hits both.
#
#   scripts/footprint-baseline.sh [--rev REV] [--rounds N] [--scrapes N]
#
# --rev     revision to compare against (default ceb57dc); its static binary is built once,
#           in a temporary worktree (under TMPDIR), and kept under target/baseline-COMMIT/
# --rounds  alternations (default 3); each measures both binaries once
# --scrapes timed scrapes per measurement, after one warm-up (default 20)
#
# Prints each measurement's `footprint` row, then the medians and their ratio.
set -euo pipefail

rev=ceb57dc
rounds=3
scrapes=20
while [ $# -gt 0 ]; do
    case "$1" in
        --rev) rev="$2"; shift 2 ;;
        --rounds) rounds="$2"; shift 2 ;;
        --scrapes) scrapes="$2"; shift 2 ;;
        -h|--help) sed -n '2,15p' "$0"; exit 0 ;;
        *) echo "footprint-baseline.sh: unknown argument '$1'" >&2; exit 2 ;;
    esac
done

cd "$(dirname "$0")/.."
source scripts/baseline-lib.sh
baseline_setup "$rev"
old="$dir/pbs-exporter"
if [ ! -x "$old" ]; then
    baseline_checkout
    # No size limit for the old build: a newer toolchain may make it larger.
    built=$(cd "$tmp/src" && CARGO_TARGET_DIR="$dir/target" scripts/build-static.sh --max-bytes 1000000000 | sed -n 's/^binary: //p')
    (cd "$tmp/src" && cp "$built" "$old.tmp")
    mv "$old.tmp" "$old"
fi
# An old binary refuses collectors it does not know, which `footprint` names in PBS_COLLECTORS;
# left unset, it runs its own defaults. PBS_SNAPSHOTS_REFRESH=always stays: a revision with the
# snapshot refresh then reads every snapshot too, and one without it ignores the variable.
wrapper="$dir/run-old"
printf '#!/bin/sh\nunset PBS_COLLECTORS\nexec "%s" "$@"\n' "$old" > "$wrapper"
chmod +x "$wrapper"

new=$(scripts/build-static.sh | sed -n 's/^binary: //p')
cargo build --quiet --release --example footprint
footprint="$root/target/release/examples/footprint"

# One footprint run of the large profile; its output is kept in $tmp/SIDE-ROUND.log.
measure() { # BINARY LOG -> "CPU PEAK"
    "$footprint" --binary "$1" --profiles large --repeats 1 --scrapes "$scrapes" --targets 0 \
        > "$2" 2>&1 || true
    awk -F'|' '/^\| large /{gsub(/ /,"",$5); gsub(/ /,"",$7); print $7, $5}' "$2"
}
results="$tmp/results"
for round in $(seq "$rounds"); do
    for side in old new; do
        bin=$new label=$here
        [ "$side" = old ] && bin=$wrapper label=$commit
        log="$tmp/$side-$round.log"
        row=$(measure "$bin" "$log")
        if [ -z "$row" ]; then
            echo "footprint-baseline.sh: no large-profile row for $side ($label); its output:" >&2
            cat "$log" >&2
            exit 1
        fi
        read -r cpu peak <<<"$row"
        echo "round $round: $side ($label): CPU $cpu ms/scrape, peak $peak MiB"
        echo "$side $cpu $peak" >> "$results"
    done
done
python3 - "$results" "$commit" <<'EOF'
import statistics, sys
rows = [l.split() for l in open(sys.argv[1])]
def med(side, col):
    return statistics.median(float(r[col]) for r in rows if r[0] == side)
oc, nc, op, np_ = med("old", 1), med("new", 1), med("old", 2), med("new", 2)
print(f"large profile, every snapshot read, medians of {len(rows) // 2}: "
      f"CPU per scrape {sys.argv[2]} {oc:.1f} ms, this tree {nc:.1f} ms (ratio {nc / oc:.2f}); "
      f"peak RSS {op:.2f} → {np_:.2f} MiB")
EOF
