"""ess-map's walking network against pyrosm + pandana on the same extract
and the same points, on this machine, in one run: every node's distance to
the nearest point (all-nodes nearest), and a 15-minute QPV analysis (share
of each QPV's network nodes within 15 min at 4.5 km/h). Prints a table of
the times and their ratios.

usage: walk_vs_pandana.py ESS_MAP EXTRACT.osm.pbf QPV.geojson POINTS.csv STATE_DIR [ESS-MAP DATA ARGS…]
(POINTS: the initiatives of the data ess-map is given, `id,lon,lat`)
(ess-map's side: `ess-map walk nearest`, its search time as it prints it;
the QPV analysis: `ess-map gaps --mode marche`, its time as it logs it, the
graph already built.)
"""

import csv
import re
import subprocess
import sys
import time

import geopandas as gpd
import numpy as np
import pandana
import pyrosm

MINUTES, SPEED_KMH = 15, 4.5
LIMIT_M = MINUTES * SPEED_KMH * 1000 / 60


def ess_map(binary, extract, points, state, data_args):
    run = lambda *args: subprocess.run([binary, "--state", state, *args], capture_output=True, text=True, check=True)
    run("walk", "build", "--osm", extract)
    out = run("walk", "nearest", "--osm", extract, "--points", points, "--max-m", str(LIMIT_M))
    search_s = float(re.search(r"recherche : ([0-9.]+) s", out.stderr).group(1))
    out = run(*data_args, "gaps", "--mode", "marche", "--minutes", str(MINUTES), "--osm", extract, "--format", "json")
    qpv_ms = float(re.search(r"walking analysis of \d+ QPV in ([0-9.]+) ms", out.stderr).group(1))
    return search_s, qpv_ms / 1000


def pandana_side(extract, qpv_file, points):
    times = {}
    started = time.perf_counter()
    nodes, edges = pyrosm.OSM(extract).get_network(network_type="walking", nodes=True)
    nodes = nodes.set_index("id", drop=False)
    times["read"] = time.perf_counter() - started
    print(f"pyrosm read {len(nodes)} nodes in {times['read']:.1f} s", file=sys.stderr, flush=True)
    started = time.perf_counter()
    net = pandana.Network(nodes["lon"], nodes["lat"], edges["u"], edges["v"], edges[["length"]], twoway=True)
    times["network"] = time.perf_counter() - started
    print(f"pandana network built in {times['network']:.1f} s", file=sys.stderr, flush=True)
    with open(points, newline="") as f:
        rows = list(csv.DictReader(f))
    xs = np.array([float(r["lon"]) for r in rows])
    ys = np.array([float(r["lat"]) for r in rows])
    started = time.perf_counter()
    net.set_pois("p", LIMIT_M, 1, xs, ys)
    nearest = net.nearest_pois(LIMIT_M, "p", num_pois=1)[1]
    times["nearest"] = time.perf_counter() - started
    started = time.perf_counter()
    qpv = gpd.read_file(qpv_file)[["code_qp", "geometry"]]
    points_gdf = gpd.GeoDataFrame({"d": nearest.values}, geometry=gpd.points_from_xy(nodes.loc[nearest.index, "lon"], nodes.loc[nearest.index, "lat"]), crs=4326)
    inside = gpd.sjoin(points_gdf, qpv.to_crs(4326), predicate="within")
    share = inside.groupby("code_qp")["d"].apply(lambda d: float((d < LIMIT_M).mean()))
    times["qpv"] = time.perf_counter() - started + times["nearest"]
    return times, len(nodes), len(share)


def main():
    binary, extract, qpv_file, points, state = sys.argv[1:6]
    search_s, qpv_s = ess_map(binary, extract, points, state, sys.argv[6:])
    times, nodes, qpv_measured = pandana_side(extract, qpv_file, points)
    print(f"extract {extract}: pandana network {nodes} nodes, {qpv_measured} QPV with nodes")
    print(f"{'step (milliseconds)':<44}{'ess-map':>10}{'pandana':>10}{'ratio':>8}")
    print(f"{'network (pyrosm read + pandana build)':<44}{'':>10}{(times['read'] + times['network']) * 1000:>10.0f}")
    print(f"{'all-nodes nearest, 15 min bound':<44}{search_s * 1000:>10.2f}{times['nearest'] * 1000:>10.1f}{times['nearest'] / max(search_s, 1e-6):>8.1f}")
    print(f"{'15-min QPV analysis (every QPV, cold)':<44}{qpv_s * 1000:>10.2f}{times['qpv'] * 1000:>10.1f}{times['qpv'] / max(qpv_s, 1e-6):>8.1f}")
    return times


if __name__ == "__main__":
    main()
