//! R-tree indexes: QPV outlines by bounding box, initiatives by point.

use geo::{Coord, Rect};
use rstar::primitives::{GeomWithData, Rectangle};
use rstar::{AABB, RTree};

use crate::geodesy::LocalFrame;
use crate::model::{Initiative, Location, LocationStatus, Qpv, QpvGeometry};

type QpvEnvelope = GeomWithData<Rectangle<[f64; 2]>, usize>;
type InitiativePoint = GeomWithData<[f64; 2], usize>;

/// The outlines of QPV, by bounding box in lon/lat.
pub struct QpvIndex {
    tree: RTree<QpvEnvelope>,
}

impl QpvIndex {
    /// Indexes every QPV that has an outline (by its index in `qpvs`).
    pub fn new(qpvs: &[Qpv]) -> Self {
        let envelopes = qpvs
            .iter()
            .enumerate()
            .filter_map(|(i, q)| {
                let b = q.geometry.as_ref()?.bbox;
                Some(GeomWithData::new(
                    Rectangle::from_corners([b.min().x, b.min().y], [b.max().x, b.max().y]),
                    i,
                ))
            })
            .collect();
        QpvIndex {
            tree: RTree::bulk_load(envelopes),
        }
    }

    /// Where `at` (lon/lat) is: inside a QPV (boundary included), else near
    /// the nearest QPV whose boundary is within `radius_m` metres, else
    /// outside. `generation` restricts the QPV considered. Ties go to the QPV
    /// loaded first.
    ///
    /// ```
    /// # use geodata::{index::QpvIndex, model::{Qpv, QpvGeometry, LocationStatus}};
    /// let square = geo::wkt!(MULTIPOLYGON(((2.35 48.88, 2.36 48.88, 2.36 48.89, 2.35 48.89, 2.35 48.88))));
    /// let qpv = Qpv { code: "QN07599X".into(), name: "Test".into(), communes: vec![],
    ///     departement: "75".into(), generation: 2024, population: None,
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
        let (dlon, dlat) = LocalFrame::degrees_for(Rect::new(at, at), radius_m);
        let search = AABB::from_corners([at.x - dlon, at.y - dlat], [at.x + dlon, at.y + dlat]);
        let mut inside: Option<usize> = None;
        let mut nearest: Option<(usize, f64)> = None;
        let candidates = self.tree.locate_in_envelope_intersecting(&search);
        for candidate in candidates {
            let i = candidate.data;
            let qpv = &qpvs[i];
            if generation.is_some_and(|g| g != qpv.generation) {
                continue;
            }
            let geometry = qpv.geometry.as_ref().expect("indexed QPV have outlines");
            if geometry.covers(at) {
                inside = Some(inside.map_or(i, |j: usize| j.min(i)));
                continue;
            }
            if inside.is_some() || geometry.bbox_distance_m(at) > radius_m {
                continue;
            }
            let d = geometry.distance_m(at);
            let closer = nearest.is_none_or(|(j, dj)| d < dj || (d == dj && i < j));
            if d <= radius_m && closer {
                nearest = Some((i, d));
            }
        }
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
            (None, None) => Location {
                status: LocationStatus::Outside,
                qpv: None,
                distance_m: None,
            },
        }
    }
}

/// Located initiatives, by point.
pub struct InitiativeIndex {
    tree: RTree<InitiativePoint>,
}

impl InitiativeIndex {
    pub fn new(initiatives: &[Initiative]) -> Self {
        let points = initiatives
            .iter()
            .enumerate()
            .filter_map(|(i, x)| x.position.map(|p| GeomWithData::new([p.x, p.y], i)))
            .collect();
        InitiativeIndex {
            tree: RTree::bulk_load(points),
        }
    }

    /// Initiatives inside `bbox` (lon/lat), by index, in no particular order.
    pub fn in_bbox(&self, bbox: Rect<f64>) -> impl Iterator<Item = usize> + '_ {
        let aabb = AABB::from_corners([bbox.min().x, bbox.min().y], [bbox.max().x, bbox.max().y]);
        self.tree.locate_in_envelope(&aabb).map(|p| p.data)
    }

    /// Initiatives within `radius_m` of an outline (0 inside), with their
    /// distances, in no particular order.
    pub fn within(
        &self,
        initiatives: &[Initiative],
        outline: &QpvGeometry,
        radius_m: f64,
    ) -> Vec<(usize, f64)> {
        let (dlon, dlat) = LocalFrame::degrees_for(outline.bbox, radius_m);
        let (min, max) = (outline.bbox.min(), outline.bbox.max());
        let search = AABB::from_corners([min.x - dlon, min.y - dlat], [max.x + dlon, max.y + dlat]);
        self.tree
            .locate_in_envelope(&search)
            .filter_map(|p| {
                let at = initiatives[p.data].position?;
                if outline.bbox_distance_m(at) > radius_m {
                    return None;
                }
                let d = if outline.covers(at) {
                    0.0
                } else {
                    outline.distance_m(at)
                };
                (d <= radius_m).then_some((p.data, d))
            })
            .collect()
    }
}
