"""Checks ess-map's gap analysis against an independent computation with
GeoPandas/shapely in Lambert-93 (EPSG:2154), on the same data.

For every QPV with an outline and every category: the number of initiatives
within R of the outline (inside included) and the distance to the nearest
one must agree, up to ties (an initiative within TIE_M of the radius) and the
projections' scale difference (0.5 m or 0.5 %). Exits 1 on any other
difference. Run through bench/gaps_vs_geopandas.sh.
"""
import json
import sys
import urllib.request

import geopandas as gpd
import numpy as np
import pandas as pd
import shapely

base, data_dir, radius = sys.argv[1], sys.argv[2], float(sys.argv[3])
TIE_M = 0.5


def get(path):
    with urllib.request.urlopen(base + path) as r:
        return json.load(r)


# Initiatives as ess-map categorised them (categories are ess-map's own
# taxonomy), with their coordinates.
rows, offset = [], 0
while True:
    page = get(f"/api/initiatives?limit=1000&offset={offset}")
    rows += [(f["id"], f["properties"]["category"], *f["geometry"]["coordinates"])
             for f in page["features"] if f["geometry"]]
    offset += 1000
    if offset >= page["total"]:
        break
pts = pd.DataFrame(rows, columns=["id", "category", "lon", "lat"])
pts = gpd.GeoDataFrame(pts, geometry=gpd.points_from_xy(pts.lon, pts.lat), crs=4326).to_crs(2154)

qpv = pd.concat([
    gpd.read_file(f"{data_dir}/qpv/qpv-2024-idf.geojson")[["code_qp", "geometry"]],
    gpd.read_file(f"{data_dir}/qpv/qpv-2015-occitanie.geojson")[["code_qp", "geometry"]],
]).to_crs(2154).set_index("code_qp")

ours = {g["code"]: g for g in get(f"/api/gaps?radius_m={radius}")["gaps"] if g["basis"] == "outline"}
categories = sorted(pts.category.unique())
compared = count_ties = 0
worst_near_m = worst_far = 0.0
problems = []
for code, geom in qpv.geometry.items():
    d_all = shapely.distance(geom, pts.geometry.values)
    row = ours[code]
    for cat in categories:
        d = d_all[(pts.category == cat).values]
        within = int((d <= radius).sum())
        near_edge = int((np.abs(d - radius) <= TIE_M).sum())
        compared += 1
        mine = row[f"{cat}_within"]
        if mine != within:
            if abs(mine - within) <= near_edge:
                count_ties += 1
            else:
                problems.append((code, cat, "within", mine, within))
        theirs = float(d.min()) if len(d) else None
        mine_d = row[f"{cat}_nearest_m"]
        if theirs is None or mine_d is None:
            if theirs != mine_d:
                problems.append((code, cat, "nearest", mine_d, theirs))
            continue
        gap = abs(mine_d - theirs)
        if theirs <= 5000:
            worst_near_m = max(worst_near_m, gap)
        else:
            worst_far = max(worst_far, gap / theirs)
        if gap > max(TIE_M, 0.005 * theirs):
            problems.append((code, cat, "nearest", mine_d, theirs))

print(f"{len(qpv)} QPV × {len(categories)} categories = {compared} comparisons at {radius:.0f} m")
print(f"counts within R: {compared - count_ties - sum(p[2] == 'within' for p in problems)} identical, "
      f"{count_ties} differing only by initiatives within {TIE_M} m of the radius")
print(f"nearest distance: largest difference {worst_near_m:.2f} m up to 5 km, {worst_far * 100:.3f} % beyond")
print(f"differences beyond ties and tolerance: {len(problems)}")
for p in problems[:10]:
    print("  ", p)
sys.exit(1 if problems else 0)
