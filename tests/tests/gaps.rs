//! Gap analysis over HTTP and on the command line, from the real binary.

use ess_map_e2e::{Server, data_dir, ess_map};

#[test]
fn gap_table_in_json_csv_and_geojson() {
    let s = Server::start();
    let json = s.get("/api/gaps?radius_m=300&category=insertion_aci,insertion_ei");
    assert_eq!(json.status, 200, "{}", String::from_utf8_lossy(&json.bytes));
    let body = &json.json;
    // The QPV in force (2024, 2025); the replaced 2015 ones only when asked.
    assert_eq!(body["count"], 1493);
    assert!(
        body["gaps"]
            .as_array()
            .unwrap()
            .iter()
            .all(|g| g["generation"] != 2015)
    );
    assert_eq!(
        s.get("/api/gaps?radius_m=300&category=insertion_aci&generation=2015")
            .json["count"],
        105
    );
    assert_eq!(body["radius_m"], 300.0);
    assert!(body["ranking"].as_str().unwrap().contains("population"));
    let gaps = body["gaps"].as_array().unwrap();
    let first = &gaps[0];
    assert_eq!(first["gap"], true);
    assert!(first["insertion_aci_nearest_m"].as_f64().unwrap() > 300.0);
    // Two rankings, never mixed: outline-based rows, then commune-level ones.
    let bases: Vec<&str> = gaps.iter().map(|g| g["basis"].as_str().unwrap()).collect();
    let first_commune = bases.iter().position(|b| *b == "communes").unwrap();
    assert!(bases[first_commune..].iter().all(|b| *b == "communes"));
    for part in [&gaps[..first_commune], &gaps[first_commune..]] {
        let priorities: Vec<f64> = part
            .iter()
            .map(|g| g["priority"].as_f64().unwrap())
            .collect();
        assert!(priorities.windows(2).all(|w| w[0] >= w[1]));
    }
    assert!(gaps.iter().any(|g| g["basis"] == "communes"));

    // For scripts: the API's column names, `,`, decimal points.
    let csv = s.get("/api/gaps?departement=93&format=csv&csv=script");
    assert_eq!(csv.content_type, "text/csv; charset=utf-8");
    let text = String::from_utf8(csv.bytes).unwrap();
    let (preamble, lines): (Vec<&str>, Vec<&str>) = text.lines().partition(|l| l.starts_with('#'));
    assert!(preamble[0].contains("à 500 m"), "{preamble:?}");
    // Each dataset's date: the SIAE list is a 2021 snapshot.
    assert!(preamble[1].contains("(2021-02)"), "{preamble:?}");
    assert!(preamble.iter().all(|l| !l.contains([',', ';'])));
    assert!(lines[0].starts_with(
        "code,name,communes,departement,generation,population,basis,inside,within,nearest_m"
    ));
    assert_eq!(lines.len(), 1 + 75);

    // By default, for a French spreadsheet: byte order mark, `;`, decimal
    // commas, French column names, oui/non, and a file name that says what
    // was asked.
    let sheet = s.get("/api/gaps?departement=93&format=csv&radius_m=300&category=siae");
    assert!(
        sheet.headers["content-disposition"].contains("filename=\"manques-300m-siae-93.csv\""),
        "{:?}",
        sheet.headers
    );
    let french = String::from_utf8(sheet.bytes).unwrap();
    let french = french
        .strip_prefix('\u{feff}')
        .expect("a UTF-8 byte order mark");
    let header = french.lines().nth(2).unwrap();
    assert!(
        header.starts_with("code_qp;nom;communes;departement;generation;population;methode;dans_le_quartier;dans_le_rayon;plus_proche_m;pour_10000_hab;manque;priorite;siae_dans_le_quartier"),
        "{header}"
    );
    let rows: Vec<Vec<&str>> = french
        .lines()
        .skip(3)
        .map(|l| l.split(';').collect())
        .collect();
    assert_eq!(rows.len(), 75);
    let manque = header.split(';').position(|c| c == "manque").unwrap();
    assert!(rows.iter().all(|r| ["oui", "non"].contains(&r[manque])));
    let methode = header.split(';').position(|c| c == "methode").unwrap();
    assert!(
        rows.iter()
            .all(|r| ["contour", "communes"].contains(&r[methode]))
    );
    assert!(rows.iter().any(|r| {
        r.iter()
            .any(|f| f.contains(',') && f.chars().all(|c| c.is_ascii_digit() || c == ','))
    }));

    let geo = s.get("/api/gaps?departement=75&format=geojson&sort=code");
    assert_eq!(geo.content_type, "application/geo+json");
    let features = geo.json["features"].as_array().unwrap();
    assert_eq!(features.len(), 21);
    assert_eq!(features[0]["geometry"]["type"], "MultiPolygon");
    assert_eq!(features[0]["properties"]["code"], "QN07501M");

    let summary = s.get("/api/gaps/summary?radius_m=1000").json;
    let per_dep: u64 = summary["departements"]
        .as_array()
        .unwrap()
        .iter()
        .map(|d| d["qpv"].as_u64().unwrap())
        .sum();
    assert_eq!(per_dep, 1493);
    let seine_saint_denis = summary["departements"]
        .as_array()
        .unwrap()
        .iter()
        .find(|d| d["key"] == "93")
        .unwrap();
    assert_eq!(seine_saint_denis["name"], "Seine-Saint-Denis");

    for (query, parameter) in [
        ("radius_m=-1", "radius_m"),
        ("radius_m=6000", "radius_m"),
        ("category=boulangerie", "category"),
        ("departement=99", "departement"),
        ("commune=99999", "commune"),
        ("sort=hasard", "sort"),
        ("format=xml", "format"),
        ("csv=tab", "csv"),
    ] {
        let r = s.get(&format!("/api/gaps?{query}"));
        assert_eq!(
            (r.status, r.json["parameter"].as_str()),
            (400, Some(parameter)),
            "{query}"
        );
    }
}

