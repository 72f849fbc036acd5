//! The territory: QPV with their outlines and indexes, départements and
//! commune centres. Loaded once, never changed, shared read-only by every
//! version of the initiatives (`Arc<Territory>`).

use std::collections::HashMap;

use geo::{Coord, Rect};
use serde::Serialize;

use crate::category::Taxonomy;
use crate::communes::{CommuneCentre, CommuneCentres};
use crate::index::QpvIndex;
use crate::initiative::Initiative;
use crate::manifest::{DatasetKind, Manifest};
use crate::model::{Departement, Location, LocationStatus, Qpv, QpvId};
use crate::report::DatasetReport;
use crate::text::fold;

pub use crate::conventions::NEAR_RADIUS_M;

/// Filters for [`Territory::qpvs_matching`].
#[derive(Debug, Default, Clone)]
pub struct QpvFilter {
    pub departement: Option<String>,
    /// A commune's key ([`crate::model::CommuneRef::key`]).
    pub commune: Option<String>,
    pub generation: Option<u16>,
    /// Words that must all appear in the code, name or communes (folded).
    pub text: Option<String>,
}

/// A territory whose QPV have outlines.
#[derive(Debug, Clone, Serialize)]
pub struct OutlineCoverage {
    pub dataset: String,
    pub territory: String,
    pub generation: Option<u16>,
    pub as_of: Option<String>,
    pub qpv_with_outline: usize,
}

/// An initiative placed on the territory, with the QPV within
/// [`NEAR_RADIUS_M`] of it (what it adds to their counts).
#[derive(Debug, Clone)]
pub struct Placed {
    pub initiative: std::sync::Arc<Initiative>,
    pub near: Vec<(QpvId, f64)>,
}

/// Where a point is among the QPV, and every QPV within
/// [`NEAR_RADIUS_M`] of it (for the counts per QPV).
#[derive(Debug, Clone, PartialEq)]
pub struct Placement {
    pub location: Location,
    pub near: Vec<(QpvId, f64)>,
}

pub struct Territory {
    pub manifest: Manifest,
    pub taxonomy: Taxonomy,
    qpvs: Vec<Qpv>,
    by_code: HashMap<String, QpvId>,
    /// Per QPV, the folded words a search matches (code, name, its
    /// communes' names, codes and postcodes): made on the first search, so
    /// that a start that never searches (`ess-map locate`) does not fold
    /// them, nor the communes' names a commune without code is found by.
    search: std::sync::OnceLock<Vec<String>>,
    index: QpvIndex,
    departements: Vec<Departement>,
    communes: CommuneCentres,
    /// What loading each dataset of the manifest found.
    reports: Vec<DatasetReport>,
    /// Each outline as drawn in tiles of zooms up to [`KEPT_ZOOMS`] - 1,
    /// made on first use and kept (low zooms draw hundreds of outlines per
    /// tile; simplified once, each costs a few points there).
    at_zoom: Vec<[std::sync::OnceLock<crate::webmercator::ZoomOutline>; KEPT_ZOOMS]>,
    /// Per QPV, a point inside its outline where its name goes (made on
    /// first use and kept).
    label_points: Vec<std::sync::OnceLock<Option<Coord<f64>>>>,
    /// Per commune (INSEE code of its centre), its QPV in force: the map
    /// names these communes first.
    qpv_per_commune: HashMap<String, u32>,
    /// Set once every outline has been made for tiles of zooms 0 to 10.
    tile_outlines_ready: std::sync::atomic::AtomicBool,
    /// The commune centres of the QPV in force whose outline is not loaded:
    /// near one, a point outside every outline may be in that QPV.
    unoutlined: Vec<([f64; 2], QpvId)>,
    /// By cell ([`UNOUTLINED_CELL_DEG`]), those of [`Self::unoutlined`]
    /// within reach of some point of the cell: a point's look is one lookup
    /// and a few distances (nearly everywhere, none).
    unoutlined_cells: std::collections::HashMap<(i32, i32), Box<[u32]>>,
}

