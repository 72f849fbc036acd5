//! `ess-map data fetch` against a local mirror: a real HTTP server on
//! loopback serving fixture archives in the ANCT schema, well or badly.

use std::collections::HashMap;
use std::io::{BufRead, BufReader, Read, Write};
use std::net::{TcpListener, TcpStream};
use std::path::{Path, PathBuf};
use std::process::Output;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use ess_map_e2e::{Server, binary, root};
use sha2::{Digest, Sha256};

/// How the mirror answers, chosen by the first segment of the path.
#[derive(Clone, Copy, PartialEq)]
enum Mode {
    /// The file, with Range/If-Range.
    Ok,
    /// 404.
    Missing,
    /// Half the file then a closed connection, every time.
    Truncated,
    /// Half the file then a closed connection the first time; whole or
    /// ranged answers after.
    Flaky,
    /// Headers and a few bytes, then nothing for a long time.
    Slow,
}

/// Each request's path and `Range` header.
type RequestLog = Mutex<Vec<(String, Option<String>)>>;

/// A mirror serving `files` (name → bytes) under `/<mode>/<name>`, logging
/// each request's path and `Range`.
struct Mirror {
    base: String,
    log: Arc<RequestLog>,
}

impl Mirror {
    fn start(files: HashMap<String, Vec<u8>>) -> Mirror {
        let listener = TcpListener::bind("127.0.0.1:0").unwrap();
        let base = format!("http://{}", listener.local_addr().unwrap());
        let log = Arc::new(Mutex::new(Vec::new()));
        let files = Arc::new(files);
        let served_flaky = Arc::new(Mutex::new(false));
        let shared_log = log.clone();
        std::thread::spawn(move || {
            for stream in listener.incoming().flatten() {
                let (files, log, flaky) = (files.clone(), shared_log.clone(), served_flaky.clone());
                std::thread::spawn(move || serve(stream, &files, &log, &flaky));
            }
        });
        Mirror { base, log }
    }

    fn url(&self, mode: &str) -> String {
        format!("{}/{mode}", self.base)
    }

    fn requests(&self) -> Vec<(String, Option<String>)> {
        self.log.lock().unwrap().clone()
    }
}

const ETAG: &str = "\"fixture-1\"";

fn serve(
    mut stream: TcpStream,
    files: &HashMap<String, Vec<u8>>,
    log: &RequestLog,
    served_flaky: &Mutex<bool>,
) {
    let mut reader = BufReader::new(stream.try_clone().unwrap());
    let mut request_line = String::new();
    if reader.read_line(&mut request_line).is_err() {
        return;
    }
    let mut headers = HashMap::new();
    loop {
        let mut line = String::new();
        if reader.read_line(&mut line).unwrap_or(0) == 0 || line.trim().is_empty() {
            break;
        }
        if let Some((k, v)) = line.split_once(':') {
            headers.insert(k.trim().to_ascii_lowercase(), v.trim().to_string());
        }
    }
    let path = request_line
        .split_whitespace()
        .nth(1)
        .unwrap_or("/")
        .to_string();
    log.lock()
        .unwrap()
        .push((path.clone(), headers.get("range").cloned()));
    let mut parts = path.trim_start_matches('/').splitn(2, '/');
    let mode = match parts.next() {
        Some("ok") => Mode::Ok,
        Some("truncated") => Mode::Truncated,
        Some("flaky") => Mode::Flaky,
        Some("slow") => Mode::Slow,
        _ => Mode::Missing,
    };
    let body = match (mode, parts.next().and_then(|name| files.get(name))) {
        (Mode::Missing, _) | (_, None) => {
            let _ = stream.write_all(
                b"HTTP/1.1 404 Not Found\r\nContent-Length: 9\r\nConnection: close\r\n\r\nnot found",
            );
            return;
        }
        (_, Some(body)) => body,
    };
    let range_start = headers
        .get("range")
        .and_then(|r| r.strip_prefix("bytes="))
        .and_then(|r| r.strip_suffix('-'))
        .and_then(|s| s.parse::<usize>().ok())
        .filter(|_| headers.get("if-range").map(String::as_str) == Some(ETAG));
    let cut_short = match mode {
        Mode::Truncated => true,
        Mode::Flaky => !std::mem::replace(&mut *served_flaky.lock().unwrap(), true),
        _ => false,
    };
    let (status, start) = match range_start {
        Some(start) if start < body.len() && mode != Mode::Truncated => {
            ("206 Partial Content", start)
        }
        _ => ("200 OK", 0),
    };
    let mut head = format!(
        "HTTP/1.1 {status}\r\nContent-Length: {}\r\nETag: {ETAG}\r\nContent-Type: application/zip\r\nConnection: close\r\n",
        body.len() - start
    );
    if start > 0 {
        head.push_str(&format!(
            "Content-Range: bytes {start}-{}/{}\r\n",
            body.len() - 1,
            body.len()
        ));
    }
    head.push_str("\r\n");
    let _ = stream.write_all(head.as_bytes());
    match mode {
        Mode::Slow => {
            let _ = stream.write_all(&body[..1000]);
            let _ = stream.flush();
            std::thread::sleep(Duration::from_secs(20));
        }
        _ if cut_short => {
            let _ = stream.write_all(&body[start..body.len() / 2]);
            let _ = stream.flush();
            let _ = stream.shutdown(std::net::Shutdown::Both);
        }
        _ => {
            let _ = stream.write_all(&body[start..]);
        }
    }
}

