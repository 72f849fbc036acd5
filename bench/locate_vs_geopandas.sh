#!/usr/bin/env bash
# Compares ess-map's locating with GeoPandas on this machine, in one run.
# Usage: bench/locate_vs_geopandas.sh [DATA_DIR]   (default ../shared/data)
# Makes a throwaway venv in bench/.venv (git-ignored) from PyPI.
set -euo pipefail
cd "$(dirname "$0")/.."
data="${1:-${ESS_MAP_DATA:-../shared/data}}"
if [ ! -x bench/.venv/bin/python ]; then
  python3 -m venv bench/.venv
  bench/.venv/bin/pip install --quiet geopandas shapely pyproj numpy pandas
fi
cargo build --release --quiet -p geodata --example locate_points
# Current numpy is slowed by OpenBLAS settings meant for old builds; the
# spatial join does not use BLAS, so they are dropped for this run only.
env -u OPENBLAS_CORETYPE -u OPENBLAS_L2_SIZE \
  bench/.venv/bin/python bench/locate_vs_geopandas.py "$data" target/release/examples/locate_points
