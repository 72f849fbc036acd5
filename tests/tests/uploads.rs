//! Public uploads and connections cannot take the server down, and every
//! file it writes is safe to open: workbook bombs (generated here, never
//! committed) refused while being read, eight at once from eight clients
//! without the memory growing, silent sockets closed within the header
//! timeout, hyper's own errors in the JSON shape, formulas neutralised,
//! rows aligned on their header, no server path and no foreign `Host` in
//! an answer, web addresses and control characters checked.

use std::io::{Read, Write};
use std::net::{SocketAddr, TcpStream};
use std::path::Path;
use std::time::{Duration, Instant};

use ess_map_e2e::{Server, create_token, ess_map};
use serde_json::{Value, json};

fn zip_of(parts: &[(&str, &[u8])]) -> Vec<u8> {
    let mut out = zip::ZipWriter::new(std::io::Cursor::new(Vec::new()));
    for (name, bytes) in parts {
        out.start_file(
            *name,
            zip::write::SimpleFileOptions::default()
                .compression_method(zip::CompressionMethod::Deflated),
        )
        .unwrap();
        out.write_all(bytes).unwrap();
    }
    out.finish().unwrap().into_inner()
}

const WORKBOOK: &str = r#"<workbook xmlns="http://schemas.openxmlformats.org/spreadsheetml/2006/main" xmlns:r="http://schemas.openxmlformats.org/officeDocument/2006/relationships"><sheets><sheet name="F" sheetId="1" r:id="rId1"/></sheets></workbook>"#;
const RELS: &str = r#"<Relationships xmlns="http://schemas.openxmlformats.org/package/2006/relationships"><Relationship Id="rId1" Type="http://schemas.openxmlformats.org/officeDocument/2006/relationships/worksheet" Target="worksheets/sheet1.xml"/></Relationships>"#;
const HEADER_ROW: &str = r#"<row r="1"><c r="A1" t="inlineStr"><is><t>lon</t></is></c><c r="B1" t="inlineStr"><is><t>lat</t></is></c></row>"#;

/// An `.xlsx` whose sheet holds `rows` after the `lon`/`lat` header.
fn xlsx(rows: &str) -> Vec<u8> {
    let sheet = format!(
        r#"<worksheet xmlns="http://schemas.openxmlformats.org/spreadsheetml/2006/main"><sheetData>{HEADER_ROW}{rows}</sheetData></worksheet>"#
    );
    zip_of(&[
        ("xl/workbook.xml", WORKBOOK.as_bytes()),
        ("xl/_rels/workbook.xml.rels", RELS.as_bytes()),
        ("xl/worksheets/sheet1.xml", sheet.as_bytes()),
    ])
}

/// An `.xlsx` whose sheet is `bytes` of whitespace around its rows,
/// deflated as they are written (a few MB on disk).
fn whitespace_xlsx(bytes: u64) -> Vec<u8> {
    let mut out = zip::ZipWriter::new(std::io::Cursor::new(Vec::new()));
    let options = zip::write::SimpleFileOptions::default()
        .compression_method(zip::CompressionMethod::Deflated)
        .large_file(bytes > u64::from(u32::MAX));
    for (name, text) in [
        ("xl/workbook.xml", WORKBOOK),
        ("xl/_rels/workbook.xml.rels", RELS),
    ] {
        out.start_file(name, options).unwrap();
        out.write_all(text.as_bytes()).unwrap();
    }
    out.start_file("xl/worksheets/sheet1.xml", options).unwrap();
    out.write_all(b"<worksheet><sheetData>").unwrap();
    out.write_all(HEADER_ROW.as_bytes()).unwrap();
    let blank = vec![b' '; 1 << 20];
    let mut left = bytes;
    while left > 0 {
        let n = left.min(blank.len() as u64) as usize;
        out.write_all(&blank[..n]).unwrap();
        left -= n as u64;
    }
    out.write_all(b"</sheetData></worksheet>").unwrap();
    out.finish().unwrap().into_inner()
}

