//! The first sheet of an XLSX or ODS workbook a user sends, read within
//! limits that hold *while reading*: a workbook is a zip of XML, and a few
//! kilobytes of it can describe billions of cells (one cell at `XFD1048576`,
//! a row repeated a million times, gigabytes of whitespace). So nothing is
//! sized from what the file declares: the parts' unpacked sizes are checked
//! against the limit from the zip's directory before reading, the bytes
//! really unpacked are counted as they come, no run of text between two
//! tags may exceed [`MAX_RUN_BYTES`], and each cell's column, each row's
//! number and the number of cells are checked as they are met, before the
//! cell is kept. Only cells holding a value are kept (rows are sparse), so
//! memory follows the data, not the sheet's extent.
//!
//! Why not calamine (which ess-map used before): its ranges are allocated
//! rows × columns from the declared or real extent, and its shared strings
//! and ODS repetitions are expanded before any limit can be checked; a
//! 1.6 KB file asked for 512 GB.

use std::io::{BufReader, Cursor, Read};

use geodata::table::Value;
use quick_xml::events::{BytesStart, Event};

/// Longest run of bytes between two markup characters (`<`, `>`): a cell
/// holds at most 32,767 characters in Excel, so 1 MiB is no real text; it
/// keeps any single XML event, hence the reader's buffer, small.
pub const MAX_RUN_BYTES: usize = 1 << 20;

/// Parts of an archive looked at, at most.
const MAX_MEMBERS: usize = 10_000;

/// What a workbook may hold.
#[derive(Debug, Clone, Copy)]
pub struct Limits {
    /// Bytes unpacked from the parts read, all together.
    pub max_unpacked_bytes: u64,
    /// Highest row number holding a value (the header is row 1).
    pub max_rows: u32,
    /// Columns (a value in a column beyond is refused).
    pub max_columns: u32,
    /// Cells holding a value.
    pub max_cells: u64,
}

impl Limits {
    /// For tables sent to the server (`/api/locate/table`).
    pub const UPLOAD: Limits = Limits {
        max_unpacked_bytes: 160 << 20,
        max_rows: 100_001,
        max_columns: 1024,
        max_cells: 4_000_000,
    };
    /// For the command line on one's own files: the formats' own row
    /// limit, and a memory bound.
    pub const LOCAL: Limits = Limits {
        max_unpacked_bytes: 4 << 30,
        max_rows: 1_048_576,
        max_columns: 16_384,
        max_cells: 60_000_000,
    };
}

/// A workbook's format.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Format {
    Xlsx,
    Ods,
}

/// A row holding at least one value: its number (1 for the first row of
/// the sheet) and its values by column (0 for A), in column order.
#[derive(Debug, Clone, PartialEq)]
pub struct SheetRow {
    pub number: u32,
    pub cells: Vec<(u32, Value)>,
}

impl SheetRow {
    /// The value in `column`, if any.
    pub fn get(&self, column: u32) -> Option<&Value> {
        self.cells
            .binary_search_by_key(&column, |(c, _)| *c)
            .ok()
            .map(|i| &self.cells[i].1)
    }

    /// Values from column 0 to the last one holding a value, empty where
    /// none.
    pub fn dense(&self) -> Vec<Value> {
        let width = self.cells.last().map_or(0, |(c, _)| *c as usize + 1);
        let mut out = vec![Value::Empty; width];
        for (c, v) in &self.cells {
            out[*c as usize] = v.clone();
        }
        out
    }
}

/// Why a workbook was refused. The messages are for the person who sent it.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
pub enum WorkbookError {
    #[error("classeur illisible : {0}")]
    Unreadable(String),
    #[error("le classeur n'a aucune feuille")]
    NoSheet,
    #[error("{part} : XML illisible ({reason})")]
    Xml { part: String, reason: String },
    /// Too much to unpack, or a run of text too long.
    #[error("{0}")]
    TooLarge(String),
    #[error("la feuille a des valeurs jusqu'à la ligne {row} : {max} lignes au plus")]
    TooManyRows { row: u64, max: u32 },
    #[error("la cellule {cell} est au-delà de la colonne {last} ({max} colonnes au plus)")]
    TooManyColumns {
        cell: String,
        last: String,
        max: u32,
    },
    #[error("plus de {max} cellules remplies")]
    TooManyCells { max: u64 },
}

impl WorkbookError {
    /// Whether the workbook is refused for its size (413) rather than its
    /// content (422).
    pub fn is_too_large(&self) -> bool {
        matches!(
            self,
            WorkbookError::TooLarge(_)
                | WorkbookError::TooManyRows { .. }
                | WorkbookError::TooManyColumns { .. }
                | WorkbookError::TooManyCells { .. }
        )
    }
}

/// `A` for 0, `AB` for 27.
pub fn column_letters(column: u32) -> String {
    let mut n = u64::from(column) + 1;
    let mut out = Vec::new();
    while n > 0 {
        let r = ((n - 1) % 26) as u8;
        out.push(b'A' + r);
        n = (n - 1) / 26;
    }
    out.reverse();
    String::from_utf8(out).expect("ASCII")
}

fn megabytes(bytes: u64) -> String {
    format!("{} Mo", bytes.div_ceil(1 << 20))
}

/// An open archive and what is left of the unpacking budget.
struct Archive<'a> {
    zip: zip::ZipArchive<Cursor<&'a [u8]>>,
    left: u64,
    limit: u64,
}

