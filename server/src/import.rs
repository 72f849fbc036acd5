//! Importing an inventory into the store: read and check (geodata), place
//! rows without coordinates (geocoder, else commune centre), compare with
//! what the source imported before, then write it all in one transaction.
//! The CLI (`ess-map import`) and `POST /api/import` share this.
//!
//! Reading, geocoding and comparing hold no lock: other writers go on. The
//! store's writer is taken only for the final transaction, which matches
//! each row to the source's stored row by key again, so an edit made
//! meanwhile is the `before` of the import's change, not lost.

use std::collections::HashMap;
use std::io::Write;
use std::path::{Path, PathBuf};
use std::sync::Mutex;

use anyhow::Context;
use geodata::import::{ImportRow, Mapping, read_import, read_profile};
use geodata::profiles::Profile;
use geodata::profiles::qpv_check::QpvCheck;
use geodata::report::{Action, Position};
use geodata::table::{Column, Table, Value};
use geodata::{InitiativeRecord, Territory};
use serde::Serialize;

use crate::dedupe::{self, Index};
use crate::geocode::{Addok, CommuneHint, Fallback, Query, place_all, query_of};
use crate::store::{HistoryAction, Store, StoredInitiative};

/// How to import.
pub struct ImportOptions<'a> {
    /// Names the inventory; re-importing the same source updates its rows.
    pub source: String,
    pub mapping: Option<Mapping>,
    /// A national inventory read by its published schema.
    pub profile: Option<Profile>,
    pub dry_run: bool,
    /// Who imports (token name, or `cli:<user>`), for the history.
    pub actor: String,
    pub addok: Option<&'a Addok>,
    pub min_score: f64,
    /// Folder the row-by-row report is written to.
    pub reports_dir: PathBuf,
    /// Progress bars on a terminal, plain lines otherwise.
    pub progress: bool,
    /// The initiatives shown now, where rows describing the same
    /// structure are found.
    pub existing: &'a Index,
    /// What an XLSX or ODS file may hold (checked while it is read).
    pub workbook_limits: crate::workbook::Limits,
}

/// What an import did (or, dry, would do).
#[derive(Debug, Clone, Serialize)]
pub struct ImportSummary {
    pub source: String,
    pub file: String,
    pub encoding: &'static str,
    pub dry_run: bool,
    pub read: usize,
    pub valid: usize,
    pub skipped: usize,
    pub new: usize,
    pub updated: usize,
    pub unchanged: usize,
    /// Imported before, absent now: reported, not deleted.
    pub removed: Vec<String>,
    /// Deleted in ess-map since the last import: not restored.
    pub kept_deleted: usize,
    /// Rows describing a structure already shown by another source (same
    /// SIRET, or same SIREN at the same address): kept with their source,
    /// shown and counted once, as that one.
    pub merged: usize,
    /// Rows whose name is close to another source's initiative within
    /// 150 m: queued for a moderator (`/api/duplicates`), unless decided.
    pub duplicates_queued: usize,
    /// How rows without coordinates were placed.
    pub placed_by_geocoder: usize,
    pub placed_at_commune_centre: usize,
    pub not_placed: usize,
    /// Rows that came with coordinates (or kept those of the last import).
    pub with_coordinates: usize,
    pub by_precision: HashMap<String, usize>,
    pub issues: usize,
    /// Facts about the file as a whole: what a profile left out, and why.
    pub notes: Vec<String>,
    /// The file's columns, and which one each field was read from (what a
    /// mapping changes).
    pub columns: Vec<String>,
    pub mapping: std::collections::BTreeMap<geodata::records::Field, String>,
    /// The report's first lines (all of them in `report`).
    pub lines: Vec<ReportLine>,
    /// INSEE's QPV of each row against ess-map's (SIRENE), when given.
    pub insee_qpv_check: Option<QpvCheckSummary>,
    /// The row-by-row report (CSV: position, key, field, reason, action),
    /// written to this file…
    pub report: String,
    /// … and kept in the store: `/api/import/reports/{report_id}`.
    pub report_id: i64,
}

