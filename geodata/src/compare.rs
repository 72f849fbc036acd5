//! Territories side by side: two to five départements or communes, with
//! their QPV, population, initiatives inside and within the radius by
//! category, per 10,000 inhabitants where the population is published, and
//! the share of QPV without any work-integration structure (SIAE) within the
//! radius. Built from the gap analysis's rows, so the figures agree with
//! « Manques ».
//!
//! Initiatives are summed over the territory's QPV measured against their
//! outline (one near two QPV counts for each); QPV known only by their
//! communes have no distance and are counted apart.

use std::collections::HashMap;

use serde::Serialize;

use crate::conventions::per_10k;
use crate::dataset::Dataset;
use crate::gaps::{Basis, GapQuery, QpvGap, analyse};
use crate::table::{Column, Kind, Table, Value};

/// Most territories compared at once.
pub const MAX_AREAS: usize = 5;

/// The group of categories whose absence the comparison counts.
pub const SIAE_GROUP: &str = "siae";

/// A territory to compare.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Area {
    Departement(String),
    /// By its key: the INSEE code (Paris, Lyon, Marseille: the whole
    /// commune's).
    Commune(String),
}

impl Area {
    /// `93`, `2A`, `974`: a département; five characters: a commune's INSEE
    /// code. `Err`: why the territory is not one with QPV.
    pub fn parse(text: &str, data: &Dataset) -> Result<Area, String> {
        let text = text.trim().to_uppercase();
        let area = if text.len() == 5 {
            Area::Commune(text.clone())
        } else {
            Area::Departement(text.clone())
        };
        if data.qpvs().iter().any(|q| area.holds(q)) {
            Ok(area)
        } else {
            Err(format!(
                "no QPV in `{text}` (a département code such as 93, or a commune's INSEE code such as 93066)"
            ))
        }
    }

    /// The gap analysis of this area's QPV at `radius_m`.
    fn query(&self, radius_m: f64) -> GapQuery {
        let (departement, commune) = match self {
            Area::Departement(d) => (Some(d.clone()), None),
            Area::Commune(c) => (None, Some(c.clone())),
        };
        GapQuery {
            radius_m,
            departement,
            commune,
            ..GapQuery::default()
        }
    }

    fn holds(&self, qpv: &crate::model::Qpv) -> bool {
        match self {
            Area::Departement(d) => &qpv.departement == d,
            Area::Commune(c) => qpv.in_commune(c),
        }
    }
}

/// One category's sums over a territory's QPV.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct AreaCategory {
    pub category: String,
    pub inside: usize,
    pub within: usize,
}

/// A territory's figures.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct AreaFigures {
    pub key: String,
    pub name: String,
    /// `departement` or `commune`.
    pub kind: &'static str,
    pub qpv: usize,
    pub qpv_with_outline: usize,
    /// Population of the QPV whose population is published; `None` when
    /// none is (never 0 for unknown).
    pub population: Option<u64>,
    pub qpv_with_population: usize,
    /// QPV whose population is not published (not in `population`).
    pub qpv_without_population: usize,
    /// Summed over the QPV with an outline.
    pub inside: usize,
    pub within: usize,
    /// Initiatives within the radius per 10,000 inhabitants, over the QPV
    /// with an outline and a published population.
    pub within_per_10k: Option<f64>,
    /// QPV with an outline and no SIAE within the radius, and their share.
    pub without_siae: usize,
    pub without_siae_share: Option<f64>,
    pub categories: Vec<AreaCategory>,
}

/// The figures of each area, in the order given, at `radius_m`.
pub fn compare(data: &Dataset, areas: &[Area], radius_m: f64) -> Vec<AreaFigures> {
    let kinds: Vec<String> = data.taxonomy().all().iter().map(|c| c.id.clone()).collect();
    areas
        .iter()
        .map(|area| {
            // The analysis of this area's QPV only (its filter), for every
            // category and for the SIAE group.
            let query = area.query(radius_m);
            let rows = analyse(data, &query);
            let siae: HashMap<_, bool> = analyse(
                data,
                &GapQuery {
                    categories: vec![SIAE_GROUP.to_string()],
                    ..query
                },
            )
            .into_iter()
            .map(|r| (r.qpv, r.gap))
            .collect();
            figures(data, area, &rows, &siae, &kinds)
        })
        .collect()
}

