#!/usr/bin/env python3
"""A mixed load on the release binary, as a public service sees it: wrk on
tiles (16 connections), bbox lists (16), nearby (16), gap analyses (8) and
rings (8) at once — 64 connections — while one edit a second goes through
the write API. Prints req/s, p99 and errors per route, edits answered, and
the server's RSS at start and end.

Usage: bench/mixed_load.py [SECONDS] [DATA_DIR MANIFEST]
  (default 600 s on the shipped data; bench/scale.sh's national sets too:
   bench/mixed_load.py 600 target/national-100x target/national-100x/manifest.toml)
"""

import json
import os
import random
import subprocess
import sys
import tempfile
import threading
import time

sys.path.insert(0, os.path.dirname(__file__))
import scale  # noqa: E402  (the client, wrk and RSS helpers)

ROOT = os.path.abspath(os.path.join(os.path.dirname(__file__), ".."))


def main():
    seconds = int(sys.argv[1]) if len(sys.argv) > 1 else 600
    data = sys.argv[2] if len(sys.argv) > 2 else os.path.join(ROOT, "data")
    manifest = sys.argv[3] if len(sys.argv) > 3 else os.path.join(ROOT, "data/manifest.toml")
    state = tempfile.mkdtemp(prefix="ess-map-mixed-")
    common = [scale.BIN, "--geocoder", "none", "--data", data, "--manifest", manifest, "--state", state]
    token = subprocess.run(common + ["token", "create", "--name", "bench", "--role", "editor"],
                           capture_output=True, text=True, check=True).stdout.strip()
    port = 18600
    server = subprocess.Popen(common + ["serve", "--listen", f"127.0.0.1:{port}"],
                              stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, text=True)
    server.stdout.readline()
    rss_start = scale.rss_mb(server.pid)
    c = scale.Client(port)
    rng = random.Random(20261129)
    sample = []
    for box in ["2.25,48.81,2.42,48.91", "1.35,43.55,1.50,43.65", "2.30,48.85,2.50,48.98"]:
        fc = json.loads(c.request("GET", f"/api/initiatives?bbox={box}&limit=1000")[2])
        sample += [f for f in fc["features"] if f["geometry"] and f["properties"]["precision"] == "source"]
    rng.shuffle(sample)
    codes = [q["code"] for q in json.loads(c.request("GET", "/api/qpv")[2])["qpv"] if q["has_geometry"]]
    rng.shuffle(codes)
    urls = {"tiles": [], "bbox": [], "nearby": [], "gaps": [], "ring": []}
    for f in sample[:300]:
        lon, lat = f["geometry"]["coordinates"]
        z = rng.randint(0, 16)
        x, y = scale.tile_of(lon, lat, z)
        urls["tiles"] += [f"/tiles/initiatives/{z}/{x}/{y}.mvt", f"/tiles/qpv/{z}/{x}/{y}.mvt"]
        urls["bbox"].append(f"/api/initiatives?bbox={lon - 0.02},{lat - 0.02},{lon + 0.02},{lat + 0.02}&limit=100")
    for code in codes[:200]:
        urls["nearby"].append(f"/api/qpv/{code}/nearby?radius_m={rng.choice([300, 500, 1000])}&limit=1000")
        urls["ring"].append(f"/api/qpv/{code}/ring?radius_m={rng.choice([300, 500, 1000, 2000, 5000])}")
    for radius in [300, 500, 1000]:
        for category in ["", "siae", "regie_quartier", "insertion_aci,insertion_ei"]:
            for fmt in ["json", "csv"]:
                urls["gaps"].append(f"/api/gaps?radius_m={radius}&category={category}&format={fmt}")
    connections = {"tiles": 16, "bbox": 16, "nearby": 16, "gaps": 8, "ring": 8}
    results = {}

    def load(route):
        path = os.path.join(state, f"{route}.urls")
        with open(path, "w") as f:
            f.write("\n".join(urls[route]) + "\n")
        results[route] = scale.wrk(port, path, seconds, connections[route])

    threads = [threading.Thread(target=load, args=(r,)) for r in urls]
    for t in threads:
        t.start()
    edits, failed = [], 0
    auth = {"Authorization": f"Bearer {token}"}
    started = time.time()
    i = 0
    while time.time() - started < seconds - 1:
        f = sample[i % len(sample)]
        lon, lat = f["geometry"]["coordinates"]
        status, _, _, dt = c.request("PATCH", f"/api/initiatives/{f['id']}",
                                     {"name": f"Initiative {i}", "lon": lon + rng.uniform(-0.001, 0.001),
                                      "lat": lat + rng.uniform(-0.001, 0.001)}, auth)
        edits.append(dt)
        failed += status != 200
        i += 1
        time.sleep(max(0.0, started + i - time.time()))
    for t in threads:
        t.join()
    rss_end = scale.rss_mb(server.pid)
    server.terminate()
    server.wait()
    print(f"{seconds} s, 64 connections of reads, {len(edits)} edits (one a second)\n")
    print("| route | connections | req/s | p99 ms | non-2xx |")
    print("|---|---:|---:|---:|---:|")
    for route, (rps, p99, errors) in results.items():
        print(f"| {route} | {connections[route]} | {rps:,.0f} | {p99:.1f} | {errors} |")
    print(f"| edits (PATCH) | 1 | 1 | {scale.ms(scale.pct(edits, 99)):.1f} | {failed} |")
    print(f"\nRSS: {rss_start:.0f} MB at start, {rss_end:.0f} MB at the end")


if __name__ == "__main__":
    main()