/// The national outlines as the ANCT publishes them (a zip holding
/// `GEOJSON/QP2024_France_Hexagonale_Outre_Mer_WGS84.geojson`, its
/// properties): the shipped Île-de-France outlines and one QPV of Ain,
/// Grande Reyssouze Terre Des Fleurs in Bourg-en-Bresse.
fn national_outlines() -> Vec<u8> {
    let compressed = std::fs::read(root().join("data/qpv/qpv-2024-idf.geojson.gz")).unwrap();
    let mut text = Vec::new();
    flate2::read::GzDecoder::new(&compressed[..])
        .read_to_end(&mut text)
        .unwrap();
    let idf: serde_json::Value = serde_json::from_slice(&text).unwrap();
    let mut features = Vec::new();
    for (fid, feature) in idf["features"].as_array().unwrap().iter().enumerate() {
        let p = &feature["properties"];
        features.push(serde_json::json!({
            "type": "Feature",
            "properties": {
                "fid": fid + 1, "code_qp": p["code_qp"], "lib_qp": p["lib_qp"],
                "insee_reg": "11", "lib_reg": "Île-de-France",
                "insee_dep": p["insee_dep"], "lib_dep": "", "insee_com": p["insee_com"],
                "lib_com": p["lib_com"], "siren_epci": "",
            },
            "geometry": feature["geometry"],
        }));
    }
    features.push(serde_json::json!({
        "type": "Feature",
        "properties": {
            "fid": 9999, "code_qp": "QN00101M", "lib_qp": "Grande Reyssouze Terre Des Fleurs",
            "insee_reg": "84", "lib_reg": "Auvergne-Rhône-Alpes", "insee_dep": "01", "lib_dep": "Ain",
            "insee_com": "01053", "lib_com": "Bourg-en-Bresse", "siren_epci": "200071751",
        },
        "geometry": {"type": "MultiPolygon", "coordinates": [[[
            [5.2350, 46.1950], [5.2450, 46.1950], [5.2450, 46.2020], [5.2350, 46.2020], [5.2350, 46.1950]
        ]]]},
    }));
    let geojson = serde_json::to_vec(&serde_json::json!({
        "type": "FeatureCollection", "name": "QP2024_France_Hexagonale_Outre_Mer_WGS84",
        "features": features,
    }))
    .unwrap();
    zip_of(&[
        ("GEOJSON/", None),
        (
            "GEOJSON/QP2024_France_Hexagonale_Outre_Mer_WGS84.geojson",
            Some(&geojson[..]),
        ),
        (
            "LISEZMOI.txt",
            Some(b"Contours des QPV 2024 (fixture)".as_slice()),
        ),
    ])
}

