//! Loading the real data beside the project, once per test binary.

use std::path::PathBuf;
use std::sync::OnceLock;

use geodata::{Dataset, Manifest, Taxonomy};

/// `$ESS_MAP_DATA`, else the project's `data/` (the default data it ships).
pub fn data_dir() -> PathBuf {
    std::env::var_os("ESS_MAP_DATA")
        .map(PathBuf::from)
        .unwrap_or_else(|| PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../data"))
}

pub fn project_file(name: &str) -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
        .join("../data")
        .join(name)
}

pub fn taxonomy() -> Taxonomy {
    Taxonomy::from_file(&project_file("categories.toml")).expect("taxonomy")
}

pub fn real() -> &'static Dataset {
    static DATASET: OnceLock<Dataset> = OnceLock::new();
    DATASET.get_or_init(|| {
        let manifest = Manifest::from_file(&project_file("manifest.toml")).expect("manifest");
        Dataset::load(&data_dir(), manifest, taxonomy()).expect("real data loads")
    })
}