/// The cross-check in figures; each disagreement is a line of the report.
#[derive(Debug, Clone, Serialize)]
pub struct QpvCheckSummary {
    pub compared: usize,
    pub same_qpv: usize,
    pub both_outside: usize,
    /// INSEE's QPV has no outline loaded here.
    pub without_outline: usize,
    pub disagreeing: usize,
    /// Median and largest distance of the disagreements (see the report).
    pub median_distance_m: Option<f64>,
    pub max_distance_m: Option<f64>,
}

impl QpvCheckSummary {
    fn of(check: &QpvCheck) -> QpvCheckSummary {
        let mut distances: Vec<f64> = check.disagreements.iter().map(|d| d.distance_m).collect();
        distances.sort_by(f64::total_cmp);
        let round = |d: f64| (d * 10.0).round() / 10.0;
        QpvCheckSummary {
            compared: check.compared,
            same_qpv: check.same_qpv,
            both_outside: check.both_outside,
            without_outline: check.without_outline,
            disagreeing: check.disagreements.len(),
            median_distance_m: distances.get(distances.len() / 2).copied().map(round),
            max_distance_m: distances.last().copied().map(round),
        }
    }
}

/// Which geocoder placed a row, and its score.
type Geocoded = Option<(String, Option<f64>)>;

/// Report lines given in the summary (the web map shows them).
const SHOWN_LINES: usize = 200;

/// A row of the report file.
#[derive(Debug, Clone, Serialize)]
pub struct ReportLine {
    position: String,
    key: String,
    field: String,
    reason: String,
    action: String,
}

/// Longest source name: it names files and locks.
pub const MAX_SOURCE_CHARS: usize = 64;

/// Why an import did not run.
#[derive(Debug, thiserror::Error)]
pub enum ImportError {
    /// The source name cannot name an inventory.
    #[error("source `{source_name}`: {reason}")]
    BadSource { source_name: String, reason: String },
    /// The file cannot be read as an import (the message names the file as
    /// the importer was given it).
    #[error("{0:#}")]
    File(anyhow::Error),
    /// The store or the state directory failed: not the file's fault.
    #[error("{0:#}")]
    Store(anyhow::Error),
}

impl From<anyhow::Error> for ImportError {
    fn from(e: anyhow::Error) -> Self {
        ImportError::Store(e)
    }
}

/// Checks a source name before anything is read or written: letters,
/// digits, `-` and `_`, at most [`MAX_SOURCE_CHARS`], not an open dataset's.
pub fn check_source(source: &str, territory: &Territory) -> Result<(), ImportError> {
    let bad = |reason: String| ImportError::BadSource {
        source_name: source.chars().take(MAX_SOURCE_CHARS).collect(),
        reason,
    };
    if source.is_empty()
        || !source
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || c == '-' || c == '_')
    {
        return Err(bad("use letters, digits, - and _ only".into()));
    }
    if source.len() > MAX_SOURCE_CHARS {
        return Err(bad(format!(
            "{} characters; {MAX_SOURCE_CHARS} at most",
            source.len()
        )));
    }
    if territory.manifest.get(source).is_some() {
        return Err(bad(
            "the name of an open dataset ess-map loads; name the inventory otherwise".into(),
        ));
    }
    Ok(())
}

/// The extension an import file is kept under, by its name (a file's or
/// an address's path): `geojson` for `.json` and `.geojson`, `xlsx`, `ods`,
/// else `csv` — what [`run_import`] then reads it as.
pub fn extension_for(name: &str) -> &'static str {
    let lower = name.to_lowercase();
    if lower.ends_with(".json") || lower.ends_with(".geojson") {
        "geojson"
    } else if lower.ends_with(".xlsx") {
        "xlsx"
    } else if lower.ends_with(".ods") {
        "ods"
    } else {
        "csv"
    }
}