fn zip_of(entries: &[(&str, Option<&[u8]>)]) -> Vec<u8> {
    let mut out = std::io::Cursor::new(Vec::new());
    let mut zip = zip::ZipWriter::new(&mut out);
    let options = zip::write::SimpleFileOptions::default()
        .compression_method(zip::CompressionMethod::Deflated);
    for (name, content) in entries {
        match content {
            None => zip.add_directory(*name, options).unwrap(),
            Some(bytes) => {
                zip.start_file(*name, options).unwrap();
                zip.write_all(bytes).unwrap();
            }
        }
    }
    zip.finish().unwrap();
    out.into_inner()
}

fn sha256_hex(bytes: &[u8]) -> String {
    Sha256::digest(bytes)
        .iter()
        .map(|b| format!("{b:02x}"))
        .collect()
}

/// The shipped manifest with `qpv-2024-france` pinned to `size`/`sha256`.
fn manifest_pinning(dir: &Path, size: usize, sha256: &str) -> PathBuf {
    let text = std::fs::read_to_string(root().join("data/manifest.toml")).unwrap();
    let marker = "member = \"GEOJSON/QP2024_France_Hexagonale_Outre_Mer_WGS84.geojson\"";
    assert!(text.contains(marker));
    let pinned = text.replace(
        marker,
        &format!("{marker}\nsize = {size}\nsha256 = \"{sha256}\""),
    );
    let path = dir.join(format!("manifest-{}.toml", &sha256[..8]));
    std::fs::write(&path, pinned).unwrap();
    path
}

struct Setup {
    _dir: tempfile::TempDir,
    state: PathBuf,
    manifest: PathBuf,
    archive: Vec<u8>,
}

impl Setup {
    fn new() -> Setup {
        let dir = tempfile::tempdir().unwrap();
        let archive = national_outlines();
        let manifest = manifest_pinning(dir.path(), archive.len(), &sha256_hex(&archive));
        Setup {
            state: dir.path().join("state"),
            manifest,
            archive,
            _dir: dir,
        }
    }

    fn fetch(&self, manifest: &Path, args: &[&str]) -> Output {
        std::process::Command::new(binary())
            .args(["data", "fetch", "--manifest"])
            .arg(manifest)
            .arg("--state")
            .arg(&self.state)
            .args(args)
            .output()
            .unwrap()
    }

    fn outlines(&self) -> PathBuf {
        self.state
            .join("downloads/national/QP2024_France_Hexagonale_Outre_Mer_WGS84.geojson")
    }

    fn part(&self) -> PathBuf {
        self.state.join("downloads/.partial/qpv-2024-france.part")
    }
}

fn stderr(output: &Output) -> String {
    String::from_utf8_lossy(&output.stderr).into_owned()
}

fn mirror_of(archive: &[u8]) -> Mirror {
    Mirror::start(HashMap::from([(
        "qpv-2024-france.zip".to_string(),
        archive.to_vec(),
    )]))
}

