//! The HTTP API of the real `ess-map` binary, over loopback, on the real data.

use ess_map_e2e::{Response, Server};
use serde_json::Value;

fn assert_bad_parameter(r: &Response, parameter: &str, fragment: &str) {
    assert_eq!(r.status, 400, "{}", r.json);
    assert_eq!(r.json["error"], "bad_parameter");
    assert_eq!(r.json["parameter"], parameter, "{}", r.json);
    let message = r.json["message"].as_str().unwrap();
    assert!(message.contains(fragment), "{message:?} lacks {fragment:?}");
}

#[test]
fn health_reports_what_is_loaded_and_where_outlines_exist() {
    let s = Server::start();
    let r = s.get("/health");
    assert_eq!(r.status, 200);
    assert_eq!(r.json["status"], "ok");
    assert_eq!(r.json["qpv"], 1598);
    assert_eq!(r.json["qpv_with_outline"], 403);
    // 3,853 SIAE, 1,504 ESAT, 87 cooperative supermarkets; 6 without a
    // place, 1,530 at their commune's centre (27 SIAE, 1,503 ESAT).
    assert_eq!(r.json["initiatives"], 5444);
    assert_eq!(r.json["initiatives_located"], 5444 - 6 - 1530);
    assert_eq!(r.json["initiatives_commune_only"], 1530);
    assert_eq!(r.json["initiatives_by_source"]["esat"], 1504);
    let territories: Vec<&str> = r.json["outlines"]
        .as_array()
        .unwrap()
        .iter()
        .map(|o| o["territory"].as_str().unwrap())
        .collect();
    assert_eq!(territories, ["Île-de-France", "Occitanie"]);

    let d = s.get("/api/datasets");
    let datasets = d.json["datasets"].as_array().unwrap();
    let coops = datasets
        .iter()
        .find(|x| x["id"] == "supermarches-cooperatifs")
        .unwrap();
    assert_eq!(coops["licence"], "MIT, © 2021 Jean-Marie Zuffellato");
    assert_eq!(coops["report"]["skipped"], 43);
    let first = &coops["report"]["issues"][0];
    assert_eq!(first["field"], "in_france");
    assert!(
        first["text"]
            .as_str()
            .unwrap()
            .contains("supermarches_cooperatifs.geojson.gz: feature 0 (interfoodcoop-1)")
    );
    // Every dataset says the date its data describes.
    assert_eq!(coops["as_of"], "2025-02-04");
    assert!(
        datasets.iter().all(|x| x["as_of"].is_string()),
        "{datasets:?}"
    );
    assert!(datasets.iter().all(|x| {
        x["attribution"]
            .as_str()
            .is_some_and(|a| a.starts_with("Source"))
    }));
}

