#!/usr/bin/env python3
"""ess-map at national scale: one table for the synthetic national data set at
several multiples of the SIAE list (bench/scale.sh builds and generates).

For each scale, against the release binary on loopback:
- start: from spawn to "listening" (territory read, initiatives placed and
  indexed); RSS right after, and after 1,000 edits;
- edits while wrk drives 64 connections of reads (tiles, bbox lists, nearby):
  PATCH answered, and visible (the API shows the new name and the z16 tile
  holding the new position has a new ETag; 10 s at most), p50/p99; read p99 with and
  without edits;
- tiles: every layer of 300 tiles z0-16 around initiatives, cold (first
  request, empty cache) p50/p99; warm: wrk req/s and p99 over those URLs;
- /api/gaps?format=csv (every category): cold, and warm (median of 20);
- nearby 2,000 m: p50/p99 over 100 QPV;
- ring 5,000 m around the 50,000-vertex outline, cold.

Usage: bench/scale.py [SCALE ...]   (default 1 10 100 250)
ESS_MAP_BIN=PATH runs another binary (an earlier commit's, for a before/after).
"""

import http.client
import json
import os
import random
import re
import shutil
import statistics
import subprocess
import sys
import tempfile
import time

ROOT = os.path.abspath(os.path.join(os.path.dirname(__file__), ".."))
BIN = os.environ.get("ESS_MAP_BIN", os.path.join(ROOT, "target/release/ess-map"))
PORT = 18500


def pct(values, p):
    values = sorted(values)
    if not values:
        return float("nan")
    k = min(len(values) - 1, max(0, int(round(p / 100 * (len(values) - 1)))))
    return values[k]


def ms(seconds):
    return seconds * 1000


class Client:
    def __init__(self, port):
        self.port = port
        self.conn = http.client.HTTPConnection("127.0.0.1", port, timeout=120)

    def request(self, method, path, body=None, headers=None):
        headers = dict(headers or {})
        if body is not None:
            body = json.dumps(body).encode()
            headers["Content-Type"] = "application/json"
        t0 = time.perf_counter()
        try:
            self.conn.request(method, path, body=body, headers=headers)
            r = self.conn.getresponse()
        except (http.client.RemoteDisconnected, ConnectionResetError, BrokenPipeError):
            # The server closes connections left idle (header_timeout_s): reconnect.
            self.conn = http.client.HTTPConnection("127.0.0.1", self.port, timeout=120)
            t0 = time.perf_counter()
            self.conn.request(method, path, body=body, headers=headers)
            r = self.conn.getresponse()
        data = r.read()
        return r.status, {k.lower(): v for k, v in r.getheaders()}, data, time.perf_counter() - t0


def rss_mb(pid):
    with open(f"/proc/{pid}/status") as f:
        for line in f:
            if line.startswith("VmRSS:"):
                return int(line.split()[1]) / 1024
    return float("nan")


def tile_of(lon, lat, z):
    import math
    n = 2 ** z
    lat = max(min(lat, 85.05), -85.05)
    x = int((lon + 180) / 360 * n)
    y = int((1 - math.log(math.tan(math.radians(lat)) + 1 / math.cos(math.radians(lat))) / math.pi) / 2 * n)
    return min(x, n - 1), min(y, n - 1)


WRK_SCRIPT = """
local urls = {}
for line in io.lines(os.getenv("URLS")) do urls[#urls + 1] = line end
local i = math.random(#urls)
request = function()
  i = i % #urls + 1
  return wrk.format("GET", urls[i])
end
"""


def wrk(port, urls_file, seconds, connections=64):
    script = os.path.join(tempfile.gettempdir(), "ess-map-scale.lua")
    with open(script, "w") as f:
        f.write(WRK_SCRIPT)
    out = subprocess.run(
        ["wrk", "-t2", f"-c{connections}", f"-d{seconds}s", "--latency", "-s", script, f"http://127.0.0.1:{port}"],
        env={**os.environ, "URLS": urls_file}, capture_output=True, text=True, check=True).stdout
    rps = float(re.search(r"Requests/sec:\s+([\d.]+)", out).group(1))
    p99 = re.search(r"99%\s+([\d.]+)(us|ms|s)", out)
    unit = {"us": 0.001, "ms": 1, "s": 1000}[p99.group(2)]
    errors = re.search(r"Non-2xx or 3xx responses: (\d+)", out)
    return rps, float(p99.group(1)) * unit, int(errors.group(1)) if errors else 0


