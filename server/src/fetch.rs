//! Downloading the national files the manifest lists (`ess-map data fetch`)
//! into the downloads directory: resumed after an interruption, checked
//! against the pinned size and SHA-256, unpacked, and put in place by one
//! rename, so a failed or interrupted fetch leaves the previous file working.
//!
//! The downloads directory holds, besides the files:
//! - `pins.toml`: pins accepted with `--accept-new` (they stand in for the
//!   manifest's when a producer republishes);
//! - `installed.toml`: what is in place, from where, and when;
//! - `.partial/`: downloads under way (`<id>.part` and `<id>.part.toml`).

use std::collections::BTreeMap;
use std::fs::File;
use std::io::{Read, Seek, Write};
use std::path::{Path, PathBuf};
use std::time::{Duration, SystemTime};

use geodata::Download;
use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};

/// What a download must be: its size and SHA-256 as served.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Pin {
    pub size: u64,
    pub sha256: String,
}

impl std::fmt::Display for Pin {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{} bytes, SHA-256 {}", self.size, self.sha256)
    }
}

/// A pin accepted with `--accept-new`.
#[derive(Debug, Clone, Serialize, Deserialize)]
struct AcceptedPin {
    size: u64,
    sha256: String,
    url: String,
    accepted: String,
}

/// A file in place.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct Installed {
    pub size: u64,
    pub sha256: String,
    pub url: String,
    pub file: PathBuf,
    pub fetched: String,
}

/// A download under way: where it came from and the validator that lets
/// a resumed request ask for the same version (`If-Range`).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
struct Partial {
    url: String,
    validator: Option<String>,
    total: Option<u64>,
}

#[derive(Debug, thiserror::Error)]
pub enum FetchError {
    #[error("{url}: not found (HTTP 404); the producer may have moved it, see {page}")]
    NotFound { url: String, page: String },
    #[error("{url}: the server answered HTTP {status}")]
    Status { url: String, status: u16 },
    #[error("{url}: {source}")]
    Request {
        url: String,
        #[source]
        source: Box<ureq::Error>,
    },
    #[error("{url}: no data for {secs} s after {got} bytes; the part is kept, run again to resume")]
    Stalled { url: String, secs: u64, got: u64 },
    #[error(
        "{url}: the transfer ended after {got} of {expected} bytes ({reason}); the part is kept, run again to resume"
    )]
    Truncated {
        url: String,
        got: u64,
        expected: String,
        reason: String,
    },
    #[error(
        "{id}: the server offers {offered} bytes where the pin says {pinned}: the producer may have republished it. Nothing was changed; run with --accept-new to take the new version"
    )]
    SizeChanged {
        id: String,
        offered: u64,
        pinned: u64,
    },
    #[error(
        "{id}: the download does not match its pin (got {got}, pinned {pinned}). It was discarded and the previous file kept; run with --accept-new if the producer republished it"
    )]
    Mismatch { id: String, got: Pin, pinned: Pin },
    #[error(
        "{id}: no pin in the manifest for this file (got {got}). It was discarded; run with --accept-new to pin it"
    )]
    NotPinned { id: String, got: Pin },
    #[error("{id}: the archive holds `{name}`, a path leading outside its folder: refused")]
    UnsafeMember { id: String, name: String },
    #[error("{id}: no member `{member}` in the archive (it holds: {members})")]
    NoMember {
        id: String,
        member: String,
        members: String,
    },
    #[error("{id}: not a readable zip archive: {reason}")]
    Archive { id: String, reason: String },
    #[error("{}: {source}", path.display())]
    Io {
        path: PathBuf,
        #[source]
        source: std::io::Error,
    },
    #[error("{}: {reason}", path.display())]
    State { path: PathBuf, reason: String },
}

fn io_error(path: &Path) -> impl FnOnce(std::io::Error) -> FetchError + '_ {
    move |source| FetchError::Io {
        path: path.to_path_buf(),
        source,
    }
}