#[test]
fn locate_inside_near_outside_and_bad_parameters() {
    let s = Server::start();
    let r = s.get("/api/locate?lon=2.35313&lat=48.88699");
    assert_eq!((r.status, r.json["status"].as_str()), (200, Some("inside")));
    assert_eq!(r.json["qpv"]["code"], "QN07511M");
    assert_eq!(r.json["distance_m"], 0.0);
    assert_eq!(r.json["radius_m"], 300.0);

    // ~220 m north of the Goutte d'Or's northernmost point.
    let feature = s.get("/api/qpv/QN07511M").json;
    let north = feature["bbox"][3].as_f64().unwrap();
    let lon = (feature["bbox"][0].as_f64().unwrap() + feature["bbox"][2].as_f64().unwrap()) / 2.0;
    let near = s
        .get(&format!(
            "/api/locate?lon={lon}&lat={}&radius_m=500",
            north + 0.002
        ))
        .json;
    assert_eq!(near["status"], "near", "{near}");
    let d = near["distance_m"].as_f64().unwrap();
    assert!(d > 0.0 && d <= 223.0, "{d}");
    let too_far = s
        .get(&format!(
            "/api/locate?lon={lon}&lat={}&radius_m=100",
            north + 0.002
        ))
        .json;
    assert!(
        too_far["status"] == "outside" || too_far["qpv"]["code"] != "QN07511M",
        "{too_far}"
    );

    // Rennes, Mas du Taureau (Vaulx-en-Velin), Wazemmes (Lille): QPV in
    // force whose outline is not loaded: nobody knows, never « outside ».
    for (at, departement) in [
        ("-1.68&lat=48.11", "35"),
        ("4.9326&lat=45.7783", "69"),
        ("3.0500&lat=50.6270", "59"),
    ] {
        let r = s.get(&format!("/api/locate?lon={at}")).json;
        assert_eq!(r["status"], "unknown", "{r}");
        assert!(r["qpv"].is_null(), "{r}");
        assert!(
            r["note"]
                .as_str()
                .unwrap()
                .starts_with("non vérifiable : contour non chargé"),
            "{r}"
        );
        let candidates = r["candidates"].as_array().unwrap();
        assert!(
            candidates
                .iter()
                // QNdddnnX: ddd the département on three digits.
                .all(|c| c["code"].as_str().unwrap()[2..5] == format!("{departement:0>3}")),
            "{r}"
        );
    }
    // Outside: where the outlines in force cover the place, or far from
    // every commune with a QPV.
    let sea = s.get("/api/locate?lon=-30&lat=40").json;
    assert_eq!(sea["status"], "outside", "{sea}");
    // Toulouse: the 2015 perimeter is said apart, labelled.
    let mirail = s.get("/api/locate?lon=1.41&lat=43.575").json;
    assert_eq!(mirail["status"], "unknown", "{mirail}");
    assert_eq!(
        mirail["superseded"]["label"],
        "périmètre 2015 (remplacé en 2024)"
    );
    let asked = s
        .get("/api/locate?lon=1.41&lat=43.575&generation=2015")
        .json;
    assert_eq!(asked["status"], "inside", "{asked}");

    assert_bad_parameter(
        &s.get("/api/locate?lon=2.35&lat=98"),
        "lat",
        "98 is outside [-90, 90]",
    );
    assert_bad_parameter(
        &s.get("/api/locate?lon=abc&lat=48"),
        "lon",
        "`abc` is not a number",
    );
    assert_bad_parameter(&s.get("/api/locate?lon=NaN&lat=48"), "lon", "outside");
    assert_bad_parameter(&s.get("/api/locate?lat=48"), "lon", "required");
    assert_bad_parameter(
        &s.get("/api/locate?lon=2&lat=48&radius_m=-1"),
        "radius_m",
        "outside [0, 5000]",
    );
    assert_bad_parameter(
        &s.get("/api/locate?lon=2&lat=48&radius_m=9000"),
        "radius_m",
        "outside [0, 5000]",
    );
    assert_bad_parameter(
        &s.get("/api/locate?lon=2&lat=48&raduis_m=10"),
        "raduis_m",
        "unknown parameter",
    );
}

