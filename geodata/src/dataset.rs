//! The data being served: the territory (loaded once) and one version of
//! the initiatives placed against it, and the questions asked of them.

use std::fmt;
use std::path::Path;
use std::sync::Arc;

use geo::{Coord, Rect};
use rayon::prelude::*;

use crate::category::Taxonomy;
use crate::initiative::{Initiative, InitiativeRecord};
use crate::initiatives::{Change, Initiatives, QpvCounts, Touched, commune_key};
use crate::manifest::Manifest;
use crate::model::{Departement, Location, LocationStatus, Qpv, QpvId};
use crate::report::{DatasetReport, LoadError};
use crate::territory::{
    NEAR_RADIUS_M, OutlineCoverage, Placed, QpvFilter, Territory, search_words,
};

/// The QPV has no outline, so distances to it are unknown.
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
    pub qpv: Option<QpvId>,
    /// Only this dataset, or imported source (`siae`, `esat`, `api`).
    pub source: Option<String>,
}

/// A change to an initiative, as the store records it.
#[derive(Debug, Clone)]
#[allow(clippy::large_enum_variant)] // Changes are few and short-lived.
pub enum RecordChange {
    /// A checked record ([`crate::validate::check`]) to add or to replace the
    /// one with its id.
    Put(InitiativeRecord),
    Remove(String),
}

/// The territory and one version of the initiatives. Cloning is cheap.
#[derive(Clone)]
pub struct Dataset {
    territory: Arc<Territory>,
    initiatives: Initiatives,
}

impl Dataset {
    /// Loads, checks and indexes the datasets of `manifest` from `data_dir`,
    /// then places every initiative among the QPV.
    pub fn load(
        data_dir: &Path,
        manifest: Manifest,
        taxonomy: Taxonomy,
    ) -> Result<Self, LoadError> {
        let (territory, placed) =
            crate::load::territory_and_initiatives(&data_dir.into(), manifest, taxonomy)?;
        Ok(Dataset::from_placed(Arc::new(territory), placed))
    }

    /// The territory with these initiatives (checked records).
    pub fn new(territory: Arc<Territory>, records: Vec<InitiativeRecord>) -> Self {
        let placed = records
            .into_par_iter()
            .map(|r| territory.place_record(r))
            .collect();
        Dataset::from_placed(territory, placed)
    }

    /// The territory with these initiatives, placed on it.
    pub fn from_placed(territory: Arc<Territory>, placed: Vec<Placed>) -> Self {
        let initiatives = Initiatives::build(&territory, placed);
        Dataset {
            territory,
            initiatives,
        }
    }

    /// The next version: `changes` applied in order, in time proportional
    /// to them (see [`Initiatives::apply`]); `self` is left as it was.
    pub fn apply(&self, changes: Vec<RecordChange>) -> (Dataset, Touched) {
        let changes = changes
            .into_par_iter()
            .map(|c| match c {
                RecordChange::Put(r) => Change::Put(self.territory.place_record(r)),
                RecordChange::Remove(id) => Change::Remove(id.into_boxed_str()),
            })
            .collect();
        let (initiatives, touched) = self.initiatives.apply(&self.territory, changes);
        (
            Dataset {
                territory: self.territory.clone(),
                initiatives,
            },
            touched,
        )
    }

    /// The same data, the changes since the last compaction folded in
    /// (done by [`Self::apply`] when they pile up).
    pub fn compacted(&self) -> Dataset {
        Dataset {
            territory: self.territory.clone(),
            initiatives: self.initiatives.compacted(&self.territory.taxonomy),
        }
    }

    pub fn territory(&self) -> &Arc<Territory> {
        &self.territory
    }

    pub fn initiatives(&self) -> &Initiatives {
        &self.initiatives
    }

    pub fn taxonomy(&self) -> &Taxonomy {
        &self.territory.taxonomy
    }

    pub fn manifest(&self) -> &Manifest {
        &self.territory.manifest
    }

    pub fn qpvs(&self) -> &[Qpv] {
        self.territory.qpvs()
    }

    pub fn qpv(&self, id: QpvId) -> &Qpv {
        self.territory.qpv(id)
    }

    pub fn qpv_by_code(&self, code: &str) -> Option<QpvId> {
        self.territory.qpv_by_code(code)
    }

    pub fn departements(&self) -> &[Departement] {
        self.territory.departements()
    }

    /// What loading each dataset of the manifest found.
    pub fn reports(&self) -> &[DatasetReport] {
        self.territory.reports()
    }

    pub fn locate(&self, at: Coord<f64>, radius_m: f64, generation: Option<u16>) -> Location {
        self.territory.locate(at, radius_m, generation)
    }

    pub fn qpvs_matching(&self, filter: &QpvFilter) -> Vec<QpvId> {
        self.territory.qpvs_matching(filter)
    }

    pub fn qpvs_in(&self, bbox: Rect<f64>) -> Vec<QpvId> {
        self.territory.qpvs_in(bbox)
    }

    pub fn outline_coverage(&self) -> Vec<OutlineCoverage> {
        self.territory.outline_coverage()
    }

