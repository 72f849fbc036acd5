"""A synthetic OpenStreetMap extract of Île-de-France's size class, for the
walking benchmarks (bench/walk.sh): a street grid over the region's
bounding box (≈ 80 m blocks; residential streets, a primary road every 20
rows, footways every 7 columns, and a motorway every 97 columns that no one
may walk along), plus buildings (closed ways of 5 nodes, not walkable) as
filler, so that the reader reads as many nodes and ways as in the real
extract (Geofabrik's ile-de-france-latest: some 40 M nodes, 6 M ways).
Written with pyosmium (PyPI `osmium`).

usage: idf_street_grid.py OUT.osm.pbf [GRID_NODES] [FILLER_NODES]
(defaults: 3,000,000 grid nodes, 33,000,000 filler nodes)
"""

import math
import sys

import osmium

WEST, EAST, SOUTH, NORTH = 1.45, 3.56, 48.12, 49.24
WAY_NODES = 50


def main():
    out = sys.argv[1]
    grid_nodes = int(sys.argv[2]) if len(sys.argv) > 2 else 3_000_000
    filler_nodes = int(sys.argv[3]) if len(sys.argv) > 3 else 33_000_000
    # A grid of the region's shape (155 km × 125 km).
    ny = int(math.sqrt(grid_nodes * 125 / 155))
    nx = grid_nodes // ny
    dx, dy = (EAST - WEST) / nx, (NORTH - SOUTH) / ny
    writer = osmium.SimpleWriter(out)
    node = lambda i, j: 1 + j * nx + i
    Node, Way = osmium.osm.mutable.Node, osmium.osm.mutable.Way
    for j in range(ny):
        for i in range(nx):
            writer.add_node(Node(id=node(i, j), location=(WEST + i * dx, SOUTH + j * dy)))
    next_node = nx * ny + 1
    # Buildings: 4 corners and the first again, inside the blocks.
    buildings = filler_nodes // 4
    for b in range(buildings):
        i, j = (b * 7919) % (nx - 1), (b * 104729) % (ny - 1)
        x, y = WEST + (i + 0.3) * dx, SOUTH + (j + 0.3) * dy
        for k, (ox, oy) in enumerate([(0, 0), (0.2, 0), (0.2, 0.2), (0, 0.2)]):
            writer.add_node(Node(id=next_node + 4 * b + k, location=(x + ox * dx, y + oy * dy)))
    way = 1
    for j in range(ny):
        highway = "primary" if j % 20 == 0 else "residential"
        for start in range(0, nx - 1, WAY_NODES - 1):
            refs = [node(i, j) for i in range(start, min(start + WAY_NODES, nx))]
            writer.add_way(Way(id=way, nodes=refs, tags={"highway": highway, "name": f"Rue {j}"}))
            way += 1
    for i in range(nx):
        highway = "motorway" if i % 97 == 0 else "footway" if i % 7 == 0 else "residential"
        for start in range(0, ny - 1, WAY_NODES - 1):
            refs = [node(i, j) for j in range(start, min(start + WAY_NODES, ny))]
            writer.add_way(Way(id=way, nodes=refs, tags={"highway": highway}))
            way += 1
    for b in range(buildings):
        first = next_node + 4 * b
        writer.add_way(Way(id=way, nodes=[first, first + 1, first + 2, first + 3, first], tags={"building": "yes"}))
        way += 1
    writer.close()
    print(f"{out}: {nx} × {ny} grid nodes, {buildings * 4} filler nodes, {way - 1} ways", file=sys.stderr)


if __name__ == "__main__":
    main()
