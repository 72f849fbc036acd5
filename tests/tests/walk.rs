//! Walking time on a real OpenStreetMap extract (Monaco and the French
//! communes around it, from the `osrm-bindings` source distribution on
//! PyPI), with QPV-like outlines drawn over it: the gap analysis on foot,
//! the « coupure » flag where a cliff stands between a QPV and an
//! initiative 170 m away, isochrones checked valid by GDAL, answers without
//! a network, and every node's distance checked against pandana's.

use std::path::{Path, PathBuf};
use std::process::Command;

use ess_map_e2e::{Server, binary, python_tool, root};

/// The extract, fetched once into `target/` (pinned by SHA-256).
fn monaco() -> PathBuf {
    static ONCE: std::sync::Mutex<()> = std::sync::Mutex::new(());
    let _one = ONCE.lock().unwrap_or_else(|e| e.into_inner());
    let path = root().join("target/walk-fixtures/monaco.osm.pbf");
    std::fs::create_dir_all(path.parent().unwrap()).unwrap();
    let ok = Command::new("python3")
        .arg(root().join("tests/walk/monaco_extract.py"))
        .arg(&path)
        .status()
        .is_ok_and(|s| s.success());
    assert!(ok, "cannot fetch the Monaco extract from PyPI");
    path
}

fn text(r: &ess_map_e2e::Response) -> String {
    String::from_utf8_lossy(&r.bytes).into_owned()
}

/// The fixture's data directory (tests/walk/fixture): two QPV outlines
/// (one over La Condamine, one in Nice, outside the extract) and three
/// initiatives, one on the Rocher's cliff.
fn fixture() -> PathBuf {
    root().join("tests/walk/fixture")
}

/// A server on the fixture with the extract, once its network is built.
fn server(dir: &Path, with_network: bool) -> Server {
    server_with(dir, with_network, "")
}

/// The same with more configuration.
fn server_with(dir: &Path, with_network: bool, config: &str) -> Server {
    std::fs::create_dir_all(dir).unwrap();
    let config_file = dir.join("ess-map.toml");
    std::fs::write(&config_file, config).unwrap();
    let data = fixture();
    let manifest = data.join("manifest.toml");
    let extract = monaco();
    let mut args = vec![
        "--config",
        config_file.to_str().unwrap(),
        "--manifest",
        manifest.to_str().unwrap(),
        "--geocoder",
        "none",
    ];
    if with_network {
        args.extend(["--osm", extract.to_str().unwrap()]);
    }
    let s = Server::start_on(&data, &dir.join("state"), &args);
    if with_network {
        // Built on a thread of its own: 503 until then.
        for _ in 0..600 {
            if s.get("/api/qpv/QN00601M/isochrone").status != 503 {
                break;
            }
            std::thread::sleep(std::time::Duration::from_millis(100));
        }
    }
    s
}

