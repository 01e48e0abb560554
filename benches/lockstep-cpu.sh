#!/bin/bash
# CPU time per DATA block of one lock-step download, server and client apart, for one or more
# `pxe` binaries and tftpd-hpa, run alternately. Server and client are pinned to one CPU and,
# with RT=1, run SCHED_FIFO (equal priority: neither preempts the other, so every block takes
# the same path: the server sends, waits for the ACK in the kernel and is woken by it), which
# keeps the rest of a loaded machine off that CPU: throughput from `tftp-compare` swings by
# ±20 % on a loaded machine, these CPU figures by a few percent. CPU time comes from a
# cgroup-v1 cpuacct group per side (tftpd-hpa's per-transfer child included).
# Needs root, curl, in.tftpd; the file is 32 MiB so that one download stays inside the default
# RT budget (sched_rt_runtime_us, 0.95 s per second).
#   sudo RT=1 benches/lockstep-cpu.sh 5 target/release/pxe /tmp/pxe-before tftpd-hpa
# Env: RT (SCHED_FIFO when set), CPU (0), SIZE_MIB (32), PORT (6983).
set -euo pipefail
RUNS=$1; shift
CPU=${CPU:-0}; SIZE_MIB=${SIZE_MIB:-32}; PORT=${PORT:-6983}
RTP=${RT:+chrt -f 50}
CG=/sys/fs/cgroup/cpuacct
WORK=$(mktemp -d /dev/shm/pxe-lockcpu.XXXXXX)
head -c $((SIZE_MIB * 1048576)) /dev/urandom >"$WORK/f"
chmod 755 "$WORK"; chmod 644 "$WORK/f"   # tftpd-hpa serves as nobody
BLOCKS=$((SIZE_MIB * 1048576 / 1468 + 1))
SP=
# Moves what is left in a group back to the root group and removes it.
ungroup() {
  [ -d "$1" ] || return 0
  while read -r p; do echo "$p" >"$CG/cgroup.procs" 2>/dev/null || true; done <"$1/cgroup.procs"
  rmdir "$1" 2>/dev/null || true
}
cleanup() {
  if [ -n "$SP" ]; then kill "$SP" 2>/dev/null || true; wait "$SP" 2>/dev/null || true; fi
  ungroup "$CG/pxe-lockcpu-s-$$"; ungroup "$CG/pxe-lockcpu-c-$$"
  rm -rf "$WORK"
}
trap cleanup EXIT
echo "lock-step curl --tftp-blksize 1468, $SIZE_MIB MiB ($BLOCKS blocks), CPU $CPU${RT:+, SCHED_FIFO}; load $(cut -d' ' -f1-3 /proc/loadavg)"
echo "run server wall_us/blk server_us/blk client_us/blk sum_us/blk MiB/s"
OUT=$WORK/runs
for r in $(seq "$RUNS"); do
  for S in "$@"; do
    GS=$CG/pxe-lockcpu-s-$$; GC=$CG/pxe-lockcpu-c-$$; mkdir -p "$GS" "$GC"
    if [ "$S" = tftpd-hpa ]; then
      $RTP taskset -c "$CPU" in.tftpd -L -a 127.0.0.1:$PORT -s "$WORK" -u nobody &
    else
      $RTP taskset -c "$CPU" "$S" tftp --root "$WORK" --listen 127.0.0.1:$PORT 2>/dev/null &
    fi
    SP=$!; echo "$SP" >"$GS/cgroup.procs"
    sleep 0.5
    u0=$(cat "$GS/cpuacct.usage"); t0=$(date +%s%N)
    sh -c "echo \$\$ >$GC/cgroup.procs; exec $RTP taskset -c $CPU curl -s --tftp-blksize 1468 -o /dev/null tftp://127.0.0.1:$PORT/f"
    t1=$(date +%s%N); u1=$(cat "$GS/cpuacct.usage"); uc=$(cat "$GC/cpuacct.usage")
    kill "$SP"; wait "$SP" 2>/dev/null || true; SP=
    ungroup "$GS"; ungroup "$GC"
    awk -v r="$r" -v s="$S" -v w=$((t1 - t0)) -v u=$((u1 - u0)) -v c="$uc" -v b="$BLOCKS" -v m="$SIZE_MIB" \
      'BEGIN { printf "%d %s %.2f %.2f %.2f %.2f %.1f\n", r, s, w/1000/b, u/1000/b, c/1000/b, (u+c)/1000/b, m/(w/1e9) }' | tee -a "$OUT"
  done
done
echo "medians over $RUNS runs; load at the end $(cut -d' ' -f1-3 /proc/loadavg)"
echo "| server | wall µs/block | server CPU µs/block | client CPU µs/block | server+client µs/block | MiB/s |"
echo "|---|---|---|---|---|---|"
for S in "$@"; do
  awk -v s="$S" '$2 == s' "$OUT" | awk -v s="$S" '
    { w[NR]=$3; sv[NR]=$4; c[NR]=$5; t[NR]=$6; m[NR]=$7 }
    function med(a, n,   i, j, x, b) { for (i = 1; i <= n; i++) b[i] = a[i];
      for (i = 1; i <= n; i++) for (j = i + 1; j <= n; j++) if (b[j] < b[i]) { x = b[i]; b[i] = b[j]; b[j] = x }
      return n % 2 ? b[(n + 1) / 2] : (b[n / 2] + b[n / 2 + 1]) / 2 }
    END { printf "| %s | %.2f | %.2f | %.2f | %.2f | %.1f |\n", s, med(w, NR), med(sv, NR), med(c, NR), med(t, NR), med(m, NR) }'
done
