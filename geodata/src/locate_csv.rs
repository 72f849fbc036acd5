//! Locating every row of a user's CSV file (the `ess-map locate` command).

use std::io::{Read, Write};

use crate::load::csv_file::delimiter_of;
use crate::load::geometry::lon_lat;
use crate::model::LocationStatus;
use crate::territory::Territory;

/// Which columns hold the coordinates, and how far "near" reaches.
#[derive(Debug, Clone)]
pub struct LocateCsvOptions {
    pub lon_column: String,
    pub lat_column: String,
    pub radius_m: f64,
    pub generation: Option<u16>,
}

/// A row that could not be located, by line (the header is line 1).
#[derive(Debug, Clone, PartialEq)]
pub struct RowProblem {
    pub line: u64,
    pub field: String,
    pub reason: String,
}

/// What `locate_csv` did.
#[derive(Debug, Default, Clone, PartialEq)]
pub struct LocateCsvSummary {
    pub rows: u64,
    pub inside: u64,
    pub near: u64,
    pub outside: u64,
    pub not_located: u64,
    pub problems: Vec<RowProblem>,
}

/// The columns appended to every row.
pub const APPENDED_COLUMNS: [&str; 4] = ["qpv_status", "qpv_code", "qpv_name", "distance_m"];

/// Why a file could not be located as a whole (a bad row is not an error:
/// it is kept as `not_located` and listed in the summary).
#[derive(Debug, thiserror::Error)]
pub enum LocateCsvError {
    #[error("{0}")]
    Io(#[from] std::io::Error),
    #[error("{0}")]
    Csv(#[from] csv::Error),
    #[error("line 1: no `{0}` column (use --lon-col / --lat-col)")]
    MissingColumn(String),
}

/// Copies `input` (CSV with a header, `,` or `;` separated) to `output` with
/// [`APPENDED_COLUMNS`] added to every row. A row whose coordinates are
/// missing or wrong is kept, marked `not_located`, and listed in the summary.
pub fn locate_csv(
    data: &Territory,
    input: impl Read,
    output: impl Write,
    options: &LocateCsvOptions,
) -> Result<LocateCsvSummary, LocateCsvError> {
    let mut input = std::io::BufReader::new(input);
    let mut head = Vec::new();
    {
        use std::io::BufRead;
        input.read_until(b'\n', &mut head)?;
    }
    let first_line = String::from_utf8_lossy(&head);
    let delimiter = delimiter_of(&first_line);
    let mut reader = csv::ReaderBuilder::new()
        .delimiter(delimiter)
        .flexible(true)
        .from_reader(std::io::Cursor::new(head).chain(input));
    let mut writer = csv::WriterBuilder::new()
        .delimiter(delimiter)
        .flexible(true)
        .from_writer(output);
    let header = reader.headers()?.clone();
    let column = |name: &str| {
        header
            .iter()
            .position(|h| h.trim_start_matches('\u{feff}').trim() == name)
            .ok_or_else(|| LocateCsvError::MissingColumn(name.to_string()))
    };
    let (lon_col, lat_col) = (column(&options.lon_column)?, column(&options.lat_column)?);
    let mut out_header = header.clone();
    out_header.extend(APPENDED_COLUMNS);
    writer.write_record(&out_header)?;

    let mut summary = LocateCsvSummary::default();
    let mut record = csv::StringRecord::new();
    loop {
        if !reader.read_record(&mut record)? {
            break;
        }
        summary.rows += 1;
        let line = record.position().map_or(0, |p| p.line());
        let parse = |col: usize, name: &str| -> Result<f64, RowProblem> {
            let text = record.get(col).unwrap_or("").trim();
            let problem = |reason: String| RowProblem {
                line,
                field: name.to_string(),
                reason,
            };
            if text.is_empty() {
                return Err(problem("empty".to_string()));
            }
            text.replace(',', ".")
                .parse::<f64>()
                .map_err(|_| problem(format!("`{text}` is not a number")))
        };
        let located = parse(lon_col, &options.lon_column)
            .and_then(|lon| Ok((lon, parse(lat_col, &options.lat_column)?)))
            .and_then(|(lon, lat)| {
                lon_lat(lon, lat).map_err(|reason| RowProblem {
                    line,
                    field: format!("{}/{}", options.lon_column, options.lat_column),
                    reason,
                })
            })
            .map(|at| data.locate(at, options.radius_m, options.generation));
        let mut out = record.clone();
        match located {
            Ok(location) => {
                let qpv = location.qpv.map(|i| data.qpv(i));
                let status = match location.status {
                    LocationStatus::Inside => {
                        summary.inside += 1;
                        "inside"
                    }
                    LocationStatus::Near => {
                        summary.near += 1;
                        "near"
                    }
                    _ => {
                        summary.outside += 1;
                        "outside"
                    }
                };
                out.push_field(status);
                out.push_field(qpv.map_or("", |q| q.code.as_str()));
                out.push_field(qpv.map_or("", |q| q.name.as_str()));
                out.push_field(
                    &location
                        .distance_m
                        .map_or(String::new(), |d| format!("{d:.1}")),
                );
            }
            Err(problem) => {
                summary.not_located += 1;
                summary.problems.push(problem);
                out.extend(["not_located", "", "", ""]);
            }
        }
        writer.write_record(&out)?;
    }
    writer.flush()?;
    Ok(summary)
}
