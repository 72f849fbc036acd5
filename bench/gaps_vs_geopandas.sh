#!/usr/bin/env bash
# Checks the gap analysis against GeoPandas/shapely (Lambert-93) on the same data.
# Usage: bench/gaps_vs_geopandas.sh [DATA_DIR] [RADIUS_M]
set -euo pipefail
cd "$(dirname "$0")/.."
data="$(cd "${1:-${ESS_MAP_DATA:-../shared/data}}" && pwd)"
radius="${2:-500}"
if [ ! -x bench/.venv/bin/python ]; then
  python3 -m venv bench/.venv
  bench/.venv/bin/pip install --quiet geopandas shapely pyproj numpy pandas
fi
cargo build --release --quiet -p ess-map
port=18433
target/release/ess-map serve --data "$data" --listen 127.0.0.1:$port > /dev/null 2>&1 &
pid=$!
trap 'kill $pid 2>/dev/null || true' EXIT
for i in $(seq 1 100); do curl -sf "http://127.0.0.1:$port/health" >/dev/null && break; sleep 0.3; done
bench/.venv/bin/python bench/gaps_vs_geopandas.py "http://127.0.0.1:$port" "$data" "$radius"