impl<'a> Archive<'a> {
    fn open(bytes: &'a [u8], limit: u64) -> Result<Archive<'a>, WorkbookError> {
        let zip = zip::ZipArchive::new(Cursor::new(bytes)).map_err(|e| {
            WorkbookError::Unreadable(format!(
                "pas une archive zip ({e}) ; un fichier .xls ou chiffré ne peut pas être lu, enregistrez-le en .xlsx ou .ods"
            ))
        })?;
        if zip.len() > MAX_MEMBERS {
            return Err(WorkbookError::TooLarge(format!(
                "l'archive compte {} parties : {MAX_MEMBERS} au plus",
                zip.len()
            )));
        }
        Ok(Archive {
            zip,
            left: limit,
            limit,
        })
    }

    fn has(&self, name: &str) -> bool {
        self.zip.index_for_name(name).is_some()
    }

    /// Unpacked size the archive's directory declares for `names`.
    fn declared(&mut self, names: &[&str]) -> Result<u64, WorkbookError> {
        let mut total = 0u64;
        for name in names {
            if let Some(i) = self.zip.index_for_name(name) {
                let entry = self
                    .zip
                    .by_index_raw(i)
                    .map_err(|e| WorkbookError::Unreadable(format!("{name} : {e}")))?;
                total = total.saturating_add(entry.size());
            }
        }
        Ok(total)
    }

    /// Checks the declared size of `names` against the budget.
    fn check_declared(&mut self, names: &[&str]) -> Result<u64, WorkbookError> {
        let declared = self.declared(names)?;
        if declared > self.limit {
            return Err(WorkbookError::TooLarge(format!(
                "le classeur se décompresse en {} : {} au plus",
                megabytes(declared),
                megabytes(self.limit)
            )));
        }
        Ok(declared)
    }

    /// Reads part `name` with `read`, within what is left of the budget.
    fn read_part<T>(
        &mut self,
        name: &str,
        read: impl FnOnce(
            &mut quick_xml::Reader<BufReader<Metered<&mut dyn Read>>>,
        ) -> Result<T, WorkbookError>,
    ) -> Result<T, WorkbookError> {
        let limit = self.limit;
        let left = self.left;
        let mut entry = self
            .zip
            .by_name(name)
            .map_err(|e| WorkbookError::Unreadable(format!("{name} : {e}")))?;
        if entry.encrypted() {
            return Err(WorkbookError::Unreadable(format!("{name} est chiffré")));
        }
        let metered = Metered {
            inner: &mut entry as &mut dyn Read,
            left,
            run: 0,
            exceeded: None,
        };
        let mut xml = quick_xml::Reader::from_reader(BufReader::with_capacity(64 * 1024, metered));
        xml.config_mut().check_end_names = false;
        let out = read(&mut xml);
        let metered = xml.into_inner().into_inner();
        if let Some(what) = metered.exceeded {
            return Err(WorkbookError::TooLarge(match what {
                Exceeded::Total => format!(
                    "le classeur se décompresse en plus de {} (au plus)",
                    megabytes(limit)
                ),
                Exceeded::Run => format!(
                    "{name} : plus de {} sans balise, ce n'est pas un tableau",
                    megabytes(MAX_RUN_BYTES as u64)
                ),
            }));
        }
        self.left = metered.left;
        out
    }
}

#[derive(Debug, Clone, Copy)]
enum Exceeded {
    Total,
    Run,
}

/// A part's bytes as unpacked, counted against the budget, and checked to
/// hold markup at least every [`MAX_RUN_BYTES`].
struct Metered<R> {
    inner: R,
    left: u64,
    run: usize,
    exceeded: Option<Exceeded>,
}

impl<R: Read> Read for Metered<R> {
    fn read(&mut self, buf: &mut [u8]) -> std::io::Result<usize> {
        if self.exceeded.is_some() {
            return Err(std::io::Error::other("limit exceeded"));
        }
        let want = buf
            .len()
            .min(usize::try_from(self.left.saturating_add(1)).unwrap_or(usize::MAX));
        let n = self.inner.read(&mut buf[..want])?;
        if n as u64 > self.left {
            self.exceeded = Some(Exceeded::Total);
            return Err(std::io::Error::other("unpacked size limit"));
        }
        self.left -= n as u64;
        let got = &buf[..n];
        match got.iter().rposition(|&b| b == b'<' || b == b'>') {
            Some(last) => self.run = n - 1 - last,
            None => self.run += n,
        }
        if self.run > MAX_RUN_BYTES {
            self.exceeded = Some(Exceeded::Run);
            return Err(std::io::Error::other("run too long"));
        }
        Ok(n)
    }
}

fn xml_error(part: &str) -> impl Fn(quick_xml::Error) -> WorkbookError + '_ {
    move |e| WorkbookError::Xml {
        part: part.to_string(),
        reason: e.to_string(),
    }
}

/// An attribute's value by its local name (`r:id` → `id`).
fn attribute(e: &BytesStart<'_>, local: &[u8]) -> Option<String> {
    e.attributes().flatten().find_map(|a| {
        (a.key.local_name().as_ref() == local)
            .then(|| {
                let raw = String::from_utf8_lossy(&a.value);
                quick_xml::escape::unescape(&raw)
                    .ok()
                    .map(|v| v.into_owned())
            })
            .flatten()
    })
}

/// Text of a reference (`&amp;`, `&#233;`).
fn reference_text(r: &quick_xml::events::BytesRef<'_>) -> String {
    if let Ok(Some(c)) = r.resolve_char_ref() {
        return c.to_string();
    }
    let name = r.decode().unwrap_or_default();
    quick_xml::escape::resolve_predefined_entity(&name)
        .map_or_else(|| format!("&{name};"), str::to_string)
}

/// The bytes the parts read would unpack to, as the archive declares them:
/// the cost of reading it, known before reading (a declared size over the
/// limit is refused here, at once).
pub fn unpacked_size(bytes: &[u8], format: Format, limits: &Limits) -> Result<u64, WorkbookError> {
    let mut archive = Archive::open(bytes, limits.max_unpacked_bytes)?;
    match format {
        Format::Ods => archive.check_declared(&["content.xml"]),
        Format::Xlsx => {
            archive.check_declared(&xlsx::PARTS)?;
            let (sheet, _) = xlsx::sheet_path(&mut archive)?;
            let mut parts = xlsx::PARTS.to_vec();
            parts.push(&sheet);
            archive.check_declared(&parts)
        }
    }
}