pub fn run_import(
    store: &Mutex<Store>,
    path: &Path,
    options: &ImportOptions<'_>,
    territory: &Territory,
) -> Result<ImportSummary, ImportError> {
    check_source(&options.source, territory)?;
    let (file, check) = match &options.profile {
        Some(profile) => {
            read_profile(path, &options.source, profile, territory).map_err(anyhow::Error::from)
        }
        None => read_file(path, options, &territory.taxonomy).map(|f| (f, None)),
    }
    .map_err(ImportError::File)?;
    let mut lines: Vec<ReportLine> = file
        .report
        .issues
        .iter()
        .map(|i| ReportLine {
            position: i.position.to_string(),
            key: i.key.clone().unwrap_or_default(),
            field: i.field.clone().unwrap_or_default(),
            reason: i.reason.clone(),
            action: i.action.to_string(),
        })
        .collect();
    for note in &file.report.notes {
        lines.push(ReportLine {
            position: String::new(),
            key: String::new(),
            field: String::new(),
            reason: note.clone(),
            action: "noted".into(),
        });
    }
    for d in check.iter().flat_map(|c| &c.disagreements) {
        lines.push(ReportLine {
            position: d.position.to_string(),
            key: d.name.clone(),
            field: "qpv".into(),
            reason: format!("{d} (lon {}, lat {})", d.lon, d.lat),
            action: "imported; QPV as ess-map's outlines say".into(),
        });
    }
    // Another import of this source (any process, any replica) finishes first.
    let _one_import = store
        .lock()
        .unwrap_or_else(|e| e.into_inner())
        .lock_import(&options.source)?;
    // Pairs found before (decided or not) are not queued or counted again.
    let known_pairs: HashMap<(String, String), Option<String>> = store
        .lock()
        .unwrap_or_else(|e| e.into_inner())
        .duplicates(i64::MAX)?
        .into_iter()
        .map(|d| ((d.a, d.b), d.decision))
        .collect();
    let existing: HashMap<String, StoredInitiative> = store
        .lock()
        .unwrap_or_else(|e| e.into_inner())
        .of_source(&options.source)?
        .into_iter()
        .filter_map(|s| Some((s.key.clone()?, s)))
        .collect();

    // Rows without coordinates keep those of the last import when their
    // address did not change; the others are geocoded.
    let mut rows: Vec<(ImportRow, Geocoded)> = Vec::new();
    let mut to_place: Vec<usize> = Vec::new();
    for mut row in file.rows {
        let mut geocoded = None;
        if row.record.lon.is_none() {
            match existing
                .get(&row.key)
                .filter(|old| same_address(&old.record, &row.record))
            {
                Some(old) if old.record.lon.is_some() => {
                    row.record.lon = old.record.lon;
                    row.record.lat = old.record.lat;
                    row.record.precision = old.record.precision;
                    geocoded = old.geocoder.clone().map(|g| (g, old.geocode_score));
                }
                _ => to_place.push(rows.len()),
            }
        }
        rows.push((row, geocoded));
    }
    let with_coordinates = rows.len() - to_place.len();
    let queries: Vec<(Query, CommuneHint)> = to_place
        .iter()
        .map(|&i| query_of(&rows[i].0.record))
        .collect();
    let bar = progress_bar(options.progress, queries.len(), "géocodage");
    let placements = place_all(
        &queries,
        options.addok,
        options.min_score,
        territory.communes(),
        |n| bar.inc(n as u64),
    );
    bar.finish_and_clear();
    let (mut by_geocoder, mut at_centre, mut not_placed) = (0, 0, 0);
    for (&i, (placement, fallback)) in to_place.iter().zip(placements) {
        let (row, geocoded) = &mut rows[i];
        let reason = fallback.as_ref().map(Fallback::to_string);
        match placement {
            Some(p) => {
                if p.geocoder == "commune-centre" {
                    at_centre += 1;
                    // Worth reporting only when a geocoder was meant to answer.
                    if let Some(reason) = reason.filter(|_| options.addok.is_some()) {
                        lines.push(report_line(
                            row,
                            "address",
                            format!("{reason}: placed at the commune's centre"),
                            "placed at commune centre",
                        ));
                    }
                } else {
                    by_geocoder += 1;
                }
                row.record.lon = Some(p.lon);
                row.record.lat = Some(p.lat);
                row.record.precision = Some(p.precision);
                *geocoded = Some((p.geocoder, p.score));
            }
            None => {
                not_placed += 1;
                lines.push(report_line(
                    row,
                    "address",
                    format!("{}; commune not found either", reason.unwrap_or_default()),
                    &Action::KeptWithoutLocation.to_string(),
                ));
            }
        }
    }

    // Compare with the last import of this source; find the rows that
    // describe a structure another source already shows.
    let mut changes: Vec<(StoredInitiative, Option<InitiativeRecord>)> = Vec::new();
    let (mut new, mut updated, mut unchanged, mut kept_deleted) = (0, 0, 0, 0);
    let (mut merged, mut queued) = (0, 0);
    // Near-matches by the row's key: queued with the id the row gets.
    let mut near: HashMap<String, Vec<dedupe::NearMatch>> = HashMap::new();
    let mut by_precision: HashMap<String, usize> = HashMap::new();
    for (row, _) in &mut rows {
        let old = existing.get(&row.key);
        match old.and_then(|o| o.record.merged_into.clone()) {
            // Decided before (merged at once, or by a moderator): kept.
            Some(into) => row.record.merged_into = Some(into),
            None => {
                let mut probe = row.record.clone();
                probe.id = old.map(|o| o.record.id.clone()).unwrap_or_default();
                let found = dedupe::find(options.existing, &probe);
                if let Some((into, why)) = found.sure {
                    merged += 1;
                    lines.push(report_line(
                        row,
                        "siret",
                        format!("{why} que « {into} »"),
                        &format!("merged into {into}: shown and counted once"),
                    ));
                    row.record.merged_into = Some(into);
                } else {
                    let mut found_near = found.near;
                    if let Some(o) = old {
                        found_near.retain(|m| {
                            let pair = (o.record.id.clone(), m.id.clone());
                            match known_pairs.get(&pair) {
                                None => true,
                                Some(decision) => {
                                    let said = decision.as_deref().unwrap_or("undecided");
                                    lines.push(report_line(
                                        row,
                                        "name",
                                        format!("close to « {} », already found ({said})", m.id),
                                        "as decided",
                                    ));
                                    false
                                }
                            }
                        });
                    }
                    if found_near.is_empty() {
                        continue;
                    }
                    for m in &found_near {
                        lines.push(report_line(
                            row,
                            "name",
                            format!(
                                "nom proche de « {} » à {:.0} m (similarité {:.2})",
                                m.id, m.distance_m, m.score
                            ),
                            "imported; queued for a moderator (same structure?)",
                        ));
                    }
                    queued += 1;
                    near.insert(row.key.clone(), found_near);
                }
            }
        }
    }
    for (row, geocoded) in &rows {
        let precision = row.record.precision.map_or("none", |p| p.as_str());
        *by_precision.entry(precision.to_string()).or_default() += 1;
        let (geocoder, score) = geocoded.clone().unzip();
        let stored = |id: String| StoredInitiative {
            record: InitiativeRecord {
                id,
                ..row.record.clone()
            },
            key: Some(row.key.clone()),
            geocoder: geocoder.clone(),
            geocode_score: score.flatten(),
            deleted: false,
        };
        match existing.get(&row.key) {
            Some(old) if old.deleted => kept_deleted += 1,
            Some(old) => {
                let next = stored(old.record.id.clone());
                if next.record == old.record {
                    unchanged += 1;
                } else {
                    updated += 1;
                    changes.push((next, Some(old.record.clone())));
                }
            }
            None => {
                new += 1;
                changes.push((stored(String::new()), None));
            }
        }
    }
    let present: std::collections::HashSet<&str> =
        rows.iter().map(|(r, _)| r.key.as_str()).collect();
    let mut removed: Vec<String> = existing
        .values()
        .filter(|old| !old.deleted && !present.contains(old.key.as_deref().unwrap_or("")))
        .map(|old| old.record.id.clone())
        .collect();
    removed.sort();
    for id in &removed {
        lines.push(ReportLine {
            position: String::new(),
            key: id.clone(),
            field: String::new(),
            reason: "imported before, absent from this file".into(),
            action: "kept (delete it through the API if it closed)".into(),
        });
    }

    let (report, csv) = write_report(&options.reports_dir, &options.source, &lines)?;
    let report_id = store
        .lock()
        .unwrap_or_else(|e| e.into_inner())
        .save_report(&options.source, &csv)?;
    let summary = ImportSummary {
        source: options.source.clone(),
        file: path.display().to_string(),
        encoding: file.encoding,
        dry_run: options.dry_run,
        read: file.report.read,
        valid: rows.len(),
        skipped: file.report.skipped,
        new,
        updated,
        unchanged,
        removed,
        kept_deleted,
        merged,
        duplicates_queued: queued,
        placed_by_geocoder: by_geocoder,
        placed_at_commune_centre: at_centre,
        not_placed,
        with_coordinates,
        by_precision,
        issues: lines.len(),
        notes: file.report.notes.clone(),
        columns: file.headers.clone(),
        mapping: file.mapping.columns.clone(),
        lines: lines.iter().take(SHOWN_LINES).cloned().collect(),
        insee_qpv_check: check.as_ref().map(QpvCheckSummary::of),
        report: report.display().to_string(),
        report_id,
    };
    if options.dry_run || changes.is_empty() {
        return Ok(summary);
    }
    // One transaction: a crash or kill before the commit leaves the store as
    // it was.
    let bar = progress_bar(options.progress, changes.len(), "écriture");
    if !options.progress {
        eprintln!("writing {} initiatives to the store", changes.len());
    }
    store.lock().unwrap_or_else(|e| e.into_inner()).write(|w| {
        for (done, (mut next, _)) in changes.into_iter().enumerate() {
            let key = next.key.clone().expect("imported rows have keys");
            let before = w.get_by_key(&options.source, &key)?;
            match &before {
                // Deleted in ess-map since this import was read: stays deleted.
                Some(b) if b.deleted => continue,
                Some(b) => next.record.id = b.record.id.clone(),
                None => next.record.id = w.next_id(&options.source)?,
            }
            let before = before.map(|b| b.record);
            let action = if before.is_some() {
                HistoryAction::Update
            } else {
                HistoryAction::Import
            };
            w.put(&next, &options.actor, action, before.as_ref())?;
            for m in near.get(&key).into_iter().flatten() {
                w.queue_duplicate(&next.record.id, &m.id, m.score, m.distance_m)?;
            }
            bar.inc(1);
            if !options.progress && (done + 1) % 10_000 == 0 {
                eprintln!("written {}", done + 1);
            }
        }
        Ok(())
    })?;
    bar.finish_and_clear();
    Ok(summary)
}

