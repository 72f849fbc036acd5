//! What an adversarial or merely concurrent client finds: no lost or
//! resurrected edit, ids that never collide, mixed encodings named, heavy
//! requests bounded, slow and idle connections closed, one JSON error shape.

use std::io::{Read, Write};
use std::net::TcpStream;
use std::time::{Duration, Instant};

use ess_map_e2e::{PostgresServer, Server, create_token, create_token_on, import};
use serde_json::{Value, json};

fn json_body(v: Value) -> Option<(&'static str, Vec<u8>)> {
    Some(("application/json", v.to_string().into_bytes()))
}

/// A server on the embedded store, or on a shared PostgreSQL one (the
/// concurrency tests run on both); its state directory and an editor's
/// token.
fn serve(pg: Option<&PostgresServer>) -> (tempfile::TempDir, String, Server) {
    let state = tempfile::tempdir().unwrap();
    let url = pg.map(|pg| pg.url.clone());
    let token = create_token_on(state.path(), url.as_deref(), "mairie", "editor");
    let mut args = vec!["--geocoder", "none"];
    if let Some(url) = &url {
        args.extend(["--store", url.as_str()]);
    }
    let s = Server::start_with(state.path(), &args);
    (state, token, s)
}

fn history(s: &Server, token: &str, id: &str) -> Vec<Value> {
    let r = s.send(
        "GET",
        &format!("/api/initiatives/{id}/history"),
        Some(token),
        None,
    );
    assert_eq!(r.status, 200, "{}", r.json);
    r.json["history"].as_array().unwrap().clone()
}

#[test]
fn concurrent_editors_of_different_fields_lose_nothing_and_history_is_a_chain() {
    concurrent_editors(None);
}

#[test]
fn concurrent_editors_lose_nothing_on_postgres_either() {
    concurrent_editors(Some(&PostgresServer::start()));
}

fn concurrent_editors(pg: Option<&PostgresServer>) {
    let (_state, token, s) = serve(pg);
    let id = "lemarche-siae-2";
    for round in 0..20 {
        std::thread::scope(|scope| {
            let name = scope.spawn(|| {
                s.send(
                    "PATCH",
                    &format!("/api/initiatives/{id}"),
                    Some(&token),
                    json_body(json!({ "name": format!("Nom {round}") })),
                )
            });
            let description = scope.spawn(|| {
                s.send(
                    "PATCH",
                    &format!("/api/initiatives/{id}"),
                    Some(&token),
                    json_body(json!({ "description": format!("Description {round}") })),
                )
            });
            assert_eq!(name.join().unwrap().status, 200);
            assert_eq!(description.join().unwrap().status, 200);
        });
        let now = s.get(&format!("/api/initiatives/{id}")).json;
        assert_eq!(
            now["properties"]["name"],
            format!("Nom {round}"),
            "round {round}"
        );
        assert_eq!(
            now["properties"]["description"],
            format!("Description {round}"),
            "round {round}"
        );
    }
    // Twenty editors at once on one initiative: every change kept, and each
    // history entry's `before` is the previous entry's `after`.
    std::thread::scope(|scope| {
        for editor in 0..20 {
            let (s, token) = (&s, &token);
            scope.spawn(move || {
                for k in 0..5 {
                    let r = s.send(
                        "PATCH",
                        &format!("/api/initiatives/{id}"),
                        Some(token),
                        json_body(
                            json!({ "description": format!("éditeur {editor}, passage {k}") }),
                        ),
                    );
                    assert_eq!(r.status, 200, "{}", r.json);
                }
            });
        }
    });
    let entries = history(&s, &token, id);
    assert_eq!(entries.len(), 40 + 100);
    for w in entries.windows(2) {
        assert_eq!(w[1]["before"], w[0]["after"], "{w:?}");
    }
}

#[test]
fn a_deleted_initiative_never_comes_back_and_preconditions_hold() {
    deleted_never_comes_back(None);
}

#[test]
fn a_deleted_initiative_never_comes_back_on_postgres_either() {
    deleted_never_comes_back(Some(&PostgresServer::start()));
}

