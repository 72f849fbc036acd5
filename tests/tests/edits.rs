//! The write API over HTTP: tokens and roles, create, correct, delete,
//! history, import, body limits, CORS; persisted across restarts.

use ess_map_e2e::{Response, Server, create_token, data_file};
use serde_json::{Value, json};

fn json_body(v: Value) -> Option<(&'static str, Vec<u8>)> {
    Some(("application/json", v.to_string().into_bytes()))
}

fn assert_error(r: &Response, status: u16, error: &str) {
    assert_eq!(r.status, status, "{}", r.json);
    assert_eq!(r.json["error"], error, "{}", r.json);
    assert!(r.json["message"].as_str().is_some_and(|m| !m.is_empty()));
}

#[test]
fn writes_need_a_token_with_the_right_role_and_reads_stay_public() {
    let state = tempfile::tempdir().unwrap();
    let editor = create_token(state.path(), "mairie", "editor");
    let s = Server::start_with(state.path(), &["--geocoder", "none"]);
    let body = json!({ "name": "Garage solidaire", "lon": 2.3535, "lat": 48.887 });

    let none = s.send("POST", "/api/initiatives", None, json_body(body.clone()));
    assert_error(&none, 401, "unauthorized");
    assert_eq!(none.www_authenticate, "Bearer");
    assert_error(
        &s.send(
            "POST",
            "/api/initiatives",
            Some("essmap_guess"),
            json_body(body.clone()),
        ),
        401,
        "unauthorized",
    );
    assert_error(
        &s.send("DELETE", "/api/initiatives/lemarche-siae-2", None, None),
        401,
        "unauthorized",
    );
    // An editor cannot import.
    let import = s.send(
        "POST",
        "/api/import",
        Some(&editor),
        Some(("multipart/form-data; boundary=x", b"--x--\r\n".to_vec())),
    );
    assert_error(&import, 403, "forbidden");
    // Reads need nothing.
    assert_eq!(s.get("/api/initiatives/lemarche-siae-2").status, 200);

    // Bad bodies name the field.
    let bad = |v: Value, field: &str| {
        let r = s.send("POST", "/api/initiatives", Some(&editor), json_body(v));
        assert_error(&r, 400, "bad_field");
        assert_eq!(r.json["field"], field);
    };
    bad(json!({ "lon": 2.35, "lat": 48.88 }), "name");
    bad(
        json!({ "name": "A", "category": "boulangerie" }),
        "category",
    );
    bad(json!({ "name": "A", "siret": "123" }), "siret");
    bad(json!({ "name": "A", "lon": 2.35 }), "lon");
    bad(json!({ "name": "A", "lat": 123.0, "lon": 2.0 }), "lat");
    bad(
        json!({ "name": "A", "website": "javascript:alert(1)" }),
        "website",
    );
    bad(json!({ "name": "A", "colour": "red" }), "colour");
    // Bodies are capped.
    let huge = json!({ "name": "A", "description": "x".repeat(100_000) });
    assert_eq!(
        s.send("POST", "/api/initiatives", Some(&editor), json_body(huge))
            .status,
        413
    );
    // CORS is closed: no cross-origin grant, even to a preflight.
    let s2 = s.send("OPTIONS", "/api/initiatives", None, None);
    assert_eq!(s2.access_control_allow_origin, "");
}

