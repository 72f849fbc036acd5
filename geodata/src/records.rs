//! From a file of initiatives to records: the one reader for the data files
//! of the manifest and for imported inventories. CSV (UTF-8 or
//! Windows-1252, `,` or `;`, gzip allowed) or GeoJSON points; columns found
//! by their usual names or given by a mapping; each row turned into an
//! [`InitiativeRecord`] and checked by [`crate::validate::check`].

use std::collections::{BTreeMap, HashMap};
use std::path::Path;

use serde::{Deserialize, Serialize};

use crate::category::Taxonomy;
use crate::initiative::InitiativeRecord;
use std::io::{BufRead, Read};

use crate::load::csv_file::delimiter_of;
use crate::load::file::{open_data_file, read_data_file};
use crate::report::{Action, ConfigError, DatasetReport, LoadError, Position};
use crate::text::fold;
use crate::validate::{Problem, check, parse_coordinate, resolve_category};

/// What a column can hold.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Field {
    Id,
    Name,
    Brand,
    Address,
    Postcode,
    Commune,
    InseeCode,
    Lon,
    Lat,
    /// A category id or label, or else the source's kind (`ACI`, `ESAT`).
    Category,
    /// The source's own kind of structure.
    Kind,
    Siret,
    Website,
    Description,
    OpeningHours,
    LegalForm,
    SourceDate,
    /// Activity words that help classify (not kept).
    Hints,
}

impl Field {
    pub const ALL: [Field; 18] = [
        Field::Id,
        Field::Name,
        Field::Brand,
        Field::Address,
        Field::Postcode,
        Field::Commune,
        Field::InseeCode,
        Field::Lon,
        Field::Lat,
        Field::Category,
        Field::Kind,
        Field::Siret,
        Field::Website,
        Field::Description,
        Field::OpeningHours,
        Field::LegalForm,
        Field::SourceDate,
        Field::Hints,
    ];

    /// Column names recognised without a mapping (folded: lower case, no
    /// accents, `_`/`-`/`.` as spaces).
    pub fn synonyms(self) -> &'static [&'static str] {
        match self {
            Field::Id => &["id", "identifiant", "source id", "ref", "reference"],
            Field::Name => &[
                "name",
                "nom",
                "raison sociale",
                "denomination",
                "nom de la structure",
                "structure",
                "etablissement",
            ],
            Field::Brand => &["brand", "enseigne", "nom commercial"],
            Field::Address => &[
                "address",
                "adresse",
                "adresse postale",
                "adresse complete",
                "voie",
                "rue",
            ],
            Field::Postcode => &["postcode", "code postal", "cp", "zip"],
            Field::Commune => &["commune", "ville", "city", "localite", "libelle commune"],
            Field::InseeCode => &[
                "insee code",
                "code insee",
                "insee",
                "code commune",
                "codgeo",
                "citycode",
            ],
            Field::Lon => &["lon", "lng", "long", "longitude", "x"],
            Field::Lat => &["lat", "latitude", "y"],
            Field::Category => &["category", "categorie", "type", "type de structure"],
            Field::Kind => &["kind", "source kind"],
            Field::Siret => &["siret", "numero siret", "n siret"],
            Field::Website => &["website", "site", "site web", "site internet", "url"],
            Field::Description => &["description", "activite", "activites", "presentation"],
            Field::OpeningHours => &[
                "opening hours",
                "horaires",
                "horaires d ouverture",
                "horaires ouverture",
                "horaires accueil",
            ],
            Field::LegalForm => &[
                "legal form",
                "forme juridique",
                "statut",
                "statut juridique",
            ],
            Field::SourceDate => &[
                "source date",
                "date maj",
                "date de mise a jour",
                "updated at",
                "source updated at",
            ],
            Field::Hints => &["hints", "activity hints"],
        }
    }
}

/// Which column holds which field.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Mapping {
    #[serde(default)]
    pub columns: BTreeMap<Field, String>,
}

