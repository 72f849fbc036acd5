//! What loading found wrong with the input, and what it did about it.
//!
//! A fatal problem (unreadable file, invalid JSON, missing column) is a [`LoadError`]:
//! the dataset is not loaded at all. A problem confined to one feature or row is an
//! [`Issue`]: that record is skipped, repaired or kept unlocated, and the issue says so.

use std::fmt;
use std::path::{Path, PathBuf};

use serde::{Deserialize, Serialize};

/// Where in a file a problem is.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case", tag = "kind", content = "index")]
pub enum Position {
    /// The file as a whole.
    File,
    /// Index of a GeoJSON feature (0-based, as in the `features` array).
    Feature(usize),
    /// Line of a CSV record (1-based, the header being line 1).
    Line(u64),
    /// Index of an element of a JSON array (0-based).
    Element(usize),
}

impl fmt::Display for Position {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Position::File => Ok(()),
            Position::Feature(i) => write!(f, "feature {i}"),
            Position::Line(n) => write!(f, "line {n}"),
            Position::Element(i) => write!(f, "element {i}"),
        }
    }
}

/// What was done with a record that had a problem.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Action {
    /// The record was not loaded.
    Skipped,
    /// The record was loaded after a stated repair.
    Repaired,
    /// The record was loaded without coordinates or geometry.
    KeptWithoutLocation,
    /// The record was loaded with this field left empty.
    KeptWithoutField,
}

impl fmt::Display for Action {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Action::Skipped => "skipped",
            Action::Repaired => "repaired",
            Action::KeptWithoutLocation => "kept without location",
            Action::KeptWithoutField => "kept with the field empty",
        })
    }
}

/// A problem with one record of an input file.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Issue {
    pub file: PathBuf,
    pub position: Position,
    /// The record's own key (QPV code, initiative id) when it could be read.
    pub key: Option<String>,
    pub field: Option<String>,
    pub reason: String,
    pub action: Action,
}

impl fmt::Display for Issue {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}", self.file.display())?;
        if self.position != Position::File {
            write!(f, ": {}", self.position)?;
        }
        if let Some(key) = &self.key {
            write!(f, " ({key})")?;
        }
        if let Some(field) = &self.field {
            write!(f, ", field `{field}`")?;
        }
        write!(f, ": {} ({})", self.reason, self.action)
    }
}

/// A problem that stops a whole file from loading.
#[derive(Debug, thiserror::Error)]
pub enum LoadError {
    #[error("{}: cannot read: {source}", path.display())]
    Io {
        path: PathBuf,
        source: std::io::Error,
    },
    #[error("{}: invalid JSON at line {line}, column {column}: {message}", path.display())]
    Json {
        path: PathBuf,
        line: usize,
        column: usize,
        message: String,
    },
    #[error("{}: {position}{}{reason}", path.display(), if *position == Position::File { "" } else { ": " })]
    Invalid {
        path: PathBuf,
        position: Position,
        reason: String,
    },
    #[error("{}: {source}", path.display())]
    Config { path: PathBuf, source: ConfigError },
}

/// What is wrong with a configuration file of the data: the manifest, the
/// category taxonomy, an import's column mapping.
#[derive(Debug, thiserror::Error)]
pub enum ConfigError {
    #[error("{0}")]
    Toml(#[from] toml::de::Error),
    #[error("dataset `{0}` is listed twice")]
    DuplicateDataset(String),
    #[error("dataset `{0}`: file must be a path inside the data directory")]
    FileOutsideDataDir(String),
    #[error("dataset `{id}` supersedes `{unknown}`, which the manifest does not list")]
    UnknownDataset { id: String, unknown: String },
    #[error("download `{0}`: an id is letters, digits and `-`")]
    BadDownloadId(String),
    #[error("category `{0}` is listed twice")]
    DuplicateCategory(String),
    #[error("category `{id}`: color `{color}` is not #rrggbb")]
    BadColour { id: String, color: String },
    #[error("fallback category `{0}` is not listed")]
    UnknownFallback(String),
    #[error("group `{0}`: id already used")]
    GroupIdTaken(String),
    #[error("group `{group}`: unknown category `{category}`")]
    GroupUnknownCategory { group: String, category: String },
}

impl LoadError {
    pub(crate) fn io(path: &Path, source: std::io::Error) -> Self {
        LoadError::Io {
            path: path.to_path_buf(),
            source,
        }
    }

    pub(crate) fn invalid(path: &Path, position: Position, reason: impl Into<String>) -> Self {
        LoadError::Invalid {
            path: path.to_path_buf(),
            position,
            reason: reason.into(),
        }
    }

    pub(crate) fn csv(path: &Path, err: csv::Error) -> Self {
        let position = err
            .position()
            .map_or(Position::File, |p| Position::Line(p.line()));
        LoadError::invalid(path, position, format!("unreadable CSV: {err}"))
    }
}

/// The outcome of loading one dataset named in the manifest.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct DatasetReport {
    pub id: String,
    pub file: PathBuf,
    /// Records read from the file.
    pub read: usize,
    /// Records now in the model (repaired ones included).
    pub loaded: usize,
    pub skipped: usize,
    pub repaired: usize,
    /// Records loaded without coordinates or geometry.
    pub without_location: usize,
    /// Records loaded with a bad field left empty.
    pub without_field: usize,
    /// Facts about the file as a whole (rows that matched nothing loaded…).
    pub notes: Vec<String>,
    pub issues: Vec<Issue>,
}

impl DatasetReport {
    pub fn new(id: &str, file: &Path) -> Self {
        DatasetReport {
            id: id.to_string(),
            file: file.to_path_buf(),
            read: 0,
            loaded: 0,
            skipped: 0,
            repaired: 0,
            without_location: 0,
            without_field: 0,
            notes: Vec::new(),
            issues: Vec::new(),
        }
    }

    /// Records a problem and counts it under its action.
    pub fn issue(
        &mut self,
        position: Position,
        key: Option<&str>,
        field: Option<&str>,
        reason: impl Into<String>,
        action: Action,
    ) {
        match action {
            Action::Skipped => self.skipped += 1,
            Action::Repaired => self.repaired += 1,
            Action::KeptWithoutLocation => self.without_location += 1,
            Action::KeptWithoutField => self.without_field += 1,
        }
        self.issues.push(Issue {
            file: self.file.clone(),
            position,
            key: key.map(str::to_string),
            field: field.map(str::to_string),
            reason: reason.into(),
            action,
        });
    }
}

impl DatasetReport {
    /// Adds what another reading of the same file found; issues stay in
    /// file order.
    pub fn absorb(&mut self, other: DatasetReport) {
        self.read += other.read;
        self.loaded += other.loaded;
        self.skipped += other.skipped;
        self.repaired += other.repaired;
        self.without_location += other.without_location;
        self.without_field += other.without_field;
        self.notes.extend(other.notes);
        self.issues.extend(other.issues);
        let order = |p: &Position| match p {
            Position::File => (0, 0),
            Position::Feature(i) | Position::Element(i) => (1, *i as u64),
            Position::Line(n) => (1, *n),
        };
        self.issues.sort_by_key(|i| order(&i.position));
    }
}

impl fmt::Display for DatasetReport {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "{}: {} read, {} loaded ({} repaired, {} without location, {} with a field left empty), {} skipped",
            self.id,
            self.read,
            self.loaded,
            self.repaired,
            self.without_location,
            self.without_field,
            self.skipped
        )?;
        for note in &self.notes {
            write!(f, "; {note}")?;
        }
        Ok(())
    }
}
