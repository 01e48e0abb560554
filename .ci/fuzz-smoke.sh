#!/usr/bin/env bash
# Fuzz smoke run for CI: builds every cargo-fuzz target in fuzz/ and runs each for a
# short bounded time (FUZZ_SMOKE_SECS, default 20 s) from the committed seeds, so a target that
# no longer builds, or crashes at once, fails CI. Also replays fuzz/regressions and fuzz/seeds on
# stable (`cargo test` in fuzz/). Long runs: fuzz/run-long.sh, numbers in fuzz/README.md.
set -euo pipefail
cd "$(dirname "$0")/../fuzz"
secs="${FUZZ_SMOKE_SECS:-20}"

if ! cargo +nightly --version >/dev/null 2>&1 && command -v rustup >/dev/null 2>&1; then
    echo "fuzz-smoke: installing rustup's nightly toolchain (cargo-fuzz needs it)"
    rustup toolchain install nightly --profile minimal || true
fi
if ! cargo +nightly --version >/dev/null 2>&1; then
    echo "fuzz-smoke: FAIL: cargo-fuzz needs a nightly toolchain (rustup toolchain list)" >&2
    exit 1
fi
if ! cargo fuzz --version >/dev/null 2>&1; then
    echo "fuzz-smoke: installing cargo-fuzz"
    cargo install cargo-fuzz --locked --quiet
fi

echo "fuzz-smoke: replaying saved inputs (stable)"
cargo test --quiet

echo "fuzz-smoke: building all targets"
cargo +nightly fuzz build

# A fresh, throwaway corpus per run: the smoke run must not depend on local fuzzing state.
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
fail=0
for t in $(cargo +nightly fuzz list); do
    mkdir -p "$work/$t" "seeds/$t"
    if cargo +nightly fuzz run "$t" "$work/$t" "seeds/$t" -- \
        -max_total_time="$secs" -rss_limit_mb=2048 -print_final_stats=1 >"$work/$t.log" 2>&1; then
        runs=$(grep -o 'stat::number_of_executed_units: *[0-9]*' "$work/$t.log" | grep -o '[0-9]*$' | tail -1)
        echo "fuzz-smoke: $t ok (${runs:-?} runs in ${secs}s)"
    else
        echo "fuzz-smoke: $t FAILED:" >&2
        grep -E 'panicked|ERROR|SUMMARY|Test unit written' -A3 "$work/$t.log" | head -30 >&2 || tail -30 "$work/$t.log" >&2
        fail=1
    fi
done
exit "$fail"
