#!/usr/bin/env bash
# The static exporter alone in an empty root, as in the FROM scratch image: the root holds only
# /pbs-exporter and /etc/hosts (mapping pbs.test to 127.0.0.1). It runs as PID 1 of its own PID
# namespace (unshare), chrooted, as uid/gid 65534, sharing the host's network so 127.0.0.1
# reaches the simulator. It must resolve pbs.test from /etc/hosts with no .so and no
# nsswitch.conf, scrape the simulator over pinned TLS, and exit 0 within 2 s of SIGTERM.
#
#   scripts/emptyroot-test.sh
#
# Builds what it needs (scripts/build-static.sh, cargo build --release -p pbs-sim). Needs
# root for chroot and unshare; prints SKIP and exits 0 when they are unavailable. Without PID
# namespaces (unshare refused) it still runs chrooted, and says it could not check PID 1.
# Prints PASS or FAIL as its last line; exit status 0 on PASS or SKIP, 1 on FAIL.
set -euo pipefail
cd "$(dirname "$0")/.."

say() { echo "emptyroot-test: $*"; }
skip() {
    echo "SKIP: emptyroot-test: $*"
    exit 0
}

work=""
sim_pid=""
runner_pid=""
exporter_pid=""
cleanup() {
    local rc=$?
    trap - EXIT INT TERM
    for pid in "$exporter_pid" "$runner_pid" "$sim_pid"; do
        if [ -n "$pid" ] && kill -0 "$pid" 2>/dev/null; then
            kill -KILL "$pid" 2>/dev/null || true
        fi
    done
    for pid in "$runner_pid" "$sim_pid"; do
        [ -n "$pid" ] && wait "$pid" 2>/dev/null || true
    done
    [ -n "$work" ] && rm -rf -- "$work"
    exit "$rc"
}
trap cleanup EXIT
trap 'exit 130' INT
trap 'exit 143' TERM

fail() {
    echo "emptyroot-test: $*" >&2
    for f in sim.log exporter.log; do
        if [ -n "$work" ] && [ -s "$work/$f" ]; then
            echo "---- $f" >&2
            tail -n 30 "$work/$f" >&2
        fi
    done
    echo "FAIL: emptyroot-test: $*"
    exit 1
}

# ---- can we isolate at all? -------------------------------------------------------------
[ "$(id -u)" = 0 ] || skip "needs root for chroot and unshare (running as uid $(id -u))"
# Absolute paths: the exporter's environment is emptied (env -i), PATH included.
chroot_bin=$(command -v chroot) || skip "chroot is not installed"
"$chroot_bin" / true 2>/dev/null || skip "chroot is not permitted here (no CAP_SYS_CHROOT?)"
use_pidns=false
unshare_bin=$(command -v unshare || true)
if [ -n "$unshare_bin" ] && "$unshare_bin" --fork --pid --mount-proc true 2>/dev/null; then
    use_pidns=true
else
    say "WARNING: unshare --fork --pid --mount-proc is unavailable: running chrooted only, PID 1 not checked"
fi

# ---- build ---------------------------------------------------------------------------------
build_out=$(scripts/build-static.sh) || fail "static build failed"
printf '%s\n' "$build_out"
exporter_bin=$(printf '%s\n' "$build_out" | sed -n 's/^binary: //p')
sim_bin=$(cargo build --release -p pbs-sim --bin pbs-sim --message-format=json-render-diagnostics |
    grep -o '"executable":"[^"]*pbs-sim"' | tail -n 1 | cut -d'"' -f4) ||
    fail "cargo build --release -p pbs-sim failed"
[ -x "$sim_bin" ] || fail "cargo did not report the pbs-sim executable"

# ---- the simulator ------------------------------------------------------------------------
work=$(mktemp -d "${TMPDIR:-/tmp}/pbs-emptyroot.XXXXXX")
"$sim_bin" --listen 127.0.0.1:0 --hostname pbs.test --profile demo --print-fingerprint \
    >"$work/sim.out" 2>"$work/sim.log" &
sim_pid=$!
fingerprint="" sim_port=""
for _ in $(seq 200); do
    fingerprint=$(head -n 1 "$work/sim.out" 2>/dev/null || true)
    sim_port=$(sed -n 's|.* on https://127\.0\.0\.1:\([0-9][0-9]*\) .*|\1|p' "$work/sim.log" | head -n 1)
    [ -n "$fingerprint" ] && [ -n "$sim_port" ] && break
    kill -0 "$sim_pid" 2>/dev/null || fail "pbs-sim exited at start"
    sleep 0.05
done
[ -n "$fingerprint" ] && [ -n "$sim_port" ] || fail "pbs-sim did not print its fingerprint and port within 10 s"
say "pbs-sim on 127.0.0.1:$sim_port, fingerprint $fingerprint"

# ---- the empty root: the binary and /etc/hosts, nothing else ---------------------------------
root="$work/root"
mkdir -p "$root/etc"
cp "$exporter_bin" "$root/pbs-exporter"
printf '127.0.0.1\tlocalhost\n127.0.0.1\tpbs.test\n' >"$root/etc/hosts"
chmod 755 "$work" "$root" "$root/etc" "$root/pbs-exporter"
chmod 644 "$root/etc/hosts"
say "root $root holds: $(cd "$root" && find . -mindepth 1 -not -type d | sort | tr '\n' ' ')"

# ---- the exporter, PID 1 of its own PID namespace, chrooted, as nobody -----------------------
# Port 0: the kernel picks a free port, which the exporter logs ("listening on ADDR").
run=("$chroot_bin" --userspec=65534:65534 "$root" /pbs-exporter)
if $use_pidns; then
    run=("$unshare_bin" --fork --pid --mount-proc "${run[@]}")