#[test]
fn walking_gaps_flag_a_cut_and_say_what_they_could_not_measure() {
    let dir = tempfile::tempdir().unwrap();
    let s = server(dir.path(), true);
    let five = s.get("/api/gaps?mode=marche&minutes=5");
    assert_eq!(five.status, 200, "{}", text(&five));
    let body = &five.json;
    assert_eq!(body["mode"], "marche");
    assert_eq!(body["speed_kmh"], 4.5);
    assert_eq!(body["network"][0], "monaco.osm.pbf");
    assert_eq!(body["initiatives"]["walked_to"], 3);
    let rows = body["gaps"].as_array().unwrap();
    let condamine = &rows[0];
    assert_eq!(condamine["code"], "QN00601M");
    assert_eq!(condamine["walk_basis"], "outline");
    assert!(condamine["walk_nodes"].as_u64().unwrap() > 100);
    // The Recyclerie on the Rocher is 170 m from the outline as the crow
    // flies, but the cliff between makes it a walk of 8–9 minutes: no node
    // of the QPV within 5 minutes, « coupure ».
    let crow = condamine["crow_nearest_m"].as_f64().unwrap();
    assert!((150.0..200.0).contains(&crow), "{crow}");
    assert_eq!(condamine["nearest_id"], "t-1");
    let on_foot = condamine["nearest_min"].as_f64().unwrap();
    assert!((7.0..11.0).contains(&on_foot), "{on_foot}");
    assert_eq!(condamine["gap"], true);
    assert_eq!(condamine["cut"], true);
    assert_eq!(condamine["share_within"], 0.0);
    assert!(
        condamine["median_min"].as_f64().unwrap() >= condamine["nearest_min"].as_f64().unwrap()
    );
    // The outline outside the extract: not measurable, said, never 0.
    let outside = &rows[1];
    assert_eq!(outside["walk_basis"], "no_network");
    for field in [
        "share_within",
        "median_min",
        "nearest_min",
        "gap",
        "cut",
        "priority",
    ] {
        assert!(outside[field].is_null(), "{field}: {}", outside[field]);
    }
    assert_eq!(body["not_measured"], 1);
    // Within 15 minutes the same QPV is served, part of it at least.
    let fifteen = s.get("/api/gaps?mode=marche&minutes=15");
    let condamine = &fifteen.json["gaps"]
        .as_array()
        .unwrap()
        .iter()
        .find(|r| r["code"] == "QN00601M")
        .unwrap()
        .clone();
    assert_eq!(condamine["gap"], false);
    assert_eq!(condamine["cut"], false);
    let share = condamine["share_within"].as_f64().unwrap();
    assert!(share > 0.0 && share <= 1.0, "{share}");
    // One category: the restaurant only.
    let one = s.get("/api/gaps?mode=marche&minutes=15&category=restauration");
    assert_eq!(one.json["initiatives"]["walked_to"], 1);
    // The CSV for a spreadsheet: BOM, French headers and terms, empty cells
    // for what is unknown.
    let csv = s.get("/api/gaps?mode=marche&minutes=5&format=csv");
    assert_eq!(csv.status, 200);
    assert!(text(&csv).starts_with('\u{feff}'));
    assert!(
        text(&csv).contains("part_a_moins_du_temps"),
        "{}",
        &text(&csv)[..400]
    );
    assert!(text(&csv).contains("coupure"));
    assert!(text(&csv).contains("non vérifiable : réseau piéton non chargé ici"));
    assert!(text(&csv).contains("accès à pied en 5 min"));
    // For QGIS: GeoJSON outlines with the walking figures, and a GeoPackage
    // GDAL reads.
    let geojson = s.get("/api/gaps?mode=marche&minutes=5&format=geojson");
    assert_eq!(geojson.json["type"], "FeatureCollection");
    assert_eq!(geojson.json["mode"], "marche");
    assert_eq!(geojson.json["features"][0]["properties"]["cut"], true);
    let gpkg = s.get("/api/gaps?mode=marche&minutes=5&format=gpkg");
    assert_eq!(gpkg.status, 200);
    let file = dir.path().join("manques-a-pied.gpkg");
    std::fs::write(&file, &gpkg.bytes).unwrap();
    let out = Command::new("ogrinfo")
        .args([
            "-q",
            "-sql",
            "SELECT code, cut, median_min, walk_basis FROM manques ORDER BY code",
        ])
        .arg(&file)
        .output()
        .expect("ogrinfo (gdal-bin)");
    let said = String::from_utf8_lossy(&out.stdout);
    assert!(
        said.contains("QN00601M") && said.contains("QN00602M"),
        "{said}"
    );
    assert!(said.contains("walk_basis (String) = outline"), "{said}");
    assert!(said.contains("walk_basis (String) = no_network"), "{said}");
    assert!(said.contains("cut (Integer(Boolean)) = 1"), "{said}");
    // Parameters checked.
    assert_eq!(s.get("/api/gaps?mode=marche&radius_m=500").status, 400);
    assert_eq!(s.get("/api/gaps?mode=marche&minutes=0").status, 400);
    assert_eq!(s.get("/api/gaps?mode=velo").status, 400);
    assert_eq!(s.get("/api/gaps?minutes=15").status, 400);
}

