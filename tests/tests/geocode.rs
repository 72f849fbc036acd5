//! Geocoding against a real addok, indexed with real addresses whose
//! coordinates are known (the SIAE list's), and the fallback to the commune's
//! centre when addok finds nothing, scores low, is down or is slow.

use std::collections::HashMap;
use std::io::Write;
use std::path::Path;

use ess_map_e2e::{AddokServer, Server, create_token, data_file, free_port, import};
use serde_json::{Value, json};

/// A known address: as written, and where it is.
#[derive(Clone)]
struct Known {
    number: String,
    street: String,
    postcode: String,
    city: String,
    lon: f64,
    lat: f64,
}

/// Addresses of the SIAE list in five départements, one per street number,
/// and addok's JSON lines for them: a street document with its house numbers,
/// and one document per commune.
fn known_addresses() -> (Vec<Known>, String) {
    let dir = tempfile::tempdir().unwrap();
    let siae = data_file(dir.path(), "ess/siae_lemarche.csv");
    let mut reader = csv::Reader::from_path(siae).unwrap();
    let headers = reader.headers().unwrap().clone();
    let col = |name: &str| headers.iter().position(|h| h == name).unwrap();
    let (address, postcode, commune, department, lon, lat) = (
        col("address"),
        col("postcode"),
        col("commune"),
        col("department"),
        col("lon"),
        col("lat"),
    );
    let mut known: Vec<Known> = Vec::new();
    for r in reader.records() {
        let r = r.unwrap();
        if !["30", "31", "34", "75", "93"].contains(&&r[department]) {
            continue;
        }
        let a = r[address].trim();
        let Some((number, street)) = a.split_once(' ') else {
            continue;
        };
        if !number.bytes().all(|b| b.is_ascii_digit())
            || street.starts_with(|c: char| c.is_ascii_digit())
            || r[postcode].is_empty()
            || r[commune].is_empty()
        {
            continue;
        }
        let (Ok(x), Ok(y)) = (r[lon].parse::<f64>(), r[lat].parse::<f64>()) else {
            continue;
        };
        let k = Known {
            number: number.into(),
            street: street.trim().into(),
            postcode: r[postcode].into(),
            city: r[commune].into(),
            lon: x,
            lat: y,
        };
        if !known
            .iter()
            .any(|o| (&o.number, &o.street, &o.postcode) == (&k.number, &k.street, &k.postcode))
        {
            known.push(k);
        }
    }
    let mut streets: HashMap<(String, String), Vec<&Known>> = HashMap::new();
    for k in &known {
        streets
            .entry((k.street.clone(), k.postcode.clone()))
            .or_default()
            .push(k);
    }
    let mut lines = String::new();
    let mut cities: HashMap<String, &Known> = HashMap::new();
    for (i, ((street, postcode), members)) in streets.iter().enumerate() {
        let numbers: serde_json::Map<String, Value> = members
            .iter()
            .map(|k| (k.number.clone(), json!({ "lon": k.lon, "lat": k.lat })))
            .collect();
        let first = members[0];
        lines += &format!(
            "{}\n",
            json!({ "id": format!("street-{i}"), "type": "street", "name": street, "postcode": postcode,
                    "city": first.city, "lon": first.lon, "lat": first.lat, "importance": 0.5,
                    "housenumbers": numbers })
        );
        cities.entry(postcode.clone()).or_insert(first);
    }
    for (i, (postcode, k)) in cities.iter().enumerate() {
        lines += &format!(
            "{}\n",
            json!({ "id": format!("city-{i}"), "type": "municipality", "name": k.city, "postcode": postcode,
                    "city": k.city, "lon": k.lon, "lat": k.lat, "importance": 0.8 })
        );
    }
    (known, lines)
}

/// Metres between two nearby points (equirectangular; exact to far below a
/// metre at these distances).
fn metres(a: (f64, f64), b: (f64, f64)) -> f64 {
    let lat = ((a.1 + b.1) / 2.0).to_radians();
    let dx = (a.0 - b.0).to_radians() * lat.cos() * 6_371_000.0;
    let dy = (a.1 - b.1).to_radians() * 6_371_000.0;
    dx.hypot(dy)
}

