#!/usr/bin/env bash
# Regenerates scripts/static-symbol-order.txt, the order in which scripts/build-static.sh has the
# linker lay out the static binary's functions: first those the exporter runs at start and
# while idle, then those a `?target=` scrape runs (TLS handshake, HTTP client, JSON,
# collectors, exposition), then those only a scrape of the default target runs (its own
# metrics, gzip); each group contiguous instead of spread over the 2 MB of code, so the
# exporter maps fewer pages of its binary (DESIGN.md, "Symbol order").
#
#   scripts/order-symbols.sh [--keep DIR]
#
# --keep DIR  keep the callgrind profiles and function lists in DIR (default: a temporary
#             directory, removed at the end)
#
# Needs valgrind (callgrind). Builds an unstripped, non-PIE twin of the static binary (valgrind
# 3.19 cannot load a static PIE) in target/order: same profile, so the same crate hashes and
# the same symbol names (RUSTFLAGS and the linker's arguments are not part of them; the
# profile is). Runs it under callgrind: started and left idle, once with a config file and once
# with PBS_ENDPOINT (start group); then through the footprint example (examples/footprint.rs):
# two targets of one config file (target group), one reference-profile default target, with
# and without gzip (default group). A group holds the functions that ran and are in no group
# before it, sorted by name, so the file changes only where the code does.
#
# A name in the file that the code no longer has is ignored by the linker (build-static.sh
# passes --no-warn-symbol-ordering): a stale file costs locality, never correctness.
set -euo pipefail
cd "$(dirname "$0")/.."
root=$PWD

keep=
while [ $# -gt 0 ]; do
    case "$1" in
        --keep) keep="$2"; shift 2 ;;
        --keep=*) keep="${1#*=}"; shift ;;
        -h|--help) sed -n '2,24p' "$0"; exit 0 ;;
        *) echo "order-symbols.sh: unknown argument '$1'" >&2; exit 2 ;;
    esac
done
# An absolute path: the exporters run with an empty environment, so without PATH.
valgrind=$(command -v valgrind) || { echo "order-symbols.sh: needs valgrind" >&2; exit 1; }
if [ -n "$keep" ]; then
    mkdir -p "$keep"
    work=$(cd "$keep" && pwd)
    # Profiles of an earlier run would be merged into this one's lists.
    rm -rf "${work:?}"/cg "$work"/start "$work"/target "$work"/default
else
    work=$(mktemp -d)
fi
# An exporter started here is stopped on any exit, a failure or Ctrl-C included.
exporter_pid=
cleanup() {
    if [ -n "$exporter_pid" ]; then
        kill "$exporter_pid" 2>/dev/null || true
        wait "$exporter_pid" 2>/dev/null || true
    fi
    [ -n "$keep" ] || rm -rf "$work"
}
trap cleanup EXIT

target=x86_64-unknown-linux-gnu
# -C strip=none overrides the profile's strip; relocation-model=static makes it a static
# non-PIE executable. Neither changes a symbol's name.
CARGO_TARGET_DIR="$root/target/order" \
    RUSTFLAGS="-C target-feature=+crt-static -C relocation-model=static -C strip=none" \
    cargo build --profile static --target "$target" -p pbs-exporter --bin pbs-exporter
bin="$root/target/order/$target/static/pbs-exporter"
cargo build --release --example footprint
footprint_bin="${CARGO_TARGET_DIR:-target}/release/examples/footprint"

# The exporter the footprint example runs (it clears the environment): under callgrind, one
# profile per process in $work/cg, moved to a directory per group after each run.
# GLIBC_TUNABLES set: the exporter does not run itself again.
wrapper="$work/exporter"
mkdir -p "$work/cg" "$work/start" "$work/target" "$work/default"
cat >"$wrapper" <<EOF
#!/bin/sh
exec env GLIBC_TUNABLES=glibc.malloc.tcache_count=0:glibc.malloc.arena_max=1 \\
    "$valgrind" --tool=callgrind --demangle=no --compress-strings=no --compress-pos=no \\
    --callgrind-out-file="$work/cg/%p" "$bin" "\$@"
EOF
chmod +x "$wrapper"
collect() { # GROUP
    mv "$work"/cg/* "$work/$1/"
}

# Start group: started, idle for 2 s after it listens, SIGTERM.
idle_run() { # NAME ENV...
    local name=$1
    shift
    env -i "$@" PBS_LISTEN_ADDRESS=127.0.0.1:0 "$wrapper" 2>"$work/start-$name.log" &
    exporter_pid=$!
    local i
    for i in $(seq 1 300); do
        grep -q 'listening on' "$work/start-$name.log" && break
        sleep 0.1
    done
    grep -q 'listening on' "$work/start-$name.log" || {
        echo "order-symbols.sh: exporter ($name) did not start" >&2
        cat "$work/start-$name.log" >&2
        exit 1
    }
    sleep 2
    kill -TERM "$exporter_pid"
    wait "$exporter_pid"
    exporter_pid=
    collect start
}
fp=$(printf 'AB:%.0s' $(seq 1 31))AB
printf 'secret' >"$work/token"
cat >"$work/config.yml" <<EOF
modules:
  m0:
    token_id: "monitor@pbs!exporter0"
    token_file: $work/token
    targets:
      - target: 127.0.0.1:9
        fingerprint: "$fp"
  m1:
    token_id: "monitor@pbs!exporter1"
    token_file: $work/token
    targets:
      - target: 127.0.0.1:9
        fingerprint: "$fp"
EOF
idle_run config PBS_CONFIG_FILE="$work/config.yml"
idle_run endpoint PBS_ENDPOINT=https://127.0.0.1:9 PBS_API_TOKEN_NAME='monitor@pbs!exporter' \
    PBS_API_TOKEN=secret PBS_FINGERPRINT="$fp"

# Target and default groups: the processes the footprint example runs.
footprint() { # GROUP NAME ARGS...
    local group=$1 name=$2
    shift 2
    "$footprint_bin" --binary "$wrapper" --repeats 1 --settle-ms 1000 "$@" \
        >"$work/$group-$name.log"
    collect "$group"
}
footprint target multi --profiles '' --targets 2 --rounds 2
footprint default plain --profiles reference --scrapes 2 --targets 0
footprint default gzip --profiles reference --scrapes 2 --targets 0 --gzip

# Function names with a cost in a profile ("fn=NAME"; callgrind appends 'N to recursion levels).
functions() {
    sed -n "s/^fn=//p" "$@" | sed "s/'[0-9]*\$//" | grep -v -e '^0x' -e ' ' | LC_ALL=C sort -u
}
functions "$work"/start/* >"$work/start.txt"
functions "$work"/target/* | LC_ALL=C comm -23 - "$work/start.txt" >"$work/target.txt"
functions "$work"/default/* | LC_ALL=C comm -23 - "$work/start.txt" |
    LC_ALL=C comm -23 - "$work/target.txt" >"$work/default.txt"
out=scripts/static-symbol-order.txt
cat "$work/start.txt" "$work/target.txt" "$work/default.txt" >"$out"
echo "$out: $(wc -l <"$work/start.txt") start, $(wc -l <"$work/target.txt") target and" \
    "$(wc -l <"$work/default.txt") default-target functions"
