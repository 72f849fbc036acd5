//! `ess-map import` on the real ESAT list: report, re-import by stable key,
//! dry run, and a kill in the middle of an import.

use std::io::{BufRead, BufReader};
use std::path::Path;
use std::process::Stdio;

use ess_map_e2e::{Server, data_dir, data_file, ess_map, import, without_siret};

fn store_count(state: &Path, source: &str) -> u64 {
    let s = Server::start_with(state, &["--geocoder", "none"]);
    s.get(&format!("/api/initiatives?source={source}&limit=1"))
        .json["total"]
        .as_u64()
        .unwrap()
}

#[test]
fn the_esat_list_imports_offline_then_reimports_by_key_without_duplicates() {
    let dir = tempfile::tempdir().unwrap();
    let state = dir.path().join("state");
    let esat = data_file(dir.path(), "ess/esat_finess.csv");
    let first = import(&state, &esat, "reseau-esat", &[]);
    // The rows with a valid SIRET are the open list's ESAT: kept, merged
    // into them, not shown twice (see moderation.rs).
    let shown = first["new"].as_u64().unwrap() - first["merged"].as_u64().unwrap();
    assert_eq!(
        (
            first["read"].as_u64(),
            first["new"].as_u64(),
            first["skipped"].as_u64()
        ),
        (Some(1504), Some(1504), Some(0))
    );
    assert_eq!(first["placed_at_commune_centre"], 1503);
    // Saint-Pierre-et-Miquelon is not among the commune centres.
    assert_eq!(first["not_placed"], 1);
    let report = std::fs::read_to_string(first["report"].as_str().unwrap()).unwrap();
    assert!(report.starts_with("\u{feff}position;cle;champ;raison;action\n"));
    assert!(
        report.contains("line 568;ESAT LE CLAIR LOGIS;siret;`8628031000102` is not 14 digits"),
        "{report}"
    );
    // The same report, kept in the store, served to an admin by any process.
    let admin = ess_map_e2e::create_token(&state, "admin", "admin");
    let server = Server::start_with(&state, &["--geocoder", "none"]);
    let path = format!("/api/import/reports/{}", first["report_id"]);
    assert_eq!(server.get(&path).status, 401);
    let served = server.send("GET", &path, Some(&admin), None);
    assert_eq!(served.status, 200);
    assert_eq!(String::from_utf8(served.bytes).unwrap(), report);
    drop(server);
    assert!(report.contains("line 1505;"), "{report}");

    // The same file again: nothing new.
    let again = import(&state, &esat, "reseau-esat", &[]);
    assert_eq!(
        (again["new"].as_u64(), again["unchanged"].as_u64()),
        (Some(0), Some(1504))
    );

    // An edited copy: one name changed, one row gone, one row added.
    let text = std::fs::read_to_string(&esat)
        .unwrap()
        .replace("\r\n", "\n");
    let mut lines: Vec<String> = text.lines().map(str::to_string).collect();
    lines[1] = lines[1].replace(
        "ESAT ENVOL TRANSITION",
        "ESAT ENVOL TRANSITION (nouveau nom)",
    );
    let gone = lines.remove(2);
    lines.push("finess-999999999,ESAT NOUVEAU,ESAT,,,,,,Principal,1 RUE NEUVE,31000,Toulouse,31555,31,76,10,,,test".into());
    let edited = dir.path().join("esat-edited.csv");
    std::fs::write(&edited, lines.join("\n") + "\n").unwrap();
    let dry = import(&state, &edited, "reseau-esat", &["--dry-run"]);
    assert_eq!(
        (
            dry["new"].as_u64(),
            dry["updated"].as_u64(),
            dry["removed"].as_array().map(Vec::len)
        ),
        (Some(1), Some(1), Some(1))
    );
    assert_eq!(
        store_count(&state, "reseau-esat"),
        shown,
        "a dry run writes nothing"
    );
    let done = import(&state, &edited, "reseau-esat", &[]);
    assert_eq!(
        (done["new"].as_u64(), done["updated"].as_u64()),
        (Some(1), Some(1))
    );
    // The row gone from the file is reported, not deleted.
    assert_eq!(store_count(&state, "reseau-esat"), shown + 1);
    let report = std::fs::read_to_string(done["report"].as_str().unwrap()).unwrap();
    assert!(report.contains("absent from this file"), "{report}");
    assert!(gone.contains("ESAT LA FRETA"));
}

