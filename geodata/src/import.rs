//! Reading an inventory to import (CSV in UTF-8 or Windows-1252, `,` or `;`,
//! or GeoJSON points): mapping its columns, checking each row, and giving
//! each a stable key. No geocoding and no storage here.

use std::collections::{BTreeMap, HashMap};
use std::path::Path;

use serde::{Deserialize, Serialize};

use crate::category::Taxonomy;
use crate::load::csv_file::{delimiter_of, without_carriage_returns};
use crate::model::{InitiativeRecord, Precision};
use crate::report::{Action, DatasetReport, LoadError, Position};
use crate::text::fold;

/// What a column can hold.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Field {
    Id,
    Name,
    Address,
    Postcode,
    Commune,
    InseeCode,
    Lon,
    Lat,
    Category,
    Siret,
    Website,
    Description,
    LegalForm,
}

impl Field {
    /// Column names recognised without a mapping file (folded: lower case,
    /// no accents, `_`/`-` as spaces).
    fn synonyms(self) -> &'static [&'static str] {
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
            Field::Category => &["category", "categorie", "type", "kind", "type de structure"],
            Field::Siret => &["siret", "numero siret", "n siret"],
            Field::Website => &["website", "site", "site web", "site internet", "url"],
            Field::Description => &["description", "activite", "activites", "presentation"],
            Field::LegalForm => &[
                "legal form",
                "forme juridique",
                "statut",
                "statut juridique",
            ],
        }
    }

    const ALL: [Field; 13] = [
        Field::Id,
        Field::Name,
        Field::Address,
        Field::Postcode,
        Field::Commune,
        Field::InseeCode,
        Field::Lon,
        Field::Lat,
        Field::Category,
        Field::Siret,
        Field::Website,
        Field::Description,
        Field::LegalForm,
    ];
}

/// Which column holds which field.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
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

    fn column(&self, field: Field) -> Option<&str> {
        self.columns.get(&field).map(String::as_str)
    }
}

/// One row to import, checked.
#[derive(Debug, Clone, PartialEq)]
pub struct ImportRow {
    pub position: Position,
    /// Stable across re-imports of the source: `siret:…`, else `id:…`, else
    /// `name:<folded name>|<folded address>`.
    pub key: String,
    /// Its fields; `id` is empty (the store assigns it), `lon`/`lat` empty
    /// when the row must be geocoded.
    pub record: InitiativeRecord,
}

/// A file read for import.
#[derive(Debug)]
pub struct ImportFile {
    pub rows: Vec<ImportRow>,
    pub report: DatasetReport,
    pub mapping: Mapping,
    /// `UTF-8` or `windows-1252`.
    pub encoding: &'static str,
}

/// Reads `path` (`.geojson`/`.json`, else CSV) for source `source`.
pub fn read_import(
    path: &Path,
    source: &str,
    mapping: Option<&Mapping>,
    taxonomy: &Taxonomy,
) -> Result<ImportFile, LoadError> {
    let bytes = without_carriage_returns(std::fs::read(path).map_err(|e| LoadError::io(path, e))?);
    let bytes = bytes.strip_prefix(b"\xEF\xBB\xBF").unwrap_or(&bytes);
    let (text, encoding) = match std::str::from_utf8(bytes) {
        Ok(t) => (t.to_string(), "UTF-8"),
        Err(_) => {
            let (t, _, _) = encoding_rs::WINDOWS_1252.decode(bytes);
            (t.into_owned(), "windows-1252")
        }
    };
    let is_geojson = path
        .extension()
        .and_then(|e| e.to_str())
        .is_some_and(|e| e.eq_ignore_ascii_case("geojson") || e.eq_ignore_ascii_case("json"));
    let table = if is_geojson {
        geojson_table(path, &text)?
    } else {
        csv_table(path, &text)?
    };
    let mut detected = Mapping::detect(table.headers.iter().map(String::as_str));
    if let Some(m) = mapping {
        for (field, column) in &m.columns {
            if !table.headers.contains(column) {
                return Err(LoadError::invalid(
                    path,
                    Position::Line(1),
                    format!("mapping: no column `{column}` for {field:?}"),
                ));
            }
            detected.columns.insert(*field, column.clone());
        }
    }
    if detected.column(Field::Name).is_none() {
        return Err(LoadError::invalid(
            path,
            Position::Line(1),
            format!(
                "no column for the name (looked for {}); give one in a mapping file",
                Field::Name.synonyms().join(", ")
            ),
        ));
    }
    let mut report = DatasetReport::new(source, path);
    let rows = check_rows(&table, &detected, source, taxonomy, &mut report);
    Ok(ImportFile {
        rows,
        report,
        mapping: detected,
        encoding,
    })
}