def run(scale):
    data = os.path.join(ROOT, f"target/national-{scale}x")
    if not os.path.isdir(data):
        subprocess.run([os.path.join(ROOT, "target/release/gen-national"), str(scale)], check=True)
    state = tempfile.mkdtemp(prefix="ess-map-scale-")
    common = [BIN, "--geocoder", "none", "--data", data, "--manifest", os.path.join(data, "manifest.toml"),
              "--state", state]
    token = subprocess.run(common + ["token", "create", "--name", "bench", "--role", "editor"],
                           capture_output=True, text=True, check=True).stdout.strip()
    port = PORT + scale

    def start_server():
        t0 = time.perf_counter()
        server = subprocess.Popen(common + ["serve", "--listen", f"127.0.0.1:{port}"],
                                  stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, text=True)
        server.stdout.readline()
        return server, time.perf_counter() - t0

    # The first start reads every file and writes the start-up snapshot;
    # the second (measured, as a restart or a replica's) reads it back.
    server, first_start = start_server()
    server.terminate()
    server.wait()
    server, start = start_server()
    row = {"scale": f"{scale}×", "first_start_s": first_start, "start_s": start, "rss_start_mb": rss_mb(server.pid)}
    # What a start builds after it answers (the nearest-initiative trees,
    # the tile outlines) is in memory a few seconds later.
    time.sleep(6)
    row["rss_settled_mb"] = rss_mb(server.pid)
    c = Client(port)
    auth = {"Authorization": f"Bearer {token}"}
    try:
        health = json.loads(c.request("GET", "/health")[2])
        row["initiatives"] = health["initiatives"]
        rng = random.Random(scale)
        # Initiatives to read and edit: a sample from a few city boxes.
        sample = []
        for box in ["2.25,48.81,2.42,48.91", "1.35,43.55,1.50,43.65", "5.30,43.25,5.45,43.35", "4.78,45.70,4.90,45.80"]:
            fc = json.loads(c.request("GET", f"/api/initiatives?bbox={box}&limit=1000")[2])
            sample += [f for f in fc["features"] if f["geometry"] and f["properties"]["precision"] == "source"]
        rng.shuffle(sample)
        codes = [q["code"] for q in json.loads(c.request("GET", "/api/qpv?generation=2024")[2])["qpv"]]
        rng.shuffle(codes)

        # Cold tiles: z0-16 around initiatives, both layers, once the
        # outlines for low zooms are made (in the background after start).
        while not json.loads(c.request("GET", "/health")[2]).get("tile_outlines_ready"):
            time.sleep(0.1)
        tiles = []
        for f in sample[:300]:
            lon, lat = f["geometry"]["coordinates"]
            z = rng.randint(0, 16)
            x, y = tile_of(lon, lat, z)
            tiles += [f"/tiles/initiatives/{z}/{x}/{y}.mvt", f"/tiles/qpv/{z}/{x}/{y}.mvt"]
        cold = []
        for t in tiles:
            status, _, _, dt = c.request("GET", t, headers={"Accept-Encoding": "gzip"})
            assert status in (200, 204), (t, status)
            cold.append(dt)
        row["tile_cold_p50_ms"], row["tile_cold_p99_ms"] = ms(pct(cold, 50)), ms(pct(cold, 99))
        tiles_file = os.path.join(state, "tiles.urls")
        with open(tiles_file, "w") as f:
            f.write("\n".join(tiles) + "\n")
        row["tile_warm_rps"], row["tile_warm_p99_ms"], _ = wrk(port, tiles_file, 10)

        # Gap analysis, every category, CSV.
        row["gaps_cold_ms"] = ms(c.request("GET", "/api/gaps?format=csv")[3])
        row["gaps_warm_ms"] = ms(statistics.median(c.request("GET", "/api/gaps?format=csv")[3] for _ in range(20)))

        # Nearby 2,000 m.
        nearby = [c.request("GET", f"/api/qpv/{code}/nearby?radius_m=2000&limit=1000")[3] for code in codes[:100]]
        row["nearby_p50_ms"], row["nearby_p99_ms"] = ms(pct(nearby, 50)), ms(pct(nearby, 99))

        # The ring around the largest outline.
        largest = open(os.path.join(data, "largest-outline.txt")).read().strip()
        status, _, _, dt = c.request("GET", f"/api/qpv/{largest}/ring?radius_m=5000")
        row["ring_5km_ms"] = ms(dt) if status == 200 else float("nan")

        # Reads for wrk: warm tiles, bbox lists, nearby.
        reads = tiles[:200]
        for f in sample[:100]:
            lon, lat = f["geometry"]["coordinates"]
            reads.append(f"/api/initiatives?bbox={lon - 0.01},{lat - 0.01},{lon + 0.01},{lat + 0.01}&limit=100")
        reads += [f"/api/qpv/{code}/nearby?radius_m=500" for code in codes[:100]]
        reads_file = os.path.join(state, "reads.urls")
        with open(reads_file, "w") as f:
            f.write("\n".join(reads) + "\n")
        _, row["read_p99_ms"], _ = wrk(port, reads_file, 10)

        # Edits while wrk reads.
        load = subprocess.Popen(["python3", "-c", f"import sys; sys.path.insert(0, {repr(os.path.dirname(__file__))}); import scale; print(scale.wrk({port}, {repr(reads_file)}, 25))"],
                                stdout=subprocess.PIPE, text=True)
        time.sleep(2)
        answered, visible = [], []
        for i, f in enumerate(sample[:150]):
            lon, lat = f["geometry"]["coordinates"]
            lon, lat = lon + rng.uniform(-0.001, 0.001), lat + rng.uniform(-0.001, 0.001)
            # The deepest tile: there each initiative is its own point.
            z, (x, y) = 16, tile_of(lon, lat, 16)
            tile = f"/tiles/initiatives/{z}/{x}/{y}.mvt"
            before = c.request("GET", tile)[1].get("etag")
            name = f"Initiative modifiée {i}"
            t0 = time.perf_counter()
            status, _, _, dt = c.request("PATCH", f"/api/initiatives/{f['id']}", {"name": name, "lon": lon, "lat": lat}, auth)
            assert status == 200, status
            answered.append(dt)
            while time.perf_counter() - t0 < 10:
                shown = json.loads(c.request("GET", f"/api/initiatives/{f['id']}")[2])["properties"]["name"] == name
                if shown and c.request("GET", tile)[1].get("etag") != before:
                    break
            visible.append(time.perf_counter() - t0)
            time.sleep(0.05)
        _, row["read_p99_under_edits_ms"], _ = eval(load.communicate()[0])
        row["edit_p50_ms"], row["edit_p99_ms"] = ms(pct(answered, 50)), ms(pct(answered, 99))
        row["visible_p50_ms"], row["visible_p99_ms"] = ms(pct(visible, 50)), ms(pct(visible, 99))
        # More edits, to 1,000, then memory.
        for i in range(1000 - len(answered)):
            f = sample[i % len(sample)]
            c.request("PATCH", f"/api/initiatives/{f['id']}", {"description": f"révision {i}"}, auth)
        row["rss_1000_edits_mb"] = rss_mb(server.pid)
    finally:
        server.terminate()
        server.wait()
        shutil.rmtree(state, ignore_errors=True)
    return row


