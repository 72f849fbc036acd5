//! From a file of initiatives to records: the one reader for the data files
//! of the manifest and for imported inventories. CSV (UTF-8 or
//! Windows-1252, `,` or `;`, gzip allowed) or GeoJSON points; columns found
//! by their usual names or given by a mapping; each row turned into an
//! [`InitiativeRecord`] and checked by [`crate::validate::check`].

use std::collections::{BTreeMap, HashMap};
use std::path::Path;

use serde::{Deserialize, Serialize};

use crate::category::Taxonomy;
use crate::initiative::InitiativeRecord;
use crate::load::csv_file::{delimiter_of, without_carriage_returns};
use crate::load::file::read_data_file;
use crate::report::{Action, DatasetReport, LoadError, Position};
use crate::text::fold;
use crate::validate::{Problem, check, parse_coordinate, resolve_category};

/// What a column can hold.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Field {
    Id,
    Name,
    Brand,
    Address,
    Postcode,
    Commune,
    InseeCode,
    Lon,
    Lat,
    /// A category id or label, or else the source's kind (`ACI`, `ESAT`).
    Category,
    /// The source's own kind of structure.
    Kind,
    Siret,
    Website,
    Description,
    LegalForm,
    SourceDate,
    /// Activity words that help classify (not kept).
    Hints,
}

impl Field {
    pub const ALL: [Field; 17] = [
        Field::Id,
        Field::Name,
        Field::Brand,
        Field::Address,
        Field::Postcode,
        Field::Commune,
        Field::InseeCode,
        Field::Lon,
        Field::Lat,
        Field::Category,
        Field::Kind,
        Field::Siret,
        Field::Website,
        Field::Description,
        Field::LegalForm,
        Field::SourceDate,
        Field::Hints,
    ];

    /// Column names recognised without a mapping (folded: lower case, no
    /// accents, `_`/`-`/`.` as spaces).
    pub fn synonyms(self) -> &'static [&'static str] {
        match self {
            Field::Id => &["id", "identifiant", "source id", "ref", "reference"],
            Field::Name => &[
                "name",
                "nom",
                "raison sociale",
                "denomination",
                "nom de la structure",
                "structure",
                "etablissement",
            ],
            Field::Brand => &["brand", "enseigne", "nom commercial"],
            Field::Address => &[
                "address",
                "adresse",
                "adresse postale",
                "adresse complete",
                "voie",
                "rue",
            ],
            Field::Postcode => &["postcode", "code postal", "cp", "zip"],
            Field::Commune => &["commune", "ville", "city", "localite", "libelle commune"],
            Field::InseeCode => &[
                "insee code",
                "code insee",
                "insee",
                "code commune",
                "codgeo",
                "citycode",
            ],
            Field::Lon => &["lon", "lng", "long", "longitude", "x"],
            Field::Lat => &["lat", "latitude", "y"],
            Field::Category => &["category", "categorie", "type", "type de structure"],
            Field::Kind => &["kind", "source kind"],
            Field::Siret => &["siret", "numero siret", "n siret"],
            Field::Website => &["website", "site", "site web", "site internet", "url"],
            Field::Description => &["description", "activite", "activites", "presentation"],
            Field::LegalForm => &[
                "legal form",
                "forme juridique",
                "statut",
                "statut juridique",
            ],
            Field::SourceDate => &[
                "source date",
                "date maj",
                "date de mise a jour",
                "updated at",
                "source updated at",
            ],
            Field::Hints => &["hints", "activity hints"],
        }
    }
}

/// Which column holds which field.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Mapping {
    pub columns: BTreeMap<Field, String>,
}

