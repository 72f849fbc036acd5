//! The shared store: two replicas of `ess-map serve` on one real
//! PostgreSQL/PostGIS database (Debian's packages, a temporary cluster):
//! an edit on one is served by the other at once (LISTEN/NOTIFY), editors on
//! both replicas lose nothing, the database going away leaves reads served
//! and refuses writes with 503 until it is back, concurrent imports of one
//! source through both paths serialise, and the store opens as a PostGIS
//! layer in GDAL (as QGIS would).

use std::path::Path;
use std::time::{Duration, Instant};

use ess_map_e2e::{PostgresServer, Server, data_dir, ess_map};
use serde_json::{Value, json};

fn replica(pg: &PostgresServer, state: &Path) -> Server {
    Server::start_with(state, &["--geocoder", "none", "--store", &pg.url])
}

fn token(pg: &PostgresServer, name: &str, role: &str) -> String {
    let out = ess_map()
        .args([
            "token", "create", "--name", name, "--role", role, "--store", &pg.url,
        ])
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8(out.stdout).unwrap().trim().to_string()
}

fn json_body(v: Value) -> Option<(&'static str, Vec<u8>)> {
    Some(("application/json", serde_json::to_vec(&v).unwrap()))
}

/// Until `check` holds, at most `within`; how long it took.
fn until(within: Duration, mut check: impl FnMut() -> bool) -> Duration {
    let started = Instant::now();
    while !check() {
        assert!(started.elapsed() < within, "not within {within:?}");
        std::thread::sleep(Duration::from_millis(10));
    }
    started.elapsed()
}

#[test]
fn two_replicas_share_one_postgis_store() {
    let pg = PostgresServer::start();
    let (state_a, state_b) = (tempfile::tempdir().unwrap(), tempfile::tempdir().unwrap());
    let editor = token(&pg, "mairie", "editor");
    let a = replica(&pg, state_a.path());
    let b = replica(&pg, state_b.path());
    let health = b.get("/health").json;
    assert_eq!(health["store"]["kind"], "postgres");
    assert_eq!(health["store"]["reachable"], true);

    // Created on A, served by B: the change feed, not the poll, in most runs.
    let mut latencies = Vec::new();
    let mut ids = Vec::new();
    for round in 0..10 {
        let created = a.send(
            "POST",
            "/api/initiatives",
            Some(&editor),
            json_body(json!({ "name": format!("Ressourcerie {round}"), "category": "recyclerie", "lon": 2.3535, "lat": 48.887 })),
        );
        assert_eq!(created.status, 201, "{}", created.json);
        let id = created.json["id"].as_str().unwrap().to_string();
        let path = format!("/api/initiatives/{id}");
        latencies.push(until(Duration::from_secs(5), || b.get(&path).status == 200));
        ids.push(id);
    }
    latencies.sort();
    println!(
        "created on A, served by B: median {:?}, worst {:?}",
        latencies[5], latencies[9]
    );
    assert!(latencies[5] < Duration::from_millis(250), "{latencies:?}");

    // Editors of different fields on both replicas at once: both kept.
    let id = &ids[0];
    let path = format!("/api/initiatives/{id}");
    for round in 0..10 {
        std::thread::scope(|scope| {
            let on_a = scope.spawn(|| {
                a.send(
                    "PATCH",
                    &path,
                    Some(&editor),
                    json_body(json!({ "name": format!("Nom {round}") })),
                )
            });
            let on_b = scope.spawn(|| {
                b.send(
                    "PATCH",
                    &path,
                    Some(&editor),
                    json_body(json!({ "description": format!("Description {round}") })),
                )
            });
            assert_eq!(on_a.join().unwrap().status, 200);
            assert_eq!(on_b.join().unwrap().status, 200);
        });
        for replica in [&a, &b] {
            until(Duration::from_secs(5), || {
                let p = &replica.get(&path).json["properties"];
                p["name"] == format!("Nom {round}")
                    && p["description"] == format!("Description {round}")
            });
        }
    }
    let history = a
        .send("GET", &format!("{path}/history"), Some(&editor), None)
        .json;
    let entries = history["history"].as_array().unwrap();
    assert_eq!(entries.len(), 21);
    for w in entries.windows(2) {
        assert_eq!(w[1]["before"], w[0]["after"]);
    }

    // Each commit was announced: revision and ids (seen by a listener of
    // our own on the next one).
    let listener = std::process::Command::new("sh")
        .arg("-c")
        .arg(format!(
            "(echo 'LISTEN ess_map_changes;'; sleep 3; echo 'SELECT 1;') | psql -q '{}'",
            pg.url
        ))
        .stdout(std::process::Stdio::piped())
        .spawn()
        .unwrap();
    std::thread::sleep(Duration::from_millis(800));
    let patched = a.send(
        "PATCH",
        &format!("/api/initiatives/{}", ids[2]),
        Some(&editor),
        json_body(json!({ "name": "Annoncée" })),
    );
    assert_eq!(patched.status, 200);
    let heard = String::from_utf8(listener.wait_with_output().unwrap().stdout).unwrap();
    assert!(
        heard.contains("Asynchronous notification \"ess_map_changes\" with payload \"")
            && heard.contains(&format!(":{}\"", ids[2])),
        "{heard}"
    );

    // The store as a PostGIS layer: points in EPSG:4326, read by GDAL.
    assert_eq!(
        pg.sql(&format!(
            "SELECT ST_AsText(geom) || ' ' || ST_SRID(geom) FROM initiative WHERE id = '{}'",
            ids[1]
        )),
        "POINT(2.3535 48.887) 4326"
    );
    let ogr = std::process::Command::new("ogrinfo")
        .args(["-ro", "-so", &pg.gdal(), "initiative"])
        .output()
        .expect("GDAL's ogrinfo (gdal-bin)");
    let text = String::from_utf8_lossy(&ogr.stdout);
    assert!(
        ogr.status.success(),
        "{text}{}",
        String::from_utf8_lossy(&ogr.stderr)
    );
    assert!(
        text.contains("Geometry: Point") && text.contains("Feature Count: 10"),
        "{text}"
    );

    // The database goes away: reads go on from memory, writes answer 503
    // and /health says so; once it is back, writes work and B catches up.
    pg.stop();
    let read = a.get(&path);
    assert_eq!(read.status, 200);
    let refused = a.send(
        "PATCH",
        &path,
        Some(&editor),
        json_body(json!({ "name": "Pendant la coupure" })),
    );
    assert_eq!(refused.status, 503, "{}", refused.json);
    assert_eq!(refused.json["error"], "store_unavailable");
    assert_eq!(refused.headers["retry-after"], "5");
    until(Duration::from_secs(5), || {
        a.get("/health").json["store"]["reachable"] == false
    });
    pg.start_again();
    until(Duration::from_secs(20), || {
        a.send(
            "PATCH",
            &path,
            Some(&editor),
            json_body(json!({ "name": "Après la coupure" })),
        )
        .status
            == 200
    });
    until(Duration::from_secs(10), || {
        b.get(&path).json["properties"]["name"] == "Après la coupure"
    });
    until(Duration::from_secs(5), || {
        b.get("/health").json["store"]["reachable"] == true
    });
}

