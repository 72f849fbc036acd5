#!/usr/bin/env bash
# The whole « addresses → QPV » process for a CSV of 1,000,000 rows with
# coordinates, CSV in → CSV out: `ess-map locate` against GeoPandas doing the
# same (read, sjoin, write; then with sjoin_nearest within 300 m too), and the
# I/O floor (cat), on this machine, in
# one run. Usage: bench/locate_file_vs_geopandas.sh [ROWS]
set -euo pipefail
cd "$(dirname "$0")/.."
rows="${1:-1000000}"
if [ ! -x bench/.venv/bin/python ]; then
  python3 -m venv bench/.venv
  bench/.venv/bin/pip install --quiet geopandas shapely pyproj numpy pandas pyogrio
fi
cargo build --release --quiet -p ess-map
env -u OPENBLAS_CORETYPE -u OPENBLAS_L2_SIZE \
  bench/.venv/bin/python bench/locate_file_vs_geopandas.py "$rows" target/release/ess-map data