/// Rows of strings under named columns, whatever the file format.
struct Table {
    headers: Vec<String>,
    rows: Vec<(Position, HashMap<String, String>)>,
}

fn csv_table(path: &Path, text: &str) -> Result<Table, LoadError> {
    let delimiter = delimiter_of(text.lines().next().unwrap_or(""));
    let mut reader = csv::ReaderBuilder::new()
        .delimiter(delimiter)
        .flexible(true)
        .from_reader(text.as_bytes());
    let headers: Vec<String> = reader
        .headers()
        .map_err(|e| LoadError::csv(path, e))?
        .iter()
        .map(|h| h.trim().to_string())
        .collect();
    let mut rows = Vec::new();
    for record in reader.records() {
        let record = record.map_err(|e| LoadError::csv(path, e))?;
        let line = record.position().map_or(0, |p| p.line());
        let values = headers
            .iter()
            .cloned()
            .zip(record.iter().map(|v| v.trim().to_string()))
            .filter(|(_, v)| !v.is_empty())
            .collect();
        rows.push((Position::Line(line), values));
    }
    Ok(Table { headers, rows })
}

/// GeoJSON points: properties become columns, the point `lon`/`lat`.
fn geojson_table(path: &Path, text: &str) -> Result<Table, LoadError> {
    let collection: geojson::FeatureCollection = text
        .parse::<geojson::GeoJson>()
        .map_err(|e| LoadError::invalid(path, Position::File, e.to_string()))?
        .try_into()
        .map_err(|e: geojson::Error| LoadError::invalid(path, Position::File, e.to_string()))?;
    let mut headers: Vec<String> = vec!["lon".into(), "lat".into()];
    let mut rows = Vec::new();
    for (i, feature) in collection.features.iter().enumerate() {
        let mut values = HashMap::new();
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
        if let Some(geojson::GeometryValue::Point { coordinates }) =
            feature.geometry.as_ref().map(|g| &g.value)
        {
            values.insert("lon".into(), coordinates[0].to_string());
            values.insert("lat".into(), coordinates[1].to_string());
        }
        rows.push((Position::Feature(i), values));
    }
    Ok(Table { headers, rows })
}

