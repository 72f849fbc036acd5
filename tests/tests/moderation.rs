//! One record per structure across sources, and what the public proposes:
//! a network importing lists the map already shows (the shipped ESAT and
//! SIAE, under its own source names) leaves the gap analysis and the
//! counts as they were once each queued near-match is decided, and the
//! decisions hold across re-imports; a visitor's proposal or error report
//! is invisible until a moderator accepts it (with an edit, or merged into
//! an existing initiative) or rejects it with a reason told by e-mail
//! (a real SMTP server); the hidden field and the per-client limit hold.

use std::path::Path;

use ess_map_e2e::{Server, SmtpServer, create_token, data_file, import};
use serde_json::{Value, json};

/// What the gap analysis counts (inside + within, every QPV and kind) and
/// how many initiatives are shown.
fn totals(s: &Server) -> (u64, u64) {
    let gaps = s.get("/api/gaps");
    assert_eq!(gaps.status, 200);
    let mut counted = 0;
    for row in gaps.json["gaps"].as_array().unwrap() {
        counted += row["inside"].as_u64().unwrap_or(0) + row["within"].as_u64().unwrap_or(0);
    }
    let shown = s.get("/api/initiatives?limit=1").json["total"]
        .as_u64()
        .unwrap();
    (counted, shown)
}

/// The check digit test of a SIRET, written here independently of the
/// server's.
fn luhn_valid(siret: &str) -> bool {
    if siret.len() != 14 || !siret.bytes().all(|b| b.is_ascii_digit()) {
        return false;
    }
    let sum: u32 = siret
        .bytes()
        .rev()
        .enumerate()
        .map(|(i, b)| {
            let d = u32::from(b - b'0');
            if i % 2 == 1 {
                let d = d * 2;
                if d > 9 { d - 9 } else { d }
            } else {
                d
            }
        })
        .sum();
    sum.is_multiple_of(10)
}

fn serve(state: &Path) -> Server {
    Server::start_with(state, &["--geocoder", "none"])
}

fn post(s: &Server, path: &str, token: Option<&str>, body: Value) -> ess_map_e2e::Response {
    s.send(
        "POST",
        path,
        token,
        Some(("application/json", body.to_string().into_bytes())),
    )
}

/// Decides every pending near-match: a record with several candidates is
/// merged into the first (the closest name) and kept apart from the
/// others; how many records were merged.
fn merge_pending(s: &Server, moderator: &str) -> usize {
    let pending = s.send("GET", "/api/duplicates", Some(moderator), None);
    assert_eq!(pending.status, 200, "{:?}", pending.json);
    let list = pending.json["duplicates"].as_array().unwrap().clone();
    let mut merged = std::collections::HashSet::new();
    let mut by_score = list.clone();
    by_score.sort_by(|x, y| {
        y["score"]
            .as_f64()
            .unwrap()
            .total_cmp(&x["score"].as_f64().unwrap())
    });
    for d in &by_score {
        let a = d["a"]["id"].as_str().unwrap().to_string();
        let decision = if merged.insert(a) {
            "merge"
        } else {
            "distinct"
        };
        let done = post(
            s,
            &format!("/api/duplicates/{}/{decision}", d["id"]),
            Some(moderator),
            json!({}),
        );
        assert_eq!(done.status, 200, "{:?}", done.json);
    }
    merged.len()
}

