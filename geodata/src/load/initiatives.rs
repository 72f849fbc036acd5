//! The initiative datasets of the manifest, read into checked records by
//! the same reader as imports ([`crate::records`]).

use std::collections::HashMap;
use std::path::Path;

use crate::category::Taxonomy;
use crate::communes::CommuneCentres;
use crate::initiative::InitiativeRecord;
use crate::manifest::DatasetEntry;
use crate::records::{Mapping, Table, record_of_row, report_problems};
use crate::report::{Action, DatasetReport, LoadError};

/// Records read so far, and where each id was first seen, across datasets.
pub(crate) struct InitiativeReader<'t> {
    pub records: Vec<InitiativeRecord>,
    first_seen: HashMap<String, String>,
    taxonomy: &'t Taxonomy,
}

impl<'t> InitiativeReader<'t> {
    pub fn new(taxonomy: &'t Taxonomy) -> Self {
        InitiativeReader {
            records: Vec::new(),
            first_seen: HashMap::new(),
            taxonomy,
        }
    }

    /// Reads an `initiatives` dataset. Records without coordinates are
    /// placed at their commune's centre (`precision = municipality`), as an
    /// import does without a geocoder.
    pub fn add(
        &mut self,
        entry: &DatasetEntry,
        path: &Path,
        communes: &CommuneCentres,
        report: &mut DatasetReport,
    ) -> Result<(), LoadError> {
        let table = Table::read(path, report)?;
        let overrides = Mapping {
            columns: entry.columns.clone(),
        };
        let mapping = Mapping::for_table(&table, Some(&overrides), path)?;
        if mapping.column(crate::records::Field::Id).is_none() {
            return Err(LoadError::invalid(
                path,
                crate::report::Position::Line(1),
                "no `id` column (give one in the manifest's `columns`)",
            ));
        }
        let mut at_centre = 0;
        for row in &table.rows {
            report.read += 1;
            let id = mapping
                .column(crate::records::Field::Id)
                .and_then(|c| row.values.get(c));
            let Some(id) = id else {
                report.issue(
                    row.position.clone(),
                    None,
                    Some("id"),
                    "missing id",
                    Action::Skipped,
                );
                continue;
            };
            if let Some(excluded) = entry
                .exclude
                .iter()
                .find(|x| row.values.get(&x.column).is_some_and(|v| *v == x.equals))
            {
                report.issue(
                    row.position.clone(),
                    Some(id),
                    Some(&excluded.column),
                    format!("excluded by the manifest: {}", excluded.reason),
                    Action::Skipped,
                );
                continue;
            }
            if id.contains(':') {
                report.issue(
                    row.position.clone(),
                    Some(id),
                    Some("id"),
                    "`:` is kept for ids made by ess-map's store",
                    Action::Skipped,
                );
                continue;
            }
            if let Some(first) = self.first_seen.get(id) {
                report.issue(
                    row.position.clone(),
                    Some(id),
                    Some("id"),
                    format!("duplicate id, first loaded from {first}"),
                    Action::Skipped,
                );
                continue;
            }
            let (mut record, problems) =
                match record_of_row(row, &mapping, &entry.id, self.taxonomy) {
                    Ok(checked) => checked,
                    Err(p) => {
                        report.issue(
                            row.position.clone(),
                            Some(id),
                            Some(p.field),
                            p.reason,
                            p.action,
                        );
                        continue;
                    }
                };
            let unplaced = record.lon.is_none();
            if unplaced && communes.place_at_centre(&mut record) {
                at_centre += 1;
                let shown: Vec<_> = problems
                    .into_iter()
                    .filter(|p| p.action != Action::KeptWithoutLocation)
                    .collect();
                report_problems(report, &row.position, Some(id), &shown);
            } else {
                report_problems(report, &row.position, Some(id), &problems);
            }
            if record.source_date.is_none() {
                record.source_date = entry.as_of.clone();
            }
            self.first_seen
                .insert(id.clone(), format!("{} {}", entry.id, row.position));
            self.records.push(record);
            report.loaded += 1;
        }
        if at_centre > 0 {
            report.notes.push(format!(
                "{at_centre} records without coordinates placed at their commune's centre (precision municipality: on the map, not placed against QPV)"
            ));
        }
        if table.encoding != "UTF-8" {
            report.notes.push(format!("read as {}", table.encoding));
        }
        Ok(())
    }
}
