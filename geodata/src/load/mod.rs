//! Loading the datasets of the manifest from a data directory.

pub(crate) mod csv_file;
pub mod file;
pub(crate) mod geojson_file;
pub(crate) mod geometry;
mod initiatives;
mod qpv;

use std::path::Path;

use crate::category::Taxonomy;
use crate::communes::CommuneCentres;
use crate::initiative::InitiativeRecord;
use crate::manifest::{DatasetKind, Manifest};
use crate::model::{Departement, Qpv};
use crate::report::{DatasetReport, LoadError};

/// Everything read from the data directory, checked, before indexing.
pub(crate) struct Loaded {
    pub qpvs: Vec<Qpv>,
    pub records: Vec<InitiativeRecord>,
    pub departements: Vec<Departement>,
    pub communes: CommuneCentres,
    pub reports: Vec<DatasetReport>,
}

/// Reads every dataset of `manifest` from `data_dir`. QPV outlines come first,
/// then the list and population that complete them, then commune centres
/// (initiatives without coordinates are placed at theirs), then the rest,
/// whatever the manifest's order; reports keep the manifest's order.
pub(crate) fn load_all(
    data_dir: &Path,
    manifest: &Manifest,
    taxonomy: &Taxonomy,
) -> Result<Loaded, LoadError> {
    let mut qpvs = qpv::QpvBuilder::default();
    let mut initiatives = initiatives::InitiativeReader::new(taxonomy);
    let mut departements = Vec::new();
    let mut communes = CommuneCentres::default();
    let mut reports = Vec::new();
    let stage = |kind: DatasetKind| match kind {
        DatasetKind::QpvPolygons => 0,
        DatasetKind::QpvList => 1,
        DatasetKind::QpvPopulation => 2,
        DatasetKind::Communes => 3,
        _ => 4,
    };
    let mut entries: Vec<_> = manifest.datasets.iter().enumerate().collect();
    entries.sort_by_key(|(_, e)| stage(e.kind));
    for (order, entry) in entries {
        let path = file::resolve(data_dir, &entry.file);
        let mut report = DatasetReport::new(&entry.id, &path);
        if !file::exists(&path) {
            if entry.optional {
                report
                    .notes
                    .push("optional file not found: not loaded".to_string());
                reports.push((order, report));
                continue;
            }
            return Err(LoadError::io(
                &path,
                std::io::Error::new(
                    std::io::ErrorKind::NotFound,
                    format!(
                        "dataset `{}` not found; download it from {} (or run `ess-map data fetch` for the national files)",
                        entry.id, entry.source_url
                    ),
                ),
            ));
        }
        let started = std::time::Instant::now();
        match entry.kind {
            DatasetKind::QpvPolygons => qpvs.add_polygons(entry, &path, &mut report)?,
            DatasetKind::QpvList => qpvs.add_list(entry, &path, &mut report)?,
            DatasetKind::QpvPopulation => qpvs.add_population(entry, &path, &mut report)?,
            DatasetKind::Initiatives => initiatives.add(entry, &path, &communes, &mut report)?,
            DatasetKind::Departements => departements = qpv::load_departements(&path, &mut report)?,
            DatasetKind::Communes => {
                communes = CommuneCentres::from_file(&path)?;
                report.read = communes.len();
                report.loaded = communes.len();
            }
        }
        tracing::info!(
            "{}: loaded in {:.0} ms",
            entry.id,
            started.elapsed().as_secs_f64() * 1000.0
        );
        reports.push((order, report));
    }
    reports.sort_by_key(|(order, _)| *order);
    Ok(Loaded {
        qpvs: qpvs.qpvs,
        records: initiatives.records,
        departements,
        communes,
        reports: reports.into_iter().map(|(_, r)| r).collect(),
    })
}
