"""`ess-map locate IN.csv > OUT.csv` against GeoPandas doing the same job on
the same file, twice: inside only (read the CSV, join the points with the
QPV outlines, write the rows back with status, code, name and distance), then
with the nearest outline within 300 m (Lambert-93) for the others. Seeded points over the
Île-de-France QPV box, with a name column, as a planner's file would have.
Each side timed best of 3, whole process (ess-map's start-up and its loading
of the QPV included, as GeoPandas' reading of the outlines is). Checks that
both give the same status for every row, up to boundary ties and the rows
ess-map says « non vérifiable » (a QPV without outline nearby). Prints the I/O
floor: `cat` of the input and of the output.

Run through bench/locate_file_vs_geopandas.sh (venv, release build).
"""
import gzip
import os
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

# Generated files go under target/, never into the repository.
work = Path(__file__).resolve().parent.parent / "target" / "bench"
work.mkdir(parents=True, exist_ok=True)
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


def geopandas_locate(out, radius):
    rows = pd.read_csv(source)
    areas = outlines()
    points = gpd.GeoDataFrame(rows, geometry=gpd.points_from_xy(rows.lon, rows.lat), crs="EPSG:4326")
    inside = gpd.sjoin(points, areas, how="left", predicate="within")
    inside = inside[~inside.index.duplicated(keep="first")]
    status = np.where(inside.qpv_code.notna(), "inside", "outside").astype(object)
    code = inside.qpv_code.to_numpy(dtype=object)
    name = inside.qpv_name.to_numpy(dtype=object)
    distance = np.where(inside.qpv_code.notna(), 0.0, np.nan)
    if radius > 0:
        rest = inside.qpv_code.isna().to_numpy()
        far = points[rest].to_crs(2154)
        near = gpd.sjoin_nearest(far, areas.to_crs(2154), how="left", max_distance=radius, distance_col="d")
        near = near[~near.index.duplicated(keep="first")]
        col = "qpv_code_right" if "qpv_code_right" in near else "qpv_code"
        ncol = "qpv_name_right" if "qpv_name_right" in near else "qpv_name"
        found = near[col].notna().to_numpy()
        at = np.flatnonzero(rest)
        status[at[found]] = "near"
        code[at] = near[col].to_numpy(dtype=object)
        name[at] = near[ncol].to_numpy(dtype=object)
        distance[at] = near.d.to_numpy()
    out_rows = rows.drop(columns="geometry", errors="ignore")
    out_rows["qpv_status"] = status
    out_rows["qpv_code"] = code
    out_rows["qpv_name"] = name
    out_rows["distance_m"] = np.round(distance, 1)
    out_rows.to_csv(out, index=False)


def ess_map_locate(out, radius):
    # `--csv script`: the same kind of file GeoPandas writes (`,`, decimal
    # points, the script names); the default `tableur` style costs the same.
    with open(out, "wb") as f:
        subprocess.run([binary, "--data", data, "--geocoder", "none", "locate", source,
                        "--radius-m", str(radius), "--csv", "script"],
                       stdout=f, stderr=subprocess.DEVNULL, check=True)


def best_of(fn, out=None):
    """The best of REPEATS runs; `out` is removed before each (not timed),
    so that both sides write a new file rather than truncate the last one."""
    best = float("inf")
    for _ in range(REPEATS):
        if out is not None:
            out.unlink(missing_ok=True)
        t = time.perf_counter()
        fn()
        best = min(best, time.perf_counter() - t)
    return best


def compare(radius, ours_file, theirs_file):
    """Rows whose status differs, up to boundary ties and « unknown » (a
    point near a QPV of a commune whose outline is not loaded: GeoPandas,
    which only knows the outlines, says outside)."""
    ours = pd.read_csv(ours_file, usecols=["id", "qpv_status", "qpv_code", "distance_m"], keep_default_na=False)
    theirs = pd.read_csv(theirs_file, usecols=["id", "qpv_status", "qpv_code", "distance_m"], keep_default_na=False)
    differ = ours.qpv_status.to_numpy() != theirs.qpv_status.to_numpy()
    unknown = (ours.qpv_status.to_numpy() == "unknown") & (theirs.qpv_status.to_numpy() == "outside")
    limit = radius if radius > 0 else 0.0
    d_ours = pd.to_numeric(ours.distance_m, errors="coerce").fillna(limit).to_numpy()
    d_theirs = pd.to_numeric(theirs.distance_m, errors="coerce").fillna(limit).to_numpy()
    tie = (np.abs(d_ours - limit) <= TIE_M) | (np.abs(d_theirs - limit) <= TIE_M) | (np.minimum(d_ours, d_theirs) <= TIE_M)
    unexplained = int((differ & ~tie & ~unknown).sum())
    counts = ours.qpv_status.value_counts().to_dict()
    print(f"  statuses (ess-map): {counts}")
    print(f"  status alike for {N - int(differ.sum()):,} of {N:,} rows; {int((differ & unknown).sum())} « non vérifiable » "
          f"where GeoPandas says outside; {int((differ & tie & ~unknown).sum())} boundary ties; {unexplained} unexplained")
    return unexplained


def floor(ours_file):
    """The I/O floor: reading the input and writing an output of the same
    size as ess-map's, with `cat`, best of 3."""
    copy = work / "floor-copy.csv"
    read_s = best_of(lambda: subprocess.run(["cat", source], stdout=subprocess.DEVNULL, check=True))

    def write():
        with open(copy, "wb") as f:
            subprocess.run(["cat", ours_file], stdout=f, check=True)
    write_s = best_of(write, copy)
    copy.unlink()
    return read_s, write_s


# The file just written is flushed to disk first, and read once, so that
# neither side's first run pays the writeback or a cold page cache.
os.sync()
ess_map_locate(work / "warm-up.csv", RADIUS)
(work / "warm-up.csv").unlink()
unexplained = 0
print(f"{'':34}{'ess-map':>10}{'GeoPandas':>11}{'ratio':>8}")
results = []
for label, radius in [("inside only (within)", 0.0), (f"inside + nearest within {RADIUS:.0f} m", RADIUS)]:
    ours_file, theirs_file = work / f"located-ess-map-{radius:.0f}.csv", work / f"located-geopandas-{radius:.0f}.csv"
    ours_s = best_of(lambda: ess_map_locate(ours_file, radius), ours_file)
    theirs_s = best_of(lambda: geopandas_locate(theirs_file, radius), theirs_file)
    print(f"{label + ' (s)':34}{ours_s:>10.2f}{theirs_s:>11.2f}{theirs_s / ours_s:>7.1f}x")
    print(f"{'  rows per second':34}{N / ours_s:>10,.0f}{N / theirs_s:>11,.0f}")
    results.append((ours_file, ours_s))
    unexplained += compare(radius, ours_file, theirs_file)
read_s, write_s = floor(results[0][0])
out_mb = results[0][0].stat().st_size / 1e6
print(f"I/O floor: cat of the input {read_s:.3f} s, cat of ess-map's output ({out_mb:.0f} MB) to a file {write_s:.3f} s: "
      f"{read_s + write_s:.2f} s of ess-map's {results[0][1]:.2f} s inside only")
import shapely
print(f"versions: geopandas {gpd.__version__}, shapely {shapely.__version__} (GEOS {shapely.geos_version_string}), pandas {pd.__version__}, numpy {np.__version__}")
sys.exit(1 if unexplained else 0)