/// How to fetch.
pub struct FetchOptions {
    /// A mirror (`http(s)://…` or a local folder) serving each download
    /// under [`Download::mirror_name`], used instead of the producer.
    pub mirror: Option<String>,
    /// Take what is served when it differs from the pin (or when there is
    /// none), and record it as the new pin.
    pub accept_new: bool,
    /// Download again even when the file in place matches its pin.
    pub force: bool,
    /// A transfer that sends nothing for this long is stopped (and resumed
    /// by the next run).
    pub stall_timeout: Duration,
    pub connect_timeout: Duration,
    pub progress: bool,
}

/// What a fetch did.
#[derive(Debug)]
pub enum Outcome {
    /// The file in place matches its pin: nothing downloaded.
    UpToDate(Installed),
    Installed {
        installed: Installed,
        /// The pin it replaced, when `--accept-new` recorded a new one.
        new_pin: Option<(Option<Pin>, Pin)>,
        resumed_from: u64,
    },
}

/// The downloads directory.
pub struct Downloads {
    dir: PathBuf,
}

impl Downloads {
    pub fn new(dir: PathBuf) -> Downloads {
        Downloads { dir }
    }

    pub fn dir(&self) -> &Path {
        &self.dir
    }

    fn pins_path(&self) -> PathBuf {
        self.dir.join("pins.toml")
    }

    fn installed_path(&self) -> PathBuf {
        self.dir.join("installed.toml")
    }

    fn partial_dir(&self) -> PathBuf {
        self.dir.join(".partial")
    }

    /// The pin a download must match: one accepted with `--accept-new`,
    /// else the manifest's.
    pub fn pin(&self, download: &Download) -> Result<Option<Pin>, FetchError> {
        let accepted: BTreeMap<String, AcceptedPin> = read_toml(&self.pins_path())?;
        if let Some(p) = accepted.get(&download.id) {
            return Ok(Some(Pin {
                size: p.size,
                sha256: p.sha256.clone(),
            }));
        }
        Ok(match (download.size, &download.sha256) {
            (Some(size), Some(sha256)) => Some(Pin {
                size,
                sha256: sha256.to_ascii_lowercase(),
            }),
            _ => None,
        })
    }

    /// What is in place, by download id.
    pub fn installed(&self) -> Result<BTreeMap<String, Installed>, FetchError> {
        read_toml(&self.installed_path())
    }

    /// Fetches one download (see the module's documentation).
    pub fn fetch(
        &self,
        download: &Download,
        options: &FetchOptions,
    ) -> Result<Outcome, FetchError> {
        let pin = self.pin(download)?;
        let dest = self.dir.join(&download.file);
        if !options.force
            && let Some(installed) = self.installed()?.remove(&download.id)
            && pin.as_ref().is_some_and(|p| p.sha256 == installed.sha256)
            && installed.file == download.file
            && dest.is_file()
        {
            return Ok(Outcome::UpToDate(installed));
        }
        let partial_dir = self.partial_dir();
        std::fs::create_dir_all(&partial_dir).map_err(io_error(&partial_dir))?;
        let part = partial_dir.join(format!("{}.part", download.id));
        let url = source_url(download, options.mirror.as_deref());
        let resumed_from = match &url {
            Source::Http(url) => self.download_http(download, url, &part, pin.as_ref(), options)?,
            Source::Folder(path) => copy_local(path, &part)?,
        };
        let got = pin_of(&part)?;
        let new_pin = match &pin {
            Some(p) if *p == got => None,
            _ if options.accept_new => Some((pin.clone(), got.clone())),
            Some(p) => {
                self.discard(&part);
                return Err(FetchError::Mismatch {
                    id: download.id.clone(),
                    got,
                    pinned: p.clone(),
                });
            }
            None => {
                self.discard(&part);
                return Err(FetchError::NotPinned {
                    id: download.id.clone(),
                    got,
                });
            }
        };
        let url_text = url.to_string();
        if let Err(e) = self.install(download, &part, &dest) {
            // A refused archive would be refused again: nothing to resume.
            if matches!(
                e,
                FetchError::UnsafeMember { .. }
                    | FetchError::NoMember { .. }
                    | FetchError::Archive { .. }
            ) {
                self.discard(&part);
            }
            return Err(e);
        }
        self.discard(&part);
        if let Some((_, pin)) = &new_pin {
            self.record_pin(download, pin, &url_text)?;
        }
        let installed = Installed {
            size: got.size,
            sha256: got.sha256,
            url: url_text,
            file: download.file.clone(),
            fetched: httpdate::fmt_http_date(SystemTime::now()),
        };
        let mut all = self.installed()?;
        all.insert(download.id.clone(), installed.clone());
        write_toml(&self.installed_path(), &all)?;
        Ok(Outcome::Installed {
            installed,
            new_pin,
            resumed_from,
        })
    }