#[test]
fn concurrent_imports_of_one_source_serialise() {
    let pg = PostgresServer::start();
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("garages.csv");
    let mut csv = String::from("nom,adresse,code postal,commune,longitude,latitude\n");
    for i in 0..200 {
        csv.push_str(&format!(
            "Garage {i},{i} rue X,75018,Paris,2.35{i:03},48.88\n"
        ));
    }
    std::fs::write(&file, csv).unwrap();
    let import = || {
        ess_map()
            .args([
                "import", "--source", "garages", "--store", &pg.url, "--data",
            ])
            .arg(data_dir())
            .arg(&file)
            .output()
            .unwrap()
    };
    let summaries: Vec<Value> = std::thread::scope(|scope| {
        let runs: Vec<_> = (0..3).map(|_| scope.spawn(import)).collect();
        runs.into_iter()
            .map(|run| {
                let out = run.join().unwrap();
                assert!(
                    out.status.success(),
                    "{}",
                    String::from_utf8_lossy(&out.stderr)
                );
                serde_json::from_slice(&out.stdout).unwrap()
            })
            .collect()
    });
    let created: u64 = summaries.iter().map(|s| s["new"].as_u64().unwrap()).sum();
    assert_eq!(
        created, 200,
        "one import created the rows, the others found them"
    );
    // Each import's report is in the store: a replica that ran none serves it.
    let admin = token(&pg, "admin", "admin");
    let state = tempfile::tempdir().unwrap();
    let other = replica(&pg, state.path());
    for summary in &summaries {
        let file = std::fs::read_to_string(summary["report"].as_str().unwrap()).unwrap();
        let served = other.send(
            "GET",
            &format!("/api/import/reports/{}", summary["report_id"]),
            Some(&admin),
            None,
        );
        assert_eq!(served.status, 200);
        assert_eq!(String::from_utf8(served.bytes).unwrap(), file);
    }
    // Each row once, whichever import created it; the others found it by key.
    assert_eq!(
        pg.sql("SELECT count(*) FROM initiative WHERE source = 'garages'"),
        "200"
    );
    assert_eq!(
        pg.sql("SELECT count(DISTINCT key) FROM initiative WHERE source = 'garages'"),
        "200"
    );
}
