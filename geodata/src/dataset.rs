//! The loaded, indexed data and the questions asked of it.

use std::collections::HashMap;
use std::fmt;
use std::path::Path;

use geo::{Coord, Rect};
use serde::Serialize;

use crate::category::Taxonomy;
use crate::index::{InitiativeIndex, QpvIndex};
use crate::load::load_all;
use crate::manifest::{DatasetKind, Manifest};
use crate::model::{Departement, Initiative, Location, LocationStatus, Qpv};
use crate::report::{DatasetReport, LoadError};
use crate::text::fold;

/// The radius within which an initiative counts as "near" a QPV, for the
/// location stored with each initiative and the counts per QPV: 500 m, the
/// usual proxy for the quartier vécu.
pub const NEAR_RADIUS_M: f64 = 500.0;

/// Initiatives inside a QPV and within [`NEAR_RADIUS_M`] of it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
pub struct QpvCounts {
    pub inside: usize,
    /// Inside, or outside within 500 m of the boundary.
    pub within_500m: usize,
}

/// The QPV have no outline, so distances to them are unknown.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("QPV {0} has no outline in the loaded data")]
pub struct NoOutline(pub String);

/// Filters for [`Dataset::initiatives_matching`].
#[derive(Debug, Default, Clone)]
pub struct InitiativeFilter {
    pub bbox: Option<Rect<f64>>,
    /// Any of these categories (empty: all).
    pub categories: Vec<String>,
    /// Words that must all appear in the name, brand or commune (folded).
    pub text: Option<String>,
    /// Initiatives located inside or near (≤ 500 m, as nearest) this QPV.
    pub qpv: Option<usize>,
    /// Only this dataset, or imported source (`siae`, `esat`, `api`).
    pub source: Option<String>,
}

/// Filters for [`Dataset::qpvs_matching`].
#[derive(Debug, Default, Clone)]
pub struct QpvFilter {
    pub departement: Option<String>,
    pub generation: Option<u16>,
    /// Words that must all appear in the code, name or communes (folded).
    pub text: Option<String>,
}

/// QPV, initiatives, départements and their indexes.
pub struct Dataset {
    pub manifest: Manifest,
    pub taxonomy: Taxonomy,
    qpvs: Vec<Qpv>,
    qpv_by_code: HashMap<String, usize>,
    qpv_search: Vec<String>,
    qpv_counts: Vec<Option<QpvCounts>>,
    qpv_index: QpvIndex,
    initiatives: Vec<Initiative>,
    initiative_by_id: HashMap<String, usize>,
    initiative_index: InitiativeIndex,
    departements: Vec<Departement>,
    reports: Vec<DatasetReport>,
}

impl Dataset {
    /// Loads, validates and indexes the datasets of `manifest` from `data_dir`,
    /// then places every initiative among the QPV.
    pub fn load(
        data_dir: &Path,
        manifest: Manifest,
        taxonomy: Taxonomy,
    ) -> Result<Self, LoadError> {
        let loaded = load_all(data_dir, &manifest, &taxonomy)?;
        Ok(Self::build(
            manifest,
            taxonomy,
            loaded.qpvs,
            loaded.initiatives,
            loaded.departements,
            loaded.reports,
        ))
    }

    fn build(
        manifest: Manifest,
        taxonomy: Taxonomy,
        qpvs: Vec<Qpv>,
        mut initiatives: Vec<Initiative>,
        departements: Vec<Departement>,
        reports: Vec<DatasetReport>,
    ) -> Self {
        let qpv_index = QpvIndex::new(&qpvs);
        for initiative in &mut initiatives {
            initiative.location = match initiative.position {
                None => Location::NOT_LOCATED,
                Some(_) if !initiative.precision.places_against_qpv() => Location::COMMUNE_ONLY,
                Some(at) => qpv_index.locate(&qpvs, at, NEAR_RADIUS_M, None),
            };
        }
        let initiative_index = InitiativeIndex::new(&initiatives, &taxonomy);
        let qpv_counts = qpvs
            .iter()
            .map(|q| {
                let outline = q.geometry.as_ref()?;
                let near = initiative_index.within(&initiatives, outline, NEAR_RADIUS_M);
                Some(QpvCounts {
                    inside: near.iter().filter(|(_, d)| *d == 0.0).count(),
                    within_500m: near.len(),
                })
            })
            .collect();
        let qpv_search = qpvs
            .iter()
            .map(|q| {
                let communes: Vec<&str> = q.communes.iter().map(|c| c.name.as_str()).collect();
                fold(&format!("{} {} {}", q.code, q.name, communes.join(" ")))
            })
            .collect();
        Dataset {
            manifest,
            taxonomy,
            qpv_by_code: qpvs
                .iter()
                .enumerate()
                .map(|(i, q)| (q.code.clone(), i))
                .collect(),
            initiative_by_id: initiatives
                .iter()
                .enumerate()
                .map(|(i, x)| (x.id.clone(), i))
                .collect(),
            qpvs,
            qpv_search,
            qpv_counts,
            qpv_index,
            initiatives,
            initiative_index,
            departements,
            reports,
        }
    }