    /// Initiatives inside and within 500 m; `None` when the QPV has no outline.
    pub fn qpv_counts(&self, id: QpvId) -> Option<QpvCounts> {
        self.qpv(id)
            .geometry
            .as_ref()
            .map(|_| self.initiatives.counts(id))
    }

    pub fn initiative(&self, id: &str) -> Option<&Arc<Initiative>> {
        self.initiatives.get(id)
    }

    /// Located initiatives inside `bbox`, by id.
    pub fn initiatives_in(&self, bbox: Rect<f64>) -> Vec<&Arc<Initiative>> {
        self.initiatives.in_bbox(bbox)
    }

    /// The initiatives of a QPV's communes, by id: what is known of a QPV
    /// without outline (the gap analysis counts these; where in the commune
    /// they stand against the quartier is unknown). Matched by INSEE code,
    /// else by name ([`commune_key`]).
    pub fn in_qpv_communes(&self, qpv: &Qpv) -> Vec<&Arc<Initiative>> {
        let keys: Vec<&'static str> = qpv
            .communes
            .iter()
            .flat_map(|c| {
                [
                    c.insee.as_deref().and_then(|k| commune_key(Some(k), None)),
                    commune_key(None, Some(&c.name)).filter(|_| !c.name.is_empty()),
                ]
            })
            .flatten()
            .collect();
        self.initiatives().in_communes(&keys)
    }

    /// Initiatives within `radius_m` of QPV `id` (0 inside), by id.
    pub fn initiatives_near(
        &self,
        id: QpvId,
        radius_m: f64,
    ) -> Result<Vec<(&Arc<Initiative>, f64)>, NoOutline> {
        let q = self.qpv(id);
        let outline = q
            .geometry
            .as_ref()
            .ok_or_else(|| NoOutline(q.code.clone()))?;
        // Within 500 m, what placing each initiative measured; beyond, measured now.
        if radius_m <= NEAR_RADIUS_M {
            return Ok(self.initiatives.near(id, radius_m));
        }
        Ok(self.initiatives.within(outline, radius_m))
    }

    /// Initiatives inside QPV `id` (distance 0) and within `radius_m` of its
    /// boundary, optionally of one category, nearest first (ties by name,
    /// then id), at most `limit`.
    pub fn nearby(
        &self,
        id: QpvId,
        radius_m: f64,
        category: Option<&str>,
        limit: usize,
    ) -> Result<Vec<(&Arc<Initiative>, f64)>, NoOutline> {
        let mut found: Vec<(&Arc<Initiative>, f64)> = self
            .initiatives_near(id, radius_m)?
            .into_iter()
            .filter(|(x, _)| category.is_none_or(|c| x.category == c))
            .collect();
        found.sort_by(|a, b| {
            a.1.total_cmp(&b.1)
                .then_with(|| a.0.name.cmp(&b.0.name))
                .then_with(|| a.0.id.cmp(&b.0.id))
        });
        found.truncate(limit);
        Ok(found)
    }

    /// Initiatives matching every filter, by id.
    pub fn initiatives_matching(&self, filter: &InitiativeFilter) -> Vec<&Arc<Initiative>> {
        let words = search_words(filter.text.as_deref());
        let keep = |x: &Initiative| {
            (filter.categories.is_empty() || filter.categories.iter().any(|c| c == x.category))
                && x.matches_words(&words)
                && filter.source.as_deref().is_none_or(|s| x.source == s)
                && filter.qpv.is_none_or(|q| {
                    x.location.qpv == Some(q) && x.location.status != LocationStatus::Outside
                })
        };
        match filter.bbox {
            Some(bbox) => self
                .initiatives
                .in_bbox(bbox)
                .into_iter()
                .filter(|x| keep(x))
                .collect(),
            None => self.initiatives.iter().filter(|x| keep(x)).collect(),
        }
    }
}

/// The start-up summary: what was loaded, skipped and why.
impl fmt::Display for Dataset {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        for report in self.reports() {
            writeln!(f, "{report}")?;
        }
        let qpvs = self.qpvs();
        let with_outline = qpvs.iter().filter(|q| q.geometry.is_some()).count();
        writeln!(
            f,
            "QPV: {} known, {} with an outline, {} without",
            qpvs.len(),
            with_outline,
            qpvs.len() - with_outline
        )?;
        for c in self.outline_coverage() {
            writeln!(
                f,
                "  outlines for {}: {} QPV ({})",
                c.territory, c.qpv_with_outline, c.dataset
            )?;
        }
        let totals = self.initiatives.totals();
        write!(
            f,
            "initiatives: {} loaded; {} inside a QPV, {} within {} m of one, {} farther, {} placed at their commune only, {} not located",
            totals.all,
            totals.status(LocationStatus::Inside),
            totals.status(LocationStatus::Near),
            NEAR_RADIUS_M,
            totals.status(LocationStatus::Outside),
            totals.status(LocationStatus::CommuneOnly),
            totals.status(LocationStatus::NotLocated)
        )
    }
}