#[test]
fn a_fetch_checks_unpacks_and_serve_then_loads_every_outline() {
    let setup = Setup::new();
    let mirror = mirror_of(&setup.archive);
    let out = setup.fetch(
        &setup.manifest,
        &["qpv-2024-france", "--mirror", &mirror.url("ok")],
    );
    assert!(out.status.success(), "{}", stderr(&out));
    assert!(stderr(&out).contains("in place:"), "{}", stderr(&out));
    let outlines: serde_json::Value =
        serde_json::from_slice(&std::fs::read(setup.outlines()).unwrap()).unwrap();
    assert_eq!(outlines["features"].as_array().unwrap().len(), 299);
    assert!(!setup.part().exists(), "the part is removed once in place");

    // Again: the file in place matches its pin, nothing is downloaded.
    let before = mirror.requests().len();
    let again = setup.fetch(
        &setup.manifest,
        &["qpv-2024-france", "--mirror", &mirror.url("ok")],
    );
    assert!(again.status.success(), "{}", stderr(&again));
    assert!(stderr(&again).contains("up to date"), "{}", stderr(&again));
    assert_eq!(mirror.requests().len(), before);

    let status = std::process::Command::new(binary())
        .args(["data", "status", "--manifest"])
        .arg(&setup.manifest)
        .arg("--state")
        .arg(&setup.state)
        .output()
        .unwrap();
    let status = String::from_utf8_lossy(&status.stdout);
    assert!(
        status.contains("qpv-2024-france: in place, matches its pin"),
        "{status}"
    );

    // `serve` finds it in the downloads directory: the national outlines
    // stand in for the Île-de-France ones, and Bourg-en-Bresse has its own.
    let server = Server::start_with(
        &setup.state,
        &[
            "--geocoder",
            "none",
            "--manifest",
            setup.manifest.to_str().unwrap(),
        ],
    );
    let health = server.get("/health").json;
    assert_eq!(health["qpv_with_outline"], 298 + 1 + 105, "{health}");
    let datasets = server.get("/api/datasets").json;
    let by_id = |id: &str| {
        datasets["datasets"]
            .as_array()
            .unwrap()
            .iter()
            .find(|d| d["id"] == id)
            .cloned()
            .unwrap_or_else(|| panic!("{id} in {datasets}"))
    };
    assert_eq!(by_id("qpv-2024-france")["report"]["loaded"], 299);
    assert_eq!(by_id("qpv-2024-idf")["report"]["loaded"], 0);
    assert!(
        by_id("qpv-2024-idf")["report"]["notes"]
            .to_string()
            .contains("superseded by `qpv-2024-france`"),
        "{}",
        by_id("qpv-2024-idf")
    );
    let bourg = server.get("/api/qpv/QN00101M").json;
    assert_eq!(bourg["geometry"]["type"], "MultiPolygon", "{bourg}");
}

#[test]
fn a_missing_file_is_a_clear_error_and_changes_nothing() {
    let setup = Setup::new();
    let mirror = mirror_of(&setup.archive);
    let out = setup.fetch(
        &setup.manifest,
        &["qpv-2024-france", "--mirror", &mirror.url("gone")],
    );
    assert!(!out.status.success());
    let err = stderr(&out);
    assert!(err.contains("not found (HTTP 404)"), "{err}");
    assert!(err.contains("/gone/qpv-2024-france.zip"), "{err}");
    assert!(!setup.outlines().exists());
}

#[test]
fn a_truncated_transfer_keeps_its_part_and_the_next_run_resumes_it() {
    let setup = Setup::new();
    let mirror = mirror_of(&setup.archive);
    let cut = setup.fetch(
        &setup.manifest,
        &["qpv-2024-france", "--mirror", &mirror.url("truncated")],
    );
    assert!(!cut.status.success());
    let err = stderr(&cut);
    let half = setup.archive.len() / 2;
    assert!(
        err.contains(&format!(
            "ended after {half} of {} bytes",
            setup.archive.len()
        )),
        "{err}"
    );
    assert!(!setup.outlines().exists(), "nothing is put in place");

    // Interrupted then resumed: the second request asks for the rest only.
    let first = setup.fetch(
        &setup.manifest,
        &["qpv-2024-france", "--mirror", &mirror.url("flaky")],
    );
    assert!(!first.status.success(), "{}", stderr(&first));
    assert_eq!(std::fs::metadata(setup.part()).unwrap().len(), half as u64);
    let second = setup.fetch(
        &setup.manifest,
        &["qpv-2024-france", "--mirror", &mirror.url("flaky")],
    );
    assert!(second.status.success(), "{}", stderr(&second));
    assert!(
        stderr(&second).contains(&format!("resumed from byte {half}")),
        "{}",
        stderr(&second)
    );
    let last = mirror.requests().last().cloned().unwrap();
    assert_eq!(last.1.as_deref(), Some(format!("bytes={half}-").as_str()));
    assert!(setup.outlines().exists());
}

