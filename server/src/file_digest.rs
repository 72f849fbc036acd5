//! SHA-256 of data files, remembered per size and modification time in the
//! state directory: a start checks what its caches were made from without
//! reading hundreds of megabytes again when nothing was touched (as git's
//! index does); a file whose size or time moved is read and hashed again.

use std::collections::HashMap;
use std::io::Write;
use std::path::{Path, PathBuf};
use std::time::UNIX_EPOCH;

use anyhow::Context;
use sha2::{Digest, Sha256};

/// The digests known, kept in `<state>/digests.tsv`.
pub struct DigestCache {
    path: PathBuf,
    known: HashMap<PathBuf, Known>,
    changed: bool,
}

struct Known {
    size: u64,
    modified_ns: u128,
    sha256: String,
}

impl DigestCache {
    /// The cache of `state_dir` (empty when it has none or cannot be read).
    pub fn open(state_dir: &Path) -> DigestCache {
        let path = state_dir.join("digests.tsv");
        DigestCache {
            known: read(&path),
            path,
            changed: false,
        }
    }

    /// The SHA-256 (hex) of `file`'s bytes.
    pub fn sha256(&mut self, file: &Path) -> anyhow::Result<String> {
        let key = std::path::absolute(file).unwrap_or_else(|_| file.to_path_buf());
        let meta =
            std::fs::metadata(file).with_context(|| format!("cannot read {}", file.display()))?;
        let size = meta.len();
        let modified_ns = meta
            .modified()
            .ok()
            .and_then(|t| t.duration_since(UNIX_EPOCH).ok())
            .map_or(0, |d| d.as_nanos());
        if let Some(k) = self.known.get(&key)
            && k.size == size
            && k.modified_ns == modified_ns
            && modified_ns != 0
        {
            return Ok(k.sha256.clone());
        }
        let mut hasher = Sha256::new();
        let mut input =
            std::fs::File::open(file).with_context(|| format!("cannot read {}", file.display()))?;
        std::io::copy(&mut input, &mut hasher)
            .with_context(|| format!("cannot read {}", file.display()))?;
        let sha256 = crate::store::hex(&hasher.finalize());
        self.known.insert(
            key,
            Known {
                size,
                modified_ns,
                sha256: sha256.clone(),
            },
        );
        self.changed = true;
        Ok(sha256)
    }

    /// Keeps what was learnt (through a temporary file renamed into place);
    /// a cache that cannot be written only costs reading the files again.
    pub fn save(&mut self) {
        if !self.changed {
            return;
        }
        // Another cache of the same directory (the walking network's, in
        // another thread or process) may have kept digests since: kept too.
        for (file, k) in read(&self.path) {
            self.known.entry(file).or_insert(k);
        }
        static SAVES: std::sync::atomic::AtomicU64 = std::sync::atomic::AtomicU64::new(0);
        let partial = self.path.with_extension(format!(
            "partial-{}-{}",
            std::process::id(),
            SAVES.fetch_add(1, std::sync::atomic::Ordering::Relaxed)
        ));
        let written = (|| -> std::io::Result<()> {
            let mut out = std::io::BufWriter::new(std::fs::File::create(&partial)?);
            for (file, k) in &self.known {
                if file.to_str().is_some_and(|f| !f.contains(['\t', '\n'])) {
                    writeln!(
                        out,
                        "{}\t{}\t{}\t{}",
                        k.sha256,
                        k.size,
                        k.modified_ns,
                        file.display()
                    )?;
                }
            }
            out.into_inner().map_err(|e| e.into_error())?.sync_all()?;
            std::fs::rename(&partial, &self.path)
        })();
        match written {
            Ok(()) => self.changed = false,
            Err(e) => {
                let _ = std::fs::remove_file(&partial);
                tracing::warn!(
                    "cannot keep the data files' digests in {}: {e}",
                    self.path.display()
                );
            }
        }
    }
}

/// The digests `path` holds (none when it is missing or cannot be read; a
/// line that cannot be read is left out).
fn read(path: &Path) -> HashMap<PathBuf, Known> {
    std::fs::read_to_string(path)
        .unwrap_or_default()
        .lines()
        .filter_map(|line| {
            let mut fields = line.splitn(4, '\t');
            let sha256 = fields.next()?.to_string();
            let size = fields.next()?.parse().ok()?;
            let modified_ns = fields.next()?.parse().ok()?;
            let file = PathBuf::from(fields.next()?);
            Some((
                file,
                Known {
                    size,
                    modified_ns,
                    sha256,
                },
            ))
        })
        .collect()
}