fn write_csv(path: &Path, rows: &[[&str; 4]]) {
    let mut f = std::fs::File::create(path).unwrap();
    writeln!(f, "nom;adresse;code postal;commune").unwrap();
    for r in rows {
        writeln!(f, "{}", r.join(";")).unwrap();
    }
}

/// `ess-map import` with a geocoder and a configuration; its JSON summary.
fn import_with(state: &Path, file: &Path, geocoder: &str, config: &str) -> Value {
    let config_path = state.join("ess-map.toml");
    std::fs::create_dir_all(state).unwrap();
    std::fs::write(&config_path, config).unwrap();
    let config = config_path.to_str().unwrap();
    import(
        state,
        file,
        "inventaire",
        &["--config", config, "--geocoder", geocoder],
    )
}

/// The imported initiatives by name, from a server on that state.
fn imported(state: &Path) -> HashMap<String, Value> {
    let server = Server::start_with(state, &["--geocoder", "none"]);
    let list = server
        .get("/api/initiatives?source=inventaire&limit=1000")
        .json;
    list["features"]
        .as_array()
        .unwrap()
        .iter()
        .map(|f| {
            (
                f["properties"]["name"].as_str().unwrap().to_string(),
                f.clone(),
            )
        })
        .collect()
}

fn position(f: &Value) -> (f64, f64) {
    let c = &f["geometry"]["coordinates"];
    (c[0].as_f64().unwrap(), c[1].as_f64().unwrap())
}

