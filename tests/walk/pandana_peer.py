"""The peer of ess-map's walking network: pyrosm reads the same .osm.pbf
into its walking network, pandana (C++ contraction hierarchies) gives every
node's distance to the nearest of the same points. Prints, as JSON, how the
two agree on the nodes both networks hold, and the time of each step.

usage: pandana_peer.py EXTRACT.osm.pbf POINTS.csv ESS_MAP_NEAREST.csv MAX_M
(POINTS: id,lon,lat; ESS_MAP_NEAREST: `ess-map walk nearest --from-nodes`).
"""

import csv
import json
import sys
import time

import numpy as np
import pandana
import pyrosm


def main():
    extract, points_csv, ess_csv, max_m = sys.argv[1:5]
    max_m = float(max_m)
    started = time.perf_counter()
    osm = pyrosm.OSM(extract)
    nodes, edges = osm.get_network(network_type="walking", nodes=True)
    nodes = nodes.set_index("id", drop=False)
    read_s = time.perf_counter() - started
    started = time.perf_counter()
    net = pandana.Network(
        nodes["lon"], nodes["lat"], edges["u"], edges["v"], edges[["length"]], twoway=True
    )
    net.precompute(max_m)
    graph_s = time.perf_counter() - started
    with open(points_csv, newline="") as f:
        points = list(csv.DictReader(f))
    xs = np.array([float(p["lon"]) for p in points])
    ys = np.array([float(p["lat"]) for p in points])
    # pandana snaps points to the nearest node in degrees, where a degree
    # of longitude is shorter than one of latitude; ess-map snaps in metres.
    # Snap here in metres, as ess-map does, and give pandana the nodes.
    scale = np.cos(np.radians(nodes["lat"].mean()))
    for i in range(len(xs)):
        d2 = ((nodes["lon"].values - xs[i]) * scale) ** 2 + (nodes["lat"].values - ys[i]) ** 2
        best = int(np.argmin(d2))
        xs[i], ys[i] = nodes["lon"].values[best], nodes["lat"].values[best]
    started = time.perf_counter()
    net.set_pois("p", max_m, 1, xs, ys)
    nearest = net.nearest_pois(max_m, "p", num_pois=1)
    nearest_s = time.perf_counter() - started
    theirs = nearest[1]  # index: OSM node id; max_m where none within
    ours = {}
    with open(ess_csv, newline="") as f:
        for row in csv.DictReader(f):
            ours[int(row["osm_id"])] = float(row["metres"]) if row["metres"] else None
    both = agree = only_ours = only_theirs = 0
    diffs = []
    for osm_id, d in theirs.items():
        if osm_id not in ours:
            only_theirs += 1
            continue
        mine = ours[osm_id]
        theirs_d = None if d >= max_m else float(d)
        if mine is None and theirs_d is None:
            continue
        both += 1
        if mine is not None and theirs_d is not None:
            diff = abs(mine - theirs_d)
            diffs.append(diff)
            if diff <= 1.0 + 0.01 * theirs_d:
                agree += 1
    only_ours = len(set(ours) - set(theirs.index))
    # On a line of its own: pandana's progress dots share standard output.
    print()
    print(
        json.dumps(
            {
                "pandana_nodes": int(len(nodes)),
                "pandana_edges": int(len(edges)),
                "ess_map_nodes": len(ours),
                "nodes_in_both_with_a_distance": both,
                "agree_within_1m_plus_1pct": agree,
                "share_agreeing": round(agree / both, 4) if both else None,
                "median_abs_diff_m": float(np.median(diffs)) if diffs else None,
                "nodes_only_in_pandana": only_theirs,
                "nodes_only_in_ess_map": only_ours,
                "seconds": {
                    "pyrosm_read": round(read_s, 3),
                    "pandana_network_and_precompute": round(graph_s, 3),
                    "pandana_nearest_pois": round(nearest_s, 3),
                },
            }
        )
    )


if __name__ == "__main__":
    main()
