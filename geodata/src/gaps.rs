//! Spatial gap analysis: for every QPV, which kinds of ESS initiative are
//! missing within a radius, how far the nearest one is, and how many people
//! live there.
//!
//! Ranking: QPV with a gap come first, by **priority = distance to the
//! nearest initiative of the chosen categories (km, at most 5) × population
//! in tens of thousands (1 when unknown)**: a large neighbourhood far from
//! everything comes first.

use std::collections::{BTreeMap, HashMap};

use geo::Coord;
use rayon::prelude::*;
use serde::Serialize;

use crate::conventions::per_10k;
use crate::dataset::Dataset;
use crate::initiative::Initiative;
use crate::intern::Sym;
use crate::model::{Qpv, QpvId};
use crate::table::{Column, Kind, Table, Term, Value};
use crate::territory::{QpvFilter, Territory};

pub use crate::conventions::{DEFAULT_RADIUS_M, MAX_RADIUS_M, RINGS_M};
/// Distances beyond this count as this in the priority score.
const PRIORITY_DISTANCE_CAP_KM: f64 = 5.0;

/// How a QPV was analysed.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Basis {
    /// Against its outline, in metres.
    Outline,
    /// No outline is loaded: initiatives located in its communes are counted,
    /// and there are no distances.
    Communes,
}

/// One category's figures for one QPV.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct CategoryFigures {
    pub category: String,
    pub inside: usize,
    /// Inside, or within the radius of the boundary.
    pub within: usize,
    /// Metres from the boundary to the nearest initiative of this category
    /// (0 inside); `None` without outline or without any such initiative.
    pub nearest_m: Option<f64>,
    /// None of this category within the radius.
    pub gap: bool,
}

/// One QPV's row of the analysis.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct QpvGap {
    #[serde(skip)]
    pub qpv: QpvId,
    pub basis: Basis,
    /// Initiatives of the chosen categories inside (for [`Basis::Communes`]:
    /// located in its communes).
    pub inside: usize,
    pub within: usize,
    pub nearest_m: Option<f64>,
    /// Initiatives within the radius per 10,000 inhabitants.
    pub per_10k: Option<f64>,
    pub gap: bool,
    pub priority: f64,
    pub categories: Vec<CategoryFigures>,
}

/// Filters and parameters of an analysis, checked ([`GapQuery::checked`]).
#[derive(Debug, Clone, PartialEq)]
pub struct GapQuery {
    pub radius_m: f64,
    /// Categories or groups analysed, sorted (empty: every category).
    pub categories: Vec<String>,
    pub departement: Option<String>,
    /// A commune's key: its INSEE code (Paris, Lyon, Marseille: the whole
    /// commune's), as [`summarise`] gives it.
    pub commune: Option<String>,
    pub generation: Option<u16>,
}

impl Default for GapQuery {
    fn default() -> Self {
        GapQuery {
            radius_m: DEFAULT_RADIUS_M,
            categories: Vec::new(),
            departement: None,
            commune: None,
            generation: None,
        }
    }
}

/// A parameter of an analysis that cannot be: which one, and why.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{parameter}: {message}")]
pub struct BadGapParameter {
    pub parameter: &'static str,
    pub message: String,
}

