//! Reading an inventory to import (CSV in UTF-8 or Windows-1252, `,` or `;`,
//! or GeoJSON points): the rows of [`crate::records`], each checked and given
//! a stable key. No geocoding and no storage here.

use std::collections::HashMap;
use std::path::Path;

use crate::category::Taxonomy;
use crate::initiative::InitiativeRecord;
use crate::profiles::qpv_check::{Answer, QpvCheck};
use crate::profiles::{INSEE_QPV_COLUMN, Profile};
use crate::records::{Columns, Rows, record_of_row, report_problems};
use crate::report::{Action, DatasetReport, LoadError, Position};
use crate::territory::Territory;
use crate::text::fold;

pub use crate::records::Mapping;

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
    /// The file's columns, in order.
    pub headers: Vec<String>,
    /// Which column each field was read from.
    pub mapping: Mapping,
    /// `UTF-8`, `windows-1252`, or `mixed` (each line read on its own; the
    /// lines not in UTF-8 are in the report).
    pub encoding: &'static str,
}

/// Reads `path` (`.geojson`/`.json`, else CSV) for source `source`.
pub fn read_import(
    path: &Path,
    source: &str,
    mapping: Option<&Mapping>,
    taxonomy: &Taxonomy,
) -> Result<ImportFile, LoadError> {
    let mut report = DatasetReport::new(source, path);
    let rows = Rows::open(path, &mut report)?;
    read_import_rows(rows, report, path, source, mapping, taxonomy)
}

/// The same for rows read by another reader (a workbook's first sheet),
/// `path` naming them in messages.
pub fn read_import_rows(
    rows: Rows,
    report: DatasetReport,
    path: &Path,
    source: &str,
    mapping: Option<&Mapping>,
    taxonomy: &Taxonomy,
) -> Result<ImportFile, LoadError> {
    let mapping = Mapping::for_headers(&rows.headers, mapping, path)?;
    let (file, _) = checked(rows, path, source, mapping, taxonomy, report)?;
    Ok(file)
}

/// Reads `path` as the national inventory of `profile`, for source
/// `source`; where the file gives INSEE's QPV of each row (SIRENE), the
/// comparison with ess-map's own.
pub fn read_profile(
    path: &Path,
    source: &str,
    profile: &Profile,
    territory: &Territory,
) -> Result<(ImportFile, Option<QpvCheck>), LoadError> {
    let mut report = DatasetReport::new(source, path);
    let rows = profile.read(path, &territory.taxonomy, &mut report)?;
    let (file, answers) = checked(
        rows,
        path,
        source,
        Profile::mapping(),
        &territory.taxonomy,
        report,
    )?;
    let check = (!answers.is_empty()).then(|| QpvCheck::run(territory, answers));
    Ok((file, check))
}

/// Each row checked and keyed; and INSEE's QPV of the rows with
/// coordinates, when the rows carry it.
fn checked(
    mut rows: Rows,
    path: &Path,
    source: &str,
    mapping: Mapping,
    taxonomy: &Taxonomy,
    mut report: DatasetReport,
) -> Result<(ImportFile, Vec<Answer>), LoadError> {
    let columns = Columns::of(&mapping, &rows.headers);
    let headers = rows.headers.clone();
    let insee_qpv = rows.headers.iter().position(|h| h == INSEE_QPV_COLUMN);
    let mut answers = Vec::new();
    let mut checked = Vec::new();
    while let Some(row) = rows.next(path, &mut report)? {
        report.read += 1;
        match record_of_row(&row, &columns, source, taxonomy) {
            Ok((record, problems)) => {
                // Rows without coordinates are placed later (geocoder or
                // commune): not a problem of the file.
                let shown: Vec<_> = problems
                    .into_iter()
                    .filter(|p| !(p.field == "lon/lat" && p.reason == "no coordinates"))
                    .collect();
                report_problems(&mut report, &row.position, Some(&record.name), &shown);
                if let (Some(insee), Some(lon), Some(lat)) =
                    (insee_qpv.and_then(|i| row.get(i)), record.lon, record.lat)
                {
                    answers.push(Answer {
                        position: row.position.clone(),
                        name: record.name.clone(),
                        at: geo::coord! { x: lon, y: lat },
                        insee: insee.to_string(),
                    });
                }
                checked.push((row.position, record));
            }
            Err(p) => report.issue(row.position, None, Some(p.field), p.reason, p.action),
        }
    }
    let encoding = rows.encoding(&mut report);
    let rows = keyed(checked, &mut report);
    Ok((
        ImportFile {
            rows,
            report,
            headers,
            mapping,
            encoding,
        },
        answers,
    ))
}

/// Each row's stable key; rows whose key repeats an earlier one's are skipped.
fn keyed(rows: Vec<(Position, InitiativeRecord)>, report: &mut DatasetReport) -> Vec<ImportRow> {
    // A SIRET repeated in the file cannot key its rows (two ESAT sites of one
    // establishment): those rows are keyed by their id, or name and address.
    let mut siret_count: HashMap<String, usize> = HashMap::new();
    for (_, r) in &rows {
        if let Some(s) = &r.siret {
            *siret_count.entry(s.clone()).or_default() += 1;
        }
    }
    let mut seen: HashMap<String, Position> = HashMap::new();
    let mut out = Vec::with_capacity(rows.len());
    for (position, mut record) in rows {
        let source_id = std::mem::take(&mut record.id);
        let key = match (&record.siret, source_id.is_empty()) {
            (Some(s), _) if siret_count.get(s) == Some(&1) => format!("siret:{s}"),
            (_, false) => format!("id:{source_id}"),
            _ => format!(
                "name:{}|{}",
                fold(&record.name),
                fold(record.address.as_deref().unwrap_or(""))
            ),
        };
        if let Some(first) = seen.get(&key) {
            report.issue(
                position,
                Some(&record.name),
                Some("key"),
                format!("same key `{key}` as {first}: a duplicate row"),
                Action::Skipped,
            );
            continue;
        }
        seen.insert(key.clone(), position.clone());
        report.loaded += 1;
        out.push(ImportRow {
            position,
            key,
            record,
        });
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::Precision;
    use crate::records::Field;

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