fi
env -i \
    PBS_ENDPOINT="https://pbs.test:$sim_port" \
    PBS_API_TOKEN_NAME='monitor@pbs!exporter' \
    PBS_API_TOKEN='0b8c5f3e-6a1d-4c2e-9f47-3d2a1b0c9e8f' \
    PBS_FINGERPRINT="$fingerprint" \
    PBS_LISTEN_ADDRESS=127.0.0.1:0 \
    "${run[@]}" </dev/null >"$work/exporter.log" 2>&1 &
runner_pid=$!

listen=""
for _ in $(seq 200); do
    listen=$(sed -n 's/.* listening on \(127\.0\.0\.1:[0-9][0-9]*\) .*/\1/p' "$work/exporter.log" | head -n 1)
    [ -n "$listen" ] && break
    kill -0 "$runner_pid" 2>/dev/null || fail "the exporter exited at start"
    sleep 0.05
done
[ -n "$listen" ] || fail "the exporter did not log 'listening on 127.0.0.1:PORT' within 10 s"

# The exporter's host PID: the runner itself, or unshare's forked child (chroot execs it).
if $use_pidns; then
    for p in /proc/[0-9]*; do
        read -r -a st <"$p/stat" 2>/dev/null || continue
        # Fields: pid (comm) state ppid ...; comm is "pbs-exporter", without spaces.
        if [ "${st[3]}" = "$runner_pid" ]; then
            exporter_pid=${st[0]}
            break
        fi
    done
    [ -n "$exporter_pid" ] || fail "cannot find unshare's child process"
    # NSpid: its PID in each PID namespace, outermost first.
    nspid=$(awk '/^NSpid:/ { $1 = ""; print substr($0, 2) }' "/proc/$exporter_pid/status")
    [ "${nspid##* }" = 1 ] || fail "the exporter is not PID 1 in its namespace (NSpid: $nspid)"
    say "exporter: host PID $exporter_pid, PID 1 in its PID namespace (NSpid: $nspid)"
else
    exporter_pid=$runner_pid
fi
comm=$(cat "/proc/$exporter_pid/comm")
[ "$comm" = pbs-exporter ] || fail "PID $exporter_pid is '$comm', not pbs-exporter"
say "exporter listening on $listen, uid $(awk '/^Uid:/ { print $2 }' "/proc/$exporter_pid/status")," \
    "root $(readlink "/proc/$exporter_pid/root")"

# ---- scrape it from outside (bash /dev/tcp: no curl needed) ---------------------------------
http_get() { # ADDR PATH: the raw HTTP/1.0 response (the exporter closes the connection)
    timeout 30 bash -c 'exec 3<>"/dev/tcp/${0%:*}/${0##*:}" &&
        printf "GET %s HTTP/1.0\r\nHost: %s\r\n\r\n" "$1" "$0" >&3 && cat <&3' "$1" "$2"
}
response=$(http_get "$listen" /metrics | tr -d '\r') || fail "GET /metrics failed"
status_line=${response%%$'\n'*}
case "$status_line" in
    "HTTP/1."[01]" 200"*) ;;
    *) fail "GET /metrics answered '$status_line'" ;;
esac
body=$(printf '%s\n' "$response" | sed '1,/^$/d')
grep -qx 'pbs_up 1' <<<"$body" ||
    fail "no 'pbs_up 1' in the scrape: $(grep '^pbs_up' <<<"$body" || echo 'no pbs_up at all')"
grep -qx 'pbs_scrape_collector_success{collector="snapshots"} 1' <<<"$body" ||
    fail "snapshots collector did not succeed: $(grep '^pbs_scrape_collector_success' <<<"$body" | tr '\n' ' ')"
groups=$(grep -c '^pbs_group_snapshots{' <<<"$body" || true)
[ "$groups" -ge 1 ] || fail "no pbs_group_snapshots samples in the scrape"
say "scrape: $(wc -l <<<"$body") lines, pbs_up 1, snapshots collector 1, $groups pbs_group_snapshots samples"

# ---- SIGTERM to PID 1: exit status 0 within 2 s ----------------------------------------------
gone() { # the process has exited: no /proc entry, or a zombie
    local st
    st=$(cat "/proc/$1/stat" 2>/dev/null) || return 0
    st=${st##*) }
    [ "${st%% *}" = Z ]
}
start=$(date +%s%N)
kill -TERM "$exporter_pid"
while ! gone "$exporter_pid"; do
    elapsed_ms=$((($(date +%s%N) - start) / 1000000))
    [ "$elapsed_ms" -lt 2000 ] || fail "the exporter still runs 2 s after SIGTERM"
    sleep 0.02
done
elapsed_ms=$((($(date +%s%N) - start) / 1000000))
# unshare --fork exits with its child's status; without it the runner is the exporter.
rc=0
wait "$runner_pid" || rc=$?
runner_pid="" exporter_pid=""
[ "$rc" = 0 ] || fail "the exporter exited with status $rc on SIGTERM"
say "SIGTERM: exited with status 0 after ${elapsed_ms} ms"

if $use_pidns; then
    echo "PASS: emptyroot-test: static exporter alone in an empty root, PID 1, uid 65534, scraped pbs.test over pinned TLS, exit 0 on SIGTERM"
else
    echo "PASS: emptyroot-test: static exporter alone in an empty root (chroot only, PID namespace unavailable), uid 65534, scraped pbs.test over pinned TLS, exit 0 on SIGTERM"
fi