#[test]
fn killing_an_import_midway_leaves_the_previous_state_intact() {
    let dir = tempfile::tempdir().unwrap();
    let state = dir.path().join("state");
    let esat = without_siret(&data_file(dir.path(), "ess/esat_finess.csv"));
    import(&state, &esat, "reseau-esat", &[]);

    // A large inventory with coordinates (no geocoding): the write takes a
    // while, so the kill lands inside the transaction.
    let big = dir.path().join("big.csv");
    let mut text = String::from("id,name,lon,lat\n");
    for i in 0..200_000 {
        text += &format!(
            "big-{i},Initiative {i},{:.5},{:.5}\n",
            1.0 + (i % 1000) as f64 * 0.003,
            43.0 + (i / 1000) as f64 * 0.003
        );
    }
    std::fs::write(&big, text).unwrap();
    let mut command = ess_map();
    ess_map_e2e::with_store(&mut command, &state);
    let mut child = command
        .args([
            "--data",
            data_dir().to_str().unwrap(),
            "--state",
            state.to_str().unwrap(),
        ])
        .args(["import", big.to_str().unwrap(), "--source", "big"])
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let stderr = BufReader::new(child.stderr.take().unwrap());
    let mut seen = Vec::new();
    for line in stderr.lines() {
        let line = line.unwrap();
        seen.push(line.clone());
        // Killed once some rows are written and before the commit.
        if line.starts_with("written ") {
            child.kill().unwrap();
            break;
        }
    }
    let status = child.wait().unwrap();
    assert!(!status.success(), "killed before the end: {seen:?}");
    assert!(
        seen.iter().any(|l| l.starts_with("writing 200000")),
        "{seen:?}"
    );

    // Nothing of the killed import; everything of the one before; and the
    // store still takes a complete import.
    assert_eq!(store_count(&state, "big"), 0);
    assert_eq!(store_count(&state, "reseau-esat"), 1504);
    let complete = import(&state, &big, "big", &[]);
    assert_eq!(complete["new"], 200_000);
    assert_eq!(store_count(&state, "big"), 200_000);
}

#[test]
fn a_running_server_serves_a_command_line_import_within_a_second() {
    let dir = tempfile::tempdir().unwrap();
    let state = dir.path().join("state");
    let s = Server::start_with(&state, &["--geocoder", "none"]);
    // An ESAT tile at Toulouse's centre, before.
    let tile = "/tiles/initiatives/14/8257/5982.mvt";
    let before = s.get(tile);
    assert_eq!(
        s.get("/api/initiatives?source=reseau-esat").json["total"],
        0
    );
    import(
        &state,
        &without_siret(&data_file(dir.path(), "ess/esat_finess.csv")),
        "reseau-esat",
        &[],
    );
    let committed = std::time::Instant::now();
    loop {
        if s.get("/api/initiatives?source=reseau-esat").json["total"] == 1504 {
            break;
        }
        assert!(
            committed.elapsed().as_secs_f64() < 1.0,
            "not served within a second"
        );
        std::thread::sleep(std::time::Duration::from_millis(20));
    }
    println!(
        "served {} ms after the import's end",
        committed.elapsed().as_millis()
    );
    let after = s.get(tile);
    assert_eq!(after.status, 200);
    assert_ne!(after.etag, before.etag, "the tile changed");
}