impl Mapping {
    /// Columns recognised by their usual French or English names.
    pub fn detect<'a>(headers: impl IntoIterator<Item = &'a str>) -> Mapping {
        let headers: Vec<&str> = headers.into_iter().collect();
        let norm = |h: &str| fold(&h.replace(['_', '-', '.'], " ")).trim().to_string();
        let mut columns = BTreeMap::new();
        for field in Field::ALL {
            if let Some(h) = headers
                .iter()
                .find(|h| field.synonyms().contains(&norm(h).as_str()))
            {
                columns.insert(field, h.to_string());
            }
        }
        Mapping { columns }
    }

    /// A mapping file: `[columns]` then `field = "column name"`, e.g.
    /// `name = "Raison sociale"`. Fields it names override detection.
    pub fn from_toml(text: &str) -> Result<Mapping, ConfigError> {
        Ok(toml::from_str(text)?)
    }

    pub fn column(&self, field: Field) -> Option<&str> {
        self.columns.get(&field).map(String::as_str)
    }

    /// Detection over `headers`, then `overrides`, each checked to name a
    /// column of the file.
    pub fn for_headers(
        headers: &[String],
        overrides: Option<&Mapping>,
        path: &Path,
    ) -> Result<Mapping, LoadError> {
        let mut mapping = Mapping::detect(headers.iter().map(String::as_str));
        for (field, column) in overrides.iter().flat_map(|m| &m.columns) {
            if !headers.contains(column) {
                return Err(LoadError::invalid(
                    path,
                    Position::Line(1),
                    format!("mapping: no column `{column}` for {field:?}"),
                ));
            }
            mapping.columns.insert(*field, column.clone());
        }
        if mapping.column(Field::Name).is_none() {
            return Err(LoadError::invalid(
                path,
                Position::Line(1),
                format!(
                    "no column for the name (looked for {}); give one in a mapping",
                    Field::Name.synonyms().join(", ")
                ),
            ));
        }
        Ok(mapping)
    }
}

/// One row of a file: its fields in the order of the headers, and what
/// reading it found.
#[derive(Debug, Clone)]
pub struct Row {
    pub position: Position,
    fields: csv::StringRecord,
    /// Problems of the row as read (a GeoJSON geometry that is not a point).
    pub problems: Vec<Problem>,
}

impl Row {
    /// A row made by a reader of its own (an import profile).
    pub fn new(position: Position, fields: Vec<String>) -> Row {
        Row {
            position,
            fields: csv::StringRecord::from(fields),
            problems: Vec::new(),
        }
    }

    /// The field of column `index`, trimmed; `None` when empty.
    pub fn get(&self, index: usize) -> Option<&str> {
        let v = self.fields.get(index)?.trim();
        (!v.is_empty()).then_some(v)
    }
}

enum Source {
    Csv(csv::Reader<Box<dyn Read + Send>>),
    /// Rows read whole beforehand (GeoJSON features, joined files).
    Held(std::vec::IntoIter<Row>),
}

/// The rows of a file, read one at a time (a national file of a million
/// rows is never held whole), whatever its format.
pub struct Rows {
    pub headers: Vec<String>,
    source: Source,
    /// Rows with non-ASCII text that is valid UTF-8 were seen.
    utf8_text: bool,
    /// Lines that were not UTF-8, read as Windows-1252.
    other_lines: Vec<u64>,
}

impl Rows {
    /// Opens `path` (`.geojson`/`.json`, else CSV; `.gz` decompressed on
    /// the fly) and reads its header. A file that cannot be read at all is
    /// an error.
    pub fn open(path: &Path, report: &mut DatasetReport) -> Result<Rows, LoadError> {
        let name = path.to_string_lossy().to_lowercase();
        let name = name.strip_suffix(".gz").unwrap_or(&name);
        if name.ends_with(".geojson") || name.ends_with(".json") {
            let bytes = read_data_file(path)?;
            return geojson_rows(path, &bytes, report);
        }
        let mut input = std::io::BufReader::with_capacity(
            256 * 1024,
            WithoutCarriageReturns::new(open_data_file(path)?),
        );
        let head = input.fill_buf().map_err(|e| LoadError::io(path, e))?;
        let head = head.strip_prefix(b"\xEF\xBB\xBF").unwrap_or(head);
        let first_line = head.split(|&b| b == b'\n').next().unwrap_or_default();
        let delimiter = delimiter_of(&String::from_utf8_lossy(first_line));
        let mut reader = csv::ReaderBuilder::new()
            .delimiter(delimiter)
            .from_reader(Box::new(input) as Box<dyn Read + Send>);
        let headers = reader
            .byte_headers()
            .map_err(|e| LoadError::csv(path, e))?
            .iter()
            .enumerate()
            .map(|(i, h)| {
                let h = if i == 0 {
                    h.strip_prefix(b"\xEF\xBB\xBF").unwrap_or(h)
                } else {
                    h
                };
                decode(h).0.trim().to_string()
            })
            .collect();
        Ok(Rows {
            headers,
            source: Source::Csv(reader),
            utf8_text: false,
            other_lines: Vec::new(),
        })
    }

