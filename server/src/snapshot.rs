//! The start-up snapshot: every placed initiative (the open datasets' and
//! the store's) as of a store revision, in `<state>/snapshot/placed.bin`
//! ([`geodata::snapshot`]'s format). A start that finds one made from the
//! same data files, categories, manifest, program and store reads it back
//! and applies the store's changes since its revision, instead of reading,
//! checking and placing every row again. Anything else — another digest, a
//! rebuilt program, another store, a store behind the snapshot, a truncated
//! or damaged file — falls back to the full load, said in the log, and the
//! snapshot is made again.

use std::io::Write;
use std::path::{Path, PathBuf};
use std::time::UNIX_EPOCH;

use anyhow::Context;
use geodata::manifest::DatasetKind;
use geodata::snapshot::Snapshot;
use geodata::territory::Placed;
use geodata::{DataDirs, Manifest, Territory};
use sha2::{Digest, Sha256};

use crate::file_digest::DigestCache;

/// A start that applied more changes than this on top of the snapshot
/// writes a new one (the next start then has less to apply).
pub const REWRITE_AFTER_CHANGES: usize = 10_000;

pub struct StartupSnapshot {
    path: PathBuf,
    tag: String,
}

impl StartupSnapshot {
    /// The snapshot of `state_dir` for data read from `dirs` with
    /// `manifest` and the categories `taxonomy_text`, on the store
    /// `store_identity`: its tag names all of them.
    pub fn new(
        state_dir: &Path,
        dirs: &DataDirs,
        manifest: &Manifest,
        taxonomy_text: &str,
        store_identity: &str,
    ) -> anyhow::Result<StartupSnapshot> {
        let mut tag = format!(
            "ess-map {}; program {}\nstore {store_identity}\nmanifest {}\ncategories {}\n",
            env!("CARGO_PKG_VERSION"),
            program_identity(),
            sha256_hex(format!("{manifest:?}").as_bytes()),
            sha256_hex(taxonomy_text.as_bytes()),
        );
        let mut digests = DigestCache::open(state_dir);
        for file in geodata::load::dataset_files(dirs, manifest) {
            let sha256 = digests.sha256(&file)?;
            tag.push_str(&format!("{sha256} {}\n", dirs.relative(&file).display()));
        }
        digests.save();
        Ok(StartupSnapshot {
            path: state_dir.join("snapshot").join("placed.bin"),
            tag,
        })
    }

    /// The snapshot, placed on `territory`; why not when it cannot be used.
    pub fn read(&self, territory: &Territory) -> Result<Snapshot, String> {
        let file = match std::fs::File::open(&self.path) {
            Ok(file) => file,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => {
                return Err("no snapshot yet".to_string());
            }
            Err(e) => return Err(format!("cannot read it ({e})")),
        };
        let len = file
            .metadata()
            .map_err(|e| format!("cannot read it ({e})"))?
            .len();
        let input = std::io::BufReader::with_capacity(1 << 20, file);
        geodata::snapshot::read(input, len, &self.tag, territory.qpvs().len()).map_err(
            |e| match e {
                geodata::snapshot::SnapshotError::Stale { found } => {
                    format!(
                        "it was made from other data or another program ({})",
                        changed_lines(&found, &self.tag)
                    )
                }
                other => other.to_string(),
            },
        )
    }

    /// Writes `placed` as of store `revision`, with the open initiative
    /// datasets' reports of `territory`, through a temporary file renamed
    /// into place.
    pub fn write(
        &self,
        territory: &Territory,
        revision: i64,
        placed: &[Placed],
    ) -> anyhow::Result<()> {
        let dir = self.path.parent().expect("in a folder");
        std::fs::create_dir_all(dir).with_context(|| format!("cannot create {}", dir.display()))?;
        let reports: Vec<_> = territory
            .reports()
            .iter()
            .filter(|r| {
                territory
                    .manifest
                    .datasets
                    .iter()
                    .any(|d| d.id == r.id && d.kind == DatasetKind::Initiatives)
            })
            .cloned()
            .collect();
        let partial = self
            .path
            .with_extension(format!("partial-{}", std::process::id()));
        let written = (|| -> std::io::Result<()> {
            let mut out =
                std::io::BufWriter::with_capacity(1 << 20, std::fs::File::create(&partial)?);
            geodata::snapshot::write(&mut out, &self.tag, revision, placed, &reports)?;
            out.flush()?;
            out.into_inner().map_err(|e| e.into_error())?.sync_all()?;
            std::fs::rename(&partial, &self.path)
        })();
        if written.is_err() {
            let _ = std::fs::remove_file(&partial);
        }
        written.with_context(|| format!("cannot write {}", self.path.display()))
    }
}

/// This program as built: its size and modification time (a rebuilt or
/// other binary differs), read from the running executable.
fn program_identity() -> String {
    std::env::current_exe()
        .and_then(std::fs::metadata)
        .map(|m| {
            let modified = m
                .modified()
                .ok()
                .and_then(|t| t.duration_since(UNIX_EPOCH).ok())
                .map_or(0, |d| d.as_nanos());
            format!("{} bytes, modified {modified}", m.len())
        })
        .unwrap_or_else(|_| "unknown".to_string())
}

fn sha256_hex(bytes: &[u8]) -> String {
    crate::store::hex(&Sha256::digest(bytes))
}

/// The lines of the snapshot's tag that differ from the expected one, for
/// the log (which file changed, or the program, or the store).
fn changed_lines(found: &str, expected: &str) -> String {
    let short = |lines: Vec<&str>| -> String {
        lines
            .iter()
            .take(3)
            .map(|l| l.chars().take(120).collect::<String>())
            .collect::<Vec<_>>()
            .join(" | ")
    };
    let was: Vec<&str> = found
        .lines()
        .filter(|l| !expected.lines().any(|e| e == *l))
        .collect();
    let now: Vec<&str> = expected
        .lines()
        .filter(|l| !found.lines().any(|f| f == *l))
        .collect();
    format!("was: {}; now: {}", short(was), short(now))
}
