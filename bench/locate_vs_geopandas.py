"""ess-map's locating against GeoPandas on the same 1,000,000 seeded random
points over the Île-de-France QPV bounding box, on this machine, in one run.

Containment: ess-map `locate(radius 0)` vs `geopandas.sjoin(predicate="intersects")`.
Nearest within 300 m: ess-map `locate(radius 300)` (local metric frame) vs
`geopandas.sjoin_nearest(max_distance=300)` in Lambert-93 (EPSG:2154).
Both single-threaded; each timed best of 3. Checks that both assign every
point alike, up to boundary ties, and exits non-zero if they do not.

Run through bench/locate_vs_geopandas.sh, which makes the venv and builds.
"""
import json
import subprocess
import sys
import time
from pathlib import Path

import geopandas as gpd
import numpy as np
import pandas as pd
import shapely

N = 1_000_000
SEED = 20261129
REPEATS = 3
RADIUS = 300.0
# Distances from the two methods differ by the projections' scale errors
# (Lambert-93 in Île-de-France: < 0.01 %): a near assignment within this many
# metres of the radius, or of a second QPV, is a tie either way.
TIE_M = 0.5

root = Path(__file__).resolve().parent.parent
data_dir = Path(sys.argv[1]).resolve()
example = Path(sys.argv[2]).resolve()
# Generated files go under target/, never into the repository.
work = root / "target" / "bench"
work.mkdir(parents=True, exist_ok=True)

qpv = gpd.read_file(data_dir / "qpv" / "qpv-2024-idf.geojson")[["code_qp", "geometry"]]
minx, miny, maxx, maxy = qpv.total_bounds
rng = np.random.default_rng(SEED)
xy = np.column_stack([rng.uniform(minx, maxx, N), rng.uniform(miny, maxy, N)])
points_file = work / "points.f64"
xy.astype("<f8").tofile(points_file)
print(f"{N:,} points (seed {SEED}) over lon {minx:.3f}–{maxx:.3f}, lat {miny:.3f}–{maxy:.3f}; {len(qpv)} QPV")


def best_of(fn):
    best, result = float("inf"), None
    for _ in range(REPEATS):
        t = time.perf_counter()
        result = fn()
        best = min(best, time.perf_counter() - t)
    return best, result


def contain():
    pts = gpd.GeoDataFrame(geometry=gpd.points_from_xy(xy[:, 0], xy[:, 1]), crs="EPSG:4326")
    return gpd.sjoin(pts, qpv, how="left", predicate="intersects")


qpv_l93 = qpv.to_crs(2154)


def nearest():
    pts = gpd.GeoDataFrame(geometry=gpd.points_from_xy(xy[:, 0], xy[:, 1]), crs="EPSG:4326").to_crs(2154)
    return gpd.sjoin_nearest(pts, qpv_l93, how="left", max_distance=RADIUS, distance_col="d")


gp_contain_s, gp_contain = best_of(contain)
gp_near_s, gp_near = best_of(nearest)

out_file = work / "ess_map_assignments.csv"
ess = json.loads(subprocess.run([example, data_dir, points_file, out_file], check=True,
                                capture_output=True, text=True).stdout)
mine = pd.read_csv(out_file, dtype={"contain_code": str, "near_code": str}, keep_default_na=False)

# --- agreement, containment: our code must be one of GeoPandas' matches.
gp_sets = gp_contain.groupby(level=0)["code_qp"].agg(lambda s: set(s.dropna()))
contain_mismatch = 0
for i, (ours, theirs) in enumerate(zip(mine["contain_code"], gp_sets)):
    if (ours == "" and theirs) or (ours != "" and ours not in theirs):
        contain_mismatch += 1

# --- agreement, nearest within 300 m.
gp_near_sets = gp_near.groupby(level=0).agg(codes=("code_qp", lambda s: set(s.dropna())), d=("d", "min"))
qpv_by_code = qpv_l93.set_index("code_qp").geometry
pts_l93 = gpd.GeoSeries(gpd.points_from_xy(xy[:, 0], xy[:, 1]), crs="EPSG:4326").to_crs(2154)
near_exact = near_ties = 0
unexplained = []
max_diff = 0.0
for i, (ours, d_ours, theirs, d_theirs) in enumerate(
        zip(mine["near_code"], mine["near_distance_m"], gp_near_sets["codes"], gp_near_sets["d"])):
    if ours == "" and not theirs:
        near_exact += 1
        continue
    if ours != "" and ours in theirs:
        diff = abs(float(d_ours) - float(d_theirs))
        max_diff = max(max_diff, diff)
        if diff <= max(TIE_M, 0.005 * float(d_theirs)):
            near_exact += 1
            continue
        unexplained.append((i, ours, d_ours, theirs, d_theirs))
        continue
    # Different answers: a tie if the distances are within TIE_M of the radius
    # or of each other (measured in Lambert-93 for ours).
    if ours == "":
        tie = float(d_theirs) >= RADIUS - TIE_M
    elif not theirs:
        tie = float(d_ours) >= RADIUS - TIE_M
    else:
        d_ours_l93 = shapely.distance(pts_l93.iloc[i], qpv_by_code[ours])
        tie = abs(d_ours_l93 - float(d_theirs)) <= TIE_M
    if tie:
        near_ties += 1
    else:
        unexplained.append((i, ours, d_ours, theirs, d_theirs))

ess_contain_rate = N / ess["contain_s"]
ess_near_rate = N / ess["near300_s"]
gp_contain_rate = N / gp_contain_s
gp_near_rate = N / gp_near_s
print()
print(f"{'':32}{'ess-map':>14}{'GeoPandas':>14}{'ratio':>8}")
print(f"{'containment (points/s)':32}{ess_contain_rate:>14,.0f}{gp_contain_rate:>14,.0f}{ess_contain_rate / gp_contain_rate:>7.1f}x")
print(f"{'nearest within 300 m (points/s)':32}{ess_near_rate:>14,.0f}{gp_near_rate:>14,.0f}{ess_near_rate / gp_near_rate:>7.1f}x")
print()
print(f"containment: {N - contain_mismatch:,} of {N:,} points assigned alike, {contain_mismatch} differ")
print(f"nearest ≤ 300 m: {near_exact:,} alike (largest distance gap {max_diff:.3f} m), "
      f"{near_ties} boundary ties, {len(unexplained)} unexplained")
inside = (mine["contain_code"] != "").sum()
near = ((mine["contain_code"] == "") & (mine["near_code"] != "")).sum()
print(f"({inside:,} points inside a QPV, {near:,} more within 300 m)")
import geopandas, shapely as sh
print(f"versions: geopandas {geopandas.__version__}, shapely {sh.__version__} (GEOS {sh.geos_version_string}), numpy {np.__version__}")
for row in unexplained[:10]:
    print("unexplained:", row)
sys.exit(1 if contain_mismatch or unexplained else 0)