/// The first sheet's rows holding a value, in order.
pub fn first_sheet(
    bytes: &[u8],
    format: Format,
    limits: &Limits,
) -> Result<Vec<SheetRow>, WorkbookError> {
    unpacked_size(bytes, format, limits)?;
    let mut archive = Archive::open(bytes, limits.max_unpacked_bytes)?;
    match format {
        Format::Xlsx => xlsx::first_sheet(&mut archive, limits),
        Format::Ods => ods::first_sheet(&mut archive, limits),
    }
}

/// Rows and cells as they are kept, within the limits.
struct Collector<'l> {
    limits: &'l Limits,
    rows: Vec<SheetRow>,
    cells: u64,
}

impl Collector<'_> {
    fn check_cell(&self, column: u32, row: u64) -> Result<(), WorkbookError> {
        if column >= self.limits.max_columns {
            return Err(WorkbookError::TooManyColumns {
                cell: format!("{}{row}", column_letters(column)),
                last: column_letters(self.limits.max_columns - 1),
                max: self.limits.max_columns,
            });
        }
        if row > u64::from(self.limits.max_rows) {
            return Err(WorkbookError::TooManyRows {
                row,
                max: self.limits.max_rows,
            });
        }
        Ok(())
    }

    /// Keeps `count` copies of a row of `cells` from row `number`.
    fn push(
        &mut self,
        number: u64,
        cells: Vec<(u32, Value)>,
        count: u64,
    ) -> Result<(), WorkbookError> {
        if cells.is_empty() {
            return Ok(());
        }
        let last = number.saturating_add(count - 1);
        if last > u64::from(self.limits.max_rows) {
            return Err(WorkbookError::TooManyRows {
                row: last,
                max: self.limits.max_rows,
            });
        }
        self.cells = self
            .cells
            .saturating_add((cells.len() as u64).saturating_mul(count));
        if self.cells > self.limits.max_cells {
            return Err(WorkbookError::TooManyCells {
                max: self.limits.max_cells,
            });
        }
        let mut cells = cells;
        cells.sort_by_key(|(c, _)| *c);
        cells.dedup_by_key(|(c, _)| *c);
        for k in 0..count {
            let number = u32::try_from(number + k).expect("checked against max_rows");
            self.rows.push(SheetRow {
                number,
                cells: cells.clone(),
            });
        }
        Ok(())
    }
}

mod xlsx {
    use super::*;

    /// Days from 0000-03-01 to a civil date (Howard Hinnant's algorithm),
    /// and back.
    fn civil_from_days(z: i64) -> (i64, u32, u32) {
        let z = z + 719_468;
        let era = z.div_euclid(146_097);
        let doe = z.rem_euclid(146_097);
        let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
        let y = yoe + era * 400;
        let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
        let mp = (5 * doy + 2) / 153;
        let d = (doy - (153 * mp + 2) / 5 + 1) as u32;
        let m = if mp < 10 { mp + 3 } else { mp - 9 } as u32;
        (if m <= 2 { y + 1 } else { y }, m, d)
    }

    /// A spreadsheet date serial as ISO 8601 text.
    pub(super) fn date_text(serial: f64, date1904: bool) -> String {
        // Days from 1970-01-01 to the epoch: 1899-12-30 (Excel counts a
        // 29 February 1900 that never was, so serials from 61 on are right
        // from that epoch), or 1904-01-01.
        let epoch = if date1904 { -24_107 } else { -25_569 };
        let serial = if !date1904 && serial < 61.0 {
            serial + 1.0
        } else {
            serial
        };
        let days = serial.floor();
        let seconds = ((serial - days) * 86_400.0).round() as i64;
        let (y, m, d) = civil_from_days(epoch + days as i64 + seconds / 86_400);
        let seconds = seconds % 86_400;
        if seconds == 0 {
            format!("{y:04}-{m:02}-{d:02}")
        } else {
            format!(
                "{y:04}-{m:02}-{d:02} {:02}:{:02}:{:02}",
                seconds / 3600,
                seconds / 60 % 60,
                seconds % 60
            )
        }
    }

    /// Whether a number format shows a date or a time.
    fn is_date_format(id: u32, code: Option<&str>) -> bool {
        if matches!(id, 14..=22 | 27..=36 | 45..=47 | 50..=58) {
            return true;
        }
        let Some(code) = code else { return false };
        let mut quoted = false;
        let mut bracket = false;
        let mut escaped = false;
        for c in code.chars() {
            if escaped {
                escaped = false;
                continue;
            }
            match c {
                '\\' => escaped = true,
                '"' => quoted = !quoted,
                '[' if !quoted => bracket = true,
                ']' if !quoted => bracket = false,
                'd' | 'D' | 'm' | 'M' | 'y' | 'Y' | 'h' | 'H' | 's' | 'S'
                    if !quoted && !bracket =>
                {
                    return true;
                }
                _ => {}
            }
        }
        false
    }

    /// `B12` → (1, Some(12)); `B` → (1, None).
    fn cell_reference(r: &str) -> Option<(u32, Option<u64>)> {
        let letters = r.bytes().take_while(u8::is_ascii_alphabetic).count();
        if letters == 0 || letters > 3 {
            return None;
        }
        let mut column: u32 = 0;
        for b in r[..letters].bytes() {
            column = column * 26 + u32::from(b.to_ascii_uppercase() - b'A') + 1;
        }
        let digits = &r[letters..];
        let row = if digits.is_empty() {
            None
        } else {
            Some(digits.parse().ok()?)
        };
        Some((column - 1, row))
    }