#[test]
fn create_correct_delete_with_history_shown_at_once_and_kept_across_restarts() {
    let state = tempfile::tempdir().unwrap();
    let editor = create_token(state.path(), "reseau-ess", "editor");
    let s = Server::start_with(state.path(), &["--geocoder", "none"]);

    // Created inside the Goutte d'Or: located, listed, counted, in the tiles' data.
    let created = s.send(
        "POST",
        "/api/initiatives",
        Some(&editor),
        json_body(
            json!({ "name": "Garage solidaire de la Goutte", "category": "garage_mobilite",
                          "address": "12 rue Léon", "postcode": "75018", "commune": "Paris",
                          "lon": 2.3535, "lat": 48.887 }),
        ),
    );
    assert_eq!(created.status, 201, "{}", created.json);
    let id = created.json["id"].as_str().unwrap().to_string();
    assert_eq!(created.location, format!("/api/initiatives/{id}"));
    assert_eq!(
        created.json["properties"]["qpv_location"]["status"],
        "inside"
    );
    assert_eq!(created.json["properties"]["precision"], "source");
    let nearby = s.get("/api/qpv/QN07511M/nearby?radius_m=0&limit=1000").json;
    assert!(
        nearby["features"]
            .as_array()
            .unwrap()
            .iter()
            .any(|f| f["id"] == id.as_str())
    );

    // Created without coordinates: placed at its commune's centre, not in a QPV.
    let centre = s.send(
        "POST",
        "/api/initiatives",
        Some(&editor),
        json_body(
            json!({ "name": "Épicerie solidaire", "address": "3 rue X", "insee_code": "93066" }),
        ),
    );
    assert_eq!(centre.status, 201, "{}", centre.json);
    assert_eq!(centre.json["properties"]["precision"], "municipality");
    assert_eq!(
        centre.json["properties"]["qpv_location"]["status"],
        "commune_only"
    );
    assert_eq!(centre.json["properties"]["category"], "epicerie_solidaire");

    // An open-data initiative corrected: a copy in the store wins.
    let before = s.get("/api/initiatives/lemarche-siae-2").json;
    let patched = s.send(
        "PATCH",
        "/api/initiatives/lemarche-siae-2",
        Some(&editor),
        json_body(
            json!({ "name": "Nom corrigé", "website": "https://example.org", "description": null }),
        ),
    );
    assert_eq!(patched.status, 200, "{}", patched.json);
    assert_eq!(
        s.get("/api/initiatives/lemarche-siae-2").json["properties"]["name"],
        "Nom corrigé"
    );
    assert_eq!(patched.json["geometry"], before["geometry"]);
    assert_error(
        &s.send(
            "PATCH",
            "/api/initiatives/lemarche-siae-2",
            Some(&editor),
            json_body(json!({ "id": "x" })),
        ),
        400,
        "bad_field",
    );
    assert_error(
        &s.send(
            "PATCH",
            "/api/initiatives/nope",
            Some(&editor),
            json_body(json!({ "name": "x" })),
        ),
        404,
        "not_found",
    );

    // Deleted: gone from reads, kept in the history.
    assert_eq!(
        s.send(
            "DELETE",
            &format!("/api/initiatives/{id}"),
            Some(&editor),
            None
        )
        .status,
        204
    );
    assert_eq!(s.get(&format!("/api/initiatives/{id}")).status, 404);
    // The history names editors: it needs a token too.
    assert_error(
        &s.get(&format!("/api/initiatives/{id}/history")),
        401,
        "unauthorized",
    );
    let history_of = |id: &str| {
        s.send(
            "GET",
            &format!("/api/initiatives/{id}/history"),
            Some(&editor),
            None,
        )
    };
    let history = history_of(&id).json;
    let actions: Vec<&str> = history["history"]
        .as_array()
        .unwrap()
        .iter()
        .map(|h| h["action"].as_str().unwrap())
        .collect();
    assert_eq!(actions, ["create", "delete"]);
    assert_eq!(history["history"][0]["actor"], "reseau-ess");
    assert_eq!(
        history["history"][1]["before"]["name"],
        "Garage solidaire de la Goutte"
    );
    let corrected = history_of("lemarche-siae-2").json;
    assert_eq!(corrected["history"][0]["action"], "update");
    assert_eq!(
        corrected["history"][0]["before"]["name"],
        before["properties"]["name"]
    );
    assert_eq!(corrected["history"][0]["after"]["name"], "Nom corrigé");
    assert_eq!(history_of("nope").status, 404);

    // Kept across a restart on the same state directory.
    drop(s);
    let s = Server::start_with(state.path(), &["--geocoder", "none"]);
    assert_eq!(
        s.get("/api/initiatives/lemarche-siae-2").json["properties"]["name"],
        "Nom corrigé"
    );
    assert_eq!(s.get(&format!("/api/initiatives/{id}")).status, 404);
    let health = s.get("/health").json;
    assert_eq!(health["initiatives_by_source"]["api"], 1, "{health}");
    assert!(
        health["store"]["revision"].as_i64().unwrap() >= 4,
        "{health}"
    );
}