impl GapQuery {
    /// The one check of an analysis's parameters, for the API and the CLI:
    /// radius in `[0, MAX_RADIUS_M]`, known categories or groups, a
    /// département and a commune that have QPV, generation 2015, 2024 or
    /// 2025. Categories come out sorted and without repeats, so equal
    /// queries compare equal.
    pub fn checked(self, territory: &Territory) -> Result<GapQuery, BadGapParameter> {
        let bad = |parameter, message: String| BadGapParameter { parameter, message };
        let GapQuery {
            radius_m,
            categories,
            departement,
            commune,
            generation,
        } = self;
        // NaN is in no range.
        if !(0.0..=MAX_RADIUS_M).contains(&radius_m) {
            return Err(bad(
                "radius_m",
                format!("{radius_m} is outside [0, {MAX_RADIUS_M}]"),
            ));
        }
        let mut categories: Vec<String> = categories
            .into_iter()
            .map(|c| c.trim().to_string())
            .filter(|c| !c.is_empty())
            .collect();
        categories.sort();
        categories.dedup();
        if let Some(unknown) = categories.iter().find(|c| !territory.taxonomy.is_kind(c)) {
            return Err(bad(
                "category",
                format!("unknown category `{unknown}`; see /api/categories"),
            ));
        }
        let departement = departement.map(|d| d.trim().to_uppercase());
        if let Some(d) = &departement
            && !territory.qpvs().iter().any(|q| &q.departement == d)
        {
            return Err(bad("departement", format!("no QPV in département `{d}`")));
        }
        let commune = commune.map(|c| c.trim().to_string());
        if let Some(c) = &commune
            && !territory.qpvs().iter().any(|q| q.in_commune(c))
        {
            return Err(bad(
                "commune",
                format!("no QPV in commune `{c}` (an INSEE code, e.g. 93066)"),
            ));
        }
        if let Some(g) = generation
            && !crate::conventions::is_generation(g)
        {
            return Err(bad(
                "generation",
                format!(
                    "{g} is not one of {}",
                    crate::conventions::generations_text()
                ),
            ));
        }
        Ok(GapQuery {
            radius_m,
            categories,
            departement,
            commune,
            generation,
        })
    }

    /// The categories analysed: those asked, or every category.
    pub fn kinds(&self, territory: &Territory) -> Vec<String> {
        if self.categories.is_empty() {
            territory
                .taxonomy
                .all()
                .iter()
                .map(|c| c.id.clone())
                .collect()
        } else {
            self.categories.clone()
        }
    }
}

/// Runs the analysis over every QPV the query selects, gaps first by
/// priority, then by code order of load.
pub fn analyse(data: &Dataset, query: &GapQuery) -> Vec<QpvGap> {
    let territory = data.territory();
    let kinds = query.kinds(territory);
    let delta_points = data.initiatives().placed_in_delta(data.taxonomy());
    let mut rows: Vec<QpvGap> = territory
        .qpvs_matching(&QpvFilter {
            departement: query.departement.clone(),
            commune: query.commune.clone(),
            generation: query.generation,
            text: None,
        })
        // QPV are independent: one per thread.
        .into_par_iter()
        .map(|id| {
            let qpv = territory.qpv(id);
            let figures = match &qpv.geometry {
                Some(_) => outline_figures(data, id, query.radius_m, &kinds, &delta_points),
                None => commune_figures(data, qpv, &kinds),
            };
            let (inside, within) = (figures.inside, figures.within);
            let nearest_m = figures
                .kinds
                .iter()
                .filter_map(|c| c.nearest_m)
                .reduce(f64::min);
            let per_10k = per_10k(within as u64, qpv.population.map(u64::from));
            let gap = within == 0;
            let distance_km = nearest_m.map_or(PRIORITY_DISTANCE_CAP_KM, |d| {
                (d / 1000.0).min(PRIORITY_DISTANCE_CAP_KM)
            });
            let people = qpv.population.map_or(1.0, |p| f64::from(p) / 10_000.0);
            QpvGap {
                qpv: id,
                basis: if qpv.geometry.is_some() {
                    Basis::Outline
                } else {
                    Basis::Communes
                },
                inside,
                within,
                nearest_m,
                per_10k,
                gap,
                priority: if gap {
                    (distance_km * people * 1000.0).round() / 1000.0
                } else {
                    0.0
                },
                categories: figures.kinds,
            }
        })
        .collect();
    // Two rankings, never mixed: QPV measured against their outline, then
    // those counted by commune (no distance to rank them by).
    rows.sort_by(|a, b| {
        (a.basis == Basis::Communes)
            .cmp(&(b.basis == Basis::Communes))
            .then(b.priority.total_cmp(&a.priority))
            .then(a.qpv.cmp(&b.qpv))
    });
    rows
}

/// Initiatives of the chosen kinds inside and within the radius, each counted
/// once whatever the number of kinds it is of, and each kind's figures.
struct KindFigures {
    inside: usize,
    within: usize,
    kinds: Vec<CategoryFigures>,
}