    /// Rows made by a reader of its own, under `headers`.
    pub fn held(headers: Vec<String>, rows: Vec<Row>) -> Rows {
        Rows {
            headers,
            source: Source::Held(rows.into_iter()),
            utf8_text: false,
            other_lines: Vec::new(),
        }
    }

    /// The next well-formed row; malformed ones are reported in `report`
    /// (and counted as read) and skipped.
    pub fn next(
        &mut self,
        path: &Path,
        report: &mut DatasetReport,
    ) -> Result<Option<Row>, LoadError> {
        let reader = match &mut self.source {
            Source::Held(rows) => return Ok(rows.next()),
            Source::Csv(reader) => reader,
        };
        loop {
            let line = reader.position().line();
            let mut record = csv::ByteRecord::new();
            match reader.read_byte_record(&mut record) {
                Ok(false) => return Ok(None),
                Ok(true) => {
                    let line = record.position().map_or(line, |p| p.line());
                    let ascii = record.as_slice().is_ascii();
                    let fields = match csv::StringRecord::from_byte_record(record) {
                        Ok(fields) => {
                            self.utf8_text |= !ascii;
                            fields
                        }
                        Err(e) => {
                            self.other_lines.push(line);
                            e.into_byte_record().iter().map(|f| decode(f).0).collect()
                        }
                    };
                    return Ok(Some(Row {
                        position: Position::Line(line),
                        fields,
                        problems: Vec::new(),
                    }));
                }
                Err(e) if matches!(e.kind(), csv::ErrorKind::Io(_)) => {
                    return Err(LoadError::csv(path, e));
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

    /// How the file was encoded: `UTF-8`, `windows-1252`, or `mixed`, whose
    /// Windows-1252 lines are reported (read line by line, never silently).
    pub fn encoding(&self, report: &mut DatasetReport) -> &'static str {
        match (self.utf8_text, self.other_lines.is_empty()) {
            (_, true) => "UTF-8",
            (false, false) => "windows-1252",
            (true, false) => {
                for &line in &self.other_lines {
                    report.issue(
                        Position::Line(line),
                        None,
                        Some("encoding"),
                        "this line is not UTF-8 like the rest of the file: read as Windows-1252",
                        Action::Repaired,
                    );
                }
                "mixed"
            }
        }
    }
}

/// Text of bytes in UTF-8, else Windows-1252 (a file saved by a Windows
/// spreadsheet); whether it was UTF-8.
fn decode(bytes: &[u8]) -> (String, bool) {
    match std::str::from_utf8(bytes) {
        Ok(t) => (t.to_string(), true),
        Err(_) => (
            encoding_rs::WINDOWS_1252.decode(bytes).0.into_owned(),
            false,
        ),
    }
}

/// CRLF line ends made LF as the bytes stream by: the csv crate counts a
/// record after CRLF as starting on the line before, and reports must name
/// the right line. A CR not followed by LF is kept.
struct WithoutCarriageReturns<R> {
    inner: R,
    /// A CR read at the end of the last chunk, not yet known to precede LF.
    pending_cr: bool,
}

impl<R: Read> WithoutCarriageReturns<R> {
    fn new(inner: R) -> Self {
        WithoutCarriageReturns {
            inner,
            pending_cr: false,
        }
    }
}

impl<R: Read> Read for WithoutCarriageReturns<R> {
    fn read(&mut self, buf: &mut [u8]) -> std::io::Result<usize> {
        if buf.len() < 2 {
            return self.inner.read(buf);
        }
        loop {
            let start = usize::from(self.pending_cr);
            let n = self.inner.read(&mut buf[start..])?;
            if self.pending_cr {
                buf[0] = b'\r';
            }
            let end = start + n;
            if n == 0 {
                self.pending_cr = false;
                return Ok(start);
            }
            self.pending_cr = false;
            // Moves the bytes between carriage returns down over the CRs
            // dropped (memchr finds them; a file with LF ends has none).
            let mut out = 0;
            let mut from = 0;
            while let Some(i) = memchr::memchr(b'\r', &buf[from..end]).map(|i| from + i) {
                buf.copy_within(from..i, out);
                out += i - from;
                from = i + 1;
                if i + 1 == end {
                    self.pending_cr = true;
                } else if buf[i + 1] != b'\n' {
                    buf[out] = b'\r';
                    out += 1;
                }
            }
            buf.copy_within(from..end, out);
            out += end - from;
            if out > 0 {
                return Ok(out);
            }
        }
    }
}

/// GeoJSON points: properties become columns, the point `lon`/`lat`.
fn geojson_rows(path: &Path, bytes: &[u8], report: &mut DatasetReport) -> Result<Rows, LoadError> {
    let features = crate::load::geojson_file::parse_features(path, bytes, report)?;
    let mut headers: Vec<String> = vec!["lon".into(), "lat".into()];
    let mut columns: HashMap<String, usize> = HashMap::new();
    for (_, feature) in &features {
        for k in feature.properties.iter().flatten().map(|(k, _)| k) {
            if !columns.contains_key(k) && k != "lon" && k != "lat" {
                columns.insert(k.clone(), headers.len());
                headers.push(k.clone());
            }
        }
    }
    columns.insert("lon".into(), 0);
    columns.insert("lat".into(), 1);
    let mut rows = Vec::with_capacity(features.len());
    for (index, feature) in features {
        let mut values = vec![String::new(); headers.len()];
        let mut problems = Vec::new();
        for (k, v) in feature.properties.iter().flatten() {
            values[columns[k]] = match v {
                serde_json::Value::String(s) => s.trim().to_string(),
                serde_json::Value::Null => continue,
                other => other.to_string(),
            };
        }
        match feature.geometry.as_ref().map(|g| &g.value) {
            None => {}
            Some(geojson::GeometryValue::Point { coordinates }) if coordinates.len() >= 2 => {
                values[0] = coordinates[0].to_string();
                values[1] = coordinates[1].to_string();
            }
            Some(other) => problems.push(Problem {
                field: "geometry",
                reason: format!("geometry type {}, expected Point", other.type_name()),
                action: Action::KeptWithoutLocation,
            }),
        }
        rows.push(Row {
            position: Position::Feature(index),
            fields: csv::StringRecord::from(values),
            problems,
        });
    }
    Ok(Rows {
        headers,
        source: Source::Held(rows.into_iter()),
        utf8_text: false,
        other_lines: Vec::new(),
    })
}

/// A mapping resolved against a file's headers: the column of each field.
pub struct Columns([Option<usize>; Field::ALL.len()]);

impl Columns {
    pub fn of(mapping: &Mapping, headers: &[String]) -> Columns {
        let mut index = [None; Field::ALL.len()];
        for (i, field) in Field::ALL.iter().enumerate() {
            index[i] = mapping
                .column(*field)
                .and_then(|c| headers.iter().position(|h| h == c));
        }
        Columns(index)
    }

    pub fn of_field(&self, field: Field) -> Option<usize> {
        self.0[Field::ALL
            .iter()
            .position(|f| *f == field)
            .expect("every field is listed")]
    }

    /// A row's value of `field`.
    pub fn get<'r>(&self, row: &'r Row, field: Field) -> Option<&'r str> {
        row.get(self.of_field(field)?)
    }
}

/// A row as a checked record of source `source`: `Ok` with the problems
/// repaired on the way, `Err` when the row cannot be kept. The id is the
/// row's own (`Field::Id`), or empty.
pub fn record_of_row(
    row: &Row,
    columns: &Columns,
    source: &str,
    taxonomy: &Taxonomy,
) -> Result<(InitiativeRecord, Vec<Problem>), Problem> {
    let get = |f: Field| columns.get(row, f).map(str::to_string);
    let mut problems = row.problems.clone();
    let mut coordinate = |field: Field, name: &'static str| {
        let text = get(field)?;
        let value = parse_coordinate(&text);
        if value.is_none() {
            problems.push(Problem {
                field: name,
                reason: format!("`{text}` is not a number"),
                action: Action::KeptWithoutLocation,
            });
        }
        value
    };
    let (lon, lat) = (coordinate(Field::Lon, "lon"), coordinate(Field::Lat, "lat"));
    let unparsable = problems
        .iter()
        .any(|p| p.action == Action::KeptWithoutLocation);
    let mut record = InitiativeRecord {
        id: get(Field::Id).unwrap_or_default(),
        name: get(Field::Name).unwrap_or_default(),
        brand: get(Field::Brand),
        category: String::new(),
        source_kind: get(Field::Kind),
        legal_form: get(Field::LegalForm),
        siret: get(Field::Siret),
        address: get(Field::Address),
        postcode: get(Field::Postcode),
        commune: get(Field::Commune),
        insee_code: get(Field::InseeCode),
        website: get(Field::Website),
        description: get(Field::Description),
        opening_hours: get(Field::OpeningHours),
        lon: if unparsable { None } else { lon },
        lat: if unparsable { None } else { lat },
        precision: None,
        source: source.to_string(),
        source_date: get(Field::SourceDate),
        merged_into: None,
    };
    if !unparsable && lon.is_none() && lat.is_none() {
        let missing = Problem {
            field: "lon/lat",
            reason: "no coordinates".into(),
            action: Action::KeptWithoutLocation,
        };
        if columns.of_field(Field::Lon).is_some() && !problems.iter().any(|p| p.field == "geometry")
        {
            problems.push(missing);
        }
    }
    record.category = get(Field::Category).unwrap_or_default();
    // The hints help only here: the category found is kept in the record.
    resolve_category(
        &mut record,
        taxonomy,
        &get(Field::Hints).unwrap_or_default(),
    );
    problems.extend(check(&mut record, taxonomy)?);
    Ok((record, problems))
}