/// Whether an answer may turn unknown: outside, asked among the generations
/// in force (those whose outlines may be missing here).
fn may_be_unverifiable(location: &Location, generation: Option<u16>) -> bool {
    location.status == LocationStatus::Outside
        && generation.is_none_or(crate::conventions::is_current)
}

/// « Non vérifiable », perhaps in QPV `id`.
fn unknown_in(id: QpvId) -> Location {
    Location {
        status: LocationStatus::Unknown,
        qpv: Some(id),
        distance_m: None,
    }
}

/// The side of the cells of [`Territory::unoutlined_cells`], in degrees.
const UNOUTLINED_CELL_DEG: f64 = 0.1;

fn unoutlined_cell(at: Coord<f64>) -> (i32, i32) {
    (
        (at.x / UNOUTLINED_CELL_DEG).floor() as i32,
        (at.y / UNOUTLINED_CELL_DEG).floor() as i32,
    )
}

/// The box around `at` holding every point within `reach_m` of it, in
/// degrees (a tenth wider: the longitude's scale changes across it).
fn reach_box(at: Coord<f64>, reach_m: f64) -> (f64, f64) {
    let dlat = reach_m / 111_000.0 * 1.1;
    let dlon = dlat / (at.y.abs() + dlat).min(89.0).to_radians().cos();
    (dlon, dlat)
}

/// A point's place among the QPV, and what makes it uncertain.
#[derive(Debug, Clone, PartialEq)]
pub struct Located {
    pub location: Location,
    /// For [`LocationStatus::Unknown`]: the QPV (in force, without a loaded
    /// outline) it may be in, nearest first, with the distance to their
    /// commune's centre.
    pub candidates: Vec<(QpvId, f64)>,
    /// A replaced (2015) outline holding the point, said for information.
    pub superseded: Option<QpvId>,
}

/// Zooms whose tile outlines are kept: 0 to 10.
const KEPT_ZOOMS: usize = 11;

impl Territory {
    /// A record placed on the territory: where it is among the QPV (a
    /// record placed only at its commune's centre is not placed against
    /// them) and the QPV within [`NEAR_RADIUS_M`] of it. The one placement
    /// of an initiative, whatever produced it.
    pub fn place_record(&self, record: crate::initiative::InitiativeRecord) -> Placed {
        let places = record.precision.is_none_or(|p| p.places_against_qpv());
        let placement = self.place(record.position(), places);
        Placed {
            initiative: std::sync::Arc::new(Initiative::new(record, placement.location)),
            near: placement.near,
        }
    }

    /// Adds the reports of datasets read after the territory (the open
    /// initiatives), kept in the manifest's order.
    pub fn add_reports(&mut self, reports: Vec<DatasetReport>) {
        self.reports.extend(reports);
        let datasets = &self.manifest.datasets;
        self.reports
            .sort_by_key(|r| datasets.iter().position(|d| d.id == r.id));
    }

