//! The four collections served through OGC API – Features, and how each
//! is filtered and turned into flat GeoJSON features (one value per
//! attribute, as GIS tables want them).

use std::collections::HashMap;

use geo::{BoundingRect, Intersects, Rect};
use geodata::gaps::{QpvGap, cells, columns};
use geodata::manifest::DatasetKind;
use geodata::table::{Column, row_object};
use geodata::tiles::TileLayer;
use geodata::{Dataset, InitiativeFilter, QpvId};
use geojson::{Feature, Geometry, GeometryValue, JsonObject};
use serde_json::Value;

use crate::api::ApiError;
use crate::api::views::{flat_initiative, qpv_feature};

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Collection {
    Qpv,
    Initiatives,
    Departements,
    Gaps,
}

impl Collection {
    pub const ALL: [Collection; 4] = [
        Collection::Qpv,
        Collection::Initiatives,
        Collection::Departements,
        Collection::Gaps,
    ];

    pub fn id(self) -> &'static str {
        match self {
            Collection::Qpv => "qpv",
            Collection::Initiatives => "initiatives",
            Collection::Departements => "departements",
            Collection::Gaps => "gaps",
        }
    }

    pub fn from_id(id: &str) -> Result<Self, ApiError> {
        Collection::ALL
            .into_iter()
            .find(|c| c.id() == id)
            .ok_or_else(|| {
                ApiError::NotFound(format!(
                    "no collection `{id}`; the collections are qpv, initiatives, departements, gaps"
                ))
            })
    }

    pub fn title(self) -> &'static str {
        match self {
            Collection::Qpv => "Quartiers prioritaires (QPV)",
            Collection::Initiatives => "Initiatives de l'ESS",
            Collection::Departements => "Départements",
            Collection::Gaps => "Manques : initiatives à moins de 500 m de chaque QPV",
        }
    }

    pub fn description(self) -> &'static str {
        match self {
            Collection::Qpv => {
                "Every QPV in force (2024, 2025; those of 2015, replaced in 2024, with generation=2015) with its communes, population and the initiatives inside and within 500 m; the outline where one is loaded (geometry null elsewhere)."
            }
            Collection::Initiatives => {
                "ESS initiatives (open data and the store), with their category, address, how exactly they are placed and where they are among the QPV."
            }
            Collection::Departements => "Département outlines, for context.",
            Collection::Gaps => {
                "The gap analysis at the default radius (500 m, every category): one row per QPV, ranked by priority, as in GET /api/gaps."
            }
        }
    }

    /// The property filters `items` accepts for this collection.
    pub fn filters(self) -> &'static [&'static str] {
        match self {
            Collection::Qpv => &["departement", "generation", "qpv"],
            Collection::Initiatives => &["category", "departement", "generation", "qpv", "source"],
            Collection::Departements => &[],
            Collection::Gaps => &["category", "departement", "generation", "qpv"],
        }
    }

    /// The manifest's dataset kinds it is made from (for dates).
    fn dataset_kinds(self) -> &'static [DatasetKind] {
        match self {
            Collection::Qpv => &[DatasetKind::QpvPolygons],
            Collection::Initiatives => &[DatasetKind::Initiatives],
            Collection::Departements => &[DatasetKind::Departements],
            Collection::Gaps => &[DatasetKind::Initiatives, DatasetKind::QpvPolygons],
        }
    }

    /// The bounding box of its geometries, lon/lat: that of the tile layer
    /// drawing the same data (the initiatives' from their index, not a scan).
    pub fn extent(self, data: &Dataset) -> Option<Rect<f64>> {
        let layer = match self {
            Collection::Qpv | Collection::Gaps => TileLayer::Qpv,
            Collection::Initiatives => TileLayer::Initiatives,
            Collection::Departements => TileLayer::Departements,
        };
        geodata::tiles::bounds(data, layer)
    }

    /// The earliest and latest dates of the loaded datasets it is made
    /// from, RFC 3339.
    pub fn interval(self, data: &Dataset) -> Option<(String, String)> {
        let mut dates: Vec<String> = data
            .territory()
            .loaded_datasets()
            .filter(|d| self.dataset_kinds().contains(&d.kind))
            .filter_map(|d| d.as_of.as_deref().and_then(rfc3339_of))
            .collect();
        dates.sort();
        Some((dates.first()?.clone(), dates.last()?.clone()))
    }
}

