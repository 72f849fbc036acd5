//! Finding and reading data files: `name` or, when only that exists,
//! `name.gz` (the default data shipped in `data/` is gzip-compressed), with
//! errors that say what is wrong with the path.

use std::io::Read;
use std::path::{Path, PathBuf};

use crate::report::LoadError;

/// Where data files are looked for, in order: the data directory, then
/// the directory `ess-map data fetch` downloads into.
#[derive(Debug, Clone)]
pub struct DataDirs(Vec<PathBuf>);

impl DataDirs {
    /// The directories in the order they are searched; at least one.
    pub fn new(dirs: impl IntoIterator<Item = PathBuf>) -> DataDirs {
        let dirs: Vec<PathBuf> = dirs.into_iter().collect();
        assert!(!dirs.is_empty(), "at least one data directory");
        DataDirs(dirs)
    }

    /// `file` in the first directory holding it (plain or `.gz`), else
    /// where the first directory would hold it (for the error).
    pub fn find(&self, file: &Path) -> PathBuf {
        self.0
            .iter()
            .map(|dir| resolve(dir, file))
            .find(|path| exists(path))
            .unwrap_or_else(|| resolve(&self.0[0], file))
    }

    /// `path` as its directory holds it, to name it without the machine's
    /// directories.
    pub fn relative<'p>(&self, path: &'p Path) -> &'p Path {
        self.0
            .iter()
            .find_map(|dir| path.strip_prefix(dir).ok())
            .unwrap_or(path)
    }

    pub fn first(&self) -> &Path {
        &self.0[0]
    }
}

impl From<&Path> for DataDirs {
    fn from(dir: &Path) -> DataDirs {
        DataDirs(vec![dir.to_path_buf()])
    }
}

/// `dir/file`, or `dir/file.gz` when only the compressed file is there.
pub fn resolve(dir: &Path, file: &Path) -> PathBuf {
    let plain = dir.join(file);
    if std::fs::symlink_metadata(&plain).is_err() {
        let mut gz = plain.clone().into_os_string();
        gz.push(".gz");
        let gz = PathBuf::from(gz);
        if gz.exists() {
            return gz;
        }
    }
    plain
}

/// Whether `path` is there at all (a broken link or a directory is "there",
/// and [`read_data_file`] says what is wrong with it).
pub fn exists(path: &Path) -> bool {
    std::fs::symlink_metadata(path).is_ok()
}

/// A data file opened for reading, decompressed on the fly when its name
/// ends in `.gz`, with the same checks as [`read_data_file`].
pub fn open_data_file(path: &Path) -> Result<Box<dyn Read + Send>, LoadError> {
    check_regular(path)?;
    let file = std::fs::File::open(path).map_err(|e| LoadError::io(path, e))?;
    let reader = std::io::BufReader::with_capacity(256 * 1024, file);
    if path
        .extension()
        .is_some_and(|e| e.eq_ignore_ascii_case("gz"))
    {
        return Ok(Box::new(flate2::read::MultiGzDecoder::new(reader)));
    }
    Ok(Box::new(reader))
}

fn check_regular(path: &Path) -> Result<(), LoadError> {
    let problem = |what: &str| {
        LoadError::io(
            path,
            std::io::Error::new(std::io::ErrorKind::InvalidInput, what.to_string()),
        )
    };
    let meta = std::fs::metadata(path).map_err(|e| LoadError::io(path, e))?;
    if meta.is_dir() {
        return Err(problem("is a directory, not a data file"));
    }
    if !meta.is_file() {
        return Err(problem(
            "is not a regular file (a FIFO, socket or device); give the data file itself",
        ));
    }
    Ok(())
}

/// The bytes of a data file, decompressed when its name ends in `.gz`. A
/// directory, a FIFO, a device or a link that leads nowhere is an error
/// that says so (a FIFO would block the reader forever).
pub fn read_data_file(path: &Path) -> Result<Vec<u8>, LoadError> {
    check_regular(path)?;
    let bytes = std::fs::read(path).map_err(|e| LoadError::io(path, e))?;
    if path
        .extension()
        .is_some_and(|e| e.eq_ignore_ascii_case("gz"))
    {
        let mut out = Vec::with_capacity(bytes.len() * 4);
        flate2::read::MultiGzDecoder::new(&bytes[..])
            .read_to_end(&mut out)
            .map_err(|e| {
                LoadError::io(
                    path,
                    std::io::Error::new(e.kind(), format!("not a readable gzip file: {e}")),
                )
            })?;
        return Ok(out);
    }
    Ok(bytes)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reads_plain_or_gzip_and_names_what_is_wrong() {
        let dir = tempfile::tempdir().unwrap();
        let mut gz = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::default());
        std::io::Write::write_all(&mut gz, b"a,b\n1,2\n").unwrap();
        std::fs::write(dir.path().join("x.csv.gz"), gz.finish().unwrap()).unwrap();
        let found = resolve(dir.path(), Path::new("x.csv"));
        assert!(found.ends_with("x.csv.gz"));
        assert_eq!(read_data_file(&found).unwrap(), b"a,b\n1,2\n");
        std::fs::create_dir(dir.path().join("d.csv")).unwrap();
        let err = read_data_file(&resolve(dir.path(), Path::new("d.csv"))).unwrap_err();
        assert!(err.to_string().contains("is a directory"), "{err}");
        std::os::unix::fs::symlink("loop.csv", dir.path().join("loop.csv")).unwrap();
        let err = read_data_file(&dir.path().join("loop.csv")).unwrap_err();
        assert!(err.to_string().contains("symbolic links"), "{err}");
        std::fs::write(dir.path().join("bad.csv.gz"), b"not gzip").unwrap();
        let err = read_data_file(&dir.path().join("bad.csv.gz")).unwrap_err();
        assert!(err.to_string().contains("gzip"), "{err}");
    }
}