impl KindFigures {
    fn new(kinds: &[String]) -> Self {
        KindFigures {
            inside: 0,
            within: 0,
            kinds: kinds
                .iter()
                .map(|c| CategoryFigures {
                    category: c.clone(),
                    inside: 0,
                    within: 0,
                    nearest_m: None,
                    gap: true,
                })
                .collect(),
        }
    }

    /// Counts one initiative for every chosen kind it is of: at
    /// `distance_m` from the outline (0 inside, and the nearest so far is
    /// kept), or, `None`, located in the QPV's commune (no distance).
    fn count(&mut self, data: &Dataset, x: &Initiative, distance_m: Option<f64>) {
        let inside = usize::from(distance_m.is_none_or(|d| d == 0.0));
        let mut counted = false;
        for kind in data
            .taxonomy()
            .kinds_of(x.category.as_str(), x.source_kind.map(Sym::as_str))
        {
            if let Some(f) = self.kinds.iter_mut().find(|f| f.category == kind) {
                f.within += 1;
                f.inside += inside;
                if let Some(d) = distance_m {
                    f.nearest_m = Some(f.nearest_m.map_or(d, |n| n.min(d)));
                }
                counted = true;
            }
        }
        if counted {
            self.within += 1;
            self.inside += inside;
        }
    }
}

/// Counts within the radius and unbounded nearest distances, per kind.
fn outline_figures(
    data: &Dataset,
    id: QpvId,
    radius_m: f64,
    kinds: &[String],
    delta_points: &HashMap<String, Vec<Coord<f64>>>,
) -> KindFigures {
    let outline = data.qpv(id).geometry.as_ref().expect("outline checked");
    let mut figures = KindFigures::new(kinds);
    for (x, d) in data
        .initiatives_near(id, radius_m)
        .expect("outline checked")
    {
        figures.count(data, x, Some(d));
    }
    for f in &mut figures.kinds {
        f.gap = f.within == 0;
        if f.gap {
            // Nothing within the radius: the nearest, however far.
            let extra = delta_points.get(&f.category).map_or(&[][..], Vec::as_slice);
            f.nearest_m = data
                .initiatives()
                .nearest_of_kind(&f.category, outline, extra);
        }
        f.nearest_m = f.nearest_m.map(|d| (d * 10.0).round() / 10.0);
    }
    figures
}

/// For a QPV without outline: the initiatives of its communes
/// ([`Dataset::in_qpv_communes`]).
fn commune_figures(data: &Dataset, qpv: &Qpv, kinds: &[String]) -> KindFigures {
    let mut figures = KindFigures::new(kinds);
    for x in data.in_qpv_communes(qpv) {
        figures.count(data, x, None);
    }
    for f in &mut figures.kinds {
        f.gap = f.within == 0;
    }
    figures
}

/// Aggregates of an analysis by département or by commune.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct GapSummary {
    pub key: String,
    pub name: String,
    /// For a commune, its département (that of its QPV).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub departement: Option<String>,
    pub qpv: usize,
    pub covered: usize,
    /// Covered QPV / QPV, rounded to 0.1 %.
    pub covered_share: f64,
    /// Population of the uncovered QPV whose population is known; `None`
    /// when none of them has a published population (never 0 for unknown).
    pub population_uncovered: Option<u64>,
    /// Uncovered QPV whose population is unknown.
    pub uncovered_without_population: usize,
}

/// Sums rows by département (`by_commune` false) or by commune (a QPV
/// spanning several communes counts in each).
pub fn summarise(data: &Dataset, rows: &[QpvGap], by_commune: bool) -> Vec<GapSummary> {
    let mut groups: BTreeMap<String, GapSummary> = BTreeMap::new();
    for row in rows {
        let qpv = data.qpv(row.qpv);
        let keys: Vec<(String, String)> = if by_commune {
            qpv.communes
                .iter()
                .map(|c| (c.key(), c.name.clone()))
                .collect()
        } else {
            let name = data
                .territory()
                .departement_name(&qpv.departement)
                .unwrap_or_default()
                .to_string();
            vec![(qpv.departement.clone(), name)]
        };
        for (key, name) in keys {
            let g = groups.entry(key.clone()).or_insert_with(|| GapSummary {
                key,
                name,
                departement: by_commune.then(|| qpv.departement.clone()),
                qpv: 0,
                covered: 0,
                covered_share: 0.0,
                population_uncovered: None,
                uncovered_without_population: 0,
            });
            g.qpv += 1;
            if row.gap {
                match qpv.population {
                    Some(p) => {
                        *g.population_uncovered.get_or_insert(0) += u64::from(p);
                    }
                    None => g.uncovered_without_population += 1,
                }
            } else {
                g.covered += 1;
            }
        }
    }
    groups
        .into_values()
        .map(|mut g| {
            g.covered_share = (g.covered as f64 / g.qpv as f64 * 1000.0).round() / 10.0;
            g
        })
        .collect()
}

