//! The initiative datasets of the manifest, read into checked records by
//! the same reader as imports ([`crate::records`]).

use std::path::Path;

use rayon::prelude::*;

use crate::manifest::{DatasetEntry, Exclusion};
use crate::records::{Columns, Field, Mapping, Row, Rows, record_of_row, report_problems};
use crate::report::{Action, DatasetReport, LoadError, Position};
use crate::territory::{Placed, Territory};
use crate::validate::Problem;

/// Rows read and checked in parallel, this many at a time.
const BATCH: usize = 16_384;

/// Initiatives read so far, across datasets, placed on the territory,
/// each with where it was read.
pub(crate) struct InitiativeReader<'t> {
    read: Vec<(usize, Position, Placed)>,
    /// Ids of the datasets read, by their index in `read`.
    datasets: Vec<String>,
    territory: &'t Territory,
}

/// What became of one row.
enum Outcome {
    Kept(Placed, Vec<Problem>, bool),
    Refused {
        key: Option<String>,
        field: String,
        reason: String,
    },
}

impl<'t> InitiativeReader<'t> {
    pub fn new(territory: &'t Territory) -> Self {
        InitiativeReader {
            read: Vec::new(),
            datasets: Vec::new(),
            territory,
        }
    }

    /// Reads an `initiatives` dataset. Records without coordinates are
    /// placed at their commune's centre (`precision = municipality`), as an
    /// import does without a geocoder.
    pub fn add(
        &mut self,
        entry: &DatasetEntry,
        path: &Path,
        report: &mut DatasetReport,
    ) -> Result<(), LoadError> {
        let mut rows = Rows::open(path, report)?;
        let overrides = Mapping {
            columns: entry.columns.clone(),
        };
        let mapping = Mapping::for_headers(&rows.headers, Some(&overrides), path)?;
        let columns = Columns::of(&mapping, &rows.headers);
        if columns.of_field(Field::Id).is_none() {
            return Err(LoadError::invalid(
                path,
                Position::Line(1),
                "no `id` column (give one in the manifest's `columns`)",
            ));
        }
        let exclusions: Vec<(Option<usize>, &Exclusion)> = entry
            .exclude
            .iter()
            .map(|x| (rows.headers.iter().position(|h| *h == x.column), x))
            .collect();
        let dataset = self.datasets.len();
        self.datasets.push(entry.id.clone());
        let mut at_centre = 0;
        // One thread reads and decodes rows while the others check them.
        let (rows, read_report) = std::thread::scope(|scope| {
            let (batches, received) = std::sync::mpsc::sync_channel::<Vec<Row>>(2);
            let reader = scope.spawn(move || -> Result<(Rows, DatasetReport), LoadError> {
                let mut own = DatasetReport::new(&entry.id, path);
                loop {
                    let mut batch = Vec::with_capacity(BATCH);
                    while batch.len() < BATCH {
                        match rows.next(path, &mut own)? {
                            Some(row) => batch.push(row),
                            None => break,
                        }
                    }
                    if batch.is_empty() || batches.send(batch).is_err() {
                        return Ok((rows, own));
                    }
                }
            });
            for batch in received {
                let outcomes: Vec<Outcome> = batch
                    .par_iter()
                    .map(|row| self.check(row, entry, &columns, &exclusions))
                    .collect();
                for (row, outcome) in batch.into_iter().zip(outcomes) {
                    report.read += 1;
                    match outcome {
                        Outcome::Refused { key, field, reason } => report.issue(
                            row.position,
                            key.as_deref(),
                            Some(&field),
                            reason,
                            Action::Skipped,
                        ),
                        Outcome::Kept(placed, problems, centred) => {
                            at_centre += usize::from(centred);
                            report_problems(
                                report,
                                &row.position,
                                Some(&placed.initiative.id),
                                &problems,
                            );
                            report.loaded += 1;
                            self.read.push((dataset, row.position, placed));
                        }
                    }
                }
            }
            reader.join().expect("the reader does not panic")
        })?;
        report.absorb(read_report);
        let rows = rows;
        if at_centre > 0 {
            report.notes.push(format!(
                "{at_centre} records without coordinates placed at their commune's centre (precision municipality: on the map, not placed against QPV)"
            ));
        }
        let encoding = rows.encoding(report);
        if encoding != "UTF-8" {
            report.notes.push(format!("read as {encoding}"));
        }
        Ok(())
    }

    /// One row: kept as an initiative placed on the territory (at its
    /// commune's centre when it has no coordinates), or refused and why.
    fn check(
        &self,
        row: &Row,
        entry: &DatasetEntry,
        columns: &Columns,
        exclusions: &[(Option<usize>, &Exclusion)],
    ) -> Outcome {
        let Some(id) = columns.get(row, Field::Id) else {
            return Outcome::Refused {
                key: None,
                field: "id".into(),
                reason: "missing id".into(),
            };
        };
        if let Some((_, excluded)) = exclusions
            .iter()
            .find(|(c, x)| c.and_then(|c| row.get(c)) == Some(x.equals.as_str()))
        {
            return Outcome::Refused {
                key: Some(id.to_string()),
                field: excluded.column.clone(),
                reason: format!("excluded by the manifest: {}", excluded.reason),
            };
        }
        if id.contains(':') {
            return Outcome::Refused {
                key: Some(id.to_string()),
                field: "id".into(),
                reason: "`:` is kept for ids made by ess-map's store".into(),
            };
        }
        let (mut record, mut problems) =
            match record_of_row(row, columns, &entry.id, &self.territory.taxonomy) {
                Ok(checked) => checked,
                Err(p) => {
                    return Outcome::Refused {
                        key: Some(id.to_string()),
                        field: p.field.into(),
                        reason: p.reason,
                    };
                }
            };
        let centred =
            record.lon.is_none() && self.territory.communes().place_at_centre(&mut record);
        if centred {
            problems.retain(|p| p.action != Action::KeptWithoutLocation);
        }
        if record.source_date.is_none() {
            record.source_date = entry.as_of.clone();
        }
        Outcome::Kept(self.territory.place_record(record), problems, centred)
    }

    /// Every initiative read, by id, ids unique: of two with one id, the
    /// first read is kept and the other reported in its dataset's report.
    pub fn finish(mut self, reports: &mut [DatasetReport]) -> Vec<Placed> {
        // Stable: equal ids stay in reading order.
        self.read
            .par_sort_by(|a, b| a.2.initiative.id.cmp(&b.2.initiative.id));
        let mut out: Vec<Placed> = Vec::with_capacity(self.read.len());
        let mut first: Option<(usize, Position)> = None;
        for (dataset, position, placed) in self.read {
            if out
                .last()
                .is_some_and(|r| r.initiative.id == placed.initiative.id)
            {
                let (d, p) = first.clone().expect("set with the first of these ids");
                if let Some(report) = reports.iter_mut().find(|r| r.id == self.datasets[dataset]) {
                    report.loaded -= 1;
                    report.issue(
                        position,
                        Some(&placed.initiative.id),
                        Some("id"),
                        format!("duplicate id, first loaded from {} {p}", self.datasets[d]),
                        Action::Skipped,
                    );
                }
                continue;
            }
            first = Some((dataset, position));
            out.push(placed);
        }
        out
    }
}
