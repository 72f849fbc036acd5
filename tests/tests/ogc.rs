//! OGC API – Features under `/ogc`, read by real clients: GDAL's OAPIF
//! driver (`ogrinfo`, `ogr2ogr`, Debian's `gdal-bin`) and an OpenAPI 3.0
//! validator (`openapi-spec-validator` from PyPI, installed into
//! `target/ogc-venv` the first time).

use std::collections::{BTreeMap, HashMap};
use std::process::Command;

use ess_map_e2e::{Server, python_tool};
use serde_json::Value;

const VALIDATOR: &str = "openapi-spec-validator==0.7.2";

fn run(command: &mut Command) -> String {
    let out = command.output().expect("the command runs");
    assert!(
        out.status.success(),
        "{command:?}: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8(out.stdout).unwrap()
}

/// Every initiative `/api/initiatives` lists, by id, paged.
fn api_initiatives(s: &Server, query: &str) -> BTreeMap<String, Value> {
    let mut all = BTreeMap::new();
    let mut offset = 0;
    loop {
        let page = s
            .get(&format!(
                "/api/initiatives?limit=1000&offset={offset}{query}"
            ))
            .json;
        let features = page["features"].as_array().unwrap();
        for f in features {
            all.insert(f["id"].as_str().unwrap().to_string(), f.clone());
        }
        offset += features.len();
        if features.is_empty() || offset >= page["total"].as_u64().unwrap() as usize {
            return all;
        }
    }
}

#[test]
fn gdal_reads_every_collection_and_copies_every_initiative() {
    let s = Server::start();
    let url = format!("OAPIF:{}/ogc", s.base);

    // The collections, with the counts the API gives.
    let summary = run(Command::new("ogrinfo").args(["-ro", "-so", "-al", &url]));
    let mut counts: HashMap<String, u64> = HashMap::new();
    let mut layer = String::new();
    for line in summary.lines() {
        if let Some(name) = line.strip_prefix("Layer name: ") {
            layer = name.trim().to_string();
        }
        if let Some(n) = line.strip_prefix("Feature Count: ") {
            counts.insert(layer.clone(), n.trim().parse().unwrap());
        }
    }
    let qpv = s.get("/api/qpv").json["qpv"].as_array().unwrap().len() as u64;
    let initiatives = s.get("/api/initiatives?limit=1").json["total"]
        .as_u64()
        .unwrap();
    let gaps = s.get("/api/gaps").json["count"].as_u64().unwrap();
    let departements = s
        .get("/ogc/collections/departements/items?limit=10000")
        .json["numberReturned"]
        .as_u64()
        .unwrap();
    assert!(departements > 90, "{departements} départements");
    assert_eq!(
        counts,
        HashMap::from([
            ("qpv".to_string(), qpv),
            ("initiatives".to_string(), initiatives),
            ("departements".to_string(), departements),
            ("gaps".to_string(), gaps),
        ]),
        "{summary}"
    );
    assert!(
        summary.contains("TEMPORAL_INTERVAL_MIN=2021-02-01T00:00:00Z"),
        "{summary}"
    );

    // ogr2ogr follows the next links through every page: every initiative,
    // with the attributes and position /api/initiatives gives.
    let out = tempfile::tempdir().unwrap();
    let copy = out.path().join("initiatives.geojson");
    run(Command::new("ogr2ogr")
        .args(["-f", "GeoJSON"])
        .arg(&copy)
        .args([&url, "initiatives"]));
    let copied: Value = serde_json::from_slice(&std::fs::read(&copy).unwrap()).unwrap();
    let copied = copied["features"].as_array().unwrap();
    let api = api_initiatives(&s, "");
    assert_eq!(copied.len(), api.len());
    for f in copied {
        let p = &f["properties"];
        let id = p["id"].as_str().unwrap();
        let expected = &api[id];
        for field in [
            "name",
            "brand",
            "category",
            "siret",
            "address",
            "postcode",
            "commune",
            "insee_code",
            "precision",
            "source",
        ] {
            assert_eq!(p[field], expected["properties"][field], "{id} {field}");
        }
        assert_eq!(
            p["qpv_status"], expected["properties"]["qpv_location"]["status"],
            "{id}"
        );
        assert_eq!(
            p["qpv_code"],
            expected["properties"]["qpv_location"]["qpv"]
                .get("code")
                .cloned()
                .unwrap_or(Value::Null),
            "{id}"
        );
        assert_eq!(
            f["geometry"]["coordinates"], expected["geometry"]["coordinates"],
            "{id}"
        );
    }

    // A bbox filtered by GDAL equals the same bbox on the existing API.
    let bbox = "2.25,48.81,2.42,48.91";
    let spat = run(Command::new("ogrinfo").args([
        "-ro",
        "-al",
        "-q",
        "-spat",
        "2.25",
        "48.81",
        "2.42",
        "48.91",
        &url,
        "initiatives",
    ]));
    let gdal_ids: std::collections::BTreeSet<&str> = spat
        .lines()
        .filter_map(|l| l.trim().strip_prefix("id (String) = "))
        .collect();
    let api_ids = api_initiatives(&s, &format!("&bbox={bbox}"));
    assert!(
        api_ids.len() > 100,
        "{} initiatives in Paris",
        api_ids.len()
    );
    assert_eq!(gdal_ids, api_ids.keys().map(String::as_str).collect());
}

#[test]
fn the_standard_resources_links_paging_and_html() {
    let s = Server::start();
    let landing = s.get("/ogc");
    assert_eq!(landing.content_type, "application/json");
    let rel = |body: &Value, rel: &str| -> Vec<(String, String)> {
        body["links"]
            .as_array()
            .unwrap()
            .iter()
            .filter(|l| l["rel"] == rel)
            .map(|l| {
                (
                    l["href"].as_str().unwrap().to_string(),
                    l["type"].as_str().unwrap().to_string(),
                )
            })
            .collect()
    };
    let base = &s.base;
    assert_eq!(
        rel(&landing.json, "service-desc"),
        [(
            format!("{base}/ogc/api"),
            "application/vnd.oai.openapi+json;version=3.0".to_string()
        )]
    );
    for r in ["self", "alternate", "service-doc", "conformance", "data"] {
        assert_eq!(rel(&landing.json, r).len(), 1, "{r}");
    }
    let conformance = s.get("/ogc/conformance").json;
    let classes: Vec<&str> = conformance["conformsTo"]
        .as_array()
        .unwrap()
        .iter()
        .map(|c| c.as_str().unwrap())
        .collect();
    for class in ["core", "oas30", "html", "geojson"] {
        assert!(classes.contains(
            &format!("http://www.opengis.net/spec/ogcapi-features-1/1.0/conf/{class}").as_str()
        ));
    }
    let api = s.get("/ogc/api");
    assert_eq!(
        api.content_type,
        "application/vnd.oai.openapi+json;version=3.0"
    );

    // Collections with extents; items paged with next and prev.
    let collections = s.get("/ogc/collections").json;
    let ids: Vec<&str> = collections["collections"]
        .as_array()
        .unwrap()
        .iter()
        .map(|c| c["id"].as_str().unwrap())
        .collect();
    assert_eq!(ids, ["qpv", "initiatives", "departements", "gaps"]);
    let qpv = s.get("/ogc/collections/qpv").json;
    let [w, south, e, n] =
        [0, 1, 2, 3].map(|i| qpv["extent"]["spatial"]["bbox"][0][i].as_f64().unwrap());
    assert!(w < 1.5 && e > 2.5 && south < 43.5 && n > 48.9, "{qpv}");
    assert!(
        rel(&qpv, "items")
            .iter()
            .any(|(_, t)| t == "application/geo+json")
    );

    let first = s.get("/ogc/collections/qpv/items?departement=93&limit=20");
    assert_eq!(first.content_type, "application/geo+json");
    let matched = first.json["numberMatched"].as_u64().unwrap();
    assert_eq!(matched, 75);
    assert_eq!(first.json["numberReturned"], 20);
    assert!(first.json["timeStamp"].as_str().unwrap().ends_with('Z'));
    let next = &rel(&first.json, "next")[0];
    assert_eq!(next.1, "application/geo+json");
    assert!(rel(&first.json, "prev").is_empty());
    let mut seen: Vec<String> = Vec::new();
    let mut page = first.json.clone();
    loop {
        seen.extend(
            page["features"]
                .as_array()
                .unwrap()
                .iter()
                .map(|f| f["id"].as_str().unwrap().to_string()),
        );
        let Some((href, _)) = rel(&page, "next").into_iter().next() else {
            break;
        };
        page = s.get(href.strip_prefix(base.as_str()).unwrap()).json;
        assert_eq!(rel(&page, "prev").len(), 1);
    }
    let mut unique = seen.clone();
    unique.sort();
    unique.dedup();
    assert_eq!((seen.len(), unique.len()), (75, 75));
    let feature = s.get(&format!("/ogc/collections/qpv/items/{}", seen[0]));
    assert_eq!(feature.json["id"].as_str(), Some(seen[0].as_str()));
    assert_eq!(feature.json["properties"]["departement"], "93");
    assert!(
        feature.json["properties"]["communes"].is_string(),
        "lists are flat text for GIS tables"
    );

    // Gap rows at 500 m, the same as /api/gaps, in its order.
    let gaps = s
        .get("/ogc/collections/gaps/items?departement=93&limit=10000")
        .json;
    let api_gaps = s.get("/api/gaps?departement=93").json;
    let codes = |v: &Value, key: &str, code: &dyn Fn(&Value) -> &Value| -> Vec<String> {
        v[key]
            .as_array()
            .unwrap()
            .iter()
            .map(|g| code(g).as_str().unwrap().to_string())
            .collect()
    };
    assert_eq!(
        codes(&gaps, "features", &|f| &f["id"]),
        codes(&api_gaps, "gaps", &|g| &g["code"])
    );

    // HTML for a person: by f=html, or a browser's Accept.
    let html = s.get_with(
        "/ogc/collections/initiatives/items?limit=5",
        &[("Accept", "text/html,application/xhtml+xml,*/*;q=0.8")],
    );
    assert_eq!(html.content_type, "text/html; charset=utf-8");
    let text = String::from_utf8(html.bytes).unwrap();
    assert!(
        text.contains("<html lang=\"fr\">") && text.contains("Entités 1 à 5 sur"),
        "{text}"
    );
    let landing_html = String::from_utf8(s.get("/ogc?f=html").bytes).unwrap();
    assert!(landing_html.contains("href=\"") && landing_html.contains("/ogc/collections"));

    // Errors in the API's one JSON shape.
    for (path, status, parameter) in [
        ("/ogc/collections/boulangeries", 404, None),
        ("/ogc/collections/qpv/items/QN00000X", 404, None),
        (
            "/ogc/collections/initiatives/items?limit=20000",
            400,
            Some("limit"),
        ),
        (
            "/ogc/collections/initiatives/items?bbox=3,49,2,48",
            400,
            Some("bbox"),
        ),
        ("/ogc/collections/initiatives/items?f=xml", 400, Some("f")),
        (
            "/ogc/collections/gaps/items?category=boulangerie",
            400,
            Some("category"),
        ),
        // Ignored where it does not apply, but still checked.
        (
            "/ogc/collections/departements/items?generation=E",
            400,
            Some("generation"),
        ),
        (
            "/ogc/collections/departements/items?departement=%0F",
            400,
            Some("departement"),
        ),
        (
            "/ogc/collections/departements/items?qpv=QX",
            400,
            Some("qpv"),
        ),
    ] {
        let r = s.get(path);
        assert_eq!(
            (r.status, r.json["parameter"].as_str()),
            (status, parameter),
            "{path}"
        );
        assert!(r.json["message"].is_string());
    }
    // One document describes every collection's filters: `category` on the
    // gaps chooses what is analysed (groups too), `qpv` keeps one QPV; a
    // filter that does not apply (category on the QPV) is ignored.
    let siae = s.get("/ogc/collections/gaps/items?category=siae&qpv=QN07511M");
    assert_eq!(siae.status, 200, "{}", siae.json);
    assert_eq!(siae.json["numberMatched"], 1);
    let properties = &siae.json["features"][0]["properties"];
    assert!(properties["siae_within"].is_number(), "{properties}");
    assert!(
        properties.get("garage_mobilite_within").is_none(),
        "{properties}"
    );
    let ignored = s.get("/ogc/collections/qpv/items?category=geiq&limit=3");
    let plain = s.get("/ogc/collections/qpv/items?limit=3");
    assert_eq!(ignored.status, 200);
    assert_eq!(ignored.json["features"], plain.json["features"]);
}

#[test]
fn the_api_document_is_valid_openapi_3_0_and_gives_the_page_limits() {
    let s = Server::start();
    let document = s.get("/ogc/api");
    let items = &document.json["paths"]["/ogc/collections/{collectionId}/items"]["get"];
    let limit = items["parameters"]
        .as_array()
        .unwrap()
        .iter()
        .find(|p| p["name"] == "limit")
        .unwrap();
    // QGIS reads the page size and its maximum from here.
    assert_eq!(
        (
            limit["schema"]["default"].as_u64(),
            limit["schema"]["maximum"].as_u64()
        ),
        (Some(100), Some(10_000))
    );

    let validator = python_tool("ogc-venv", &[VALIDATOR], "openapi-spec-validator");
    let file = tempfile::NamedTempFile::new().unwrap();
    std::fs::write(file.path(), &document.bytes).unwrap();
    let out = run(Command::new(&validator)
        .args(["--schema", "3.0"])
        .arg(file.path()));
    assert!(out.contains(": OK"), "{out}");
}

/// `ogrinfo -so` of one layer of a file: (feature count, the summary).
fn layer_summary(file: &std::path::Path, layer: &str) -> (u64, String) {
    let summary = run(Command::new("ogrinfo")
        .args(["-ro", "-so"])
        .arg(file)
        .arg(layer));
    let count = summary
        .lines()
        .find_map(|l| l.strip_prefix("Feature Count: "))
        .unwrap_or_else(|| panic!("{summary}"))
        .trim()
        .parse()
        .unwrap();
    (count, summary)
}

#[test]
fn geopackage_downloads_open_in_gdal_with_srs_and_spatial_index() {
    let s = Server::start();
    let dir = tempfile::tempdir().unwrap();

    let export = s.get("/api/initiatives/export");
    assert_eq!(export.content_type, "application/geopackage+sqlite3");
    assert!(export.headers["content-disposition"].contains("initiatives.gpkg"));
    let file = dir.path().join("initiatives.gpkg");
    std::fs::write(&file, &export.bytes).unwrap();
    let (count, summary) = layer_summary(&file, "initiatives");
    let total = s.get("/api/initiatives?limit=1").json["total"]
        .as_u64()
        .unwrap();
    assert_eq!(count, total);
    assert!(summary.contains("ID[\"EPSG\",4326]"), "{summary}");
    assert!(summary.contains("Geometry: Point"), "{summary}");
    assert!(
        summary.contains("SIAE) (2021-02)"),
        "the layer says its data's dates: {summary}"
    );
    let index = run(Command::new("ogrinfo")
        .args([
            "-ro",
            "-q",
            "-sql",
            "SELECT HasSpatialIndex('initiatives', 'geom')",
        ])
        .arg(&file));
    assert!(index.contains("= 1"), "{index}");
    // Read back through the index: the Paris box holds what the API lists.
    let paris = run(Command::new("ogrinfo")
        .args(["-ro", "-q", "-spat", "2.25", "48.81", "2.42", "48.91"])
        .arg(&file)
        .arg("initiatives"));
    let ids: std::collections::BTreeSet<&str> = paris
        .lines()
        .filter_map(|l| l.trim().strip_prefix("id (String) = "))
        .collect();
    let api = api_initiatives(&s, "&bbox=2.25,48.81,2.42,48.91");
    assert_eq!(ids, api.keys().map(String::as_str).collect());
    // Filters apply as on the list.
    let aci = s.get("/api/initiatives/export?category=insertion_aci&format=geojson");
    assert_eq!(aci.content_type, "application/geo+json");
    assert_eq!(
        aci.json["features"].as_array().unwrap().len() as u64,
        s.get("/api/initiatives?category=insertion_aci&limit=1")
            .json["total"]
            .as_u64()
            .unwrap()
    );

    let gaps = s.get("/api/gaps?format=gpkg&departement=93&radius_m=300");
    assert_eq!(gaps.content_type, "application/geopackage+sqlite3");
    let file = dir.path().join("manques.gpkg");
    std::fs::write(&file, &gaps.bytes).unwrap();
    let (count, summary) = layer_summary(&file, "manques");
    assert_eq!(count, 75);
    assert!(
        summary.contains("Geometry: Multi Polygon") && summary.contains("ID[\"EPSG\",4326]"),
        "{summary}"
    );
    assert!(
        summary.contains("gap: Integer(Boolean)") && summary.contains("nearest_m: Real"),
        "{summary}"
    );
    // The same rows as the JSON table, in its order.
    let rows = run(Command::new("ogrinfo")
        .args([
            "-ro",
            "-q",
            "-sql",
            "SELECT code, within FROM manques ORDER BY fid",
        ])
        .arg(&file));
    let from_gpkg: Vec<&str> = rows
        .lines()
        .filter_map(|l| l.trim().strip_prefix("code (String) = "))
        .collect();
    let json = s.get("/api/gaps?departement=93&radius_m=300").json;
    let from_api: Vec<&str> = json["gaps"]
        .as_array()
        .unwrap()
        .iter()
        .map(|g| g["code"].as_str().unwrap())
        .collect();
    assert_eq!(from_gpkg, from_api);
}
