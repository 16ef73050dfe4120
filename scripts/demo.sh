#!/usr/bin/env bash
# Shows the exporter doing its job with no PBS at hand: builds both binaries, starts the PBS
# simulator (HTTPS, self-signed certificate) and the exporter pinned to its fingerprint, prints
# a scrape, then keeps both running until Ctrl-C so you can `curl localhost:10019/metrics`.
# `--once` stops after printing (CI uses it to keep this README command honest).
set -euo pipefail
cd "$(dirname "$0")/.."

once=false
[ "${1:-}" = "--once" ] && once=true
sim_port=${SIM_PORT:-8007}
exporter_port=${EXPORTER_PORT:-10019}

# The simulator is its own workspace member (crates/pbs-sim).
cargo build --release --quiet -p pbs-sim -p pbs-exporter --bin pbs-sim --bin pbs-exporter
bin="${CARGO_TARGET_DIR:-target}/release"
tmp=$(mktemp -d)
cleanup() {
    kill "${exporter_pid:-}" "${sim_pid:-}" 2>/dev/null || true
    wait 2>/dev/null || true
    rm -rf "$tmp"
}
trap cleanup EXIT INT TERM

"$bin/pbs-sim" --listen "127.0.0.1:$sim_port" --profile demo --print-fingerprint \
    >"$tmp/fingerprint" 2>"$tmp/sim.log" &
sim_pid=$!
for _ in $(seq 100); do [ -s "$tmp/fingerprint" ] && break; sleep 0.1; done
if ! kill -0 "$sim_pid" 2>/dev/null || [ ! -s "$tmp/fingerprint" ]; then
    echo "the simulator did not start (port $sim_port busy? set SIM_PORT):" >&2
    cat "$tmp/sim.log" >&2
    exit 1
fi
fingerprint=$(head -n1 "$tmp/fingerprint")

PBS_ENDPOINT="https://127.0.0.1:$sim_port" \
PBS_USERNAME="monitor@pbs" \
PBS_API_TOKEN_NAME="exporter" \
PBS_API_TOKEN="0b8c5f3e-6a1d-4c2e-9f47-3d2a1b0c9e8f" \
PBS_FINGERPRINT="$fingerprint" \
PBS_LISTEN_ADDRESS="127.0.0.1:$exporter_port" \
    "$bin/pbs-exporter" 2>"$tmp/exporter.log" &
exporter_pid=$!

fetch() {
    # curl where it exists; bash's /dev/tcp on a bare machine.
    if command -v curl >/dev/null; then
        curl -fsS "http://127.0.0.1:$exporter_port$1"
    else
        exec 3<>"/dev/tcp/127.0.0.1/$exporter_port"
        printf 'GET %s HTTP/1.0\r\n\r\n' "$1" >&3
        sed '1,/^\r$/d' <&3
        exec 3<&-
    fi
}
for _ in $(seq 100); do fetch /health >/dev/null 2>&1 && break; sleep 0.1; done
if ! kill -0 "$exporter_pid" 2>/dev/null; then
    echo "the exporter did not start (port $exporter_port busy? set EXPORTER_PORT):" >&2
    cat "$tmp/exporter.log" >&2
    exit 1
fi

fetch /metrics >"$tmp/metrics"
echo "== simulator: $(cat "$tmp/sim.log")"
echo "== exporter:  $(cat "$tmp/exporter.log")"
echo "== a scrape of http://127.0.0.1:$exporter_port/metrics ($(grep -vc '^#' "$tmp/metrics") samples), some of it:"
grep -E '^(pbs_up|pbs_version_info|pbs_scrape_collector_success|pbs_datastore_(used_bytes|up|snapshots)\{datastore="store1"|process_resident_memory_bytes)' "$tmp/metrics"
grep -m 4 -E '^pbs_group_(last_backup_timestamp_seconds|newest_snapshot_verification_state)\{' "$tmp/metrics"
grep -q '^pbs_up 1$' "$tmp/metrics" || { echo "pbs_up is not 1" >&2; exit 1; }

if ! $once; then
    echo "== serving; try: curl http://127.0.0.1:$exporter_port/metrics   (Ctrl-C stops both)"
    wait "$exporter_pid"
fi
