//! The validated model of the territory: QPV and their outlines,
//! départements, and where a point is among them. Initiatives are in
//! [`crate::initiative`].

use geo::{
    BoundingRect, Closest, ClosestPoint, Coord, CoordsIter, Distance, Euclidean, Geodesic, Line,
    MultiPolygon, Point, Rect,
};
use rstar::{AABB, RTree};
use serde::Serialize;

use crate::geodesy::LocalFrame;

/// A QPV of the territory: its place in [`crate::Territory::qpvs`], stable
/// for the life of the process (the territory does not change).
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize)]
pub struct QpvId(pub u32);

impl QpvId {
    #[inline]
    pub fn index(self) -> usize {
        self.0 as usize
    }
}

/// A commune a QPV lies in.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct CommuneRef {
    /// INSEE code (Paris, Lyon, Marseille: the whole commune's code), when the
    /// source gives it.
    pub insee: Option<String>,
    pub name: String,
}

impl CommuneRef {
    /// What names the commune in filters and summaries: its INSEE code, or
    /// its folded name where the source gives no code.
    pub fn key(&self) -> String {
        self.insee
            .clone()
            .unwrap_or_else(|| crate::text::fold(&self.name))
    }
}

/// Distances up to this are computed in the outline's local frame (within
/// 0.1 % of the geodesic); beyond, they are measured on the ellipsoid.
pub const LOCAL_FRAME_LIMIT_M: f64 = 5000.0;

/// Most vertices of an outline buffered into a ring (see [`QpvGeometry::grown_by`]).
pub const RING_MAX_VERTICES: usize = 4000;

/// A QPV outline, kept in lon/lat for output and in a local metric frame for
/// distances.
#[derive(Debug, Clone)]
pub struct QpvGeometry {
    pub lonlat: MultiPolygon<f64>,
    pub bbox: Rect<f64>,
    frame: LocalFrame,
    metric: MultiPolygon<f64>,
    metric_bbox: Rect<f64>,
    /// Every ring's segments in the local frame: the nearest boundary point
    /// in logarithmic time (Occitanie outlines have up to 761 vertices).
    boundary: RTree<Line<f64>>,
}

impl QpvGeometry {
    /// Wraps a valid, non-empty multipolygon in lon/lat degrees.
    pub fn new(lonlat: MultiPolygon<f64>) -> Self {
        let bbox = lonlat
            .bounding_rect()
            .expect("a valid polygon is not empty");
        let frame = LocalFrame::centred_on(bbox);
        let metric = frame.project_multi_polygon(&lonlat);
        let metric_bbox = metric.bounding_rect().expect("same shape, projected");
        let boundary = RTree::bulk_load(
            metric
                .iter()
                .flat_map(|p| std::iter::once(p.exterior()).chain(p.interiors()))
                .flat_map(|ring| ring.lines())
                .collect(),
        );
        QpvGeometry {
            lonlat,
            bbox,
            frame,
            metric,
            metric_bbox,
            boundary,
        }
    }

    /// Whether the point is inside or on the boundary.
    ///
    /// Crossing number of a ray to +x in the local frame, the crossed
    /// segments found in the segment R-tree: logarithmic in the outline's
    /// vertices (geo's `Intersects` walks every one, and national outlines
    /// reach 50,000). A point on a segment is inside.
    #[inline]
    pub fn covers(&self, at: Coord<f64>) -> bool {
        let b = self.bbox;
        if at.x < b.min().x || at.x > b.max().x || at.y < b.min().y || at.y > b.max().y {
            return false;
        }
        let p = self.frame.project(at);
        let ray = AABB::from_corners(Point(p), Point::new(self.metric_bbox.max().x, p.y));
        let mut inside = false;
        for s in self.boundary.locate_in_envelope_intersecting(&ray) {
            let (a, c) = (s.start, s.end);
            let orientation =
                <geo::algorithm::kernels::RobustKernel as geo::Kernel<f64>>::orient2d(a, c, p);
            if orientation == geo::Orientation::Collinear
                && p.x >= a.x.min(c.x)
                && p.x <= a.x.max(c.x)
                && p.y >= a.y.min(c.y)
                && p.y <= a.y.max(c.y)
            {
                return true;
            }
            if (a.y > p.y) != (c.y > p.y) {
                // The crossing is right of p when p is left of the upward edge.
                let upward = c.y > a.y;
                let left = orientation == geo::Orientation::CounterClockwise;
                if upward == left {
                    inside = !inside;
                }
            }
        }
        inside
    }

    /// Vertices of the outline.
    pub fn vertices(&self) -> usize {
        self.lonlat.coords_count()
    }

    /// Metres on the ground from the point to the outline: 0 inside or on the
    /// boundary, else [`Self::boundary_distance_m`].
    pub fn distance_m(&self, at: Coord<f64>) -> f64 {
        if self.covers(at) {
            0.0
        } else {
            self.boundary_distance_m(at)
        }
    }

