//! The area reachable on foot: the reached part of the network (every
//! reached node, and each way as far along as the time left allows),
//! widened by [`REACH_OFF_STREET_M`] on each side (a door, a square, a
//! courtyard reached from the street), drawn on a grid of
//! [`GRID_M`]-metre cells and traced by marching squares (the `contour`
//! crate) into a polygon.

use geo::{Coord, MapCoords, MultiPolygon, Rect, SimplifyVwPreserve};

use super::graph::WalkGraph;
use super::search::Reach;
use crate::geodesy::LocalFrame;

/// Metres either side of a reached way that count as reached.
pub const REACH_OFF_STREET_M: f64 = 25.0;
/// The drawing grid's cell side, in metres.
pub const GRID_M: f64 = 10.0;

/// The area within `reach.bound_m` of the starts, in lon/lat; `None` when
/// nothing was reached.
pub fn isochrone(graph: &WalkGraph, reach: &Reach) -> Option<MultiPolygon<f64>> {
    let reached: Vec<u32> = (0..graph.node_count() as u32)
        .filter(|&n| reach.metres[n as usize].is_finite())
        .collect();
    let first = *reached.first()?;
    let mut bbox = Rect::new(graph.position(first), graph.position(first));
    for &n in &reached {
        let p = graph.position(n);
        bbox = Rect::new(
            Coord {
                x: bbox.min().x.min(p.x),
                y: bbox.min().y.min(p.y),
            },
            Coord {
                x: bbox.max().x.max(p.x),
                y: bbox.max().y.max(p.y),
            },
        );
    }
    let frame = LocalFrame::centred_on(bbox);
    let margin = REACH_OFF_STREET_M + 2.0 * GRID_M;
    let (lo, hi) = (frame.project(bbox.min()), frame.project(bbox.max()));
    let origin = Coord {
        x: lo.x - margin,
        y: lo.y - margin,
    };
    let width = ((hi.x - lo.x + 2.0 * margin) / GRID_M).ceil() as usize + 1;
    let height = ((hi.y - lo.y + 2.0 * margin) / GRID_M).ceil() as usize + 1;
    let mut grid = vec![0.0f64; width * height];
    let radius_cells = (REACH_OFF_STREET_M / GRID_M).ceil() as i64;
    let mut stamp = |p: Coord<f64>| {
        let (cx, cy) = ((p.x - origin.x) / GRID_M, (p.y - origin.y) / GRID_M);
        let (ix, iy) = (cx.floor() as i64, cy.floor() as i64);
        for dy in -radius_cells..=radius_cells {
            for dx in -radius_cells..=radius_cells {
                let (x, y) = (ix + dx, iy + dy);
                if x < 0 || y < 0 || x >= width as i64 || y >= height as i64 {
                    continue;
                }
                // Distance from the point to the cell's centre.
                let (mx, my) = (x as f64 + 0.5 - cx, y as f64 + 0.5 - cy);
                if mx.hypot(my) * GRID_M <= REACH_OFF_STREET_M {
                    grid[y as usize * width + x as usize] = 1.0;
                }
            }
        }
    };
    for &n in &reached {
        let d = f64::from(reach.metres[n as usize]);
        let left = f64::from(reach.bound_m) - d;
        let a = frame.project(graph.position(n));
        stamp(a);
        for (next, length) in graph.edges(n) {
            let b = frame.project(graph.position(next));
            let along = left.min(f64::from(length));
            if along <= 0.0 || length <= 0.0 {
                continue;
            }
            let steps = (along / (GRID_M / 2.0)).ceil() as usize;
            for s in 1..=steps {
                let t = along * s as f64 / steps as f64 / f64::from(length);
                stamp(Coord {
                    x: a.x + (b.x - a.x) * t,
                    y: a.y + (b.y - a.y) * t,
                });
            }
        }
    }
    let contours = contour::ContourBuilder::new(width, height, true)
        .x_origin(origin.x)
        .y_origin(origin.y)
        .x_step(GRID_M)
        .y_step(GRID_M)
        .contours(&grid, &[0.5])
        .ok()?;
    let shape = contours.into_iter().next()?.into_inner().0;
    // The grid's staircase smoothed away (topology kept: still valid).
    let shape = shape.simplify_vw_preserve(GRID_M * GRID_M / 2.0);
    // Cell values sit at cell corners in `contour`: shift by half a cell.
    let shape: MultiPolygon<f64> = shape.map_coords(|c| {
        frame.unproject(Coord {
            x: c.x + GRID_M / 2.0,
            y: c.y + GRID_M / 2.0,
        })
    });
    (!shape.0.is_empty()).then_some(shape)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::walk::search::{Start, nearest};
    use geo::{Area, Contains, Validation};

    #[test]
    fn a_valid_area_around_the_reached_streets_only() {
        // A street grid of 11 × 11 nodes, 100 m apart.
        let mut nodes = Vec::new();
        let mut edges = Vec::new();
        let frame = LocalFrame::new(Coord { x: 2.35, y: 48.85 });
        for j in 0..11u32 {
            for i in 0..11u32 {
                let p = frame.unproject(Coord {
                    x: f64::from(i) * 100.0,
                    y: f64::from(j) * 100.0,
                });
                nodes.push((
                    i64::from(j * 11 + i),
                    [(p.x * 1e7) as i32, (p.y * 1e7) as i32],
                ));
                if i > 0 {
                    edges.push((j * 11 + i - 1, j * 11 + i));
                }
                if j > 0 {
                    edges.push(((j - 1) * 11 + i, j * 11 + i));
                }
            }
        }
        let g = WalkGraph::from_edges(nodes, &edges);
        let centre = frame.unproject(Coord { x: 500.0, y: 500.0 });
        let (start, _) = g.nearest_node(centre, 10.0).unwrap();
        let reach = nearest(
            &g,
            &[Start {
                node: start,
                offset_m: 0.0,
                label: 0,
            }],
            300.0,
        );
        let area = isochrone(&g, &reach).unwrap();
        assert!(area.is_valid(), "{:?}", area.validation_errors());
        let at = |x: f64, y: f64| geo::Point::from(frame.unproject(Coord { x, y }));
        // 300 m along the streets: (700, 500) yes, (700, 700) no (400 m away).
        assert!(area.contains(&at(500.0, 500.0)));
        assert!(area.contains(&at(790.0, 500.0)));
        assert!(!area.contains(&at(700.0, 700.0)));
        assert!(!area.contains(&at(900.0, 500.0)));
        // A diamond of streets (4 arms of 300 m, and shorter cross streets),
        // 50 m wide: well under the 600 m × 600 m square around it.
        let m2 = frame.project_multi_polygon(&area).unsigned_area();
        assert!(m2 > 100_000.0 && m2 < 300_000.0, "{m2}");
    }
}
