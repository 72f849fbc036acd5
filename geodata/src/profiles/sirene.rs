//! SIRENE, the ESS part: the establishment stock (`StockEtablissement`)
//! joined with the legal units (`StockUniteLegale`: ESS flag, name, legal
//! category) by `siren`, and with INSEE's geolocation file
//! (`GeolocalisationEtablissement_Sirene_pour_etudes_statistiques`:
//! `x_longitude`, `y_latitude`, `plg_qp24`) by `siret`. Active
//! establishments of legal units whose `economieSocialeSolidaireUniteLegale`
//! is `O` are kept.
//!
//! The national stocks hold tens of millions of rows: each file is
//! streamed once, and only the ESS units and establishments are kept.

use std::collections::HashMap;
use std::path::Path;

use super::{INSEE_QPV_COLUMN, Kinds, LeftOut, Record, SireneFiles};
use crate::records::{Row, Rows};
use crate::report::{DatasetReport, LoadError, Position};

/// What an establishment takes from its legal unit.
#[derive(Clone)]
struct LegalUnit {
    name: Option<String>,
    legal_category: Option<String>,
}

pub(super) fn read(
    path: &Path,
    files: &SireneFiles,
    kinds: &Kinds,
    report: &mut DatasetReport,
) -> Result<Vec<Row>, LoadError> {
    let units = match &files.legal_units {
        Some(units) => Some(ess_units(units, report)?),
        None => None,
    };
    let mut left_out = LeftOut::default();
    let mut scratch = DatasetReport::new(&report.id, path);
    let mut table = Table::open(path, &mut scratch, &["siret", "siren"])?;
    let own_flag = table.has("economieSocialeSolidaireUniteLegale");
    if units.is_none() && !own_flag {
        return Err(LoadError::invalid(
            path,
            Position::Line(1),
            "the establishment stock has no `economieSocialeSolidaireUniteLegale`: give the legal units file (`--legal-units StockUniteLegale.csv`)",
        ));
    }
    let mut records: Vec<(Position, Record)> = Vec::new();
    let mut by_siret: HashMap<String, usize> = HashMap::new();
    while let Some(row) = table.next(&mut scratch)? {
        let get = |column: &str| table.get(&row, column);
        let unit = match &units {
            _ if own_flag => {
                if get("economieSocialeSolidaireUniteLegale").as_deref() != Some("O") {
                    left_out.add("unité légale hors ESS");
                    continue;
                }
                LegalUnit {
                    name: get("denominationUniteLegale"),
                    legal_category: get("categorieJuridiqueUniteLegale"),
                }
            }
            Some(units) => match get("siren").and_then(|s| units.get(&s)) {
                Some(unit) => unit.clone(),
                None => {
                    left_out.add("unité légale hors ESS");
                    continue;
                }
            },
            None => unreachable!("checked above"),
        };
        if get("etatAdministratifEtablissement").is_some_and(|s| s != "A") {
            left_out.add("établissement fermé");
            continue;
        }
        let Some(siret) = get("siret") else {
            left_out.add("sans SIRET");
            continue;
        };
        let brand = get("enseigne1Etablissement");
        let name = get("denominationUsuelleEtablissement")
            .or_else(|| unit.name.clone())
            .or_else(|| brand.clone());
        let mut r = Record::default();
        r.set("id", Some(&siret));
        r.set("siret", Some(&siret));
        r.set("name", name.as_deref());
        if brand != name {
            r.set("brand", brand.as_deref());
        }
        let street = [
            get("numeroVoieEtablissement"),
            get("indiceRepetitionEtablissement"),
        ]
        .into_iter()
        .flatten()
        .collect::<String>();
        let address = [
            Some(street),
            get("typeVoieEtablissement"),
            get("libelleVoieEtablissement"),
        ]
        .into_iter()
        .flatten()
        .filter(|p| !p.is_empty())
        .collect::<Vec<_>>()
        .join(" ");
        r.set("address", Some(&address));
        r.set("postcode", get("codePostalEtablissement").as_deref());
        r.set("commune", get("libelleCommuneEtablissement").as_deref());
        r.set("insee_code", get("codeCommuneEtablissement").as_deref());
        let activity = get("activitePrincipaleEtablissement");
        r.set("kind", activity.as_deref().and_then(|a| kinds.by_prefix(a)));
        r.set("hints", activity.as_deref());
        r.set(
            "legal_form",
            unit.legal_category.as_deref().map(legal_form).as_deref(),
        );
        r.set(
            "source_date",
            get("dateDernierTraitementEtablissement").as_deref(),
        );
        by_siret.insert(siret, records.len());
        records.push((row.position.clone(), r));
    }
    report.absorb(scratch);
    report.read += left_out.total();
    left_out.note("establishments", report);
    if let Some(geolocation) = &files.geolocation {
        locate(geolocation, &by_siret, &mut records, report)?;
    }
    Ok(records
        .into_iter()
        .map(|(position, r)| r.into_row(position))
        .collect())
}

