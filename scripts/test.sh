#!/bin/bash
# The full test suite (the README's second command):
#
#   sudo bash scripts/test.sh
#
# 1. installs, as root via apt-get, every tool the tests use (scripts/install-deps.sh:
#    curl, atftp, tftp-hpa, dnsmasq, qemu, ovmf, pxelinux, ipxe, kea-admin, ...);
# 2. checks formatting, clippy and the API docs' links, builds every crate and target (all
#    features) and each core without std;
# 3. runs every test. Tests that need a tool FAIL when it is missing (never skip), and this
#    script also fails if any test reports itself ignored.
# 4. builds the no_std canary and runs every fuzz target briefly (.ci/nostd-canary.sh,
#    .ci/fuzz-smoke.sh; rustup's nightly and cargo-fuzz are installed if missing).
#
# Root is needed: network-namespace tests (DHCP, QEMU firmware boots) and privilege-drop tests.
# Needs Rust >= 1.91 (rustup: https://rustup.rs); under sudo, the invoking user's ~/.cargo/bin
# is searched too.
set -euo pipefail
cd "$(dirname "$0")/.."

if [ "$(id -u)" != 0 ]; then
  echo "test.sh: run as root: sudo bash scripts/test.sh" >&2
  exit 1
fi

if ! command -v cargo >/dev/null 2>&1; then
  for home in "${SUDO_USER:+$(getent passwd "$SUDO_USER" | cut -d: -f6)}" /root; do
    if [ -n "$home" ] && [ -x "$home/.cargo/bin/cargo" ]; then
      export PATH="$home/.cargo/bin:$PATH"
      export RUSTUP_HOME="${RUSTUP_HOME:-$home/.rustup}" CARGO_HOME="${CARGO_HOME:-$home/.cargo}"
      break
    fi
  done
fi
command -v cargo >/dev/null 2>&1 || {
  echo "test.sh: cargo not found; install Rust >= 1.91 with rustup (https://rustup.rs)" >&2
  exit 1
}

# The suite's builds are throwaway, so they are kept small: no incremental state (1.9 GB on a
# clean clone) and line tables only for debug info (backtraces keep file:line; the test and
# example binaries shrink by half). CI's disk is not large: the full run stays near 4 GB.
export CARGO_INCREMENTAL=0 CARGO_PROFILE_DEV_DEBUG=line-tables-only
df -h . | awk 'NR == 2 {print "test.sh: " $4 " free on " $6 " at the start"}'

bash scripts/install-deps.sh
# The systemd unit's hardening score (systemd-analyze security, offline; target <= 3.0).
bash scripts/unit-check.sh
# Style gates first: they are the cheapest to fail.
cargo fmt --all -- --check
# --all-features: every optional feature (pxe-server clap, ...) is built and tested too.
cargo clippy --workspace --all-targets --all-features -- -D warnings
# Broken or private intra-doc links are errors too.
RUSTDOCFLAGS="-D warnings" cargo doc --workspace --no-deps --all-features --quiet
cargo build --workspace --all-targets --all-features
# The cores must build as no_std + alloc on their own.
for core in pxe-proto pxe-tftp pxe-dhcp pxe-menu; do
  cargo build -p "$core" --no-default-features
done

log=$(mktemp)
trap 'rm -f "$log"' EXIT
set +e
cargo test --workspace --all-features --no-fail-fast 2>&1 | tee "$log"
status=${PIPESTATUS[0]}
set -e
if [ "$status" != 0 ]; then
  echo "test.sh: FAILED (cargo test exit $status)" >&2
  exit "$status"
fi
if grep -Eq '[1-9][0-9]* ignored' "$log"; then
  echo "test.sh: FAILED: some tests were ignored (skipped):" >&2
  grep -E '[1-9][0-9]* ignored' "$log" >&2
  exit 1
fi
passed=$(grep -Eo '[0-9]+ passed' "$log" | awk '{s += $1} END {print s + 0}')
echo "test.sh: $passed tests passed, none ignored"

# The .deb: built (cargo-deb), installed in a throwaway overlay, `pxe --version`, `man -w pxe`,
# `pxe doctor`, purged.
bash scripts/deb.sh
# No core or dependency may pull in std (a staticlib with its own panic handler and allocator).
bash .ci/nostd-canary.sh
# Every fuzz target builds and survives a short run; saved findings replay as regressions.
bash .ci/fuzz-smoke.sh
df -h . | awk 'NR == 2 {print "test.sh: " $4 " free on " $6 " at the end"}'
echo "test.sh: OK"
