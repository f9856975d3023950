#!/usr/bin/env bash
# Hub event ingest benchmark: 1 and 3 loopback nodes, batched POST
# /v1/events:batch, prints events/s and per-batch p50/p99, checks exactly once.
# Usage: bash bench/hub-events.sh   (EVENTS, BATCH, CONCURRENCY to tune)
set -euo pipefail
cd "$(dirname "$0")/.."
EVENTS=${EVENTS:-200000}
BATCH=${BATCH:-1000}
CONCURRENCY=${CONCURRENCY:-8}
BIN=${BIN:-bin/eucora}
[ -x "$BIN" ] || make build >/dev/null
mkdir -p bin && go build -o bin/hubload ./bench/hubload
WORK=$(mktemp -d)
PIDS=()
cleanup() { for p in "${PIDS[@]:-}"; do kill "$p" 2>/dev/null || true; done; wait 2>/dev/null || true; rm -rf "$WORK"; }
trap cleanup EXIT

port() { python3 -c 'import socket;s=socket.socket();s.bind(("127.0.0.1",0));print(s.getsockname()[1]);s.close()'; }
wait_ready() { for _ in $(seq 1 300); do curl -sf "$1/readyz" >/dev/null && return 0; sleep 0.1; done; echo "not ready: $1" >&2; exit 1; }

run() { # run N
  local n=$1 dir="$WORK/c$1" urls=() tok
  mkdir -p "$dir"
  for i in $(seq 1 "$n"); do
    local h r; h=$(port); r=$(port)
    urls+=("http://127.0.0.1:$h")
    if [ "$i" = 1 ]; then
      "$BIN" hub serve --data "$dir/n1" --http "127.0.0.1:$h" --raft "127.0.0.1:$r" --node-id n1 2>"$dir/n1.log" & PIDS+=($!)
      wait_ready "${urls[0]}"
      for _ in $(seq 1 100); do [ -s "$dir/n1/bootstrap.token" ] && break; sleep 0.1; done
      tok=$(cat "$dir/n1/bootstrap.token")
    else
      "$BIN" hub serve --data "$dir/n$i" --http "127.0.0.1:$h" --raft "127.0.0.1:$r" --node-id "n$i" --join "${urls[0]}" --token "$tok" 2>"$dir/n$i.log" & PIDS+=($!)
      wait_ready "${urls[$((i-1))]}"
    fi
  done
  local IFS=,
  bin/hubload -hubs "${urls[*]}" -token "$tok" -events "$EVENTS" -batch "$BATCH" -concurrency "$CONCURRENCY" -label "${n}-node"
  for p in "${PIDS[@]}"; do kill "$p" 2>/dev/null || true; done; wait 2>/dev/null || true; PIDS=()
}

echo "hub event ingest: $EVENTS events, batches of $BATCH, $CONCURRENCY senders, $(nproc) CPUs"
run 1
run 3