#[test]
fn an_admin_token_from_the_configuration_imports_a_file_over_http() {
    let state = tempfile::tempdir().unwrap();
    // The configuration holds only the token's SHA-256.
    let secret = "essmap_configured-admin-token";
    let sha = {
        let out = std::process::Command::new("sha256sum")
            .stdin(std::process::Stdio::piped())
            .stdout(std::process::Stdio::piped())
            .spawn()
            .unwrap();
        use std::io::Write;
        out.stdin
            .as_ref()
            .unwrap()
            .write_all(secret.as_bytes())
            .unwrap();
        let o = out.wait_with_output().unwrap();
        String::from_utf8(o.stdout)
            .unwrap()
            .split_whitespace()
            .next()
            .unwrap()
            .to_string()
    };
    let config = state.path().join("ess-map.toml");
    std::fs::write(
        &config,
        format!("[[token]]\nname = \"admin-dreets\"\nrole = \"admin\"\nsha256 = \"{sha}\"\n"),
    )
    .unwrap();
    let s = Server::start_with(
        state.path(),
        &["--geocoder", "none", "--config", config.to_str().unwrap()],
    );

    let esat = std::fs::read(data_file(state.path(), "ess/esat_finess.csv")).unwrap();
    let multipart = |dry: bool| {
        let mut body = Vec::new();
        let mut part = |name: &str, filename: Option<&str>, value: &[u8]| {
            body.extend_from_slice(b"--ESSMAP\r\n");
            match filename {
                Some(f) => body.extend_from_slice(format!("Content-Disposition: form-data; name=\"{name}\"; filename=\"{f}\"\r\nContent-Type: text/csv\r\n\r\n").as_bytes()),
                None => body.extend_from_slice(format!("Content-Disposition: form-data; name=\"{name}\"\r\n\r\n").as_bytes()),
            }
            body.extend_from_slice(value);
            body.extend_from_slice(b"\r\n");
        };
        part("source", None, b"reseau-esat");
        part("dry_run", None, if dry { b"true" } else { b"false" });
        part("file", Some("esat_finess.csv"), &esat);
        body.extend_from_slice(b"--ESSMAP--\r\n");
        Some(("multipart/form-data; boundary=ESSMAP", body))
    };
    let dry = s.send("POST", "/api/import", Some(secret), multipart(true));
    assert_eq!(dry.status, 200, "{}", dry.json);
    assert_eq!(
        (dry.json["dry_run"].as_bool(), dry.json["new"].as_u64()),
        (Some(true), Some(1504))
    );
    assert_eq!(
        s.get("/api/initiatives?source=reseau-esat").json["total"],
        0
    );

    let done = s.send("POST", "/api/import", Some(secret), multipart(false));
    assert_eq!(done.status, 200, "{}", done.json);
    assert_eq!(done.json["placed_at_commune_centre"], 1503);
    assert_eq!(done.json["not_placed"], 1);
    // Those with a valid SIRET are merged into the open list's ESAT.
    let shown = done.json["new"].as_u64().unwrap() - done.json["merged"].as_u64().unwrap();
    assert!(shown < 100, "{shown}");
    assert_eq!(
        s.get("/api/initiatives?source=reseau-esat").json["total"],
        shown
    );
    let one = &s.get("/api/initiatives?source=reseau-esat&limit=1").json["features"][0];
    let history = s
        .send(
            "GET",
            &format!("/api/initiatives/{}/history", one["id"].as_str().unwrap()),
            Some(secret),
            None,
        )
        .json;
    assert_eq!(history["history"][0]["actor"], "admin-dreets");
    assert_eq!(history["history"][0]["action"], "import");
}

/// An SIAE is found by its trade name (brand) before and after an edit: the
/// edit's record carries every field the open data gave, through the one
/// path that makes initiatives.
#[test]
fn an_edited_siae_is_still_found_by_its_brand() {
    let state = tempfile::tempdir().unwrap();
    let editor = create_token(state.path(), "mairie", "editor");
    let s = Server::start_with(state.path(), &["--geocoder", "none"]);
    let ids = |q: &str| -> Vec<String> {
        s.get(&format!("/api/initiatives?q={q}&limit=1000")).json["features"]
            .as_array()
            .unwrap()
            .iter()
            .map(|f| f["id"].as_str().unwrap().to_string())
            .collect()
    };
    // « TTS » is the brand of ASSOC TREMPLIN TRAVAIL SOLIDARITE, in no name.
    assert!(ids("TTS").contains(&"lemarche-siae-14".to_string()));
    let one = s.get("/api/initiatives/lemarche-siae-14").json;
    assert_eq!(one["properties"]["brand"], "TTS");
    let patched = s.send(
        "PATCH",
        "/api/initiatives/lemarche-siae-14",
        Some(&editor),
        json_body(json!({ "description": "Chantier d'insertion, espaces verts" })),
    );
    assert_eq!(patched.status, 200, "{}", patched.json);
    assert_eq!(patched.json["properties"]["brand"], "TTS");
    assert!(ids("TTS").contains(&"lemarche-siae-14".to_string()));
    // And after a restart, from the store.
    drop(s);
    let s = Server::start_with(state.path(), &["--geocoder", "none"]);
    let found: Vec<String> = s.get("/api/initiatives?q=tts&limit=1000").json["features"]
        .as_array()
        .unwrap()
        .iter()
        .map(|f| f["id"].as_str().unwrap().to_string())
        .collect();
    assert!(found.contains(&"lemarche-siae-14".to_string()));
}