fn deleted_never_comes_back(pg: Option<&PostgresServer>) {
    let (_state, token, s) = serve(pg);
    for round in 0..15 {
        let created = s.send(
            "POST",
            "/api/initiatives",
            Some(&token),
            json_body(
                json!({ "name": format!("Ressourcerie {round}"), "lon": 2.3535, "lat": 48.887 }),
            ),
        );
        assert_eq!(created.status, 201);
        let id = created.json["id"].as_str().unwrap().to_string();
        assert!(id.starts_with("api:"), "{id}");
        let (deleted, patched) = std::thread::scope(|scope| {
            let delete = scope.spawn(|| {
                s.send(
                    "DELETE",
                    &format!("/api/initiatives/{id}"),
                    Some(&token),
                    None,
                )
            });
            let patch = scope.spawn(|| {
                s.send(
                    "PATCH",
                    &format!("/api/initiatives/{id}"),
                    Some(&token),
                    json_body(json!({ "name": "Corrigée" })),
                )
            });
            (delete.join().unwrap(), patch.join().unwrap())
        });
        assert_eq!(deleted.status, 204);
        assert!(
            patched.status == 200 || patched.status == 404,
            "{}",
            patched.json
        );
        assert_eq!(
            s.get(&format!("/api/initiatives/{id}")).status,
            404,
            "round {round}"
        );
        let actions: Vec<String> = history(&s, &token, &id)
            .iter()
            .map(|h| h["action"].as_str().unwrap().to_string())
            .collect();
        assert_eq!(actions.last().unwrap(), "delete", "{actions:?}");
        assert_eq!(
            s.send(
                "PATCH",
                &format!("/api/initiatives/{id}"),
                Some(&token),
                json_body(json!({ "name": "x" }))
            )
            .status,
            404
        );
    }
    // If-Match: the version read, or 412.
    let one = s.get("/api/initiatives/lemarche-siae-3");
    assert!(one.etag.starts_with('"'), "{:?}", one.etag);
    let stale = s.send_with(
        "PATCH",
        "/api/initiatives/lemarche-siae-3",
        Some(&token),
        json_body(json!({ "name": "A" })),
        &[("if-match", "\"0000000000000000\"")],
    );
    assert_eq!(stale.status, 412, "{}", stale.json);
    assert_eq!(stale.json["error"], "precondition_failed");
    let fresh = s.send_with(
        "PATCH",
        "/api/initiatives/lemarche-siae-3",
        Some(&token),
        json_body(json!({ "name": "A" })),
        &[("if-match", one.etag.as_str())],
    );
    assert_eq!(fresh.status, 200, "{}", fresh.json);
    assert_ne!(fresh.etag, one.etag);
    let again = s.send_with(
        "PATCH",
        "/api/initiatives/lemarche-siae-3",
        Some(&token),
        json_body(json!({ "name": "B" })),
        &[("if-match", one.etag.as_str())],
    );
    assert_eq!(again.status, 412);
    // The scheme is case-insensitive.
    let lower = s.send_with(
        "PATCH",
        "/api/initiatives/lemarche-siae-3",
        None,
        json_body(json!({ "name": "C" })),
        &[("authorization", &format!("bearer {token}"))],
    );
    assert_eq!(lower.status, 200, "{}", lower.json);
}