impl Mapping {
    /// Columns recognised by their usual French or English names.
    pub fn detect<'a>(headers: impl IntoIterator<Item = &'a str>) -> Mapping {
        let headers: Vec<&str> = headers.into_iter().collect();
        let norm = |h: &str| fold(&h.replace(['_', '-', '.'], " ")).trim().to_string();
        let mut columns = BTreeMap::new();
        for field in Field::ALL {
            if let Some(h) = headers
                .iter()
                .find(|h| field.synonyms().contains(&norm(h).as_str()))
            {
                columns.insert(field, h.to_string());
            }
        }
        Mapping { columns }
    }

    /// A mapping file: `[columns]` then `field = "column name"`, e.g.
    /// `name = "Raison sociale"`. Fields it names override detection.
    pub fn from_toml(text: &str) -> Result<Mapping, String> {
        toml::from_str(text).map_err(|e| e.to_string())
    }

    pub fn column(&self, field: Field) -> Option<&str> {
        self.columns.get(&field).map(String::as_str)
    }

    /// Detection over `headers`, then `overrides`, each checked to name a
    /// column of the file.
    pub fn for_table(
        table: &Table,
        overrides: Option<&Mapping>,
        path: &Path,
    ) -> Result<Mapping, LoadError> {
        let mut mapping = Mapping::detect(table.headers.iter().map(String::as_str));
        for (field, column) in overrides.iter().flat_map(|m| &m.columns) {
            if !table.headers.contains(column) {
                return Err(LoadError::invalid(
                    path,
                    Position::Line(1),
                    format!("mapping: no column `{column}` for {field:?}"),
                ));
            }
            mapping.columns.insert(*field, column.clone());
        }
        if mapping.column(Field::Name).is_none() {
            return Err(LoadError::invalid(
                path,
                Position::Line(1),
                format!(
                    "no column for the name (looked for {}); give one in a mapping",
                    Field::Name.synonyms().join(", ")
                ),
            ));
        }
        Ok(mapping)
    }
}

/// One row of a table: its values by column, and what reading it found.
#[derive(Debug, Clone)]
pub struct Row {
    pub position: Position,
    pub values: HashMap<String, String>,
    /// Problems of the row as read (a GeoJSON geometry that is not a point,
    /// a line that was not UTF-8).
    pub problems: Vec<Problem>,
}

/// Rows of text under named columns, whatever the file format.
#[derive(Debug, Clone)]
pub struct Table {
    pub headers: Vec<String>,
    pub rows: Vec<Row>,
    /// `UTF-8`, `windows-1252`, or `mixed` (lines decoded one by one).
    pub encoding: &'static str,
}

impl Table {
    /// Reads `path` (`.geojson`/`.json`, else CSV; `.gz` decompressed).
    /// Malformed rows and features are reported in `report` and left out; a
    /// file that cannot be read at all is an error.
    pub fn read(path: &Path, report: &mut DatasetReport) -> Result<Table, LoadError> {
        let bytes = read_data_file(path)?;
        let name = path.to_string_lossy().to_lowercase();
        let name = name.strip_suffix(".gz").unwrap_or(&name);
        if name.ends_with(".geojson") || name.ends_with(".json") {
            geojson_table(path, &bytes, report)
        } else {
            csv_table(path, bytes, report)
        }
    }
}

/// Text of a file whose encoding is not declared: UTF-8 when every line is,
/// Windows-1252 when no line is valid non-ASCII UTF-8 (a file saved by a
/// Windows spreadsheet), else each line on its own, the Windows-1252 lines
/// listed (line numbers from 1) so that a report can name them.
pub fn decode_lines(bytes: &[u8]) -> (String, &'static str, Vec<u64>) {
    if let Ok(text) = std::str::from_utf8(bytes) {
        return (text.to_string(), "UTF-8", Vec::new());
    }
    let lines: Vec<&[u8]> = bytes.split(|&b| b == b'\n').collect();
    let utf8_non_ascii = lines
        .iter()
        .any(|l| !l.is_ascii() && std::str::from_utf8(l).is_ok());
    if !utf8_non_ascii {
        let (text, _, _) = encoding_rs::WINDOWS_1252.decode(bytes);
        return (text.into_owned(), "windows-1252", Vec::new());
    }
    let mut text = String::with_capacity(bytes.len());
    let mut other = Vec::new();
    for (i, line) in lines.iter().enumerate() {
        if i > 0 {
            text.push('\n');
        }
        match std::str::from_utf8(line) {
            Ok(l) => text.push_str(l),
            Err(_) => {
                let (l, _, _) = encoding_rs::WINDOWS_1252.decode(line);
                text.push_str(&l);
                other.push(i as u64 + 1);
            }
        }
    }
    (text, "mixed", other)
}

