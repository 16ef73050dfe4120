#!/usr/bin/env bash
# Builds the static pbs-exporter binary (glibc, +crt-static, no .so needed at run time: it runs
# in an empty root / FROM scratch image) and checks its size.
#
#   scripts/build-static.sh [--profile NAME] [--max-bytes N] [-- CARGO_ARGS...]
#
# --profile   cargo profile (default: static, i.e. release (lto, codegen-units=1, panic=abort,
#             strip) with opt-level "s"; see [profile.static] in Cargo.toml for the measurements)
# --max-bytes size limit (default 3145728 = 3 MiB); exit status 1 above it
# -- ARGS     passed on to cargo (`cargo rustc`, before its own `--`), e.g. -- --locked
#
# Runs the binary with --version (exit status 1 unless it prints its version within 10 s).
# Prints "binary: PATH", "starts: ..." and "size: ..." on stdout (other scripts read the
# "binary:" line).
# Honours CARGO_TARGET_DIR and any RUSTFLAGS already set (crt-static and the packed
# relocations are appended).
#
# --target is required: with it, RUSTFLAGS applies to the target only, so proc-macro crates and
# build scripts (host artifacts) are not built with crt-static, which would fail.
set -euo pipefail

profile=static
max_bytes=3145728
cargo_args=()
while [ $# -gt 0 ]; do
    case "$1" in
        --profile) profile="$2"; shift 2 ;;
        --profile=*) profile="${1#*=}"; shift ;;
        --max-bytes) max_bytes="$2"; shift 2 ;;
        --max-bytes=*) max_bytes="${1#*=}"; shift ;;
        --) shift; cargo_args=("$@"); break ;;
        -h|--help) sed -n '2,19p' "$0"; exit 0 ;;
        *) echo "build-static.sh: unknown argument '$1'" >&2; exit 2 ;;
    esac
done

cd "$(dirname "$0")/.."
target=x86_64-unknown-linux-gnu

# pack-relative-relocs: the static-pie binary relocates itself at start (one address per
# pointer in vtables and tables, 4,300 of them); packed as DT_RELR (glibc >= 2.36 and its
# static start-up read it, binutils >= 2.38 writes it) they take 1.2 KB instead of 104 KB of
# 24-byte RELA entries. Same code, same PIE and address randomisation (DESIGN.md).
# The JSON messages name the executable even when nothing had to be rebuilt; diagnostics still
# go to the terminal, rendered.
static_flags="-C target-feature=+crt-static -C link-arg=-Wl,-z,pack-relative-relocs"
# Symbol order (scripts/static-symbol-order.txt, made by scripts/order-symbols.sh): the
# functions run at start and idle first, then those a scrape runs, each group contiguous, so a
# scrape maps fewer pages of the binary (DESIGN.md, "Symbol order"). Names the code no longer
# has are ignored: a stale file costs locality, never correctness. The linker reads a copy
# named by its content's hash: `cargo rustc` passes it to the binary's link only (the crates
# and their symbol names stay as they are) and links again whenever the order changes.
order=scripts/static-symbol-order.txt
mkdir -p "${CARGO_TARGET_DIR:-target}"
order_copy=$(cd "${CARGO_TARGET_DIR:-target}" && pwd)/static-symbol-order-$(sha256sum "$order" | cut -c1-16).txt
# Copied under a temporary name and renamed: an interrupted copy never stands as the file.
if ! cmp -s "$order" "$order_copy"; then
    cp "$order" "$order_copy.$$" && mv -f "$order_copy.$$" "$order_copy"
fi
# The two options are lld's, the linker rustc uses on this target from 1.90 on (GNU ld has
# neither): with an older rustc, or lld switched off in RUSTFLAGS, link in the default order.
order_args=(-C link-arg=-Wl,--symbol-ordering-file="$order_copy" -C link-arg=-Wl,--no-warn-symbol-ordering)
rustc_minor=$(rustc -V | sed -n 's/^rustc 1\.\([0-9]*\)\..*/\1/p')
if [ "${rustc_minor:-0}" -lt 90 ] || [[ "${RUSTFLAGS:-} ${CARGO_ENCODED_RUSTFLAGS:-}" == *linker* ]]; then
    echo "build-static.sh: rustc $(rustc -V | cut -d' ' -f2) or a linker set in RUSTFLAGS: no symbol order" >&2
    order_args=()
fi
messages=$(RUSTFLAGS="${RUSTFLAGS:+$RUSTFLAGS }$static_flags" \
    cargo rustc --profile "$profile" --target "$target" -p pbs-exporter --bin pbs-exporter \
    --message-format=json-render-diagnostics ${cargo_args[@]+"${cargo_args[@]}"} -- \
    ${order_args[@]+"${order_args[@]}"})
bin=$(printf '%s\n' "$messages" | grep -o '"executable":"[^"]*pbs-exporter"' | tail -n 1 | cut -d'"' -f4)
if [ -z "$bin" ] || [ ! -x "$bin" ]; then
    echo "build-static.sh: cargo did not report the pbs-exporter executable" >&2
    exit 1
fi

# A dynamically linked binary would need ld-linux and libc.so in the image: refuse it.
if grep -q 'ld-linux' <(head -c 4096 "$bin" | tr -c '[:print:]' '\n'); then
    echo "build-static.sh: $bin has an ELF interpreter (dynamically linked), expected static" >&2
    exit 1
fi

# It must start: a linker writing relocations (DT_RELR) its static start-up code cannot apply
# crashes before main. Run with an empty environment, so it also runs itself again with
# glibc's thread cache off (malloc_trim::without_thread_cache), as it does in production.
version=$(sed -n 's/^version = "\(.*\)"$/\1/p' Cargo.toml | head -n 1)
if ! started=$(timeout 10 env -i "$bin" --version 2>&1) || [ "$started" != "pbs-exporter $version" ]; then
    echo "build-static.sh: FAIL: $bin --version printed '$started', expected 'pbs-exporter $version'" >&2
    exit 1
fi
echo "starts: $started"

bytes=$(stat -c %s "$bin")
mib=$(awk -v b="$bytes" 'BEGIN { printf "%.2f", b / 1048576 }')
max_mib=$(awk -v b="$max_bytes" 'BEGIN { printf "%.2f", b / 1048576 }')
echo "binary: $bin"
echo "size: $bytes bytes ($mib MiB), limit $max_bytes bytes ($max_mib MiB), profile $profile"
if [ "$bytes" -gt "$max_bytes" ]; then
    echo "build-static.sh: FAIL: binary is $bytes bytes, above the $max_bytes-byte limit" >&2
    exit 1
fi