/// `2021`, `2021-02` or `2021-02-15` as the RFC 3339 instant it starts.
fn rfc3339_of(as_of: &str) -> Option<String> {
    let mut parts = as_of.split('-');
    let year: u16 = parts.next()?.parse().ok()?;
    let month: u8 = parts.next().map_or(Some(1), |m| m.parse().ok())?;
    let day: u8 = parts.next().map_or(Some(1), |d| d.parse().ok())?;
    Some(format!("{year:04}-{month:02}-{day:02}T00:00:00Z"))
}

/// What `items` selects.
pub struct Selection {
    pub bbox: Option<Rect<f64>>,
    /// Initiatives: checked as the rest of the API checks them.
    pub qpv: Option<QpvId>,
    pub categories: Vec<String>,
    /// Property filters, by name (only those of [`Collection::filters`]).
    pub properties: HashMap<String, String>,
}

/// One page of features and how many match in all.
pub struct Page {
    pub matched: usize,
    pub features: Vec<Feature>,
}

impl Selection {
    fn property(&self, name: &str) -> Option<&str> {
        self.properties.get(name).map(String::as_str)
    }

    fn keeps_qpv(&self, data: &Dataset, id: QpvId) -> Result<bool, ApiError> {
        if self.qpv.is_some_and(|wanted| wanted != id) {
            return Ok(false);
        }
        let q = data.qpv(id);
        if let Some(d) = self.property("departement")
            && !q.departement.eq_ignore_ascii_case(d)
        {
            return Ok(false);
        }
        // The generations in force unless one is asked for.
        let asked = self
            .property("generation")
            .map(|g| {
                g.parse::<u16>()
                    .map_err(|_| ApiError::bad("generation", format!("`{g}` is not a year")))
            })
            .transpose()?;
        if !geodata::conventions::generation_matches(asked, q.generation) {
            return Ok(false);
        }
        Ok(match self.bbox {
            None => true,
            Some(b) => q.geometry.as_ref().is_some_and(|g| g.bbox.intersects(&b)),
        })
    }
}

/// The features of `collection` that `selection` keeps, from `offset`, at
/// most `limit`; `gaps` are the rows of the default analysis.
pub fn page(
    data: &Dataset,
    collection: Collection,
    selection: &Selection,
    gaps: &[QpvGap],
    (offset, limit): (usize, usize),
) -> Result<Page, ApiError> {
    let window = |n: usize| offset.min(n)..(offset.saturating_add(limit)).min(n);
    match collection {
        Collection::Qpv => {
            let mut ids = Vec::new();
            for id in data.territory().qpv_ids() {
                if selection.keeps_qpv(data, id)? {
                    ids.push(id);
                }
            }
            let features = ids[window(ids.len())]
                .iter()
                .map(|&id| qpv(data, id))
                .collect();
            Ok(Page {
                matched: ids.len(),
                features,
            })
        }
        Collection::Initiatives => {
            let departement = selection.property("departement");
            let generation: Option<u16> = selection
                .property("generation")
                .map(|g| {
                    g.parse()
                        .map_err(|_| ApiError::bad("generation", format!("`{g}` is not a year")))
                })
                .transpose()?;
            let found: Vec<_> = data
                .initiatives_matching(&InitiativeFilter {
                    bbox: selection.bbox,
                    categories: selection.categories.clone(),
                    text: None,
                    qpv: selection.qpv,
                    source: selection.property("source").map(str::to_string),
                })
                .into_iter()
                .filter(|x| {
                    departement.is_none_or(|d| {
                        x.departement()
                            .is_some_and(|own| own.eq_ignore_ascii_case(d))
                    })
                })
                // The generation of the QPV it is in or near.
                .filter(|x| {
                    generation.is_none_or(|g| {
                        x.location.status != geodata::LocationStatus::Outside
                            && x.location.qpv.is_some_and(|q| data.qpv(q).generation == g)
                    })
                })
                .collect();
            let features = found[window(found.len())]
                .iter()
                .map(|x| flat_initiative(data, x))
                .collect();
            Ok(Page {
                matched: found.len(),
                features,
            })
        }
        Collection::Departements => {
            let kept: Vec<_> = data
                .departements()
                .iter()
                .filter(|d| {
                    selection.bbox.is_none_or(|b| {
                        d.geometry.bounding_rect().is_some_and(|r| r.intersects(&b))
                    })
                })
                .collect();
            let features = kept[window(kept.len())]
                .iter()
                .map(|d| departement(d))
                .collect();
            Ok(Page {
                matched: kept.len(),
                features,
            })
        }
        Collection::Gaps => {
            let mut rows = Vec::new();
            for row in gaps {
                if selection.keeps_qpv(data, row.qpv)? {
                    rows.push(row);
                }
            }
            let names = gap_columns(gaps);
            let features = rows[window(rows.len())]
                .iter()
                .map(|row| gap(data, &names, row))
                .collect();
            Ok(Page {
                matched: rows.len(),
                features,
            })
        }
    }
}