#[test]
fn imports_never_take_an_open_dataset_s_ids_and_mixed_encodings_are_named() {
    let dir = tempfile::tempdir().unwrap();
    let state = dir.path().join("state");
    // A source named like the open SIAE ids' prefix.
    let file = dir.path().join("inventaire.csv");
    let mut bytes = "id,nom,commune,lon,lat\n".as_bytes().to_vec();
    for i in 1..=5 {
        bytes.extend_from_slice(
            format!("{i},Épicerie solidaire {i},Créteil,2.45,48.79\n").as_bytes(),
        );
    }
    bytes.extend_from_slice(b"6,R\xe9gie de quartier,Cr\xe9teil,2.46,48.78\n");
    std::fs::write(&file, bytes).unwrap();
    let summary = import(&state, &file, "lemarche-siae", &[]);
    assert_eq!(summary["encoding"], "mixed", "{summary}");
    assert_eq!(summary["new"], 6);
    let report = std::fs::read_to_string(summary["report"].as_str().unwrap()).unwrap();
    assert!(
        report.contains("line 7") && report.contains("Windows-1252"),
        "{report}"
    );
    let s = Server::start_with(&state, &["--geocoder", "none"]);
    // The open record of that id is still served, the imported ones apart.
    assert_eq!(
        s.get("/api/initiatives/lemarche-siae-6").json["properties"]["source"],
        "siae"
    );
    let imported = s.get("/api/initiatives?source=lemarche-siae&limit=10").json;
    let names: Vec<&str> = imported["features"]
        .as_array()
        .unwrap()
        .iter()
        .map(|f| f["properties"]["name"].as_str().unwrap())
        .collect();
    assert!(
        names.contains(&"Régie de quartier") && names.contains(&"Épicerie solidaire 1"),
        "{names:?}"
    );
    assert!(
        imported["features"]
            .as_array()
            .unwrap()
            .iter()
            .all(|f| f["id"].as_str().unwrap().starts_with("lemarche-siae:"))
    );
    // An import may not take an open dataset's name.
    let refused = ess_map_e2e::ess_map()
        .args(["--data"])
        .arg(ess_map_e2e::data_dir())
        .arg("--state")
        .arg(&state)
        .args(["import"])
        .arg(&file)
        .args(["--source", "siae"])
        .output()
        .unwrap();
    assert!(!refused.status.success());
    assert!(String::from_utf8_lossy(&refused.stderr).contains("open dataset"));
}

#[test]
fn heavy_requests_answer_503_when_out_of_budget_and_leftover_uploads_are_removed() {
    let state = tempfile::tempdir().unwrap();
    let uploads = state.path().join("uploads");
    std::fs::create_dir_all(&uploads).unwrap();
    std::fs::write(uploads.join(".tmpLEFT.csv"), "a killed import's upload").unwrap();
    let config = state.path().join("ess-map.toml");
    std::fs::write(&config, "analysis_timeout_s = 0.000001\n").unwrap();
    let s = Server::start_with(
        state.path(),
        &["--geocoder", "none", "--config", config.to_str().unwrap()],
    );
    assert!(!uploads.join(".tmpLEFT.csv").exists());
    let r = s.get("/api/qpv/QP031001/ring?radius_m=4321");
    assert_eq!(r.status, 503, "{}", r.json);
    assert_eq!(r.json["error"], "overloaded");
    assert!(r.headers["retry-after"].parse::<u64>().unwrap() >= 1);
    // Other requests go on.
    assert_eq!(s.get("/health").status, 200);
}

