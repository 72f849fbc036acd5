//! Placing every row of a user's table among the QPV: « lesquelles de nos
//! structures sont en QPV ? » (`ess-map locate`, the web map's « Adresses en
//! QPV »).
//!
//! A table is a CSV file (`,` or `;`, UTF-8 or Windows-1252, read line by
//! line), an XLSX or an ODS workbook (its first sheet, read within
//! [`workbook::Limits`]). Rows with coordinates are located directly; rows
//! with an address only go through the caller's [`Geocoder`], in chunks.
//! Every row is written back, in the input's format, aligned on the header
//! (a row longer than the header says what it held beyond it in its
//! `remarque`), with the [`APPENDED`] columns; a row that cannot be placed
//! precisely is kept, `not_located`, and says why. CSV is written for a
//! spreadsheet or for a script ([`CsvStyle`]).
//!
//! CSV is streamed in chunks located on every core while the next chunk is
//! read, so memory stays bounded for files of millions of rows.

use std::borrow::Cow;
use std::io::{BufRead, Read, Write};

use geodata::initiative::Precision;
use geodata::model::{Location, LocationStatus};
use geodata::records::{Field, Mapping};
use geodata::table::{Column, Table, Term, Value};
use geodata::validate::parse_coordinate;
use geodata::{Territory, delimiter_of};
use rayon::prelude::*;

use crate::output::CsvStyle;
use crate::workbook::{self, WorkbookError};