/// An `.ods` whose first table is `rows`.
fn ods(rows: &str) -> Vec<u8> {
    let content = format!(
        r#"<?xml version="1.0" encoding="UTF-8"?><office:document-content xmlns:office="urn:oasis:names:tc:opendocument:xmlns:office:1.0" xmlns:table="urn:oasis:names:tc:opendocument:xmlns:table:1.0" xmlns:text="urn:oasis:names:tc:opendocument:xmlns:text:1.0"><office:body><office:spreadsheet><table:table table:name="F"><table:table-row><table:table-cell office:value-type="string"><text:p>lon</text:p></table:table-cell><table:table-cell office:value-type="string"><text:p>lat</text:p></table:table-cell></table:table-row>{rows}</table:table></office:spreadsheet></office:body></office:document-content>"#
    );
    zip_of(&[
        (
            "mimetype",
            b"application/vnd.oasis.opendocument.spreadsheet".as_slice(),
        ),
        ("content.xml", content.as_bytes()),
    ])
}

/// The bombs of the issue, each with its name.
fn bombs() -> Vec<(&'static str, Vec<u8>)> {
    vec![
        (
            "xfd.xlsx",
            xlsx(r#"<row r="1048576"><c r="XFD1048576"><v>1</v></c></row>"#),
        ),
        (
            "far-row.xlsx",
            xlsx(r#"<row r="1048576"><c r="Z1048576"><v>1</v></c></row>"#),
        ),
        ("whitespace.xlsx", whitespace_xlsx(2 << 30)),
        // Under the unpacked limit, but whitespace with no markup in it.
        ("runs.xlsx", whitespace_xlsx(150 << 20)),
        (
            "repeated.ods",
            ods(
                r#"<table:table-row table:number-rows-repeated="19000"><table:table-cell table:number-columns-repeated="5000" office:value-type="float" office:value="1"><text:p>1</text:p></table:table-cell></table:table-row>"#,
            ),
        ),
        (
            "rows.ods",
            ods(
                r#"<table:table-row table:number-rows-repeated="1000000"><table:table-cell office:value-type="float" office:value="2.35"/><table:table-cell office:value-type="float" office:value="48.88"/></table:table-row>"#,
            ),
        ),
    ]
}

fn multipart(name: &str, bytes: &[u8]) -> (String, Vec<u8>) {
    let mut body = format!(
        "--B\r\nContent-Disposition: form-data; name=\"file\"; filename=\"{name}\"\r\nContent-Type: application/octet-stream\r\n\r\n"
    )
    .into_bytes();
    body.extend_from_slice(bytes);
    body.extend_from_slice(b"\r\n--B--\r\n");
    ("multipart/form-data; boundary=B".to_string(), body)
}

/// A raw HTTP/1.1 exchange from the loopback address `from` (127.0.0.x: a
/// distinct client): the status and the body.
fn exchange_from(from: [u8; 4], server: &str, head: &str, body: &[u8]) -> (u16, Vec<u8>) {
    let to: SocketAddr = server.trim_start_matches("http://").parse().unwrap();
    let socket = socket2::Socket::new(socket2::Domain::IPV4, socket2::Type::STREAM, None).unwrap();
    socket
        .bind(&SocketAddr::from((from, 0)).into())
        .expect("binding a loopback address");
    socket.connect(&to.into()).unwrap();
    let mut stream: TcpStream = socket.into();
    stream
        .set_read_timeout(Some(Duration::from_secs(120)))
        .unwrap();
    stream.write_all(head.as_bytes()).unwrap();
    // The server may answer (and close) before the whole body is sent.
    let _ = stream.write_all(body);
    let mut answer = Vec::new();
    let _ = stream.read_to_end(&mut answer);
    let text = String::from_utf8_lossy(&answer);
    let status = text
        .split(' ')
        .nth(1)
        .and_then(|s| s.parse().ok())
        .unwrap_or(0);
    let body = answer
        .windows(4)
        .position(|w| w == b"\r\n\r\n")
        .map_or(Vec::new(), |i| answer[i + 4..].to_vec());
    (status, body)
}

fn upload_from(from: [u8; 4], server: &str, name: &str, bytes: &[u8]) -> (u16, Value) {
    upload_to(from, server, "/api/locate/table", name, bytes)
}

fn upload_to(from: [u8; 4], server: &str, path: &str, name: &str, bytes: &[u8]) -> (u16, Value) {
    let (content_type, body) = multipart(name, bytes);
    let host = server.trim_start_matches("http://");
    let head = format!(
        "POST {path} HTTP/1.1\r\nHost: {host}\r\nContent-Type: {content_type}\r\nContent-Length: {}\r\nConnection: close\r\n\r\n",
        body.len()
    );
    let (status, answer) = exchange_from(from, server, &head, &body);
    (
        status,
        serde_json::from_slice(&answer).unwrap_or(Value::Null),
    )
}

fn rss_kb(pid: u32) -> u64 {
    std::fs::read_to_string(format!("/proc/{pid}/status"))
        .unwrap()
        .lines()
        .find_map(|l| l.strip_prefix("VmRSS:"))
        .and_then(|v| v.trim().trim_end_matches("kB").trim().parse().ok())
        .unwrap()
}

#[test]
fn workbook_bombs_are_refused_while_read_and_eight_at_once_leave_memory_and_health_alone() {
    let s = Server::start();
    let bombs = bombs();
    for (name, bytes) in &bombs {
        assert!(bytes.len() < 20 << 20, "{name}: {} bytes", bytes.len());
    }
    // One at a time: a clear French refusal, quickly.
    for (name, bytes) in &bombs {
        let started = Instant::now();
        let (status, body) = upload_from([127, 0, 0, 1], &s.base, name, bytes);
        let took = started.elapsed();
        // The figures BENCHMARKS.md quotes (`cargo test --test uploads -- --nocapture`).
        eprintln!("{name} ({} bytes): {status} in {took:.1?}", bytes.len());
        assert!(status == 413 || status == 422, "{name}: {status} {body}");
        let message = body["message"].as_str().unwrap_or_default();
        assert!(message.starts_with(name), "{name}: {body}");
        assert!(
            took < Duration::from_secs(5),
            "{name} answered after {took:?}"
        );
    }
    let (_, body) = upload_from([127, 0, 0, 1], &s.base, "xfd.xlsx", &bombs[0].1);
    assert!(
        body["message"].as_str().unwrap().contains("XFD1048576"),
        "{body}"
    );
    // Eight at once, from eight clients, while /health is asked again and
    // again: every bomb refused, every /health answered, and the server's
    // memory stays within 512 MB of what it was idle.
    let idle = rss_kb(s.pid());
    let done = std::sync::atomic::AtomicBool::new(false);
    let (peak, healths) = std::thread::scope(|scope| {
        let watcher = scope.spawn(|| {
            let mut peak = 0;
            let mut healths = Vec::new();
            while !done.load(std::sync::atomic::Ordering::Relaxed) {
                peak = peak.max(rss_kb(s.pid()));
                healths.push(s.get("/health").status);
                std::thread::sleep(Duration::from_millis(20));
            }
            (peak, healths)
        });
        let uploads: Vec<_> = (0..8u8)
            .map(|i| {
                let (name, bytes) = &bombs[usize::from(i) % bombs.len()];
                let base = &s.base;
                scope.spawn(move || (name, upload_from([127, 0, 0, 10 + i], base, name, bytes)))
            })
            .collect();
        for upload in uploads {
            let (name, (status, body)) = upload.join().unwrap();
            assert!(status == 413 || status == 422, "{name}: {status} {body}");
        }
        done.store(true, std::sync::atomic::Ordering::Relaxed);
        watcher.join().unwrap()
    });
    eprintln!(
        "eight at once: RSS {} MB idle, {} MB at the peak (+{} MB); /health answered {} of {}",
        idle / 1024,
        peak / 1024,
        peak.saturating_sub(idle) / 1024,
        healths.iter().filter(|&&h| h == 200).count(),
        healths.len()
    );
    assert!(!healths.is_empty());
    assert!(healths.iter().all(|&h| h == 200), "{healths:?}");
    assert!(
        peak.saturating_sub(idle) < 512 * 1024,
        "RSS {idle} kB idle, {peak} kB at the peak"
    );
    // A real table still goes through afterwards.
    let (status, _) = upload_from(
        [127, 0, 0, 1],
        &s.base,
        "ok.xlsx",
        &xlsx(r#"<row r="2"><c r="A2"><v>2.35313</v></c><c r="B2"><v>48.88699</v></c></row>"#),
    );
    assert_eq!(status, 200);
}

#[test]
fn one_client_gets_two_tables_at_once_and_is_told_to_come_back() {
    let s = Server::start();
    // Three slow uploads from one client (headers sent, body trickling):
    // the third is refused at once, 429 with Retry-After, in French terms
    // of the API's JSON shape.
    let host = s.base.trim_start_matches("http://").to_string();
    let open = |n: usize| {
        let mut stream = TcpStream::connect(&host).unwrap();
        write!(
            stream,
            "POST /api/locate/table HTTP/1.1\r\nHost: {host}\r\nContent-Type: multipart/form-data; boundary=B\r\nContent-Length: 100000\r\n\r\n--B\r\nContent-Disposition: form-data; name=\"file\"; filename=\"t{n}.csv\"\r\n\r\nlon,lat\r\n"
        )
        .unwrap();
        stream
    };
    let _first = open(1);
    let _second = open(2);
    std::thread::sleep(Duration::from_millis(300));
    let (content_type, body) = multipart("petit.csv", b"lon,lat\n2.35,48.88\n");
    let refused = s.send(
        "POST",
        "/api/locate/table",
        None,
        Some((&content_type, body.clone())),
    );
    assert_eq!(refused.status, 429, "{}", refused.json);
    assert_eq!(refused.json["error"], "too_many_requests");
    assert!(refused.headers["retry-after"].parse::<u64>().unwrap() >= 1);
    // Another client is served meanwhile.
    let host_of = s.base.clone();
    let (status, _) = upload_from(
        [127, 0, 0, 2],
        &host_of,
        "petit.csv",
        b"lon,lat\n2.35,48.88\n",
    );
    assert_eq!(status, 200);
}

#[test]
fn silent_sockets_are_closed_within_the_header_timeout_and_others_are_served() {
    let state = tempfile::tempdir().unwrap();
    let config = state.path().join("ess-map.toml");
    std::fs::write(&config, "header_timeout_s = 2\nmax_connections = 400\n").unwrap();
    let s = Server::start_with(
        state.path(),
        &["--geocoder", "none", "--config", config.to_str().unwrap()],
    );
    let to: SocketAddr = s.base.trim_start_matches("http://").parse().unwrap();
    let opened = Instant::now();
    let mut sockets = Vec::new();
    for i in 0..420 {
        let socket =
            socket2::Socket::new(socket2::Domain::IPV4, socket2::Type::STREAM, None).unwrap();
        socket
            .bind(&SocketAddr::from(([127, 0, 0, 2], 0)).into())
            .unwrap();
        socket.connect(&to.into()).unwrap();
        let mut stream: TcpStream = socket.into();
        // Nothing, one byte, half an HTTP/2 preface, half a request line.
        let _ = match i % 4 {
            0 => Ok(()),
            1 => stream.write_all(b"P"),
            2 => stream.write_all(b"PRI * HTTP/2.0\r\n"),
            _ => stream.write_all(b"GET /heal"),
        };
        sockets.push(stream);
    }
    // Meanwhile another client is served, every time.
    for _ in 0..5 {
        assert_eq!(s.get("/health").status, 200);
    }
    // Every silent socket is closed by the server by the timeout plus three
    // seconds (a read gives end of file, or a reset): alone, the last one
    // closes 0.1-0.3 s after the timeout; with the other tests of this file
    // loading both cores of a CI machine, one was seen still open at the
    // timeout plus one second. Without the timeout none would close.
    let deadline = opened + Duration::from_secs(5);
    for (i, stream) in sockets.iter_mut().enumerate() {
        let left = deadline
            .saturating_duration_since(Instant::now())
            .max(Duration::from_millis(1));
        stream.set_read_timeout(Some(left)).unwrap();
        let mut buf = [0u8; 512];
        let closed = loop {
            match stream.read(&mut buf) {
                Ok(0) => break true,
                // An answer (408) before closing is fine.
                Ok(_) => continue,
                Err(e)
                    if e.kind() == std::io::ErrorKind::WouldBlock
                        || e.kind() == std::io::ErrorKind::TimedOut =>
                {
                    break false;
                }
                Err(_) => break true,
            }
        };
        assert!(closed, "socket {i} still open after {:?}", opened.elapsed());
    }
    assert_eq!(s.get("/health").status, 200);
}

#[test]
fn requests_hyper_cannot_parse_answer_the_json_error_shape() {
    let s = Server::start();
    let host = s.base.trim_start_matches("http://").to_string();
    let raw = |request: Vec<u8>| {
        let mut stream = TcpStream::connect(&host).unwrap();
        stream
            .set_read_timeout(Some(Duration::from_secs(10)))
            .unwrap();
        stream.write_all(&request).unwrap();
        let mut answer = Vec::new();
        let _ = stream.read_to_end(&mut answer);
        String::from_utf8_lossy(&answer).into_owned()
    };
    let mut byte = b"GET /api/qpv?q=".to_vec();
    byte.push(0xFF);
    byte.extend_from_slice(format!(" HTTP/1.1\r\nHost: {host}\r\n\r\n").as_bytes());
    let long = format!(
        "GET /api/qpv?q={} HTTP/1.1\r\nHost: {host}\r\n\r\n",
        "a".repeat(70_000)
    );
    for (answer, status, error) in [
        (raw(byte), "400", "bad_request"),
        (raw(long.into_bytes()), "414", "uri_too_long"),
    ] {
        assert!(
            answer.starts_with(&format!("HTTP/1.1 {status}")),
            "{answer}"
        );
        assert!(answer.contains("application/json"), "{answer}");
        let body = answer.split("\r\n\r\n").nth(1).unwrap();
        let json: Value = serde_json::from_str(body).unwrap();
        assert_eq!(json["error"], error);
        assert!(json["message"].is_string());
    }
}

#[test]
fn links_are_never_written_for_a_foreign_host() {
    let s = Server::start();
    for path in [
        "/ogc",
        "/ogc/collections",
        "/ogc/collections/qpv",
        "/tiles/qpv.json",
        "/style.json",
    ] {
        let evil = s.get_with(path, &[("host", "evil.example")]);
        assert_eq!(evil.status, 400, "{path}: {}", evil.json);
        assert!(!String::from_utf8_lossy(&evil.bytes).contains("http://evil.example"));
        let own = s.get(path);
        assert_eq!(own.status, 200, "{path}");
        assert!(!String::from_utf8_lossy(&own.bytes).contains("evil.example"));
    }
    // localhost with the port is the same server.
    let port = s.base.rsplit(':').next().unwrap();
    let local = s.get_with("/tiles/qpv.json", &[("host", &format!("localhost:{port}"))]);
    assert_eq!(local.status, 200);
    assert!(
        local.json["tiles"][0]
            .as_str()
            .unwrap()
            .starts_with(&format!("http://localhost:{port}/"))
    );
}

/// `ess-map locate` of `csv` (written to a file in `dir`); the output.
fn locate(dir: &Path, csv: &str, style: &str) -> String {
    let input = dir.join("entree.csv");
    std::fs::write(&input, csv).unwrap();
    let out = ess_map()
        .arg("--data")
        .arg(ess_map_e2e::data_dir())
        .arg("locate")
        .arg(&input)
        .args(["--csv", style])
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8(out.stdout).unwrap()
}

#[test]
fn csv_for_spreadsheets_neutralises_formulas_and_rows_stay_aligned() {
    let dir = tempfile::tempdir().unwrap();
    let csv = "nom,lon,lat\n=HYPERLINK(\"http://x\"),2.35313,48.88699\n@SUM(A1),-1.68,48.11\na,2.35313,48.88699,extra\ncourte\n";
    let tableur = locate(dir.path(), csv, "tableur");
    let mut lines = tableur.lines();
    let header = lines.next().unwrap();
    assert!(header.starts_with('\u{feff}'), "{header}");
    assert_eq!(
        header.trim_start_matches('\u{feff}'),
        "nom;lon;lat;statut_qpv;code_qpv;nom_qpv;distance_m;score_geocodage;precision;remarque"
    );
    let rows: Vec<Vec<String>> = csv::ReaderBuilder::new()
        .delimiter(b';')
        .has_headers(false)
        .flexible(true)
        .from_reader(lines.collect::<Vec<_>>().join("\n").as_bytes())
        .records()
        .map(|r| r.unwrap().iter().map(str::to_string).collect())
        .collect();
    assert_eq!(rows[0][0], "'=HYPERLINK(\"http://x\")");
    assert_eq!(rows[0][3], "dans un QPV");
    assert_eq!(rows[1][0], "'@SUM(A1)");
    // A negative number is a number, not a formula.
    assert_eq!(rows[1][1], "-1.68");
    // The row longer than its header: the appended columns stay in place,
    // what it held beyond is quoted in `remarque`.
    assert_eq!(rows[2].len(), 10);
    assert_eq!(rows[2][3], "dans un QPV", "{:?}", rows[2]);
    assert!(rows[2][9].contains("« extra »"), "{:?}", rows[2]);
    // The short row is padded to its header.
    assert_eq!(rows[3].len(), 10);
    assert_eq!(rows[3][3], "non localisée");
    // For scripts: cells as they are, the input's separator, script names.
    let script = locate(dir.path(), csv, "script");
    assert!(script.starts_with("nom,lon,lat,qpv_status,"), "{script}");
    assert!(script.contains("\n\"=HYPERLINK(\"\"http://x\"\")\",2.35313,48.88699,inside,"));
}

#[test]
fn import_sources_and_reports_never_show_a_server_path() {
    let state = tempfile::tempdir().unwrap();
    let token = create_token(state.path(), "admin", "admin");
    let s = Server::start_with(state.path(), &["--geocoder", "none"]);
    let upload = |source: &str, file: &[u8]| {
        let mut body = format!(
            "--X\r\nContent-Disposition: form-data; name=\"source\"\r\n\r\n{source}\r\n--X\r\nContent-Disposition: form-data; name=\"file\"; filename=\"inventaire.csv\"\r\n\r\n"
        )
        .into_bytes();
        body.extend_from_slice(file);
        body.extend_from_slice(b"\r\n--X--\r\n");
        s.send(
            "POST",
            "/api/import",
            Some(&token),
            Some(("multipart/form-data; boundary=X", body)),
        )
    };
    let file = b"nom,code postal,lon,lat\n=HYPERLINK(\"http://x\"),75O18,2.35,48.88\n";
    let long = upload(&"a".repeat(250), file);
    assert_eq!(long.status, 400, "{}", long.json);
    assert_eq!(long.json["field"], "source");
    let text = long.json.to_string();
    assert!(
        !text.contains('/') && !text.contains("lock") && !text.contains("sqlite"),
        "{text}"
    );
    let done = upload("reseau", file);
    assert_eq!(done.status, 200, "{}", done.json);
    let report = done.json["report"].as_str().unwrap();
    assert_eq!(
        report,
        format!("/api/import/reports/{}", done.json["report_id"])
    );
    assert!(
        !done
            .json
            .to_string()
            .contains(&*state.path().to_string_lossy())
    );
    // The report quotes the row's key (its name): neutralised for a
    // spreadsheet.
    let csv = s.send("GET", report, Some(&token), None);
    assert_eq!(csv.status, 200);
    let text = String::from_utf8(csv.bytes).unwrap();
    assert!(
        text.starts_with("\u{feff}position;cle;champ;raison;action"),
        "{text}"
    );
    assert!(text.contains("'=HYPERLINK("), "{text}");
}

#[test]
fn web_addresses_are_parsed_and_control_characters_refused() {
    let state = tempfile::tempdir().unwrap();
    let token = create_token(state.path(), "mairie", "editor");
    let s = Server::start_with(state.path(), &["--geocoder", "none"]);
    let create = |body: Value| {
        s.send(
            "POST",
            "/api/initiatives",
            Some(&token),
            Some(("application/json", body.to_string().into_bytes())),
        )
    };
    for website in [
        "https://x.example/\"><script>alert(4)</script>",
        "http://a b",
        "javascript:alert(1)",
    ] {
        let r =
            create(json!({ "name": "Recyclerie", "lon": 2.35, "lat": 48.88, "website": website }));
        assert_eq!(r.status, 400, "{website}: {}", r.json);
        assert_eq!(r.json["field"], "website", "{}", r.json);
    }
    let r = create(json!({ "name": "Recyclerie\u{0}", "lon": 2.35, "lat": 48.88 }));
    assert_eq!(r.status, 400, "{}", r.json);
    assert_eq!(r.json["field"], "name");
    let ok = create(
        json!({ "name": "Recyclerie", "lon": 2.35, "lat": 48.88, "website": "https://recyclerie.example/a?b=1" }),
    );
    assert_eq!(ok.status, 201, "{}", ok.json);
}

/// `reponse=json`: the located workbook within JSON, with its located rows
/// as points for the map (the web map draws them); a bad value is refused.
#[test]
fn a_located_table_comes_with_its_points_when_asked() {
    let s = Server::start();
    let book = xlsx(
        r#"<row r="2"><c r="A2"><v>2.35313</v></c><c r="B2"><v>48.88699</v></c></row><row r="3"><c r="A3"><v>-1.68</v></c><c r="B3"><v>48.11</v></c></row><row r="4"><c r="A4"><v>-30</v></c><c r="B4"><v>40</v></c></row>"#,
    );
    let (status, answer) = upload_to(
        [127, 0, 0, 1],
        &s.base,
        "/api/locate/table?reponse=json",
        "lieux.xlsx",
        &book,
    );
    assert_eq!(status, 200, "{answer}");
    assert_eq!(answer["file_name"], "lieux-qpv.xlsx");
    // A workbook is a zip: `PK\x03` in base64.
    assert!(
        answer["file"].as_str().unwrap().starts_with("UEsD"),
        "{answer}"
    );
    assert_eq!(
        (
            answer["rows"].as_u64(),
            answer["inside"].as_u64(),
            answer["unknown"].as_u64(),
            answer["outside"].as_u64()
        ),
        (Some(3), Some(1), Some(1), Some(1))
    );
    let points: Vec<(u64, &str, Option<&str>)> = answer["points"]["features"]
        .as_array()
        .unwrap()
        .iter()
        .map(|f| {
            let p = &f["properties"];
            (
                p["line"].as_u64().unwrap(),
                p["status"].as_str().unwrap(),
                p["qpv_code"].as_str(),
            )
        })
        .collect();
    assert_eq!(points[0], (2, "inside", Some("QN07511M")));
    // Not verifiable: no QPV named, as in the file.
    assert_eq!(points[1], (3, "unknown", None));
    assert_eq!(points[2], (4, "outside", None));
    assert_eq!(
        answer["points"]["features"][0]["geometry"]["coordinates"][0],
        2.35313
    );
    assert_eq!(answer["points_left_out"], 0);
    let (status, refused) = upload_to(
        [127, 0, 0, 1],
        &s.base,
        "/api/locate/table?reponse=html",
        "lieux.xlsx",
        &book,
    );
    assert_eq!(status, 400, "{refused}");
    assert_eq!(refused["parameter"], "reponse");
}
