//! Loading the datasets of the manifest from a data directory.

pub(crate) mod csv_file;
pub mod file;
pub(crate) mod geojson_file;
pub(crate) mod geometry;
mod initiatives;
mod qpv;

use crate::communes::CommuneCentres;
use crate::load::file::DataDirs;
use crate::manifest::{DatasetEntry, DatasetKind, Manifest};
use crate::model::{Departement, Qpv};
use crate::report::{DatasetReport, LoadError};
use crate::territory::{Placed, Territory};

/// Loads and checks every dataset of `manifest` from `dirs`: the
/// territory, then the open initiative datasets placed on it (by id).
/// Reports keep the manifest's order.
pub fn territory_and_initiatives(
    dirs: &DataDirs,
    manifest: Manifest,
    taxonomy: crate::category::Taxonomy,
) -> Result<(Territory, Vec<Placed>), LoadError> {
    let mut territory = territory(dirs, manifest, taxonomy)?;
    let placed = initiatives(dirs, &mut territory)?;
    Ok((territory, placed))
}

/// The open initiative datasets of `territory`'s manifest, read from `dirs`
/// and placed on it; their reports join the territory's.
pub fn initiatives(dirs: &DataDirs, territory: &mut Territory) -> Result<Vec<Placed>, LoadError> {
    let (placed, reports) = load_initiatives(dirs, territory)?;
    territory.add_reports(reports);
    Ok(placed)
}

/// Every file the manifest's datasets name that is in `dirs` (what the
/// data loaded depends on).
pub fn dataset_files(dirs: &DataDirs, manifest: &Manifest) -> Vec<std::path::PathBuf> {
    manifest
        .datasets
        .iter()
        .map(|entry| dirs.find(&entry.file))
        .filter(|path| file::exists(path))
        .collect()
}

/// The territory alone, without the open initiative datasets (what
/// locating a user's table needs).
pub fn territory(
    dirs: &DataDirs,
    manifest: Manifest,
    taxonomy: crate::category::Taxonomy,
) -> Result<Territory, LoadError> {
    let loaded = load_territory(dirs, &manifest)?;
    Ok(Territory::new(
        manifest,
        taxonomy,
        loaded.qpvs,
        loaded.departements,
        loaded.communes,
        loaded.reports,
    ))
}

/// The territory's datasets, read and checked, before indexing.
pub(crate) struct Loaded {
    pub qpvs: Vec<Qpv>,
    pub departements: Vec<Departement>,
    pub communes: CommuneCentres,
    pub reports: Vec<DatasetReport>,
}

/// A dataset's file in the data directory, or why it cannot be loaded;
/// `None` for an optional file that is not there (reported as such).
fn dataset_file(
    dirs: &DataDirs,
    manifest: &Manifest,
    entry: &DatasetEntry,
    report: &mut DatasetReport,
) -> Result<Option<std::path::PathBuf>, LoadError> {
    if let Some(by) = superseded_by(dirs, manifest, entry) {
        report.notes.push(format!(
            "superseded by `{by}`, whose file is there: not loaded"
        ));
        return Ok(None);
    }
    let path = dirs.find(&entry.file);
    if file::exists(&path) {
        return Ok(Some(path));
    }
    if entry.optional {
        report
            .notes
            .push("optional file not found: not loaded".to_string());
        return Ok(None);
    }
    Err(LoadError::io(
        &path,
        std::io::Error::new(
            std::io::ErrorKind::NotFound,
            format!(
                "dataset `{}` not found; download it from {} (or run `ess-map data fetch` for the national files)",
                entry.id, entry.source_url
            ),
        ),
    ))
}

/// The dataset that replaces `entry` because its file is there.
fn superseded_by<'m>(
    dirs: &DataDirs,
    manifest: &'m Manifest,
    entry: &DatasetEntry,
) -> Option<&'m str> {
    manifest
        .datasets
        .iter()
        .find(|d| d.supersedes.contains(&entry.id) && file::exists(&dirs.find(&d.file)))
        .map(|d| d.id.as_str())
}

/// A report naming its file as its data directory holds it.
fn report_for(dirs: &DataDirs, entry: &DatasetEntry) -> DatasetReport {
    let path = dirs.find(&entry.file);
    DatasetReport::new(&entry.id, dirs.relative(&path))
}