/// An area's figures from its QPV's rows.
fn figures(
    data: &Dataset,
    area: &Area,
    rows: &[QpvGap],
    siae_gap: &HashMap<crate::model::QpvId, bool>,
    kinds: &[String],
) -> AreaFigures {
    let outlined: Vec<&QpvGap> = rows.iter().filter(|r| r.basis == Basis::Outline).collect();
    let (key, name, kind) = match area {
        Area::Departement(d) => (
            d.clone(),
            data.territory()
                .departement_name(d)
                .unwrap_or_default()
                .to_string(),
            "departement",
        ),
        Area::Commune(c) => {
            let name = rows
                .iter()
                .flat_map(|r| &data.qpv(r.qpv).communes)
                .find(|x| x.key().eq_ignore_ascii_case(c))
                .map_or(String::new(), |x| x.name.clone());
            (c.clone(), name, "commune")
        }
    };
    let published: Vec<u64> = rows
        .iter()
        .filter_map(|r| data.qpv(r.qpv).population)
        .map(u64::from)
        .collect();
    let population = (!published.is_empty()).then(|| published.iter().sum());
    let counted_people: (usize, u64) = outlined
        .iter()
        .filter_map(|r| Some((r.within, data.qpv(r.qpv).population?)))
        .fold((0, 0), |(w, p), (within, people)| {
            (w + within, p + u64::from(people))
        });
    let without_siae = outlined
        .iter()
        .filter(|r| siae_gap.get(&r.qpv).copied().unwrap_or(true))
        .count();
    let categories = kinds
        .iter()
        .map(|k| {
            let of = |r: &&QpvGap| r.categories.iter().find(|c| &c.category == k).cloned();
            AreaCategory {
                category: k.clone(),
                inside: outlined.iter().filter_map(of).map(|c| c.inside).sum(),
                within: outlined.iter().filter_map(of).map(|c| c.within).sum(),
            }
        })
        .collect();
    AreaFigures {
        key,
        name,
        kind,
        qpv: rows.len(),
        qpv_with_outline: outlined.len(),
        population,
        qpv_with_population: published.len(),
        qpv_without_population: rows.len() - published.len(),
        inside: outlined.iter().map(|r| r.inside).sum(),
        within: outlined.iter().map(|r| r.within).sum(),
        within_per_10k: per_10k(counted_people.0 as u64, Some(counted_people.1)),
        without_siae,
        without_siae_share: (!outlined.is_empty())
            .then(|| (without_siae as f64 / outlined.len() as f64 * 1000.0).round() / 10.0),
        categories,
    }
}

/// The comparison as a table: one row per territory, columns named for
/// scripts (the JSON's) and in French for spreadsheets.
pub fn table(data: &Dataset, figures: &[AreaFigures], radius_m: f64) -> Table {
    use Kind::{Integer, Number, Text};
    let radius = format!("{radius_m}");
    let mut columns: Vec<Column> = vec![
        Column::typed("key", "territoire", Text),
        Column::typed("name", "nom", Text),
        Column::typed("kind", "type", Text),
        Column::typed("qpv", "qpv", Integer),
        Column::typed("qpv_with_outline", "qpv_avec_contour", Integer),
        Column::typed("population", "population", Integer),
        Column::typed("qpv_with_population", "qpv_avec_population", Integer),
        Column::typed(
            "qpv_without_population",
            "qpv_population_non_publiee",
            Integer,
        ),
        Column::typed("inside", "initiatives_dans_les_qpv", Integer),
        Column::typed(
            "within",
            format!("initiatives_a_moins_de_{radius}m"),
            Integer,
        ),
        Column::typed("within_per_10k", "pour_10000_habitants", Number),
        Column::typed(
            "without_siae",
            format!("qpv_sans_siae_a_moins_de_{radius}m"),
            Integer,
        ),
        Column::typed("without_siae_share", "part_qpv_sans_siae_pct", Number),
    ];
    for c in data.taxonomy().all() {
        columns.push(Column::typed(
            format!("{}_inside", c.id),
            format!("{}_dans_les_qpv", c.id),
            Integer,
        ));
        columns.push(Column::typed(
            format!("{}_within", c.id),
            format!("{}_a_moins_de_{radius}m", c.id),
            Integer,
        ));
    }
    let rows = figures
        .iter()
        .map(|f| {
            let mut row = vec![
                Value::from(f.key.as_str()),
                Value::from(f.name.as_str()),
                Value::from(f.kind),
                Value::from(f.qpv),
                Value::from(f.qpv_with_outline),
                Value::of(f.population),
                Value::from(f.qpv_with_population),
                Value::from(f.qpv_without_population),
                Value::from(f.inside),
                Value::from(f.within),
                Value::of(f.within_per_10k),
                Value::from(f.without_siae),
                Value::of(f.without_siae_share),
            ];
            for c in &f.categories {
                row.push(Value::from(c.inside));
                row.push(Value::from(c.within));
            }
            row
        })
        .collect();
    Table {
        about: Vec::new(),
        columns,
        rows,
    }
}
