#!/usr/bin/env bash
# Measures the exporter's footprint (idle RSS, peak RSS, CPU per scrape, scrape latency) against
# the built-in PBS simulator, per profile, with every collector on, and compares it with the budgets.
#
#   scripts/footprint.sh [--binary PATH] [--profiles reference,large,deep,tasks,large+history=5]
#                        [--repeats N] [--gzip] [--scrapes N] [--settle-ms MS]
#                        [--targets N] [--rounds N]
#
# The multi-target table (--targets simulators scraped concurrently, default 10; 0 skips it)
# follows the per-profile one; `--profiles ''` measures only the multi-target table.
#
# Every collector runs (the defaults); `+history=N` runs the exporter with
# PBS_SNAPSHOT_HISTORY=N. The table's scrapes read every snapshot (PBS_SNAPSHOTS_REFRESH=always,
# the worst case); with the large profile, a "PBS cost" table follows for the default refresh:
# manifests PBS reads in the first, a steady-state and a post-backup scrape, and the exporter's
# CPU per steady-state scrape.
# Without --binary it builds the static binary first (scripts/build-static.sh) and measures it.
# Exit status 0 even when a budget is not met (it is a measurement: read the table); non-zero
# only when the build or a measurement failed.
set -euo pipefail
cd "$(dirname "$0")/.."

args=("$@")
have_binary=false
for a in "$@"; do
    case "$a" in --binary|--binary=*) have_binary=true ;; esac
done
if ! $have_binary; then
    out=$(scripts/build-static.sh)
    printf '%s\n' "$out"
    bin=$(printf '%s\n' "$out" | sed -n 's/^binary: //p')
    args=(--binary "$bin" "${args[@]}")
fi
# The example itself (simulator + client) is built without crt-static, in target/release.
cargo build --release --example footprint
exec cargo run --quiet --release --example footprint -- "${args[@]}"