/// A CSV or GeoJSON file, or the first sheet of an XLSX or ODS workbook
/// (its first row the header; a row's position is its row number).
fn read_file(
    path: &Path,
    options: &ImportOptions<'_>,
    taxonomy: &geodata::Taxonomy,
) -> anyhow::Result<geodata::import::ImportFile> {
    let (source, mapping) = (&options.source, options.mapping.as_ref());
    let name = path.to_string_lossy().to_lowercase();
    let format = if name.ends_with(".xlsx") {
        crate::workbook::Format::Xlsx
    } else if name.ends_with(".ods") {
        crate::workbook::Format::Ods
    } else {
        return Ok(read_import(path, source, mapping, taxonomy)?);
    };
    let bytes = std::fs::read(path).with_context(|| format!("cannot read {}", path.display()))?;
    let mut sheet = crate::workbook::first_sheet(&bytes, format, &options.workbook_limits)
        .map_err(|e| anyhow::anyhow!("{}: {e}", path.display()))?
        .into_iter();
    let header = sheet.next().ok_or_else(|| {
        anyhow::anyhow!(
            "{}: the first sheet is empty (no header row)",
            path.display()
        )
    })?;
    let headers: Vec<String> = header
        .dense()
        .iter()
        .map(|v| v.plain_text().trim().to_string())
        .collect();
    let mut beyond = 0;
    let rows: Vec<geodata::records::Row> = sheet
        .map(|r| {
            if r.cells
                .last()
                .is_some_and(|(c, _)| *c as usize >= headers.len())
            {
                beyond += 1;
            }
            let fields = r
                .dense()
                .iter()
                .map(|v| v.plain_text().into_owned())
                .collect();
            geodata::records::Row::new(Position::Line(u64::from(r.number)), fields)
        })
        .collect();
    let report = geodata::report::DatasetReport::new(source, path);
    let held = geodata::records::Rows::held(headers, rows);
    let mut file =
        geodata::import::read_import_rows(held, report, path, source, mapping, taxonomy)?;
    if beyond > 0 {
        file.report.notes.push(format!(
            "{beyond} rows have values in columns without a header: those values were not read"
        ));
    }
    Ok(file)
}

