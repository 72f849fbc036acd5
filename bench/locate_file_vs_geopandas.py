"""`ess-map locate IN.csv > OUT.csv` against GeoPandas doing the same job on
the same file: read the CSV, join the points with the QPV outlines (inside),
the others with the nearest outline within 300 m (Lambert-93), write the
rows back with status, code, name and distance. Seeded points over the
Île-de-France QPV box, with a name column, as a planner's file would have.
Each side timed best of 3, whole process (ess-map's start-up and its loading
of the QPV included, as GeoPandas' reading of the outlines is). Checks that
both give the same status for every row, up to boundary ties.

Run through bench/locate_file_vs_geopandas.sh (venv, release build).
"""
import gzip
import subprocess
import sys
import time
from pathlib import Path

import geopandas as gpd
import numpy as np
import pandas as pd

N = int(sys.argv[1])
binary = Path(sys.argv[2]).resolve()
data = Path(sys.argv[3]).resolve()
SEED = 20261130
RADIUS = 300.0
REPEATS = 3
TIE_M = 0.5

work = Path(__file__).resolve().parent / "out"
work.mkdir(exist_ok=True)
source = work / "structures-1m.csv"


def outlines():
    frames = []
    for name in ["qpv-2024-idf.geojson.gz", "qpv-2015-occitanie.geojson.gz"]:
        with gzip.open(data / "qpv" / name) as f:
            frames.append(gpd.read_file(f))
    both = pd.concat(frames, ignore_index=True)
    code = [c for c in ["code_qp", "CODE_QP", "code"] if c in both.columns]
    name = [c for c in ["lib_qp", "nom_qp", "NOM_QP", "nom"] if c in both.columns]
    both = both.rename(columns={code[0]: "qpv_code", name[0]: "qpv_name"})
    return gpd.GeoDataFrame(both[["qpv_code", "qpv_name", "geometry"]], crs="EPSG:4326")


qpv = outlines()
minx, miny, maxx, maxy = qpv[qpv.qpv_code.str.startswith("QN")].total_bounds
rng = np.random.default_rng(SEED)
frame = pd.DataFrame({
    "id": np.arange(N),
    "nom": [f"Structure {i}" for i in range(N)],
    "lon": rng.uniform(minx, maxx, N).round(6),
    "lat": rng.uniform(miny, maxy, N).round(6),
})
frame.to_csv(source, index=False)
print(f"{N:,} rows, {source.stat().st_size / 1e6:.0f} MB, over lon {minx:.3f}–{maxx:.3f}, lat {miny:.3f}–{maxy:.3f}; {len(qpv)} QPV outlines")


def geopandas_locate(out):
    rows = pd.read_csv(source)
    areas = outlines()
    points = gpd.GeoDataFrame(rows, geometry=gpd.points_from_xy(rows.lon, rows.lat), crs="EPSG:4326")
    inside = gpd.sjoin(points, areas, how="left", predicate="within")
    inside = inside[~inside.index.duplicated(keep="first")]
    status = np.where(inside.qpv_code.notna(), "inside", "outside").astype(object)
    code = inside.qpv_code.to_numpy(dtype=object)
    name = inside.qpv_name.to_numpy(dtype=object)
    distance = np.where(inside.qpv_code.notna(), 0.0, np.nan)
    rest = inside.qpv_code.isna().to_numpy()
    far = points[rest].to_crs(2154)
    near = gpd.sjoin_nearest(far, areas.to_crs(2154), how="left", max_distance=RADIUS, distance_col="d")
    near = near[~near.index.duplicated(keep="first")]
    found = near.qpv_code_right.notna().to_numpy() if "qpv_code_right" in near else near.qpv_code.notna().to_numpy()
    at = np.flatnonzero(rest)
    col = "qpv_code_right" if "qpv_code_right" in near else "qpv_code"
    ncol = "qpv_name_right" if "qpv_name_right" in near else "qpv_name"
    status[at[found]] = "near"
    code[at] = near[col].to_numpy(dtype=object)
    name[at] = near[ncol].to_numpy(dtype=object)
    distance[at] = near.d.to_numpy()
    rows["qpv_status"] = status
    rows["qpv_code"] = code
    rows["qpv_name"] = name
    rows["distance_m"] = np.round(distance, 1)
    rows.to_csv(out, index=False)


def ess_map_locate(out):
    with open(out, "wb") as f:
        subprocess.run([binary, "--data", data, "--geocoder", "none", "locate", source, "--radius-m", str(RADIUS)],
                       stdout=f, stderr=subprocess.DEVNULL, check=True)


def best_of(fn, out):
    best = float("inf")
    for _ in range(REPEATS):
        t = time.perf_counter()
        fn(out)
        best = min(best, time.perf_counter() - t)
    return best


ours_file, theirs_file = work / "located-ess-map.csv", work / "located-geopandas.csv"
ours_s = best_of(ess_map_locate, ours_file)
theirs_s = best_of(geopandas_locate, theirs_file)

ours = pd.read_csv(ours_file, usecols=["id", "qpv_status", "qpv_code", "distance_m"], keep_default_na=False)
theirs = pd.read_csv(theirs_file, usecols=["id", "qpv_status", "qpv_code", "distance_m"], keep_default_na=False)
differ = ours.qpv_status.to_numpy() != theirs.qpv_status.to_numpy()
# A difference is a tie when one side's distance is within TIE_M of the radius (or of the boundary).
d_ours = pd.to_numeric(ours.distance_m, errors="coerce").fillna(RADIUS).to_numpy()
d_theirs = pd.to_numeric(theirs.distance_m, errors="coerce").fillna(RADIUS).to_numpy()
tie = (np.abs(d_ours - RADIUS) <= TIE_M) | (np.abs(d_theirs - RADIUS) <= TIE_M) | (np.minimum(d_ours, d_theirs) <= TIE_M)
unexplained = int((differ & ~tie).sum())
print(f"{'':26}{'ess-map':>10}{'GeoPandas':>11}{'ratio':>8}")
print(f"{'CSV in → CSV out (s)':26}{ours_s:>10.2f}{theirs_s:>11.2f}{theirs_s / ours_s:>7.1f}x")
print(f"{'rows per second':26}{N / ours_s:>10,.0f}{N / theirs_s:>11,.0f}")
counts = ours.qpv_status.value_counts().to_dict()
print(f"statuses (ess-map): {counts}")
print(f"status alike for {N - int(differ.sum()):,} of {N:,} rows; {int((differ & tie).sum())} boundary ties, {unexplained} unexplained")
import shapely
print(f"versions: geopandas {gpd.__version__}, shapely {shapely.__version__} (GEOS {shapely.geos_version_string}), pandas {pd.__version__}, numpy {np.__version__}")
sys.exit(1 if unexplained else 0)