#[test]
fn other_sources_of_the_same_structures_are_counted_once() {
    let dir = tempfile::tempdir().unwrap();
    let state = dir.path().join("state");
    let moderator = create_token(&state, "moderation", "moderator");
    let editor = create_token(&state, "edition", "editor");
    let s = serve(&state);
    let before = totals(&s);
    assert_eq!(
        s.send("GET", "/api/duplicates", None, None).status,
        401,
        "moderators only"
    );
    assert_eq!(
        s.send("GET", "/api/duplicates", Some(&editor), None).status,
        403
    );
    drop(s);

    // The shipped ESAT list as a network's own inventory.
    let esat = data_file(dir.path(), "ess/esat_finess.csv");
    let text = std::fs::read_to_string(&esat).unwrap();
    let mut reader = csv::Reader::from_reader(text.as_bytes());
    let siret_column = reader
        .headers()
        .unwrap()
        .iter()
        .position(|h| h == "siret")
        .unwrap();
    let rows: Vec<csv::StringRecord> = reader.records().map(Result::unwrap).collect();
    let valid = rows.iter().filter(|r| luhn_valid(&r[siret_column])).count();
    assert!(valid > 1_400, "{valid}");
    let first = import(&state, &esat, "reseau-esat", &[]);
    assert_eq!(first["new"], 1504);
    // Every ESAT whose SIRET is valid is surely the open list's.
    assert_eq!(first["merged"].as_u64(), Some(valid as u64));
    // The others (no SIRET, or a wrong one) have their name at the same
    // place: queued for a moderator.
    let queued = first["duplicates_queued"].as_u64().unwrap();
    assert_eq!(queued as usize, rows.len() - valid);
    let report = std::fs::read_to_string(first["report"].as_str().unwrap()).unwrap();
    assert!(
        report.contains(";siret;même SIRET que « finess-010008951 »;merged into finess-010008951"),
        "{report}"
    );

    let s = serve(&state);
    // The record merged into the open list's: listed among its sources; an
    // old link to it moves there for good.
    let primary = s.get("/api/initiatives/finess-010008951");
    let secondary = primary.json["properties"]["sources"]
        .as_array()
        .unwrap()
        .iter()
        .find(|x| x["source"] == "reseau-esat")
        .and_then(|x| x["id"].as_str())
        .unwrap()
        .to_string();
    let no_redirects: ureq::Agent = ureq::Agent::config_builder()
        .http_status_as_error(false)
        .max_redirects(0)
        .build()
        .into();
    let mut moved = no_redirects
        .get(format!("{}/api/initiatives/{secondary}", s.base))
        .call()
        .unwrap();
    assert_eq!(moved.status(), 301);
    assert_eq!(
        moved.headers()["location"],
        "/api/initiatives/finess-010008951"
    );
    let body: serde_json::Value = moved.body_mut().read_json().unwrap();
    assert_eq!(body["error"], "merged");
    assert_eq!(body["merged_into"], "finess-010008951");
    let followed = s.get(&format!("/api/initiatives/{secondary}"));
    assert_eq!(followed.json["id"], "finess-010008951");
    assert_eq!(s.get("/api/initiatives/reseau-esat-nothing").status, 404);
    // Until decided, the near-matches are shown as they came.
    assert_eq!(totals(&s).1, before.1 + queued);
    let pending = s.send("GET", "/api/duplicates", Some(&moderator), None);
    let list = pending.json["duplicates"].as_array().unwrap();
    let found: std::collections::HashSet<&str> = list
        .iter()
        .map(|d| d["a"]["id"].as_str().unwrap())
        .collect();
    assert_eq!(
        found.len() as u64,
        queued,
        "a row may have several candidates"
    );
    let pairs = list.len() as u64;
    let one = &list[0];
    assert!(one["score"].as_f64().unwrap() >= 0.9, "{one}");
    assert!(one["distance_m"].as_f64().unwrap() <= 150.0, "{one}");
    assert_eq!(one["a"]["source"], "reseau-esat");
    assert_eq!(one["b"]["source"], "esat");
    // One is two structures after all: kept apart, never asked again.
    let distinct = post(
        &s,
        &format!("/api/duplicates/{}/distinct", one["id"]),
        Some(&moderator),
        json!(null),
    );
    assert_eq!(distinct.status, 200, "{:?}", distinct.json);
    let again = post(
        &s,
        &format!("/api/duplicates/{}/merge", one["id"]),
        Some(&moderator),
        json!({}),
    );
    assert_eq!(again.status, 409, "decided once");
    let kept_apart = one["a"]["id"].as_str().unwrap().to_string();
    let kept_apart_alone = list
        .iter()
        .filter(|d| d["a"]["id"] == one["a"]["id"])
        .count()
        == 1;
    // The rest are merged.
    let merged = merge_pending(&s, &moderator) as u64;
    let apart = u64::from(kept_apart_alone);
    assert_eq!(merged, queued - apart);
    assert_eq!(
        totals(&s).1,
        before.1 + apart,
        "each structure once, the one kept apart besides"
    );
    // The popup's sources: the open list's record and the network's.
    let detail = s.get("/api/initiatives/finess-010008951");
    let sources: Vec<&str> = detail.json["properties"]["sources"]
        .as_array()
        .unwrap()
        .iter()
        .map(|x| x["source"].as_str().unwrap())
        .collect();
    assert_eq!(sources, ["esat", "reseau-esat"]);
    drop(s);

    // Re-imported: every decision holds.
    let again = import(&state, &esat, "reseau-esat", &[]);
    assert_eq!(
        (
            again["new"].as_u64(),
            again["unchanged"].as_u64(),
            again["merged"].as_u64(),
            again["duplicates_queued"].as_u64()
        ),
        (Some(0), Some(1504), Some(0), Some(0)),
        "{again}"
    );
    let s = serve(&state);
    let decided = s.send(
        "GET",
        "/api/duplicates?statut=pending",
        Some(&moderator),
        None,
    );
    assert_eq!(
        decided.json["duplicates"].as_array().unwrap().len(),
        0,
        "the pair kept apart is not asked again"
    );
    assert!(s.get(&format!("/api/initiatives/{kept_apart}")).status == 200);
    // Every pair found, decided: listed with `statut=all`.
    let all = s.send("GET", "/api/duplicates?statut=all", Some(&moderator), None);
    assert_eq!(
        all.json["duplicates"].as_array().unwrap().len() as u64,
        pairs
    );
    drop(s);

    // SIAE of the 93 and the 31 with their SIRET, under another source.
    let siae = data_file(dir.path(), "ess/siae_lemarche.csv");
    let text = std::fs::read_to_string(&siae).unwrap();
    let mut reader = csv::Reader::from_reader(text.as_bytes());
    let headers = reader.headers().unwrap().clone();
    let column = |name: &str| headers.iter().position(|h| h == name).unwrap();
    let (dep, siret) = (column("department"), column("siret"));
    let mut out = csv::Writer::from_writer(Vec::new());
    out.write_record(&headers).unwrap();
    let mut picked = 0;
    let mut with_valid_siret = 0;
    for r in reader.records().map(Result::unwrap) {
        if (&r[dep] == "93" || &r[dep] == "31") && !r[siret].is_empty() {
            picked += 1;
            with_valid_siret += usize::from(luhn_valid(&r[siret]));
            // The network's own ids.
            let mut row: Vec<String> = r.iter().map(str::to_string).collect();
            row[column("id")] = format!("cress-{picked}");
            out.write_record(&row).unwrap();
        }
    }
    assert!(picked > 100, "{picked}");
    let network = dir.path().join("cress.csv");
    std::fs::write(&network, out.into_inner().unwrap()).unwrap();
    let s = serve(&state);
    let before_siae = totals(&s);
    drop(s);
    let summary = import(&state, &network, "cress", &[]);
    assert_eq!(summary["new"].as_u64(), Some(picked as u64));
    assert_eq!(
        summary["merged"].as_u64(),
        Some(with_valid_siret as u64),
        "{summary}"
    );
    let s = serve(&state);
    merge_pending(&s, &moderator);
    assert_eq!(totals(&s), before_siae, "the gap analysis counts each once");
}