#[test]
fn isochrones_are_valid_polygons_smaller_than_the_straight_line_circle() {
    let dir = tempfile::tempdir().unwrap();
    let s = server(dir.path(), true);
    let point = s.get("/api/isochrone?lon=7.4246&lat=43.7384&minutes=10");
    assert_eq!(point.status, 200, "{}", text(&point));
    let qpv = s.get("/api/qpv/QN00601M/isochrone?minutes=10");
    assert_eq!(qpv.status, 200);
    for (name, answer) in [("point", &point), ("qpv", &qpv)] {
        assert_eq!(answer.json["type"], "Feature");
        assert_eq!(answer.json["properties"]["minutes"], 10.0);
        assert_eq!(answer.json["properties"]["crow_flies_radius_m"], 750.0);
        let kind = answer.json["geometry"]["type"].as_str().unwrap();
        assert!(kind == "Polygon" || kind == "MultiPolygon", "{kind}");
        // GDAL (GEOS) says whether it is valid, and its area.
        let file = dir.path().join(format!("{name}.geojson"));
        std::fs::write(&file, text(answer)).unwrap();
        let out = Command::new("ogrinfo")
            .args(["-q", "-dialect", "SQLite", "-sql"])
            .arg(format!(
                "SELECT ST_IsValid(geometry) AS valid, ST_Area(ST_Transform(geometry, 32632)) AS m2 FROM {name}"
            ))
            .arg(&file)
            .output()
            .expect("ogrinfo (gdal-bin)");
        let text = String::from_utf8_lossy(&out.stdout);
        assert!(text.contains("valid (Integer) = 1"), "{name}: {text}");
        let m2: f64 = text
            .lines()
            .find_map(|l| l.trim().strip_prefix("m2 (Real) = "))
            .unwrap()
            .parse()
            .unwrap();
        // Streets, not a disc: less than the 750 m circle's 1.77 km².
        assert!(m2 > 50_000.0 && m2 < 1_767_000.0, "{name}: {m2}");
    }
    // The fiche draws the streets and the walkable area, and names both.
    let fiche = text(&s.get("/qpv/QN00601M/fiche"));
    assert!(
        fiche.contains("à moins de 15 min à pied depuis les rues du quartier (4,5 km/h"),
        "{fiche}"
    );
    assert!(fiche.contains(r##"stroke="#c8c8c8""##), "streets drawn");
    assert!(
        text(&s.get("/qpv/QN00602M/fiche"))
            .contains("le réseau piéton chargé ne couvre pas ce quartier")
    );
    // Off the network, and a QPV outside it: said, not drawn.
    let sea = s.get("/api/isochrone?lon=7.2&lat=43.6");
    assert_eq!(sea.status, 404);
    assert!(
        sea.json["message"]
            .as_str()
            .unwrap()
            .contains("aucune voie piétonne")
    );
    let nice = s.get("/api/qpv/QN00602M/isochrone");
    assert_eq!(nice.status, 409);
    assert_eq!(nice.json["error"], "no_walk_network");
    assert_eq!(
        s.get("/api/isochrone?lon=7.4246&lat=43.7384&minutes=61")
            .status,
        400
    );
}

#[test]
fn without_a_network_the_answers_say_so() {
    let dir = tempfile::tempdir().unwrap();
    let s = server(dir.path(), false);
    for path in [
        "/api/gaps?mode=marche",
        "/api/isochrone?lon=7.4246&lat=43.7384",
        "/api/qpv/QN00601M/isochrone",
    ] {
        let answer = s.get(path);
        assert_eq!(answer.status, 409, "{path}");
        assert_eq!(answer.json["error"], "no_walk_network");
        assert!(
            answer.json["message"]
                .as_str()
                .unwrap()
                .contains("aucun réseau piéton chargé"),
            "{path}: {}",
            text(&answer)
        );
    }
    assert!(
        text(&s.get("/qpv/QN00601M/fiche"))
            .contains("aucun réseau piéton chargé (rues non dessinées)")
    );
    // The radius analysis is untouched.
    assert_eq!(s.get("/api/gaps").status, 200);
}

#[test]
fn the_graph_is_kept_and_every_nodes_distance_agrees_with_pandana() {
    let dir = tempfile::tempdir().unwrap();
    let extract = monaco();
    let points = dir.path().join("points.csv");
    std::fs::write(
        &points,
        "id,lon,lat\nrocher,7.4235,43.7315\nmonte-carlo,7.4270,43.7405\nfontvieille,7.4160,43.7290\nbeausoleil,7.4230,43.7450\n",
    )
    .unwrap();
    let walk = |state: &Path| {
        Command::new(binary())
            .args(["--state"])
            .arg(state)
            .args(["walk", "nearest", "--from-nodes", "--osm"])
            .arg(&extract)
            .arg("--points")
            .arg(&points)
            .output()
            .unwrap()
    };
    let state = dir.path().join("state");
    let first = walk(&state);
    assert!(
        first.status.success(),
        "{}",
        String::from_utf8_lossy(&first.stderr)
    );
    let graphs: Vec<_> = std::fs::read_dir(state.join("walk")).unwrap().collect();
    assert_eq!(graphs.len(), 1, "one graph kept in the state directory");
    // Read back the second time: the same answer.
    let second = walk(&state);
    assert_eq!(first.stdout, second.stdout);
    let ours = dir.path().join("ess-map.csv");
    std::fs::write(&ours, &first.stdout).unwrap();
    let python = python_tool(
        "pandana-venv",
        &["pyrosm==0.25.0", "pandana==0.8"],
        "python",
    );
    let out = Command::new(python)
        .arg(root().join("tests/walk/pandana_peer.py"))
        .arg(&extract)
        .arg(&points)
        .arg(&ours)
        .arg("4500")
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let stdout = String::from_utf8_lossy(&out.stdout);
    let report: serde_json::Value = serde_json::from_str(stdout.lines().last().unwrap()).unwrap();
    eprintln!("pandana peer: {report}");
    // The two networks hold nearly the same nodes (the rules differ a
    // little: see tests/walk/README.md); where both measure, they agree
    // within 1 m + 1 % for at least 97 % of the nodes.
    assert!(report["nodes_in_both_with_a_distance"].as_u64().unwrap() > 10_000);
    assert!(
        report["share_agreeing"].as_f64().unwrap() >= 0.97,
        "{report}"
    );
    assert!(
        report["median_abs_diff_m"].as_f64().unwrap() < 3.0,
        "{report}"
    );
}

#[test]
fn an_extract_is_fetched_only_when_named_and_then_found_without_flags() {
    let dir = tempfile::tempdir().unwrap();
    let mirror = dir.path().join("mirror");
    std::fs::create_dir_all(&mirror).unwrap();
    // The mirror serves each download as `<id>.<extension>`.
    std::fs::copy(monaco(), mirror.join("osm-ile-de-france.pbf")).unwrap();
    let state = dir.path().join("state");
    let ess_map = |args: &[&str]| {
        Command::new(binary())
            .arg("--state")
            .arg(&state)
            .args(args)
            .output()
            .unwrap()
    };
    // Not named: not fetched (the other downloads fail: not in this mirror).
    let all = ess_map(&["data", "fetch", "--mirror", mirror.to_str().unwrap()]);
    let said = String::from_utf8_lossy(&all.stderr);
    assert!(!said.contains("osm-ile-de-france"), "{said}");
    assert!(
        !state
            .join("downloads/osm/ile-de-france-latest.osm.pbf")
            .exists()
    );
    // Named: fetched, pinned on first fetch.
    let named = ess_map(&[
        "data",
        "fetch",
        "osm-ile-de-france",
        "--accept-new",
        "--mirror",
        mirror.to_str().unwrap(),
    ]);
    assert!(
        named.status.success(),
        "{}",
        String::from_utf8_lossy(&named.stderr)
    );
    assert!(
        state
            .join("downloads/osm/ile-de-france-latest.osm.pbf")
            .is_file()
    );
    // Found without --osm.
    let built = ess_map(&["walk", "build"]);
    let said = String::from_utf8_lossy(&built.stderr);
    assert!(built.status.success(), "{said}");
    assert!(said.contains("24389 nœuds"), "{said}");
}

/// A Filosofi 200 m file (`carreaux_200m_met.csv`, its published columns,
/// `;`, squares named by their south-west corner in ETRS89-LAEA): a 3 × 3
/// block over La Condamine, 850 people in each of its two southern rows and
/// 12.5 in the northern one, and one square of Martinique (another CRS,
/// read apart).
fn population_grid() -> String {
    let mut text = String::from(
        "Idcar_200m;Idcar_1km;Idcar_nat;I_est_200;I_est_1km;lcog_geo;Ind;Men;Men_pauv\n",
    );
    for east in [4_112_400, 4_112_600, 4_112_800] {
        for (north, people) in [
            (2_295_000, "850.0;386.4;42.5"),
            (2_295_200, "850.0;386.4;42.5"),
            (2_295_400, "12.5;5.7;0.6"),
        ] {
            let square = format!("CRS3035RES200mN{north}E{east}");
            text +=
                &format!("{square};CRS3035RES1000mN2295000E4112000;{square};1;0;06012;{people}\n");
        }
    }
    text += "CRS5490RES200mN1796800E695200;CRS5490RES1000mN1796000E695000;CRS5490RES200mN1796800E695200;1;0;97209;48.0;20.0;4.0\n";
    text
}

#[test]
fn the_population_grid_weights_the_share_of_a_qpv_within_the_walk() {
    let dir = tempfile::tempdir().unwrap();
    let plain = server(&dir.path().join("plain"), true);
    // Filosofi's published columns: the south of La Condamine, nearer the
    // Rocher, holds most people.
    let grid = dir.path().join("carreaux_200m_met.csv");
    std::fs::write(&grid, population_grid()).unwrap();
    let weighted = server_with(
        &dir.path().join("weighted"),
        true,
        &format!("population_grid = {:?}\n", grid.to_str().unwrap()),
    );
    let row = |s: &Server| {
        let answer = s.get("/api/gaps?mode=marche&minutes=10");
        assert_eq!(answer.status, 200);
        let rows = answer.json["gaps"].as_array().unwrap().clone();
        (
            answer.json.clone(),
            rows.into_iter().find(|r| r["code"] == "QN00601M").unwrap(),
        )
    };
    let (plain_body, plain_row) = row(&plain);
    let (weighted_body, weighted_row) = row(&weighted);
    assert!(plain_body["population_grid"].is_null());
    assert_eq!(weighted_body["population_grid"], "carreaux_200m_met.csv");
    assert_eq!(plain_row["weighted_by_population"], serde_json::Value::Null);
    let (a, b) = (
        plain_row["share_within"].as_f64().unwrap(),
        weighted_row["share_within"].as_f64().unwrap(),
    );
    assert!(
        b > a,
        "people live nearer the recyclerie: {a} by streets, {b} by people"
    );
    let csv = text(&weighted.get("/api/gaps?mode=marche&minutes=10&format=csv"));
    assert!(
        csv.contains("population (carreaux Filosofi 200 m)"),
        "{csv}"
    );
    assert!(
        csv.contains(
            "Part pondérée par la population des carreaux de 200 m (carreaux_200m_met.csv"
        )
    );
    let csv = text(&plain.get("/api/gaps?mode=marche&minutes=10&format=csv"));
    assert!(csv.contains("non pondérée : population carroyée non chargée"));
}

#[test]
fn a_damaged_extract_is_refused_by_name_and_the_server_says_so_without_its_paths() {
    let dir = tempfile::tempdir().unwrap();
    let broken = dir.path().join("coupe.osm.pbf");
    let bytes = std::fs::read(monaco()).unwrap();
    std::fs::write(&broken, &bytes[..bytes.len() / 3]).unwrap();
    let out = Command::new(binary())
        .arg("--state")
        .arg(dir.path().join("state"))
        .args(["walk", "build", "--osm"])
        .arg(&broken)
        .env_remove("RUST_BACKTRACE")
        .output()
        .unwrap();
    assert!(!out.status.success());
    let said = String::from_utf8_lossy(&out.stderr);
    assert!(said.contains("coupe.osm.pbf: bloc illisible"), "{said}");
    assert!(
        !dir.path().join("state/walk").exists()
            || std::fs::read_dir(dir.path().join("state/walk"))
                .unwrap()
                .count()
                == 0
    );
    // A server given it answers, and its walking routes say what failed,
    // by file name only.
    let data = fixture();
    let config = dir.path().join("ess-map.toml");
    std::fs::write(&config, format!("osm = [{:?}]\n", broken.to_str().unwrap())).unwrap();
    let s = Server::start_on(
        &data,
        &dir.path().join("served"),
        &[
            "--config",
            config.to_str().unwrap(),
            "--manifest",
            data.join("manifest.toml").to_str().unwrap(),
            "--geocoder",
            "none",
        ],
    );
    let mut answer = s.get("/api/gaps?mode=marche");
    for _ in 0..100 {
        if answer.status != 503 {
            break;
        }
        std::thread::sleep(std::time::Duration::from_millis(100));
        answer = s.get("/api/gaps?mode=marche");
    }
    assert_eq!(answer.status, 409);
    let message = answer.json["message"].as_str().unwrap();
    assert!(
        message.contains("n'a pas pu être construit (coupe.osm.pbf)"),
        "{message}"
    );
    assert!(!message.contains(dir.path().to_str().unwrap()), "{message}");
    assert_eq!(s.get("/api/gaps").status, 200);
}
