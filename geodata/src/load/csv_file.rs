//! Reading a CSV file with a header, keeping line numbers for reports.

use std::collections::HashMap;
use std::path::{Path, PathBuf};

use csv::StringRecord;

use crate::report::{Action, DatasetReport, LoadError, Position};

/// The field separator a header line uses: `;` when it has more of them
/// than commas (French spreadsheet exports), else `,`.
pub fn delimiter_of(header: &str) -> u8 {
    if header.matches(';').count() > header.matches(',').count() {
        b';'
    } else {
        b','
    }
}

/// CRLF line ends made LF: the csv crate counts a record after CRLF as
/// starting on the line before, and reports must name the right line.
pub(crate) fn without_carriage_returns(mut bytes: Vec<u8>) -> Vec<u8> {
    let mut out = 0;
    for i in 0..bytes.len() {
        if !(bytes[i] == b'\r' && bytes.get(i + 1) == Some(&b'\n')) {
            bytes[out] = bytes[i];
            out += 1;
        }
    }
    bytes.truncate(out);
    bytes
}

/// A CSV file whose header has been read and checked.
pub(crate) struct CsvTable {
    path: PathBuf,
    columns: HashMap<String, usize>,
    reader: csv::Reader<std::io::Cursor<Vec<u8>>>,
}

/// One record, with the line it starts on.
pub(crate) struct CsvRow<'a> {
    pub line: u64,
    record: StringRecord,
    columns: &'a HashMap<String, usize>,
}

impl CsvTable {
    /// Opens `path`, reads its header (`,` or `;` separated, BOM allowed) and
    /// checks that `required` columns are there.
    pub fn open(path: &Path, required: &[&str]) -> Result<Self, LoadError> {
        let text = super::file::read_data_file(path)?;
        let text = without_carriage_returns(text);
        let first_line = text.split(|&b| b == b'\n').next().unwrap_or(&[]);
        let delimiter = delimiter_of(&String::from_utf8_lossy(first_line));
        let mut reader = csv::ReaderBuilder::new()
            .delimiter(delimiter)
            .from_reader(std::io::Cursor::new(text));
        let header = reader
            .headers()
            .map_err(|e| LoadError::csv(path, e))?
            .clone();
        let columns: HashMap<String, usize> = header
            .iter()
            .enumerate()
            .map(|(i, h)| (h.trim_start_matches('\u{feff}').trim().to_string(), i))
            .collect();
        for name in required {
            if !columns.contains_key(*name) {
                return Err(LoadError::invalid(
                    path,
                    Position::Line(1),
                    format!("header has no `{name}` column"),
                ));
            }
        }
        Ok(CsvTable {
            path: path.to_path_buf(),
            columns,
            reader,
        })
    }

    /// The first of `names` the header has.
    pub fn column_among<'n>(&self, names: &[&'n str]) -> Option<&'n str> {
        names
            .iter()
            .copied()
            .find(|n| self.columns.contains_key(*n))
    }

    /// The first of `names` the header has, else an error naming them all.
    pub fn require_one_of<'n>(&self, names: &[&'n str]) -> Result<&'n str, LoadError> {
        self.column_among(names).ok_or_else(|| {
            LoadError::invalid(
                &self.path,
                Position::Line(1),
                format!(
                    "header has none of the columns {}",
                    names
                        .iter()
                        .map(|n| format!("`{n}`"))
                        .collect::<Vec<_>>()
                        .join(", ")
                ),
            )
        })
    }

    /// Every well-formed record; malformed ones (wrong number of fields, bad
    /// UTF-8) are reported as skipped. An I/O error stops the file.
    pub fn rows(&mut self, report: &mut DatasetReport) -> Result<Vec<CsvRow<'_>>, LoadError> {
        let mut read = Vec::new();
        let mut record = StringRecord::new();
        while let Some(line) = self.next_record(&mut record, report)? {
            read.push((line, record.clone()));
        }
        Ok(read
            .into_iter()
            .map(|(line, record)| CsvRow {
                line,
                record,
                columns: &self.columns,
            })
            .collect())
    }

    /// The next well-formed record into `record` (reused: no allocation
    /// per row), with the line it starts on; `None` at the end. Malformed
    /// records are reported as skipped, as by [`Self::rows`].
    pub fn next_record(
        &mut self,
        record: &mut StringRecord,
        report: &mut DatasetReport,
    ) -> Result<Option<u64>, LoadError> {
        loop {
            let line = self.reader.position().line();
            match self.reader.read_record(record) {
                Ok(false) => return Ok(None),
                Ok(true) => {
                    report.read += 1;
                    return Ok(Some(record.position().map_or(line, |p| p.line())));
                }
                Err(e) if matches!(e.kind(), csv::ErrorKind::Io(_)) => {
                    return Err(LoadError::csv(&self.path, e));
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
    }

    /// The position of a column of the header.
    pub fn index_of(&self, column: &str) -> Option<usize> {
        self.columns.get(column).copied()
    }
}

impl CsvRow<'_> {
    /// A field by column name, trimmed; `None` when the column is absent or
    /// the field empty.
    pub fn get(&self, column: &str) -> Option<String> {
        let value = self.record.get(*self.columns.get(column)?)?.trim();
        (!value.is_empty()).then(|| value.to_string())
    }

    pub fn position(&self) -> Position {
        Position::Line(self.line)
    }
}
