#!/usr/bin/env bash
# Starts of ess-map at national scale, one after the other on one state
# directory: the first reads every file and writes the start-up snapshot,
# the others read the snapshot back. Prints, per start, the time until it
# listens, its user and system CPU, and the phases from its log
# (territory, initiatives, indexes, in ms).
# Usage: bench/start.sh [SCALE] [STARTS]   (default 250 6; data from bench/scale.sh)
# ESS_MAP_BIN=PATH runs another binary.
set -euo pipefail
cd "$(dirname "$0")/.."
scale=${1:-250}
starts=${2:-6}
bin=${ESS_MAP_BIN:-target/release/ess-map}
data=target/national-${scale}x
[ -d "$data" ] || { echo "no $data: run bench/scale.sh $scale first" >&2; exit 1; }
state=$(mktemp -d)
trap 'rm -rf "$state"' EXIT
for i in $(seq 1 "$starts"); do
  out=$(mktemp); err=$(mktemp)
  /usr/bin/time -f "TIME user %U sys %S" "$bin" --geocoder none --data "$data" \
    --manifest "$data/manifest.toml" --state "$state" serve --listen 127.0.0.1:0 >"$out" 2>"$err" &
  t0=$(date +%s.%N)
  until grep -q listening "$out"; do sleep 0.02; done
  up=$(echo "$(date +%s.%N) - $t0" | bc)
  pkill -INT -f "$state serve" || true
  wait || true
  phases=$(sed 's/\x1b\[[0-9;]*m//g' "$err" | grep -E "territory read|snapshot\)|data read and placed|initiatives read from|initiatives indexed" \
    | sed -E 's/.*(territory|data read|initiatives read|initiatives indexed).* in ([0-9]+) ms.*/\1 \2/' | tr '\n' ';')
  printf 'start %d: %.2f s; %s; %s\n' "$i" "$up" "$(grep TIME "$err" | cut -c6-)" "$phases"
  rm -f "$out" "$err"
done