#[test]
fn addresses_geocoded_by_a_real_addok_come_back_with_their_known_coordinates() {
    let (known, documents) = known_addresses();
    assert!(known.len() > 200, "{}", known.len());
    let addok = AddokServer::start(&documents);
    let dir = tempfile::tempdir().unwrap();

    // Exact addresses (every 3rd known one), and fuzzy ones: no accents,
    // lower case, a typo in the street's last word.
    let exact: Vec<&Known> = known.iter().step_by(3).collect();
    let fuzzy: Vec<&Known> = known.iter().skip(1).step_by(25).collect();
    let mut rows: Vec<[String; 4]> = Vec::new();
    for (i, k) in exact.iter().enumerate() {
        rows.push([
            format!("exact-{i}"),
            format!("{} {}", k.number, k.street),
            k.postcode.clone(),
            k.city.clone(),
        ]);
    }
    for (i, k) in fuzzy.iter().enumerate() {
        let mut street = k
            .street
            .to_lowercase()
            .replace(['é', 'è', 'ê'], "e")
            .replace('â', "a");
        street.pop();
        rows.push([
            format!("fuzzy-{i}"),
            format!("{} {}", k.number, street),
            k.postcode.clone(),
            k.city.clone(),
        ]);
    }
    let file = dir.path().join("inventaire.csv");
    let borrowed: Vec<[&str; 4]> = rows
        .iter()
        .map(|r| [&*r[0], &*r[1], &*r[2], &*r[3]])
        .collect();
    write_csv(&file, &borrowed);
    let state = dir.path().join("state");
    let summary = import_with(&state, &file, &addok.url, "");
    assert_eq!(summary["new"], rows.len());
    let placed = imported(&state);
    let mut worst = 0.0f64;
    for (prefix, list) in [("exact", &exact), ("fuzzy", &fuzzy)] {
        for (i, k) in list.iter().enumerate() {
            let f = &placed[&format!("{prefix}-{i}")];
            assert_eq!(
                f["properties"]["precision"], "housenumber",
                "{prefix}-{i} {} {}",
                k.number, k.street
            );
            let d = metres(position(f), (k.lon, k.lat));
            assert!(d <= 10.0, "{prefix}-{i}: {d} m from the known point");
            worst = worst.max(d);
        }
    }
    println!(
        "{} exact and {} fuzzy addresses through addok's batch endpoint: all at the house number, at most {worst:.2} m from their known point",
        exact.len(),
        fuzzy.len()
    );

    // One address through `/search/` (an edit through the API).
    let server = Server::start_with(&state, &["--geocoder", &addok.url]);
    let token = create_token(&state, "t", "editor");
    let k = &known[2];
    let body = json!({ "name": "Saisie", "address": format!("{} {}", k.number, k.street), "postcode": k.postcode, "commune": k.city });
    let created = server.send(
        "POST",
        "/api/initiatives",
        Some(&token),
        Some(("application/json", body.to_string().into_bytes())),
    );
    assert_eq!(created.status, 201, "{}", created.json);
    assert_eq!(created.json["properties"]["precision"], "housenumber");
    assert!(metres(position(&created.json), (k.lon, k.lat)) <= 10.0);
    drop(server);

    // No such address, and a score under the threshold: the commune's
    // centre, marked as such, and said in the report.
    // A vague query (one word of the street, a wrong number) finds
    // something, with a middling score; the threshold is set just above it.
    let k = &known[0];
    let vague_word = k.street.split(' ').next_back().unwrap();
    let garbled = format!("999 {vague_word}");
    let score = ureq::get(format!("{}/search/", addok.url))
        .query("q", format!("{garbled} {} {}", k.postcode, k.city))
        .query("limit", "1")
        .query("autocomplete", "0")
        .call()
        .unwrap()
        .body_mut()
        .read_json::<Value>()
        .unwrap()["features"][0]["properties"]["score"]
        .as_f64()
        .expect("addok finds something for the vague query");
    println!("vague query `{garbled}`: best score {score:.3}");
    let file = dir.path().join("fallback.csv");
    write_csv(
        &file,
        &[
            ["garbled", &garbled, &k.postcode, &k.city],
            ["nowhere", "9 zzyzx qwvbnm", "31000", "Toulouse"],
        ],
    );
    let state = dir.path().join("state-fallback");
    let summary = import_with(
        &state,
        &file,
        &addok.url,
        &format!("geocoder_min_score = {}\n", score + 0.01),
    );
    assert_eq!(
        (
            summary["placed_at_commune_centre"].as_u64(),
            summary["placed_by_geocoder"].as_u64()
        ),
        (Some(2), Some(0)),
        "{summary}"
    );
    let placed = imported(&state);
    for name in ["garbled", "nowhere"] {
        assert_eq!(placed[name]["properties"]["precision"], "municipality");
        assert_eq!(
            placed[name]["properties"]["qpv_location"]["status"],
            "commune_only"
        );
    }
    let report = std::fs::read_to_string(summary["report"].as_str().unwrap()).unwrap();
    assert!(report.contains("below the threshold"), "{report}");
    assert!(report.contains("found no such address"), "{report}");
}

#[test]
fn a_geocoder_down_or_too_slow_falls_back_to_the_commune_centre() {
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("inventaire.csv");
    write_csv(&file, &[["Atelier", "12 rue de la Paix", "75002", "Paris"]]);

    // Down: nothing listens there.
    let down = format!("http://127.0.0.1:{}", free_port());
    let summary = import_with(&dir.path().join("down"), &file, &down, "");
    assert_eq!(summary["placed_at_commune_centre"], 1, "{summary}");
    let report = std::fs::read_to_string(summary["report"].as_str().unwrap()).unwrap();
    assert!(report.contains("unreachable or failing"), "{report}");

    // Slow: accepts connections, never answers.
    let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let slow = format!("http://{}", listener.local_addr().unwrap());
    let held = std::thread::spawn(move || {
        let mut open = Vec::new();
        for stream in listener.incoming().take(3) {
            open.push(stream);
        }
        std::thread::sleep(std::time::Duration::from_secs(30));
    });
    let started = std::time::Instant::now();
    let summary = import_with(
        &dir.path().join("slow"),
        &file,
        &slow,
        "geocoder_timeout_s = 0.2\n",
    );
    let took = started.elapsed();
    assert_eq!(summary["placed_at_commune_centre"], 1, "{summary}");
    let placed = imported(&dir.path().join("slow"));
    let paris = position(&placed["Atelier"]);
    assert!(
        metres(paris, (2.347, 48.8589)) < 1.0,
        "Paris's centre: {paris:?}"
    );
    // Three attempts of 1.2 s (a batch gets 6 timeouts), with back-off.
    assert!(took.as_secs_f64() < 20.0, "{took:?}");
    drop(held);
}

