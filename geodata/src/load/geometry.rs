//! Checking and repairing polygon geometry read from GeoJSON.
//!
//! Policy, applied to every QPV outline:
//! - positions must be finite, longitude in [-180, 180], latitude in [-90, 90],
//!   and each ring must have at least 4 positions; otherwise the outline is
//!   rejected (the QPV is kept, without geometry, and the reason is reported);
//! - an unclosed ring is closed by repeating its first position (reported);
//! - an outline that breaks OGC validity (self-intersection, hole outside its
//!   shell, overlapping parts…) is repaired with geo's `MakeValid` (constrained
//!   triangulation, Ledoux et al. 2014), and the repair and the change of area
//!   are reported; if the repair fails or leaves nothing, the outline is rejected.
//!
//! An invalid outline is never used as it is. Accepted outlines are oriented
//! as RFC 7946 asks (exteriors counter-clockwise, holes clockwise), which is
//! also what vector tiles need once y points down.

use geo::algorithm::sweep::{Cross, Intersections};
use geo::orient::{Direction, Orient};
use geo::{Area, Coord, Line, LineIntersection, LineString, MakeValid, MultiPolygon, Polygon};
use geojson::{Geometry, GeometryValue, Position};

/// A checked outline, and what was repaired to get it.
pub(crate) struct CheckedPolygon {
    pub geometry: MultiPolygon<f64>,
    pub repairs: Vec<String>,
}

/// Checks a GeoJSON geometry as a QPV outline; `Err` says why it is rejected.
pub(crate) fn check_polygonal(geometry: Option<&Geometry>) -> Result<CheckedPolygon, String> {
    let geometry = geometry.ok_or("no geometry (null)")?;
    let polygons: Vec<&Vec<Vec<Position>>> = match &geometry.value {
        GeometryValue::Polygon { coordinates } => vec![coordinates],
        GeometryValue::MultiPolygon { coordinates } => coordinates.iter().collect(),
        other => {
            return Err(format!(
                "geometry type {}, expected Polygon or MultiPolygon",
                other.type_name()
            ));
        }
    };
    if polygons.is_empty() {
        return Err("empty MultiPolygon".to_string());
    }
    let mut repairs = Vec::new();
    let mut parts = Vec::with_capacity(polygons.len());
    for (p, rings) in polygons.into_iter().enumerate() {
        let where_ = |r: usize| {
            if parts_label_needed(&geometry.value) {
                format!("polygon {p}, ring {r}")
            } else {
                format!("ring {r}")
            }
        };
        let mut checked = Vec::with_capacity(rings.len());
        for (r, ring) in rings.iter().enumerate() {
            let mut coords = ring
                .iter()
                .enumerate()
                .map(|(i, pos)| coord(pos).map_err(|e| format!("{}, position {i}: {e}", where_(r))))
                .collect::<Result<Vec<_>, _>>()?;
            if coords.len() < 4 {
                return Err(format!(
                    "{}: {} positions, a ring needs at least 4",
                    where_(r),
                    coords.len()
                ));
            }
            if coords.first() != coords.last() {
                coords.push(coords[0]);
                repairs.push(format!("{} was not closed; closed it", where_(r)));
            }
            checked.push(LineString::new(coords));
        }
        let Some((exterior, interiors)) = checked.split_first() else {
            return Err(format!("polygon {p} has no ring"));
        };
        parts.push(Polygon::new(exterior.clone(), interiors.to_vec()));
    }
    let geometry = MultiPolygon::new(parts);
    let Some(problem) = validity_problem(&geometry) else {
        return Ok(CheckedPolygon {
            geometry: geometry.orient(Direction::Default),
            repairs,
        });
    };
    let repaired = geometry
        .make_valid()
        .map_err(|e| format!("invalid outline ({problem}); repair failed: {e:?}"))?;
    if repaired.0.is_empty() || validity_problem(&repaired).is_some() {
        return Err(format!(
            "invalid outline ({problem}); repair left no valid area"
        ));
    }
    let (before, after) = (geometry.unsigned_area(), repaired.unsigned_area());
    let change = if before > 0.0 {
        (after - before) / before * 100.0
    } else {
        0.0
    };
    repairs.push(format!(
        "invalid outline ({problem}); repaired with MakeValid, area changed by {change:+.2} %"
    ));
    Ok(CheckedPolygon {
        geometry: repaired.orient(Direction::Default),
        repairs,
    })
}

/// A segment of ring `ring` of polygon `polygon`, for the sweep.
#[derive(Clone, Copy)]
struct RingSegment {
    line: Line<f64>,
    polygon: usize,
    ring: usize,
}

impl Cross for RingSegment {
    type Scalar = f64;
    fn line(&self) -> Line<f64> {
        self.line
    }
}

