//! Spatial gap analysis: for every QPV, which kinds of ESS initiative are
//! missing within a radius, how far the nearest one is, and how many people
//! live there.
//!
//! Ranking: QPV with a gap come first, by **priority = distance to the
//! nearest initiative of the chosen categories (km, at most 5) × population
//! in tens of thousands (1 when unknown)**: a large neighbourhood far from
//! everything comes first.

use std::collections::{BTreeMap, HashMap};

use rayon::prelude::*;
use rstar::{AABB, RTree};
use serde::Serialize;

use crate::dataset::Dataset;
use crate::geodesy::LocalFrame;
use crate::model::Qpv;
use crate::text::fold;

/// The bands planners use: 300 m (the band French law uses around a QPV),
/// 500 m (the usual proxy for the "quartier vécu", the default), 1,000 m.
pub const RINGS_M: [f64; 3] = [300.0, 500.0, 1000.0];
pub const DEFAULT_RADIUS_M: f64 = 500.0;
pub const MAX_RADIUS_M: f64 = 5000.0;
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
    /// Index in [`Dataset::qpvs`].
    #[serde(skip)]
    pub qpv: usize,
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

/// Filters and parameters of an analysis.
#[derive(Debug, Clone)]
pub struct GapQuery {
    pub radius_m: f64,
    /// Categories analysed (empty: every category).
    pub categories: Vec<String>,
    pub departement: Option<String>,
    pub generation: Option<u16>,
}

impl Default for GapQuery {
    fn default() -> Self {
        GapQuery {
            radius_m: DEFAULT_RADIUS_M,
            categories: Vec::new(),
            departement: None,
            generation: None,
        }
    }
}