/// Imports of one source at once (three processes on one SQLite store):
/// one creates the rows, the others find them, as with PostgreSQL
/// (`postgres_store.rs`).
#[test]
fn concurrent_imports_of_one_source_serialise_on_sqlite_too() {
    let dir = tempfile::tempdir().unwrap();
    let state = dir.path().join("state");
    let file = dir.path().join("garages.csv");
    let mut csv = String::from("nom,adresse,code postal,commune,longitude,latitude\n");
    for i in 0..200 {
        csv.push_str(&format!(
            "Garage {i},{i} rue X,75018,Paris,2.35{i:03},48.88\n"
        ));
    }
    std::fs::write(&file, csv).unwrap();
    let summaries: Vec<serde_json::Value> = std::thread::scope(|scope| {
        let runs: Vec<_> = (0..3)
            .map(|_| scope.spawn(|| import(&state, &file, "garages", &[])))
            .collect();
        runs.into_iter().map(|r| r.join().unwrap()).collect()
    });
    let created: u64 = summaries.iter().map(|s| s["new"].as_u64().unwrap()).sum();
    let unchanged: u64 = summaries
        .iter()
        .map(|s| s["unchanged"].as_u64().unwrap())
        .sum();
    assert_eq!((created, unchanged), (200, 400));
}

/// Opening hours come in by their usual column names (« horaires
/// d'ouverture »), as written, and are served with the initiative.
#[test]
fn opening_hours_are_read_from_their_column_and_served() {
    let state = tempfile::tempdir().unwrap();
    let file = state.path().join("reseau.csv");
    std::fs::write(
        &file,
        "nom;adresse;code postal;commune;longitude;latitude;horaires d'ouverture\n\
         Recyclerie du Canal;12 rue Gabriel Péri;93200;Saint-Denis;2.35802;48.93481;Tu-Sa 10:00-18:00\n",
    )
    .unwrap();
    let summary = import(state.path(), &file, "reseau", &["--geocoder", "none"]);
    assert_eq!(summary["new"], 1, "{summary}");
    let s = Server::start_with(state.path(), &["--geocoder", "none"]);
    let found = s.get("/api/initiatives?q=recyclerie%20du%20canal");
    let x = &found.json["features"][0]["properties"];
    assert_eq!(x["opening_hours"], "Tu-Sa 10:00-18:00", "{}", found.json);
}

/// A static web server (Python's `http.server`) on loopback, serving `dir`.
struct StaticServer {
    child: std::process::Child,
    port: u16,
}

impl StaticServer {
    fn start(dir: &Path) -> StaticServer {
        let port = ess_map_e2e::free_port();
        let child = std::process::Command::new("python3")
            .args([
                "-m",
                "http.server",
                &port.to_string(),
                "--bind",
                "127.0.0.1",
                "--directory",
            ])
            .arg(dir)
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .expect("python3 runs");
        for _ in 0..100 {
            if std::net::TcpStream::connect(("127.0.0.1", port)).is_ok() {
                break;
            }
            std::thread::sleep(std::time::Duration::from_millis(100));
        }
        StaticServer { child, port }
    }
}