    pub fn qpvs(&self) -> &[Qpv] {
        &self.qpvs
    }

    /// This data with edited and imported initiatives: each replaces the
    /// initiative of the same id or is added; ids in `removed` are left out.
    /// `report` says what the store held.
    pub fn merged(
        &self,
        edited: Vec<Initiative>,
        removed: &std::collections::HashSet<String>,
        report: DatasetReport,
    ) -> Dataset {
        let edited_ids: std::collections::HashSet<&str> =
            edited.iter().map(|x| x.id.as_str()).collect();
        let mut initiatives: Vec<Initiative> = self
            .initiatives
            .iter()
            .filter(|x| !removed.contains(&x.id) && !edited_ids.contains(x.id.as_str()))
            .cloned()
            .collect();
        initiatives.extend(edited.into_iter().filter(|x| !removed.contains(&x.id)));
        let mut reports = self.reports.clone();
        reports.retain(|r| r.id != report.id);
        reports.push(report);
        Self::build(
            self.manifest.clone(),
            self.taxonomy.clone(),
            self.qpvs.clone(),
            initiatives,
            self.departements.clone(),
            reports,
        )
    }

    /// The index of the QPV with this code.
    pub fn qpv_index_of(&self, code: &str) -> Option<usize> {
        self.qpv_by_code.get(code).copied()
    }

    /// Initiatives inside and within 500 m; `None` when the QPV has no outline.
    pub fn qpv_counts(&self, qpv: usize) -> Option<QpvCounts> {
        self.qpv_counts[qpv]
    }

    pub fn initiatives(&self) -> &[Initiative] {
        &self.initiatives
    }

    pub fn initiative(&self, id: &str) -> Option<&Initiative> {
        self.initiative_by_id.get(id).map(|&i| &self.initiatives[i])
    }

    pub fn departements(&self) -> &[Departement] {
        &self.departements
    }

    /// What loading each dataset found.
    pub fn reports(&self) -> &[DatasetReport] {
        &self.reports
    }

    /// Where a lon/lat point is among the QPV outlines (see [`QpvIndex::locate`]).
    pub fn locate(&self, at: Coord<f64>, radius_m: f64, generation: Option<u16>) -> Location {
        self.qpv_index.locate(&self.qpvs, at, radius_m, generation)
    }

    /// QPV with an outline whose bounding box meets `bbox`, in code order.
    pub fn qpvs_in(&self, bbox: Rect<f64>) -> impl Iterator<Item = (usize, &Qpv)> {
        let mut found: Vec<usize> = self.qpv_index.in_bbox(bbox).collect();
        found.sort_unstable_by(|&a, &b| self.qpvs[a].code.cmp(&self.qpvs[b].code));
        found.into_iter().map(|i| (i, &self.qpvs[i]))
    }

    /// Located initiatives inside `bbox`, in load order.
    pub fn initiatives_in(&self, bbox: Rect<f64>) -> impl Iterator<Item = &Initiative> {
        let mut found: Vec<usize> = self.initiative_index.in_bbox(bbox).collect();
        found.sort_unstable();
        found.into_iter().map(|i| &self.initiatives[i])
    }

    /// Positions of the located initiatives of one category or group.
    pub(crate) fn positions_of(&self, kind: &str) -> Option<&rstar::RTree<[f64; 2]>> {
        self.initiative_index.of_kind(kind)
    }

    /// Initiatives within `radius_m` of QPV `qpv` (0 inside), in no order.
    pub fn initiatives_near(
        &self,
        qpv: usize,
        radius_m: f64,
    ) -> Result<Vec<(&Initiative, f64)>, NoOutline> {
        let q = &self.qpvs[qpv];
        let outline = q
            .geometry
            .as_ref()
            .ok_or_else(|| NoOutline(q.code.clone()))?;
        Ok(self
            .initiative_index
            .within(&self.initiatives, outline, radius_m)
            .into_iter()
            .map(|(i, d)| (&self.initiatives[i], d))
            .collect())
    }

