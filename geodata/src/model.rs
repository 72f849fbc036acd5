//! The validated model: QPV, ESS initiatives, départements.

use geo::{
    BoundingRect, Closest, ClosestPoint, Coord, Distance, Euclidean, Geodesic, Intersects, Line,
    MultiPolygon, Point, Rect,
};
use rstar::RTree;
use serde::Serialize;

use crate::geodesy::LocalFrame;

/// A commune a QPV lies in.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct CommuneRef {
    /// INSEE code (Paris, Lyon, Marseille: the whole commune's code), when the
    /// source gives it.
    pub insee: Option<String>,
    pub name: String,
}

/// Distances up to this are computed in the outline's local frame (within
/// 0.1 % of the geodesic); beyond, they are measured on the ellipsoid.
pub const LOCAL_FRAME_LIMIT_M: f64 = 5000.0;

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
    #[inline]
    pub fn covers(&self, at: Coord<f64>) -> bool {
        self.bbox.intersects(&at) && self.lonlat.intersects(&at)
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
    pub fn grown_by(&self, radius_m: f64) -> MultiPolygon<f64> {
        use geo::{Buffer, MapCoords};
        if radius_m <= 0.0 {
            return self.lonlat.clone();
        }
        self.metric
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
    pub geometry: Option<QpvGeometry>,
    /// Why there is no outline, or what was repaired in it.
    pub geometry_note: Option<String>,
    /// Ids of the datasets this record was built from.
    pub sources: Vec<String>,
}

impl Qpv {
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
}

/// A point's place among the QPV.
#[derive(Debug, Clone, Copy, PartialEq, Serialize)]
pub struct Location {
    pub status: LocationStatus,
    /// Index of the QPV (in [`crate::Dataset::qpvs`]) it is inside or nearest to.
    #[serde(skip)]
    pub qpv: Option<usize>,
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

/// How exact an initiative's position is: given by its source, or found by
/// a geocoder at the precision of a house number, a street, a locality, or
/// only the commune (its centre).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, serde::Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Precision {
    Source,
    Housenumber,
    Street,
    Locality,
    Municipality,
}

impl Precision {
    /// Precise enough to be placed against QPV outlines: a commune centre is not.
    pub fn places_against_qpv(self) -> bool {
        self != Precision::Municipality
    }

    /// From an addok `result_type` (`housenumber`, `street`, `locality`,
    /// `municipality`).
    pub fn from_addok(result_type: &str) -> Option<Self> {
        Some(match result_type {
            "housenumber" => Precision::Housenumber,
            "street" => Precision::Street,
            "locality" => Precision::Locality,
            "municipality" => Precision::Municipality,
            _ => return None,
        })
    }

    pub fn as_str(self) -> &'static str {
        match self {
            Precision::Source => "source",
            Precision::Housenumber => "housenumber",
            Precision::Street => "street",
            Precision::Locality => "locality",
            Precision::Municipality => "municipality",
        }
    }
}

/// An initiative as imported or edited, before it is indexed: what the
/// store keeps.
#[derive(Debug, Clone, Default, PartialEq, Serialize, serde::Deserialize)]
pub struct InitiativeRecord {
    pub id: String,
    pub name: String,
    /// A category id; empty: classified from the source kind and the name.
    #[serde(default)]
    pub category: String,
    pub source_kind: Option<String>,
    pub legal_form: Option<String>,
    pub siret: Option<String>,
    pub address: Option<String>,
    pub postcode: Option<String>,
    pub commune: Option<String>,
    pub insee_code: Option<String>,
    pub website: Option<String>,
    pub description: Option<String>,
    pub lon: Option<f64>,
    pub lat: Option<f64>,
    pub precision: Option<Precision>,
    pub source: String,
    pub source_date: Option<String>,
}

/// An ESS initiative, normalised from any source.
#[derive(Debug, Clone, Serialize)]
pub struct Initiative {
    /// Stable id, unique across sources (`lemarche-siae-12`).
    pub id: String,
    pub name: String,
    /// Category id from the taxonomy.
    pub category: String,
    /// The source's own kind (`ACI`, `EI`, …).
    pub source_kind: Option<String>,
    pub legal_form: Option<String>,
    pub siret: Option<String>,
    pub address: Option<String>,
    pub postcode: Option<String>,
    pub commune: Option<String>,
    pub insee_code: Option<String>,
    pub website: Option<String>,
    pub description: Option<String>,
    /// Longitude/latitude, WGS84.
    #[serde(skip)]
    pub position: Option<Coord<f64>>,
    /// How exact `position` is.
    pub precision: Precision,
    /// Dataset id.
    pub source: String,
    pub source_date: Option<String>,
    /// Place among the QPV, computed at load.
    #[serde(skip)]
    pub location: Location,
    /// Name and commune folded for search.
    #[serde(skip)]
    pub(crate) search_text: String,
}

impl Initiative {
    /// An indexed initiative from a record; the category is checked against
    /// the taxonomy, or found from the source kind and name when empty.
    pub fn from_record(r: InitiativeRecord, taxonomy: &crate::Taxonomy) -> Result<Self, String> {
        let category = if r.category.is_empty() {
            taxonomy
                .classify(r.source_kind.as_deref().unwrap_or(""), &r.name)
                .id
                .clone()
        } else if taxonomy.get(&r.category).is_some() {
            r.category
        } else {
            return Err(format!("unknown category `{}`", r.category));
        };
        let position = match (r.lon, r.lat) {
            (Some(x), Some(y)) => Some(Coord { x, y }),
            _ => None,
        };
        let search_text = crate::text::fold(&format!(
            "{} {}",
            r.name,
            r.commune.as_deref().unwrap_or_default()
        ));
        Ok(Initiative {
            id: r.id,
            name: r.name,
            category,
            source_kind: r.source_kind,
            legal_form: r.legal_form,
            siret: r.siret,
            address: r.address,
            postcode: r.postcode,
            commune: r.commune,
            insee_code: r.insee_code,
            website: r.website,
            description: r.description,
            position,
            precision: r.precision.unwrap_or(Precision::Source),
            source: r.source,
            source_date: r.source_date,
            location: Location::NOT_LOCATED,
            search_text,
        })
    }

    /// The record this initiative was made from (category filled in).
    pub fn to_record(&self) -> InitiativeRecord {
        InitiativeRecord {
            id: self.id.clone(),
            name: self.name.clone(),
            category: self.category.clone(),
            source_kind: self.source_kind.clone(),
            legal_form: self.legal_form.clone(),
            siret: self.siret.clone(),
            address: self.address.clone(),
            postcode: self.postcode.clone(),
            commune: self.commune.clone(),
            insee_code: self.insee_code.clone(),
            website: self.website.clone(),
            description: self.description.clone(),
            lon: self.position.map(|p| p.x),
            lat: self.position.map(|p| p.y),
            precision: Some(self.precision),
            source: self.source.clone(),
            source_date: self.source_date.clone(),
        }
    }
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
