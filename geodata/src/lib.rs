//! The spatial core of ess-map: QPV (quartiers prioritaires de la politique de
//! la ville) and ESS initiatives, loaded from the official open-data files,
//! validated, indexed in R-trees, and placed against each other in metres on
//! the ground. No HTTP here: the `ess-map` server builds on this.
//!
//! Data flows one way: files ([`manifest`], `load`) → validated [`model`] →
//! [`index`] → questions asked of a [`Dataset`].

pub mod category;
pub mod communes;
pub mod dataset;
pub mod gaps;
pub mod geodesy;
pub mod import;
pub mod index;
mod load;
pub mod locate_csv;
pub mod manifest;
pub mod model;
pub mod report;
pub mod text;
pub mod tiles;

pub use category::{Category, Taxonomy};
pub use dataset::{Dataset, InitiativeFilter, NEAR_RADIUS_M, NoOutline, QpvCounts, QpvFilter};
pub use load::csv_file::delimiter_of;
pub use manifest::Manifest;
pub use model::{Initiative, InitiativeRecord, Location, LocationStatus, Precision, Qpv};
pub use report::{DatasetReport, Issue, LoadError};
