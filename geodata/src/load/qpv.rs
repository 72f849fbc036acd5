//! QPV from the official files: outlines (ANCT 2024 and CGET 2015 schemas),
//! the national list, INSEE population.

use rayon::prelude::*;
use std::collections::HashMap;
use std::path::Path;

use geojson::JsonObject;

use super::csv_file::CsvTable;
use super::geojson_file::{property, read_features};
use super::geometry::check_polygonal;
use crate::manifest::DatasetEntry;
use crate::model::{CommuneRef, Departement, Qpv, QpvGeometry};
use crate::report::{Action, DatasetReport, LoadError, Position};

/// QPV being assembled from several datasets, by code.
#[derive(Default)]
pub(crate) struct QpvBuilder {
    pub qpvs: Vec<Qpv>,
    by_code: HashMap<String, usize>,
}

/// The property names of one official outline schema.
struct Schema {
    name: &'static str,
    departement: &'static str,
}

/// ANCT 2024 (`code_qp, lib_qp, lib_com, insee_dep, insee_com`).
const ANCT_2024: Schema = Schema {
    name: "lib_qp",
    departement: "insee_dep",
};
/// CGET 2015 (`code_qp, nom_qp, commune_qp, code_commune, nom_commune, code_departement`).
const CGET_2015: Schema = Schema {
    name: "nom_qp",
    departement: "code_departement",
};

impl QpvBuilder {
    /// Loads a `qpv_polygons` dataset.
    pub fn add_polygons(
        &mut self,
        entry: &DatasetEntry,
        path: &Path,
        report: &mut DatasetReport,
    ) -> Result<(), LoadError> {
        let features = read_features(path, report)?;
        // Outlines checked (and repaired) on every core: at national scale
        // this is most of the territory's start-up.
        let outlines: Vec<_> = features
            .par_iter()
            .map(|(_, feature)| {
                check_polygonal(feature.geometry.as_ref())
                    .map(|checked| (QpvGeometry::new(checked.geometry), checked.repairs))
            })
            .collect();
        for ((index, feature), outline) in features.into_iter().zip(outlines) {
            let position = Position::Feature(index);
            let props = feature.properties.as_ref();
            let Some(code) = property(props, "code_qp") else {
                report.issue(
                    position,
                    None,
                    Some("code_qp"),
                    "missing QPV code",
                    Action::Skipped,
                );
                continue;
            };
            let schema = if props.is_some_and(|p| p.contains_key("nom_qp")) {
                &CGET_2015
            } else {
                &ANCT_2024
            };
            let Some(name) = property(props, schema.name) else {
                report.issue(
                    position,
                    Some(&code),
                    Some(schema.name),
                    "missing QPV name",
                    Action::Skipped,
                );
                continue;
            };
            let Some(generation) = entry
                .generation
                .or_else(|| Qpv::generation_from_code(&code))
            else {
                report.issue(
                    position,
                    Some(&code),
                    Some("code_qp"),
                    "code starts with neither QP (2015) nor QN (2024) and the manifest sets no generation",
                    Action::Skipped,
                );
                continue;
            };
            let Some(departement) =
                property(props, schema.departement).or_else(|| Qpv::departement_from_code(&code))
            else {
                report.issue(
                    position,
                    Some(&code),
                    Some(schema.departement),
                    "no département",
                    Action::Skipped,
                );
                continue;
            };
            if let Some(&existing) = self.by_code.get(&code) {
                report.issue(
                    position,
                    Some(&code),
                    Some("code_qp"),
                    format!(
                        "duplicate code, already loaded from {}",
                        self.qpvs[existing].sources.join(", ")
                    ),
                    Action::Skipped,
                );
                continue;
            }
            let communes = if std::ptr::eq(schema, &CGET_2015) {
                communes_2015(props)
            } else {
                communes_2024(props)
            };
            let (geometry, geometry_note) = match outline {
                Ok((geometry, repairs)) => {
                    let note = (!repairs.is_empty()).then(|| repairs.join("; "));
                    if let Some(note) = &note {
                        report.issue(
                            position,
                            Some(&code),
                            Some("geometry"),
                            note.clone(),
                            Action::Repaired,
                        );
                    }
                    (Some(geometry), note)
                }
                Err(reason) => {
                    report.issue(
                        position,
                        Some(&code),
                        Some("geometry"),
                        reason.clone(),
                        Action::KeptWithoutLocation,
                    );
                    (None, Some(format!("outline rejected: {reason}")))
                }
            };
            self.insert(Qpv {
                code,
                name,
                communes,
                departement,
                generation,
                population: None,
                population_as_of: None,
                geometry,
                geometry_note,
                sources: vec![entry.id.clone()],
            });
            report.loaded += 1;
        }
        Ok(())
    }

