#!/usr/bin/env bash
# SBOM vulnerability matching (issue 12 benchmark): 10,000 components against
# 100,000 OSV records generated locally (packaging/vuln/bench_test.go), target
# under 1 s per full match (a fresh index, then every component matched).
# Also: the same match on a warm index, and parsing the 100,000-record feed.
#
# Wall time (ns/op) counts whatever else the machine runs; cpu-ns/op is the
# process's user+system CPU per operation, which it does not.
#
#   bench/vuln.sh            # 3 iterations each
#   BENCHTIME=10x bench/vuln.sh
set -euo pipefail
cd "$(dirname "$0")/.."
out=$(mktemp)
trap 'rm -f "$out"' EXIT
go test -run '^$' -bench '^(BenchmarkMatch|BenchmarkParseFeed)$' -benchtime "${BENCHTIME:-3x}" -count 1 ./packaging/vuln/ | tee "$out"
awk '
  /^Benchmark/ {
    name=$1; sub(/-[0-9]+$/, "", name); wall=$3/1e9; cpu=""
    for (i=4; i<=NF; i++) if ($(i+1)=="cpu-ns/op") cpu=$i/1e9
    printf "%-34s %7.3f s wall  %7.3f s cpu\n", name, wall, cpu
    if (name=="BenchmarkMatch/index+match") verdict = (cpu != "" ? cpu : wall) < 1 ? "under" : "OVER"
  }
  END { if (verdict != "") printf "full match of 10,000 components x 100,000 records: %s the 1 s target\n", verdict }
' "$out"
