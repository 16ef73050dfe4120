#!/usr/bin/env bash
# Checks contrib/systemd/pbs-exporter.service without a running systemd:
# - `systemd-analyze verify` prints nothing (no warning either) and succeeds;
# - `systemd-analyze security --offline=yes` rates its exposure at most 2.0;
# - every system call the exporter makes while it scrapes the simulator, answers /metrics,
#   /health and /, and stops on SIGTERM (traced with strace) passes the unit's SystemCallFilter.
#
#   scripts/systemd-check.sh [--binary PATH] [UNIT]
#
# verify wants ExecStart's binary to exist, so it runs in a scratch root holding the system's
# units, the unit under test in /etc/systemd/system, and PATH (default: the static binary of
# scripts/build-static.sh, else target/release or target/debug) as /usr/bin/pbs-exporter.
# systemd-analyze comes from Debian's `systemd` package, strace from `strace` (.ci/run installs
# both; without strace the system call check is skipped, and says so).
set -euo pipefail
cd "$(dirname "$0")/.."

max_exposure=2.0
binary=
unit=contrib/systemd/pbs-exporter.service
while [ $# -gt 0 ]; do
    case "$1" in
        --binary) binary="$2"; shift 2 ;;
        -h|--help) sed -n '2,12p' "$0"; exit 0 ;;
        -*) echo "systemd-check.sh: unknown argument '$1'" >&2; exit 2 ;;
        *) unit="$1"; shift ;;
    esac
done
if [ -z "$binary" ]; then
    for b in target/x86_64-unknown-linux-gnu/static/pbs-exporter target/release/pbs-exporter \
        target/debug/pbs-exporter; do
        if [ -x "$b" ]; then binary=$b; break; fi
    done
fi
if [ -z "$binary" ] || [ ! -x "$binary" ]; then
    echo "systemd-check.sh: no pbs-exporter binary (build it, or pass --binary PATH)" >&2
    exit 1
fi
name=$(basename "$unit")

root=$(mktemp -d)
trap 'rm -rf "$root"' EXIT
mkdir -p "$root/usr/bin" "$root/usr/lib/systemd" "$root/etc/systemd/system"
for dir in /usr/lib/systemd/system /lib/systemd/system; do
    if [ -d "$dir" ]; then cp -rT "$dir" "$root/usr/lib/systemd/system"; break; fi
done
cp "$binary" "$root/usr/bin/pbs-exporter"
cp "$unit" "$root/etc/systemd/system/$name"

if ! out=$(systemd-analyze verify --root="$root" "$name" 2>&1) || [ -n "$out" ]; then
    echo "systemd-analyze verify $unit:" >&2
    printf '%s\n' "$out" >&2
    exit 1
fi
echo "systemd-analyze verify: clean"

report=$(systemd-analyze security --offline=yes "$unit" 2>&1) || true
exposure=$(printf '%s\n' "$report" | sed -n 's/.*Overall exposure level for [^:]*: \([0-9.]*\).*/\1/p')
if [ -z "$exposure" ]; then
    echo "systemd-analyze security printed no exposure level:" >&2
    printf '%s\n' "$report" >&2
    exit 1
fi
echo "systemd-analyze security --offline=yes: exposure $exposure (limit $max_exposure)"
if ! awk -v e="$exposure" -v m="$max_exposure" 'BEGIN { exit !(e <= m) }'; then
    printf '%s\n' "$report" | grep -v '^✓' >&2
    echo "systemd-check.sh: exposure $exposure is above $max_exposure" >&2
    exit 1
fi

# System calls: the unit's SystemCallFilter= lines, expanded, against a trace of the exporter.
if ! command -v strace >/dev/null; then
    echo "system call check skipped: no strace"
    exit 0
fi
expand() {
    systemd-analyze syscall-filter "$1" | sed 1d | awk '$1 !~ /^#/ && NF { print $1 }' |
        while read -r name; do
            case $name in @*) expand "$name" ;; *) echo "$name" ;; esac
        done
}
allowed=$root/allowed denied=$root/denied
: >"$allowed"; : >"$denied"
while IFS= read -r line; do
    list=${line#SystemCallFilter=}
    out=$allowed
    case $list in "~"*) list=${list#\~}; out=$denied ;; esac
    for name in $list; do
        case $name in @*) expand "$name" ;; *) echo "$name" ;; esac >>"$out"
    done
