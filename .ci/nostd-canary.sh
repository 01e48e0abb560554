#!/usr/bin/env bash
# The no_std canary: builds .ci/nostd-canary, a #![no_std] staticlib with its own panic
# handler and allocator that links pxe-proto, pxe-tftp, pxe-smoltcp (the smoltcp driver), pxe-dhcp and
# pxe-menu without default features. If any of them or their dependencies links std, std's
# panic handler clashes with the canary's and the build fails. Then two more checks:
#   - no std symbol made it into the archive (nm), in case a future toolchain stops clashing;
#   - self-test: the same build with std switched on in pxe-proto must FAIL, so the canary is
#     known to bite.
set -euo pipefail
cd "$(dirname "$0")/nostd-canary"
export CARGO_TARGET_DIR="${CARGO_TARGET_DIR:-$PWD/target}"

echo "nostd-canary: building the cores without std"
cargo build --release --quiet
lib="$CARGO_TARGET_DIR/release/libpxe_nostd_canary.a"
test -f "$lib"
# Demangled names of any std item (std::..., <std::...>) in the archive's symbol tables.
if nm --demangle --defined-only "$lib" 2>/dev/null | grep -E '(^|[ <(])std::' | head -5 | grep .; then
    echo "nostd-canary: FAIL: std symbols linked into the no_std canary" >&2
    exit 1
fi
echo "nostd-canary: ok, no std linked"

echo "nostd-canary: self-test (std switched on must fail to build)"
if out=$(cargo build --release --quiet --features prove-detection 2>&1); then
    echo "nostd-canary: FAIL: the canary did not notice std being linked" >&2
    exit 1
fi
if ! grep -q 'duplicate lang item' <<<"$out"; then
    echo "nostd-canary: FAIL: the self-test failed for another reason:" >&2
    echo "$out" >&2
    exit 1
fi
echo "nostd-canary: ok, self-test failed as it should (duplicate lang item panic_impl)"