/// The legal units flagged ESS, by SIREN.
fn ess_units(
    path: &Path,
    report: &mut DatasetReport,
) -> Result<HashMap<String, LegalUnit>, LoadError> {
    let mut scratch = DatasetReport::new(&report.id, path);
    let mut table = Table::open(
        path,
        &mut scratch,
        &["siren", "economieSocialeSolidaireUniteLegale"],
    )?;
    let mut units = HashMap::new();
    let mut read = 0usize;
    while let Some(row) = table.next(&mut scratch)? {
        read += 1;
        if table
            .get(&row, "economieSocialeSolidaireUniteLegale")
            .as_deref()
            != Some("O")
        {
            continue;
        }
        let Some(siren) = table.get(&row, "siren") else {
            continue;
        };
        let name = table.get(&row, "denominationUniteLegale").or_else(|| {
            let first = table.get(&row, "prenomUsuelUniteLegale")?;
            Some(format!(
                "{first} {}",
                table.get(&row, "nomUniteLegale").unwrap_or_default()
            ))
        });
        units.insert(
            siren,
            LegalUnit {
                name,
                legal_category: table.get(&row, "categorieJuridiqueUniteLegale"),
            },
        );
    }
    report.notes.push(format!(
        "{}: {read} legal units read, {} in the ESS",
        path.file_name()
            .map_or_else(String::new, |n| n.to_string_lossy().into_owned()),
        units.len()
    ));
    report.issues.extend(scratch.issues);
    Ok(units)
}

/// Coordinates and INSEE's QPV from the geolocation file, for the
/// establishments kept.
fn locate(
    path: &Path,
    by_siret: &HashMap<String, usize>,
    records: &mut [(Position, Record)],
    report: &mut DatasetReport,
) -> Result<(), LoadError> {
    let mut scratch = DatasetReport::new(&report.id, path);
    let mut table = Table::open(path, &mut scratch, &["siret", "x_longitude", "y_latitude"])?;
    let qpv_column = ["plg_qp24", "plg_qp"].into_iter().find(|c| table.has(c));
    let mut found = 0;
    while let Some(row) = table.next(&mut scratch)? {
        let Some(&i) = table.get(&row, "siret").and_then(|s| by_siret.get(&s)) else {
            continue;
        };
        let r = &mut records[i].1;
        r.set("lon", table.get(&row, "x_longitude").as_deref());
        r.set("lat", table.get(&row, "y_latitude").as_deref());
        if let Some(c) = qpv_column {
            r.set(INSEE_QPV_COLUMN, table.get(&row, c).as_deref());
        }
        found += 1;
    }
    report.notes.push(format!(
        "{}: {found} of {} establishments geolocated by INSEE{}",
        path.file_name()
            .map_or_else(String::new, |n| n.to_string_lossy().into_owned()),
        records.len(),
        match qpv_column {
            Some(c) => format!(", QPV given in `{c}`"),
            None => ", no QPV column (no cross-check)".to_string(),
        }
    ));
    report.issues.extend(scratch.issues);
    Ok(())
}

/// The legal form of an INSEE legal category (`9220` → association).
fn legal_form(category: &str) -> String {
    let name = match category.get(..2).unwrap_or(category) {
        "92" => "Association",
        "93" => "Fondation",
        "82" | "83" => "Mutuelle",
        "51" | "52" | "53" | "54" | "55" | "56" | "57" | "58" => "Société",
        "63" => "Société coopérative agricole",
        _ => return format!("catégorie juridique {category}"),
    };
    match category {
        "5458" | "5558" | "5658" | "5758" => "Société coopérative de production (SCOP)".to_string(),
        "5459" | "5559" | "5659" | "5759" => {
            "Société coopérative d'intérêt collectif (SCIC)".to_string()
        }
        _ => name.to_string(),
    }
}

/// A CSV file of a national stock, read row by row, with its columns by name.
struct Table {
    rows: Rows,
    path: std::path::PathBuf,
    index: HashMap<String, usize>,
}

impl Table {
    fn open(
        path: &Path,
        report: &mut DatasetReport,
        required: &[&str],
    ) -> Result<Table, LoadError> {
        let rows = Rows::open(path, report)?;
        let index: HashMap<String, usize> = rows
            .headers
            .iter()
            .enumerate()
            .map(|(i, h)| (h.clone(), i))
            .collect();
        if let Some(missing) = required.iter().find(|c| !index.contains_key(**c)) {
            return Err(LoadError::invalid(
                path,
                Position::Line(1),
                format!(
                    "no column `{missing}`: not the INSEE schema this file should follow (columns: {})",
                    rows.headers.join(", ")
                ),
            ));
        }
        Ok(Table {
            rows,
            path: path.to_path_buf(),
            index,
        })
    }

    fn has(&self, column: &str) -> bool {
        self.index.contains_key(column)
    }

    fn next(&mut self, report: &mut DatasetReport) -> Result<Option<Row>, LoadError> {
        self.rows.next(&self.path, report)
    }

    fn get(&self, row: &Row, column: &str) -> Option<String> {
        row.get(*self.index.get(column)?).map(str::to_string)
    }
}