done < <(grep '^SystemCallFilter=' "$unit")
[ -s "$allowed" ] || { echo "systemd-check.sh: $unit has no SystemCallFilter allow list" >&2; exit 1; }

cargo build --quiet --workspace --bin pbs-sim
sim_bin=${CARGO_TARGET_DIR:-target}/debug/pbs-sim
token_id='monitor@pbs!exporter'
secret=$(cat /proc/sys/kernel/random/uuid)
"$sim_bin" --listen 127.0.0.1:0 --profile demo --token-id "$token_id" --token-secret "$secret" \
    --print-fingerprint >"$root/fingerprint" 2>"$root/sim.log" &
sim_pid=$!
stop() {
    kill "${exporter_pid:-}" "${strace_pid:-}" "$sim_pid" 2>/dev/null || true
    wait 2>/dev/null || true
    rm -rf "$root"
}
trap stop EXIT
for _ in $(seq 100); do grep -q 'serving' "$root/sim.log" 2>/dev/null && break; sleep 0.1; done
endpoint=$(grep -o 'https://[0-9.:]*' "$root/sim.log" | head -n 1)
[ -n "$endpoint" ] || { cat "$root/sim.log" >&2; echo "systemd-check.sh: simulator did not start" >&2; exit 1; }
# The token as the unit hands it over: a file in the credentials directory.
mkdir "$root/credentials"
printf '%s\n' "$secret" >"$root/credentials/pbs-token"
env -i PBS_ENDPOINT="$endpoint" PBS_API_TOKEN_NAME="$token_id" \
    PBS_API_TOKEN_FILE="$root/credentials/pbs-token" PBS_FINGERPRINT="$(head -n 1 "$root/fingerprint")" \
    PBS_LISTEN_ADDRESS=127.0.0.1:0 \
    strace -f -qq -o "$root/trace" "$root/usr/bin/pbs-exporter" 2>"$root/exporter.log" &
strace_pid=$!
for _ in $(seq 100); do grep -q 'listening on' "$root/exporter.log" 2>/dev/null && break; sleep 0.1; done
listen=$(sed -n 's/.*listening on \([0-9.:]*\).*/\1/p' "$root/exporter.log" | head -n 1)
[ -n "$listen" ] || { cat "$root/exporter.log" >&2; echo "systemd-check.sh: exporter did not start" >&2; exit 1; }
exporter_pid=$(ps -o pid= --ppid "$strace_pid" | tr -d ' ')
get() {
    exec 3<>"/dev/tcp/${listen%:*}/${listen##*:}"
    printf 'GET %s HTTP/1.0\r\n\r\n' "$1" >&3
    cat <&3
    exec 3<&-
}
get /metrics | grep -qx 'pbs_up 1' || { echo "systemd-check.sh: traced exporter: pbs_up is not 1" >&2; exit 1; }
get /metrics >/dev/null; get /health >/dev/null; get / >/dev/null
# SIGTERM to the exporter itself (strace would only detach); strace exits with its status.
kill -TERM "$exporter_pid"
wait "$strace_pid" || { echo "systemd-check.sh: traced exporter did not exit 0 on SIGTERM" >&2; exit 1; }
unset exporter_pid strace_pid

sort -u -o "$allowed" "$allowed"; sort -u -o "$denied" "$denied"
calls=$(sed -n 's/^[0-9]* *\([a-z0-9_]*\)(.*/\1/p' "$root/trace" | sort -u)
bad=$(comm -23 <(echo "$calls") <(comm -23 "$allowed" "$denied"))
if [ -n "$bad" ]; then
    echo "systemd-check.sh: the exporter makes system calls the unit's SystemCallFilter refuses:" $bad >&2
    exit 1
fi
echo "SystemCallFilter: allows all $(echo "$calls" | wc -l) system calls the exporter made (strace)"