/// Runs the analysis over every QPV the query selects, in code order.
pub fn analyse(data: &Dataset, query: &GapQuery) -> Vec<QpvGap> {
    let categories: Vec<String> = if query.categories.is_empty() {
        data.taxonomy.all().iter().map(|c| c.id.clone()).collect()
    } else {
        query.categories.clone()
    };
    let by_commune = CommuneCounts::new(data);
    let mut rows: Vec<QpvGap> = data
        .qpvs_matching(&crate::QpvFilter {
            departement: query.departement.clone(),
            generation: query.generation,
            text: None,
        })
        // QPV are independent: one per thread.
        .into_par_iter()
        .map(|i| {
            let qpv = &data.qpvs()[i];
            let figures = match &qpv.geometry {
                Some(_) => outline_figures(data, i, query.radius_m, &categories),
                None => by_commune.figures(qpv, &categories),
            };
            let (inside, within) = (figures.inside, figures.within);
            let nearest_m = figures
                .kinds
                .iter()
                .filter_map(|c| c.nearest_m)
                .reduce(f64::min);
            let per_10k = qpv
                .population
                .filter(|p| *p > 0)
                .map(|p| (within as f64 * 10_000.0 / f64::from(p) * 10.0).round() / 10.0);
            let gap = within == 0;
            let distance_km = nearest_m.map_or(PRIORITY_DISTANCE_CAP_KM, |d| {
                (d / 1000.0).min(PRIORITY_DISTANCE_CAP_KM)
            });
            let people = qpv.population.map_or(1.0, |p| f64::from(p) / 10_000.0);
            QpvGap {
                qpv: i,
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
    rows.sort_by(|a, b| b.priority.total_cmp(&a.priority).then(a.qpv.cmp(&b.qpv)));
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
    fn count(&mut self, data: &Dataset, x: &crate::model::Initiative, distance_m: Option<f64>) {
        let inside = usize::from(distance_m.is_none_or(|d| d == 0.0));
        let mut counted = false;
        for kind in data
            .taxonomy
            .kinds_of(&x.category, x.source_kind.as_deref())
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
fn outline_figures(data: &Dataset, qpv: usize, radius_m: f64, kinds: &[String]) -> KindFigures {
    let outline = data.qpvs()[qpv].geometry.as_ref().expect("outline checked");
    let mut figures = KindFigures::new(kinds);
    for (x, d) in data
        .initiatives_near(qpv, radius_m)
        .expect("outline checked")
    {
        figures.count(data, x, Some(d));
    }
    for f in &mut figures.kinds {
        f.gap = f.within == 0;
        if f.gap {
            // Nothing within the radius: the nearest, however far.
            f.nearest_m = data
                .positions_of(&f.category)
                .and_then(|tree| nearest_beyond(outline, tree));
        }
        f.nearest_m = f.nearest_m.map(|d| (d * 10.0).round() / 10.0);
    }
    figures
}

/// The distance from an outline to the nearest point of `tree`, however far.
///
/// The point nearest the outline's centre in degrees gives a first distance
/// `d`; the nearest point then lies in the box `d` around the outline, whose
/// points are measured nearest bounding box first until a bounding box is
/// farther than the best so far. With many points (100× today's) only a
/// handful get an exact point–outline distance. The nearest is chosen in the
/// outline's local frame; beyond [`crate::model::LOCAL_FRAME_LIMIT_M`] it is then measured
/// on the ellipsoid (within 0.1 % of the nearest on the ellipsoid up to
/// 50 km, `tests/gaps.rs`).
fn nearest_beyond(outline: &crate::model::QpvGeometry, tree: &RTree<[f64; 2]>) -> Option<f64> {
    let at = |p: &[f64; 2]| geo::coord! { x: p[0], y: p[1] };
    let centre = outline.bbox.center();
    let seed = at(tree.nearest_neighbor(&[centre.x, centre.y])?);
    let (margin, seed_nearest) = outline.nearest_boundary_point(seed);
    let (dlon, dlat) = LocalFrame::degrees_for(outline.bbox, margin);
    let (lo, hi) = (outline.bbox.min(), outline.bbox.max());
    let search = AABB::from_corners([lo.x - dlon, lo.y - dlat], [hi.x + dlon, hi.y + dlat]);
    let mut candidates: Vec<(f64, geo::Coord<f64>)> = tree
        .locate_in_envelope(&search)
        .map(|p| (outline.bbox_distance_m(at(p)), at(p)))
        .filter(|(bound, _)| *bound <= margin)
        .collect();
    candidates.sort_unstable_by(|a, b| a.0.total_cmp(&b.0));
    let mut best = (margin, seed, seed_nearest);
    for (bound, p) in candidates {
        if bound >= best.0 {
            break;
        }
        let (d, nearest) = outline.nearest_boundary_point(p);
        if d < best.0 {
            best = (d, p, nearest);
        }
    }
    Some(outline.on_ellipsoid(best.1, best.0, best.2))
}

/// Initiatives per commune (INSEE code or folded name) and category, for
/// QPV without outline.
struct CommuneCounts<'a> {
    data: &'a Dataset,
    by_code: HashMap<&'a str, Vec<usize>>,
    by_name: HashMap<String, Vec<usize>>,
}

impl<'a> CommuneCounts<'a> {
    fn new(data: &'a Dataset) -> Self {
        let mut counts = CommuneCounts {
            data,
            by_code: HashMap::new(),
            by_name: HashMap::new(),
        };
        // Grouped by the name as written first, so each spelling is folded once.
        let mut by_raw_name: HashMap<&str, Vec<usize>> = HashMap::new();
        for (i, x) in data.initiatives().iter().enumerate() {
            if let Some(code) = x.insee_code.as_deref() {
                counts.by_code.entry(code).or_default().push(i);
            } else if let Some(name) = x.commune.as_deref() {
                by_raw_name.entry(name).or_default().push(i);
            }
        }
        for (name, members) in by_raw_name {
            counts
                .by_name
                .entry(fold(name))
                .or_default()
                .extend(members);
        }
        counts
    }

    /// Initiatives whose INSEE code, or (without a code) commune name, is one
    /// of the QPV's communes.
    fn figures(&self, qpv: &Qpv, kinds: &[String]) -> KindFigures {
        let empty = Vec::new();
        let mut found: Vec<usize> = qpv
            .communes
            .iter()
            .flat_map(|c| {
                let by_code = c
                    .insee
                    .as_deref()
                    .and_then(|k| self.by_code.get(k))
                    .unwrap_or(&empty);
                let by_name = self.by_name.get(&fold(&c.name)).unwrap_or(&empty);
                by_code.iter().chain(by_name)
            })
            .copied()
            .collect();
        found.sort_unstable();
        found.dedup();
        let mut figures = KindFigures::new(kinds);
        for i in found {
            figures.count(self.data, &self.data.initiatives()[i], None);
        }
        for f in &mut figures.kinds {
            f.gap = f.within == 0;
        }
        figures
    }
}

/// Aggregates of an analysis by département or by commune.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct GapSummary {
    pub key: String,
    pub name: String,
    pub qpv: usize,
    pub covered: usize,
    /// Covered QPV / QPV, rounded to 0.1 %.
    pub covered_share: f64,
    /// Population of the uncovered QPV whose population is known.
    pub population_uncovered: u64,
    /// Uncovered QPV whose population is unknown.
    pub uncovered_without_population: usize,
}

/// Sums rows by département (`by_commune` false) or by commune (a QPV
/// spanning several communes counts in each).
pub fn summarise(data: &Dataset, rows: &[QpvGap], by_commune: bool) -> Vec<GapSummary> {
    let mut groups: BTreeMap<String, GapSummary> = BTreeMap::new();
    for row in rows {
        let qpv = &data.qpvs()[row.qpv];
        let keys: Vec<(String, String)> = if by_commune {
            qpv.communes
                .iter()
                .map(|c| {
                    (
                        c.insee.clone().unwrap_or_else(|| fold(&c.name)),
                        c.name.clone(),
                    )
                })
                .collect()
        } else {
            let name = data
                .departements()
                .iter()
                .find(|d| d.code == qpv.departement)
                .map_or_else(String::new, |d| d.name.clone());
            vec![(qpv.departement.clone(), name)]
        };
        for (key, name) in keys {
            let g = groups.entry(key.clone()).or_insert_with(|| GapSummary {
                key,
                name,
                qpv: 0,
                covered: 0,
                covered_share: 0.0,
                population_uncovered: 0,
                uncovered_without_population: 0,
            });
            g.qpv += 1;
            if row.gap {
                match qpv.population {
                    Some(p) => g.population_uncovered += u64::from(p),
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

/// One row as named values, in column order: the QPV, its totals for the
/// chosen categories, then `<category>_inside`, `_within`, `_nearest_m`,
/// `_gap` for each category.
pub fn record(data: &Dataset, row: &QpvGap) -> Vec<(String, serde_json::Value)> {
    use serde_json::json;
    let qpv = &data.qpvs()[row.qpv];
    let communes: Vec<&str> = qpv.communes.iter().map(|c| c.name.as_str()).collect();
    let mut out = vec![
        ("code".to_string(), json!(qpv.code)),
        ("name".to_string(), json!(qpv.name)),
        ("communes".to_string(), json!(communes.join(", "))),
        ("departement".to_string(), json!(qpv.departement)),
        ("generation".to_string(), json!(qpv.generation)),
        ("population".to_string(), json!(qpv.population)),
        ("basis".to_string(), json!(row.basis)),
        ("inside".to_string(), json!(row.inside)),
        ("within".to_string(), json!(row.within)),
        ("nearest_m".to_string(), json!(row.nearest_m)),
        ("per_10k".to_string(), json!(row.per_10k)),
        ("gap".to_string(), json!(row.gap)),
        ("priority".to_string(), json!(row.priority)),
    ];
    for c in &row.categories {
        out.push((format!("{}_inside", c.category), json!(c.inside)));
        out.push((format!("{}_within", c.category), json!(c.within)));
        out.push((format!("{}_nearest_m", c.category), json!(c.nearest_m)));
        out.push((format!("{}_gap", c.category), json!(c.gap)));
    }
    out
}

/// CSV field separators: `,` with decimal points, or `;` with decimal commas
/// for French spreadsheet software.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum CsvStyle {
    Comma,
    FrenchSemicolon,
}

/// The rows as CSV (UTF-8, header first).
pub fn to_csv(data: &Dataset, rows: &[QpvGap], style: CsvStyle) -> Vec<u8> {
    let delimiter = match style {
        CsvStyle::Comma => b',',
        CsvStyle::FrenchSemicolon => b';',
    };
    let mut writer = csv::WriterBuilder::new()
        .delimiter(delimiter)
        .from_writer(Vec::new());
    for (i, row) in rows.iter().enumerate() {
        let rec = record(data, row);
        if i == 0 {
            writer
                .write_record(rec.iter().map(|(k, _)| k.as_str()))
                .expect("writing to memory");
        }
        writer
            .write_record(rec.iter().map(|(_, v)| match v {
                serde_json::Value::Null => String::new(),
                serde_json::Value::String(s) => s.clone(),
                serde_json::Value::Number(n) if style == CsvStyle::FrenchSemicolon => {
                    n.to_string().replace('.', ",")
                }
                other => other.to_string(),
            }))
            .expect("writing to memory");
    }
    writer.into_inner().expect("writing to memory")
}

/// The rows as a GeoJSON FeatureCollection with the QPV outlines (null
/// geometry without outline), for QGIS.
pub fn to_geojson(data: &Dataset, rows: &[QpvGap]) -> geojson::FeatureCollection {
    let features = rows
        .iter()
        .map(|row| {
            let qpv = &data.qpvs()[row.qpv];
            geojson::Feature {
                bbox: None,
                geometry: qpv
                    .geometry
                    .as_ref()
                    .map(|g| geojson::Geometry::new(geojson::GeometryValue::from(&g.lonlat))),
                id: Some(geojson::feature::Id::String(qpv.code.clone())),
                properties: Some(record(data, row).into_iter().collect()),
                foreign_members: None,
            }
        })
        .collect();
    geojson::FeatureCollection {
        bbox: None,
        features,
        foreign_members: None,
    }
}

/// Orders of the gap table.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
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
    let qpv = |r: &QpvGap| &data.qpvs()[r.qpv];
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