    /// The parts read besides the sheet.
    pub(super) const PARTS: [&str; 4] = [
        "xl/workbook.xml",
        "xl/_rels/workbook.xml.rels",
        "xl/styles.xml",
        "xl/sharedStrings.xml",
    ];

    pub(super) fn sheet_path(archive: &mut Archive<'_>) -> Result<(String, bool), WorkbookError> {
        let mut first_id = None;
        let mut date1904 = false;
        archive.read_part("xl/workbook.xml", |xml| {
            let mut buf = Vec::new();
            loop {
                match xml
                    .read_event_into(&mut buf)
                    .map_err(xml_error("xl/workbook.xml"))?
                {
                    Event::Start(e) | Event::Empty(e) => match e.local_name().as_ref() {
                        b"workbookPr" => {
                            date1904 =
                                attribute(&e, b"date1904").is_some_and(|v| v == "1" || v == "true");
                        }
                        b"sheet" if first_id.is_none() => first_id = attribute(&e, b"id"),
                        _ => {}
                    },
                    Event::Eof => break,
                    _ => {}
                }
                buf.clear();
            }
            Ok(())
        })?;
        let id = first_id.ok_or(WorkbookError::NoSheet)?;
        let mut target = None;
        if archive.has("xl/_rels/workbook.xml.rels") {
            archive.read_part("xl/_rels/workbook.xml.rels", |xml| {
                let mut buf = Vec::new();
                loop {
                    match xml
                        .read_event_into(&mut buf)
                        .map_err(xml_error("xl/_rels/workbook.xml.rels"))?
                    {
                        Event::Start(e) | Event::Empty(e)
                            if e.local_name().as_ref() == b"Relationship"
                                && attribute(&e, b"Id").as_deref() == Some(id.as_str()) =>
                        {
                            target = attribute(&e, b"Target");
                        }
                        Event::Eof => break,
                        _ => {}
                    }
                    buf.clear();
                }
                Ok(())
            })?;
        }
        let path = match target {
            Some(t) if t.starts_with('/') => t.trim_start_matches('/').to_string(),
            Some(t) => {
                let mut parts: Vec<&str> = vec!["xl"];
                for p in t.split('/') {
                    match p {
                        ".." => {
                            parts.pop();
                        }
                        "." | "" => {}
                        p => parts.push(p),
                    }
                }
                parts.join("/")
            }
            None => "xl/worksheets/sheet1.xml".to_string(),
        };
        if !archive.has(&path) {
            return Err(WorkbookError::NoSheet);
        }
        Ok((path, date1904))
    }

    /// Which cell styles show dates.
    fn date_styles(archive: &mut Archive<'_>) -> Result<Vec<bool>, WorkbookError> {
        if !archive.has("xl/styles.xml") {
            return Ok(Vec::new());
        }
        let mut formats: Vec<(u32, String)> = Vec::new();
        let mut styles = Vec::new();
        archive.read_part("xl/styles.xml", |xml| {
            let mut buf = Vec::new();
            let mut in_cell_xfs = false;
            loop {
                match xml
                    .read_event_into(&mut buf)
                    .map_err(xml_error("xl/styles.xml"))?
                {
                    Event::Start(e) | Event::Empty(e) => match e.local_name().as_ref() {
                        b"numFmt" => {
                            if let (Some(id), Some(code)) = (
                                attribute(&e, b"numFmtId").and_then(|i| i.parse().ok()),
                                attribute(&e, b"formatCode"),
                            ) && formats.len() < 10_000
                            {
                                formats.push((id, code));
                            }
                        }
                        b"cellXfs" => in_cell_xfs = true,
                        b"xf" if in_cell_xfs && styles.len() < 100_000 => {
                            let id: u32 = attribute(&e, b"numFmtId")
                                .and_then(|i| i.parse().ok())
                                .unwrap_or(0);
                            let code = formats
                                .iter()
                                .find(|(i, _)| *i == id)
                                .map(|(_, c)| c.as_str());
                            styles.push(is_date_format(id, code));
                        }
                        _ => {}
                    },
                    Event::End(e) if e.local_name().as_ref() == b"cellXfs" => in_cell_xfs = false,
                    Event::Eof => break,
                    _ => {}
                }
                buf.clear();
            }
            Ok(())
        })?;
        Ok(styles)
    }

    fn shared_strings(
        archive: &mut Archive<'_>,
        limits: &Limits,
    ) -> Result<Vec<String>, WorkbookError> {
        const PART: &str = "xl/sharedStrings.xml";
        if !archive.has(PART) {
            return Ok(Vec::new());
        }
        let mut strings = Vec::new();
        archive.read_part(PART, |xml| {
            let mut buf = Vec::new();
            let mut current: Option<String> = None;
            // Inside <t> (of <si> or of a run), outside phonetic runs.
            let (mut in_t, mut phonetic) = (false, 0u32);
            loop {
                match xml.read_event_into(&mut buf).map_err(xml_error(PART))? {
                    Event::Start(e) => match e.local_name().as_ref() {
                        b"si" => current = Some(String::new()),
                        b"t" => in_t = true,
                        b"rPh" => phonetic += 1,
                        _ => {}
                    },
                    Event::Empty(e) if e.local_name().as_ref() == b"si" => {
                        strings.push(String::new());
                    }
                    Event::End(e) => match e.local_name().as_ref() {
                        b"si" => {
                            if strings.len() as u64 >= limits.max_cells {
                                return Err(WorkbookError::TooManyCells {
                                    max: limits.max_cells,
                                });
                            }
                            strings.push(current.take().unwrap_or_default());
                        }
                        b"t" => in_t = false,
                        b"rPh" => phonetic = phonetic.saturating_sub(1),
                        _ => {}
                    },
                    Event::Text(t) if in_t && phonetic == 0 => {
                        if let Some(s) = current.as_mut() {
                            s.push_str(&t.xml_content().unwrap_or_default());
                        }
                    }
                    Event::CData(t) if in_t && phonetic == 0 => {
                        if let Some(s) = current.as_mut() {
                            s.push_str(&t.decode().unwrap_or_default());
                        }
                    }
                    Event::GeneralRef(r) if in_t && phonetic == 0 => {
                        if let Some(s) = current.as_mut() {
                            s.push_str(&reference_text(&r));
                        }
                    }
                    Event::Eof => break,
                    _ => {}
                }
                buf.clear();
            }
            Ok(())
        })?;
        Ok(strings)
    }