#[test]
fn every_error_is_json_without_server_paths() {
    let state = tempfile::tempdir().unwrap();
    let token = create_token(state.path(), "admin", "admin");
    let s = Server::start_with(state.path(), &["--geocoder", "none"]);
    let check = |r: &ess_map_e2e::Response, status: u16| {
        assert_eq!(r.status, status, "{:?}", String::from_utf8_lossy(&r.bytes));
        assert!(
            r.content_type.starts_with("application/json"),
            "{}",
            r.content_type
        );
        assert!(
            r.json["error"].is_string() && r.json["message"].is_string(),
            "{}",
            r.json
        );
        let text = r.json.to_string();
        assert!(
            !text.contains("/tmp") && !text.contains("state/") && !text.contains(".tmp"),
            "{text}"
        );
    };
    check(
        &s.send(
            "POST",
            "/api/initiatives",
            Some(&token),
            Some(("application/json", b"{not json".to_vec())),
        ),
        400,
    );
    check(
        &s.send(
            "POST",
            "/api/initiatives",
            Some(&token),
            Some(("text/plain", b"{}".to_vec())),
        ),
        415,
    );
    check(&s.send("DELETE", "/health", None, None), 405);
    check(
        &s.send(
            "PUT",
            "/api/initiatives/lemarche-siae-2",
            Some(&token),
            json_body(json!({})),
        ),
        405,
    );
    check(&s.get("/nothing/here"), 404);
    check(&s.get("/api/qpv/%FF%FE"), 400);
    // A file that is not an import: the message names it as sent.
    let mut body =
        b"--X\r\nContent-Disposition: form-data; name=\"source\"\r\n\r\nreseau\r\n".to_vec();
    body.extend_from_slice(b"--X\r\nContent-Disposition: form-data; name=\"file\"; filename=\"mon-fichier.csv\"\r\n\r\n");
    body.extend_from_slice(b"colonne\r\nvaleur\r\n--X--\r\n");
    let bad = s.send(
        "POST",
        "/api/import",
        Some(&token),
        Some(("multipart/form-data; boundary=X", body)),
    );
    check(&bad, 400);
    assert!(
        bad.json["message"]
            .as_str()
            .unwrap()
            .contains("mon-fichier.csv"),
        "{}",
        bad.json
    );
    // Too large: 413, JSON, before the body is sent.
    let mut raw = TcpStream::connect(s.base.trim_start_matches("http://")).unwrap();
    write!(
        raw,
        "POST /api/import HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer {token}\r\nContent-Type: multipart/form-data; boundary=X\r\nContent-Length: {}\r\n\r\n",
        50 * 1024 * 1024
    )
    .unwrap();
    raw.set_read_timeout(Some(Duration::from_secs(10))).unwrap();
    let mut head = vec![0u8; 4096];
    let n = raw.read(&mut head).unwrap();
    let answer = String::from_utf8_lossy(&head[..n]);
    assert!(answer.starts_with("HTTP/1.1 413"), "{answer}");
    assert!(
        answer.contains("application/json") && answer.contains("too_large"),
        "{answer}"
    );
    // Text that folds to nothing matches nothing.
    assert_eq!(s.get("/api/qpv?q=%F0%9F%8F%A0").json["count"], 0);
}

#[test]
fn slow_and_idle_clients_are_disconnected_and_shutdown_does_not_wait_for_them() {
    let state = tempfile::tempdir().unwrap();
    let config = state.path().join("ess-map.toml");
    std::fs::write(&config, "header_timeout_s = 1\nshutdown_deadline_s = 2\n").unwrap();
    let mut s = Server::start_with(
        state.path(),
        &["--geocoder", "none", "--config", config.to_str().unwrap()],
    );
    let address = s.base.trim_start_matches("http://").to_string();
    // Half a request line, then nothing.
    let mut slow = TcpStream::connect(&address).unwrap();
    slow.write_all(b"GET /hea").unwrap();
    slow.set_read_timeout(Some(Duration::from_secs(10)))
        .unwrap();
    let started = Instant::now();
    let mut buf = [0u8; 1024];
    let n = slow.read(&mut buf).unwrap_or(0);
    let text = String::from_utf8_lossy(&buf[..n]);
    assert!(n == 0 || text.starts_with("HTTP/1.1 408"), "{text}");
    assert!(
        started.elapsed() < Duration::from_secs(5),
        "{:?}",
        started.elapsed()
    );
    // A keep-alive connection left idle is closed too.
    let mut idle = TcpStream::connect(&address).unwrap();
    idle.write_all(b"GET /health HTTP/1.1\r\nHost: x\r\n\r\n")
        .unwrap();
    idle.set_read_timeout(Some(Duration::from_secs(10)))
        .unwrap();
    let mut response = Vec::new();
    let closed = loop {
        match idle.read(&mut buf) {
            Ok(0) => break true,
            Ok(n) => response.extend_from_slice(&buf[..n]),
            Err(_) => break false,
        }
    };
    assert!(closed, "the idle connection was not closed");
    assert!(String::from_utf8_lossy(&response).starts_with("HTTP/1.1 200"));
    // SIGTERM with a client holding a connection open: the server exits.
    let _held = TcpStream::connect(&address).unwrap();
    let stopping = Instant::now();
    std::process::Command::new("kill")
        .arg("-TERM")
        .arg(s.pid().to_string())
        .status()
        .unwrap();
    s.wait();
    assert!(
        stopping.elapsed() < Duration::from_secs(5),
        "{:?}",
        stopping.elapsed()
    );
}
