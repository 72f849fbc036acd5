//! National inventories imported by their published schema, from fixtures
//! written in those schemas (`tests/fixtures/profiles/make.py`, built from
//! the shipped SIAE list): data·inclusion structures and SIRENE's ESS
//! establishments, with INSEE's QPV compared with ess-map's.

use std::path::PathBuf;

use ess_map_e2e::{Server, data_dir, ess_map, root};
use serde_json::Value;

/// A fixture file, written once per test run by `make.py` under
/// `target/fixtures/profiles` (generated, never committed).
fn fixture(name: &str) -> PathBuf {
    static MADE: std::sync::OnceLock<PathBuf> = std::sync::OnceLock::new();
    let dir = MADE.get_or_init(|| {
        let dir = root().join("target/fixtures/profiles");
        let out = std::process::Command::new("python3")
            .arg(root().join("tests/fixtures/profiles/make.py"))
            .arg(&dir)
            .output()
            .expect("python3 runs");
        assert!(
            out.status.success(),
            "make.py: {}",
            String::from_utf8_lossy(&out.stderr)
        );
        dir
    });
    dir.join(name)
}

/// `ess-map import` with `args`: its JSON summary and its report's lines.
fn import(state: &std::path::Path, args: &[&str]) -> (Value, Vec<csv::StringRecord>) {
    let out = ess_map()
        .arg("--data")
        .arg(data_dir())
        .arg("--state")
        .arg(state)
        .arg("import")
        .args(args)
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let summary: Value = serde_json::from_slice(&out.stdout).unwrap();
    // Written for a spreadsheet: a byte order mark, `;`.
    let text = std::fs::read_to_string(summary["report"].as_str().unwrap()).unwrap();
    let report = csv::ReaderBuilder::new()
        .delimiter(b';')
        .from_reader(text.trim_start_matches('\u{feff}').as_bytes())
        .records()
        .map(Result::unwrap)
        .collect();
    (summary, report)
}

#[test]
fn data_inclusion_structures_import_as_csv_and_as_json_alike() {
    let state = tempfile::tempdir().unwrap();
    let mut summaries = Vec::new();
    for file in [
        "data-inclusion-structures.csv",
        "data-inclusion-structures.json",
    ] {
        let path = fixture(file);
        let (summary, report) = import(
            state.path(),
            &[
                path.to_str().unwrap(),
                "--profile",
                "data-inclusion",
                "--dry-run",
            ],
        );
        // 300 SIAE, 2 with bad fields (kept), 40 structures of France
        // Travail, missions locales, CCAS and CAF (left out, counted).
        assert_eq!(summary["source"], "data-inclusion");
        assert_eq!(summary["read"], 342, "{summary}");
        assert_eq!(summary["valid"], 302, "{summary}");
        let notes = summary["notes"].to_string();
        assert!(
            notes.contains("40 structures of networks outside the ESS left out")
                && notes.contains("réseau mission-locale: 10"),
            "{notes}"
        );
        let reasons: Vec<String> = report
            .iter()
            .map(|r| format!("{} {} {}", &r[0], &r[2], &r[3]))
            .collect();
        // Positions as the file has them: JSON elements, CSV lines (some
        // descriptions hold line breaks).
        let position = if file.ends_with(".json") {
            "element 340"
        } else {
            "line 518"
        };
        assert!(
            reasons
                .iter()
                .any(|r| r.starts_with(&format!("{position} siret `1234` is not 14 digits"))),
            "{reasons:?}"
        );
        assert!(
            reasons.iter().any(|r| r.contains("latitude 123 outside")),
            "{reasons:?}"
        );
        summaries.push(summary);
    }
    // The same structures either way.
    for field in ["valid", "new", "with_coordinates", "by_precision"] {
        assert_eq!(summaries[0][field], summaries[1][field], "{field}");
    }

    // Imported, each network's kind gives its category: the ACI are
    // chantiers d'insertion (or what their name says), the ressourcerie a
    // recyclerie, and all of them count in the SIAE group but that one.
    // data·inclusion lists the SIAE the open list shows: those of a valid
    // SIRET are the same structures, kept but merged into them.
    let json = fixture("data-inclusion-structures.json");
    let (summary, _) = import(
        state.path(),
        &[json.to_str().unwrap(), "--profile", "data-inclusion"],
    );
    assert_eq!(summary["new"], 302, "{summary}");
    let merged = summary["merged"].as_u64().unwrap();
    assert!(merged > 200, "{summary}");
    let token = ess_map_e2e::create_token(state.path(), "lecture", "editor");
    let server = Server::start_with(state.path(), &["--geocoder", "none"]);
    let canal = server
        .get("/api/initiatives?q=Ressourcerie%20du%20Canal&source=data-inclusion")
        .json;
    let canal = &canal["features"][0]["properties"];
    assert_eq!(canal["category"], "recyclerie", "{canal}");
    assert_eq!(canal["source_kind"], "ressourcerie", "{canal}");
    let shown = server
        .get("/api/initiatives?source=data-inclusion&limit=1000")
        .json;
    assert_eq!(shown["total"].as_u64().unwrap(), 302 - merged);
    // Every record as stored, merged or not (their history's last state).
    let imported: Vec<Value> = (1..=302)
        .map(|n| {
            let h = server.send(
                "GET",
                &format!("/api/initiatives/data-inclusion:{n}/history"),
                Some(&token),
                None,
            );
            assert_eq!(h.status, 200, "{n}: {:?}", h.json);
            h.json["history"].as_array().unwrap().last().unwrap()["after"].clone()
        })
        .collect();
    assert_eq!(
        imported
            .iter()
            .filter(|r| r.get("merged_into").is_some())
            .count() as u64,
        merged
    );
    let in_siae_categories = imported
        .iter()
        .filter(|r| {
            r["category"]
                .as_str()
                .is_some_and(|c| c.starts_with("insertion_"))
        })
        .count();
    assert!(in_siae_categories > 200, "{in_siae_categories}");
    assert!(
        imported
            .iter()
            .all(|r| ["ACI", "AI", "EI", "EITI", "ETTI", "ressourcerie"]
                .contains(&r["source_kind"].as_str().unwrap_or(""))),
        "every structure kept has the kind of its network"
    );
}