    /// A cell being read.
    #[derive(Default)]
    struct CellState {
        column: u32,
        kind: Option<String>,
        style: usize,
        value: String,
        inline: String,
        in_value: bool,
        in_inline_t: bool,
        phonetic: u32,
    }

    pub(super) fn first_sheet(
        archive: &mut Archive<'_>,
        limits: &Limits,
    ) -> Result<Vec<SheetRow>, WorkbookError> {
        let (path, date1904) = sheet_path(archive)?;
        let dates = date_styles(archive)?;
        let shared = shared_strings(archive, limits)?;
        let mut out = Collector {
            limits,
            rows: Vec::new(),
            cells: 0,
        };
        let part = path.clone();
        archive.read_part(&path, |xml| {
            let mut buf = Vec::new();
            let mut row_number: u64 = 0;
            let mut next_column: u32 = 0;
            let mut cells: Vec<(u32, Value)> = Vec::new();
            let mut cell: Option<CellState> = None;
            loop {
                match xml.read_event_into(&mut buf).map_err(xml_error(&part))? {
                    Event::Start(e) => match e.local_name().as_ref() {
                        b"row" => {
                            row_number = attribute(&e, b"r")
                                .and_then(|r| r.parse().ok())
                                .unwrap_or(row_number + 1);
                            next_column = 0;
                            cells.clear();
                        }
                        b"c" => {
                            let reference = attribute(&e, b"r").and_then(|r| cell_reference(&r));
                            let column = reference.map_or(next_column, |(c, _)| c);
                            if let Some((_, Some(r))) = reference {
                                row_number = r;
                            }
                            next_column = column.saturating_add(1);
                            cell = Some(CellState {
                                column,
                                kind: attribute(&e, b"t"),
                                style: attribute(&e, b"s")
                                    .and_then(|s| s.parse().ok())
                                    .unwrap_or(0),
                                ..CellState::default()
                            });
                        }
                        b"v" => {
                            if let Some(c) = cell.as_mut() {
                                c.in_value = true;
                            }
                        }
                        b"t" => {
                            if let Some(c) = cell.as_mut() {
                                c.in_inline_t = true;
                            }
                        }
                        b"rPh" => {
                            if let Some(c) = cell.as_mut() {
                                c.phonetic += 1;
                            }
                        }
                        _ => {}
                    },
                    Event::Empty(e) => match e.local_name().as_ref() {
                        // A cell without a value (a style alone): nothing to keep.
                        b"c" => {
                            let reference = attribute(&e, b"r").and_then(|r| cell_reference(&r));
                            next_column =
                                reference.map_or(next_column, |(c, _)| c).saturating_add(1);
                        }
                        b"row" => {
                            row_number = attribute(&e, b"r")
                                .and_then(|r| r.parse().ok())
                                .unwrap_or(row_number + 1);
                        }
                        _ => {}
                    },
                    Event::Text(t) => {
                        if let Some(c) = cell.as_mut() {
                            let text = t.xml_content().unwrap_or_default();
                            if c.in_value {
                                c.value.push_str(&text);
                            } else if c.in_inline_t && c.phonetic == 0 {
                                c.inline.push_str(&text);
                            }
                        }
                    }
                    Event::CData(t) => {
                        if let Some(c) = cell.as_mut() {
                            let text = t.decode().unwrap_or_default();
                            if c.in_value {
                                c.value.push_str(&text);
                            } else if c.in_inline_t && c.phonetic == 0 {
                                c.inline.push_str(&text);
                            }
                        }
                    }
                    Event::GeneralRef(r) => {
                        if let Some(c) = cell.as_mut() {
                            let text = reference_text(&r);
                            if c.in_value {
                                c.value.push_str(&text);
                            } else if c.in_inline_t && c.phonetic == 0 {
                                c.inline.push_str(&text);
                            }
                        }
                    }
                    Event::End(e) => match e.local_name().as_ref() {
                        b"v" => {
                            if let Some(c) = cell.as_mut() {
                                c.in_value = false;
                            }
                        }
                        b"t" => {
                            if let Some(c) = cell.as_mut() {
                                c.in_inline_t = false;
                            }
                        }
                        b"rPh" => {
                            if let Some(c) = cell.as_mut() {
                                c.phonetic = c.phonetic.saturating_sub(1);
                            }
                        }
                        b"c" => {
                            if let Some(c) = cell.take() {
                                let value = cell_value(&c, &shared, &dates, date1904, &part)?;
                                if !value.is_empty() {
                                    let row = row_number.max(1);
                                    out.check_cell(c.column, row)?;
                                    if (cells.len() as u64) >= limits.max_cells {
                                        return Err(WorkbookError::TooManyCells {
                                            max: limits.max_cells,
                                        });
                                    }
                                    cells.push((c.column, value));
                                }
                            }
                        }
                        b"row" => {
                            let row = row_number.max(1);
                            out.push(row, std::mem::take(&mut cells), 1)?;
                        }
                        _ => {}
                    },
                    Event::Eof => break,
                    _ => {}
                }
                buf.clear();
            }
            Ok(())
        })?;
        Ok(out.rows)
    }