    /// Loads the national list: adds QPV without outline, completes communes.
    pub fn add_list(
        &mut self,
        entry: &DatasetEntry,
        path: &Path,
        report: &mut DatasetReport,
    ) -> Result<(), LoadError> {
        let mut table = CsvTable::open(path, &["code_qp", "lib_qp"])?;
        let mut seen = HashMap::new();
        let mut completed = 0;
        for row in table.rows(report)? {
            let Some(code) = row.get("code_qp") else {
                report.issue(
                    row.position(),
                    None,
                    Some("code_qp"),
                    "missing QPV code",
                    Action::Skipped,
                );
                continue;
            };
            let communes = paired_communes(row.get("insee_com"), row.get("lib_com"), ';');
            if let Some((first, first_name)) = seen.get(&code) {
                // The official list has a row per commune of a QPV spanning
                // several: same code, same name, one more commune.
                let name = row.get("lib_qp");
                if name.is_none() || name == *first_name {
                    if let Some(&i) = self.by_code.get(&code) {
                        let known = &mut self.qpvs[i].communes;
                        for commune in communes {
                            if !known.contains(&commune) {
                                known.push(commune);
                            }
                        }
                    }
                    continue;
                }
                report.issue(
                    row.position(),
                    Some(&code),
                    Some("code_qp"),
                    format!("duplicate code with another name, first on line {first}"),
                    Action::Skipped,
                );
                continue;
            }
            seen.insert(code.clone(), (row.line, row.get("lib_qp")));
            let listed_generation = row
                .get("generation")
                .and_then(|g| g.get(..4).and_then(|y| y.parse::<u16>().ok()));
            if let Some(&i) = self.by_code.get(&code) {
                let qpv = &mut self.qpvs[i];
                if !communes.is_empty() {
                    qpv.communes = communes;
                }
                if let Some(g) = listed_generation {
                    qpv.generation = g;
                }
                qpv.sources.push(entry.id.clone());
                completed += 1;
                report.loaded += 1;
                continue;
            }
            let Some(name) = row.get("lib_qp") else {
                report.issue(
                    row.position(),
                    Some(&code),
                    Some("lib_qp"),
                    "missing QPV name",
                    Action::Skipped,
                );
                continue;
            };
            let Some(generation) = listed_generation
                .or(entry.generation)
                .or_else(|| Qpv::generation_from_code(&code))
            else {
                report.issue(
                    row.position(),
                    Some(&code),
                    Some("generation"),
                    "unknown generation",
                    Action::Skipped,
                );
                continue;
            };
            let Some(departement) = row
                .get("insee_dep")
                .or_else(|| Qpv::departement_from_code(&code))
            else {
                report.issue(
                    row.position(),
                    Some(&code),
                    Some("insee_dep"),
                    "no département",
                    Action::Skipped,
                );
                continue;
            };
            self.insert(Qpv {
                code,
                name,
                communes,
                departement,
                generation,
                population: None,
                population_as_of: None,
                geometry: None,
                geometry_note: Some(format!(
                    "contour non disponible ici (QPV connu par la liste {}) : `ess-map data fetch` télécharge les contours nationaux",
                    entry.id
                )),
                sources: vec![entry.id.clone()],
            });
            report.loaded += 1;
        }
        report.notes.push(format!(
            "{completed} rows completed QPV already loaded with an outline"
        ));
        Ok(())
    }

    /// Joins INSEE population (`CODGEO`, `POP_MUN`) onto loaded QPV.
    pub fn add_population(
        &mut self,
        entry: &DatasetEntry,
        path: &Path,
        report: &mut DatasetReport,
    ) -> Result<(), LoadError> {
        // INSEE's QPV bases: the QPV code in `CODGEO` (2015 and 2024
        // products), the population municipale in `POP_MUN` (or named by its
        // census year in other releases).
        let mut table = CsvTable::open(path, &[])?;
        let code_column = table.require_one_of(&POPULATION_CODE_COLUMNS)?;
        let population_column = table.require_one_of(&POPULATION_COLUMNS)?;
        let mut unmatched = 0;
        for row in table.rows(report)? {
            let Some(code) = row.get(code_column) else {
                report.issue(
                    row.position(),
                    None,
                    Some(code_column),
                    "missing QPV code",
                    Action::Skipped,
                );
                continue;
            };
            let Some(&i) = self.by_code.get(&code) else {
                unmatched += 1;
                continue;
            };
            let given = row.get(population_column);
            match given.as_deref().map(str::parse::<u32>) {
                Some(Ok(population)) => {
                    self.qpvs[i].population = Some(population);
                    self.qpvs[i].population_as_of = entry.as_of.clone();
                    report.loaded += 1;
                }
                Some(Err(_)) => report.issue(
                    row.position(),
                    Some(&code),
                    Some(population_column),
                    format!("`{}` is not a whole number", given.unwrap_or_default()),
                    Action::KeptWithoutField,
                ),
                None => report.issue(
                    row.position(),
                    Some(&code),
                    Some(population_column),
                    "not published (statistical secrecy)",
                    Action::KeptWithoutField,
                ),
            }
        }
        report.notes.push(format!(
            "{unmatched} rows are for QPV not loaded (other territories or generations)"
        ));
        Ok(())
    }