    /// Downloads `url` into `part`, resuming what an earlier run left
    /// there when the server can send the rest of the same version. The
    /// number of bytes resumed from.
    fn download_http(
        &self,
        download: &Download,
        url: &str,
        part: &Path,
        pin: Option<&Pin>,
        options: &FetchOptions,
    ) -> Result<u64, FetchError> {
        let meta_path = part.with_extension("part.toml");
        let previous: Option<Partial> = match std::fs::metadata(part) {
            Ok(_) => read_toml::<Option<Partial>>(&meta_path)?.filter(|p| p.url == url),
            Err(_) => None,
        };
        let have = match &previous {
            Some(_) => std::fs::metadata(part).map_or(0, |m| m.len()),
            None => 0,
        };
        if let Some(p) = &previous
            && p.total == Some(have)
            && have > 0
        {
            // Complete from an earlier run that stopped before checking.
            return Ok(have);
        }
        let agent = download_agent(options.connect_timeout, options.stall_timeout);
        let mut request = agent.get(url);
        let resuming = have > 0 && previous.as_ref().is_some_and(|p| p.validator.is_some());
        if resuming {
            let validator = previous
                .as_ref()
                .and_then(|p| p.validator.clone())
                .unwrap_or_default();
            request = request
                .header("Range", format!("bytes={have}-"))
                .header("If-Range", validator);
        }
        let mut response = request.call().map_err(|e| FetchError::Request {
            url: url.to_string(),
            source: Box::new(e),
        })?;
        let status = response.status().as_u16();
        let header = |name: &str| {
            response
                .headers()
                .get(name)
                .and_then(|v| v.to_str().ok())
                .map(str::to_string)
        };
        let (start, total) = match status {
            206 if resuming => {
                let range = header("Content-Range").unwrap_or_default();
                match parse_content_range(&range) {
                    Some((start, total)) if start == have => (start, total),
                    _ => {
                        return Err(FetchError::State {
                            path: part.to_path_buf(),
                            reason: format!(
                                "{url} sent `Content-Range: {range}` for a request from byte {have}; remove the part and run again"
                            ),
                        });
                    }
                }
            }
            200 => (
                0,
                header("Content-Length").and_then(|l| l.parse::<u64>().ok()),
            ),
            404 | 410 => {
                return Err(FetchError::NotFound {
                    url: url.to_string(),
                    page: download.url.clone(),
                });
            }
            status => {
                return Err(FetchError::Status {
                    url: url.to_string(),
                    status,
                });
            }
        };
        if let (Some(total), Some(pin)) = (total, pin)
            && total != pin.size
            && !options.accept_new
        {
            return Err(FetchError::SizeChanged {
                id: download.id.clone(),
                offered: total,
                pinned: pin.size,
            });
        }
        let validator = header("ETag")
            .filter(|e| !e.starts_with("W/"))
            .or_else(|| header("Last-Modified"));
        write_toml(
            &meta_path,
            &Partial {
                url: url.to_string(),
                validator,
                total,
            },
        )?;
        let mut file = std::fs::OpenOptions::new()
            .create(true)
            .write(true)
            .truncate(start == 0)
            .open(part)
            .map_err(io_error(part))?;
        file.seek(std::io::SeekFrom::Start(start))
            .map_err(io_error(part))?;
        let bar = progress_bar(options.progress, &download.id, total);
        bar.set_position(start);
        let mut got = start;
        let mut reader = response.body_mut().as_reader();
        let mut buffer = vec![0u8; 64 * 1024];
        loop {
            let n = match reader.read(&mut buffer) {
                Ok(0) => break,
                Ok(n) => n,
                Err(e) if e.kind() == std::io::ErrorKind::Interrupted => continue,
                Err(e) => {
                    bar.abandon();
                    file.sync_all().map_err(io_error(part))?;
                    return Err(if is_timeout(&e) {
                        FetchError::Stalled {
                            url: url.to_string(),
                            secs: options.stall_timeout.as_secs().max(1),
                            got,
                        }
                    } else {
                        FetchError::Truncated {
                            url: url.to_string(),
                            got,
                            expected: total.map_or("?".into(), |t| t.to_string()),
                            reason: e.to_string(),
                        }
                    });
                }
            };
            file.write_all(&buffer[..n]).map_err(io_error(part))?;
            got += n as u64;
            bar.set_position(got);
        }
        file.sync_all().map_err(io_error(part))?;
        bar.finish_and_clear();
        if let Some(total) = total
            && got != total
        {
            return Err(FetchError::Truncated {
                url: url.to_string(),
                got,
                expected: total.to_string(),
                reason: "the connection closed early".into(),
            });
        }
        Ok(start)
    }

