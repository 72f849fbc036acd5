//! Placing every row of a user's table among the QPV: « lesquelles de nos
//! structures sont en QPV ? » (`ess-map locate`, the web map's « Adresses en
//! QPV »).
//!
//! A table is a CSV file (`,` or `;`, UTF-8 or Windows-1252, read line by
//! line), an XLSX or an ODS workbook (its first sheet). Rows with
//! coordinates are located directly; rows with an address only go through
//! the caller's [`Geocoder`] (the core does no HTTP), in chunks. Every row is
//! written back, in the input's format, with [`APPENDED_COLUMNS`]; a row that
//! cannot be placed precisely is kept, `not_located`, and says why.
//!
//! CSV is streamed in chunks located on every core while the next chunk is
//! read, so memory stays bounded for files of millions of rows.

use std::borrow::Cow;
use std::io::{BufRead, Read, Write};

use calamine::{Data, Reader as _};
use rayon::prelude::*;

use crate::initiative::Precision;
use crate::load::csv_file::delimiter_of;
use crate::load::geometry::lon_lat;
use crate::model::{Location, LocationStatus};
use crate::records::{Field, Mapping};
use crate::territory::Territory;
use crate::validate::parse_coordinate;

/// Columns appended to every row.
pub const APPENDED_COLUMNS: [&str; 7] = [
    "qpv_status",
    "qpv_code",
    "qpv_name",
    "distance_m",
    "geocode_score",
    "precision",
    "remarque",
];

/// Rows located together.
const CHUNK_ROWS: usize = 32_768;

/// A table's format.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum TableFormat {
    Csv,
    Xlsx,
    Ods,
}

impl TableFormat {
    /// By a file name's extension (`.csv`, `.txt`, `.xlsx`, `.ods`).
    pub fn of_name(name: &str) -> Option<TableFormat> {
        let lower = name.to_ascii_lowercase();
        let (_, extension) = lower.rsplit_once('.')?;
        Some(match extension {
            "csv" | "txt" => TableFormat::Csv,
            "xlsx" => TableFormat::Xlsx,
            "ods" => TableFormat::Ods,
            _ => return None,
        })
    }

    pub fn extension(self) -> &'static str {
        match self {
            TableFormat::Csv => "csv",
            TableFormat::Xlsx => "xlsx",
            TableFormat::Ods => "ods",
        }
    }

    pub fn media_type(self) -> &'static str {
        match self {
            TableFormat::Csv => "text/csv; charset=utf-8",
            TableFormat::Xlsx => {
                "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"
            }
            TableFormat::Ods => "application/vnd.oasis.opendocument.spreadsheet",
        }
    }
}

/// What to locate against, and which columns say where a row is.
#[derive(Debug, Clone)]
pub struct LocateOptions {
    /// Coordinate columns; `None`: found by their usual names (lon,
    /// longitude, x…).
    pub lon_column: Option<String>,
    pub lat_column: Option<String>,
    /// Address columns named by a mapping file (as for imports), over
    /// those found by their usual names (adresse, code postal, commune,
    /// code INSEE).
    pub mapping: Option<Mapping>,
    pub radius_m: f64,
    pub generation: Option<u16>,
    /// Refuse tables of more rows than this.
    pub max_rows: Option<u64>,
}

/// An address to geocode.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct AddressQuery {
    pub address: Option<String>,
    pub postcode: Option<String>,
    pub commune: Option<String>,
    pub insee: Option<String>,
}

impl AddressQuery {
    /// The address as one line (what a geocoder is asked).
    pub fn line(&self) -> String {
        [&self.address, &self.postcode, &self.commune]
            .into_iter()
            .flatten()
            .map(String::as_str)
            .collect::<Vec<_>>()
            .join(" ")
    }
}

/// Where a geocoder placed an address.
#[derive(Debug, Clone, PartialEq)]
pub struct Geocoded {
    pub lon: f64,
    pub lat: f64,
    pub score: Option<f64>,
    pub precision: Precision,
    /// Why it is no more precise (a commune centre for want of a result…).
    pub note: Option<String>,
}

