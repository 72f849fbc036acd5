#!/usr/bin/env bash
# ess-map's tile serving against Martin's, on loopback, in one run, with wrk.
# Usage: bench/tiles_vs_martin.sh [DATA_DIR]   (default ../shared/data)
#
# Both serve the same files: the Île-de-France QPV outlines and the SIAE
# points (GeoJSON). The same list of URLs — the qpv and the initiatives tile
# of every tile covering Île-de-France at zooms 6 to 14 — is requested from
# each, after a warm-up pass, by wrk (2 threads, 32 connections, 20 s).
# Martin is built from crates.io (version 1.14.0, features geojson and
# mbtiles) into bench/.martin (git-ignored), never into the repository.
# Martin is measured twice: on the same GeoJSON files, and on the same
# layers pre-built into MBTiles by GDAL (`ogr2ogr -f MBTiles`, zooms 6-14),
# Martin's fast path (tiles read from SQLite, nothing computed).
set -euo pipefail
cd "$(dirname "$0")/.."
data="$(cd "${1:-${ESS_MAP_DATA:-../shared/data}}" && pwd)"
out=target/bench
mkdir -p "$out"
command -v wrk >/dev/null || { echo "wrk is missing: apt-get install wrk" >&2; exit 1; }
command -v ogr2ogr >/dev/null || { echo "ogr2ogr is missing: apt-get install gdal-bin" >&2; exit 1; }
martin=bench/.martin/bin/martin
# Built once with both sources (a stamp records the features).
if [ ! -x "$martin" ] || [ "$(cat bench/.martin/features 2>/dev/null)" != "geojson,mbtiles" ]; then
  cargo install martin --version 1.14.0 --locked --no-default-features --features geojson,mbtiles --root bench/.martin --force
  echo "geojson,mbtiles" > bench/.martin/features
fi
cargo build --release --quiet -p ess-map
ess_port=18431; martin_port=18432; mbtiles_port=18433

# Tiles covering the Île-de-France QPV bounding box, zooms 6 to 14.
python3 - "$data/qpv/qpv-2024-idf.geojson" > "$out/tiles.txt" <<'PY'
import json, math, sys
feats = json.load(open(sys.argv[1]))["features"]
xs = [c[0] for f in feats for poly in f["geometry"]["coordinates"] for ring in poly for c in ring]
ys = [c[1] for f in feats for poly in f["geometry"]["coordinates"] for ring in poly for c in ring]
def tile(lon, lat, z):
    n = 2 ** z
    x = int((lon + 180) / 360 * n)
    y = int((1 - math.log(math.tan(math.radians(lat)) + 1 / math.cos(math.radians(lat))) / math.pi) / 2 * n)
    return x, y
for z in range(6, 15):
    x0, y0 = tile(min(xs), max(ys), z)
    x1, y1 = tile(max(xs), min(ys), z)
    for x in range(x0, x1 + 1):
        for y in range(y0, y1 + 1):
            print(z, x, y)
PY
tiles=$(wc -l < "$out/tiles.txt")
awk '{print "/tiles/qpv/"$1"/"$2"/"$3".mvt"; print "/tiles/initiatives/"$1"/"$2"/"$3".mvt"}' "$out/tiles.txt" > "$out/ess-map.urls"
awk '{print "/qpv-2024-idf/"$1"/"$2"/"$3; print "/siae_lemarche/"$1"/"$2"/"$3}' "$out/tiles.txt" > "$out/martin.urls"
# The same layers as MBTiles, made by GDAL once.
for layer in qpv/qpv-2024-idf ess/siae_lemarche; do
  name=$(basename "$layer")
  [ -f "$out/$name.mbtiles" ] || ogr2ogr -f MBTiles "$out/$name.mbtiles" "$data/$layer.geojson" \
    -dsco MINZOOM=6 -dsco MAXZOOM=14 -dsco NAME="$name" -nln "$name"
done
awk '{print "/qpv-2024-idf/"$1"/"$2"/"$3; print "/siae_lemarche/"$1"/"$2"/"$3}' "$out/tiles.txt" > "$out/mbtiles.urls"

