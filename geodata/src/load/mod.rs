//! Loading the datasets of the manifest from a data directory.

pub(crate) mod csv_file;
mod geojson_file;
pub(crate) mod geometry;
mod initiatives;
mod qpv;

use std::path::Path;

use crate::category::Taxonomy;
use crate::manifest::{DatasetKind, Manifest};
use crate::model::{Departement, Initiative, Qpv};
use crate::report::{DatasetReport, LoadError};

/// Everything read from the data directory, checked, before indexing.
pub(crate) struct Loaded {
    pub qpvs: Vec<Qpv>,
    pub initiatives: Vec<Initiative>,
    pub departements: Vec<Departement>,
    pub reports: Vec<DatasetReport>,
}

/// Reads every dataset of `manifest` from `data_dir`. QPV outlines come first,
/// then the list and population that complete them, then the rest, whatever
/// the manifest's order.
pub(crate) fn load_all(
    data_dir: &Path,
    manifest: &Manifest,
    taxonomy: &Taxonomy,
) -> Result<Loaded, LoadError> {
    let mut qpvs = qpv::QpvBuilder::default();
    let mut initiatives = initiatives::InitiativeBuilder::new(taxonomy);
    let mut departements = Vec::new();
    let mut reports = Vec::new();
    let stage = |kind: DatasetKind| match kind {
        DatasetKind::QpvPolygons => 0,
        DatasetKind::QpvList => 1,
        DatasetKind::QpvPopulation => 2,
        _ => 3,
    };
    let mut entries: Vec<_> = manifest.datasets.iter().collect();
    entries.sort_by_key(|e| stage(e.kind));
    for entry in entries {
        let path = data_dir.join(&entry.file);
        let mut report = DatasetReport::new(&entry.id, &path);
        if !path.is_file() {
            if entry.optional {
                report
                    .notes
                    .push("optional file not found: not loaded".to_string());
                reports.push(report);
                continue;
            }
            return Err(LoadError::io(
                &path,
                std::io::Error::new(
                    std::io::ErrorKind::NotFound,
                    format!(
                        "dataset `{}` not found; download it from {}",
                        entry.id, entry.source_url
                    ),
                ),
            ));
        }
        match entry.kind {
            DatasetKind::QpvPolygons => qpvs.add_polygons(entry, &path, &mut report)?,
            DatasetKind::QpvList => qpvs.add_list(entry, &path, &mut report)?,
            DatasetKind::QpvPopulation => qpvs.add_population(&path, &mut report)?,
            DatasetKind::Initiatives => initiatives.add(entry, &path, &mut report)?,
            DatasetKind::Departements => departements = qpv::load_departements(&path, &mut report)?,
            // Commune centres serve geocoding at import time, not the map.
            DatasetKind::Communes => report
                .notes
                .push("used at import, not by serve".to_string()),
        }
        reports.push(report);
    }
    Ok(Loaded {
        qpvs: qpvs.qpvs,
        initiatives: initiatives.initiatives,
        departements,
        reports,
    })
}