/// Places addresses. `Err`: why one could not be placed at all, in French
/// (it is written in the row's `remarque`).
pub trait Geocoder: Sync {
    fn geocode(&self, queries: &[AddressQuery]) -> Vec<Result<Geocoded, String>>;
}

/// No geocoder: rows without coordinates stay `not_located`.
#[derive(Debug, Clone, Copy)]
pub struct NoGeocoder;

impl Geocoder for NoGeocoder {
    fn geocode(&self, queries: &[AddressQuery]) -> Vec<Result<Geocoded, String>> {
        vec![Err("pas de géocodeur configuré".to_string()); queries.len()]
    }
}

/// What [`locate_table`] did.
#[derive(Debug, Default, Clone, PartialEq)]
pub struct LocateSummary {
    pub rows: u64,
    pub inside: u64,
    pub near: u64,
    pub outside: u64,
    pub not_located: u64,
    pub geocoded: u64,
    /// Rows not located, by line (the header is line 1), with the reason.
    pub problems: Vec<(u64, String)>,
}

/// Why a table could not be located as a whole (a bad row is not an error).
#[derive(Debug, thiserror::Error)]
pub enum LocateError {
    #[error("{0}")]
    Io(#[from] std::io::Error),
    #[error("{0}")]
    Csv(#[from] csv::Error),
    #[error("not a readable workbook: {0}")]
    Workbook(String),
    #[error("the workbook has no sheet")]
    NoSheet,
    #[error("line 1: no header")]
    NoHeader,
    #[error("line 1: no column `{0}`")]
    MissingColumn(String),
    #[error(
        "line 1: no coordinates (lon/lat, longitude/latitude) nor address columns (adresse, code postal, commune, code INSEE); name them with --lon-col/--lat-col or a mapping"
    )]
    NothingToLocate,
    #[error("more than {0} rows")]
    TooManyRows(u64),
    #[error("cannot write the result: {0}")]
    Write(String),
}

/// One cell as read: text, or a spreadsheet's number.
#[derive(Debug, Clone, PartialEq)]
enum Cell {
    Text(String),
    Number(f64),
}

impl Cell {
    fn text(&self) -> Cow<'_, str> {
        match self {
            Cell::Text(t) => Cow::Borrowed(t),
            Cell::Number(n) => Cow::Owned(number_text(*n)),
        }
    }
}

/// A number as a person reads it: 93066, not 93066.0.
fn number_text(n: f64) -> String {
    if n.fract() == 0.0 && n.abs() < 1e15 {
        format!("{}", n as i64)
    } else {
        n.to_string()
    }
}

/// A row as read, with its line (or sheet row) number.
struct InRow {
    line: u64,
    cells: RowCells,
    /// Said in `remarque` (a line read as Windows-1252).
    read_note: Option<&'static str>,
}

enum RowCells {
    Csv(csv::ByteRecord),
    Sheet(Vec<Cell>),
}

impl InRow {
    fn text(&self, column: usize) -> Cow<'_, str> {
        match &self.cells {
            // Lines are UTF-8 by now (see `CsvRows`).
            RowCells::Csv(r) => r
                .get(column)
                .map_or(Cow::Borrowed(""), String::from_utf8_lossy),
            RowCells::Sheet(cells) => cells.get(column).map_or(Cow::Borrowed(""), Cell::text),
        }
    }
}

/// Which column holds what a row's place is read from.
struct Columns {
    lon: Option<usize>,
    lat: Option<usize>,
    address: Option<usize>,
    postcode: Option<usize>,
    commune: Option<usize>,
    insee: Option<usize>,
}