    fn insert(&mut self, qpv: Qpv) {
        self.by_code.insert(qpv.code.clone(), self.qpvs.len());
        self.qpvs.push(qpv);
    }
}

/// The column of the QPV code in INSEE's population bases.
const POPULATION_CODE_COLUMNS: [&str; 3] = ["CODGEO", "code_qp", "CODE_QP"];
/// The column of the population municipale.
const POPULATION_COLUMNS: [&str; 4] = ["POP_MUN", "POP_MUN_2020", "P20_POP", "pop_mun"];

/// ANCT 2024: `insee_com` (`;`-separated) with `lib_com` (main commune name,
/// or names in the same order).
fn communes_2024(props: Option<&JsonObject>) -> Vec<CommuneRef> {
    paired_communes(
        property(props, "insee_com"),
        property(props, "lib_com"),
        ';',
    )
}

/// CGET 2015: `code_commune` is the main commune's code, `commune_qp` its name,
/// `nom_commune` lists every commune covered (comma-separated).
fn communes_2015(props: Option<&JsonObject>) -> Vec<CommuneRef> {
    let main_name = property(props, "commune_qp");
    let mut communes = vec![CommuneRef {
        insee: property(props, "code_commune"),
        name: main_name.clone().unwrap_or_default(),
    }];
    for name in property(props, "nom_commune")
        .iter()
        .flat_map(|n| n.split(','))
    {
        let name = name.trim();
        if !name.is_empty() && Some(name) != main_name.as_deref() {
            communes.push(CommuneRef {
                insee: None,
                name: name.to_string(),
            });
        }
    }
    communes.retain(|c| !c.name.is_empty() || c.insee.is_some());
    communes
}

/// Communes from parallel lists of codes and names; names missing at the end
/// are left empty, codes missing leave `insee` empty.
fn paired_communes(codes: Option<String>, names: Option<String>, sep: char) -> Vec<CommuneRef> {
    let split = |s: &Option<String>| -> Vec<String> {
        s.iter()
            .flat_map(|v| v.split(sep))
            .map(|x| x.trim().to_string())
            .filter(|x| !x.is_empty())
            .collect()
    };
    let (codes, names) = (split(&codes), split(&names));
    (0..codes.len().max(names.len()))
        .map(|i| CommuneRef {
            insee: codes.get(i).cloned(),
            name: names.get(i).cloned().unwrap_or_default(),
        })
        .collect()
}

/// Loads a `departements` dataset (`code`, `nom`).
pub(crate) fn load_departements(
    path: &Path,
    report: &mut DatasetReport,
) -> Result<Vec<Departement>, LoadError> {
    let mut out: Vec<Departement> = Vec::new();
    for (index, feature) in read_features(path, report)? {
        let position = Position::Feature(index);
        let props = feature.properties.as_ref();
        let (Some(code), Some(name)) = (property(props, "code"), property(props, "nom")) else {
            report.issue(
                position,
                None,
                Some("code"),
                "missing code or nom",
                Action::Skipped,
            );
            continue;
        };
        if out.iter().any(|d| d.code == code) {
            report.issue(
                position,
                Some(&code),
                Some("code"),
                "duplicate code",
                Action::Skipped,
            );
            continue;
        }
        match check_polygonal(feature.geometry.as_ref()) {
            Ok(checked) => {
                if !checked.repairs.is_empty() {
                    report.issue(
                        position,
                        Some(&code),
                        Some("geometry"),
                        checked.repairs.join("; "),
                        Action::Repaired,
                    );
                }
                out.push(Departement {
                    code,
                    name,
                    geometry: checked.geometry,
                });
                report.loaded += 1;
            }
            Err(reason) => report.issue(
                position,
                Some(&code),
                Some("geometry"),
                reason,
                Action::Skipped,
            ),
        }
    }
    Ok(out)
}