fn same_address(a: &InitiativeRecord, b: &InitiativeRecord) -> bool {
    (&a.address, &a.postcode, &a.commune, &a.insee_code)
        == (&b.address, &b.postcode, &b.commune, &b.insee_code)
}

fn report_line(row: &ImportRow, field: &str, reason: String, action: &str) -> ReportLine {
    ReportLine {
        position: match &row.position {
            Position::File => String::new(),
            p => p.to_string(),
        },
        key: row.key.clone(),
        field: field.into(),
        reason,
        action: action.into(),
    }
}

fn progress_bar(shown: bool, len: usize, label: &str) -> indicatif::ProgressBar {
    if !shown || len == 0 {
        return indicatif::ProgressBar::hidden();
    }
    let bar = indicatif::ProgressBar::new(len as u64);
    bar.set_style(
        indicatif::ProgressStyle::with_template("{msg:>10} [{bar:40}] {pos}/{len} ({eta})")
            .expect("valid template")
            .progress_chars("=> "),
    );
    bar.set_message(label.to_string());
    bar
}

/// `<reports_dir>/import-<source>-<unix seconds>.csv`, written whole then
/// renamed into place.
fn write_report(
    dir: &Path,
    source: &str,
    lines: &[ReportLine],
) -> anyhow::Result<(PathBuf, String)> {
    std::fs::create_dir_all(dir).with_context(|| format!("cannot create {}", dir.display()))?;
    let stamp = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| d.as_millis());
    let path = dir.join(format!("import-{source}-{stamp}.csv"));
    let partial = path.with_extension("csv.partial");
    // Keys and reasons quote the imported file: written for a spreadsheet,
    // formulas neutralised.
    let table = Table {
        about: Vec::new(),
        columns: [
            ("position", "position"),
            ("key", "cle"),
            ("field", "champ"),
            ("reason", "raison"),
            ("action", "action"),
        ]
        .map(|(s, f)| Column::new(s, f))
        .to_vec(),
        rows: lines
            .iter()
            .map(|l| {
                [&l.position, &l.key, &l.field, &l.reason, &l.action]
                    .map(|t| Value::from(t.as_str()))
                    .to_vec()
            })
            .collect(),
    };
    let bytes = crate::output::csv::table_bytes(&table, crate::output::CsvStyle::Spreadsheet);
    let mut out = std::fs::File::create(&partial)
        .with_context(|| format!("cannot write {}", partial.display()))?;
    out.write_all(&bytes)?;
    out.sync_all()?;
    std::fs::rename(&partial, &path)?;
    Ok((path, String::from_utf8(bytes)?))
}
