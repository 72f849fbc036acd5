//! The R-tree of QPV outlines, by bounding box in lon/lat, with an
//! occupancy grid in front of it. Initiatives are indexed in
//! [`crate::initiatives`].

use std::ops::ControlFlow;

use geo::{Coord, Rect};
use rstar::primitives::{GeomWithData, Rectangle};
use rstar::{AABB, Envelope, RTree, RTreeObject};

use crate::geodesy::LocalFrame;
use crate::model::{Location, LocationStatus, Qpv, QpvId};

type QpvEnvelope = GeomWithData<Rectangle<[f64; 2]>, QpvId>;

/// The outlines of QPV, by bounding box in lon/lat.
pub struct QpvIndex {
    tree: RTree<QpvEnvelope>,
    occupancy: OccupancyGrid,
    /// Degrees of (longitude, latitude) per metre that cover a metre anywhere
    /// near the indexed outlines: search margins, computed once.
    degrees_per_metre: (f64, f64),
}

impl QpvIndex {
    /// Indexes every QPV that has an outline (by its place in `qpvs`).
    pub fn new(qpvs: &[Qpv]) -> Self {
        let envelopes: Vec<QpvEnvelope> = qpvs
            .iter()
            .enumerate()
            .filter_map(|(i, q)| {
                let b = q.geometry.as_ref()?.bbox;
                Some(GeomWithData::new(
                    Rectangle::from_corners([b.min().x, b.min().y], [b.max().x, b.max().y]),
                    QpvId(i as u32),
                ))
            })
            .collect();
        let occupancy =
            OccupancyGrid::new(envelopes.iter().map(|e: &QpvEnvelope| e.geom().envelope()));
        let tree = RTree::bulk_load(envelopes);
        let extent = tree.root().envelope();
        // A margin reaches a little beyond the outlines: pad the extent's
        // latitude by a degree (about 111 km) so that it still covers there.
        let (lower, upper) = (extent.lower(), extent.upper());
        let padded = Rect::new(
            Coord {
                x: lower[0],
                y: (lower[1] - 1.0).max(-89.0),
            },
            Coord {
                x: upper[0],
                y: (upper[1] + 1.0).min(89.0),
            },
        );
        QpvIndex {
            degrees_per_metre: LocalFrame::degrees_for(padded, 1.0),
            tree,
            occupancy,
        }
    }

    /// Where `at` (lon/lat) is: inside a QPV (boundary included), else near
    /// the nearest QPV whose boundary is within `radius_m` metres, else
    /// outside. `generation` restricts the QPV considered (`None`: the
    /// generations in force). Ties go to the QPV loaded first.
    ///
    /// ```
    /// # use geodata::{index::QpvIndex, model::{Qpv, QpvGeometry, LocationStatus}};
    /// let square = geo::wkt!(MULTIPOLYGON(((2.35 48.88, 2.36 48.88, 2.36 48.89, 2.35 48.89, 2.35 48.88))));
    /// let qpv = Qpv { code: "QN07599X".into(), name: "Test".into(), communes: vec![],
    ///     departement: "75".into(), generation: 2024, population: None, population_as_of: None,
    ///     geometry: Some(QpvGeometry::new(square)), geometry_note: None, sources: vec![] };
    /// let qpvs = [qpv];
    /// let index = QpvIndex::new(&qpvs);
    /// let inside = index.locate(&qpvs, geo::coord! { x: 2.355, y: 48.885 }, 300.0, None);
    /// assert_eq!(inside.status, LocationStatus::Inside);
    /// // 0.002° of longitude east of the square at 48.885° N is about 147 m.
    /// let near = index.locate(&qpvs, geo::coord! { x: 2.362, y: 48.885 }, 300.0, None);
    /// assert_eq!(near.status, LocationStatus::Near);
    /// assert!((near.distance_m.unwrap() - 146.8).abs() < 1.0);
    /// ```
    pub fn locate(
        &self,
        qpvs: &[Qpv],
        at: Coord<f64>,
        radius_m: f64,
        generation: Option<u16>,
    ) -> Location {
        let (dlon, dlat) = (
            radius_m * self.degrees_per_metre.0,
            radius_m * self.degrees_per_metre.1,
        );
        let search = AABB::from_corners([at.x - dlon, at.y - dlat], [at.x + dlon, at.y + dlat]);
        if !self.occupancy.may_intersect(&search) {
            return Location::OUTSIDE;
        }
        let mut inside: Option<QpvId> = None;
        let mut nearest: Option<(QpvId, f64)> = None;
        // Internal iteration: rstar's visitor form is the fast path here.
        let _ = self
            .tree
            .locate_in_envelope_intersecting_int(&search, |candidate| {
                let i = candidate.data;
                let qpv = &qpvs[i.index()];
                if !crate::conventions::generation_matches(generation, qpv.generation) {
                    return ControlFlow::<()>::Continue(());
                }
                let geometry = qpv.geometry.as_ref().expect("indexed QPV have outlines");
                if geometry.covers(at) {
                    inside = Some(inside.map_or(i, |j: QpvId| j.min(i)));
                } else if inside.is_none()
                    && radius_m > 0.0
                    && geometry.bbox_distance_m(at) <= radius_m
                    && let Some(d) = geometry.boundary_distance_within_m(at, radius_m)
                    && nearest.is_none_or(|(j, dj)| d < dj || (d == dj && i < j))
                {
                    nearest = Some((i, d));
                }
                ControlFlow::Continue(())
            });
        match (inside, nearest) {
            (Some(i), _) => Location {
                status: LocationStatus::Inside,
                qpv: Some(i),
                distance_m: Some(0.0),
            },
            (None, Some((i, d))) => Location {
                status: LocationStatus::Near,
                qpv: Some(i),
                distance_m: Some(d),
            },
            (None, None) => Location::OUTSIDE,
        }
    }
}