#[test]
fn a_wrong_checksum_keeps_the_previous_file_until_accepted() {
    let setup = Setup::new();
    let mirror = mirror_of(&setup.archive);
    let ok = setup.fetch(
        &setup.manifest,
        &["qpv-2024-france", "--mirror", &mirror.url("ok")],
    );
    assert!(ok.status.success(), "{}", stderr(&ok));
    let previous = std::fs::read(setup.outlines()).unwrap();

    // The producer "republished": same size, other bytes than the pin says.
    let wrong = "0".repeat(64);
    let other_pin = manifest_pinning(setup._dir.path(), setup.archive.len(), &wrong);
    let refused = setup.fetch(
        &other_pin,
        &["qpv-2024-france", "--mirror", &mirror.url("ok")],
    );
    assert!(!refused.status.success());
    let err = stderr(&refused);
    assert!(err.contains("does not match its pin"), "{err}");
    assert!(err.contains(&sha256_hex(&setup.archive)), "{err}");
    assert!(err.contains("--accept-new"), "{err}");
    assert_eq!(std::fs::read(setup.outlines()).unwrap(), previous);
    assert!(
        !setup.part().exists(),
        "a download that failed its check is not kept"
    );

    let accepted = setup.fetch(
        &other_pin,
        &[
            "qpv-2024-france",
            "--mirror",
            &mirror.url("ok"),
            "--accept-new",
        ],
    );
    assert!(accepted.status.success(), "{}", stderr(&accepted));
    let err = stderr(&accepted);
    assert!(err.contains("NEW VERSION pinned"), "{err}");
    assert!(
        err.contains(&format!(
            "was {} bytes, SHA-256 {wrong}",
            setup.archive.len()
        )),
        "{err}"
    );
    let pins = std::fs::read_to_string(setup.state.join("downloads/pins.toml")).unwrap();
    assert!(pins.contains(&sha256_hex(&setup.archive)), "{pins}");
}

#[test]
fn a_stalled_server_is_given_up_on_after_the_stall_timeout() {
    let setup = Setup::new();
    let mirror = mirror_of(&setup.archive);
    let started = Instant::now();
    let out = setup.fetch(
        &setup.manifest,
        &[
            "qpv-2024-france",
            "--mirror",
            &mirror.url("slow"),
            "--stall-timeout-s",
            "1",
        ],
    );
    assert!(!out.status.success());
    assert!(
        stderr(&out).contains("no data for 1 s after 1000 bytes"),
        "{}",
        stderr(&out)
    );
    assert!(
        started.elapsed() < Duration::from_secs(10),
        "{:?}",
        started.elapsed()
    );
    assert!(!setup.outlines().exists());
}

#[test]
fn an_archive_with_a_path_leading_outside_is_refused() {
    let setup = Setup::new();
    let evil = zip_of(&[
        (
            "GEOJSON/QP2024_France_Hexagonale_Outre_Mer_WGS84.geojson",
            Some(b"{\"type\":\"FeatureCollection\",\"features\":[]}".as_slice()),
        ),
        ("../../x", Some(b"escaped".as_slice())),
    ]);
    let manifest = manifest_pinning(setup._dir.path(), evil.len(), &sha256_hex(&evil));
    let mirror = mirror_of(&evil);
    let out = setup.fetch(
        &manifest,
        &["qpv-2024-france", "--mirror", &mirror.url("ok")],
    );
    assert!(!out.status.success());
    let err = stderr(&out);
    assert!(
        err.contains("holds `../../x`, a path leading outside its folder: refused"),
        "{err}"
    );
    assert!(!setup.outlines().exists());
    assert!(!setup.state.join("x").exists() && !setup.state.join("downloads/x").exists());
    let mut leftovers = Vec::new();
    for entry in walk(&setup.state) {
        let mut text = Vec::new();
        std::fs::File::open(&entry)
            .unwrap()
            .read_to_end(&mut text)
            .unwrap();
        if text == b"escaped" {
            leftovers.push(entry);
        }
    }
    assert!(leftovers.is_empty(), "{leftovers:?}");
}