    /// Puts the download in place: the archive's member or the file itself,
    /// written beside `dest` then renamed over it.
    fn install(&self, download: &Download, part: &Path, dest: &Path) -> Result<(), FetchError> {
        let folder = dest.parent().expect("a file in the downloads directory");
        std::fs::create_dir_all(folder).map_err(io_error(folder))?;
        let staged = tempfile::Builder::new()
            .prefix(".fetch-")
            .tempfile_in(folder)
            .map_err(io_error(folder))?;
        let mut out = staged.as_file();
        match &download.member {
            Some(member) => unpack_member(download, member, part, &mut out)?,
            None => {
                let mut input = File::open(part).map_err(io_error(part))?;
                std::io::copy(&mut input, &mut out).map_err(io_error(staged.path()))?;
            }
        }
        out.sync_all().map_err(io_error(staged.path()))?;
        staged.persist(dest).map_err(|e| FetchError::Io {
            path: dest.to_path_buf(),
            source: e.error,
        })?;
        Ok(())
    }

    fn discard(&self, part: &Path) {
        let _ = std::fs::remove_file(part);
        let _ = std::fs::remove_file(part.with_extension("part.toml"));
    }

    fn record_pin(&self, download: &Download, pin: &Pin, url: &str) -> Result<(), FetchError> {
        let path = self.pins_path();
        let mut pins: BTreeMap<String, AcceptedPin> = read_toml(&path)?;
        pins.insert(
            download.id.clone(),
            AcceptedPin {
                size: pin.size,
                sha256: pin.sha256.clone(),
                url: url.to_string(),
                accepted: httpdate::fmt_http_date(SystemTime::now()),
            },
        );
        write_toml(&path, &pins)
    }
}

enum Source {
    Http(String),
    Folder(PathBuf),
}

impl std::fmt::Display for Source {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Source::Http(url) => f.write_str(url),
            Source::Folder(path) => write!(f, "{}", path.display()),
        }
    }
}

fn source_url(download: &Download, mirror: Option<&str>) -> Source {
    match mirror {
        None => Source::Http(download.url.clone()),
        Some(m) if m.starts_with("http://") || m.starts_with("https://") => Source::Http(format!(
            "{}/{}",
            m.trim_end_matches('/'),
            download.mirror_name()
        )),
        Some(folder) => Source::Folder(Path::new(folder).join(download.mirror_name())),
    }
}