#[test]
fn qpv_list_one_and_errors() {
    let s = Server::start();
    // The generations in force by default; the replaced 2015 list when asked.
    let all = s.get("/api/qpv").json;
    assert_eq!(all["count"], 1493);
    assert!(
        all["qpv"]
            .as_array()
            .unwrap()
            .iter()
            .all(|q| q["generation"] != 2015)
    );
    assert_eq!(s.get("/api/qpv?generation=2015").json["count"], 105);
    // « Grand Mirail » once, not twice.
    assert_eq!(s.get("/api/qpv?q=grand%20mirail").json["count"], 1);
    let r = s.get("/api/qpv?departement=93&generation=2024");
    assert_eq!(r.json["count"], 75);
    for q in r.json["qpv"].as_array().unwrap() {
        assert_eq!(q["departement"], "93");
        assert_eq!(q["has_geometry"], true);
        let inside = q["initiatives_inside"].as_u64().unwrap();
        assert!(q["initiatives_within_500m"].as_u64().unwrap() >= inside);
    }
    // By INSEE code and by postcode: Saint-Denis (93066, 93200 and 93210).
    let by_code = s.get("/api/qpv?q=93066").json;
    let by_postcode = s.get("/api/qpv?q=93200").json;
    assert!(by_code["count"].as_u64().unwrap() > 8);
    assert_eq!(by_postcode["count"], by_code["count"]);
    assert_eq!(
        s.get("/api/qpv?q=%F0%9F%98%80").json["count"],
        0,
        "an emoji finds nothing"
    );
    let toulouse = s.get("/api/qpv?q=TOULOUSE&generation=2015").json;
    assert!(toulouse["count"].as_u64().unwrap() >= 5);
    assert!(toulouse["qpv"][0]["population"].as_u64().unwrap() > 0);
    let goutte = s.get("/api/qpv?q=goutte%20d%27or").json;
    assert_eq!(goutte["qpv"][0]["code"], "QN07511M");

    let one = s.get("/api/qpv/QN07511M");
    assert_eq!(one.status, 200);
    assert_eq!(one.content_type, "application/geo+json");
    assert_eq!(one.json["type"], "Feature");
    assert_eq!(one.json["id"], "QN07511M");
    assert_eq!(one.json["geometry"]["type"], "MultiPolygon");
    assert_eq!(one.json["properties"]["name"], "Goutte D'Or");
    assert_eq!(one.json["properties"]["communes"][0]["insee"], "75056");

    let no_outline = s.get("/api/qpv/QN00101M").json;
    assert_eq!(no_outline["geometry"], Value::Null);
    assert_eq!(no_outline["properties"]["has_geometry"], false);
    assert_eq!(no_outline["properties"]["initiatives_inside"], Value::Null);

    let missing = s.get("/api/qpv/QN99999X");
    assert_eq!(
        (missing.status, missing.json["error"].as_str()),
        (404, Some("not_found"))
    );
    assert_bad_parameter(
        &s.get("/api/qpv?departement=99"),
        "departement",
        "no QPV in département `99`",
    );
    assert_bad_parameter(
        &s.get("/api/qpv?generation=2016"),
        "generation",
        "not one of 2015, 2024, 2025",
    );
}

/// QPV without outline: one marker per commune and generation lists each
/// exactly once; the initiatives of a QPV's communes are those the gap
/// analysis counts for it (Marseille's arrondissements count for the city).
#[test]
fn qpv_without_outline_markers_and_commune_initiatives() {
    let s = Server::start();
    let listed = s.get("/api/qpv").json;
    let without: Vec<&str> = listed["qpv"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|q| q["has_geometry"] == false)
        .map(|q| q["code"].as_str().unwrap())
        .collect();
    let r = s.get("/api/qpv/markers");
    assert_eq!(r.status, 200, "{}", r.json);
    let markers = r.json["features"].as_array().unwrap();
    let mut seen: Vec<&str> = Vec::new();
    for m in markers {
        let p = &m["properties"];
        let qpv = p["qpv"].as_array().unwrap();
        assert_eq!(p["count"].as_u64().unwrap() as usize, qpv.len());
        assert!(p["generation"] == 2024 || p["generation"] == 2025, "{p}");
        assert_eq!(m["geometry"]["type"], "Point");
        for q in qpv {
            let code = q["code"].as_str().unwrap();
            assert!(p["codes"].as_str().unwrap().contains(&format!(",{code},")));
            seen.push(code);
        }
        if qpv.len() == 1 {
            assert_eq!(p["code"], qpv[0]["code"]);
            assert_eq!(p["label"], qpv[0]["name"]);
        } else {
            assert_eq!(
                p["label"],
                format!(
                    "{} : {} QPV sans contour",
                    p["commune_name"].as_str().unwrap(),
                    qpv.len()
                )
            );
        }
    }
    let unplaced = r.json["without_place"].as_u64().unwrap() as usize;
    assert_eq!(seen.len() + unplaced, without.len());
    seen.sort_unstable();
    seen.dedup();
    assert_eq!(seen.len() + unplaced, without.len(), "each QPV once");
    let marseille = markers
        .iter()
        .find(|m| m["properties"]["commune"] == "13055")
        .expect("Marseille's marker");
    assert!(
        marseille["properties"]["count"].as_u64().unwrap() > 20,
        "{marseille}"
    );
    // Generation 2015: its own markers only (its outlines are loaded where
    // its QPV are, so few or none).
    let old = s.get("/api/qpv/markers?generation=2015").json;
    assert!(
        old["features"]
            .as_array()
            .unwrap()
            .iter()
            .all(|m| m["properties"]["generation"] == 2015)
    );
    assert_bad_parameter(
        &s.get("/api/qpv/markers?generation=1999"),
        "generation",
        "1999",
    );

    // Saint Henri (Marseille): the gap analysis's figures by commune.
    let gaps = s.get("/api/gaps?departement=13").json;
    let row = gaps["gaps"]
        .as_array()
        .unwrap()
        .iter()
        .find(|g| g["code"] == "QN01303I")
        .unwrap();
    assert_eq!(row["basis"], "communes");
    let counted: u64 = gaps["categories"]
        .as_array()
        .unwrap()
        .iter()
        .map(|c| {
            row[format!("{}_within", c.as_str().unwrap())]
                .as_u64()
                .unwrap()
        })
        .sum();
    let communes = s.get("/api/qpv/QN01303I/communes?limit=1000").json;
    assert_eq!(communes["total"].as_u64().unwrap(), counted, "{row}");
    assert!(counted > 20);
    let features = communes["features"].as_array().unwrap();
    assert_eq!(features.len() as u64, counted);
    assert!(
        features
            .iter()
            .all(|f| f["properties"]["distance_m"].is_null())
    );
    let aci = s
        .get("/api/qpv/QN01303I/communes?category=insertion_aci")
        .json;
    assert_eq!(aci["total"], row["insertion_aci_within"]);
    assert_eq!(s.get("/api/qpv/QN00000X/communes").status, 404);
}