/// A zip whose entries are written raw: a name the zip writer would refuse
/// (absolute), or a member that is a symbolic link.
fn zip_with_link(link: &str, target: &str) -> Vec<u8> {
    let mut out = std::io::Cursor::new(Vec::new());
    let mut zip = zip::ZipWriter::new(&mut out);
    let options = zip::write::SimpleFileOptions::default()
        .compression_method(zip::CompressionMethod::Deflated);
    zip.add_symlink(link, target, options).unwrap();
    zip.finish().unwrap();
    out.into_inner()
}

/// Fetches `archive` as the national outlines (pinned) from a mirror; its
/// stderr, after checking that it failed and installed nothing, and that
/// no part of it was left behind.
fn refused(setup: &Setup, archive: &[u8]) -> String {
    let manifest = manifest_pinning(setup._dir.path(), archive.len(), &sha256_hex(archive));
    let mirror = mirror_of(archive);
    let out = setup.fetch(
        &manifest,
        &["qpv-2024-france", "--mirror", &mirror.url("ok")],
    );
    assert!(!out.status.success());
    assert!(!setup.outlines().exists());
    assert!(!setup.part().exists(), "the refused archive's part stayed");
    let partial = setup.state.join("downloads/.partial");
    let left: Vec<PathBuf> = walk(&partial);
    assert!(left.is_empty(), "{left:?}");
    stderr(&out)
}

#[test]
fn absolute_names_and_symbolic_links_are_refused_and_leave_nothing_behind() {
    let setup = Setup::new();
    let member = "GEOJSON/QP2024_France_Hexagonale_Outre_Mer_WGS84.geojson";
    let geojson = b"{\"type\":\"FeatureCollection\",\"features\":[]}".as_slice();
    // An absolute name beside the wanted member: the archive is refused.
    let absolute = zip_of(&[
        (member, Some(geojson)),
        ("/tmp/ess-map-x", Some(b"x".as_slice())),
    ]);
    assert!(absolute.windows(14).any(|w| w == b"/tmp/ess-map-x"));
    let err = refused(&setup, &absolute);
    assert!(
        err.contains("a path leading outside its folder: refused"),
        "{err}"
    );
    // The wanted member is a symbolic link to a file of the machine.
    let link = zip_with_link(member, "/etc/passwd");
    let err = refused(&setup, &link);
    assert!(err.contains("symbolic link"), "{err}");
}

#[test]
fn a_mirror_folder_with_a_pipe_or_a_directory_in_place_of_the_file_is_named() {
    let setup = Setup::new();
    let folder = setup._dir.path().join("mirror");
    std::fs::create_dir_all(folder.join("qpv-2024-france.zip")).unwrap();
    let out = setup.fetch(
        &setup.manifest,
        &["qpv-2024-france", "--mirror", folder.to_str().unwrap()],
    );
    assert!(!out.status.success());
    let err = stderr(&out);
    assert!(
        err.contains("mirror/qpv-2024-france.zip: a directory in the mirror"),
        "{err}"
    );
    assert!(!err.contains(".part"), "{err}");
    // A named pipe nobody writes to: refused at once, not waited on.
    std::fs::remove_dir(folder.join("qpv-2024-france.zip")).unwrap();
    let fifo = folder.join("qpv-2024-france.zip");
    assert!(
        std::process::Command::new("mkfifo")
            .arg(&fifo)
            .status()
            .unwrap()
            .success()
    );
    let mut child = std::process::Command::new(binary())
        .args(["data", "fetch", "--manifest"])
        .arg(&setup.manifest)
        .arg("--state")
        .arg(&setup.state)
        .args(["qpv-2024-france", "--mirror", folder.to_str().unwrap()])
        .stderr(std::process::Stdio::piped())
        .spawn()
        .unwrap();
    let started = Instant::now();
    let status = loop {
        if let Some(status) = child.try_wait().unwrap() {
            break Some(status);
        }
        if started.elapsed() > Duration::from_secs(30) {
            let _ = child.kill();
            break None;
        }
        std::thread::sleep(Duration::from_millis(50));
    };
    let status = status.expect("the fetch blocked on the named pipe");
    assert!(!status.success());
    let mut err = String::new();
    child
        .stderr
        .take()
        .unwrap()
        .read_to_string(&mut err)
        .unwrap();
    assert!(err.contains("a named pipe (FIFO) in the mirror"), "{err}");
}

