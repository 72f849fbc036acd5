//! The `ess-map` command line, run as a user would.

use ess_map_e2e::{data_dir, ess_map};

#[test]
fn locate_appends_qpv_columns_to_every_row_and_reports_bad_ones() {
    let dir = tempfile::tempdir().unwrap();
    let input = dir.path().join("adresses.csv");
    std::fs::write(
        &input,
        "nom;longitude;latitude\n\
         Goutte d'Or;2.35313;48.88699\n\
         Rennes;-1.68;48.11\n\
         Aubrac;3.0;44.65\n\
         Sans coordonnées;;\n\
         Faute;2,35;quarante\n\
         Hors limites;2.35;123\n",
    )
    .unwrap();
    let output = ess_map()
        .args([
            "locate",
            "--lon-col",
            "longitude",
            "--lat-col",
            "latitude",
            "--radius-m",
            "300",
            "--data",
        ])
        .arg(data_dir())
        .arg(&input)
        .env("RUST_LOG", "error")
        .output()
        .unwrap();
    assert!(
        output.status.success(),
        "{}",
        String::from_utf8_lossy(&output.stderr)
    );
    let stdout = String::from_utf8(output.stdout).unwrap();
    let lines: Vec<&str> = stdout.lines().collect();
    // For a French spreadsheet by default: byte order mark, `;`, French
    // names and statuses.
    assert_eq!(
        lines,
        [
            "\u{feff}nom;longitude;latitude;statut_qpv;code_qpv;nom_qpv;distance_m;score_geocodage;precision;remarque",
            "Goutte d'Or;2.35313;48.88699;dans un QPV;QN07511M;Goutte D'Or;0;;coordonnées;",
            // Rennes' QPV have no outline here: never « hors QPV ».
            "Rennes;-1.68;48.11;non vérifiable;;;;;coordonnées;non vérifiable : contour non chargé (peut-être QN03502M Villejean, QN03503I Bréquigny - Champs-Manceaux - Les Clôteaux, QN03504M Maurepas)",
            "Aubrac;3.0;44.65;hors QPV;;;;;coordonnées;",
            "Sans coordonnées;;;non localisée;;;;;;ni coordonnées ni adresse",
            "Faute;2,35;quarante;non localisée;;;;;;coordonnées illisibles (« 2,35 », « quarante »)",
            "Hors limites;2.35;123;non localisée;;;;;;coordonnées hors limites (longitude 2.35 dans [-180, 180], latitude 123 dans [-90, 90] attendues)",
        ]
    );
    let stderr = String::from_utf8(output.stderr).unwrap();
    assert!(
        stderr.contains("adresses.csv: line 5: not located: ni coordonnées ni adresse"),
        "{stderr}"
    );
    assert!(
        stderr.contains("line 6: not located: coordonnées illisibles"),
        "{stderr}"
    );
    assert!(
        stderr.contains("line 7: not located: coordonnées hors limites"),
        "{stderr}"
    );
    assert!(
        stderr.contains(
            "6 rows (0 geocoded): 1 inside a QPV, 0 within 300 m, 1 outside, 1 unverifiable (near communes whose QPV have no outline loaded), 3 not located"
        ),
        "{stderr}"
    );
}

#[test]
fn locate_names_a_missing_column_or_what_it_looks_for() {
    let dir = tempfile::tempdir().unwrap();
    let input = dir.path().join("a.csv");
    std::fs::write(&input, "nom,telephone\nA,0102\n").unwrap();
    let run = |args: &[&str]| {
        let output = ess_map()
            .arg("locate")
            .args(args)
            .arg("--data")
            .arg(data_dir())
            .arg(&input)
            .output()
            .unwrap();
        assert!(!output.status.success());
        String::from_utf8_lossy(&output.stderr).to_string()
    };
    let stderr = run(&[]);
    assert!(
        stderr.contains("a.csv: aucune colonne de coordonnées (longitude, latitude) ni d'adresse"),
        "{stderr}"
    );
    let stderr = run(&["--lon-col", "longitude", "--lat-col", "latitude"]);
    assert!(
        stderr.contains("a.csv: pas de colonne « longitude » en première ligne"),
        "{stderr}"
    );
}