# Each server reads the same two GeoJSON files.
manifest="$out/bench-manifest.toml"
cat > "$manifest" <<'TOML'
[[dataset]]
id = "qpv-2024-idf"
kind = "qpv_polygons"
file = "qpv/qpv-2024-idf.geojson"
title = "QPV 2024, Île-de-France"
territory = "Île-de-France"
generation = 2024
source_url = "https://www.data.gouv.fr/"
licence = "Licence Ouverte / Etalab 2.0"
attribution = "Source : ANCT"

[[dataset]]
id = "siae"
kind = "initiatives"
file = "ess/siae_lemarche.geojson"
title = "SIAE"
territory = "France"
source_url = "https://www.data.gouv.fr/"
licence = "see data/manifest.toml"
attribution = "Source : GIP Plateforme de l'inclusion"
[dataset.columns]
kind = "category"
TOML
target/release/ess-map serve --data "$data" --manifest "$manifest" --listen 127.0.0.1:$ess_port > "$out/ess-map.log" 2>&1 &
ess_pid=$!
"$martin" --listen-addresses 127.0.0.1:$martin_port "$data/qpv/qpv-2024-idf.geojson" "$data/ess/siae_lemarche.geojson" > "$out/martin.log" 2>&1 &
martin_pid=$!
"$martin" --listen-addresses 127.0.0.1:$mbtiles_port "$out/qpv-2024-idf.mbtiles" "$out/siae_lemarche.mbtiles" > "$out/mbtiles.log" 2>&1 &
mbtiles_pid=$!
trap 'kill $ess_pid $martin_pid $mbtiles_pid 2>/dev/null || true' EXIT
for i in $(seq 1 100); do
  curl -sf "http://127.0.0.1:$ess_port/health" >/dev/null && curl -sf "http://127.0.0.1:$martin_port/catalog" >/dev/null \
    && curl -sf "http://127.0.0.1:$mbtiles_port/catalog" >/dev/null && break
  sleep 0.3
done

cat > "$out/urls.lua" <<'LUA'
local urls = {}
local i = 0
function init(args)
  for line in io.lines(args[1]) do urls[#urls + 1] = line end
  i = math.random(#urls)
end
function request()
  i = i % #urls + 1
  return wrk.format("GET", urls[i])
end
LUA

run() { # name port urls seconds
  wrk -t2 -c32 -d"$4"s --latency -s "$out/urls.lua" "http://127.0.0.1:$2" -- "$3"
}
echo "$tiles tiles × 2 layers = $(wc -l < "$out/ess-map.urls") URLs per server"
for name in ess-map martin mbtiles; do
  port=$ess_port; [ $name = martin ] && port=$martin_port; [ $name = mbtiles ] && port=$mbtiles_port
  # Warm-up: every URL once, so that whatever a server caches is cached.
  awk -v base="http://127.0.0.1:$port" '{print "url = \"" base $0 "\"\noutput = \"/dev/null\""}' "$out/$name.urls" > "$out/$name.curl"
  curl -s --no-progress-meter --parallel --parallel-max 8 -K "$out/$name.curl"
  run $name $port "$out/$name.urls" 20 > "$out/$name.wrk"
done
rps() { awk '/Requests\/sec/ {print $2}' "$1"; }
p99() { awk '$1=="99%" {print $2}' "$1"; }
ess=$(rps "$out/ess-map.wrk"); mar=$(rps "$out/martin.wrk"); mbt=$(rps "$out/mbtiles.wrk")
printf '\n%-18s %14s %10s\n' server 'requests/s' 'p99'
printf '%-18s %14s %10s\n' ess-map "$ess" "$(p99 "$out/ess-map.wrk")" \
  "martin (GeoJSON)" "$mar" "$(p99 "$out/martin.wrk")" "martin (MBTiles)" "$mbt" "$(p99 "$out/mbtiles.wrk")"
python3 -c "print(f'ratio ess-map / martin GeoJSON: {float($ess) / float($mar):.1f}x; ess-map / martin MBTiles: {float($ess) / float($mbt):.2f}x')"
grep -h "Non-2xx" "$out"/*.wrk || true
