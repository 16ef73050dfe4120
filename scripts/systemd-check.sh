#!/usr/bin/env bash
# Checks contrib/systemd/pbs-exporter.service without a running systemd:
# - `systemd-analyze verify` prints nothing (no warning either) and succeeds;
# - `systemd-analyze security --offline=yes` rates its exposure at most 2.0.
#
#   scripts/systemd-check.sh [--binary PATH] [UNIT]
#
# verify wants ExecStart's binary to exist, so it runs in a scratch root holding the system's
# units, the unit under test in /etc/systemd/system, and PATH (default: the static binary of
# scripts/build-static.sh, else target/release or target/debug) as /usr/bin/pbs-exporter.
# systemd-analyze comes from Debian's `systemd` package (.ci/run installs it).
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