/// Reads the territory's datasets of `manifest` from `dirs`: QPV
/// outlines first, then the list and population that complete them, then
/// commune centres and départements, whatever the manifest's order.
pub(crate) fn load_territory(dirs: &DataDirs, manifest: &Manifest) -> Result<Loaded, LoadError> {
    let mut qpvs = qpv::QpvBuilder::default();
    let mut departements = Vec::new();
    let mut communes = CommuneCentres::default();
    let mut reports = Vec::new();
    let stage = |kind: DatasetKind| match kind {
        DatasetKind::QpvPolygons => 0,
        DatasetKind::QpvList => 1,
        DatasetKind::QpvPopulation => 2,
        _ => 3,
    };
    let mut entries: Vec<_> = manifest
        .datasets
        .iter()
        .filter(|e| e.kind != DatasetKind::Initiatives)
        .collect();
    entries.sort_by_key(|e| stage(e.kind));
    // Commune centres (the largest file) are read beside the rest.
    let (centres, others): (Vec<_>, Vec<_>) = entries
        .into_iter()
        .enumerate()
        .partition(|(_, e)| e.kind == DatasetKind::Communes);
    let read_centres =
        || -> Result<Vec<(usize, DatasetReport, Option<CommuneCentres>)>, LoadError> {
            let mut out = Vec::new();
            for (order, entry) in centres {
                let mut report = report_for(dirs, entry);
                let Some(path) = dataset_file(dirs, manifest, entry, &mut report)? else {
                    out.push((order, report, None));
                    continue;
                };
                let started = std::time::Instant::now();
                let read = CommuneCentres::from_file(&path)?;
                report.read = read.len();
                report.loaded = read.len();
                log_time(entry, started);
                out.push((order, report, Some(read)));
            }
            Ok(out)
        };
    let read_others = || -> Result<Vec<(usize, DatasetReport)>, LoadError> {
        let mut out = Vec::new();
        for (order, entry) in others {
            let mut report = report_for(dirs, entry);
            let Some(path) = dataset_file(dirs, manifest, entry, &mut report)? else {
                out.push((order, report));
                continue;
            };
            let started = std::time::Instant::now();
            match entry.kind {
                DatasetKind::QpvPolygons => qpvs.add_polygons(entry, &path, &mut report)?,
                DatasetKind::QpvList => qpvs.add_list(entry, &path, &mut report)?,
                DatasetKind::QpvPopulation => qpvs.add_population(entry, &path, &mut report)?,
                DatasetKind::Departements => {
                    departements = qpv::load_departements(&path, &mut report)?;
                }
                DatasetKind::Communes | DatasetKind::Initiatives => {
                    unreachable!("read beside, or with the territory built")
                }
            }
            log_time(entry, started);
            out.push((order, report));
        }
        Ok(out)
    };
    let (centres, others) = rayon::join(read_centres, read_others);
    let mut ordered: Vec<(usize, DatasetReport)> = others?;
    for (order, report, read) in centres? {
        if let Some(read) = read {
            communes = read;
        }
        ordered.push((order, report));
    }
    ordered.sort_by_key(|(order, _)| *order);
    reports.extend(ordered.into_iter().map(|(_, r)| r));
    Ok(Loaded {
        qpvs: qpvs.qpvs,
        departements,
        communes,
        reports,
    })
}

fn log_time(entry: &DatasetEntry, started: std::time::Instant) {
    tracing::info!(
        "{}: loaded in {:.0} ms",
        entry.id,
        started.elapsed().as_secs_f64() * 1000.0
    );
}

/// Reads the initiative datasets of the territory's manifest from
/// `dirs`, each record placed on the territory as it is read; their
/// reports.
pub(crate) fn load_initiatives(
    dirs: &DataDirs,
    territory: &Territory,
) -> Result<(Vec<Placed>, Vec<DatasetReport>), LoadError> {
    let mut reader = initiatives::InitiativeReader::new(territory);
    let mut reports = Vec::new();
    for entry in territory
        .manifest
        .datasets
        .iter()
        .filter(|e| e.kind == DatasetKind::Initiatives)
    {
        let mut report = report_for(dirs, entry);
        if let Some(path) = dataset_file(dirs, &territory.manifest, entry, &mut report)? {
            let started = std::time::Instant::now();
            reader.add(entry, &path, &mut report)?;
            log_time(entry, started);
        }
        reports.push(report);
    }
    let placed = reader.finish(&mut reports);
    Ok((placed, reports))
}