impl Columns {
    fn of(headers: &[String], options: &LocateOptions) -> Result<Columns, LocateError> {
        let position = |name: &str| headers.iter().position(|h| h == name);
        let named = |given: &Option<String>| -> Result<Option<usize>, LocateError> {
            match given {
                Some(name) => position(name)
                    .map(Some)
                    .ok_or_else(|| LocateError::MissingColumn(name.clone())),
                None => Ok(None),
            }
        };
        let mut mapping = Mapping::detect(headers.iter().map(String::as_str));
        if let Some(given) = &options.mapping {
            for (field, column) in &given.columns {
                if position(column).is_none() {
                    return Err(LocateError::MissingColumn(column.clone()));
                }
                mapping.columns.insert(*field, column.clone());
            }
        }
        let field = |f: Field| mapping.column(f).and_then(position);
        let columns = Columns {
            lon: named(&options.lon_column)?.or_else(|| field(Field::Lon)),
            lat: named(&options.lat_column)?.or_else(|| field(Field::Lat)),
            address: field(Field::Address),
            postcode: field(Field::Postcode),
            commune: field(Field::Commune),
            insee: field(Field::InseeCode),
        };
        let coordinates = columns.lon.is_some() && columns.lat.is_some();
        let address = columns.address.is_some()
            || columns.commune.is_some()
            || columns.postcode.is_some()
            || columns.insee.is_some();
        if !coordinates && !address {
            return Err(LocateError::NothingToLocate);
        }
        Ok(columns)
    }

    fn query(&self, row: &InRow) -> Option<AddressQuery> {
        let get = |c: Option<usize>| {
            let text = row.text(c?);
            let text = text.trim();
            (!text.is_empty()).then(|| text.to_string())
        };
        let mut query = AddressQuery {
            address: get(self.address),
            postcode: get(self.postcode),
            commune: get(self.commune),
            insee: get(self.insee),
        };
        // A spreadsheet keeps 01000 as the number 1000.
        for code in [&mut query.postcode, &mut query.insee] {
            if let Some(c) = code
                && c.len() == 4
                && c.bytes().all(|b| b.is_ascii_digit())
            {
                c.insert(0, '0');
            }
        }
        (query != AddressQuery::default()).then_some(query)
    }
}

/// What a row became.
#[derive(Debug, Clone, Default)]
struct Outcome {
    location: Option<Location>,
    score: Option<f64>,
    precision: Option<&'static str>,
    note: String,
}

/// Where a row is, before locating: coordinates, an address to geocode, or
/// why neither.
enum Place {
    At(f64, f64),
    Address(AddressQuery, Option<String>),
    Nowhere(String),
}

fn place_of(row: &InRow, columns: &Columns) -> Place {
    let mut why = None;
    if let (Some(lon_c), Some(lat_c)) = (columns.lon, columns.lat) {
        let (lon_t, lat_t) = (row.text(lon_c), row.text(lat_c));
        let (lon_t, lat_t) = (lon_t.trim(), lat_t.trim());
        if !lon_t.is_empty() || !lat_t.is_empty() {
            match (parse_coordinate(lon_t), parse_coordinate(lat_t)) {
                (Some(lon), Some(lat)) if lon_lat(lon, lat).is_ok() => {
                    return Place::At(lon, lat);
                }
                (Some(lon), Some(lat)) => {
                    why = Some(format!(
                        "coordonnées hors limites (longitude {lon} dans [-180, 180], latitude {lat} dans [-90, 90] attendues)"
                    ));
                }
                _ => why = Some(format!("coordonnées illisibles (« {lon_t} », « {lat_t} »)")),
            }
        }
    }
    match columns.query(row) {
        Some(query) => Place::Address(query, why),
        None => Place::Nowhere(why.unwrap_or_else(|| "ni coordonnées ni adresse".to_string())),
    }
}