COLUMNS = [
    ("scale", "scale", "{}"), ("initiatives", "initiatives", "{:,}"), ("first_start_s", "first start s", "{:.1f}"), ("start_s", "start s", "{:.1f}"),
    ("rss_start_mb", "RSS start / 6 s later MB", "{:.0f}"), ("rss_settled_mb", None, "{:.0f}"), ("rss_1000_edits_mb", "RSS 1,000 edits MB", "{:.0f}"),
    ("edit_p50_ms", "edit p50/p99 ms", "{:.0f}"), ("edit_p99_ms", None, "{:.0f}"),
    ("visible_p50_ms", "visible p50/p99 ms", "{:.0f}"), ("visible_p99_ms", None, "{:.0f}"),
    ("read_p99_ms", "read p99 ms (no edits / edits)", "{:.1f}"), ("read_p99_under_edits_ms", None, "{:.1f}"),
    ("tile_cold_p50_ms", "tile cold p50/p99 ms", "{:.1f}"), ("tile_cold_p99_ms", None, "{:.1f}"),
    ("tile_warm_rps", "tile warm req/s", "{:,.0f}"), ("tile_warm_p99_ms", "tile warm p99 ms", "{:.1f}"),
    ("gaps_cold_ms", "gaps CSV cold/warm ms", "{:.0f}"), ("gaps_warm_ms", None, "{:.1f}"),
    ("nearby_p50_ms", "nearby 2 km p50/p99 ms", "{:.1f}"), ("nearby_p99_ms", None, "{:.1f}"),
    ("ring_5km_ms", "ring 5 km (50k vertices) ms", "{:.0f}"),
]


def table(rows):
    heads, cells = [], []
    for key, head, fmt in COLUMNS:
        if head:
            heads.append(head)
    out = ["| " + " | ".join(heads) + " |", "|" + "---|" * len(heads)]
    for r in rows:
        parts, i = [], 0
        while i < len(COLUMNS):
            key, head, fmt = COLUMNS[i]
            text = fmt.format(r[key])
            if i + 1 < len(COLUMNS) and COLUMNS[i + 1][1] is None:
                text += " / " + COLUMNS[i + 1][2].format(r[COLUMNS[i + 1][0]])
                i += 1
            parts.append(text)
            i += 1
        out.append("| " + " | ".join(parts) + " |")
    return "\n".join(out)


if __name__ == "__main__":
    scales = [int(s) for s in sys.argv[1:]] or [1, 10, 100, 250]
    rows = []
    for s in scales:
        rows.append(run(s))
        print(json.dumps(rows[-1]), file=sys.stderr)
    print(table(rows))