    pub fn new(
        manifest: Manifest,
        taxonomy: Taxonomy,
        qpvs: Vec<Qpv>,
        departements: Vec<Departement>,
        communes: CommuneCentres,
        reports: Vec<DatasetReport>,
    ) -> Territory {
        let index = QpvIndex::new(&qpvs);
        let unoutlined: Vec<([f64; 2], QpvId)> = qpvs
            .iter()
            .enumerate()
            .filter(|(_, q)| q.geometry.is_none() && crate::conventions::is_current(q.generation))
            .flat_map(|(i, q)| {
                let communes = &communes;
                q.communes.iter().filter_map(move |c| {
                    let found = communes.find(c.insee.as_deref(), None, Some(&c.name))?;
                    Some(([found.centre.x, found.centre.y], QpvId(i as u32)))
                })
            })
            .collect();
        let mut cells: std::collections::HashMap<(i32, i32), Vec<u32>> =
            std::collections::HashMap::new();
        for (n, ([x, y], _)) in unoutlined.iter().enumerate() {
            let at = Coord { x: *x, y: *y };
            let (dlon, dlat) = reach_box(at, crate::conventions::UNVERIFIABLE_RADIUS_M);
            let (x0, y0) = unoutlined_cell(Coord {
                x: x - dlon,
                y: y - dlat,
            });
            let (x1, y1) = unoutlined_cell(Coord {
                x: x + dlon,
                y: y + dlat,
            });
            for cx in x0..=x1 {
                for cy in y0..=y1 {
                    cells.entry((cx, cy)).or_default().push(n as u32);
                }
            }
        }
        let unoutlined_cells = cells
            .into_iter()
            .map(|(cell, list)| (cell, list.into_boxed_slice()))
            .collect();
        let mut qpv_per_commune: HashMap<String, u32> = HashMap::new();
        for q in qpvs
            .iter()
            .filter(|q| crate::conventions::is_current(q.generation))
        {
            for c in &q.communes {
                if let Some(found) = communes.find(c.insee.as_deref(), None, Some(&c.name)) {
                    *qpv_per_commune.entry(found.insee.clone()).or_default() += 1;
                }
            }
        }
        Territory {
            at_zoom: qpvs.iter().map(|_| Default::default()).collect(),
            label_points: qpvs.iter().map(|_| Default::default()).collect(),
            qpv_per_commune,
            tile_outlines_ready: Default::default(),
            by_code: qpvs
                .iter()
                .enumerate()
                .map(|(i, q)| (q.code.clone(), QpvId(i as u32)))
                .collect(),
            manifest,
            taxonomy,
            qpvs,
            search: std::sync::OnceLock::new(),
            index,
            departements,
            communes,
            reports,
            unoutlined,
            unoutlined_cells,
        }
    }

    pub fn qpvs(&self) -> &[Qpv] {
        &self.qpvs
    }

    pub fn qpv(&self, id: QpvId) -> &Qpv {
        &self.qpvs[id.index()]
    }

    /// Every QPV id, in load order.
    pub fn qpv_ids(&self) -> impl Iterator<Item = QpvId> + use<> {
        (0..self.qpvs.len() as u32).map(QpvId)
    }

    pub fn qpv_by_code(&self, code: &str) -> Option<QpvId> {
        self.by_code.get(code).copied()
    }