#[test]
fn a_local_folder_mirror_serves_too() {
    let setup = Setup::new();
    let folder = setup._dir.path().join("mirror");
    std::fs::create_dir_all(&folder).unwrap();
    std::fs::write(folder.join("qpv-2024-france.zip"), &setup.archive).unwrap();
    let out = setup.fetch(
        &setup.manifest,
        &["qpv-2024-france", "--mirror", folder.to_str().unwrap()],
    );
    assert!(out.status.success(), "{}", stderr(&out));
    assert!(setup.outlines().exists());
}

fn walk(dir: &Path) -> Vec<PathBuf> {
    let mut files = Vec::new();
    for entry in std::fs::read_dir(dir).into_iter().flatten().flatten() {
        let path = entry.path();
        if path.is_dir() {
            files.extend(walk(&path));
        } else {
            files.push(path);
        }
    }
    files
}

/// INSEE's population of the 2024 QPV as its base is published (a zip of a
/// `;` CSV: `CODGEO`, `LIBGEO`, `POP_MUN`…), fetched from a mirror folder,
/// then used wherever a population is: the QPV, the gap analysis's per
/// 10,000, the summaries.
#[test]
fn the_2024_population_is_fetched_read_by_its_columns_and_used() {
    let setup = Setup::new();
    let csv = "CODGEO;LIBGEO;POP_MUN;POP_COM_QP;POP_COM;LIB_COM\n\
               QN07511M;Goutte D'Or;21930;199200;2133111;Paris\n\
               QN09301I;Secteur Gare - Aviatic;8412;16000;16000;Le Bourget\n\
               QN09999X;Un QPV d'ailleurs;1000;1000;1000;Ailleurs\n\
               QN07510M;La Chapelle - Evangile;;;;Paris\n";
    let archive = zip_of(&[
        (
            "LISEZMOI.txt",
            Some(b"Base Population QPV 2024 (fixture)".as_slice()),
        ),
        ("demo_qp2024.csv", Some(csv.as_bytes())),
    ]);
    let folder = setup._dir.path().join("mirror");
    std::fs::create_dir_all(&folder).unwrap();
    std::fs::write(folder.join("qpv-2024-population.zip"), &archive).unwrap();
    let manifest = root().join("data/manifest.toml");
    let out = setup.fetch(
        &manifest,
        &[
            "qpv-2024-population",
            "--mirror",
            folder.to_str().unwrap(),
            "--accept-new",
        ],
    );
    assert!(out.status.success(), "{}", stderr(&out));
    let server = Server::start_with(&setup.state, &["--geocoder", "none"]);
    let goutte = server.get("/api/qpv/QN07511M").json;
    assert_eq!(goutte["properties"]["population"], 21930, "{goutte}");
    assert_eq!(goutte["properties"]["population_as_of"], "2020");
    // A published row without a number is said, not made 0.
    let chapelle = server.get("/api/qpv/QN07510M").json;
    assert!(chapelle["properties"]["population"].is_null(), "{chapelle}");
    let datasets = server.get("/api/datasets").json;
    let population = datasets["datasets"]
        .as_array()
        .unwrap()
        .iter()
        .find(|d| d["id"] == "qpv-2024-population")
        .unwrap()
        .clone();
    assert_eq!(population["report"]["loaded"], 2, "{population}");
    assert!(
        population["report"]["issues"]
            .to_string()
            .contains("not published"),
        "{population}"
    );
    // Per 10,000 inhabitants now exists for a 2024 QPV of Île-de-France.
    let gaps = server.get("/api/gaps?departement=75").json;
    let row = gaps["gaps"]
        .as_array()
        .unwrap()
        .iter()
        .find(|g| g["code"] == "QN07511M")
        .unwrap();
    assert_eq!(row["population"], 21930);
    assert!(row["per_10k"].is_number(), "{row}");
}
