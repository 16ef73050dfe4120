#!/usr/bin/env bash
# Hostile-client test of the release (static) exporter binary against the in-process simulator
# at the large profile: crash headers, a client that never reads, a flood of silent and
# trickling connections (RSS while open and after), and odd requests. Loopback only; about a
# minute; prints its figures (the README's "Limits and hostile clients" quotes them).
#
#   scripts/hostile-test.sh [--binary PATH]
#
# Without --binary it builds the static binary (scripts/build-static.sh). Exit status 0 when
# every check passes.
set -euo pipefail
cd "$(dirname "$0")/.."

args=("$@")
if [[ " $* " != *" --binary "* ]]; then
    out=$(scripts/build-static.sh)
    printf '%s\n' "$out"
    bin=$(printf '%s\n' "$out" | sed -n 's/^binary: //p')
    args=(--binary "$bin" "${args[@]}")
fi
# 1,200 flood connections on this side, plus the simulator's and the exporter's.
ulimit -n "$(ulimit -Hn)" 2>/dev/null || true
if [ "$(ulimit -n)" != unlimited ] && [ "$(ulimit -n)" -lt 2048 ]; then
    echo "hostile-test.sh: the open-file limit is $(ulimit -n); 2048 are needed" >&2
    exit 1
fi
cargo build --release --example hostile
exec timeout 300 cargo run --quiet --release --example hostile -- "${args[@]}"