/// Copies a download from a local mirror folder: a regular file only (a
/// FIFO would block the fetch forever, a directory is no download), opened
/// without blocking and checked once open (the name cannot change what is
/// read between the check and the read).
fn copy_local(from: &Path, part: &Path) -> Result<u64, FetchError> {
    use std::os::unix::fs::OpenOptionsExt;
    let not_a_file = |what: &str| FetchError::State {
        path: from.to_path_buf(),
        reason: format!("{what} in the mirror, where a regular file was expected"),
    };
    let mut input = std::fs::OpenOptions::new()
        .read(true)
        .custom_flags(libc::O_NONBLOCK)
        .open(from)
        .map_err(io_error(from))?;
    let kind = input.metadata().map_err(io_error(from))?.file_type();
    if !kind.is_file() {
        use std::os::unix::fs::FileTypeExt;
        return Err(not_a_file(if kind.is_dir() {
            "a directory"
        } else if kind.is_fifo() {
            "a named pipe (FIFO)"
        } else if kind.is_socket() {
            "a socket"
        } else {
            "a device or special file"
        }));
    }
    let mut out = File::create(part).map_err(io_error(part))?;
    std::io::copy(&mut input, &mut out).map_err(io_error(part))?;
    out.sync_all().map_err(io_error(part))?;
    Ok(0)
}

/// Size and SHA-256 of a file.
fn pin_of(path: &Path) -> Result<Pin, FetchError> {
    let mut file = File::open(path).map_err(io_error(path))?;
    let mut hasher = Sha256::new();
    let size = std::io::copy(&mut file, &mut hasher).map_err(io_error(path))?;
    Ok(Pin {
        size,
        sha256: crate::store::hex(&hasher.finalize()),
    })
}

/// Largest member unpacked: a zip announcing more is refused (a zip bomb
/// would otherwise fill the disk).
const MAX_UNPACKED_BYTES: u64 = 8 << 30;

/// Writes `member` of the zip archive `part` to `out`. Every member name is
/// checked first: an archive holding a path that leads outside its folder
/// (`../../x`, `/etc/x`) is refused whole, whatever member is wanted.
fn unpack_member(
    download: &Download,
    member: &str,
    part: &Path,
    out: &mut impl Write,
) -> Result<(), FetchError> {
    let archive_error = |e: zip::result::ZipError| FetchError::Archive {
        id: download.id.clone(),
        reason: e.to_string(),
    };
    let file = File::open(part).map_err(io_error(part))?;
    let mut archive = zip::ZipArchive::new(file).map_err(archive_error)?;
    let mut names = Vec::with_capacity(archive.len());
    for i in 0..archive.len() {
        let entry = archive.by_index_raw(i).map_err(archive_error)?;
        let name = entry.name().map_err(archive_error)?.into_owned();
        // Absolute names (`/etc/x`, `C:x`) are refused even where the zip
        // reader would strip them to a relative one.
        let unsafe_path = name.starts_with('/')
            || name.as_bytes().get(1) == Some(&b':')
            || name.split('/').any(|p| p == "..");
        if unsafe_path || entry.enclosed_name().is_none() || name.contains('\\') {
            return Err(FetchError::UnsafeMember {
                id: download.id.clone(),
                name,
            });
        }
        names.push(name);
    }
    let base = |n: &str| n.rsplit('/').next().unwrap_or(n).to_string();
    let wanted: Vec<usize> = match names.iter().position(|n| n == member) {
        Some(i) => vec![i],
        None => (0..names.len())
            .filter(|&i| base(&names[i]) == base(member))
            .collect(),
    };
    let [index] = wanted[..] else {
        return Err(FetchError::NoMember {
            id: download.id.clone(),
            member: member.to_string(),
            members: names.join(", "),
        });
    };
    let mut entry = archive.by_index(index).map_err(archive_error)?;
    if entry.is_symlink() || entry.is_dir() {
        return Err(FetchError::Archive {
            id: download.id.clone(),
            reason: format!(
                "member `{}` is a {}, not a file: refused",
                names[index],
                if entry.is_dir() {
                    "directory"
                } else {
                    "symbolic link"
                }
            ),
        });
    }
    if entry.size() > MAX_UNPACKED_BYTES {
        return Err(FetchError::Archive {
            id: download.id.clone(),
            reason: format!(
                "member `{}` would unpack to {} bytes, more than the {} allowed",
                names[index],
                entry.size(),
                MAX_UNPACKED_BYTES
            ),
        });
    }
    // The zip reader checks the member's CRC-32 as it reaches its end.
    let copied =
        std::io::copy(&mut (&mut entry).take(MAX_UNPACKED_BYTES + 1), out).map_err(|e| {
            FetchError::Archive {
                id: download.id.clone(),
                reason: format!("member `{}`: {e}", names[index]),
            }
        })?;
    if copied > MAX_UNPACKED_BYTES {
        return Err(FetchError::Archive {
            id: download.id.clone(),
            reason: format!("member `{}` unpacks to more than announced", names[index]),
        });
    }
    Ok(())
}

