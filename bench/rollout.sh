#!/usr/bin/env bash
# The rollout orchestrator at the architecture document's scale (issue 13),
# not a test: 50,000 devices, 5,000 applications, 500 sites, 5 rings, and
# 1/10 and 1/2 of that estate (bench/rolloutbench says how it is built).
# Targets, each printed beside its figure:
#   1. a full reconciliation pass over 5,000 active intents in under 1 s of
#      hub CPU, plane reads excluded (they are counted instead);
#   2. a site's delta computed in under 100 ms;
#   3. gate evaluation of a ring of 10,000 devices in under 50 ms.
# For a figure over its target the top of its CPU profile follows the table.
#
#   bench/rollout.sh                   # x0.1, x0.5, x1 (10 minutes on 2 idle cores)
#   SIZES=0.1 bench/rollout.sh         # the tenth only
#   PROFILES=DIR bench/rollout.sh      # keep the largest size's CPU profiles in DIR
#   ANSWERS=DIR bench/rollout.sh       # keep the captured plane answers in DIR, or
#                                      # reuse them (no simulators: a few minutes)
set -euo pipefail
cd "$(dirname "$0")/.."
work=$(mktemp -d "${TMPDIR:-/tmp}/eucora-rollout-bench.XXXXXX")
trap 'rm -rf "$work"' EXIT
go build -o "$work/rolloutbench" ./bench/rolloutbench
profiles=${PROFILES:-$work/profiles}
mkdir -p "$profiles" ${ANSWERS:+"$ANSWERS"}
"$work/rolloutbench" -sizes "${SIZES:-0.1,0.5,1}" -profiles "$profiles" ${ANSWERS:+-answers "$ANSWERS"}
if [ -s "$profiles/MISSED" ]; then
  while read -r name; do
    echo
    echo "== CPU profile of $name (largest size), top entries by cumulative time"
    go tool pprof -top -cum -nodecount=25 -hide '^main\.|^runtime\.main$' "$work/rolloutbench" "$profiles/$name.pprof" 2>/dev/null | sed -n '/flat%/,$p'
  done <"$profiles/MISSED"
fi