impl QpvIndex {
    /// Every QPV whose outline is within `radius_m` (at most 5 km) of `at`
    /// (0 inside or on the boundary), with the distance, by id.
    pub fn within(&self, qpvs: &[Qpv], at: Coord<f64>, radius_m: f64) -> Vec<(QpvId, f64)> {
        let (dlon, dlat) = (
            radius_m * self.degrees_per_metre.0,
            radius_m * self.degrees_per_metre.1,
        );
        let search = AABB::from_corners([at.x - dlon, at.y - dlat], [at.x + dlon, at.y + dlat]);
        if !self.occupancy.may_intersect(&search) {
            return Vec::new();
        }
        let mut found = Vec::new();
        let _ = self
            .tree
            .locate_in_envelope_intersecting_int(&search, |candidate| {
                let geometry = qpvs[candidate.data.index()]
                    .geometry
                    .as_ref()
                    .expect("indexed QPV have outlines");
                if geometry.bbox_distance_m(at) <= radius_m
                    && let Some(d) = geometry.distance_within_m(at, radius_m)
                {
                    found.push((candidate.data, d));
                }
                ControlFlow::<()>::Continue(())
            });
        found.sort_unstable_by_key(|(id, _)| *id);
        found
    }

    /// QPV whose outline's bounding box meets `bbox` (lon/lat), in no
    /// particular order.
    pub fn in_bbox(&self, bbox: Rect<f64>) -> impl Iterator<Item = QpvId> + '_ {
        let aabb = AABB::from_corners([bbox.min().x, bbox.min().y], [bbox.max().x, bbox.max().y]);
        self.tree
            .locate_in_envelope_intersecting(&aabb)
            .map(|e| e.data)
    }
}

/// Which cells of a grid over the index's extent touch any envelope: whether
/// a search box can meet an outline at all is one bit (a point's cell, in a
/// bitset small enough for the L1 cache) or four lookups in a summed-area
/// table (a larger box). Most points are far from every QPV, and this
/// answers them without walking the R-tree (the locate benchmark measures
/// the gain).
struct OccupancyGrid {
    origin: [f64; 2],
    cell: [f64; 2],
    /// One bit per cell, row-major.
    occupied: Vec<u64>,
    /// Sums of occupied cells over `[0, col) × [0, row)`, `(SIDE + 1)²` of them.
    sums: Vec<u32>,
}

impl OccupancyGrid {
    const SIDE: usize = 256;

    fn new(envelopes: impl Iterator<Item = AABB<[f64; 2]>> + Clone) -> Self {
        let extent = envelopes
            .clone()
            .reduce(|a, b| a.merged(&b))
            .unwrap_or_else(|| AABB::from_point([0.0, 0.0]));
        let (lower, upper) = (extent.lower(), extent.upper());
        let side = Self::SIDE as f64;
        let cell = [
            ((upper[0] - lower[0]) / side).max(1e-9),
            ((upper[1] - lower[1]) / side).max(1e-9),
        ];
        let mut grid = OccupancyGrid {
            origin: lower,
            cell,
            occupied: vec![0; Self::SIDE * Self::SIDE / 64],
            sums: vec![0; (Self::SIDE + 1) * (Self::SIDE + 1)],
        };
        let stride = Self::SIDE + 1;
        for e in envelopes {
            let (c0, r0) = grid.cell_of(e.lower());
            let (c1, r1) = grid.cell_of(e.upper());
            for r in r0..=r1 {
                for c in c0..=c1 {
                    grid.sums[(r + 1) * stride + c + 1] = 1;
                    let bit = r * Self::SIDE + c;
                    grid.occupied[bit / 64] |= 1 << (bit % 64);
                }
            }
        }
        for r in 1..=Self::SIDE {
            for c in 1..=Self::SIDE {
                let i = r * stride + c;
                grid.sums[i] +=
                    grid.sums[i - 1] + grid.sums[i - stride] - grid.sums[i - stride - 1];
            }
        }
        grid
    }

    /// The cell holding a point, clamped to the grid.
    #[inline]
    fn cell_of(&self, p: [f64; 2]) -> (usize, usize) {
        // `as` truncates (floor, for the non-negative values kept) and
        // saturates; cheaper than a `floor` call.
        let index = |v: f64| ((v.max(0.0)) as usize).min(Self::SIDE - 1);
        (
            index((p[0] - self.origin[0]) / self.cell[0]),
            index((p[1] - self.origin[1]) / self.cell[1]),
        )
    }

    /// False only when no indexed envelope can intersect `search`.
    #[inline]
    fn may_intersect(&self, search: &AABB<[f64; 2]>) -> bool {
        let (lower, upper) = (search.lower(), search.upper());
        let side = Self::SIDE as f64;
        let end = [
            self.origin[0] + self.cell[0] * side,
            self.origin[1] + self.cell[1] * side,
        ];
        if upper[0] < self.origin[0]
            || upper[1] < self.origin[1]
            || lower[0] > end[0]
            || lower[1] > end[1]
        {
            return false;
        }
        let (c0, r0) = self.cell_of(lower);
        let (c1, r1) = self.cell_of(upper);
        if c0 == c1 && r0 == r1 {
            let bit = r0 * Self::SIDE + c0;
            return self.occupied[bit / 64] & (1 << (bit % 64)) != 0;
        }
        let stride = Self::SIDE + 1;
        let at = |r: usize, c: usize| self.sums[r * stride + c];
        at(r1 + 1, c1 + 1) + at(r0, c0) > at(r0, c1 + 1) + at(r1 + 1, c0)
    }
}
