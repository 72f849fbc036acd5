//! ESS initiatives from CSV or GeoJSON, normalised to [`Initiative`].

use std::collections::HashMap;
use std::path::Path;

use geo::Coord;
use geojson::GeometryValue;

use super::csv_file::CsvTable;
use super::geojson_file::{property, read_features};
use super::geometry::{coord, lon_lat};
use crate::category::Taxonomy;
use crate::manifest::DatasetEntry;
use crate::model::{Initiative, Location};
use crate::report::{Action, DatasetReport, LoadError, Position};
use crate::text::fold;

/// Initiatives read so far, by id, across datasets.
pub(crate) struct InitiativeBuilder<'t> {
    pub initiatives: Vec<Initiative>,
    by_id: HashMap<String, String>,
    taxonomy: &'t Taxonomy,
}

/// Where a record's coordinates came from, or why it has none.
enum Place {
    At(Coord<f64>),
    Missing,
    Bad { field: &'static str, reason: String },
}

impl<'t> InitiativeBuilder<'t> {
    pub fn new(taxonomy: &'t Taxonomy) -> Self {
        InitiativeBuilder {
            initiatives: Vec::new(),
            by_id: HashMap::new(),
            taxonomy,
        }
    }

    /// Loads an `initiatives` dataset; GeoJSON when the file ends in
    /// `.geojson` or `.json`, else CSV.
    pub fn add(
        &mut self,
        entry: &DatasetEntry,
        path: &Path,
        report: &mut DatasetReport,
    ) -> Result<(), LoadError> {
        let column = |field: &str| -> String {
            entry
                .columns
                .get(field)
                .cloned()
                .unwrap_or_else(|| field.to_string())
        };
        let is_geojson = path
            .extension()
            .is_some_and(|e| e.eq_ignore_ascii_case("geojson") || e.eq_ignore_ascii_case("json"));
        if is_geojson {
            for (index, feature) in read_features(path, report)? {
                let props = feature.properties.as_ref();
                let get = |field: &str| property(props, &column(field));
                let raw = |col: &str| property(props, col);
                let place = match feature.geometry.as_ref().map(|g| &g.value) {
                    None => Place::Missing,
                    Some(GeometryValue::Point { coordinates }) => match coord(coordinates) {
                        Ok(c) => checked_place(c),
                        Err(reason) => Place::Bad {
                            field: "geometry",
                            reason,
                        },
                    },
                    Some(other) => Place::Bad {
                        field: "geometry",
                        reason: format!("geometry type {}, expected Point", other.type_name()),
                    },
                };
                self.add_record(entry, Position::Feature(index), &get, &raw, place, report);
            }
        } else {
            let mut table = CsvTable::open(path, &[&column("id"), &column("name")])?;
            let has_coordinates =
                table.has_column(&column("lon")) && table.has_column(&column("lat"));
            if !has_coordinates {
                report.notes.push(format!(
                    "no `{}`/`{}` columns: every record is kept without location",
                    column("lon"),
                    column("lat")
                ));
            }
            for row in table.rows(report)? {
                let get = |field: &str| row.get(&column(field));
                let raw = |col: &str| row.get(col);
                let place = csv_place(get("lon"), get("lat"));
                self.add_record(entry, row.position(), &get, &raw, place, report);
            }
        }
        Ok(())
    }

    fn add_record(
        &mut self,
        entry: &DatasetEntry,
        position: Position,
        get: &dyn Fn(&str) -> Option<String>,
        raw: &dyn Fn(&str) -> Option<String>,
        place: Place,
        report: &mut DatasetReport,
    ) {
        let Some(id) = get("id") else {
            report.issue(position, None, Some("id"), "missing id", Action::Skipped);
            return;
        };
        if let Some(excluded) = entry
            .exclude
            .iter()
            .find(|x| raw(&x.column).is_some_and(|v| v == x.equals))
        {
            report.issue(
                position,
                Some(&id),
                Some(&excluded.column),
                format!("excluded by the manifest: {}", excluded.reason),
                Action::Skipped,
            );
            return;
        }
        let Some(name) = get("name") else {
            report.issue(
                position,
                Some(&id),
                Some("name"),
                "missing name",
                Action::Skipped,
            );
            return;
        };
        if let Some(first) = self.by_id.get(&id) {
            report.issue(
                position,
                Some(&id),
                Some("id"),
                format!("duplicate id, first loaded from {first}"),
                Action::Skipped,
            );
            return;
        }
        let position_coord = match place {
            Place::At(c) => Some(c),
            Place::Missing => {
                report.issue(
                    position.clone(),
                    Some(&id),
                    Some("lon/lat"),
                    "no coordinates",
                    Action::KeptWithoutLocation,
                );
                None
            }
            Place::Bad { field, reason } => {
                report.issue(
                    position.clone(),
                    Some(&id),
                    Some(field),
                    reason,
                    Action::KeptWithoutLocation,
                );
                None
            }
        };
        let kind = get("kind");
        let classify_text = [get("name"), get("brand"), get("hints")]
            .into_iter()
            .flatten()
            .collect::<Vec<_>>()
            .join(" ");
        let category = self
            .taxonomy
            .classify(kind.as_deref().unwrap_or(""), &classify_text)
            .id
            .clone();
        let commune = get("commune");
        let search_text = fold(&format!(
            "{name} {} {}",
            get("brand").unwrap_or_default(),
            commune.as_deref().unwrap_or_default()
        ));
        self.by_id
            .insert(id.clone(), format!("{} {position}", entry.id));
        self.initiatives.push(Initiative {
            id,
            name,
            category,
            source_kind: kind,
            legal_form: get("legal_form"),
            siret: get("siret").map(|s| s.replace(' ', "")),
            address: get("address"),
            postcode: get("postcode"),
            commune,
            insee_code: get("insee_code"),
            website: get("website"),
            description: get("description"),
            position: position_coord,
            precision: crate::model::Precision::Source,
            source: entry.id.clone(),
            source_date: get("source_date").or_else(|| entry.source_date.clone()),
            location: Location::NOT_LOCATED,
            search_text,
        });
        report.loaded += 1;
    }
}

/// Coordinates from CSV fields.
fn csv_place(lon: Option<String>, lat: Option<String>) -> Place {
    let parse = |field: &'static str, text: &str| -> Result<f64, Place> {
        text.replace(',', ".")
            .parse::<f64>()
            .map_err(|_| Place::Bad {
                field,
                reason: format!("`{text}` is not a number"),
            })
    };
    match (lon, lat) {
        (None, None) => Place::Missing,
        (Some(_), None) => Place::Bad {
            field: "lat",
            reason: "longitude given without latitude".to_string(),
        },
        (None, Some(_)) => Place::Bad {
            field: "lon",
            reason: "latitude given without longitude".to_string(),
        },
        (Some(lon), Some(lat)) => {
            let lon = match parse("lon", &lon) {
                Ok(v) => v,
                Err(bad) => return bad,
            };
            let lat = match parse("lat", &lat) {
                Ok(v) => v,
                Err(bad) => return bad,
            };
            match lon_lat(lon, lat) {
                Ok(c) => checked_place(c),
                Err(reason) => Place::Bad {
                    field: "lon/lat",
                    reason,
                },
            }
        }
    }
}

/// Rejects (0, 0), the usual mark of a failed geocode.
fn checked_place(c: Coord<f64>) -> Place {
    if c.x == 0.0 && c.y == 0.0 {
        Place::Bad {
            field: "lon/lat",
            reason: "coordinates (0, 0) are a placeholder, not a place".to_string(),
        }
    } else {
        Place::At(c)
    }
}