/// Runs openpyxl (from PyPI) on a script, with arguments.
fn openpyxl(script: &str, args: &[&Path]) -> String {
    let python = ess_map_e2e::python_tool("openpyxl-venv", &["openpyxl==3.1.5"], "python");
    let out = std::process::Command::new(python)
        .args(["-c", script])
        .args(args)
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8(out.stdout).unwrap()
}

/// LibreOffice converts a workbook (headless), in `dir`.
fn soffice(dir: &Path, file: &Path, to: &str) {
    let out = std::process::Command::new("soffice")
        .arg(format!(
            "-env:UserInstallation=file://{}/profile",
            dir.display()
        ))
        .args(["--headless", "--convert-to", to, "--outdir"])
        .arg(dir)
        .arg(file)
        .output()
        .expect("LibreOffice (Debian's libreoffice-calc-nogui) is needed");
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
}

/// « Lesquelles de nos structures sont en QPV ? » for a workbook of
/// addresses written by a library (openpyxl), through a real addok: each row
/// comes back, in an XLSX, with the QPV the server finds at the address's
/// known point, the score and precision; an address addok does not know is
/// placed at its commune's centre and so not located, and says so. The same
/// workbook as ODS (converted by LibreOffice) comes back as ODS.
#[test]
fn a_workbook_of_addresses_is_located_through_addok() {
    let (known, documents) = known_addresses();
    let addok = AddokServer::start(&documents);
    let dir = tempfile::tempdir().unwrap();
    // (« 3 bis rue … » is indexed here as number 3 of a street « bis rue … ».)
    let picked: Vec<&Known> = known
        .iter()
        .filter(|k| !k.street.starts_with("bis ") && !k.street.starts_with("ter "))
        .step_by(7)
        .take(40)
        .collect();
    let mut rows = vec![json!([
        "Structure",
        "Adresse",
        "Code postal",
        "Ville",
        "Effectif"
    ])];
    for (i, k) in picked.iter().enumerate() {
        // Postcodes as numbers, as a spreadsheet keeps them.
        rows.push(json!([
            format!("S{i}"),
            format!("{} {}", k.number, k.street),
            k.postcode.parse::<u32>().unwrap(),
            k.city,
            i
        ]));
    }
    let lost = &picked[0];
    rows.push(json!([
        "Inconnue",
        "999 chemin qui n'existe pas",
        lost.postcode,
        lost.city,
        1
    ]));
    rows.push(json!(["Vide", null, null, null, 2]));
    let input = dir.path().join("structures.xlsx");
    let rows_file = dir.path().join("rows.json");
    std::fs::write(&rows_file, serde_json::to_vec(&rows).unwrap()).unwrap();
    openpyxl(
        "import json, sys, openpyxl\nb = openpyxl.Workbook()\ns = b.active\nfor r in json.load(open(sys.argv[1])): s.append(r)\nb.save(sys.argv[2])",
        &[&rows_file, &input],
    );
    let output = dir.path().join("résultat.xlsx");
    let run = ess_map_e2e::ess_map()
        .args(["locate", "--geocoder", &addok.url, "--data"])
        .arg(ess_map_e2e::data_dir())
        .arg(&input)
        .arg("--out")
        .arg(&output)
        .output()
        .unwrap();
    assert!(
        run.status.success(),
        "{}",
        String::from_utf8_lossy(&run.stderr)
    );
    let stderr = String::from_utf8_lossy(&run.stderr);
    assert!(
        stderr.contains(&format!(
            "{} rows ({} geocoded)",
            picked.len() + 2,
            picked.len() + 1
        )),
        "{stderr}"
    );
    let read = "import json, sys, openpyxl\nprint(json.dumps([list(r) for r in openpyxl.load_workbook(sys.argv[1]).active.iter_rows(values_only=True)]))";
    let table: Vec<Vec<Value>> = serde_json::from_str(&openpyxl(read, &[&output])).unwrap();
    assert_eq!(
        table[0],
        json!([
            "Structure",
            "Adresse",
            "Code postal",
            "Ville",
            "Effectif",
            "statut_qpv",
            "code_qpv",
            "nom_qpv",
            "distance_m",
            "score_geocodage",
            "precision",
            "remarque"
        ])
        .as_array()
        .unwrap()
        .clone()
    );
    let server = Server::start();
    let mut inside = 0;
    for (i, k) in picked.iter().enumerate() {
        let row = &table[i + 1];
        assert_eq!(row[0], json!(format!("S{i}")));
        assert_eq!(row[4], json!(i), "numbers stay numbers");
        assert_eq!(row[10], "numéro", "{row:?}");
        assert!(row[9].as_f64().unwrap() >= 0.5, "{row:?}");
        let expected = server
            .get(&format!(
                "/api/locate?lon={}&lat={}&radius_m=300",
                k.lon, k.lat
            ))
            .json;
        // The workbook says in French what /api/locate says in codes.
        let french = match expected["status"].as_str().unwrap() {
            "inside" => "dans un QPV",
            "near" => "à proximité d'un QPV",
            "unknown" => "non vérifiable",
            _ => "hors QPV",
        };
        assert_eq!(row[5], french, "{row:?} vs {expected}");
        assert_eq!(
            row[6].as_str().unwrap_or(""),
            expected["qpv"]["code"].as_str().unwrap_or(""),
            "{row:?}"
        );
        inside += usize::from(row[5] == "dans un QPV");
    }
    assert!(inside > 0, "some structures are in a QPV");
    let unknown = &table[picked.len() + 1];
    assert_eq!(
        (unknown[5].as_str(), unknown[10].as_str()),
        (Some("non localisée"), Some("commune")),
        "{unknown:?}"
    );
    assert!(
        unknown[11]
            .as_str()
            .unwrap()
            .contains("centre de sa commune"),
        "{unknown:?}"
    );
    let empty = &table[picked.len() + 2];
    assert_eq!(empty[5], "non localisée");
    assert_eq!(empty[11], "ni coordonnées ni adresse");

    // The same as ODS, back as ODS (read by LibreOffice as CSV).
    soffice(dir.path(), &input, "ods");
    let ods_out = dir.path().join("sortie.ods");
    let run = ess_map_e2e::ess_map()
        .args(["locate", "--geocoder", &addok.url, "--data"])
        .arg(ess_map_e2e::data_dir())
        .arg(dir.path().join("structures.ods"))
        .arg("--out")
        .arg(&ods_out)
        .output()
        .unwrap();
    assert!(
        run.status.success(),
        "{}",
        String::from_utf8_lossy(&run.stderr)
    );
    soffice(
        dir.path(),
        &ods_out,
        "csv:Text - txt - csv (StarCalc):44,34,76",
    );
    let csv_text = std::fs::read_to_string(dir.path().join("sortie.csv")).unwrap();
    let first_rows: Vec<&str> = csv_text.lines().take(2).collect();
    assert!(
        first_rows[0]
            .ends_with("statut_qpv,code_qpv,nom_qpv,distance_m,score_geocodage,precision,remarque"),
        "{first_rows:?}"
    );
    let status_of_first = first_rows[1].split(',').nth(5).unwrap();
    assert_eq!(
        status_of_first,
        table[1][5].as_str().unwrap(),
        "{first_rows:?}"
    );
}