/// Locates a chunk of rows: coordinates directly, addresses through the
/// geocoder (one call for the chunk), every row on every core.
fn locate_chunk(
    territory: &Territory,
    rows: &[InRow],
    columns: &Columns,
    geocoder: &dyn Geocoder,
    options: &LocateOptions,
) -> Vec<Outcome> {
    let places: Vec<Place> = rows.par_iter().map(|r| place_of(r, columns)).collect();
    let queries: Vec<AddressQuery> = places
        .iter()
        .filter_map(|p| match p {
            Place::Address(q, _) => Some(q.clone()),
            _ => None,
        })
        .collect();
    let mut answers = if queries.is_empty() {
        Vec::new()
    } else {
        geocoder.geocode(&queries)
    }
    .into_iter();
    let placed: Vec<(Option<(f64, f64)>, Outcome)> = places
        .into_iter()
        .map(|p| match p {
            Place::At(lon, lat) => (
                Some((lon, lat)),
                Outcome {
                    precision: Some("coordinates"),
                    ..Outcome::default()
                },
            ),
            Place::Nowhere(why) => (
                None,
                Outcome {
                    note: why,
                    ..Outcome::default()
                },
            ),
            Place::Address(_, why) => {
                let prefix = why.map(|w| format!("{w} ; ")).unwrap_or_default();
                match answers.next().expect("one answer per query") {
                    Ok(g) => {
                        let mut outcome = Outcome {
                            score: g.score,
                            precision: Some(g.precision.as_str()),
                            note: format!("{prefix}{}", g.note.unwrap_or_default()),
                            ..Outcome::default()
                        };
                        if g.precision.places_against_qpv() {
                            (Some((g.lon, g.lat)), outcome)
                        } else {
                            // A commune's centre says nothing of the QPV.
                            if outcome.note.is_empty() {
                                outcome.note = "placée au centre de sa commune".into();
                            }
                            (None, outcome)
                        }
                    }
                    Err(reason) => (
                        None,
                        Outcome {
                            note: format!("{prefix}{reason}"),
                            ..Outcome::default()
                        },
                    ),
                }
            }
        })
        .collect();
    placed
        .into_par_iter()
        .map(|(at, mut outcome)| {
            if let Some((lon, lat)) = at {
                outcome.location = Some(territory.locate(
                    geo::Coord { x: lon, y: lat },
                    options.radius_m,
                    options.generation,
                ));
            }
            outcome
        })
        .collect()
}

/// The appended cells of a row.
fn appended<'a>(territory: &'a Territory, row: &InRow, outcome: &'a Outcome) -> [Cow<'a, str>; 7] {
    let (status, code, name, distance) = match &outcome.location {
        Some(location) => {
            let qpv = location.qpv.map(|i| territory.qpv(i));
            let status = match location.status {
                LocationStatus::Inside => "inside",
                LocationStatus::Near => "near",
                _ => "outside",
            };
            (
                status,
                qpv.map_or("", |q| q.code.as_str()),
                qpv.map_or("", |q| q.name.as_str()),
                location
                    .distance_m
                    .map_or(Cow::Borrowed(""), |d| Cow::Owned(format!("{d:.1}"))),
            )
        }
        None => ("not_located", "", "", Cow::Borrowed("")),
    };
    let note = match row.read_note {
        None => Cow::Borrowed(outcome.note.as_str()),
        Some(read) if outcome.note.is_empty() => Cow::Borrowed(read),
        Some(read) => Cow::Owned(format!("{read} ; {}", outcome.note)),
    };
    [
        Cow::Borrowed(status),
        Cow::Borrowed(code),
        Cow::Borrowed(name),
        distance,
        outcome
            .score
            .map_or(Cow::Borrowed(""), |s| Cow::Owned(format!("{s:.2}"))),
        Cow::Borrowed(outcome.precision.unwrap_or("")),
        note,
    ]
}