#[test]
fn sirene_ess_joins_the_stocks_and_lists_where_insee_and_ess_map_disagree() {
    let state = tempfile::tempdir().unwrap();
    let sirene = |name: &str| fixture(&format!("sirene/{name}"));
    let (establishments, units, geolocation) = (
        sirene("StockEtablissement_utf8.csv"),
        sirene("StockUniteLegale_utf8.csv"),
        sirene("GeolocalisationEtablissement_Sirene_pour_etudes_statistiques_utf8.csv"),
    );
    let (summary, report) = import(
        state.path(),
        &[
            establishments.to_str().unwrap(),
            "--profile",
            "sirene-ess",
            "--legal-units",
            units.to_str().unwrap(),
            "--geolocation",
            geolocation.to_str().unwrap(),
        ],
    );
    // 300 establishments: 29 of units not flagged ESS and 8 closed are
    // left out; the others come with INSEE's coordinates.
    assert_eq!(summary["read"], 300, "{summary}");
    assert_eq!(summary["valid"], 263, "{summary}");
    assert_eq!(summary["with_coordinates"], 263, "{summary}");
    let notes = summary["notes"].to_string();
    assert!(
        notes.contains(
            "37 establishments left out (unité légale hors ESS: 29, établissement fermé: 8)"
        ),
        "{notes}"
    );
    let check = &summary["insee_qpv_check"];
    assert_eq!(check["compared"], 263, "{check}");
    assert_eq!(check["disagreeing"], 4, "{check}");
    assert_eq!(
        check["same_qpv"].as_u64().unwrap() + check["both_outside"].as_u64().unwrap() + 4,
        263,
        "{check}"
    );

    // Exactly the rows the fixture made wrong, each with its distance.
    let perturbed: serde_json::Map<String, Value> =
        serde_json::from_slice(&std::fs::read(sirene("perturbed.json")).unwrap()).unwrap();
    let disagreements: Vec<&csv::StringRecord> = report.iter().filter(|r| &r[2] == "qpv").collect();
    assert_eq!(disagreements.len(), perturbed.len());
    let sirets: Vec<String> = csv::Reader::from_path(&establishments)
        .unwrap()
        .records()
        .map(|r| r.unwrap()[2].to_string())
        .collect();
    for line in &disagreements {
        let row: usize = line[0].strip_prefix("line ").unwrap().parse().unwrap();
        let siret = &sirets[row - 2];
        let expected = perturbed[siret].as_str().unwrap();
        let reason = &line[3];
        let metres: f64 = reason
            .split(", ")
            .find_map(|part| part.split(" m ").next()?.parse().ok())
            .unwrap_or_else(|| panic!("a distance in {reason}"));
        assert!(metres > 0.0 && metres < 500.0, "{reason}");
        if let Some(code) = expected.strip_prefix("INSEE outside, ess-map ") {
            assert!(
                reason.starts_with(&format!(
                    "INSEE places it outside every QPV, ess-map in {code}"
                )),
                "{reason}"
            );
        } else {
            let code = expected
                .strip_prefix("INSEE ")
                .unwrap()
                .split(',')
                .next()
                .unwrap();
            assert!(
                reason.starts_with(&format!("INSEE places it in {code}, ess-map outside")),
                "{reason}"
            );
        }
    }

    // Without the legal units the ESS flag is unknown: a clear error.
    let out = ess_map()
        .arg("--data")
        .arg(data_dir())
        .arg("--state")
        .arg(state.path())
        .arg("import")
        .arg(&establishments)
        .args(["--profile", "sirene-ess", "--dry-run"])
        .output()
        .unwrap();
    assert!(!out.status.success());
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(
        err.contains("StockEtablissement_utf8.csv") && err.contains("--legal-units"),
        "{err}"
    );
}
