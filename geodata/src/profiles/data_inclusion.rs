//! data·inclusion structures, schema v1 (`id`, `source`, `nom`, `siret`,
//! `adresse`, `complement_adresse`, `code_postal`, `code_insee`, `commune`,
//! `longitude`, `latitude`, `site_web`, `description`, `reseaux_porteurs`,
//! `date_maj`; v0's `typologie` read too), as CSV or as the JSON array
//! data.gouv.fr publishes. A structure is kept when one of its networks is
//! in the taxonomy's `[profile.data-inclusion]`.

use std::path::Path;

use serde::de::{Deserializer as _, SeqAccess, Visitor};
use serde_json::{Map, Value};

use super::{Kinds, LeftOut, Record, list_of};
use crate::load::file::open_data_file;
use crate::records::{Row, Rows};
use crate::report::{DatasetReport, LoadError, Position};

pub(super) fn read(
    path: &Path,
    kinds: &Kinds,
    report: &mut DatasetReport,
) -> Result<Vec<Row>, LoadError> {
    let mut left_out = LeftOut::default();
    let mut rows = Vec::new();
    let mut take =
        |position: Position, get: &dyn Fn(&str) -> Option<String>| match structure(get, kinds) {
            Ok(record) => rows.push(record.into_row(position)),
            Err(reason) => left_out.add(reason),
        };
    let name = path.to_string_lossy().to_lowercase();
    if name.trim_end_matches(".gz").ends_with(".json") {
        let input = open_data_file(path)?;
        let mut de = serde_json::Deserializer::from_reader(input);
        de.deserialize_seq(Structures(&mut |index, object: Map<String, Value>| {
            take(Position::Element(index), &|field| {
                text_of(object.get(field))
            });
        }))
        .map_err(|e| {
            LoadError::invalid(
                path,
                Position::File,
                format!(
                    "not a JSON array of data·inclusion structures (line {}, column {}): {e}",
                    e.line(),
                    e.column()
                ),
            )
        })?;
    } else {
        let mut csv = Rows::open(path, report)?;
        let headers = csv.headers.clone();
        if !headers.iter().any(|h| h == "nom") {
            return Err(LoadError::invalid(
                path,
                Position::Line(1),
                format!(
                    "no column `nom`: not the data·inclusion structures schema (columns: {})",
                    headers.join(", ")
                ),
            ));
        }
        let mut scratch = DatasetReport::new(&report.id, path);
        while let Some(row) = csv.next(path, &mut scratch)? {
            let get = |field: &str| {
                let i = headers.iter().position(|h| h == field)?;
                row.get(i).map(str::to_string)
            };
            take(row.position.clone(), &get);
        }
        report.absorb(scratch);
    }
    report.read += left_out.total();
    left_out.note("structures of networks outside the ESS", report);
    Ok(rows)
}

/// A structure in the profile's columns, or why it is left out.
fn structure(get: &dyn Fn(&str) -> Option<String>, kinds: &Kinds) -> Result<Record, String> {
    let mut networks = list_of(&get("reseaux_porteurs").unwrap_or_default());
    networks.extend(list_of(&get("typologie").unwrap_or_default()));
    let Some(kind) = networks.iter().find_map(|n| kinds.get(n)) else {
        return Err(match networks.first() {
            Some(n) => format!("réseau {n}"),
            None => "aucun réseau porteur".to_string(),
        });
    };
    let mut r = Record::default();
    let id = get("id");
    let id = match (get("source"), id) {
        (Some(source), Some(id)) if !id.starts_with(&format!("{source}--")) => {
            Some(format!("{source}--{id}"))
        }
        (_, id) => id,
    };
    r.set("id", id.as_deref());
    r.set("name", get("nom").as_deref());
    r.set("siret", get("siret").as_deref());
    let address = match (get("adresse"), get("complement_adresse")) {
        (Some(a), Some(c)) => Some(format!("{a}, {c}")),
        (a, c) => a.or(c),
    };
    r.set("address", address.as_deref());
    r.set("postcode", get("code_postal").as_deref());
    r.set("commune", get("commune").as_deref());
    r.set("insee_code", get("code_insee").as_deref());
    r.set("lon", get("longitude").as_deref());
    r.set("lat", get("latitude").as_deref());
    r.set("kind", Some(kind));
    r.set("hints", Some(&networks.join(" ")));
    r.set("website", get("site_web").as_deref());
    r.set("description", get("description").as_deref());
    // OpenStreetMap syntax in the schema; some publish free text instead.
    r.set(
        "opening_hours",
        get("horaires_ouverture")
            .or_else(|| get("horaires_accueil"))
            .as_deref(),
    );
    r.set("source_date", get("date_maj").as_deref());
    debug_assert!(r.get("kind").is_some());
    Ok(r)
}

/// A JSON value as the text of a column: strings as they are, numbers
/// written out, lists joined by commas, `null` as nothing.
fn text_of(value: Option<&Value>) -> Option<String> {
    match value? {
        Value::Null => None,
        Value::String(s) => Some(s.clone()),
        Value::Array(items) => Some(
            items
                .iter()
                .filter_map(|v| text_of(Some(v)))
                .collect::<Vec<_>>()
                .join(","),
        ),
        other => Some(other.to_string()),
    }
}

/// Visits the array's objects one at a time: a national file is never
/// held whole as JSON values.
struct Structures<'f>(&'f mut dyn FnMut(usize, Map<String, Value>));

impl<'de> Visitor<'de> for Structures<'_> {
    type Value = ();

    fn expecting(&self, f: &mut std::fmt::Formatter) -> std::fmt::Result {
        f.write_str("an array of structure objects")
    }

    fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<(), A::Error> {
        let mut index = 0;
        while let Some(object) = seq.next_element::<Map<String, Value>>()? {
            (self.0)(index, object);
            index += 1;
        }
        Ok(())
    }
}