fn csv_table(path: &Path, bytes: Vec<u8>, report: &mut DatasetReport) -> Result<Table, LoadError> {
    let bytes = without_carriage_returns(bytes);
    let bytes = bytes.strip_prefix(b"\xEF\xBB\xBF").unwrap_or(&bytes);
    let (text, encoding, other_lines) = decode_lines(bytes);
    let delimiter = delimiter_of(text.lines().next().unwrap_or(""));
    let mut reader = csv::ReaderBuilder::new()
        .delimiter(delimiter)
        .from_reader(text.as_bytes());
    let headers: Vec<String> = reader
        .headers()
        .map_err(|e| LoadError::csv(path, e))?
        .iter()
        .map(|h| h.trim().to_string())
        .collect();
    let mut rows = Vec::new();
    let mut record = csv::StringRecord::new();
    let mut other_lines = other_lines.into_iter().peekable();
    loop {
        let line = reader.position().line();
        match reader.read_record(&mut record) {
            Ok(false) => break,
            Ok(true) => {
                let line = record.position().map_or(line, |p| p.line());
                let mut problems = Vec::new();
                while other_lines.next_if(|&l| l < line).is_some() {}
                if other_lines.next_if_eq(&line).is_some() {
                    problems.push(Problem {
                        field: "encoding",
                        reason:
                            "this line is not UTF-8 like the rest of the file: read as Windows-1252"
                                .into(),
                        action: Action::Repaired,
                    });
                }
                let values = headers
                    .iter()
                    .cloned()
                    .zip(record.iter().map(|v| v.trim().to_string()))
                    .filter(|(_, v)| !v.is_empty())
                    .collect();
                rows.push(Row {
                    position: Position::Line(line),
                    values,
                    problems,
                });
            }
            Err(e) if matches!(e.kind(), csv::ErrorKind::Io(_)) => {
                return Err(LoadError::csv(path, e));
            }
            Err(e) => {
                report.read += 1;
                let line = e.position().map_or(line, |p| p.line());
                report.issue(
                    Position::Line(line),
                    None,
                    None,
                    format!("malformed CSV record: {e}"),
                    Action::Skipped,
                );
            }
        }
    }
    Ok(Table {
        headers,
        rows,
        encoding,
    })
}

/// GeoJSON points: properties become columns, the point `lon`/`lat`.
fn geojson_table(
    path: &Path,
    bytes: &[u8],
    report: &mut DatasetReport,
) -> Result<Table, LoadError> {
    let features = crate::load::geojson_file::parse_features(path, bytes, report)?;
    let mut headers: Vec<String> = vec!["lon".into(), "lat".into()];
    let mut rows = Vec::with_capacity(features.len());
    for (index, feature) in features {
        let mut values = HashMap::new();
        let mut problems = Vec::new();
        for (k, v) in feature.properties.iter().flatten() {
            if !headers.contains(k) {
                headers.push(k.clone());
            }
            let text = match v {
                serde_json::Value::String(s) => s.trim().to_string(),
                serde_json::Value::Null => continue,
                other => other.to_string(),
            };
            if !text.is_empty() {
                values.insert(k.clone(), text);
            }
        }
        match feature.geometry.as_ref().map(|g| &g.value) {
            None => {}
            Some(geojson::GeometryValue::Point { coordinates }) if coordinates.len() >= 2 => {
                values.insert("lon".into(), coordinates[0].to_string());
                values.insert("lat".into(), coordinates[1].to_string());
            }
            Some(other) => problems.push(Problem {
                field: "geometry",
                reason: format!("geometry type {}, expected Point", other.type_name()),
                action: Action::KeptWithoutLocation,
            }),
        }
        rows.push(Row {
            position: Position::Feature(index),
            values,
            problems,
        });
    }
    Ok(Table {
        headers,
        rows,
        encoding: "UTF-8",
    })
}