/// A commune's QPV by its INSEE code: Saint-Denis (93066), one of the
/// communes the summary lists for the 93 with the same count; the file
/// name records it.
#[test]
fn gaps_of_one_commune() {
    let s = Server::start();
    let rows = s.get("/api/gaps?commune=93066").json["gaps"]
        .as_array()
        .unwrap()
        .clone();
    assert!(rows.len() > 3, "{}", rows.len());
    assert!(rows.iter().all(|r| {
        r["departement"] == "93" && r["communes"].as_str().unwrap().contains("Saint-Denis")
    }));
    let summary = s.get("/api/gaps/summary").json;
    let saint_denis = summary["communes"]
        .as_array()
        .unwrap()
        .iter()
        .find(|c| c["key"] == "93066")
        .unwrap()
        .clone();
    assert_eq!(saint_denis["departement"], "93");
    assert_eq!(saint_denis["qpv"].as_u64(), Some(rows.len() as u64));
    let listed = s.get("/api/qpv?commune=93066").json;
    assert_eq!(listed["count"].as_u64(), Some(rows.len() as u64));
    let csv = s.get("/api/gaps?commune=93066&radius_m=300&category=siae&format=csv");
    assert!(
        csv.headers["content-disposition"].contains("filename=\"manques-300m-siae-93066.csv\""),
        "{:?}",
        csv.headers
    );
}

#[test]
fn the_command_line_writes_what_the_api_serves() {
    let s = Server::start();
    let api = s
        .get("/api/gaps?radius_m=500&category=regie_quartier&departement=93&format=csv")
        .bytes;
    let cli = ess_map()
        .args([
            "gaps",
            "--radius-m",
            "500",
            "--category",
            "regie_quartier",
            "--departement",
            "93",
            "--format",
            "csv",
            "--data",
        ])
        .arg(data_dir())
        .output()
        .unwrap();
    assert!(
        cli.status.success(),
        "{}",
        String::from_utf8_lossy(&cli.stderr)
    );
    assert_eq!(
        String::from_utf8(cli.stdout).unwrap(),
        String::from_utf8(api).unwrap()
    );
    let bad = ess_map()
        .args(["gaps", "--category", "nope", "--data"])
        .arg(data_dir())
        .output()
        .unwrap();
    assert!(!bad.status.success());
    assert!(String::from_utf8_lossy(&bad.stderr).contains("unknown category `nope`"));
}

/// The `siae` group: listed with the categories, accepted by the gap
/// analysis (API and command line), not a map category.
#[test]
fn every_work_integration_structure_as_one_group() {
    let s = Server::start();
    let catalogue = s.get("/api/categories").json;
    let siae = catalogue["groups"]
        .as_array()
        .unwrap()
        .iter()
        .find(|g| g["id"] == "siae")
        .expect("siae group listed");
    let in_categories: u64 = catalogue["categories"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|c| c["id"].as_str().unwrap().starts_with("insertion_"))
        .map(|c| c["initiatives"].as_u64().unwrap())
        .sum();
    // Régies, recycleries… run as SIAE count too.
    assert!(siae["initiatives"].as_u64().unwrap() > in_categories);

    let body = s
        .get("/api/gaps?category=siae&generation=2015&sort=population")
        .json;
    let gaps = body["gaps"].as_array().unwrap();
    assert_eq!(body["categories"], serde_json::json!(["siae"]));
    assert_eq!(gaps.len(), 105);
    let uncovered: Vec<&str> = gaps
        .iter()
        .filter(|g| g["siae_gap"] == true)
        .map(|g| g["code"].as_str().unwrap())
        .collect();
    assert_eq!(uncovered.len(), 44);
    // The most populous Occitanie QPV without an SIAE within 500 m.
    assert_eq!(
        &uncovered[..5],
        ["QP066005", "QP030013", "QP034018", "QP034017", "QP030010"]
    );
    assert_eq!(s.get("/api/initiatives?category=siae").status, 400);

    let cli = ess_map()
        .args(["--data", data_dir().to_str().unwrap()])
        .args([
            "gaps",
            "--category",
            "siae",
            "--generation",
            "2015",
            "--sort",
            "population",
            "--format",
            "json",
        ])
        .output()
        .unwrap();
    assert!(
        cli.status.success(),
        "{}",
        String::from_utf8_lossy(&cli.stderr)
    );
    let printed: serde_json::Value = serde_json::from_slice(&cli.stdout).unwrap();
    assert_eq!(&printed, &body);
}

