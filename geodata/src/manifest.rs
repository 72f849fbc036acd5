//! The data manifest (`data/manifest.toml`): which datasets ess-map loads,
//! from which file of the data directory, and where they officially come from.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use serde::{Deserialize, Serialize};

use crate::records::Field;
use crate::report::{ConfigError, LoadError};

/// What a dataset holds, which says how it is loaded.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum DatasetKind {
    /// QPV polygons, GeoJSON, ANCT 2024 or CGET 2015 schema.
    QpvPolygons,
    /// The national QPV list (codes, names, communes; no geometry), CSV.
    QpvList,
    /// INSEE population per QPV (`CODGEO`, `POP_MUN`), CSV.
    QpvPopulation,
    /// ESS initiatives, CSV or GeoJSON points.
    Initiatives,
    /// Département outlines for map context, GeoJSON (`code`, `nom`).
    Departements,
    /// Commune centres (INSEE code, name, postcodes, lon/lat), CSV; used to
    /// place addresses at commune level, not loaded by `serve`.
    Communes,
}

/// One dataset of the manifest.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct DatasetEntry {
    pub id: String,
    pub kind: DatasetKind,
    /// Path relative to the data directory.
    pub file: PathBuf,
    pub title: String,
    /// Territory the data covers (said in the API so users know where QPV
    /// outlines exist).
    pub territory: String,
    pub source_url: String,
    pub licence: String,
    pub attribution: String,
    /// A missing optional file is reported and skipped; a missing required one
    /// stops loading.
    #[serde(default)]
    pub optional: bool,
    /// QPV generation when the code prefix should not decide it.
    pub generation: Option<u16>,
    /// The date the data describes (`2020-12`, `2024-01-01`): shown with
    /// everything made from it, so that a gap is not read as today's
    /// absence. Also the date of records that carry none.
    #[serde(alias = "source_date")]
    pub as_of: Option<String>,
    /// For initiatives: field → source column, over the columns found by
    /// their usual names.
    #[serde(default)]
    pub columns: BTreeMap<Field, String>,
    /// For initiatives: records to leave out, with the reason reported.
    #[serde(default)]
    pub exclude: Vec<Exclusion>,
    /// Datasets this one replaces when its file is there: the national
    /// outlines, once fetched, stand in for a region's simplified ones.
    #[serde(default)]
    pub supersedes: Vec<String>,
}

/// A file `ess-map data fetch` downloads: where from, what it must be
/// (pinned size and SHA-256 of the bytes served), and where it goes in the
/// downloads directory.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Download {
    pub id: String,
    pub title: String,
    pub url: String,
    /// Path relative to the downloads directory.
    pub file: PathBuf,
    /// For a zip archive: the member to unpack (by its path in the
    /// archive, or by its file name when it is the only one so named).
    pub member: Option<String>,
    /// Size in bytes of the resource as served (the archive for a zip).
    pub size: Option<u64>,
    /// SHA-256 (hex) of the resource as served.
    pub sha256: Option<String>,
    /// The date the data describes, when known before fetching.
    pub as_of: Option<String>,
    pub licence: String,
    /// What to do with the file once fetched, when it is not loaded by
    /// `serve` (`ess-map import … --profile data-inclusion`).
    pub then: Option<String>,
    /// Fetched only when named (`ess-map data fetch osm-ile-de-france`):
    /// large files not everyone needs, such as OpenStreetMap extracts.
    #[serde(default)]
    pub on_request: bool,
}

impl Download {
    /// The name under which a mirror serves this download: its id, with
    /// `.zip` for an archive or else the extension of its file.
    pub fn mirror_name(&self) -> String {
        let extension = match &self.member {
            Some(_) => Some("zip".to_string()),
            None => self
                .file
                .extension()
                .map(|e| e.to_string_lossy().into_owned()),
        };
        match extension {
            Some(e) => format!("{}.{e}", self.id),
            None => self.id.clone(),
        }
    }
}

/// Leave out records whose `column` equals `equals`.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Exclusion {
    pub column: String,
    pub equals: String,
    pub reason: String,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct ManifestFile {
    dataset: Vec<DatasetEntry>,
    #[serde(default)]
    download: Vec<Download>,
}

/// The manifest: datasets in loading order.
#[derive(Debug, Clone, Serialize)]
pub struct Manifest {
    pub datasets: Vec<DatasetEntry>,
    pub downloads: Vec<Download>,
}

impl Manifest {
    pub fn from_file(path: &Path) -> Result<Self, LoadError> {
        let text = std::fs::read_to_string(path).map_err(|e| LoadError::io(path, e))?;
        Self::from_toml(&text).map_err(|source| LoadError::Config {
            path: path.to_path_buf(),
            source,
        })
    }

    pub fn from_toml(text: &str) -> Result<Self, ConfigError> {
        let file: ManifestFile = toml::from_str(text)?;
        let mut ids = std::collections::HashSet::new();
        for d in &file.dataset {
            if !ids.insert(d.id.as_str()) {
                return Err(ConfigError::DuplicateDataset(d.id.clone()));
            }
            if !is_inside(&d.file) {
                return Err(ConfigError::FileOutsideDataDir(d.id.clone()));
            }
        }
        for d in &file.dataset {
            if let Some(unknown) = d.supersedes.iter().find(|s| !ids.contains(s.as_str())) {
                return Err(ConfigError::UnknownDataset {
                    id: d.id.clone(),
                    unknown: unknown.clone(),
                });
            }
        }
        let mut download_ids = std::collections::HashSet::new();
        for d in &file.download {
            if !download_ids.insert(d.id.as_str()) {
                return Err(ConfigError::DuplicateDataset(d.id.clone()));
            }
            if !is_inside(&d.file) {
                return Err(ConfigError::FileOutsideDataDir(d.id.clone()));
            }
            if d.id.is_empty() || !d.id.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'-') {
                return Err(ConfigError::BadDownloadId(d.id.clone()));
            }
        }
        Ok(Manifest {
            datasets: file.dataset,
            downloads: file.download,
        })
    }

    pub fn download(&self, id: &str) -> Option<&Download> {
        self.downloads.iter().find(|d| d.id == id)
    }

    pub fn get(&self, id: &str) -> Option<&DatasetEntry> {
        self.datasets.iter().find(|d| d.id == id)
    }

    /// The manifest shipped with ess-map, `data/manifest.toml`.
    pub fn project_default_path() -> PathBuf {
        Path::new(env!("CARGO_MANIFEST_DIR")).join("../data/manifest.toml")
    }
}

/// A relative path that stays inside the directory it is joined to.
fn is_inside(path: &Path) -> bool {
    !path.as_os_str().is_empty()
        && path
            .components()
            .all(|c| matches!(c, std::path::Component::Normal(_)))
}
