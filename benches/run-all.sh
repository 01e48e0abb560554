#!/bin/bash
# Every measurement of benches/README.md in one go; run as root from anywhere:
#   sudo benches/run-all.sh
# Env (defaults are the README's figures): RUNS=5 SIZE_MIB=256 SCALE_CLIENTS=500 SCALE_MIB=16
#   LOSS_DOWNLOADS=100 LOSS_DOWNLOADS_20=100 HTTP_RUNS=3 HTTP_SIZE_MIB=1024 HTTP_CLIENTS=50
#   DHCP_SECS=5 DHCP_RATES=(harness default) STORM_CLIENTS=200 STORM_RUNS=3 CRITERION_ARGS=
#   OUT=$CARGO_TARGET_DIR/bench-report
# Installs the peers (scripts/install-deps.sh), builds the release binaries, then runs
# tftp-compare (peers + loopback ceiling), tftp-scale (500 clients), tftp-hostile, tftp-loss
# (downloads under 0/5/20 % loss), tftp-scale with 10 000 clients, http-compare (pxe serve
# --http vs nginx), dhcp-load (perfdhcp in a netns pair), boot-storm (200 PXE clients vs pxe
# and dnsmasq + nginx), the allocation check and the criterion benches. Each report lands in
# $OUT.
# Measure on a quiet machine: the reports carry the load average before and after.
set -euo pipefail
cd "$(dirname "$0")/.."
RUNS=${RUNS:-5}
SIZE_MIB=${SIZE_MIB:-256}
SCALE_CLIENTS=${SCALE_CLIENTS:-500}
SCALE_MIB=${SCALE_MIB:-16}
DHCP_SECS=${DHCP_SECS:-5}
STORM_CLIENTS=${STORM_CLIENTS:-200}
STORM_RUNS=${STORM_RUNS:-3}
TGT=${CARGO_TARGET_DIR:-target}
BIN=$TGT/release
OUT=${OUT:-$TGT/bench-report}
mkdir -p "$OUT"

scripts/install-deps.sh
cargo build --release -p pxe-bin -p pxe-benches

{
  echo "date: $(date -u '+%Y-%m-%d %H:%M UTC')"
  echo "commit: $(git rev-parse --short HEAD 2>/dev/null || echo '?')"
  echo "kernel: $(uname -srm)"
  lscpu | grep -E '^(Model name|CPU\(s\)|Thread|Core|Socket|L2|L3|Hypervisor)'
  echo "memory: $(free -m | awk '/Mem:/ {print $2 " MiB"}')"
  echo "load average at start: $(cut -d' ' -f1-3 /proc/loadavg)"
} | tee "$OUT/machine.txt"

# From here on a failing step is reported and the next one still runs.
set +e
FAILED=()
stamp() { echo "$(date -u +%H:%M:%S) UTC $1, load average $(cut -d' ' -f1-3 /proc/loadavg)" | tee -a "$OUT/machine.txt"; }

stamp "start tftp-compare"
"$BIN/tftp-compare" --pxe "$BIN/pxe" --runs "$RUNS" --size-mib "$SIZE_MIB" \
  --csv "$OUT/tftp-compare.csv" 2> "$OUT/tftp-compare.log" | tee "$OUT/tftp-compare.md" \
  || FAILED+=(tftp-compare)
stamp "start tftp-scale"
"$BIN/tftp-scale" --pxe "$BIN/pxe" --clients "$SCALE_CLIENTS" --size-mib "$SCALE_MIB" \
  2> "$OUT/tftp-scale.log" | tee "$OUT/tftp-scale.md" || FAILED+=(tftp-scale)
stamp "start tftp-hostile"
"$BIN/tftp-hostile" --pxe "$BIN/pxe" 2> "$OUT/tftp-hostile.log" | tee "$OUT/tftp-hostile.md" \
  || FAILED+=(tftp-hostile)
stamp "start tftp-loss"
# 100 downloads per client, server and loss rate (0/5/20 % input loss in a namespace it creates
# and deletes); LOSS_DOWNLOADS_20 lowers the 20 % count when time is short.
"$BIN/tftp-loss" --pxe "$BIN/pxe" --downloads "${LOSS_DOWNLOADS:-100}" \
  --downloads-20 "${LOSS_DOWNLOADS_20:-100}" 2> "$OUT/tftp-loss.log" | tee "$OUT/tftp-loss.md" \
  || FAILED+=(tftp-loss)
stamp "start tftp-scale 10k"
# 10 000 transfers need ~10 000 descriptors in the harness and ~10 000 in the server (one reply
# socket each; the file is shared): a hard RLIMIT_NOFILE of 20 000 or more. Only the transfer
# cap is raised: the handshake budget follows it (never below max_transfers).
"$BIN/tftp-scale" --pxe "$BIN/pxe" --clients 10000 --size-mib 1 \
  "--pxe-tftp-args=--windowsize-max 64 --max-transfers 12000" \
  2> "$OUT/tftp-scale-10k.log" | tee "$OUT/tftp-scale-10k.md" || FAILED+=(tftp-scale-10k)
stamp "start http-compare"
"$BIN/http-compare" --pxe "$BIN/pxe" --runs "${HTTP_RUNS:-3}" --size-mib "${HTTP_SIZE_MIB:-1024}" \
  --clients "${HTTP_CLIENTS:-50}" --csv "$OUT/http-compare.csv" 2> "$OUT/http-compare.log" \
  | tee "$OUT/http-compare.md" || FAILED+=(http-compare)
stamp "start dhcp-load"
"$BIN/dhcp-load" --pxe "$BIN/pxe" --secs "$DHCP_SECS" ${DHCP_RATES:+--rates "$DHCP_RATES"} \
  2> "$OUT/dhcp-load.log" | tee "$OUT/dhcp-load.md" || FAILED+=(dhcp-load)
stamp "start boot-storm"
"$BIN/boot-storm" --pxe "$BIN/pxe" --clients "$STORM_CLIENTS" --runs "$STORM_RUNS" \
  2> "$OUT/boot-storm.log" | tee "$OUT/boot-storm.md" || FAILED+=(boot-storm)
stamp "start no_alloc"
cargo test --release -p pxe-benches --test no_alloc -- --nocapture 2>&1 | tee "$OUT/no-alloc.txt" \
  || FAILED+=(no_alloc)
stamp "start criterion"
# shellcheck disable=SC2086 # CRITERION_ARGS is a list of flags
cargo bench -p pxe-benches --bench tftp --bench dhcp --bench menu -- ${CRITERION_ARGS:-} 2>&1 \
  | awk '/^[A-Za-z_0-9]+\// {print; skip=0; next} /change:/ {skip=1} /time:|thrpt:/ && !skip {print}' \
  | tee "$OUT/criterion.txt" || FAILED+=(criterion)
stamp "end"
echo "reports in $OUT"
if [ ${#FAILED[@]} -gt 0 ]; then
  echo "FAILED: ${FAILED[*]} (see the .log files)" >&2
  exit 1
fi
