#!/usr/bin/env python3
"""Import of 1,000,000 rows with coordinates into an empty store, with the
release binary and no geocoding (issue 9's target: ≤ 60 s).

The rows: the 250× synthetic national SIAE file (bench/scale.sh 250, or
bench/gen-national 250) cut or topped up to 1,000,000 rows (top-up rows are
copies with new ids and no SIRET), written to target/import-1m.csv.

Usage: bench/import_1m.py [ROWS]
"""

import csv
import os
import subprocess
import sys
import tempfile
import time

ROOT = os.path.abspath(os.path.join(os.path.dirname(__file__), ".."))
SOURCE = os.path.join(ROOT, "target/national-250x/ess/siae_lemarche.csv")
BIN = os.path.join(ROOT, "target/release/ess-map")


def write_rows(path, rows):
    with open(SOURCE, newline="") as f, open(path, "w", newline="") as out:
        reader = csv.reader(f)
        writer = csv.writer(out)
        header = next(reader)
        writer.writerow(header)
        first = []
        n = 0
        for row in reader:
            writer.writerow(row)
            if len(first) < 50_000:
                first.append(row)
            n += 1
            if n == rows:
                return
        id_col, siret_col = header.index("id"), header.index("siret")
        while n < rows:
            row = list(first[n % len(first)])
            row[id_col] += f"-bis{n}"
            row[siret_col] = ""
            writer.writerow(row)
            n += 1


def main():
    rows = int(sys.argv[1]) if len(sys.argv) > 1 else 1_000_000
    if not os.path.exists(SOURCE):
        sys.exit(f"{SOURCE} is missing: run bench/gen-national 250 first (bench/scale.sh does)")
    path = os.path.join(ROOT, f"target/import-{rows}.csv")
    if not os.path.exists(path):
        write_rows(path, rows)
    state = tempfile.mkdtemp(prefix="ess-map-import-")
    start = time.monotonic()
    done = subprocess.run([BIN, "--geocoder", "none", "--state", state, "import", path, "--source", "bench"],
                          capture_output=True, text=True)
    seconds = time.monotonic() - start
    if done.returncode != 0:
        sys.exit(done.stderr)
    print(done.stdout.strip())
    print(f"\n{rows:,} rows imported into an empty store in {seconds:.1f} s ({rows / seconds:,.0f} rows/s)")


if __name__ == "__main__":
    main()