fn check_rows(
    table: &Table,
    mapping: &Mapping,
    source: &str,
    taxonomy: &Taxonomy,
    report: &mut DatasetReport,
) -> Vec<ImportRow> {
    // A SIRET repeated in the file cannot key its rows (two ESAT sites of one
    // establishment): those rows are keyed by their id, or name and address.
    let mut siret_count: HashMap<String, usize> = HashMap::new();
    for (_, values) in &table.rows {
        if let Some(s) = mapping.column(Field::Siret).and_then(|c| values.get(c)) {
            *siret_count.entry(s.replace(' ', "")).or_default() += 1;
        }
    }
    let mut seen: HashMap<String, Position> = HashMap::new();
    let mut rows = Vec::new();
    for (position, values) in &table.rows {
        report.read += 1;
        let get = |f: Field| mapping.column(f).and_then(|c| values.get(c)).cloned();
        let Some(name) = get(Field::Name) else {
            report.issue(
                position.clone(),
                None,
                Some("name"),
                "empty",
                Action::Skipped,
            );
            continue;
        };
        let mut issue = |field: &str, reason: String, action: Action| {
            report.issue(position.clone(), Some(&name), Some(field), reason, action);
        };
        let siret = get(Field::Siret).map(|s| s.replace(' ', "")).filter(|s| {
            let ok = s.len() == 14 && s.bytes().all(|b| b.is_ascii_digit());
            if !ok {
                issue(
                    "siret",
                    format!("`{s}` is not 14 digits"),
                    Action::KeptWithoutField,
                );
            }
            ok
        });
        let postcode = get(Field::Postcode).filter(|p| {
            let ok = p.len() == 5 && p.bytes().all(|b| b.is_ascii_digit());
            if !ok {
                issue(
                    "postcode",
                    format!("`{p}` is not a 5-digit postcode"),
                    Action::KeptWithoutField,
                );
            }
            ok
        });
        let coordinate =
            |field: Field, name: &str, limit: f64, issue: &mut dyn FnMut(&str, String, Action)| {
                let text = get(field)?;
                match text.replace(',', ".").parse::<f64>() {
                    Ok(v) if v.is_finite() && v.abs() <= limit => Some(v),
                    _ => {
                        issue(
                            name,
                            format!("`{text}` is not a coordinate within ±{limit}"),
                            Action::KeptWithoutLocation,
                        );
                        None
                    }
                }
            };
        let lon = coordinate(Field::Lon, "lon", 180.0, &mut issue);
        let lat = coordinate(Field::Lat, "lat", 90.0, &mut issue);
        let (lon, lat) = match (lon, lat) {
            (Some(0.0), Some(0.0)) => {
                issue(
                    "lon/lat",
                    "(0, 0) is not a place in France".into(),
                    Action::KeptWithoutLocation,
                );
                (None, None)
            }
            (Some(x), Some(y)) => (Some(x), Some(y)),
            _ => (None, None),
        };
        // The category column holds a category id or label, or a source kind
        // (`ESAT`, `ACI`) that the taxonomy files.
        let kind = get(Field::Category);
        let category = kind
            .as_deref()
            .and_then(|k| {
                let folded = fold(k);
                taxonomy
                    .all()
                    .iter()
                    .find(|c| c.id == k || fold(&c.label) == folded)
            })
            .map(|c| c.id.clone())
            .unwrap_or_else(|| {
                taxonomy
                    .classify(kind.as_deref().unwrap_or(""), &name)
                    .id
                    .clone()
            });
        let address = get(Field::Address);
        let id = get(Field::Id);
        let key = match (&siret, &id) {
            (Some(s), _) if siret_count.get(s) == Some(&1) => format!("siret:{s}"),
            (_, Some(id)) => format!("id:{id}"),
            _ => format!(
                "name:{}|{}",
                fold(&name),
                fold(address.as_deref().unwrap_or(""))
            ),
        };
        if let Some(first) = seen.get(&key) {
            issue(
                "key",
                format!("same key `{key}` as {first}: a duplicate row"),
                Action::Skipped,
            );
            continue;
        }
        seen.insert(key.clone(), position.clone());
        report.loaded += 1;
        if lon.is_none() {
            report.without_location += 1;
        }
        rows.push(ImportRow {
            position: position.clone(),
            key,
            record: InitiativeRecord {
                id: String::new(),
                name,
                category,
                source_kind: kind,
                legal_form: get(Field::LegalForm),
                siret,
                address,
                postcode,
                commune: get(Field::Commune),
                insee_code: get(Field::InseeCode),
                website: get(Field::Website),
                description: get(Field::Description),
                lon,
                lat,
                precision: lon.map(|_| Precision::Source),
                source: source.to_string(),
                source_date: None,
            },
        });
    }
    rows
}

#[cfg(test)]
mod tests {
    use super::*;

    fn taxonomy() -> Taxonomy {
        let path = Path::new(env!("CARGO_MANIFEST_DIR")).join("../data/categories.toml");
        Taxonomy::from_file(&path).unwrap()
    }

