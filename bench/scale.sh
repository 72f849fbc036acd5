#!/usr/bin/env bash
# ess-map at national scale: builds the release binary and the synthetic
# national data sets (target/national-<N>x, see bench/gen-national), then
# prints one table for 1×, 10×, 100×, 250× (bench/scale.py).
# Usage: bench/scale.sh [SCALE ...]
set -euo pipefail
cd "$(dirname "$0")/.."
command -v wrk >/dev/null || { echo "wrk is missing: apt-get install wrk" >&2; exit 1; }
cargo build --release --quiet -p ess-map -p gen-national
for scale in "${@:-1 10 100 250}"; do
  for s in $scale; do ./target/release/gen-national "$s" >/dev/null; done
done
exec python3 bench/scale.py "$@"