    fn cell_value(
        c: &CellState,
        shared: &[String],
        dates: &[bool],
        date1904: bool,
        part: &str,
    ) -> Result<Value, WorkbookError> {
        let raw = c.value.trim();
        Ok(match c.kind.as_deref() {
            Some("s") => {
                if raw.is_empty() {
                    return Ok(Value::Empty);
                }
                let index: usize = raw.parse().map_err(|_| WorkbookError::Xml {
                    part: part.to_string(),
                    reason: format!("`{raw}` n'est pas un numéro de texte partagé"),
                })?;
                Value::Text(
                    shared
                        .get(index)
                        .cloned()
                        .ok_or_else(|| WorkbookError::Xml {
                            part: part.to_string(),
                            reason: format!("texte partagé n° {index} absent"),
                        })?,
                )
            }
            Some("inlineStr") => Value::Text(c.inline.clone()),
            Some("str" | "e" | "d") => Value::Text(c.value.clone()),
            Some("b") => Value::Flag(raw == "1" || raw.eq_ignore_ascii_case("true")),
            _ if raw.is_empty() => Value::Empty,
            _ => match raw.parse::<f64>() {
                Ok(n) if n.is_finite() && dates.get(c.style).copied().unwrap_or(false) => {
                    Value::Text(date_text(n, date1904))
                }
                Ok(n) if n.is_finite() => Value::Number(n),
                _ => Value::Text(c.value.clone()),
            },
        })
    }
}

mod ods {
    use super::*;

    /// A cell being read.
    #[derive(Default)]
    struct CellState {
        repeat: u64,
        kind: Option<String>,
        value: Option<String>,
        text: String,
        paragraphs: u32,
        /// Depth inside an annotation (its text is not the cell's).
        annotation: u32,
    }

    fn repeat(e: &BytesStart<'_>, name: &[u8]) -> u64 {
        attribute(e, name)
            .and_then(|n| n.parse::<u64>().ok())
            .unwrap_or(1)
            .max(1)
    }

    fn start_cell(e: &BytesStart<'_>) -> CellState {
        let kind = attribute(e, b"value-type");
        let value = match kind.as_deref() {
            Some("float" | "percentage" | "currency") => attribute(e, b"value"),
            Some("date") => attribute(e, b"date-value"),
            Some("boolean") => attribute(e, b"boolean-value"),
            Some("string") => attribute(e, b"string-value"),
            _ => None,
        };
        CellState {
            repeat: repeat(e, b"number-columns-repeated"),
            kind,
            value,
            ..CellState::default()
        }
    }

    fn cell_value(c: &CellState) -> Value {
        match (c.kind.as_deref(), &c.value) {
            (Some("float" | "percentage" | "currency"), Some(v)) => match v.trim().parse::<f64>() {
                Ok(n) if n.is_finite() => Value::Number(n),
                _ => Value::Text(c.text.clone()),
            },
            (Some("boolean"), Some(v)) => Value::Flag(v == "true" || v == "1"),
            (Some("date" | "string"), Some(v)) => Value::Text(v.clone()),
            _ => Value::Text(c.text.clone()),
        }
    }

    pub(super) fn first_sheet(
        archive: &mut Archive<'_>,
        limits: &Limits,
    ) -> Result<Vec<SheetRow>, WorkbookError> {
        const PART: &str = "content.xml";
        if !archive.has(PART) {
            return Err(WorkbookError::Unreadable(
                "pas de content.xml : ce n'est pas un classeur OpenDocument".into(),
            ));
        }
        let mut out = Collector {
            limits,
            rows: Vec::new(),
            cells: 0,
        };
        let mut found_table = false;
        archive.read_part(PART, |xml| {
            let mut buf = Vec::new();
            // Depth in table:table; rows of the first table only.
            let (mut tables_seen, mut depth) = (0u32, 0u32);
            let mut row_number: u64 = 1;
            let mut row_repeat: u64 = 1;
            let mut column: u64 = 0;
            let mut cells: Vec<(u32, Value)> = Vec::new();
            let mut cell: Option<CellState> = None;
            let mut in_row = false;
            loop {
                let event = xml.read_event_into(&mut buf).map_err(xml_error(PART))?;
                let in_first = tables_seen == 1 && depth == 1;
                match event {
                    Event::Start(e) => match e.local_name().as_ref() {
                        b"table" => {
                            depth += 1;
                            if depth == 1 {
                                tables_seen += 1;
                            }
                        }
                        b"table-row" if in_first => {
                            in_row = true;
                            row_repeat = repeat(&e, b"number-rows-repeated");
                            column = 0;
                            cells.clear();
                        }
                        b"table-cell" | b"covered-table-cell" if in_first && in_row => {
                            cell = Some(start_cell(&e));
                        }
                        b"annotation" => {
                            if let Some(c) = cell.as_mut() {
                                c.annotation += 1;
                            }
                        }
                        b"p" | b"h" => {
                            if let Some(c) = cell.as_mut()
                                && c.annotation == 0
                            {
                                if c.paragraphs > 0 {
                                    c.text.push('\n');
                                }
                                c.paragraphs += 1;
                            }
                        }
                        _ => {}
                    },
                    Event::Empty(e) => match e.local_name().as_ref() {
                        b"table-row" if in_first => {
                            // A row of nothing, perhaps repeated: skipped whole.
                            row_number =
                                row_number.saturating_add(repeat(&e, b"number-rows-repeated"));
                        }
                        b"table-cell" | b"covered-table-cell" if in_first && in_row => {
                            let c = start_cell(&e);
                            let value = cell_value(&c);
                            keep(&mut out, &mut cells, column, row_number, &c, value)?;
                            column = column.saturating_add(c.repeat);
                        }
                        b"s" => {
                            if let Some(c) = cell.as_mut()
                                && c.annotation == 0
                            {
                                // Repeated spaces, bounded like any text.
                                let n = repeat(&e, b"c").min(1024) as usize;
                                c.text.extend(std::iter::repeat_n(' ', n));
                            }
                        }
                        b"tab" => {
                            if let Some(c) = cell.as_mut()
                                && c.annotation == 0
                            {
                                c.text.push('\t');
                            }
                        }
                        b"line-break" => {
                            if let Some(c) = cell.as_mut()
                                && c.annotation == 0
                            {
                                c.text.push('\n');
                            }
                        }
                        b"p" | b"h" => {
                            if let Some(c) = cell.as_mut()
                                && c.annotation == 0
                            {
                                if c.paragraphs > 0 {
                                    c.text.push('\n');
                                }
                                c.paragraphs += 1;
                            }
                        }
                        _ => {}
                    },
                    Event::Text(t) => {
                        if let Some(c) = cell.as_mut()
                            && c.annotation == 0
                            && c.paragraphs > 0
                        {
                            c.text.push_str(&t.xml_content().unwrap_or_default());
                        }
                    }
                    Event::CData(t) => {
                        if let Some(c) = cell.as_mut()
                            && c.annotation == 0
                            && c.paragraphs > 0
                        {
                            c.text.push_str(&t.decode().unwrap_or_default());
                        }
                    }
                    Event::GeneralRef(r) => {
                        if let Some(c) = cell.as_mut()
                            && c.annotation == 0
                            && c.paragraphs > 0
                        {
                            c.text.push_str(&reference_text(&r));
                        }
                    }
                    Event::End(e) => match e.local_name().as_ref() {
                        b"table" => {
                            depth = depth.saturating_sub(1);
                            if depth == 0 && tables_seen == 1 {
                                found_table = true;
                                break;
                            }
                        }
                        b"annotation" => {
                            if let Some(c) = cell.as_mut() {
                                c.annotation = c.annotation.saturating_sub(1);
                            }
                        }
                        b"table-cell" | b"covered-table-cell" if in_first && in_row => {
                            if let Some(c) = cell.take() {
                                let value = cell_value(&c);
                                keep(&mut out, &mut cells, column, row_number, &c, value)?;
                                column = column.saturating_add(c.repeat);
                            }
                        }
                        b"table-row" if in_first && in_row => {
                            in_row = false;
                            out.push(row_number, std::mem::take(&mut cells), row_repeat)?;
                            row_number = row_number.saturating_add(row_repeat);
                        }
                        _ => {}
                    },
                    Event::Eof => break,
                    _ => {}
                }
                buf.clear();
            }
            found_table |= tables_seen > 0;
            Ok(())
        })?;
        if !found_table {
            return Err(WorkbookError::NoSheet);
        }
        Ok(out.rows)
    }