fn count(summary: &mut LocateSummary, row: &InRow, cells: &[Cow<'_, str>; 7]) {
    summary.rows += 1;
    match cells[0].as_ref() {
        "inside" => summary.inside += 1,
        "near" => summary.near += 1,
        "outside" => summary.outside += 1,
        _ => {
            summary.not_located += 1;
            summary.problems.push((row.line, cells[6].to_string()));
        }
    }
    if !cells[4].is_empty() || cells[5] == "municipality" {
        summary.geocoded += 1;
    }
}

/// Locates every row of `input` (in `format`) and writes it to `output` in
/// the same format with [`APPENDED_COLUMNS`].
pub fn locate_table(
    territory: &Territory,
    format: TableFormat,
    input: impl Read + Send,
    output: impl Write,
    options: &LocateOptions,
    geocoder: &dyn Geocoder,
) -> Result<LocateSummary, LocateError> {
    match format {
        TableFormat::Csv => locate_csv(territory, input, output, options, geocoder),
        TableFormat::Xlsx | TableFormat::Ods => {
            let mut bytes = Vec::new();
            let mut input = input;
            input.read_to_end(&mut bytes)?;
            locate_sheet(territory, format, bytes, output, options, geocoder)
        }
    }
}

/// CSV lines as rows: a line that is not UTF-8 is read as Windows-1252 (the
/// other encoding French spreadsheets write) and says so.
struct CsvRows<R: Read> {
    reader: csv::Reader<R>,
}

impl<R: Read> CsvRows<R> {
    fn chunk(&mut self, limit: usize) -> Result<Vec<InRow>, LocateError> {
        let mut rows = Vec::with_capacity(limit.min(CHUNK_ROWS));
        let mut record = csv::ByteRecord::new();
        while rows.len() < limit && self.reader.read_byte_record(&mut record)? {
            let line = record.position().map_or(0, |p| p.line());
            let (record, read_note) = if std::str::from_utf8(record.as_slice()).is_ok() {
                (std::mem::take(&mut record), None)
            } else {
                let decoded: csv::ByteRecord = record
                    .iter()
                    .map(|f| encoding_rs::WINDOWS_1252.decode_without_bom_handling(f).0)
                    .map(|f| f.into_owned().into_bytes())
                    .collect();
                (decoded, Some("ligne lue en Windows-1252"))
            };
            rows.push(InRow {
                line,
                cells: RowCells::Csv(record),
                read_note,
            });
        }
        Ok(rows)
    }
}

fn locate_csv(
    territory: &Territory,
    input: impl Read + Send,
    output: impl Write,
    options: &LocateOptions,
    geocoder: &dyn Geocoder,
) -> Result<LocateSummary, LocateError> {
    let mut input = std::io::BufReader::with_capacity(1 << 20, input);
    let mut head = Vec::new();
    input.read_until(b'\n', &mut head)?;
    if head.iter().all(u8::is_ascii_whitespace) {
        return Err(LocateError::NoHeader);
    }
    let delimiter = delimiter_of(&String::from_utf8_lossy(&head));
    let reader = csv::ReaderBuilder::new()
        .delimiter(delimiter)
        .flexible(true)
        .from_reader(std::io::Cursor::new(head).chain(input));
    let mut rows = CsvRows { reader };
    let headers: Vec<String> = rows
        .reader
        .byte_headers()?
        .iter()
        .map(|h| {
            let text = match std::str::from_utf8(h) {
                Ok(t) => t.to_string(),
                Err(_) => encoding_rs::WINDOWS_1252
                    .decode_without_bom_handling(h)
                    .0
                    .into_owned(),
            };
            text.trim_start_matches('\u{feff}').trim().to_string()
        })
        .collect();
    let columns = Columns::of(&headers, options)?;
    let mut output = output;
    let mut header = csv::ByteRecord::from(headers.clone());
    header.extend(APPENDED_COLUMNS);
    output.write_all(&csv_bytes(delimiter, std::iter::once(header))?)?;
    let mut summary = LocateSummary::default();
    // The next chunk is read while this one is located and written out, on
    // every core.
    let mut next = rows.chunk(CHUNK_ROWS)?;
    while !next.is_empty() {
        let chunk = next;
        check_rows(options, summary.rows + chunk.len() as u64)?;
        let (made, read) = rayon::join(
            || {
                let outcomes = locate_chunk(territory, &chunk, &columns, geocoder, options);
                serialized(territory, &chunk, &outcomes, delimiter)
            },
            || rows.chunk(CHUNK_ROWS),
        );
        next = read?;
        for (bytes, part) in made? {
            output.write_all(&bytes)?;
            summary.merge(part);
        }
    }
    output.flush()?;
    Ok(summary)
}

/// Rows as CSV bytes.
fn csv_bytes(
    delimiter: u8,
    records: impl IntoIterator<Item = csv::ByteRecord>,
) -> Result<Vec<u8>, LocateError> {
    let mut writer = csv::WriterBuilder::new()
        .delimiter(delimiter)
        .flexible(true)
        .from_writer(Vec::new());
    for record in records {
        writer.write_byte_record(&record)?;
    }
    writer
        .into_inner()
        .map_err(|e| LocateError::Write(e.to_string()))
}

/// A chunk's rows with their appended cells, as CSV bytes made on every
/// core, a slice at a time, each with its counts.
fn serialized(
    territory: &Territory,
    rows: &[InRow],
    outcomes: &[Outcome],
    delimiter: u8,
) -> Result<Vec<(Vec<u8>, LocateSummary)>, LocateError> {
    rows.par_chunks(2048)
        .zip(outcomes.par_chunks(2048))
        .map(|(rows, outcomes)| {
            let mut part = LocateSummary::default();
            let mut writer = csv::WriterBuilder::new()
                .delimiter(delimiter)
                .flexible(true)
                .from_writer(Vec::with_capacity(rows.len() * 96));
            for (row, outcome) in rows.iter().zip(outcomes) {
                let cells = appended(territory, row, outcome);
                count(&mut part, row, &cells);
                let appended = cells.iter().map(|c| c.as_bytes());
                match &row.cells {
                    RowCells::Csv(record) => writer.write_record(record.iter().chain(appended))?,
                    RowCells::Sheet(_) => writer.write_record(appended)?,
                }
            }
            let bytes = writer
                .into_inner()
                .map_err(|e| LocateError::Write(e.to_string()))?;
            Ok((bytes, part))
        })
        .collect()
}

impl LocateSummary {
    fn merge(&mut self, other: LocateSummary) {
        self.rows += other.rows;
        self.inside += other.inside;
        self.near += other.near;
        self.outside += other.outside;
        self.not_located += other.not_located;
        self.geocoded += other.geocoded;
        self.problems.extend(other.problems);
    }
}

fn check_rows(options: &LocateOptions, rows: u64) -> Result<(), LocateError> {
    match options.max_rows {
        Some(max) if rows > max => Err(LocateError::TooManyRows(max)),
        _ => Ok(()),
    }
}

fn locate_sheet(
    territory: &Territory,
    format: TableFormat,
    bytes: Vec<u8>,
    output: impl Write,
    options: &LocateOptions,
    geocoder: &dyn Geocoder,
) -> Result<LocateSummary, LocateError> {
    let mut book = calamine::open_workbook_auto_from_rs(std::io::Cursor::new(bytes))
        .map_err(|e| LocateError::Workbook(e.to_string()))?;
    let range = book
        .worksheet_range_at(0)
        .ok_or(LocateError::NoSheet)?
        .map_err(|e| LocateError::Workbook(e.to_string()))?;
    let start_row = range.start().map_or(0, |(r, _)| r);
    let mut sheet_rows = range.rows();
    let headers: Vec<String> = sheet_rows
        .next()
        .ok_or(LocateError::NoHeader)?
        .iter()
        .map(|d| cell_of(d).map_or(String::new(), |c| c.text().trim().to_string()))
        .collect();
    if headers.iter().all(String::is_empty) {
        return Err(LocateError::NoHeader);
    }
    let columns = Columns::of(&headers, options)?;
    let rows: Vec<InRow> = sheet_rows
        .enumerate()
        .map(|(i, cells)| InRow {
            line: u64::from(start_row) + i as u64 + 2,
            cells: RowCells::Sheet(
                cells
                    .iter()
                    .map(|d| cell_of(d).unwrap_or(Cell::Text(String::new())))
                    .collect(),
            ),
            read_note: None,
        })
        // Rows left empty at the end of a sheet are not rows.
        .filter(|r| match &r.cells {
            RowCells::Sheet(cells) => cells.iter().any(|c| c != &Cell::Text(String::new())),
            RowCells::Csv(_) => true,
        })
        .collect();
    check_rows(options, rows.len() as u64)?;
    let mut outcomes = Vec::with_capacity(rows.len());
    for chunk in rows.chunks(CHUNK_ROWS) {
        outcomes.extend(locate_chunk(territory, chunk, &columns, geocoder, options));
    }
    let mut summary = LocateSummary::default();
    let mut table: Vec<Vec<Cell>> = Vec::with_capacity(rows.len() + 1);
    let mut header: Vec<Cell> = headers.into_iter().map(Cell::Text).collect();
    header.extend(APPENDED_COLUMNS.map(|c| Cell::Text(c.to_string())));
    table.push(header);
    for (row, outcome) in rows.iter().zip(&outcomes) {
        let cells = appended(territory, row, outcome);
        count(&mut summary, row, &cells);
        let mut line = match &row.cells {
            RowCells::Sheet(c) => c.clone(),
            RowCells::Csv(_) => Vec::new(),
        };
        let width = table[0].len() - APPENDED_COLUMNS.len();
        line.resize(width, Cell::Text(String::new()));
        line.extend(cells.iter().enumerate().map(|(i, c)| {
            // Distances and scores stay numbers for the spreadsheet.
            match (i, c.parse::<f64>()) {
                (3 | 4, Ok(n)) => Cell::Number(n),
                _ => Cell::Text(c.to_string()),
            }
        }));
        table.push(line);
    }
    let bytes = match format {
        TableFormat::Xlsx => write_xlsx(&table)?,
        _ => write_ods(&table)?,
    };
    let mut output = output;
    output.write_all(&bytes)?;
    output.flush()?;
    Ok(summary)
}

fn cell_of(d: &Data) -> Option<Cell> {
    Some(match d {
        Data::Empty => return None,
        Data::String(s) => Cell::Text(s.clone()),
        Data::Int(i) => Cell::Number(*i as f64),
        Data::Float(f) => Cell::Number(*f),
        Data::Bool(b) => Cell::Text(if *b { "VRAI" } else { "FAUX" }.to_string()),
        other => Cell::Text(other.to_string()),
    })
}

fn write_xlsx(table: &[Vec<Cell>]) -> Result<Vec<u8>, LocateError> {
    let bad = |e: rust_xlsxwriter::XlsxError| LocateError::Write(e.to_string());
    let mut book = rust_xlsxwriter::Workbook::new();
    let sheet = book.add_worksheet();
    sheet.set_name("QPV").map_err(bad)?;
    let bold = rust_xlsxwriter::Format::new().set_bold();
    for (r, row) in table.iter().enumerate() {
        let r = u32::try_from(r).map_err(|_| LocateError::TooManyRows(u64::from(u32::MAX)))?;
        for (c, cell) in row.iter().enumerate() {
            let c = u16::try_from(c).map_err(|_| LocateError::Write("too many columns".into()))?;
            match cell {
                Cell::Text(t) if t.is_empty() => {}
                Cell::Text(t) if r == 0 => {
                    sheet
                        .write_string_with_format(r, c, t, &bold)
                        .map_err(bad)?;
                }
                Cell::Text(t) => {
                    sheet.write_string(r, c, t).map_err(bad)?;
                }
                Cell::Number(n) => {
                    sheet.write_number(r, c, *n).map_err(bad)?;
                }
            }
        }
    }
    book.save_to_buffer().map_err(bad)
}

fn write_ods(table: &[Vec<Cell>]) -> Result<Vec<u8>, LocateError> {
    let mut book = spreadsheet_ods::WorkBook::new_empty();
    let mut sheet = spreadsheet_ods::Sheet::new("QPV");
    for (r, row) in table.iter().enumerate() {
        let r = u32::try_from(r).map_err(|_| LocateError::TooManyRows(u64::from(u32::MAX)))?;
        for (c, cell) in row.iter().enumerate() {
            let c = c as u32;
            match cell {
                Cell::Text(t) if t.is_empty() => {}
                Cell::Text(t) => sheet.set_value(r, c, t.as_str()),
                Cell::Number(n) => sheet.set_value(r, c, *n),
            }
        }
    }
    book.push_sheet(sheet);
    spreadsheet_ods::write_ods_buf(&mut book, Vec::new())
        .map_err(|e| LocateError::Write(e.to_string()))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn formats_by_extension() {
        assert_eq!(
            TableFormat::of_name("Structures.XLSX"),
            Some(TableFormat::Xlsx)
        );
        assert_eq!(TableFormat::of_name("a.ods"), Some(TableFormat::Ods));
        assert_eq!(TableFormat::of_name("a.csv"), Some(TableFormat::Csv));
        assert_eq!(TableFormat::of_name("a.pdf"), None);
        assert_eq!(TableFormat::of_name("csv"), None);
    }

    #[test]
    fn spreadsheet_numbers_read_as_people_write_them() {
        assert_eq!(number_text(93066.0), "93066");
        assert_eq!(number_text(2.3531), "2.3531");
    }
}