    /// The outline of QPV `id` as tiles of zoom `z` draw it
    /// ([`crate::webmercator::at_zoom`]).
    pub fn outline_at_zoom(
        &self,
        id: QpvId,
        z: u8,
    ) -> std::borrow::Cow<'_, crate::webmercator::ZoomOutline> {
        let outline = &self
            .qpv(id)
            .geometry
            .as_ref()
            .expect("a QPV with an outline")
            .lonlat;
        match self.at_zoom[id.index()].get(usize::from(z)) {
            Some(kept) => std::borrow::Cow::Borrowed(
                kept.get_or_init(|| crate::webmercator::at_zoom(outline, z)),
            ),
            None => std::borrow::Cow::Owned(crate::webmercator::at_zoom(outline, z)),
        }
    }

    /// How many QPV in force lie (at least partly) in the commune of this
    /// INSEE code.
    pub fn qpv_in_commune(&self, insee: &str) -> u32 {
        self.qpv_per_commune.get(insee).copied().unwrap_or(0)
    }

    /// Where QPV `id`'s name goes: a point inside its outline (lon/lat);
    /// `None` without an outline.
    pub fn qpv_label_point(&self, id: QpvId) -> Option<Coord<f64>> {
        *self.label_points[id.index()].get_or_init(|| {
            use geo::InteriorPoint;
            let outline = &self.qpv(id).geometry.as_ref()?.lonlat;
            outline.interior_point().map(|p| p.0)
        })
    }

    /// Makes every outline as tiles of zooms 0 to 10 draw it, on every
    /// core; a server calls this in the background after start so that no
    /// tile request pays for it.
    pub fn prepare_tile_outlines(&self) {
        use rayon::prelude::*;
        self.qpv_ids()
            .collect::<Vec<_>>()
            .into_par_iter()
            .filter(|&id| self.qpv(id).geometry.is_some())
            .for_each(|id| {
                for z in 0..KEPT_ZOOMS as u8 {
                    let _ = self.outline_at_zoom(id, z);
                }
            });
        self.tile_outlines_ready
            .store(true, std::sync::atomic::Ordering::Release);
    }

    /// Whether [`Self::prepare_tile_outlines`] has finished.
    pub fn tile_outlines_ready(&self) -> bool {
        self.tile_outlines_ready
            .load(std::sync::atomic::Ordering::Acquire)
    }

    pub fn departements(&self) -> &[Departement] {
        &self.departements
    }

    /// The name of a département, when its outline is loaded.
    pub fn departement_name(&self, code: &str) -> Option<&str> {
        self.departements
            .iter()
            .find(|d| d.code == code)
            .map(|d| d.name.as_str())
    }

    pub fn communes(&self) -> &CommuneCentres {
        &self.communes
    }

    pub fn reports(&self) -> &[DatasetReport] {
        &self.reports
    }

    /// Where to show a QPV: the middle of its outline's box, else the centre
    /// of its first commune that has one (lon/lat).
    pub fn qpv_centre(&self, id: QpvId) -> Option<Coord<f64>> {
        let q = self.qpv(id);
        if let Some(g) = &q.geometry {
            return Some(g.bbox.center());
        }
        self.qpv_commune(id).map(|c| c.centre)
    }

    /// The commune whose centre stands for a QPV without outline: the first
    /// of its communes found.
    pub fn qpv_commune(&self, id: QpvId) -> Option<&CommuneCentre> {
        self.qpv(id)
            .communes
            .iter()
            .find_map(|c| self.communes.find(c.insee.as_deref(), None, Some(&c.name)))
    }

    /// The manifest's datasets whose file was found and read (an optional
    /// download not fetched, or a superseded dataset, is not among them).
    pub fn loaded_datasets(&self) -> impl Iterator<Item = &crate::manifest::DatasetEntry> {
        self.manifest
            .datasets
            .iter()
            .filter(|d| self.reports.iter().any(|r| r.id == d.id && r.read > 0))
    }

    /// Where a lon/lat point is among the QPV outlines (see [`QpvIndex::locate`]);
    /// `generation` `None`: the generations in force. Outside every outline
    /// but near a commune holding QPV in force whose outline is not loaded,
    /// it is [`LocationStatus::Unknown`], never outside.
    pub fn locate(&self, at: Coord<f64>, radius_m: f64, generation: Option<u16>) -> Location {
        let location = self.index.locate(&self.qpvs, at, radius_m, generation);
        if !may_be_unverifiable(&location, generation) {
            return location;
        }
        // The nearest only: no list to make, sort and give back.
        let mut nearest: Option<(QpvId, f64)> = None;
        self.for_each_unverifiable(at, generation, |id, d| {
            if nearest.is_none_or(|(j, dj)| d < dj || (d == dj && id < j)) {
                nearest = Some((id, d));
            }
        });
        nearest.map_or(location, |(id, _)| unknown_in(id))
    }

    /// An outside `location` is unknown where QPV in force without outline
    /// are within reach ([`Self::unverifiable_near`], also given back).
    fn unknown_if_unverifiable(
        &self,
        location: Location,
        at: Coord<f64>,
        generation: Option<u16>,
    ) -> (Location, Vec<(QpvId, f64)>) {
        if !may_be_unverifiable(&location, generation) {
            return (location, Vec::new());
        }
        let candidates = self.unverifiable_near(at, generation);
        let location = candidates
            .first()
            .map_or(location, |&(nearest, _)| unknown_in(nearest));
        (location, candidates)
    }

    /// [`Self::locate`], with the QPV an unknown answer may be in, nearest
    /// first (empty for any other answer): one look at the centres where
    /// `locate` and then [`Self::unverifiable_near`] would take two.
    pub fn locate_with_candidates(
        &self,
        at: Coord<f64>,
        radius_m: f64,
        generation: Option<u16>,
    ) -> (Location, Vec<(QpvId, f64)>) {
        let found = self.index.locate(&self.qpvs, at, radius_m, generation);
        self.unknown_if_unverifiable(found, at, generation)
    }

    /// [`Self::locate`], with the QPV an unknown answer may be in and a
    /// replaced (2015) outline holding the point.
    pub fn locate_explained(
        &self,
        at: Coord<f64>,
        radius_m: f64,
        generation: Option<u16>,
    ) -> Located {
        let found = self.index.locate(&self.qpvs, at, radius_m, generation);
        let (location, candidates) = self.unknown_if_unverifiable(found, at, generation);
        let superseded = if generation.is_none() && location.status != LocationStatus::Inside {
            let old = self.index.locate(&self.qpvs, at, 0.0, Some(2015));
            (old.status == LocationStatus::Inside)
                .then_some(old.qpv)
                .flatten()
        } else {
            None
        };
        Located {
            location,
            candidates,
            superseded,
        }
    }

    /// The QPV in force without a loaded outline (of `generation` when
    /// given) whose commune's centre is within
    /// [`crate::conventions::UNVERIFIABLE_RADIUS_M`] of `at`, nearest first.
    pub fn unverifiable_near(&self, at: Coord<f64>, generation: Option<u16>) -> Vec<(QpvId, f64)> {
        let mut found: Vec<(QpvId, f64)> = Vec::new();
        self.for_each_unverifiable(at, generation, |id, d| {
            match found.iter_mut().find(|(kept, _)| *kept == id) {
                Some(kept) => kept.1 = kept.1.min(d),
                None => found.push((id, d)),
            }
        });
        found.sort_by(|a, b| a.1.total_cmp(&b.1).then(a.0.cmp(&b.0)));
        found
    }

    /// Calls `visit` with each QPV in force without outline (of `generation`
    /// when given) and the distance from `at` to its commune's centre, for
    /// each of its communes within reach (a QPV of several communes may come
    /// more than once).
    fn for_each_unverifiable(
        &self,
        at: Coord<f64>,
        generation: Option<u16>,
        mut visit: impl FnMut(QpvId, f64),
    ) {
        use geo::{Distance, Haversine, Point};
        let reach = crate::conventions::UNVERIFIABLE_RADIUS_M;
        let Some(listed) = self.unoutlined_cells.get(&unoutlined_cell(at)) else {
            return;
        };
        // Centres plainly beyond reach are left by a flat-earth look (no
        // trigonometry; within 0.1 % at 20 km) before the exact distance.
        // geo's Haversine mean earth radius (6,371,008.8 m), per degree.
        let metres_per_degree = 6_371_008.8 * std::f64::consts::PI / 180.0;
        let x_scale = at.y.to_radians().cos();
        let beyond = (reach * 1.01 / metres_per_degree).powi(2);
        for &n in listed {
            let ([x, y], id) = self.unoutlined[n as usize];
            if generation.is_some_and(|g| g != self.qpvs[id.index()].generation) {
                continue;
            }
            // The cosine at `at` and at the centre differ by under 0.4 %
            // 20 km apart; the margin covers it.
            let (dx, dy) = ((x - at.x) * x_scale, y - at.y);
            if dx * dx + dy * dy > beyond {
                continue;
            }
            let d = Haversine.distance(Point::from(at), Point::new(x, y));
            if d <= reach {
                visit(id, d);
            }
        }
    }

    /// Where an initiative at `at` is (inside, or nearest within
    /// [`NEAR_RADIUS_M`], as [`Self::locate`] says) and every QPV within that
    /// radius; `None` position: not located; not `places_against_qpv`:
    /// placed at its commune only.
    pub fn place(&self, at: Option<Coord<f64>>, places_against_qpv: bool) -> Placement {
        let Some(at) = at else {
            return Placement {
                location: Location::NOT_LOCATED,
                near: Vec::new(),
            };
        };
        if !places_against_qpv {
            return Placement {
                location: Location::COMMUNE_ONLY,
                near: Vec::new(),
            };
        }
        let near = self.index.within(&self.qpvs, at, NEAR_RADIUS_M);
        // The same choice as `locate`: among the QPV in force, inside the
        // first loaded, else the nearest (ties: the first loaded). Every
        // QPV within the radius, replaced ones too, gets its counts.
        let in_force = |id: QpvId| crate::conventions::is_current(self.qpv(id).generation);
        let inside = near.iter().find(|(id, d)| *d == 0.0 && in_force(*id));
        let nearest = near
            .iter()
            .filter(|(id, _)| in_force(*id))
            .min_by(|a, b| a.1.total_cmp(&b.1).then(a.0.cmp(&b.0)));
        let location = match (inside, nearest) {
            (Some(&(id, _)), _) => Location {
                status: LocationStatus::Inside,
                qpv: Some(id),
                distance_m: Some(0.0),
            },
            (None, Some(&(id, d))) => Location {
                status: LocationStatus::Near,
                qpv: Some(id),
                distance_m: Some(d),
            },
            (None, None) => match self.unverifiable_near(at, None).first() {
                Some(&(id, _)) => Location {
                    status: LocationStatus::Unknown,
                    qpv: Some(id),
                    distance_m: None,
                },
                None => Location::OUTSIDE,
            },
        };
        Placement { location, near }
    }

    /// QPV with an outline whose bounding box meets `bbox`, in code order.
    pub fn qpvs_in(&self, bbox: Rect<f64>) -> Vec<QpvId> {
        let mut found: Vec<QpvId> = self.index.in_bbox(bbox).collect();
        found.sort_unstable_by(|&a, &b| self.qpv(a).code.cmp(&self.qpv(b).code));
        found
    }

    fn search_text(&self) -> &[String] {
        self.search.get_or_init(|| {
            self.qpvs
                .iter()
                .map(|q| {
                    let mut words: Vec<&str> = vec![&q.code, &q.name];
                    for c in &q.communes {
                        words.push(&c.name);
                        words.extend(c.insee.as_deref());
                        let found = self.communes.find(c.insee.as_deref(), None, Some(&c.name));
                        if let Some(found) = found {
                            words.extend(found.postcodes.iter().map(String::as_str));
                        }
                    }
                    fold(&words.join(" "))
                })
                .collect()
        })
    }

    /// QPV matching every filter, by code.
    pub fn qpvs_matching(&self, filter: &QpvFilter) -> Vec<QpvId> {
        let words = search_words(filter.text.as_deref());
        let mut out: Vec<QpvId> = self
            .qpv_ids()
            .filter(|&id| {
                let q = self.qpv(id);
                filter
                    .departement
                    .as_ref()
                    .is_none_or(|d| &q.departement == d)
                    && filter.commune.as_ref().is_none_or(|c| q.in_commune(c))
                    && crate::conventions::generation_matches(filter.generation, q.generation)
                    && words
                        .iter()
                        .all(|w| self.search_text()[id.index()].contains(w.as_str()))
            })
            .collect();
        out.sort_by(|&a, &b| self.qpv(a).code.cmp(&self.qpv(b).code));
        out
    }

    /// Which territories have QPV outlines, from which dataset, and how many
    /// (outline datasets not loaded are left out).
    pub fn outline_coverage(&self) -> Vec<OutlineCoverage> {
        self.manifest
            .datasets
            .iter()
            .filter(|d| d.kind == DatasetKind::QpvPolygons)
            .map(|d| OutlineCoverage {
                dataset: d.id.clone(),
                territory: d.territory.clone(),
                generation: d.generation,
                as_of: d.as_of.clone(),
                qpv_with_outline: self
                    .qpvs
                    .iter()
                    .filter(|q| q.geometry.is_some() && q.sources.first() == Some(&d.id))
                    .count(),
            })
            .filter(|c| c.qpv_with_outline > 0)
            .collect()
    }
}

/// The folded words of a search text (none for no text). Text that folds
/// to nothing (punctuation, emoji, bytes that are not text) is one word no
/// record holds: it matches nothing rather than everything.
pub fn search_words(text: Option<&str>) -> Vec<String> {
    let Some(text) = text else {
        return Vec::new();
    };
    let words: Vec<String> = fold(text)
        .split(' ')
        .filter(|w| !w.is_empty())
        .map(str::to_string)
        .collect();
    if words.is_empty() && !text.trim().is_empty() {
        return vec!["\u{0}".to_string()];
    }
    words
}