#[test]
fn an_edit_moves_the_counts_and_leaves_the_qpv_tiles_as_they_are() {
    let state = tempfile::tempdir().unwrap();
    let editor = create_token(state.path(), "reseau-ess", "editor");
    let s = Server::start_with(state.path(), &["--geocoder", "none"]);
    let tile = "/tiles/qpv/14/8299/5632.mvt"; // holds the Goutte d'Or
    let counts_of = |counts: &Value, code: &str| {
        let at = counts["code"]
            .as_array()
            .unwrap()
            .iter()
            .position(|c| c == code)
            .unwrap_or_else(|| panic!("{code} in /api/qpv/counts"));
        (
            counts["inside"][at].as_u64().unwrap(),
            counts["within_500m"][at].as_u64().unwrap(),
            counts["per_10k"][at].clone(),
        )
    };
    let tile_before = s.get(tile);
    assert_eq!(tile_before.status, 200);
    let before = s.get("/api/qpv/counts");
    assert_eq!(before.status, 200, "{}", before.json);
    assert_eq!(before.cache_control, "no-cache");
    let (inside, within, _) = counts_of(&before.json, "QN07511M");
    // The same figures as the QPV's own answer.
    let one = s.get("/api/qpv/QN07511M").json;
    assert_eq!(one["properties"]["initiatives_inside"], inside);
    assert_eq!(one["properties"]["initiatives_within_500m"], within);
    // Unchanged: 304 by the revision's tag.
    let again = s.get_with("/api/qpv/counts", &[("If-None-Match", &before.etag)]);
    assert_eq!(again.status, 304);
    // Only the categories asked: the gap analysis at 500 m, every generation drawn.
    let garages = s.get("/api/qpv/counts?category=garage_mobilite").json;
    let gaps = s
        .get("/api/gaps?radius_m=500&category=garage_mobilite")
        .json;
    let row = gaps["gaps"]
        .as_array()
        .unwrap()
        .iter()
        .find(|r| r["code"] == "QN07511M")
        .unwrap();
    let (g_inside, g_within, _) = counts_of(&garages, "QN07511M");
    assert_eq!(
        (g_inside, g_within),
        (
            row["inside"].as_u64().unwrap(),
            row["within"].as_u64().unwrap()
        )
    );
    assert!(
        garages["code"]
            .as_array()
            .unwrap()
            .iter()
            .any(|c| c.as_str().unwrap().starts_with("QP0")),
        "2015 outlines are counted too"
    );
    assert_eq!(
        s.get("/api/qpv/counts?category=nope").json["parameter"],
        "category"
    );

    let created = s.send(
        "POST",
        "/api/initiatives",
        Some(&editor),
        json_body(
            json!({ "name": "Garage solidaire de la Goutte", "category": "garage_mobilite",
                          "lon": 2.3535, "lat": 48.887 }),
        ),
    );
    assert_eq!(created.status, 201, "{}", created.json);
    let after = s.get("/api/qpv/counts");
    assert_ne!(after.etag, before.etag);
    assert_eq!(counts_of(&after.json, "QN07511M").0, inside + 1);
    assert_eq!(counts_of(&after.json, "QN07511M").1, within + 1);
    assert_eq!(
        counts_of(
            &s.get("/api/qpv/counts?category=garage_mobilite").json,
            "QN07511M"
        )
        .0,
        g_inside + 1
    );
    // The QPV tile is the same bytes under the same tag: nothing to fetch again.
    let tile_after = s.get_with(tile, &[("If-None-Match", &tile_before.etag)]);
    assert_eq!(tile_after.status, 304, "the QPV tile changed with an edit");
}
