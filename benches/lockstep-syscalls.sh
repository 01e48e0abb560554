#!/bin/bash
# Syscalls, epoll_waits, futex calls and context switches of `pxe tftp` per DATA block of one
# lock-step download, counted by `perf stat` on the server's pid: counts, unlike timings, mean
# something on a loaded machine. Needs perf (Debian: linux-perf; not in install-deps, like
# profile-tftp.sh) and root for the syscall tracepoints.
#   sudo benches/lockstep-syscalls.sh              # curl --tftp-blksize 1468, 64 MiB
#   sudo benches/lockstep-syscalls.sh pxe-get      # pxe get --blksize 1468
#   sudo SERVER=tftpd-hpa benches/lockstep-syscalls.sh   # the same counts for `in.tftpd -L`
# Env: PXE (binary), SERVER (pxe or tftpd-hpa), SIZE_MIB (64), CPUS (taskset list for both,
# default 0), PORT (6981). tftpd-hpa forks a child per transfer; perf's counters are inherited
# by it, so its figures are the parent's and the child's together.
set -euo pipefail
CLIENT=${1:-curl}
PXE=${PXE:-${CARGO_TARGET_DIR:-target}/release/pxe}
SIZE_MIB=${SIZE_MIB:-64}; CPUS=${CPUS:-0}; PORT=${PORT:-6981}
WORK=$(mktemp -d /dev/shm/pxe-lockstep.XXXXXX)
head -c $((SIZE_MIB * 1048576)) /dev/urandom >"$WORK/f"
chmod 755 "$WORK"; chmod 644 "$WORK/f"   # tftpd-hpa serves as nobody
BLOCKS=$((SIZE_MIB * 1048576 / 1468 + 1))
case ${SERVER:-pxe} in
  pxe)       taskset -c "$CPUS" "$PXE" tftp --root "$WORK" --listen 127.0.0.1:$PORT 2>"$WORK/server.log" &;;
  tftpd-hpa) taskset -c "$CPUS" in.tftpd -L -a 127.0.0.1:$PORT -s "$WORK" -u nobody 2>"$WORK/server.log" &;;
  *) echo "SERVER: pxe or tftpd-hpa" >&2; exit 2;;
esac
SP=$!
PP=
trap 'kill $SP 2>/dev/null; [ -n "$PP" ] && kill $PP 2>/dev/null; wait 2>/dev/null; rm -rf "$WORK"' EXIT
sleep 0.5
EVENTS=raw_syscalls:sys_enter,context-switches,task-clock
for s in epoll_wait recvfrom sendto pread64 read newfstatat futex pselect6 fcntl; do EVENTS=$EVENTS,syscalls:sys_enter_$s; done
perf stat -x, -e "$EVENTS" -p "$SP" -o "$WORK/stat" &
PP=$!
sleep 0.3
case $CLIENT in
  curl)    taskset -c "$CPUS" curl -s --tftp-blksize 1468 -o /dev/null "tftp://127.0.0.1:$PORT/f";;
  pxe-get) taskset -c "$CPUS" "$PXE" get "tftp://127.0.0.1:$PORT/f" -o /dev/null --blksize 1468;;
  *) echo "client: curl or pxe-get" >&2; exit 2;;
esac
sleep 0.2
kill -INT "$PP"; wait "$PP" || true; PP=
echo "${SERVER:-pxe} <- $CLIENT, $SIZE_MIB MiB lock-step (blksize 1468, $BLOCKS DATA blocks), load $(cut -d' ' -f1-3 /proc/loadavg)"
awk -F, -v b="$BLOCKS" '$1 ~ /^[0-9.]+$/ { n = $3; sub(/^syscalls:sys_enter_/, "", n); sub(/^raw_syscalls:sys_enter/, "all syscalls", n);
  if (n == "task-clock") printf "  %-14s %10.1f ms total\n", n, $1; else printf "  %-14s %10d  %.3f per block\n", n, $1, $1 / b;
  c[n] = $1 }
  # Every block costs one recvfrom that returns its ACK; the rest found nothing (EAGAIN) and the
  # transfer then waited in epoll: how often that happens depends on timing, the epoll_waits
  # per such wait do not.
  END { w = c["recvfrom"] - b; if (w > 0) printf "  waits (recvfrom EAGAIN) %d  %.3f per block, %.2f epoll_wait per wait\n", w, w / b, c["epoll_wait"] / w }' "$WORK/stat"