/// `bytes 100-199/200` → (100, Some(200)).
fn parse_content_range(value: &str) -> Option<(u64, Option<u64>)> {
    let rest = value.trim().strip_prefix("bytes ")?;
    let (range, total) = rest.split_once('/')?;
    let (start, _) = range.split_once('-')?;
    Some((start.trim().parse().ok()?, total.trim().parse().ok()))
}

fn is_timeout(e: &std::io::Error) -> bool {
    e.kind() == std::io::ErrorKind::TimedOut
        || e.get_ref()
            .and_then(|inner| inner.downcast_ref::<ureq::Error>())
            .is_some_and(|u| matches!(u, ureq::Error::Timeout(_)))
}

fn progress_bar(shown: bool, id: &str, total: Option<u64>) -> indicatif::ProgressBar {
    if !shown {
        return indicatif::ProgressBar::hidden();
    }
    let bar = match total {
        Some(total) => indicatif::ProgressBar::new(total),
        None => indicatif::ProgressBar::no_length(),
    };
    bar.set_style(
        indicatif::ProgressStyle::with_template(
            "{msg} [{bar:40}] {bytes}/{total_bytes} {bytes_per_sec} ({eta})",
        )
        .expect("valid template")
        .progress_chars("=> "),
    );
    bar.set_message(id.to_string());
    bar
}

fn read_toml<T: serde::de::DeserializeOwned + Default>(path: &Path) -> Result<T, FetchError> {
    match std::fs::read_to_string(path) {
        Ok(text) => toml::from_str(&text).map_err(|e| FetchError::State {
            path: path.to_path_buf(),
            reason: e.to_string(),
        }),
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(T::default()),
        Err(e) => Err(FetchError::Io {
            path: path.to_path_buf(),
            source: e,
        }),
    }
}

/// Writes `value` to `path` whole or not at all.
fn write_toml<T: Serialize>(path: &Path, value: &T) -> Result<(), FetchError> {
    let text = toml::to_string(value).map_err(|e| FetchError::State {
        path: path.to_path_buf(),
        reason: e.to_string(),
    })?;
    let folder = path.parent().expect("a file in a folder");
    std::fs::create_dir_all(folder).map_err(io_error(folder))?;
    let mut staged = tempfile::NamedTempFile::new_in(folder).map_err(io_error(folder))?;
    staged
        .write_all(text.as_bytes())
        .and_then(|()| staged.as_file().sync_all())
        .map_err(io_error(path))?;
    staged.persist(path).map_err(|e| FetchError::Io {
        path: path.to_path_buf(),
        source: e.error,
    })?;
    Ok(())
}

/// The HTTP client of a download: every status an answer to look at (not
/// an error), at most `connect` to connect and `stall` without a byte, our
/// user agent.
pub(crate) fn download_agent(connect: Duration, stall: Duration) -> ureq::Agent {
    ureq::Agent::config_builder()
        .http_status_as_error(false)
        .timeout_connect(Some(connect))
        .timeout_recv_response(Some(stall))
        .timeout_per_read(Some(stall))
        .user_agent(concat!("ess-map/", env!("CARGO_PKG_VERSION")))
        .build()
        .into()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn content_ranges_are_read() {
        assert_eq!(
            parse_content_range("bytes 100-199/200"),
            Some((100, Some(200)))
        );
        assert_eq!(parse_content_range("bytes 0-9/*"), Some((0, None)));
        assert_eq!(parse_content_range("items 0-9/10"), None);
    }
}