#[test]
fn visitors_propose_and_moderators_decide() {
    let smtp = SmtpServer::start();
    let state = tempfile::tempdir().unwrap();
    let config = state.path().join("ess-map.toml");
    std::fs::write(&config, smtp.config()).unwrap();
    let moderator = create_token(state.path(), "moderation", "moderator");
    let editor = create_token(state.path(), "edition", "editor");
    let s = Server::start_with(
        state.path(),
        &["--config", config.to_str().unwrap(), "--geocoder", "none"],
    );
    let (_, shown_before) = totals(&s);

    // A proposal, anonymous: 202, and nothing public yet.
    let proposed = post(
        &s,
        "/api/proposals",
        None,
        json!({
            "name": "Garage solidaire des Courtillières",
            "category": "garage_mobilite",
            "address": "12 avenue de la Division Leclerc",
            "postcode": "93500",
            "commune": "Pantin",
            "insee_code": "93055",
            "lon": 2.4172, "lat": 48.9046,
            "email": "Habitant@Example.org",
            "message": "Ouvert le samedi matin",
        }),
    );
    assert_eq!(proposed.status, 202, "{:?}", proposed.json);
    let first = proposed.json["id"].as_i64().unwrap();
    assert!(first > 0);
    let search = s.get("/api/initiatives?q=courtillieres");
    assert_eq!(search.json["total"], 0, "invisible until accepted");
    assert_eq!(totals(&s).1, shown_before);

    // Refused at once, with the field named.
    let nameless = post(&s, "/api/proposals", None, json!({ "commune": "Pantin" }));
    assert_eq!(nameless.status, 400);
    assert_eq!(nameless.json["field"], "name");
    let unknown = post(
        &s,
        "/api/proposals",
        None,
        json!({ "initiative": "nulle-part", "message": "x" }),
    );
    assert_eq!(unknown.status, 404);
    let silent = post(
        &s,
        "/api/proposals",
        None,
        json!({ "initiative": "finess-010008951" }),
    );
    assert_eq!(silent.status, 400);
    assert_eq!(silent.json["field"], "message");
    let long = post(
        &s,
        "/api/proposals",
        None,
        json!({ "initiative": "finess-010008951", "message": "x".repeat(2001) }),
    );
    assert_eq!(long.status, 400);

    // An error report, and a robot filling the hidden field.
    let report = post(
        &s,
        "/api/proposals",
        None,
        json!({ "initiative": "finess-010008951", "message": "Le site a déménagé", "email": "voisin@example.org" }),
    );
    assert_eq!(report.status, 202);
    let report_id = report.json["id"].as_i64().unwrap();
    let robot = post(
        &s,
        "/api/proposals",
        None,
        json!({ "name": "Casino en ligne", "site_web_bis": "http://spam.example" }),
    );
    assert_eq!(robot.status, 202, "answered as any proposal");

    // The queue: moderators only; the robot's is not in it.
    assert_eq!(s.send("GET", "/api/proposals", None, None).status, 401);
    assert_eq!(
        s.send("GET", "/api/proposals", Some(&editor), None).status,
        403
    );
    let queue = s.send("GET", "/api/proposals", Some(&moderator), None);
    assert_eq!(queue.status, 200);
    let ids: Vec<i64> = queue.json["proposals"]
        .as_array()
        .unwrap()
        .iter()
        .map(|p| p["id"].as_i64().unwrap())
        .collect();
    assert_eq!(ids, [report_id, first]);
    let proposal = &queue.json["proposals"][1];
    assert_eq!(proposal["departement"], "93");
    assert_eq!(proposal["follow_up"], true);
    assert!(proposal.get("email").is_none(), "the address is not shown");
    let in_31 = s.send(
        "GET",
        "/api/proposals?departement=31",
        Some(&moderator),
        None,
    );
    assert_eq!(in_31.json["proposals"].as_array().unwrap().len(), 0);
    let by_kind = s.send(
        "GET",
        "/api/proposals?categorie=garage_mobilite",
        Some(&moderator),
        None,
    );
    assert_eq!(by_kind.json["proposals"].as_array().unwrap().len(), 1);

    // Accepted with an edit: published, the proposer told.
    assert_eq!(
        post(
            &s,
            &format!("/api/proposals/{first}/accept"),
            Some(&editor),
            json!({})
        )
        .status,
        403
    );
    let accepted = post(
        &s,
        &format!("/api/proposals/{first}/accept"),
        Some(&moderator),
        json!({ "edits": { "description": "Réparations à prix solidaires" } }),
    );
    assert_eq!(accepted.status, 200, "{:?}", accepted.json);
    let made = accepted.json["initiative"].as_str().unwrap().to_string();
    assert!(made.starts_with("proposition:"), "{made}");
    let shown = s.get(&format!("/api/initiatives/{made}"));
    assert_eq!(shown.status, 200);
    assert_eq!(
        shown.json["properties"]["description"],
        "Réparations à prix solidaires"
    );
    assert_eq!(totals(&s).1, shown_before + 1);
    let mail = smtp.wait_for(1);
    assert_eq!(mail[0].0, "habitant@example.org");
    assert!(mail[0].2.contains("acceptée"), "{:?}", mail[0]);
    let twice = post(
        &s,
        &format!("/api/proposals/{first}/accept"),
        Some(&moderator),
        json!({}),
    );
    assert_eq!(twice.status, 409);

    // The report rejected with a reason, told.
    let no_reason = post(
        &s,
        &format!("/api/proposals/{report_id}/reject"),
        Some(&moderator),
        json!({}),
    );
    assert_eq!(no_reason.status, 400);
    let rejected = post(
        &s,
        &format!("/api/proposals/{report_id}/reject"),
        Some(&moderator),
        json!({ "reason": "Adresse vérifiée sur place : inchangée" }),
    );
    assert_eq!(rejected.status, 200);
    let mail = smtp.wait_for(2);
    let told = mail.iter().find(|m| m.0 == "voisin@example.org").unwrap();
    assert!(told.2.contains("Adresse vérifiée sur place"), "{told:?}");

    // A proposal of a structure already shown, merged into it: counted once.
    let again = post(
        &s,
        "/api/proposals",
        None,
        json!({ "name": "ESAT Envol Transition", "commune": "Blyes", "website": "https://envol.example.org" }),
    );
    let again = again.json["id"].as_i64().unwrap();
    let merged = post(
        &s,
        &format!("/api/proposals/{again}/accept"),
        Some(&moderator),
        json!({ "merge_into": "finess-010008951" }),
    );
    assert_eq!(merged.status, 200, "{:?}", merged.json);
    assert_eq!(merged.json["initiative"], "finess-010008951");
    assert_eq!(totals(&s).1, shown_before + 1);
    let sources = s.get("/api/initiatives/finess-010008951").json["properties"]["sources"].clone();
    assert_eq!(sources[1]["source"], "proposition", "{sources}");
    let decided = s.send("GET", "/api/proposals?statut=all", Some(&moderator), None);
    let statuses: Vec<&str> = decided.json["proposals"]
        .as_array()
        .unwrap()
        .iter()
        .map(|p| p["status"].as_str().unwrap())
        .collect();
    assert_eq!(statuses, ["merged", "rejected", "accepted"]);

    // At most ten an hour from one client: the eleventh waits.
    let sent_so_far = 7; // three accepted or queued, three refused, the robot's
    let mut last = None;
    for n in sent_so_far..11 {
        last = Some(post(
            &s,
            "/api/proposals",
            None,
            json!({ "name": format!("Initiative {n}"), "commune": "Pantin" }),
        ));
    }
    let last = last.unwrap();
    assert_eq!(last.status, 429, "{:?}", last.json);
    assert!(last.headers.contains_key("retry-after"));
}