    /// Initiatives inside QPV `qpv` (distance 0) and within `radius_m` of its
    /// boundary, optionally of one category, nearest first (ties by name),
    /// at most `limit`.
    pub fn nearby(
        &self,
        qpv: usize,
        radius_m: f64,
        category: Option<&str>,
        limit: usize,
    ) -> Result<Vec<(&Initiative, f64)>, NoOutline> {
        let mut found: Vec<(&Initiative, f64)> = self
            .initiatives_near(qpv, radius_m)?
            .into_iter()
            .filter(|(x, _)| category.is_none_or(|c| x.category == c))
            .collect();
        found.sort_by(|a, b| a.1.total_cmp(&b.1).then_with(|| a.0.name.cmp(&b.0.name)));
        found.truncate(limit);
        Ok(found)
    }

    /// Initiatives matching every filter, in load order.
    pub fn initiatives_matching(&self, filter: &InitiativeFilter) -> Vec<&Initiative> {
        let words = search_words(filter.text.as_deref());
        let keep = |x: &Initiative| {
            (filter.categories.is_empty() || filter.categories.contains(&x.category))
                && words.iter().all(|w| x.search_text.contains(w.as_str()))
                && filter.source.as_ref().is_none_or(|s| &x.source == s)
                && filter.qpv.is_none_or(|q| {
                    x.location.qpv == Some(q) && x.location.status != LocationStatus::Outside
                })
        };
        match filter.bbox {
            Some(bbox) => {
                let mut hits: Vec<usize> = self.initiative_index.in_bbox(bbox).collect();
                hits.sort_unstable();
                hits.into_iter()
                    .map(|i| &self.initiatives[i])
                    .filter(|x| keep(x))
                    .collect()
            }
            None => self.initiatives.iter().filter(|x| keep(x)).collect(),
        }
    }

    /// QPV matching every filter, by code.
    pub fn qpvs_matching(&self, filter: &QpvFilter) -> Vec<usize> {
        let words = search_words(filter.text.as_deref());
        let mut out: Vec<usize> = (0..self.qpvs.len())
            .filter(|&i| {
                let q = &self.qpvs[i];
                filter
                    .departement
                    .as_ref()
                    .is_none_or(|d| &q.departement == d)
                    && filter.generation.is_none_or(|g| q.generation == g)
                    && words
                        .iter()
                        .all(|w| self.qpv_search[i].contains(w.as_str()))
            })
            .collect();
        out.sort_by(|&a, &b| self.qpvs[a].code.cmp(&self.qpvs[b].code));
        out
    }

    /// Which territories have QPV outlines, from which dataset, and how many.
    pub fn outline_coverage(&self) -> Vec<OutlineCoverage> {
        self.manifest
            .datasets
            .iter()
            .filter(|d| d.kind == DatasetKind::QpvPolygons)
            .map(|d| OutlineCoverage {
                dataset: d.id.clone(),
                territory: d.territory.clone(),
                generation: d.generation,
                qpv_with_outline: self
                    .qpvs
                    .iter()
                    .filter(|q| q.geometry.is_some() && q.sources.first() == Some(&d.id))
                    .count(),
            })
            .collect()
    }
}

/// The folded words of a search text (none for no text).
fn search_words(text: Option<&str>) -> Vec<String> {
    text.map(|t| {
        fold(t)
            .split(' ')
            .filter(|w| !w.is_empty())
            .map(str::to_string)
            .collect()
    })
    .unwrap_or_default()
}

/// A territory whose QPV have outlines.
#[derive(Debug, Clone, Serialize)]
pub struct OutlineCoverage {
    pub dataset: String,
    pub territory: String,
    pub generation: Option<u16>,
    pub qpv_with_outline: usize,
}

/// The start-up summary: what was loaded, skipped and why.
impl fmt::Display for Dataset {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        for report in &self.reports {
            writeln!(f, "{report}")?;
        }
        let with_outline = self.qpvs.iter().filter(|q| q.geometry.is_some()).count();
        writeln!(
            f,
            "QPV: {} known, {} with an outline, {} without",
            self.qpvs.len(),
            with_outline,
            self.qpvs.len() - with_outline
        )?;
        for c in self.outline_coverage() {
            writeln!(
                f,
                "  outlines for {}: {} QPV ({})",
                c.territory, c.qpv_with_outline, c.dataset
            )?;
        }
        let count = |s: LocationStatus| {
            self.initiatives
                .iter()
                .filter(|x| x.location.status == s)
                .count()
        };
        write!(
            f,
            "initiatives: {} loaded; {} inside a QPV, {} within {} m of one, {} farther, {} placed at their commune only, {} not located",
            self.initiatives.len(),
            count(LocationStatus::Inside),
            count(LocationStatus::Near),
            NEAR_RADIUS_M,
            count(LocationStatus::Outside),
            count(LocationStatus::CommuneOnly),
            count(LocationStatus::NotLocated)
        )
    }
}