    /// Metres on the ground from the point to the nearest boundary point: the
    /// distance to the outline for a point outside it.
    ///
    /// Beyond [`LOCAL_FRAME_LIMIT_M`] the local frame loses accuracy (about
    /// 1 % at 50 km), so the nearest boundary point it finds is measured
    /// again on the ellipsoid (geographiclib).
    pub fn boundary_distance_m(&self, at: Coord<f64>) -> f64 {
        let (local, nearest) = self.nearest_boundary_point(at);
        self.on_ellipsoid(at, local, nearest)
    }

    /// The nearest boundary point in the local frame, and its distance:
    /// within 0.1 % of [`Self::boundary_distance_m`] up to
    /// [`LOCAL_FRAME_LIMIT_M`], and never less than [`Self::bbox_distance_m`],
    /// so that the bounding box can order candidates.
    #[inline]
    pub fn nearest_boundary_point(&self, at: Coord<f64>) -> (f64, Coord<f64>) {
        let p = Point(self.frame.project(at));
        // Not `nearest_neighbor`: its pruning, made for points, can miss the
        // nearest segment (georust/rstar#13); the best-first iterator cannot.
        let segment = self
            .boundary
            .nearest_neighbor_iter(&p)
            .next()
            .expect("a valid outline has segments");
        let nearest = match segment.closest_point(&p) {
            Closest::Intersection(c) | Closest::SinglePoint(c) => c,
            Closest::Indeterminate => segment.start_point(),
        };
        (Euclidean.distance(p, nearest), nearest.0)
    }

    /// [`Self::distance_m`] when it is at most `max_m`, else `None`.
    #[inline]
    pub fn distance_within_m(&self, at: Coord<f64>, max_m: f64) -> Option<f64> {
        if self.covers(at) {
            return Some(0.0);
        }
        self.boundary_distance_within_m(at, max_m)
    }

    /// [`Self::boundary_distance_m`] when it is at most `max_m`, else `None`.
    #[inline]
    pub fn boundary_distance_within_m(&self, at: Coord<f64>, max_m: f64) -> Option<f64> {
        Some(self.boundary_distance_m(at)).filter(|d| *d <= max_m)
    }

    /// The distance on the ground given the local one and the nearest
    /// boundary point in the local frame.
    pub fn on_ellipsoid(&self, at: Coord<f64>, local_m: f64, nearest: Coord<f64>) -> f64 {
        if local_m <= LOCAL_FRAME_LIMIT_M {
            local_m
        } else {
            Geodesic.distance(Point(at), Point(self.frame.unproject(nearest)))
        }
    }

    /// The area within `radius_m` metres of the outline (the outline grown by
    /// that much), in lon/lat: the ring drawn around a QPV on the map.
    ///
    /// Bounded in cost whatever the outline: simplified first by 1 % of the
    /// radius (at least 1 m; a ring drawn on a map shows no more), then more
    /// until at most [`RING_MAX_VERTICES`] vertices are left, then buffered.
    pub fn grown_by(&self, radius_m: f64) -> MultiPolygon<f64> {
        use geo::{Buffer, MapCoords, Simplify};
        if radius_m <= 0.0 {
            return self.lonlat.clone();
        }
        let mut tolerance = (radius_m / 100.0).max(1.0);
        let mut simplified = self.metric.simplify(tolerance);
        while simplified.coords_count() > RING_MAX_VERTICES {
            tolerance *= 2.0;
            simplified = self.metric.simplify(tolerance);
        }
        simplified
            .buffer(radius_m)
            .map_coords(|c| self.frame.unproject(c))
    }

    /// A lower bound of [`Self::distance_m`], from the bounding box alone.
    #[inline]
    pub fn bbox_distance_m(&self, at: Coord<f64>) -> f64 {
        let p = self.frame.project(at);
        let (min, max) = (self.metric_bbox.min(), self.metric_bbox.max());
        let dx = (min.x - p.x).max(0.0).max(p.x - max.x);
        let dy = (min.y - p.y).max(0.0).max(p.y - max.y);
        dx.hypot(dy)
    }
}

/// A quartier prioritaire de la politique de la ville.
#[derive(Debug, Clone)]
pub struct Qpv {
    /// `QNdddnnX` (2024 generation) or `QPdddnnn` (2015).
    pub code: String,
    pub name: String,
    pub communes: Vec<CommuneRef>,
    /// Département code (`93`, `2A`, `974`).
    pub departement: String,
    /// 2015, 2024, or 2025 for the overseas QPV of the 2025 décrets.
    pub generation: u16,
    /// INSEE population municipale, where published.
    pub population: Option<u32>,
    /// The date of that population (the manifest's `as_of` of its dataset).
    pub population_as_of: Option<String>,
    pub geometry: Option<QpvGeometry>,
    /// Why there is no outline, or what was repaired in it.
    pub geometry_note: Option<String>,
    /// Ids of the datasets this record was built from.
    pub sources: Vec<String>,
}