/// One feature by its id, if there is one.
pub fn one(data: &Dataset, collection: Collection, id: &str, gaps: &[QpvGap]) -> Option<Feature> {
    match collection {
        Collection::Qpv => data.qpv_by_code(id).map(|q| qpv(data, q)),
        Collection::Initiatives => data.initiative(id).map(|x| flat_initiative(data, x)),
        Collection::Departements => data
            .departements()
            .iter()
            .find(|d| d.code == id)
            .map(departement),
        Collection::Gaps => {
            let q = data.qpv_by_code(id)?;
            let row = gaps.iter().find(|r| r.qpv == q)?;
            Some(gap(data, &gap_columns(gaps), row))
        }
    }
}

/// The columns of the analysis the rows come from (its categories).
fn gap_columns(gaps: &[QpvGap]) -> Vec<Column> {
    let kinds: Vec<String> = gaps
        .first()
        .map(|r| r.categories.iter().map(|c| c.category.clone()).collect())
        .unwrap_or_default();
    columns(&kinds)
}

fn qpv(data: &Dataset, id: QpvId) -> Feature {
    let mut f = qpv_feature(data, id);
    f.bbox = None;
    f.properties = f.properties.map(|mut p| {
        // The geometry says where; the map's own hint is not an attribute.
        p.remove("centre");
        flat(p)
    });
    f
}

fn departement(d: &geodata::model::Departement) -> Feature {
    let mut properties = JsonObject::new();
    properties.insert("code".into(), Value::from(d.code.as_str()));
    properties.insert("name".into(), Value::from(d.name.as_str()));
    Feature {
        bbox: None,
        geometry: Some(Geometry::new(GeometryValue::from(&d.geometry))),
        id: Some(geojson::feature::Id::String(d.code.clone())),
        properties: Some(properties),
        foreign_members: None,
    }
}

fn gap(data: &Dataset, names: &[Column], row: &QpvGap) -> Feature {
    let q = data.qpv(row.qpv);
    Feature {
        bbox: None,
        geometry: q
            .geometry
            .as_ref()
            .map(|g| Geometry::new(GeometryValue::from(&g.lonlat))),
        id: Some(geojson::feature::Id::String(q.code.clone())),
        properties: Some(row_object(names, &cells(data, row))),
        foreign_members: None,
    }
}

/// Lists become text (names joined by `, `), so that every attribute is
/// one column in a GIS table.
fn flat(properties: JsonObject) -> JsonObject {
    properties
        .into_iter()
        .map(|(k, v)| {
            let v = match v {
                Value::Array(items) => Value::String(
                    items
                        .iter()
                        .map(|i| match i {
                            Value::String(s) => s.clone(),
                            Value::Object(o) => o
                                .get("name")
                                .and_then(Value::as_str)
                                .map_or_else(|| i.to_string(), str::to_string),
                            other => other.to_string(),
                        })
                        .collect::<Vec<_>>()
                        .join(", "),
                ),
                other => other,
            };
            (k, v)
        })
        .collect()
}