#[test]
fn without_data_options_it_serves_the_data_it_ships() {
    use std::io::{BufRead, BufReader};
    let elsewhere = tempfile::tempdir().unwrap();
    let mut child = ess_map()
        .args(["serve", "--listen", "127.0.0.1:0"])
        .current_dir(elsewhere.path())
        .env_remove("ESS_MAP_DATA")
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::null())
        .spawn()
        .unwrap();
    let mut line = String::new();
    BufReader::new(child.stdout.take().unwrap())
        .read_line(&mut line)
        .unwrap();
    let base = line.trim().replace("ess-map listening on ", "");
    let health: serde_json::Value = ureq::get(&format!("{base}/health"))
        .call()
        .unwrap()
        .body_mut()
        .read_json()
        .unwrap();
    child.kill().unwrap();
    child.wait().unwrap();
    assert_eq!(health["qpv_with_outline"], 403);
    assert_eq!(health["initiatives"], 5444);
}

#[test]
fn a_data_directory_missing_a_required_file_is_refused_by_name() {
    let empty = tempfile::tempdir().unwrap();
    let output = ess_map()
        .args(["serve", "--listen", "127.0.0.1:0", "--data"])
        .arg(empty.path())
        .output()
        .unwrap();
    assert!(!output.status.success());
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(
        stderr.contains("qpv/qpv-2024-idf.geojson")
            && stderr.contains("download it from https://www.data.gouv.fr"),
        "{stderr}"
    );
}

/// A duration that cannot be waited (negative, infinite, not a number) stops
/// the start with the setting's name, from the configuration file or the
/// environment, instead of a panic.
#[test]
fn durations_that_cannot_be_waited_are_refused_by_name() {
    let state = tempfile::tempdir().unwrap();
    let config = state.path().join("ess-map.toml");
    let start = |env: Option<&str>| {
        let mut command = ess_map();
        command
            .args(["--state"])
            .arg(state.path())
            .args(["--config"])
            .arg(&config)
            .args(["serve", "--listen", "127.0.0.1:0"]);
        if let Some(value) = env {
            command.env("ESS_MAP_ANALYSIS_TIMEOUT_S", value);
        }
        let output = command.output().unwrap();
        assert!(!output.status.success());
        String::from_utf8_lossy(&output.stderr).into_owned()
    };
    for (setting, reason) in [
        ("analysis_timeout_s = -1", "analysis_timeout_s = -1"),
        ("header_timeout_s = 0", "header_timeout_s = 0"),
        ("shutdown_deadline_s = inf", "shutdown_deadline_s = inf"),
        ("geocoder_timeout_s = nan", "geocoder_timeout_s = NaN"),
    ] {
        std::fs::write(&config, format!("{setting}\n")).unwrap();
        let stderr = start(None);
        assert!(
            stderr.contains("invalid config") && stderr.contains(reason),
            "{setting}: {stderr}"
        );
        assert!(!stderr.contains("panicked"), "{stderr}");
    }
    std::fs::write(&config, "").unwrap();
    for value in ["abc", "-3"] {
        let stderr = start(Some(value));
        assert!(
            stderr.contains("ESS_MAP_ANALYSIS_TIMEOUT_S"),
            "{value}: {stderr}"
        );
        assert!(!stderr.contains("panicked"), "{stderr}");
    }
}