/// A row as a checked record of source `source`: `Ok` with the problems
/// repaired on the way, `Err` when the row cannot be kept. The id is the
/// row's own (`Field::Id`), or empty.
pub fn record_of_row(
    row: &Row,
    mapping: &Mapping,
    source: &str,
    taxonomy: &Taxonomy,
) -> Result<(InitiativeRecord, Vec<Problem>), Problem> {
    let get = |f: Field| mapping.column(f).and_then(|c| row.values.get(c)).cloned();
    let mut problems = row.problems.clone();
    let mut coordinate = |field: Field, name: &'static str| {
        let text = get(field)?;
        let value = parse_coordinate(&text);
        if value.is_none() {
            problems.push(Problem {
                field: name,
                reason: format!("`{text}` is not a number"),
                action: Action::KeptWithoutLocation,
            });
        }
        value
    };
    let (lon, lat) = (coordinate(Field::Lon, "lon"), coordinate(Field::Lat, "lat"));
    let unparsable = problems
        .iter()
        .any(|p| p.action == Action::KeptWithoutLocation);
    let mut record = InitiativeRecord {
        id: get(Field::Id).unwrap_or_default(),
        name: get(Field::Name).unwrap_or_default(),
        brand: get(Field::Brand),
        category: String::new(),
        source_kind: get(Field::Kind),
        legal_form: get(Field::LegalForm),
        siret: get(Field::Siret),
        address: get(Field::Address),
        postcode: get(Field::Postcode),
        commune: get(Field::Commune),
        insee_code: get(Field::InseeCode),
        website: get(Field::Website),
        description: get(Field::Description),
        lon: if unparsable { None } else { lon },
        lat: if unparsable { None } else { lat },
        precision: None,
        source: source.to_string(),
        source_date: get(Field::SourceDate),
    };
    if !unparsable && lon.is_none() && lat.is_none() {
        let missing = Problem {
            field: "lon/lat",
            reason: "no coordinates".into(),
            action: Action::KeptWithoutLocation,
        };
        if mapping.column(Field::Lon).is_some() && !problems.iter().any(|p| p.field == "geometry") {
            problems.push(missing);
        }
    }
    record.category = get(Field::Category).unwrap_or_default();
    // The hints help only here: the category found is kept in the record.
    resolve_category(
        &mut record,
        taxonomy,
        &get(Field::Hints).unwrap_or_default(),
    );
    problems.extend(check(&mut record, taxonomy)?);
    Ok((record, problems))
}

/// Reports a record's problems under its key.
pub fn report_problems(
    report: &mut DatasetReport,
    position: &Position,
    key: Option<&str>,
    problems: &[Problem],
) {
    for p in problems {
        report.issue(
            position.clone(),
            key,
            Some(p.field),
            p.reason.clone(),
            p.action,
        );
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn mixed_encodings_are_decoded_line_by_line_and_named() {
        let mut bytes = "nom,commune\nÉpicerie,Paris\n".as_bytes().to_vec();
        bytes.extend_from_slice(b"R\xe9gie,Lyon\n");
        let (text, encoding, lines) = decode_lines(&bytes);
        assert_eq!(encoding, "mixed");
        assert_eq!(lines, [3]);
        assert!(
            text.contains("Épicerie") && text.contains("Régie"),
            "{text}"
        );
        let (text, encoding, _) = decode_lines(b"nom\nR\xe9gie\n");
        assert_eq!((text.as_str(), encoding), ("nom\nRégie\n", "windows-1252"));
    }
}
