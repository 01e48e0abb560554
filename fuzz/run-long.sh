#!/usr/bin/env bash
# Long fuzz runs: `fuzz/run-long.sh SECONDS TARGET...` runs the targets one after another
# (niced; the build machine is shared), each for SECONDS, corpus in fuzz/corpus/TARGET plus the
# committed seeds, and prints one "target runs seconds result" line per target (the numbers in
# README.md come from here). Crashes land in fuzz/artifacts/TARGET/.
set -u
cd "$(dirname "$0")"
secs=$1
shift
mkdir -p logs
for t in "$@"; do
    mkdir -p "corpus/$t" "seeds/$t"
    log="logs/$t.log"
    nice -n 19 cargo +nightly fuzz run "$t" "corpus/$t" "seeds/$t" -- \
        -max_total_time="$secs" -print_final_stats=1 >"$log" 2>&1
    rc=$?
    runs=$(grep -o 'stat::number_of_executed_units: *[0-9]*' "$log" | grep -o '[0-9]*$' | tail -1)
    result=ok
    [ "$rc" -ne 0 ] && result="CRASH (see $log)"
    echo "$t ${runs:-?} $secs $result"
done
