#!/bin/bash
# Where does `pxe tftp` spend its time? perf (cpu-clock, call graphs) on the server's pid while
# one client downloads the bench file a few times; prints the top symbols (self time) and the
# syscall counts. Run as root after tftp-compare created the file (or pass ROOT).
#   sudo benches/profile-tftp.sh curl            # curl default (blksize 512, lock-step)
#   sudo benches/profile-tftp.sh pxe-get 1468 16 # pxe get --blksize 1468 --windowsize 16
# Env: PXE (binary), ROOT (dir with big.bin), CPUS (taskset list for both, default 0), REPS.
set -euo pipefail
CLIENT=${1:-curl}; BLK=${2:-}; WS=${3:-}
PXE=${PXE:-${CARGO_TARGET_DIR:-target}/release/pxe}
ROOT=${ROOT:-/dev/shm/pxe-bench/root}
CPUS=${CPUS:-0}; REPS=${REPS:-3}; PORT=6990
OUT=${OUT:-/tmp/pxe-profile}; mkdir -p "$OUT"
taskset -c "$CPUS" "$PXE" tftp --root "$ROOT" --listen 127.0.0.1:$PORT --windowsize-max 64 2>"$OUT/server.log" &
SP=$!
trap 'kill $SP 2>/dev/null; wait $SP 2>/dev/null || true' EXIT
sleep 0.5
perf record -q -e cpu-clock -g -p "$SP" -o "$OUT/perf.data" 2>/dev/null &
PP=$!
sleep 0.3
for _ in $(seq "$REPS"); do
  case $CLIENT in
    curl)    taskset -c "$CPUS" curl -s ${BLK:+--tftp-blksize $BLK} -o /dev/null "tftp://127.0.0.1:$PORT/big.bin";;
    atftp)   taskset -c "$CPUS" atftp ${BLK:+--option "blksize $BLK"} ${WS:+--option "windowsize $WS"} -g -r big.bin -l /dev/null 127.0.0.1 $PORT;;
    pxe-get) taskset -c "$CPUS" "$PXE" get "tftp://127.0.0.1:$PORT/big.bin" -o /dev/null ${BLK:+--blksize $BLK} ${WS:+--windowsize $WS};;
  esac
done
kill -INT "$PP"; wait "$PP" || true
perf report -i "$OUT/perf.data" --no-children --sort symbol --stdio 2>/dev/null \
  | grep -E '^ +[0-9.]+%' | head -25