#[test]
fn nearby_is_sorted_filtered_and_capped() {
    let s = Server::start();
    let r = s.get("/api/qpv/QN07511M/nearby?radius_m=1000&limit=1000");
    assert_eq!(r.status, 200);
    assert_eq!(r.content_type, "application/geo+json");
    let features = r.json["features"].as_array().unwrap();
    assert!(features.len() >= 5, "{}", features.len());
    let distances: Vec<f64> = features
        .iter()
        .map(|f| f["properties"]["distance_m"].as_f64().unwrap())
        .collect();
    assert!(distances.windows(2).all(|w| w[0] <= w[1]));
    assert!(distances.iter().all(|d| (0.0..=1000.0).contains(d)));
    // Inside ones (distance 0) match the QPV's own count.
    let inside = distances.iter().filter(|d| **d == 0.0).count() as u64;
    let props = s.get("/api/qpv/QN07511M").json["properties"].clone();
    assert_eq!(inside, props["initiatives_inside"].as_u64().unwrap());
    let within_500 = distances.iter().filter(|d| **d <= 500.0).count() as u64;
    assert_eq!(
        within_500,
        props["initiatives_within_500m"].as_u64().unwrap()
    );

    let aci = s
        .get("/api/qpv/QN07511M/nearby?radius_m=1000&category=insertion_aci")
        .json;
    let aci = aci["features"].as_array().unwrap();
    assert!(!aci.is_empty() && aci.len() < features.len());
    assert!(
        aci.iter()
            .all(|f| f["properties"]["category"] == "insertion_aci")
    );
    let two = s.get("/api/qpv/QN07511M/nearby?radius_m=1000&limit=2").json;
    assert_eq!(two["features"].as_array().unwrap().len(), 2);

    let no_outline = s.get("/api/qpv/QN00101M/nearby");
    assert_eq!(
        (no_outline.status, no_outline.json["error"].as_str()),
        (409, Some("no_outline"))
    );
    assert_eq!(s.get("/api/qpv/QN99999X/nearby").status, 404);
    assert_bad_parameter(
        &s.get("/api/qpv/QN07511M/nearby?category=boulangerie"),
        "category",
        "unknown category",
    );
    assert_bad_parameter(
        &s.get("/api/qpv/QN07511M/nearby?radius_m=20000"),
        "radius_m",
        "outside",
    );
    assert_bad_parameter(
        &s.get("/api/qpv/QN07511M/nearby?limit=0"),
        "limit",
        "outside [1, 1000]",
    );
}