/// Why a multipolygon breaks OGC validity, or `None`: rings that cross
/// themselves or each other, overlap along a line, holes outside their
/// shell, parts inside one another.
///
/// Same rules as geo's `Validation`, whose ring check compares every
/// segment with every other (quadratic: 16 s for a 50,000-vertex outline);
/// here one Bentley–Ottmann sweep (geo's `Intersections`) over every
/// segment finds the crossings in O((n + k) log n).
pub(crate) fn validity_problem(geometry: &MultiPolygon<f64>) -> Option<String> {
    let segments = geometry.iter().enumerate().flat_map(|(p, polygon)| {
        std::iter::once(polygon.exterior())
            .chain(polygon.interiors())
            .enumerate()
            .flat_map(move |(r, ring)| {
                ring.lines().map(move |line| RingSegment {
                    line,
                    polygon: p,
                    ring: r,
                })
            })
    });
    let ring_name = |s: &RingSegment| {
        let ring = if s.ring == 0 {
            "exterior ring".to_string()
        } else {
            format!("interior ring {}", s.ring - 1)
        };
        if geometry.0.len() > 1 {
            format!("{ring} of polygon {}", s.polygon)
        } else {
            ring
        }
    };
    for (a, b, crossing) in Intersections::from_iter(segments) {
        let (la, lb) = (a.line, b.line);
        if (a.polygon, a.ring) == (b.polygon, b.ring) {
            // Neighbours along the ring meet at their shared vertex.
            if la.start != lb.end && la.end != lb.start {
                return Some(format!("{} has a self-intersection", ring_name(&a)));
            }
            if matches!(crossing, LineIntersection::Collinear { .. })
                && la.start == lb.end
                && la.end == lb.start
            {
                return Some(format!(
                    "{} has a self-intersection (a spike)",
                    ring_name(&a)
                ));
            }
            continue;
        }
        // Different rings may touch at points, never cross or share a segment.
        match crossing {
            LineIntersection::Collinear { intersection }
                if intersection.start != intersection.end =>
            {
                return Some(format!(
                    "{} and {} intersect on a line",
                    ring_name(&a),
                    ring_name(&b)
                ));
            }
            LineIntersection::SinglePoint {
                is_proper: true, ..
            } => {
                return Some(format!("{} and {} intersect", ring_name(&a), ring_name(&b)));
            }
            _ => {}
        }
    }
    // No crossings: each ring is inside or outside each other ring as a
    // whole, so its first vertex off the other's boundary tells.
    use geo::coordinate_position::{CoordPos, CoordinatePosition};
    use geo::{BoundingRect, Contains};
    let inside = |ring: &LineString<f64>, outer: &LineString<f64>| {
        let (Some(a), Some(b)) = (ring.bounding_rect(), outer.bounding_rect()) else {
            return false;
        };
        if !b.contains(&a) {
            return false;
        }
        let polygon = Polygon::new(outer.clone(), vec![]);
        ring.0
            .iter()
            .map(|c| polygon.coordinate_position(c))
            .find(|p| *p != CoordPos::OnBoundary)
            == Some(CoordPos::Inside)
    };
    for (p, polygon) in geometry.iter().enumerate() {
        for (h, hole) in polygon.interiors().iter().enumerate() {
            if !inside(hole, polygon.exterior()) {
                return Some(format!(
                    "interior ring {h} of polygon {p} is outside its exterior ring"
                ));
            }
        }
        for (q, other) in geometry.iter().enumerate() {
            if p != q
                && inside(polygon.exterior(), other.exterior())
                && !other
                    .interiors()
                    .iter()
                    .any(|h| inside(polygon.exterior(), h) || h == polygon.exterior())
            {
                return Some(format!("polygon {p} lies inside polygon {q}"));
            }
        }
    }
    None
}

fn parts_label_needed(value: &GeometryValue) -> bool {
    matches!(value, GeometryValue::MultiPolygon { .. })
}

/// A GeoJSON position as a lon/lat coordinate, checked.
pub(crate) fn coord(pos: &Position) -> Result<Coord<f64>, String> {
    let s = pos.as_slice();
    if s.len() < 2 {
        return Err(format!("{} numbers, a position needs 2", s.len()));
    }
    lon_lat(s[0], s[1])
}

/// Checks a longitude/latitude pair.
pub(crate) fn lon_lat(lon: f64, lat: f64) -> Result<Coord<f64>, String> {
    if !lon.is_finite() || !lat.is_finite() {
        return Err(format!("coordinates ({lon}, {lat}) are not finite numbers"));
    }
    if !(-180.0..=180.0).contains(&lon) {
        return Err(format!("longitude {lon} outside [-180, 180]"));
    }
    if !(-90.0..=90.0).contains(&lat) {
        return Err(format!("latitude {lat} outside [-90, 90]"));
    }
    Ok(Coord { x: lon, y: lat })
}
