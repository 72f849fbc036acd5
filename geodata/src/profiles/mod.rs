//! Import profiles: national inventories read by their published schema
//! (`--profile data-inclusion`, `--profile sirene-ess`) into rows of the
//! columns every profile writes, then checked like any import
//! ([`crate::import`]). The taxonomy's `[profile.<name>]` table says which
//! of the source's kinds are kept and what they stand for.

mod data_inclusion;
pub mod qpv_check;
mod sirene;

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use crate::category::Taxonomy;
use crate::records::{Field, Mapping, Row, Rows};
use crate::report::{DatasetReport, LoadError, Position};

/// A national inventory's schema.
#[derive(Debug, Clone)]
pub enum Profile {
    /// data·inclusion structures, schema v1 (CSV or JSON).
    DataInclusion,
    /// INSEE's SIRENE establishment stock, joined with the legal units
    /// (ESS flag, name) and the geolocation file (coordinates, `plg_qp24`).
    SireneEss(SireneFiles),
}

/// The SIRENE files joined to the establishment stock.
#[derive(Debug, Clone)]
pub struct SireneFiles {
    /// `StockUniteLegale` (`siren`, `economieSocialeSolidaireUniteLegale`,
    /// `denominationUniteLegale`, `categorieJuridiqueUniteLegale`); not
    /// needed when the establishment file carries those columns itself.
    pub legal_units: Option<PathBuf>,
    /// `GeolocalisationEtablissement_Sirene_pour_etudes_statistiques`
    /// (`siret`, `x_longitude`, `y_latitude`, `plg_qp24`).
    pub geolocation: Option<PathBuf>,
}

impl Profile {
    pub fn name(&self) -> &'static str {
        match self {
            Profile::DataInclusion => "data-inclusion",
            Profile::SireneEss(_) => "sirene-ess",
        }
    }

    /// The rows of `path` in the profile's columns ([`Profile::mapping`]);
    /// what is left out is counted in `report`.
    pub fn read(
        &self,
        path: &Path,
        taxonomy: &Taxonomy,
        report: &mut DatasetReport,
    ) -> Result<Rows, LoadError> {
        let kinds = taxonomy
            .profile_kinds(self.name())
            .cloned()
            .unwrap_or_default();
        let kinds = Kinds::new(kinds);
        let rows = match self {
            Profile::DataInclusion => data_inclusion::read(path, &kinds, report)?,
            Profile::SireneEss(files) => sirene::read(path, files, &kinds, report)?,
        };
        Ok(Rows::held(
            COLUMNS.iter().map(|(_, name)| name.to_string()).collect(),
            rows,
        ))
    }

    /// Which column holds which field in the rows [`Profile::read`] makes.
    pub fn mapping() -> Mapping {
        Mapping {
            columns: COLUMNS
                .iter()
                .filter_map(|(field, name)| Some(((*field)?, name.to_string())))
                .collect(),
        }
    }
}

/// The columns a profile writes; the last, INSEE's own QPV of the
/// establishment, is for the cross-check only.
const COLUMNS: [(Option<Field>, &str); 18] = [
    (Some(Field::Id), "id"),
    (Some(Field::Name), "name"),
    (Some(Field::Brand), "brand"),
    (Some(Field::Siret), "siret"),
    (Some(Field::Address), "address"),
    (Some(Field::Postcode), "postcode"),
    (Some(Field::Commune), "commune"),
    (Some(Field::InseeCode), "insee_code"),
    (Some(Field::Lon), "lon"),
    (Some(Field::Lat), "lat"),
    (Some(Field::Kind), "kind"),
    (Some(Field::Website), "website"),
    (Some(Field::Description), "description"),
    (Some(Field::OpeningHours), "opening_hours"),
    (Some(Field::LegalForm), "legal_form"),
    (Some(Field::SourceDate), "source_date"),
    (Some(Field::Hints), "hints"),
    (None, INSEE_QPV_COLUMN),
];

/// The column of the QPV INSEE assigns an establishment (`plg_qp24`).
pub const INSEE_QPV_COLUMN: &str = "insee_qpv";