    /// Keeps a cell's value, `c.repeat` times, in the row being read.
    fn keep(
        out: &mut Collector<'_>,
        cells: &mut Vec<(u32, Value)>,
        column: u64,
        row: u64,
        c: &CellState,
        value: Value,
    ) -> Result<(), WorkbookError> {
        if value.is_empty() {
            return Ok(());
        }
        let last = column.saturating_add(c.repeat - 1);
        let last = u32::try_from(last).unwrap_or(u32::MAX);
        out.check_cell(last, row)?;
        if (cells.len() as u64).saturating_add(c.repeat) > out.limits.max_cells {
            return Err(WorkbookError::TooManyCells {
                max: out.limits.max_cells,
            });
        }
        let first = u32::try_from(column).expect("below last");
        for k in 0..c.repeat {
            cells.push((first + k as u32, value.clone()));
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::io::Write;

    fn zip_of(parts: &[(&str, &[u8])]) -> Vec<u8> {
        let mut out = zip::ZipWriter::new(Cursor::new(Vec::new()));
        for (name, bytes) in parts {
            out.start_file(
                *name,
                zip::write::SimpleFileOptions::default()
                    .compression_method(zip::CompressionMethod::Deflated),
            )
            .unwrap();
            out.write_all(bytes).unwrap();
        }
        out.finish().unwrap().into_inner()
    }

    fn xlsx(sheet: &str, shared: &str) -> Vec<u8> {
        let workbook = r#"<workbook xmlns="http://schemas.openxmlformats.org/spreadsheetml/2006/main" xmlns:r="http://schemas.openxmlformats.org/officeDocument/2006/relationships"><sheets><sheet name="S" sheetId="1" r:id="rId1"/></sheets></workbook>"#;
        let rels = r#"<Relationships xmlns="http://schemas.openxmlformats.org/package/2006/relationships"><Relationship Id="rId1" Type="x" Target="worksheets/sheet1.xml"/></Relationships>"#;
        let styles = r#"<styleSheet><numFmts><numFmt numFmtId="164" formatCode="dd/mm/yyyy"/></numFmts><cellXfs><xf numFmtId="0"/><xf numFmtId="164"/></cellXfs></styleSheet>"#;
        zip_of(&[
            ("xl/workbook.xml", workbook.as_bytes()),
            ("xl/_rels/workbook.xml.rels", rels.as_bytes()),
            ("xl/styles.xml", styles.as_bytes()),
            ("xl/sharedStrings.xml", shared.as_bytes()),
            ("xl/worksheets/sheet1.xml", sheet.as_bytes()),
        ])
    }

    fn ods(table: &str) -> Vec<u8> {
        let content = format!(
            r#"<office:document-content xmlns:office="o" xmlns:table="t" xmlns:text="x"><office:body><office:spreadsheet><table:table table:name="F">{table}</table:table></office:spreadsheet></office:body></office:document-content>"#
        );
        zip_of(&[
            (
                "mimetype",
                b"application/vnd.oasis.opendocument.spreadsheet",
            ),
            ("content.xml", content.as_bytes()),
        ])
    }

    #[test]
    fn xlsx_values_shared_inline_numbers_dates() {
        let shared = r#"<sst><si><t>nom</t></si><si><r><t>Régie </t></r><r><t>&amp; co</t></r><rPh><t>x</t></rPh></si></sst>"#;
        let sheet = r#"<worksheet><dimension ref="A1:XFD1048576"/><sheetData>
            <row r="1"><c r="A1" t="s"><v>0</v></c><c r="B1" t="inlineStr"><is><t>lon</t></is></c></row>
            <row r="3"><c r="A3" t="s"><v>1</v></c><c r="B3"><v>2.35</v></c><c r="C3" s="1"><v>45292</v></c><c r="D3" t="b"><v>1</v></c><c r="E3" s="1"/></row>
            </sheetData></worksheet>"#;
        let rows = first_sheet(&xlsx(sheet, shared), Format::Xlsx, &Limits::UPLOAD).unwrap();
        assert_eq!(rows.len(), 2);
        assert_eq!(rows[0].number, 1);
        assert_eq!(rows[0].get(1), Some(&Value::Text("lon".into())));
        assert_eq!(rows[1].number, 3);
        assert_eq!(rows[1].get(0), Some(&Value::Text("Régie & co".into())));
        assert_eq!(rows[1].get(1), Some(&Value::Number(2.35)));
        assert_eq!(rows[1].get(2), Some(&Value::Text("2024-01-01".into())));
        assert_eq!(rows[1].get(3), Some(&Value::Flag(true)));
        assert_eq!(rows[1].get(4), None);
        assert_eq!(rows[1].dense().len(), 4);
    }

    #[test]
    fn a_far_cell_is_refused_before_anything_is_allocated() {
        let sheet = r#"<worksheet><sheetData><row r="1"><c r="A1" t="inlineStr"><is><t>lon</t></is></c></row><row r="1048576"><c r="XFD1048576"><v>1</v></c></row></sheetData></worksheet>"#;
        let e = first_sheet(&xlsx(sheet, "<sst/>"), Format::Xlsx, &Limits::UPLOAD).unwrap_err();
        assert!(matches!(e, WorkbookError::TooManyColumns { .. }), "{e}");
        assert!(e.to_string().contains("XFD1048576"), "{e}");
        let sheet = r#"<worksheet><sheetData><row r="1"><c r="A1"><v>1</v></c></row><row r="1048576"><c r="Z1048576"><v>1</v></c></row></sheetData></worksheet>"#;
        let e = first_sheet(&xlsx(sheet, "<sst/>"), Format::Xlsx, &Limits::UPLOAD).unwrap_err();
        assert!(
            matches!(e, WorkbookError::TooManyRows { row: 1_048_576, .. }),
            "{e}"
        );
    }

    #[test]
    fn unpacked_bytes_and_runs_are_bounded() {
        let mut sheet = b"<worksheet><sheetData>".to_vec();
        sheet.extend(std::iter::repeat_n(b' ', 3 << 20));
        sheet.extend_from_slice(b"</sheetData></worksheet>");
        let book = xlsx(std::str::from_utf8(&sheet).unwrap(), "<sst/>");
        let e = first_sheet(&book, Format::Xlsx, &Limits::UPLOAD).unwrap_err();
        assert!(matches!(e, WorkbookError::TooLarge(_)), "{e}");
        let small = Limits {
            max_unpacked_bytes: 1 << 20,
            ..Limits::UPLOAD
        };
        let e = unpacked_size(&book, Format::Xlsx, &small).unwrap_err();
        assert!(e.is_too_large(), "{e}");
    }

    #[test]
    fn ods_repetitions_are_counted_not_expanded() {
        let table = r#"<table:table-row><table:table-cell office:value-type="string"><text:p>nom</text:p></table:table-cell><table:table-cell office:value-type="float" office:value="2.5"><text:p>2,5</text:p></table:table-cell><table:table-cell table:number-columns-repeated="16000"/></table:table-row>
            <table:table-row table:number-rows-repeated="2"><table:table-cell office:value-type="string"><text:p>a<text:s text:c="2"/>b</text:p><text:p>c &amp; d</text:p><office:annotation><text:p>note</text:p></office:annotation></table:table-cell></table:table-row>
            <table:table-row table:number-rows-repeated="1048000"><table:table-cell table:number-columns-repeated="1024"/></table:table-row>"#;
        let rows = first_sheet(&ods(table), Format::Ods, &Limits::UPLOAD).unwrap();
        assert_eq!(rows.len(), 3);
        assert_eq!(rows[0].get(1), Some(&Value::Number(2.5)));
        assert_eq!(rows[1].number, 2);
        assert_eq!(rows[2].number, 3);
        assert_eq!(rows[2].get(0), Some(&Value::Text("a  b\nc & d".into())));
        let bomb = r#"<table:table-row table:number-rows-repeated="19000"><table:table-cell table:number-columns-repeated="5000" office:value-type="float" office:value="1"/></table:table-row>"#;
        let e = first_sheet(&ods(bomb), Format::Ods, &Limits::UPLOAD).unwrap_err();
        assert!(e.is_too_large(), "{e}");
        let rows_bomb = r#"<table:table-row table:number-rows-repeated="1000000"><table:table-cell office:value-type="float" office:value="1"/></table:table-row>"#;
        let e = first_sheet(&ods(rows_bomb), Format::Ods, &Limits::UPLOAD).unwrap_err();
        assert!(matches!(e, WorkbookError::TooManyRows { .. }), "{e}");
    }

    #[test]
    fn dates_and_columns() {
        assert_eq!(xlsx::date_text(45292.0, false), "2024-01-01");
        assert_eq!(xlsx::date_text(45292.5, false), "2024-01-01 12:00:00");
        assert_eq!(xlsx::date_text(1.0, false), "1900-01-01");
        assert_eq!(xlsx::date_text(0.0, true), "1904-01-01");
        assert_eq!(column_letters(0), "A");
        assert_eq!(column_letters(27), "AB");
        assert_eq!(column_letters(16_383), "XFD");
    }
}
