#!/bin/bash
# The systemd unit's hardening, scored offline by systemd-analyze (no running systemd needed):
# prints the score and fails above the target exposure (3.0, "OK").
#
#   bash scripts/unit-check.sh [UNIT]
set -euo pipefail
cd "$(dirname "$0")/.."
unit=${1:-contrib/pxe.service}
target=3.0
command -v systemd-analyze >/dev/null || {
  echo "unit-check.sh: systemd-analyze missing (apt-get install systemd)" >&2
  exit 1
}
report=$(systemd-analyze security --offline=yes --no-pager "$unit")
line=$(grep 'Overall exposure level' <<<"$report")
echo "unit-check.sh: $unit: ${line#→ }"
score=$(grep -Eo 'level for [^:]+: [0-9.]+' <<<"$line" | grep -Eo '[0-9.]+$')
if ! awk -v s="$score" -v t="$target" 'BEGIN { exit !(s <= t) }'; then
  echo "unit-check.sh: FAILED: exposure $score is above $target; the findings:" >&2
  grep '✗' <<<"$report" >&2
  exit 1
fi