/// The spreadsheet CSV as LibreOffice Calc opens it (headless, standing in
/// for Excel): `;` splits the columns, the byte order mark gives UTF-8 (the
/// charset is left for Calc to find), decimal commas are numbers in a French
/// locale. Converted to XLSX by `soffice`, then read back from the file.
#[test]
fn the_spreadsheet_csv_opens_in_libreoffice_calc() {
    use std::io::Read;
    let s = Server::start();
    let csv = s
        .get("/api/gaps?departement=93&format=csv&radius_m=300")
        .bytes;
    let json = s.get("/api/gaps?departement=93&radius_m=300").json;
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("manques.csv");
    std::fs::write(&file, &csv).unwrap();
    let status = std::process::Command::new("soffice")
        .arg(format!(
            "-env:UserInstallation=file://{}/profile",
            dir.path().display()
        ))
        .args([
            "--headless",
            "--convert-to",
            "xlsx",
            "--infilter=CSV:59,34,,1,,1036",
            "--outdir",
        ])
        .arg(dir.path())
        .arg(&file)
        .output()
        .expect("LibreOffice (Debian's libreoffice-calc-nogui) is needed");
    assert!(
        status.status.success(),
        "{}",
        String::from_utf8_lossy(&status.stderr)
    );
    let mut xlsx =
        zip::ZipArchive::new(std::fs::File::open(dir.path().join("manques.xlsx")).unwrap())
            .unwrap();
    let mut read = |name: &str| {
        let mut text = String::new();
        xlsx.by_name(name)
            .unwrap()
            .read_to_string(&mut text)
            .unwrap();
        text
    };
    let strings = read("xl/sharedStrings.xml");
    let sheet = read("xl/worksheets/sheet1.xml");
    for column in [
        "code_qp",
        "nom",
        "communes",
        "plus_proche_m",
        "priorite",
        "manque",
        "oui",
    ] {
        assert!(
            strings.contains(&format!(">{column}<")),
            "column {column} in {strings:.400}"
        );
    }
    // Accents as written: the dates line and every QPV name with one.
    assert!(strings.contains("Établissements et services d&apos;aide par le travail"));
    let accented: Vec<&str> = json["gaps"]
        .as_array()
        .unwrap()
        .iter()
        .filter_map(|g| g["name"].as_str())
        .filter(|n| !n.is_ascii())
        .collect();
    assert!(!accented.is_empty());
    for name in accented {
        let escaped = name.replace('&', "&amp;").replace('\'', "&apos;");
        assert!(strings.contains(&escaped), "{name}");
    }
    // A distance with decimals is a number, not text.
    let distance = json["gaps"]
        .as_array()
        .unwrap()
        .iter()
        .filter_map(|g| g["nearest_m"].as_f64())
        .find(|d| d.fract() != 0.0)
        .unwrap();
    assert!(
        sheet.contains(&format!("t=\"n\"><v>{distance}</v>")),
        "{distance}"
    );
}

/// `/api/compare`: territories side by side agree with the gap analysis;
/// refusals name the parameter.
#[test]
fn territories_compared_as_the_gap_analysis_counts_them() {
    let s = Server::start();
    let body = s.get("/api/compare?territories=93,93066&radius_m=300").json;
    let areas = body["territories"].as_array().unwrap();
    assert_eq!(areas[0]["name"], "Seine-Saint-Denis");
    assert_eq!(areas[1]["kind"], "commune");
    let gaps = s.get("/api/gaps?departement=93&radius_m=300").json;
    let rows = gaps["gaps"].as_array().unwrap();
    assert_eq!(areas[0]["qpv"].as_u64(), Some(rows.len() as u64));
    let within: u64 = rows.iter().map(|r| r["within"].as_u64().unwrap()).sum();
    assert_eq!(areas[0]["within"].as_u64(), Some(within));
    let siae = s
        .get("/api/gaps?departement=93&radius_m=300&category=siae")
        .json;
    let without: usize = siae["gaps"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|r| r["gap"] == true)
        .count();
    assert_eq!(areas[0]["without_siae"].as_u64(), Some(without as u64));
    for query in [
        "territories=93",
        "territories=93,99",
        "territories=93,93",
        "territories=1,2,3,4,5,6",
        "territories=93,31&format=xml",
    ] {
        let r = s.get(&format!("/api/compare?{query}"));
        assert_eq!(r.status, 400, "{query}");
    }
}