/// Reports a record's problems under its key.
pub fn report_problems(
    report: &mut DatasetReport,
    position: &Position,
    key: Option<&str>,
    problems: &[Problem],
) {
    for p in problems {
        report.issue(
            position.clone(),
            key,
            Some(p.field),
            p.reason.clone(),
            p.action,
        );
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn carriage_returns_go_only_before_line_feeds_whatever_the_chunks() {
        let text = b"a,b\r\n1,\"x\ry\"\r\n2,z\r\n".to_vec();
        for chunk in 2..8 {
            let mut out = Vec::new();
            let mut r = WithoutCarriageReturns::new(&text[..]);
            let mut buf = vec![0; chunk];
            loop {
                let n = r.read(&mut buf).unwrap();
                if n == 0 {
                    break;
                }
                out.extend_from_slice(&buf[..n]);
            }
            assert_eq!(out, b"a,b\n1,\"x\ry\"\n2,z\n", "chunks of {chunk}");
        }
    }

    #[test]
    fn mixed_encodings_are_read_line_by_line_and_the_lines_named() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("m.csv");
        let mut bytes = "nom,commune\nÉpicerie,Paris\n".as_bytes().to_vec();
        bytes.extend_from_slice(b"R\xe9gie,Lyon\n");
        std::fs::write(&path, bytes).unwrap();
        let mut report = DatasetReport::new("m", &path);
        let mut rows = Rows::open(&path, &mut report).unwrap();
        let mut names = Vec::new();
        while let Some(row) = rows.next(&path, &mut report).unwrap() {
            names.push(row.get(0).unwrap().to_string());
        }
        assert_eq!(names, ["Épicerie", "Régie"]);
        assert_eq!(rows.encoding(&mut report), "mixed");
        assert_eq!(report.issues.len(), 1);
        assert_eq!(report.issues[0].position, Position::Line(3));
        // A whole file in Windows-1252 is just that.
        std::fs::write(&path, b"nom\nR\xe9gie\n").unwrap();
        let mut report = DatasetReport::new("m", &path);
        let mut rows = Rows::open(&path, &mut report).unwrap();
        assert_eq!(
            rows.next(&path, &mut report).unwrap().unwrap().get(0),
            Some("Régie")
        );
        assert_eq!(rows.encoding(&mut report), "windows-1252");
        assert!(report.issues.is_empty());
    }
}