/// A row being made in the profile's columns.
#[derive(Default)]
struct Record {
    values: BTreeMap<&'static str, String>,
}

impl Record {
    fn set(&mut self, column: &'static str, value: Option<&str>) {
        if let Some(v) = value.map(str::trim).filter(|v| !v.is_empty()) {
            self.values.insert(column, v.to_string());
        }
    }

    fn get(&self, column: &str) -> Option<&str> {
        self.values.get(column).map(String::as_str)
    }

    fn into_row(self, position: Position) -> Row {
        let mut values = self.values;
        Row::new(
            position,
            COLUMNS
                .iter()
                .map(|(_, name)| values.remove(name).unwrap_or_default())
                .collect(),
        )
    }
}

/// The source's words for a kind of structure, folded to lower case, and
/// the source kind each stands for.
struct Kinds(BTreeMap<String, String>);

impl Kinds {
    fn new(table: BTreeMap<String, String>) -> Kinds {
        Kinds(
            table
                .into_iter()
                .map(|(k, v)| (k.to_lowercase(), v))
                .collect(),
        )
    }

    fn get(&self, word: &str) -> Option<&str> {
        self.0.get(&word.trim().to_lowercase()).map(String::as_str)
    }

    /// The kind of the longest listed prefix of `code` (NAF codes, dots
    /// ignored on both sides).
    fn by_prefix(&self, code: &str) -> Option<&str> {
        let code: String = code.chars().filter(|c| *c != '.').collect();
        self.0
            .iter()
            .filter(|(prefix, _)| {
                let prefix: String = prefix.chars().filter(|c| *c != '.').collect();
                code.to_lowercase().starts_with(&prefix)
            })
            .max_by_key(|(prefix, _)| prefix.len())
            .map(|(_, kind)| kind.as_str())
    }
}

/// Counts of what was left out, by reason, for the report's notes.
#[derive(Default)]
struct LeftOut(BTreeMap<String, usize>);

impl LeftOut {
    fn add(&mut self, reason: impl Into<String>) {
        *self.0.entry(reason.into()).or_default() += 1;
    }

    fn total(&self) -> usize {
        self.0.values().sum()
    }

    /// One note: the total, then the commonest reasons.
    fn note(self, what: &str, report: &mut DatasetReport) {
        let total = self.total();
        if total == 0 {
            return;
        }
        let mut reasons: Vec<(String, usize)> = self.0.into_iter().collect();
        reasons.sort_by(|a, b| b.1.cmp(&a.1).then(a.0.cmp(&b.0)));
        let shown: Vec<String> = reasons
            .iter()
            .take(8)
            .map(|(reason, n)| format!("{reason}: {n}"))
            .collect();
        let more = if reasons.len() > 8 { ", …" } else { "" };
        report.notes.push(format!(
            "{total} {what} left out ({}{more})",
            shown.join(", ")
        ));
    }
}

/// A list written as JSON (`["aci","ei"]`), PostgreSQL (`{aci,ei}`) or
/// plain text (`aci, ei` or `aci|ei`).
fn list_of(text: &str) -> Vec<String> {
    text.trim()
        .trim_start_matches(['[', '{'])
        .trim_end_matches([']', '}'])
        .split([',', ';', '|'])
        .map(|v| v.trim().trim_matches('"').trim().to_string())
        .filter(|v| !v.is_empty())
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn lists_are_read_in_every_usual_spelling() {
        for text in [r#"["aci","ei"]"#, "{aci,ei}", "aci, ei", "aci|ei"] {
            assert_eq!(list_of(text), ["aci", "ei"], "{text}");
        }
        assert!(list_of("[]").is_empty());
    }

    #[test]
    fn the_longest_naf_prefix_gives_the_kind() {
        let kinds = Kinds::new(BTreeMap::from([
            ("56.10".to_string(), "restauration".to_string()),
            ("56.10C".to_string(), "snack".to_string()),
        ]));
        assert_eq!(kinds.by_prefix("56.10A"), Some("restauration"));
        assert_eq!(kinds.by_prefix("5610C"), Some("snack"));
        assert_eq!(kinds.by_prefix("88.10C"), None);
    }
}