impl Qpv {
    /// Whether one of its communes has this key ([`CommuneRef::key`]; case
    /// ignored).
    pub fn in_commune(&self, key: &str) -> bool {
        self.communes
            .iter()
            .any(|c| c.key().eq_ignore_ascii_case(key))
    }

    /// The generation a code's prefix implies: `QP` 2015, `QN` 2024.
    pub fn generation_from_code(code: &str) -> Option<u16> {
        match code.get(..2) {
            Some("QP") => Some(2015),
            Some("QN") => Some(2024),
            _ => None,
        }
    }

    /// The département a code implies: `QN09301M` → `93`, `QN97101M` → `971`,
    /// `QP02A001` → `2A`.
    pub fn departement_from_code(code: &str) -> Option<String> {
        let digits = code.get(2..5)?;
        if digits.starts_with("97") {
            return Some(digits.to_string());
        }
        let dep = digits.strip_prefix('0')?;
        Some(dep.to_string())
    }
}

/// Where an initiative or a point is with respect to the QPV.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum LocationStatus {
    /// Inside a QPV outline, or on its boundary.
    Inside,
    /// Outside every outline, within the search radius of one.
    Near,
    /// Farther than the radius from every loaded outline.
    Outside,
    /// No usable coordinates.
    NotLocated,
    /// Only the commune is known (its centre stands for the position): not
    /// placed inside or near any QPV.
    CommuneOnly,
    /// Outside every loaded outline, but near communes holding QPV (of the
    /// generation in force) whose outline is not loaded: it may be in one of
    /// them. Never written as outside.
    Unknown,
}

/// A point's place among the QPV.
#[derive(Debug, Clone, Copy, PartialEq, Serialize)]
pub struct Location {
    pub status: LocationStatus,
    /// The QPV it is inside or nearest to.
    #[serde(skip)]
    pub qpv: Option<QpvId>,
    /// Metres to that QPV's boundary (0 inside).
    pub distance_m: Option<f64>,
}

impl Location {
    pub const OUTSIDE: Location = Location {
        status: LocationStatus::Outside,
        qpv: None,
        distance_m: None,
    };

    pub const NOT_LOCATED: Location = Location {
        status: LocationStatus::NotLocated,
        qpv: None,
        distance_m: None,
    };

    pub const COMMUNE_ONLY: Location = Location {
        status: LocationStatus::CommuneOnly,
        qpv: None,
        distance_m: None,
    };
}

/// A département outline, for context.
#[derive(Debug, Clone)]
pub struct Departement {
    pub code: String,
    pub name: String,
    pub geometry: MultiPolygon<f64>,
}

#[cfg(test)]
mod tests {
    use super::{Qpv, QpvGeometry};
    use geo::{Distance, Euclidean, MultiPolygon, Point, coord, polygon};
    use proptest::prelude::*;

    proptest! {
        /// The segment index finds what measuring every segment finds.
        #[test]
        fn boundary_index_matches_every_segment(x in 2.30..2.42f64, y in 48.83..48.92f64) {
            let outline = QpvGeometry::new(MultiPolygon(vec![polygon![
                exterior: [(x: 2.34, y: 48.86), (x: 2.37, y: 48.86), (x: 2.37, y: 48.89), (x: 2.355, y: 48.875), (x: 2.34, y: 48.89), (x: 2.34, y: 48.86)],
                interiors: [[(x: 2.345, y: 48.865), (x: 2.35, y: 48.865), (x: 2.35, y: 48.87), (x: 2.345, y: 48.865)]],
            ]]));
            let at = coord! { x: x, y: y };
            let p = Point(outline.frame.project(at));
            let every_segment = outline
                .metric
                .iter()
                .flat_map(|p| std::iter::once(p.exterior()).chain(p.interiors()))
                .flat_map(|ring| ring.lines())
                .map(|l| Euclidean.distance(&l, &p))
                .fold(f64::INFINITY, f64::min);
            prop_assert!((outline.boundary_distance_m(at) - every_segment).abs() < 1e-9);
            let expected = if outline.covers(at) { 0.0 } else { every_segment };
            prop_assert!((outline.distance_m(at) - expected).abs() < 1e-9);
        }
    }

    #[test]
    fn codes_give_departement_and_generation() {
        assert_eq!(
            Qpv::departement_from_code("QN09301M").as_deref(),
            Some("93")
        );
        assert_eq!(
            Qpv::departement_from_code("QN07511M").as_deref(),
            Some("75")
        );
        assert_eq!(
            Qpv::departement_from_code("QN97101M").as_deref(),
            Some("971")
        );
        assert_eq!(
            Qpv::departement_from_code("QP02A001").as_deref(),
            Some("2A")
        );
        assert_eq!(Qpv::departement_from_code("QP0"), None);
        assert_eq!(Qpv::generation_from_code("QP066007"), Some(2015));
        assert_eq!(Qpv::generation_from_code("QN07511M"), Some(2024));
        assert_eq!(Qpv::generation_from_code("XX"), None);
    }
}
