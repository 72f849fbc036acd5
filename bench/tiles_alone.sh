#!/usr/bin/env bash
# ess-map alone on the URLs of bench/tiles_vs_martin.sh (run that first: it
# writes target/bench/), release build: a warm-up pass over every URL, then wrk
# 15 s, 2 threads, 32 connections. Prints requests/s and p99.
# Usage: bench/tiles_alone.sh [DATA_DIR]
set -euo pipefail
cd "$(dirname "$0")/.."
data="$(cd "${1:-${ESS_MAP_DATA:-../shared/data}}" && pwd)"
out=target/bench
[ -f "$out/ess-map.urls" ] || { echo "run bench/tiles_vs_martin.sh first" >&2; exit 1; }
cargo build --release --quiet -p ess-map
state="$(mktemp -d)"
target/release/ess-map serve --data "$data" --manifest "$out/bench-manifest.toml" --state "$state" \
  --listen 127.0.0.1:18434 > "$out/alone.log" 2>&1 &
pid=$!
trap 'kill $pid 2>/dev/null || true; rm -rf "$state"' EXIT
for _ in $(seq 1 100); do curl -sf http://127.0.0.1:18434/health >/dev/null && break; sleep 0.3; done
awk '{print "url = \"http://127.0.0.1:18434" $0 "\"\noutput = \"/dev/null\""}' "$out/ess-map.urls" > "$out/alone.curl"
curl -s --no-progress-meter --parallel --parallel-max 8 -K "$out/alone.curl"
wrk -t2 -c32 -d15s --latency -s "$out/urls.lua" http://127.0.0.1:18434 -- "$out/ess-map.urls" | grep -E "Requests/sec|99%"