/// `ess-map fiche` writes the same static page the server serves, for
/// several QPV at once; an unknown code stops it before anything is written.
#[test]
fn fiches_for_batch_production() {
    let dir = tempfile::tempdir().unwrap();
    let out = dir.path().join("fiches");
    let run = |codes: &[&str]| {
        ess_map()
            .args(["fiche", "--radius-m", "300", "--out-dir"])
            .arg(&out)
            .args(codes)
            .arg("--data")
            .arg(data_dir())
            .env("RUST_LOG", "error")
            .output()
            .unwrap()
    };
    let bad = run(&["QN07511M", "QN00000X"]);
    assert!(!bad.status.success());
    assert!(String::from_utf8_lossy(&bad.stderr).contains("no QPV `QN00000X`"));
    assert!(std::fs::read_dir(&out).map_or(true, |mut d| d.next().is_none()));
    let ok = run(&["QN07511M", "QP031007", "QN01101I"]);
    assert!(
        ok.status.success(),
        "{}",
        String::from_utf8_lossy(&ok.stderr)
    );
    let goutte = std::fs::read_to_string(out.join("QN07511M.html")).unwrap();
    assert!(
        goutte.contains("<title>Fiche QPV — Goutte D&#39;Or (QN07511M)</title>")
            || goutte.contains("<title>Fiche QPV — Goutte D'Or (QN07511M)</title>")
    );
    assert!(goutte.contains("<svg class=\"carte\""));
    assert!(goutte.contains("300 m autour du contour"));
    // Orientation, offline: the neighbouring QPV named, and an arrow
    // towards the commune's centre, off the map, with its distance.
    assert!(
        goutte.contains(">La Chapelle - Evangile</text>"),
        "{goutte}"
    );
    assert!(goutte.contains("class=\"vers-commune\""));
    assert!(
        goutte.contains(">Paris (centre) à 3,2 km</text>"),
        "{goutte}"
    );
    let mirail = std::fs::read_to_string(out.join("QP031007.html")).unwrap();
    assert!(mirail.contains(">Toulouse (centre) à "), "{mirail}");
    assert!(
        !goutte.contains("http://") || goutte.matches("http://").count() == 1,
        "self-contained: only the SVG namespace"
    );
    // A QPV without outline here: facts, why there is no map, what a
    // person can do, and its commune's initiatives; the date it was made.
    let without = std::fs::read_to_string(out.join("QN01101I.html")).unwrap();
    assert!(without.contains("Contour non chargé"), "{without}");
    assert!(without.contains("mise à jour des données par l'administrateur"));
    assert!(without.contains("par catégorie</h2>"), "{without}");
    assert!(!without.contains("<svg"));
    for page in [&goutte, &without] {
        assert!(page.contains("Fiche établie le "), "{page}");
    }
}

/// The radius default and maximum, the generations and the CSV styles are
/// written once (`geodata::conventions`, the output's `CsvStyle`): the CLI's
/// help and the API document both say what that place says.
#[test]
fn the_cli_help_and_the_api_document_read_the_conventions() {
    use geodata::conventions::{DEFAULT_LOCATE_RADIUS_M, DEFAULT_RADIUS_M, MAX_RADIUS_M};
    let help = |command: &str| {
        let out = ess_map().args([command, "--help"]).output().unwrap();
        assert!(out.status.success());
        String::from_utf8(out.stdout).unwrap()
    };
    assert!(
        help("gaps").contains(&format!("[default: {DEFAULT_RADIUS_M}]")),
        "{}",
        help("gaps")
    );
    assert!(help("fiche").contains(&format!("[default: {DEFAULT_RADIUS_M}]")));
    assert!(help("locate").contains(&format!("[default: {DEFAULT_LOCATE_RADIUS_M}]")));
    assert!(help("gaps").contains("[default: tableur]"));
    assert!(help("locate").contains("[default: tableur]"));
    let s = ess_map_e2e::Server::start();
    let spec = s.get("/api/openapi.json").json;
    let radius = |path: &str, method: &str| {
        spec["paths"][path][method]["parameters"]
            .as_array()
            .unwrap()
            .iter()
            .find(|p| p["name"] == "radius_m")
            .unwrap()["schema"]
            .clone()
    };
    for (path, method, default) in [
        ("/api/gaps", "get", DEFAULT_RADIUS_M),
        ("/api/qpv/{code}/nearby", "get", DEFAULT_RADIUS_M),
        ("/api/locate", "get", DEFAULT_LOCATE_RADIUS_M),
        ("/api/locate/table", "post", DEFAULT_LOCATE_RADIUS_M),
    ] {
        let schema = radius(path, method);
        assert_eq!(schema["default"], default, "{path}");
        assert_eq!(schema["maximum"], MAX_RADIUS_M, "{path}");
    }
    let generations = &spec["paths"]["/api/gaps"]["get"]["parameters"]
        .as_array()
        .unwrap()
        .iter()
        .find(|p| p["name"] == "generation")
        .unwrap()["schema"]["enum"];
    assert_eq!(
        generations,
        &serde_json::json!(geodata::conventions::GENERATIONS)
    );
    // A generation the conventions do not list is refused, by name.
    assert_eq!(
        s.get("/api/gaps?generation=2016").json["parameter"],
        "generation"
    );
}
