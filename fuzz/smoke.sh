#!/usr/bin/env bash
# Fuzz smoke test for CI: replays the regression inputs, then runs every cargo-fuzz target for
# N seconds (default 20) from its seed corpus. Exits non-zero if any target crashes, hangs,
# or goes over the memory limit.
#
#   fuzz/smoke.sh [SECONDS]
#
# Needs a nightly toolchain (FUZZ_TOOLCHAIN, default "nightly"). Installs cargo-fuzz if missing.
# Targets are built without a sanitizer (the crate has no unsafe code; ASan's quarantine would
# make the 64 MiB RSS limit meaningless) but with debug assertions and overflow checks.
set -uo pipefail

secs="${1:-20}"
toolchain="${FUZZ_TOOLCHAIN:-nightly}"
cd "$(dirname "$0")/.."

if ! cargo fuzz --version >/dev/null 2>&1; then
    cargo install cargo-fuzz --locked || cargo install cargo-fuzz || exit 1
fi

fuzz=(cargo "+$toolchain" fuzz)
flags=(-timeout=10 -rss_limit_mb=64 -max_len=65536 -print_final_stats=1)

"${fuzz[@]}" build -s none || exit 1

failed=()
for t in $("${fuzz[@]}" list); do
    mkdir -p "fuzz/corpus/$t" "fuzz/artifacts/$t"
    if compgen -G "fuzz/regressions/$t/*" >/dev/null; then
        echo "=== $t: regression inputs"
        if ! "${fuzz[@]}" run -s none "$t" fuzz/regressions/"$t"/* -- "${flags[@]}"; then
            failed+=("$t (regression)")
        fi
    fi
    echo "=== $t: fuzzing for ${secs}s"
    if ! "${fuzz[@]}" run -s none "$t" "fuzz/corpus/$t" "fuzz/seeds/$t" -- \
        -max_total_time="$secs" "${flags[@]}"; then
        failed+=("$t")
    fi
done

if ((${#failed[@]})); then
    echo "FAILED: ${failed[*]} (inputs in fuzz/artifacts/)" >&2
    exit 1
fi
echo "all fuzz targets passed"