/// The columns of the table for these categories, in order: the QPV, its
/// totals for the chosen categories, then `<category>_inside`, `_within`,
/// `_nearest_m`, `_gap` for each category.
pub fn columns(kinds: &[String]) -> Vec<Column> {
    use Kind::{Flag, Integer, Number, Text};
    let mut out: Vec<Column> = [
        ("code", "code_qp", Text),
        ("name", "nom", Text),
        ("communes", "communes", Text),
        ("departement", "departement", Text),
        ("generation", "generation", Integer),
        ("population", "population", Integer),
        ("basis", "methode", Text),
        ("inside", "dans_le_quartier", Integer),
        ("within", "dans_le_rayon", Integer),
        ("nearest_m", "plus_proche_m", Number),
        ("per_10k", "pour_10000_hab", Number),
        ("gap", "manque", Flag),
        ("priority", "priorite", Number),
    ]
    .into_iter()
    .map(|(script, french, kind)| Column::typed(script, french, kind))
    .collect();
    for k in kinds {
        for (suffix, french, kind) in [
            ("inside", "dans_le_quartier", Integer),
            ("within", "dans_le_rayon", Integer),
            ("nearest_m", "plus_proche_m", Number),
            ("gap", "manque", Flag),
        ] {
            out.push(Column::typed(
                format!("{k}_{suffix}"),
                format!("{k}_{french}"),
                kind,
            ));
        }
    }
    out
}

/// How a QPV was analysed, as written.
fn basis_term(basis: Basis) -> Term {
    match basis {
        Basis::Outline => Term {
            script: "outline",
            french: "contour",
        },
        Basis::Communes => Term {
            script: "communes",
            french: "communes",
        },
    }
}

/// One row's cells, in the order of [`columns`]: the one shape of a gap
/// row, for JSON, CSV, GeoJSON and GeoPackage alike.
pub fn cells(data: &Dataset, row: &QpvGap) -> Vec<Value> {
    let qpv = data.qpv(row.qpv);
    let communes: Vec<&str> = qpv.communes.iter().map(|c| c.name.as_str()).collect();
    let mut out = vec![
        Value::from(qpv.code.as_str()),
        Value::from(qpv.name.as_str()),
        Value::Text(communes.join(", ")),
        Value::from(qpv.departement.as_str()),
        Value::from(qpv.generation),
        Value::of(qpv.population),
        Value::Term(basis_term(row.basis)),
        Value::from(row.inside),
        Value::from(row.within),
        Value::of(row.nearest_m),
        Value::of(row.per_10k),
        Value::from(row.gap),
        Value::from(row.priority),
    ];
    for c in &row.categories {
        out.extend([
            Value::from(c.inside),
            Value::from(c.within),
            Value::of(c.nearest_m),
            Value::from(c.gap),
        ]);
    }
    out
}

/// The analysis as a table: what was asked and the date of each dataset
/// (so that a spreadsheet read alone still says how old its data is), the
/// columns, a row per QPV.
pub fn table(data: &Dataset, query: &GapQuery, rows: &[QpvGap]) -> Table {
    let kinds = query.kinds(data.territory());
    let dates: Vec<String> = data_dates(data.territory())
        .iter()
        .map(DataDate::to_string)
        .collect();
    Table {
        about: vec![
            format!(
                "ess-map : analyse des manques à {} m · catégories : {}",
                query.radius_m,
                kinds.join(" · ")
            ),
            format!("Données : {}", dates.join(" · ")),
        ],
        columns: columns(&kinds),
        rows: rows.iter().map(|r| cells(data, r)).collect(),
    }
}