#[test]
fn initiatives_search_paging_and_errors() {
    let s = Server::start();
    let paris = s.get("/api/initiatives?bbox=2.25,48.81,2.42,48.91&limit=1000");
    assert_eq!(paris.status, 200);
    assert_eq!(paris.content_type, "application/geo+json");
    let total = paris.json["total"].as_u64().unwrap();
    assert!(total > 50, "{total}");
    for f in paris.json["features"].as_array().unwrap() {
        let c = &f["geometry"]["coordinates"];
        let (lon, lat) = (c[0].as_f64().unwrap(), c[1].as_f64().unwrap());
        assert!((2.25..=2.42).contains(&lon) && (48.81..=48.91).contains(&lat));
    }
    // Paging walks the same list.
    let page1 = s
        .get("/api/initiatives?bbox=2.25,48.81,2.42,48.91&limit=10&offset=0")
        .json;
    let page2 = s
        .get("/api/initiatives?bbox=2.25,48.81,2.42,48.91&limit=10&offset=10")
        .json;
    let ids = |v: &Value| -> Vec<String> {
        v["features"]
            .as_array()
            .unwrap()
            .iter()
            .map(|f| f["id"].as_str().unwrap().to_string())
            .collect()
    };
    let all_ids = ids(&paris.json);
    assert_eq!([ids(&page1), ids(&page2)].concat(), all_ids[..20].to_vec());

    let accented = s.get("/api/initiatives?q=cr%C3%A9teil").json["total"].clone();
    let plain = s.get("/api/initiatives?q=CRETEIL").json["total"].clone();
    assert_eq!(accented, plain);
    assert!(plain.as_u64().unwrap() > 0);

    let cats = s
        .get("/api/initiatives?category=regie_quartier,recyclerie&limit=1000")
        .json;
    assert!(cats["features"].as_array().unwrap().iter().all(|f| {
        let c = f["properties"]["category"].as_str().unwrap();
        c == "regie_quartier" || c == "recyclerie"
    }));
    let in_qpv = s.get("/api/initiatives?qpv=QN07511M").json;
    assert!(in_qpv["total"].as_u64().unwrap() > 0);
    assert!(
        in_qpv["features"]
            .as_array()
            .unwrap()
            .iter()
            .all(|f| f["properties"]["qpv_location"]["qpv"]["code"] == "QN07511M")
    );

    let one = s.get("/api/initiatives/lemarche-siae-2");
    assert_eq!(one.json["properties"]["name"], "LA COLLECTERIE");
    assert_eq!(
        one.json["properties"]["category_label"],
        "Atelier et chantier d'insertion"
    );
    assert_eq!(one.json["geometry"]["coordinates"][0], 2.455023);
    let unlocated = s.get("/api/initiatives?q=&limit=1000&offset=0").json;
    assert_eq!(unlocated["total"], 5444);
    assert_eq!(s.get("/api/initiatives/nope").status, 404);

    assert_bad_parameter(
        &s.get("/api/initiatives?bbox=2.4,48.8,2.3,48.9"),
        "bbox",
        "inverted",
    );
    assert_bad_parameter(
        &s.get("/api/initiatives?bbox=-5,41,9,51"),
        "bbox",
        "larger than 5°",
    );
    assert_bad_parameter(&s.get("/api/initiatives?bbox=1,2,3"), "bbox", "expected 4");
    assert_bad_parameter(
        &s.get("/api/initiatives?bbox=2,48,2.1,95"),
        "bbox",
        "latitude 95 outside",
    );
    assert_bad_parameter(
        &s.get("/api/initiatives?category=x"),
        "category",
        "unknown category `x`",
    );
    assert_bad_parameter(&s.get("/api/initiatives?qpv=QN0"), "qpv", "no QPV");
    assert_bad_parameter(
        &s.get("/api/initiatives?limit=5000"),
        "limit",
        "outside [1, 1000]",
    );
    assert_bad_parameter(
        &s.get("/api/initiatives?offset=-1"),
        "offset",
        "not a number",
    );
}

#[test]
fn categories_count_every_initiative() {
    let s = Server::start();
    let r = s.get("/api/categories").json;
    let categories = r["categories"].as_array().unwrap();
    let sum: u64 = categories
        .iter()
        .map(|c| c["initiatives"].as_u64().unwrap())
        .sum();
    assert_eq!(sum, 5444);
    let regies = categories
        .iter()
        .find(|c| c["id"] == "regie_quartier")
        .unwrap();
    assert_eq!(regies["label"], "Régie de quartier ou de territoire");
    assert!(regies["initiatives"].as_u64().unwrap() >= 80);
}

