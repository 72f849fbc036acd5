#!/usr/bin/env bash
# Walking time (issue 24), on this machine, in one run:
#  1. graph build from an extract of Île-de-France's size class (a synthetic
#     one: bench/idf_street_grid.py, 3 M walkable nodes among 36 M nodes and
#     8.4 M ways) — time and peak memory, then the graph read back;
#  2. every QPV × one category set, 15 minutes, through the server (real
#     IdF outlines and initiatives on that network): cold, then cached;
#  3. against pyrosm + pandana on the same extract and points: all-nodes
#     nearest and the 15-minute QPV analysis (bench/walk_vs_pandana.py), on
#     the real Monaco extract (on the synthetic grids pandana's contraction
#     hierarchies do not finish in ten minutes: BENCHMARKS.md).
# Usage: bench/walk.sh
set -euo pipefail
cd "$(dirname "$0")/.."
venv=target/pandana-venv
if [ ! -x "$venv/bin/python" ] || ! "$venv/bin/python" -c 'import osmium, geopandas' 2>/dev/null; then
  python3 -m venv "$venv"
  "$venv/bin/pip" install --quiet pyrosm==0.25.0 pandana==0.8 osmium geopandas
fi
py="$venv/bin/python"
cargo build --release --quiet -p ess-map
bin=target/release/ess-map
mkdir -p target/bench
idf=target/bench/idf-synthetic.osm.pbf
[ -f "$idf" ] || "$py" bench/idf_street_grid.py "$idf"
state=$(mktemp -d)
trap 'rm -rf "$state"; kill $server 2>/dev/null || true' EXIT
server=

echo "== 1. graph build, $(du -h "$idf" | cut -f1) synthetic extract of IdF's size class"
/usr/bin/time -f "build: %e s wall, %M kB peak RSS" "$bin" --state "$state" walk build --osm "$idf" 2>&1 | grep -E "build:|réseau"
/usr/bin/time -f "read back: %e s wall, %M kB peak RSS" "$bin" --state "$state" walk build --osm "$idf" 2>&1 | grep -E "read back:"

echo "== 2. every QPV × SIAE, 15 min on foot, through the server"
port=$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])')
"$bin" --state "$state" --geocoder none serve --listen "127.0.0.1:$port" --osm "$idf" >"$state/log" 2>&1 &
server=$!
until curl -sf "http://127.0.0.1:$port/api/qpv/QN07511M/isochrone" -o /dev/null; do sleep 0.5; done
for what in cold cached; do
  curl -s -o /dev/null -w "$what: %{time_total} s (HTTP %{http_code})\n" "http://127.0.0.1:$port/api/gaps?mode=marche&minutes=15&category=siae"
done
grep -o "walking analysis.*" "$state/log" | head -1
echo "RSS of the server with the network: $(ps -o rss= -p $server) kB"

echo "== 3. against pyrosm + pandana"
python3 tests/walk/monaco_extract.py target/walk-fixtures/monaco.osm.pbf
printf 'id,lon,lat\nt-1,7.4235,43.7315\nt-2,7.4270,43.7405\nt-3,7.4160,43.7290\n' >target/bench/monaco-points.csv
for run in "target/walk-fixtures/monaco.osm.pbf tests/walk/fixture/qpv/qpv.geojson target/bench/monaco-points.csv --data tests/walk/fixture --manifest tests/walk/fixture/manifest.toml"; do
  set -- $run
  extract=$1 qpv=$2 points=$3; shift 3
  env -u OPENBLAS_CORETYPE "$py" bench/walk_vs_pandana.py "$bin" "$extract" "$qpv" "$points" "$(mktemp -d)" "$@" 2>/dev/null \
    | grep -v -E '^\.|Generating|Setting|Range|% '
done