/// A file name that records the analysis: `manques-500m-siae-93.csv`.
pub fn file_name(query: &GapQuery, extension: &str) -> String {
    file_name_measured(&format!("{}m", query.radius_m), query, extension)
}

/// The same with the measure named by the caller (`500m`, `a-pied-15min`).
pub fn file_name_measured(measure: &str, query: &GapQuery, extension: &str) -> String {
    let mut name = format!("manques-{measure}");
    name.push('-');
    name.push_str(&if query.categories.is_empty() {
        "toutes-categories".to_string()
    } else {
        query.categories.join("+")
    });
    if let Some(d) = &query.departement {
        name.push('-');
        name.push_str(d);
    }
    if let Some(c) = &query.commune {
        name.push('-');
        name.push_str(c);
    }
    if let Some(g) = query.generation {
        name.push_str(&format!("-qpv{g}"));
    }
    let safe: String = name
        .chars()
        .map(|c| {
            if c.is_ascii_alphanumeric() || "-+_".contains(c) {
                c
            } else {
                '_'
            }
        })
        .collect();
    format!("{safe}.{extension}")
}

/// One sentence that explains the ranking, shown with every table.
pub const RANKING: &str = "Les quartiers sans initiative dans le rayon viennent en premier, classés par distance à l'initiative la plus proche (en km, plafonnée à 5) multipliée par la population en dizaines de milliers d'habitants (1 si inconnue). Les quartiers sans contour chargé, comptés par commune, sont classés à part, après les autres.";

/// The date of a dataset an analysis is made from.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct DataDate {
    pub dataset: String,
    pub title: String,
    pub as_of: Option<String>,
}

impl std::fmt::Display for DataDate {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(
            f,
            "{} ({})",
            self.title,
            self.as_of.as_deref().unwrap_or("date inconnue")
        )
    }
}

/// The dates of the data an analysis is made from: the initiative
/// datasets, the outlines and the population, each with its `as_of`
/// (superseded datasets are not loaded, so not listed).
pub fn data_dates(territory: &Territory) -> Vec<DataDate> {
    use crate::manifest::DatasetKind;
    territory
        .loaded_datasets()
        .filter(|d| {
            matches!(
                d.kind,
                DatasetKind::Initiatives | DatasetKind::QpvPolygons | DatasetKind::QpvPopulation
            )
        })
        .map(|d| DataDate {
            dataset: d.id.clone(),
            title: d.title.clone(),
            as_of: d.as_of.clone(),
        })
        .collect()
}

/// Orders of the gap table.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum GapSort {
    /// Gaps first, highest priority first (the order of [`analyse`]).
    Priority,
    /// Most populous first; unknown population last.
    Population,
    /// Farthest from the nearest initiative first; no distance last.
    Distance,
    /// Fewest initiatives within the radius first.
    Within,
    Code,
}

impl GapSort {
    pub const NAMES: [&'static str; 5] = ["priority", "population", "distance", "within", "code"];

    pub fn from_name(name: &str) -> Option<Self> {
        Some(match name {
            "priority" => GapSort::Priority,
            "population" => GapSort::Population,
            "distance" => GapSort::Distance,
            "within" => GapSort::Within,
            "code" => GapSort::Code,
            _ => return None,
        })
    }
}

/// Reorders rows from [`analyse`]; ties keep the priority order.
pub fn sort_rows(data: &Dataset, rows: &mut [QpvGap], sort: GapSort) {
    let qpv = |r: &QpvGap| data.qpv(r.qpv);
    match sort {
        GapSort::Priority => {}
        GapSort::Population => {
            rows.sort_by_key(|r| std::cmp::Reverse(qpv(r).population.map_or(-1, i64::from)))
        }
        GapSort::Distance => rows.sort_by(|a, b| {
            b.nearest_m
                .unwrap_or(-1.0)
                .total_cmp(&a.nearest_m.unwrap_or(-1.0))
        }),
        GapSort::Within => rows.sort_by_key(|r| r.within),
        GapSort::Code => rows.sort_by(|a, b| qpv(a).code.cmp(&qpv(b).code)),
    }
}