#[test]
fn responses_are_gzipped_when_asked_and_unknown_routes_are_404() {
    let s = Server::start();
    let r = s.get_with("/api/qpv", &[("accept-encoding", "gzip")]);
    assert_eq!(r.content_encoding, "gzip");
    assert!(
        r.bytes.starts_with(&[0x1f, 0x8b]),
        "status {}, {} bytes, {:?}",
        r.status,
        r.bytes.len(),
        String::from_utf8_lossy(&r.bytes[..r.bytes.len().min(200)])
    );
    let missing = s.get("/api/nothing");
    assert_eq!(
        (missing.status, missing.json["error"].as_str()),
        (404, Some("not_found"))
    );
}

/// Every documented route answers its documented example, and every route
/// refuses a parameter the document does not list.
#[test]
fn openapi_document_matches_what_is_served() {
    let s = Server::start();
    let spec = s.get("/api/openapi.json").json;
    assert_eq!(spec["openapi"], "3.0.3");
    let paths = spec["paths"].as_object().unwrap();
    assert!(paths.len() >= 10);
    for (path, item) in paths {
        // Writes, and reads that need a token, are exercised in tests/edits.rs.
        // Redirects for browsers (single sign-on) are exercised with a real
        // provider in tests/browser/editing.test.mjs.
        let Some(operation) = item
            .get("get")
            .filter(|op| op.get("security").is_none() && op["responses"].get("200").is_some())
        else {
            continue;
        };
        let mut url = path.clone();
        let mut query = Vec::new();
        for p in operation["parameters"].as_array().unwrap() {
            let name = p["name"].as_str().unwrap();
            // A parameter that only goes with another value of a sibling
            // (`minutes` with `mode=marche`) has no example.
            if p.get("example").is_none() {
                continue;
            }
            let example = match &p["example"] {
                Value::String(s) => s.clone(),
                other => other.to_string(),
            };
            let encoded = example.replace(' ', "%20").replace('\'', "%27");
            match p["in"].as_str().unwrap() {
                "path" => url = url.replace(&format!("{{{name}}}"), &encoded),
                "header" => {}
                _ => query.push(format!("{name}={encoded}")),
            }
        }
        let full = if query.is_empty() {
            url.clone()
        } else {
            format!("{url}?{}", query.join("&"))
        };
        let r = s.get(&full);
        // Walking needs an OpenStreetMap extract, which the shipped data
        // has not: the answer says so (tests/walk.rs serves one).
        if r.status == 409 && r.json["error"] == "no_walk_network" {
            continue;
        }
        assert_eq!(r.status, 200, "{full}: {}", r.json);
        let documented = operation["responses"]["200"]["content"]
            .as_object()
            .unwrap();
        assert!(
            documented.contains_key(&r.content_type),
            "{full}: {} not documented",
            r.content_type
        );
        let sep = if query.is_empty() { "?" } else { "&" };
        let undocumented = s.get(&format!("{full}{sep}undocumented=1"));
        assert_bad_parameter(&undocumented, "undocumented", "unknown parameter");
        for code in operation["responses"].as_object().unwrap().keys() {
            assert!(
                ["200", "204", "304", "400", "404", "409", "503"].contains(&code.as_str()),
                "{full}: {code}"
            );
        }
    }
}

/// Which sites may frame the pages (`frame_ancestors`): HTML pages say so
/// (the map and the fiche), JSON answers have no such header.
#[test]
fn html_pages_say_which_sites_may_frame_them() {
    let state = tempfile::tempdir().unwrap();
    let config = state.path().join("ess-map.toml");
    std::fs::write(
        &config,
        "frame_ancestors = \"'self' https://www.ville.example.org\"\n",
    )
    .unwrap();
    let s = ess_map_e2e::Server::start_with(
        state.path(),
        &["--geocoder", "none", "--config", config.to_str().unwrap()],
    );
    let policy = "frame-ancestors 'self' https://www.ville.example.org";
    assert_eq!(s.get("/").headers["content-security-policy"], policy);
    assert_eq!(
        s.get("/qpv/QN07511M/fiche").headers["content-security-policy"],
        policy
    );
    assert!(
        !s.get("/api/qpv/QN07511M")
            .headers
            .contains_key("content-security-policy")
    );
}
