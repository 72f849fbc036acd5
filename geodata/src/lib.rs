//! The spatial core of ess-map: QPV (quartiers prioritaires de la politique de
//! la ville) and ESS initiatives, loaded from the official open-data files,
//! validated, indexed in R-trees, and placed against each other in metres on
//! the ground. No HTTP here: the `ess-map` server builds on this.
//!
//! Data flows one way: files ([`manifest`], `load`, [`records`]) → checked
//! records ([`validate`]) → a [`Territory`] loaded once and [`Initiatives`]
//! placed against it → questions asked of a [`Dataset`] (one version of
//! both) → [`gaps`], [`tiles`].

pub mod category;
pub mod clusters;
pub mod communes;
pub mod compare;
pub mod conventions;
pub mod dataset;
pub mod gaps;
pub mod geodesy;
pub mod import;
pub mod index;
pub mod initiative;
pub mod initiatives;
pub mod intern;
pub mod load;
pub mod manifest;
pub mod model;
pub mod parallel;
pub mod profiles;
pub mod records;
pub mod report;
pub mod snapshot;
pub mod table;
pub mod territory;
pub mod text;
pub mod tiles;
pub mod validate;
pub mod walk;
pub mod webmercator;

pub use category::{Category, Taxonomy};
pub use conventions::NEAR_RADIUS_M;
pub use dataset::{Dataset, InitiativeFilter, NoOutline, RecordChange};
pub use initiative::{Initiative, InitiativeRecord, Precision};
pub use initiatives::{Initiatives, QpvCounts, Touched};
pub use load::csv_file::delimiter_of;
pub use load::file::{DataDirs, read_data_file, resolve as resolve_data_file};
pub use manifest::{Download, Manifest};
pub use model::{Location, LocationStatus, Qpv, QpvId};
pub use report::{ConfigError, DatasetReport, Issue, LoadError};
pub use territory::{QpvFilter, Territory};