/// A multipart body of `fields` and one file.
fn multipart(fields: &[(&str, &str)], file: (&str, &[u8])) -> Option<(&'static str, Vec<u8>)> {
    let mut body = Vec::new();
    for (name, value) in fields {
        body.extend_from_slice(
            format!(
                "--ESSMAP\r\nContent-Disposition: form-data; name=\"{name}\"\r\n\r\n{value}\r\n"
            )
            .as_bytes(),
        );
    }
    body.extend_from_slice(
        format!(
            "--ESSMAP\r\nContent-Disposition: form-data; name=\"file\"; filename=\"{}\"\r\nContent-Type: application/octet-stream\r\n\r\n",
            file.0
        )
        .as_bytes(),
    );
    body.extend_from_slice(file.1);
    body.extend_from_slice(b"\r\n--ESSMAP--\r\n");
    Some(("multipart/form-data; boundary=ESSMAP", body))
}

/// A network's members as a workbook written by a library (openpyxl), then
/// converted to ODS by LibreOffice: imported over HTTP, the columns found
/// (« Lieu » is not a name ess-map knows), a mapping sent, the member with
/// a SIAE's SIRET (an integer cell) merged into it, a row without a name
/// refused by its row number, a value beyond the header noted.
#[test]
fn a_network_workbook_imports_with_its_columns_mapped() {
    let dir = tempfile::tempdir().unwrap();
    let state = dir.path().join("state");
    let admin = create_token(&state, "cress", "admin");
    let xlsx = dir.path().join("membres.xlsx");
    let python = ess_map_e2e::python_tool("openpyxl-venv", &["openpyxl==3.1.5"], "python");
    let script = r#"
import sys, openpyxl
book = openpyxl.Workbook()
sheet = book.active
sheet.append(["Raison sociale", "Lieu", "N° SIRET", "Longitude", "Latitude"])
sheet.append(["Baluchon", "Romainville", 80746931700018, 2.43197, 48.88054])
sheet.append(["Recyclerie de la Plaine", "Saint-Denis", None, 2.3601, 48.9201])
sheet.append([])
sheet.append([None, "Pantin", None, 2.40, 48.89])
sheet.append(["Atelier du 6", "Pantin", None, 2.41, 48.891, "en trop"])
book.save(sys.argv[1])
"#;
    let out = std::process::Command::new(python)
        .args(["-c", script])
        .arg(&xlsx)
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let bytes = std::fs::read(&xlsx).unwrap();
    let s = serve(&state);
    let shown_before = totals(&s).1;
    let dry = s.send(
        "POST",
        "/api/import",
        Some(&admin),
        multipart(
            &[("source", "cress"), ("dry_run", "true")],
            ("membres.xlsx", &bytes),
        ),
    );
    assert_eq!(dry.status, 200, "{:?}", dry.json);
    let j = &dry.json;
    assert_eq!(
        j["columns"],
        json!([
            "Raison sociale",
            "Lieu",
            "N° SIRET",
            "Longitude",
            "Latitude"
        ])
    );
    assert_eq!(j["mapping"]["name"], "Raison sociale");
    assert_eq!(j["mapping"]["siret"], "N° SIRET");
    assert!(j["mapping"].get("commune").is_none(), "{}", j["mapping"]);
    assert_eq!(
        (j["new"].as_u64(), j["skipped"].as_u64()),
        (Some(3), Some(1))
    );
    assert_eq!(j["merged"], 1, "the SIRET of Baluchon (lemarche-siae-1)");
    let lines = j["lines"].as_array().unwrap();
    assert!(
        lines
            .iter()
            .any(|l| l["position"] == "line 5" && l["field"] == "name"),
        "{lines:?}"
    );
    assert!(
        j["notes"].as_array().unwrap().iter().any(|n| n
            .as_str()
            .unwrap()
            .starts_with("1 rows have values in columns without a header")),
        "{}",
        j["notes"]
    );
    assert_eq!(totals(&s).1, shown_before, "a dry run writes nothing");
    // The commune's column given by hand.
    let mapped = s.send(
        "POST",
        "/api/import",
        Some(&admin),
        multipart(
            &[
                ("source", "cress"),
                ("dry_run", "true"),
                ("mapping", "[columns]\ncommune = \"Lieu\"\n"),
            ],
            ("membres.xlsx", &bytes),
        ),
    );
    assert_eq!(mapped.status, 200, "{:?}", mapped.json);
    assert_eq!(mapped.json["mapping"]["commune"], "Lieu");
    let unknown = s.send(
        "POST",
        "/api/import",
        Some(&admin),
        multipart(
            &[
                ("source", "cress"),
                ("mapping", "[columns]\ncommune = \"Ville\"\n"),
            ],
            ("membres.xlsx", &bytes),
        ),
    );
    assert_eq!(unknown.status, 400);
    assert!(
        unknown.json["message"]
            .as_str()
            .unwrap()
            .contains("no column `Ville`"),
        "{:?}",
        unknown.json
    );

    // The same members as ODS (LibreOffice), imported for real.
    let convert = std::process::Command::new("soffice")
        .arg(format!(
            "-env:UserInstallation=file://{}/profile",
            dir.path().display()
        ))
        .args(["--headless", "--convert-to", "ods", "--outdir"])
        .arg(dir.path())
        .arg(&xlsx)
        .output()
        .expect("LibreOffice (Debian's libreoffice-calc-nogui) is needed");
    assert!(
        convert.status.success(),
        "{}",
        String::from_utf8_lossy(&convert.stderr)
    );
    let ods = std::fs::read(dir.path().join("membres.ods")).unwrap();
    let done = s.send(
        "POST",
        "/api/import",
        Some(&admin),
        multipart(
            &[
                ("source", "cress"),
                ("mapping", "[columns]\ncommune = \"Lieu\"\n"),
            ],
            ("membres.ods", &ods),
        ),
    );
    assert_eq!(done.status, 200, "{:?}", done.json);
    assert_eq!(
        (done.json["new"].as_u64(), done.json["merged"].as_u64()),
        (Some(3), Some(1))
    );
    let imported = s.get("/api/initiatives?source=cress");
    assert_eq!(
        imported.json["total"], 2,
        "Baluchon shown once, as the SIAE"
    );
    assert_eq!(totals(&s).1, shown_before + 2);
    let communes: Vec<&str> = imported.json["features"]
        .as_array()
        .unwrap()
        .iter()
        .map(|f| f["properties"]["commune"].as_str().unwrap())
        .collect();
    assert_eq!(communes, ["Saint-Denis", "Pantin"]);
}