impl Drop for StaticServer {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// The runs of `source`, newest first, once there are `n`.
fn runs(s: &Server, token: &str, source: &str, n: usize) -> Vec<serde_json::Value> {
    for _ in 0..300 {
        let r = s.send(
            "GET",
            &format!("/api/import/runs?source={source}"),
            Some(token),
            None,
        );
        assert_eq!(r.status, 200, "{:?}", r.json);
        let list = r.json["runs"].as_array().unwrap().clone();
        if list.len() >= n {
            return list;
        }
        std::thread::sleep(std::time::Duration::from_millis(100));
    }
    panic!("no run {n} of {source}");
}

/// A network's sheet published at a URL, re-imported on a schedule: run at
/// once by an admin, then again after the sheet changed (only the change
/// written), each run kept with its summary and report; a URL that answers
/// 404 runs by itself ten seconds after the start and is kept as failed,
/// saying why; nothing else is written.
#[test]
fn scheduled_imports_run_when_asked_and_when_due_and_each_run_is_kept() {
    let dir = tempfile::tempdir().unwrap();
    let state = dir.path().join("state");
    let published = dir.path().join("www");
    std::fs::create_dir_all(&published).unwrap();
    let sheet = "nom,commune,longitude,latitude\nGarage solidaire du Chemin Vert,Paris,2.3791,48.8609\nÉpicerie solidaire des Amandiers,Paris,2.3889,48.8644\n";
    std::fs::write(published.join("membres.csv"), sheet).unwrap();
    let web = StaticServer::start(&published);
    let config = dir.path().join("ess-map.toml");
    std::fs::write(
        &config,
        format!(
            "[[scheduled_import]]\nsource = \"reseau-planifie\"\nurl = \"http://127.0.0.1:{port}/membres.csv\"\nevery_hours = 24\n\n\
             [[scheduled_import]]\nsource = \"introuvable\"\nurl = \"http://127.0.0.1:{port}/absent.csv\"\n",
            port = web.port
        ),
    )
    .unwrap();
    let admin = ess_map_e2e::create_token(&state, "cress", "admin");
    let editor = ess_map_e2e::create_token(&state, "mairie", "editor");
    let s = Server::start_with(
        &state,
        &["--config", config.to_str().unwrap(), "--geocoder", "none"],
    );
    assert_eq!(s.send("GET", "/api/import/runs", None, None).status, 401);
    assert_eq!(
        s.send("GET", "/api/import/runs", Some(&editor), None)
            .status,
        403
    );
    let listed = s.send("GET", "/api/import/runs", Some(&admin), None);
    let sources: Vec<&str> = listed.json["schedules"]
        .as_array()
        .unwrap()
        .iter()
        .map(|x| x["source"].as_str().unwrap())
        .collect();
    assert_eq!(sources, ["reseau-planifie", "introuvable"]);
    assert_eq!(listed.json["schedules"][0]["every_hours"], 24.0);
    assert_eq!(
        s.send("POST", "/api/import/runs/inconnue", Some(&admin), None)
            .status,
        404
    );

    // Run now.
    let started = s.send(
        "POST",
        "/api/import/runs/reseau-planifie",
        Some(&admin),
        None,
    );
    assert_eq!(started.status, 202, "{:?}", started.json);
    let first = &runs(&s, &admin, "reseau-planifie", 1)[0];
    assert_eq!(first["outcome"], "imported", "{first}");
    assert_eq!(first["summary"]["new"], 2);
    assert_eq!(
        first["summary"]["file"],
        format!("http://127.0.0.1:{}/membres.csv", web.port)
    );
    let report = s.send(
        "GET",
        &format!("/api/import/reports/{}", first["report_id"]),
        Some(&admin),
        None,
    );
    assert_eq!(report.status, 200);
    assert_eq!(
        s.get("/api/initiatives?source=reseau-planifie").json["total"],
        2
    );

    // The sheet changes; the next run writes only that.
    std::fs::write(
        published.join("membres.csv"),
        format!("{sheet}Recyclerie de Ménilmontant,Paris,2.3925,48.8661\n"),
    )
    .unwrap();
    s.send(
        "POST",
        "/api/import/runs/reseau-planifie",
        Some(&admin),
        None,
    );
    let second = &runs(&s, &admin, "reseau-planifie", 2)[0];
    assert_eq!(
        (
            second["summary"]["new"].as_u64(),
            second["summary"]["unchanged"].as_u64()
        ),
        (Some(1), Some(2)),
        "{second}"
    );
    assert_eq!(
        s.get("/api/initiatives?source=reseau-planifie").json["total"],
        3
    );

    // Never run before: due ten seconds after the start, by itself; kept
    // as failed, with why.
    let failed = &runs(&s, &admin, "introuvable", 1)[0];
    assert_eq!(failed["outcome"], "failed");
    let error = failed["error"].as_str().unwrap();
    assert!(error.contains("absent.csv answered HTTP 404"), "{error}");
    assert!(!error.contains(state.to_str().unwrap()), "{error}");
    assert_eq!(
        s.get("/api/initiatives?source=introuvable").json["total"],
        0
    );
    // The one run by hand was not run again when its first time came.
    std::thread::sleep(std::time::Duration::from_secs(1));
    assert_eq!(runs(&s, &admin, "reseau-planifie", 2).len(), 2);
}