/// The columns appended to every row: script name, French name.
pub const APPENDED: [(&str, &str); 7] = [
    ("qpv_status", "statut_qpv"),
    ("qpv_code", "code_qpv"),
    ("qpv_name", "nom_qpv"),
    ("distance_m", "distance_m"),
    ("geocode_score", "score_geocodage"),
    ("precision", "precision"),
    ("remarque", "remarque"),
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

    /// The workbook format, for XLSX and ODS.
    pub fn workbook(self) -> Option<workbook::Format> {
        match self {
            TableFormat::Csv => None,
            TableFormat::Xlsx => Some(workbook::Format::Xlsx),
            TableFormat::Ods => Some(workbook::Format::Ods),
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
    /// Refuse tables of more data rows than this.
    pub max_rows: Option<u64>,
    /// What a workbook may hold.
    pub workbook_limits: workbook::Limits,
    /// Who reads a CSV result.
    pub csv: CsvStyle,
    /// Keep where each located row is ([`LocateSummary::points`]), for a
    /// map.
    pub keep_points: bool,
}

/// Most located rows kept for a map ([`LocateSummary::points`]).
pub const MAX_POINTS: usize = 100_000;

/// Where a located row is, and what it is there.
#[derive(Debug, Clone, PartialEq)]
pub struct LocatedPoint {
    /// Its line in the table (the header is line 1).
    pub line: u64,
    pub lon: f64,
    pub lat: f64,
    pub status: RowStatus,
    pub qpv: Option<geodata::QpvId>,
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

/// What a row became, for the counts.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum RowStatus {
    Inside,
    Near,
    Outside,
    /// Near communes whose QPV have no outline loaded: never « outside ».
    Unknown,
    NotLocated,
}

impl RowStatus {
    fn of(location: Option<&Location>) -> RowStatus {
        match location.map(|l| l.status) {
            Some(LocationStatus::Inside) => RowStatus::Inside,
            Some(LocationStatus::Near) => RowStatus::Near,
            Some(LocationStatus::Unknown) => RowStatus::Unknown,
            Some(_) => RowStatus::Outside,
            None => RowStatus::NotLocated,
        }
    }

    /// The status as written.
    pub fn term(self) -> Term {
        let (script, french) = match self {
            RowStatus::Inside => ("inside", "dans un QPV"),
            RowStatus::Near => ("near", "à proximité d'un QPV"),
            RowStatus::Outside => ("outside", "hors QPV"),
            RowStatus::Unknown => ("unknown", "non vérifiable"),
            RowStatus::NotLocated => ("not_located", "non localisée"),
        };
        Term { script, french }
    }
}

fn precision_term(p: &str) -> Term {
    let (script, french) = match p {
        "coordinates" => ("coordinates", "coordonnées"),
        "housenumber" => ("housenumber", "numéro"),
        "street" => ("street", "rue"),
        "locality" => ("locality", "lieu-dit"),
        "municipality" => ("municipality", "commune"),
        _ => ("source", "source"),
    };
    Term { script, french }
}

/// What [`locate_table`] did.
#[derive(Debug, Default, Clone, PartialEq)]
pub struct LocateSummary {
    pub rows: u64,
    pub inside: u64,
    pub near: u64,
    pub outside: u64,
    /// Rows near communes whose QPV have no outline loaded.
    pub unknown: u64,
    pub not_located: u64,
    pub geocoded: u64,
    /// Rows longer than the header (what they held beyond it is in their
    /// `remarque`).
    pub realigned: u64,
    /// Rows not located, by line (the header is line 1), with the reason.
    pub problems: Vec<(u64, String)>,
    /// Where the located rows are, when asked for ([`LocateOptions::keep_points`]),
    /// up to [`MAX_POINTS`]; `points_left_out` counts the others.
    pub points: Vec<LocatedPoint>,
    pub points_left_out: u64,
}

impl LocateSummary {
    /// The counts by name (`not_located`…), as answers give them.
    pub fn counts(&self) -> [(&'static str, u64); 8] {
        [
            ("rows", self.rows),
            ("inside", self.inside),
            ("near", self.near),
            ("outside", self.outside),
            ("unknown", self.unknown),
            ("not_located", self.not_located),
            ("geocoded", self.geocoded),
            ("realigned", self.realigned),
        ]
    }

    fn count(&mut self, line: u64, outcome: &Outcome, note: &str, keep_points: bool) {
        self.rows += 1;
        if let (true, Some((lon, lat))) = (keep_points, outcome.at) {
            if self.points.len() < MAX_POINTS {
                self.points.push(LocatedPoint {
                    line,
                    lon,
                    lat,
                    status: outcome.status,
                    // As in the file: a QPV only for a row in or near one.
                    qpv: matches!(outcome.status, RowStatus::Inside | RowStatus::Near)
                        .then(|| outcome.location.as_ref().and_then(|l| l.qpv))
                        .flatten(),
                });
            } else {
                self.points_left_out += 1;
            }
        }
        match outcome.status {
            RowStatus::Inside => self.inside += 1,
            RowStatus::Near => self.near += 1,
            RowStatus::Outside => self.outside += 1,
            RowStatus::Unknown => self.unknown += 1,
            RowStatus::NotLocated => {
                self.not_located += 1;
                self.problems.push((line, note.to_string()));
            }
        }
        if outcome.geocoded {
            self.geocoded += 1;
        }
    }

    fn merge(&mut self, other: LocateSummary) {
        self.rows += other.rows;
        self.inside += other.inside;
        self.near += other.near;
        self.outside += other.outside;
        self.unknown += other.unknown;
        self.not_located += other.not_located;
        self.geocoded += other.geocoded;
        self.realigned += other.realigned;
        self.problems.extend(other.problems);
        let room = MAX_POINTS.saturating_sub(self.points.len());
        self.points_left_out +=
            other.points_left_out + other.points.len().saturating_sub(room) as u64;
        self.points.extend(other.points.into_iter().take(room));
    }
}

/// Why a table could not be located as a whole (a bad row is not an error).
#[derive(Debug, thiserror::Error)]
pub enum LocateError {
    #[error("fichier illisible ({0})")]
    Io(#[from] std::io::Error),
    #[error("fichier CSV illisible ({0})")]
    Csv(#[from] csv::Error),
    #[error("{0}")]
    Workbook(#[from] WorkbookError),
    #[error("pas de ligne d'en-tête")]
    NoHeader,
    #[error("pas de colonne « {0} » en première ligne")]
    MissingColumn(String),
    #[error(
        "aucune colonne de coordonnées (longitude, latitude) ni d'adresse (adresse, code postal, commune, code INSEE) en première ligne ; nommez-les (--lon-col/--lat-col ou un fichier de correspondance)"
    )]
    NothingToLocate,
    #[error("trop de lignes : {0} au plus")]
    TooManyRows(u64),
    #[error("résultat impossible à écrire ({0})")]
    Write(String),
}

impl LocateError {
    /// Refused for its size (413) rather than its content.
    pub fn is_too_large(&self) -> bool {
        match self {
            LocateError::TooManyRows(_) => true,
            LocateError::Workbook(e) => e.is_too_large(),
            _ => false,
        }
    }
}

/// A row as read, with its line (or sheet row) number.
struct InRow {
    line: u64,
    cells: RowCells,
    /// Said in `remarque` (a line read as Windows-1252, cells beyond the
    /// header).
    read_note: Option<String>,
    /// It held values beyond the header.
    realigned: bool,
}

enum RowCells {
    Csv(csv::ByteRecord),
    Sheet(workbook::SheetRow),
}

impl InRow {
    fn text(&self, column: usize) -> Cow<'_, str> {
        match &self.cells {
            // Lines are UTF-8 by now (see `CsvRows`).
            RowCells::Csv(r) => r
                .get(column)
                .map_or(Cow::Borrowed(""), String::from_utf8_lossy),
            RowCells::Sheet(row) => u32::try_from(column)
                .ok()
                .and_then(|c| row.get(c))
                .map_or(Cow::Borrowed(""), Value::plain_text),
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
#[derive(Debug, Clone)]
struct Outcome {
    status: RowStatus,
    location: Option<Location>,
    /// Where it was located (lon, lat).
    at: Option<(f64, f64)>,
    score: Option<f64>,
    precision: Option<&'static str>,
    geocoded: bool,
    note: String,
}

impl Default for Outcome {
    fn default() -> Self {
        Outcome {
            status: RowStatus::NotLocated,
            location: None,
            at: None,
            score: None,
            precision: None,
            geocoded: false,
            note: String::new(),
        }
    }
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
                (Some(lon), Some(lat))
                    if (-180.0..=180.0).contains(&lon) && (-90.0..=90.0).contains(&lat) =>
                {
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
/// geocoder (one call for the chunk), every row on every core. Rows with
/// coordinates are placed and located in one pass; only those with an
/// address alone wait for the geocoder, then are located in a second.
fn locate_chunk(
    territory: &Territory,
    rows: &[InRow],
    columns: &Columns,
    geocoder: &dyn Geocoder,
    options: &LocateOptions,
) -> Vec<Outcome> {
    type Waiting = Option<Box<(AddressQuery, Option<String>)>>;
    let (mut outcomes, waiting): (Vec<Outcome>, Vec<Waiting>) = rows
        .par_iter()
        .map(|row| match place_of(row, columns) {
            Place::Address(query, why) => (Outcome::default(), Some(Box::new((query, why)))),
            place => {
                let (at, outcome) = placed(place, None);
                (located(territory, at, outcome, options), None)
            }
        })
        .unzip();
    let waiting: Vec<(usize, AddressQuery, Option<String>)> = waiting
        .into_iter()
        .enumerate()
        .filter_map(|(i, w)| w.map(|w| (i, w.0, w.1)))
        .collect();
    if waiting.is_empty() {
        return outcomes;
    }
    let queries: Vec<AddressQuery> = waiting.iter().map(|(_, q, _)| q.clone()).collect();
    let answers = geocoder.geocode(&queries);
    assert_eq!(answers.len(), queries.len(), "one answer per query");
    let done: Vec<(usize, Outcome)> = waiting
        .into_par_iter()
        .zip(answers)
        .map(|((i, query, why), answer)| {
            let (at, outcome) = placed(Place::Address(query, why), Some(answer));
            (i, located(territory, at, outcome, options))
        })
        .collect();
    for (i, outcome) in done {
        outcomes[i] = outcome;
    }
    outcomes
}

/// A row's outcome before locating, and where to locate it.
fn placed(place: Place, answer: Option<Result<Geocoded, String>>) -> (Option<(f64, f64)>, Outcome) {
    match place {
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
            match answer.expect("an answer for every address") {
                Ok(g) => {
                    let mut outcome = Outcome {
                        score: g.score,
                        precision: Some(g.precision.as_str()),
                        geocoded: true,
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
    }
}

/// The outcome of a row placed at `at`: its QPV status, and for one that
/// cannot be verified, the QPV it may be in.
fn located(
    territory: &Territory,
    at: Option<(f64, f64)>,
    mut outcome: Outcome,
    options: &LocateOptions,
) -> Outcome {
    let Some((lon, lat)) = at else {
        return outcome;
    };
    let coord = geo::Coord { x: lon, y: lat };
    let (location, candidates) =
        territory.locate_with_candidates(coord, options.radius_m, options.generation);
    outcome.status = RowStatus::of(Some(&location));
    if outcome.status == RowStatus::Unknown {
        // Up to three of the QPV it may be in, nearest first.
        use std::fmt::Write as _;
        let mut said = std::mem::take(&mut outcome.note);
        if !said.is_empty() {
            said.push_str(" ; ");
        }
        said.push_str("non vérifiable : contour non chargé (peut-être ");
        for (n, &(id, _)) in candidates.iter().take(3).enumerate() {
            let q = territory.qpv(id);
            let comma = if n > 0 { ", " } else { "" };
            let _ = write!(said, "{comma}{} {}", q.code, q.name);
        }
        said.push(')');
        outcome.note = said;
    }
    outcome.location = Some(location);
    outcome.at = Some((lon, lat));
    outcome
}

/// The appended cells of a row, typed; its note is taken (written once).
fn appended(territory: &Territory, row: &InRow, outcome: &mut Outcome) -> [Value; 7] {
    let (code, name, distance) = match &outcome.location {
        Some(location) if location.status == LocationStatus::Unknown => {
            (Value::Empty, Value::Empty, Value::Empty)
        }
        Some(location) => {
            let qpv = location.qpv.map(|i| territory.qpv(i));
            (
                Value::of(qpv.map(|q| q.code.as_str())),
                Value::of(qpv.map(|q| q.name.as_str())),
                Value::of(location.distance_m.map(|d| (d * 10.0).round() / 10.0)),
            )
        }
        None => (Value::Empty, Value::Empty, Value::Empty),
    };
    let note = match &row.read_note {
        None => std::mem::take(&mut outcome.note),
        Some(read) if outcome.note.is_empty() => read.clone(),
        Some(read) => format!("{read} ; {}", outcome.note),
    };
    [
        Value::Term(outcome.status.term()),
        code,
        name,
        distance,
        Value::of(outcome.score.map(|s| (s * 100.0).round() / 100.0)),
        outcome
            .precision
            .map_or(Value::Empty, |p| Value::Term(precision_term(p))),
        Value::Text(note),
    ]
}

/// Locates every row of `input` (in `format`) and writes it to `output` in
/// the same format with the [`APPENDED`] columns.
pub fn locate_table(
    territory: &Territory,
    format: TableFormat,
    input: impl Read + Send,
    output: impl Write + Send,
    options: &LocateOptions,
    geocoder: &dyn Geocoder,
) -> Result<LocateSummary, LocateError> {
    match format.workbook() {
        None => locate_csv(territory, input, output, options, geocoder),
        Some(book) => {
            let mut bytes = Vec::new();
            let limit = options.workbook_limits.max_unpacked_bytes;
            input
                .take(limit.saturating_add(1))
                .read_to_end(&mut bytes)?;
            locate_sheet(territory, format, book, &bytes, output, options, geocoder)
        }
    }
}

/// CSV lines as rows: a line that is not UTF-8 is read as Windows-1252 (the
/// other encoding French spreadsheets write) and says so; a line longer than
/// the header keeps what it held beyond it for its `remarque`.
struct CsvRows<R: Read> {
    reader: csv::Reader<R>,
    width: usize,
}

impl<R: Read> CsvRows<R> {
    /// Reads up to `limit` rows into `rows`, reusing the rows (and their
    /// buffers) it already holds: a million-row file then allocates a
    /// chunk's buffers twice, not once per line, and frees nothing across
    /// threads.
    fn fill(&mut self, rows: &mut Vec<InRow>, limit: usize) -> Result<(), LocateError> {
        let mut filled = 0;
        while filled < limit {
            if filled == rows.len() {
                rows.push(InRow {
                    line: 0,
                    cells: RowCells::Csv(csv::ByteRecord::new()),
                    read_note: None,
                    realigned: false,
                });
            }
            let row = &mut rows[filled];
            if !matches!(row.cells, RowCells::Csv(_)) {
                row.cells = RowCells::Csv(csv::ByteRecord::new());
            }
            let RowCells::Csv(record) = &mut row.cells else {
                unreachable!("made a CSV row above")
            };
            if !self.reader.read_byte_record(record)? {
                break;
            }
            filled += 1;
            row.line = record.position().map_or(0, |p| p.line());
            row.read_note = None;
            row.realigned = false;
            if std::str::from_utf8(record.as_slice()).is_err() {
                *record = record
                    .iter()
                    .map(|f| encoding_rs::WINDOWS_1252.decode_without_bom_handling(f).0)
                    .map(|f| f.into_owned().into_bytes())
                    .collect();
                row.read_note = Some("ligne lue en Windows-1252".to_string());
            }
            if record.len() > self.width {
                let beyond: Vec<String> = record
                    .iter()
                    .skip(self.width)
                    .map(|f| String::from_utf8_lossy(f).into_owned())
                    .collect();
                record.truncate(self.width);
                row.realigned = beyond.iter().any(|c| !c.trim().is_empty());
                row.read_note = beyond_header(row.read_note.take(), &beyond);
            }
        }
        rows.truncate(filled);
        Ok(())
    }
}

/// The note of a row that held cells beyond the header (empty ones are
/// dropped silently: trailing separators).
fn beyond_header(note: Option<String>, beyond: &[String]) -> Option<String> {
    let held: Vec<String> = beyond
        .iter()
        .filter(|c| !c.trim().is_empty())
        .map(|c| format!("« {} »", c.chars().take(200).collect::<String>()))
        .collect();
    if held.is_empty() {
        return note;
    }
    let said = format!(
        "{} cellule{} au-delà des en-têtes, gardée{} ici : {}",
        held.len(),
        if held.len() > 1 { "s" } else { "" },
        if held.len() > 1 { "s" } else { "" },
        held.join(", ")
    );
    Some(match note {
        Some(n) => format!("{n} ; {said}"),
        None => said,
    })
}

fn locate_csv(
    territory: &Territory,
    input: impl Read + Send,
    output: impl Write + Send,
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
    let mut rows = CsvRows { reader, width: 0 };
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
    rows.width = headers.len();
    let columns = Columns::of(&headers, options)?;
    let style = options.csv;
    // A script gets the separator it gave.
    let out_delimiter = match style {
        CsvStyle::Script => delimiter,
        CsvStyle::Spreadsheet => style.delimiter(),
    };
    let mut output = output;
    output.write_all(style.start())?;
    {
        let mut writer = csv::WriterBuilder::new()
            .delimiter(out_delimiter)
            .from_writer(&mut output);
        let appended =
            APPENDED.map(|(script, french)| style.column(&Column::new(script, french)).to_string());
        writer.write_record(
            headers
                .iter()
                .map(|h| style.text(h).into_owned())
                .chain(appended),
        )?;
        writer.flush()?;
    }
    let mut summary = LocateSummary::default();
    // Three stages at once: while a chunk is located and serialized on
    // every core, the one before it is written out and the one after it is
    // read, in turn, on one core (writing used to wait, every core idle
    // but one). Rows and output buffers are reused turn by turn.
    let mut chunk = Vec::new();
    let mut next = Vec::new();
    let mut made_now: Vec<Vec<u8>> = Vec::new();
    let mut made_before: Vec<Vec<u8>> = Vec::new();
    rows.fill(&mut next, CHUNK_ROWS)?;
    while !next.is_empty() {
        std::mem::swap(&mut chunk, &mut next);
        check_rows(options, summary.rows + chunk.len() as u64)?;
        let output = &mut output;
        let (parts, (written, read)) = rayon::join(
            || {
                let mut outcomes = locate_chunk(territory, &chunk, &columns, geocoder, options);
                serialized(
                    territory,
                    &chunk,
                    &mut outcomes,
                    Serialization {
                        delimiter: out_delimiter,
                        style,
                        width: headers.len(),
                        keep_points: options.keep_points,
                    },
                    &mut made_now,
                )
            },
            || {
                let written = write_buffers(output, &made_before);
                (written, rows.fill(&mut next, CHUNK_ROWS))
            },
        );
        written?;
        read?;
        for part in parts? {
            summary.merge(part);
        }
        std::mem::swap(&mut made_now, &mut made_before);
    }
    write_buffers(&mut output, &made_before)?;
    output.flush()?;
    Ok(summary)
}

fn write_buffers(output: &mut impl Write, buffers: &[Vec<u8>]) -> std::io::Result<()> {
    buffers.iter().try_for_each(|bytes| output.write_all(bytes))
}

/// How a chunk's rows are written.
#[derive(Clone, Copy)]
struct Serialization {
    delimiter: u8,
    style: CsvStyle,
    /// The header's width: short rows are padded to it.
    width: usize,
    keep_points: bool,
}

/// Rows serialized together, on one core.
const SLICE_ROWS: usize = 2048;

/// A chunk's rows with their appended cells, as CSV bytes made on every
/// core, a slice at a time, into `buffers` (one per slice, reused from
/// chunk to chunk; those beyond the chunk's slices are left as they are),
/// each slice with its counts.
fn serialized(
    territory: &Territory,
    rows: &[InRow],
    outcomes: &mut [Outcome],
    how: Serialization,
    buffers: &mut Vec<Vec<u8>>,
) -> Result<Vec<LocateSummary>, LocateError> {
    let slices = rows.len().div_ceil(SLICE_ROWS);
    if buffers.len() < slices {
        buffers.resize_with(slices, Vec::new);
    }
    buffers.truncate(slices);
    buffers
        .par_iter_mut()
        .zip(rows.par_chunks(SLICE_ROWS))
        .zip(outcomes.par_chunks_mut(SLICE_ROWS))
        .map(|((buffer, rows), outcomes)| {
            let mut part = LocateSummary::default();
            buffer.clear();
            let mut writer = csv::WriterBuilder::new()
                .delimiter(how.delimiter)
                .flexible(true)
                .from_writer(std::mem::take(buffer));
            for (row, outcome) in rows.iter().zip(outcomes) {
                let cells = appended(territory, row, &mut *outcome);
                part.count(row.line, outcome, &cells[6].plain_text(), how.keep_points);
                part.realigned += u64::from(row.realigned);
                let RowCells::Csv(input) = &row.cells else {
                    unreachable!("CSV rows")
                };
                // Field by field into the writer (no record copied first),
                // then the record's end.
                for field in input.iter() {
                    writer.write_field(how.style.text_bytes(field))?;
                }
                // Short rows are padded to the header.
                for _ in input.len()..how.width {
                    writer.write_field(b"")?;
                }
                for cell in &cells {
                    writer.write_field(how.style.cell(cell).as_bytes())?;
                }
                writer.write_record(None::<&[u8]>)?;
            }
            *buffer = writer
                .into_inner()
                .map_err(|e| LocateError::Write(e.to_string()))?;
            Ok(part)
        })
        .collect()
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
    book: workbook::Format,
    bytes: &[u8],
    output: impl Write,
    options: &LocateOptions,
    geocoder: &dyn Geocoder,
) -> Result<LocateSummary, LocateError> {
    let mut sheet_rows = workbook::first_sheet(bytes, book, &options.workbook_limits)?.into_iter();
    let header = sheet_rows.next().ok_or(LocateError::NoHeader)?;
    let headers: Vec<String> = header
        .dense()
        .iter()
        .map(|v| v.plain_text().trim().to_string())
        .collect();
    if headers.iter().all(String::is_empty) {
        return Err(LocateError::NoHeader);
    }
    let width = headers.len();
    let columns = Columns::of(&headers, options)?;
    let mut rows: Vec<InRow> = Vec::new();
    for mut row in sheet_rows {
        let beyond: Vec<String> = row
            .cells
            .iter()
            .filter(|(c, _)| *c as usize >= width)
            .map(|(_, v)| v.plain_text().into_owned())
            .collect();
        row.cells.retain(|(c, _)| (*c as usize) < width);
        rows.push(InRow {
            line: u64::from(row.number),
            cells: RowCells::Sheet(row),
            realigned: beyond.iter().any(|c| !c.trim().is_empty()),
            read_note: beyond_header(None, &beyond),
        });
    }
    check_rows(options, rows.len() as u64)?;
    let mut outcomes = Vec::with_capacity(rows.len());
    for chunk in rows.chunks(CHUNK_ROWS) {
        outcomes.extend(locate_chunk(territory, chunk, &columns, geocoder, options));
    }
    let mut summary = LocateSummary::default();
    let mut table = Table {
        about: Vec::new(),
        columns: headers
            .into_iter()
            .map(Column::same)
            .chain(APPENDED.map(|(s, f)| Column::new(s, f)))
            .collect(),
        rows: Vec::with_capacity(rows.len()),
    };
    for (row, outcome) in rows.iter().zip(&mut outcomes) {
        let cells = appended(territory, row, &mut *outcome);
        summary.count(
            row.line,
            outcome,
            &cells[6].plain_text(),
            options.keep_points,
        );
        summary.realigned += u64::from(row.realigned);
        let RowCells::Sheet(sheet_row) = &row.cells else {
            unreachable!("sheet rows")
        };
        let mut line = vec![Value::Empty; width];
        for (c, v) in &sheet_row.cells {
            line[*c as usize] = v.clone();
        }
        line.extend(cells);
        table.rows.push(line);
    }
    let bytes = match format {
        TableFormat::Xlsx => crate::output::sheets::xlsx(&table, "QPV"),
        _ => crate::output::sheets::ods(&table, "QPV"),
    }
    .map_err(|e| LocateError::Write(e.to_string()))?;
    let mut output = output;
    output.write_all(&bytes)?;
    output.flush()?;
    Ok(summary)
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
    fn cells_beyond_the_header_are_said() {
        assert_eq!(beyond_header(None, &["".into()]), None);
        assert_eq!(
            beyond_header(None, &["extra".into()]).unwrap(),
            "1 cellule au-delà des en-têtes, gardée ici : « extra »"
        );
    }
}