    #[test]
    fn detects_french_columns_in_windows_1252_with_semicolons() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("inventaire.csv");
        // "Régie" and "Villeurbanne" in Windows-1252 (é = 0xE9).
        let mut bytes = b"Raison sociale;Adresse;Code postal;Ville;SIRET;Cat\xe9gorie\n".to_vec();
        bytes.extend_from_slice(b"R\xe9gie de quartier Est;3 rue Paul Verlaine;69100;Villeurbanne;123 456 789 00012;ACI\n");
        bytes.extend_from_slice(b";1 rue X;69100;Villeurbanne;;\n");
        bytes.extend_from_slice(b"Atelier;2 rue Y;6910;Villeurbanne;12;ESAT\n");
        bytes.extend_from_slice(
            b"R\xe9gie de quartier Est;3 rue Paul Verlaine;69100;Villeurbanne;12345678900012;ACI\n",
        );
        bytes.extend_from_slice(
            b"Recyclerie du Pont;5 quai Y;69100;Villeurbanne;98765432100019;ACI\n",
        );
        std::fs::write(&path, bytes).unwrap();
        let file = read_import(&path, "inventaire", None, &taxonomy()).unwrap();
        assert_eq!(file.encoding, "windows-1252");
        assert_eq!(file.mapping.columns[&Field::Name], "Raison sociale");
        assert_eq!(file.mapping.columns[&Field::Category], "Catégorie");
        assert_eq!(file.rows.len(), 3);
        // Its SIRET is repeated (line 5): keyed by name and address instead.
        let regie = &file.rows[0];
        assert_eq!(regie.key, "name:regie de quartier est|3 rue paul verlaine");
        assert_eq!(file.rows[2].key, "siret:98765432100019");
        assert_eq!(file.rows[2].record.category, "recyclerie");
        assert_eq!(regie.record.name, "Régie de quartier Est");
        assert_eq!(regie.record.category, "regie_quartier");
        assert_eq!(regie.record.lon, None);
        let atelier = &file.rows[1];
        assert_eq!(atelier.record.category, "travail_adapte");
        assert_eq!(atelier.record.postcode, None);
        assert_eq!(atelier.key, "name:atelier|2 rue y");
        let reasons: Vec<String> = file.report.issues.iter().map(|i| i.to_string()).collect();
        assert!(
            reasons[0].contains("line 3") && reasons[0].contains("name"),
            "{reasons:?}"
        );
        assert!(
            reasons
                .iter()
                .any(|r| r.contains("line 4") && r.contains("postcode"))
        );
        assert!(
            reasons
                .iter()
                .any(|r| r.contains("line 4") && r.contains("siret"))
        );
        assert!(
            reasons
                .iter()
                .any(|r| r.contains("line 5") && r.contains("duplicate"))
        );
    }

    #[test]
    fn a_mapping_file_overrides_detection() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("a.csv");
        std::fs::write(
            &path,
            "Libellé,Où,X,Y\nGarage solidaire,Toulouse,1.44,43.6\n",
        )
        .unwrap();
        let mapping =
            Mapping::from_toml("[columns]\nname = \"Libellé\"\ncommune = \"Où\"\n").unwrap();
        let file = read_import(&path, "a", Some(&mapping), &taxonomy()).unwrap();
        let row = &file.rows[0].record;
        assert_eq!(
            (row.name.as_str(), row.commune.as_deref()),
            ("Garage solidaire", Some("Toulouse"))
        );
        assert_eq!(
            (row.lon, row.lat, row.precision),
            (Some(1.44), Some(43.6), Some(Precision::Source))
        );
        assert_eq!(row.category, "garage_mobilite");
        let wrong = Mapping::from_toml("[columns]\nname = \"Nom\"\n").unwrap();
        let err = read_import(&path, "a", Some(&wrong), &taxonomy()).unwrap_err();
        assert!(err.to_string().contains("no column `Nom`"), "{err}");
    }
}
