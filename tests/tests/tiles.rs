//! Tiles, TileJSON, style and glyphs over HTTP from the real binary.

use ess_map_e2e::Server;

#[test]
fn tilejson_describes_each_layer_on_this_server() {
    let s = Server::start();
    for layer in ["qpv", "initiatives", "departements", "communes"] {
        let r = s.get(&format!("/tiles/{layer}.json"));
        assert_eq!(r.status, 200);
        let tj = &r.json;
        assert_eq!(tj["tilejson"], "3.0.0");
        assert_eq!(
            tj["tiles"][0],
            format!("{}/tiles/{layer}/{{z}}/{{x}}/{{y}}.mvt", s.base)
        );
        assert_eq!(tj["vector_layers"][0]["id"], layer);
        assert_eq!(tj["bounds"].as_array().unwrap().len(), 4);
        assert_eq!(tj["center"].as_array().unwrap().len(), 3);
        assert_eq!(
            (tj["minzoom"].as_u64(), tj["maxzoom"].as_u64()),
            (Some(0), Some(16))
        );
        assert!(tj["attribution"].as_str().unwrap().starts_with("Source"));
    }
    let qpv = s.get("/tiles/qpv.json").json;
    assert_eq!(qpv["vector_layers"][0]["fields"]["code"], "String");
    // Counts are not in the QPV tiles (/api/qpv/counts): an edit leaves them.
    assert_eq!(
        qpv["vector_layers"][0]["fields"]["initiatives_within_500m"],
        serde_json::Value::Null
    );
    let filtered = s
        .get("/tiles/initiatives.json?category=regie_quartier")
        .json;
    assert!(
        filtered["tiles"][0]
            .as_str()
            .unwrap()
            .ends_with(".mvt?category=regie_quartier")
    );
    assert_eq!(s.get("/tiles/nothing.json").status, 404);
}

#[test]
fn tiles_are_gzipped_cached_with_etags_and_checked() {
    let s = Server::start();
    let path = "/tiles/qpv/14/8299/5632.mvt";
    let plain = s.get(path);
    assert_eq!(plain.status, 200);
    assert_eq!(plain.content_type, "application/vnd.mapbox-vector-tile");
    assert!(plain.bytes.len() > 100);
    let gz = s.get_with(path, &[("accept-encoding", "gzip")]);
    assert_eq!(gz.content_encoding, "gzip");
    assert_eq!(&gz.bytes[..2], &[0x1f, 0x8b]);
    let etag = plain.etag.clone();
    assert!(
        etag.starts_with('"') && etag.ends_with('"'),
        "strong ETag: {etag}"
    );
    assert_eq!(gz.etag, etag);
    assert_eq!(plain.cache_control, "public, no-cache");
    assert_eq!(s.get_with(path, &[("if-none-match", &etag)]).status, 304);
    // Far out at sea: an empty tile, the way MapLibre expects it.
    let empty = s.get("/tiles/qpv/8/0/0.mvt");
    assert_eq!(empty.status, 204);
    assert!(empty.bytes.is_empty());

    let bad = s.get("/tiles/qpv/3/9/1.mvt");
    assert_eq!(
        (bad.status, bad.json["parameter"].as_str()),
        (400, Some("x"))
    );
    let deep = s.get("/tiles/qpv/30/0/0.mvt");
    assert_eq!(
        (deep.status, deep.json["parameter"].as_str()),
        (400, Some("z"))
    );
    assert_eq!(s.get("/tiles/qpv/a/0/0.mvt").json["parameter"], "z");
    assert_eq!(s.get("/tiles/roads/1/0/0.mvt").status, 404);
    assert_eq!(s.get("/tiles/qpv/1/0/0.png").status, 404);
    // The other layers ignore a (checked) category.
    let qpv = s.get("/tiles/qpv/5/16/11.mvt?category=regie_quartier");
    assert_eq!(qpv.status, 200);
    assert_eq!(qpv.bytes, s.get("/tiles/qpv/5/16/11.mvt").bytes);
    assert_eq!(
        s.get("/tiles/qpv/5/16/11.mvt?category=nope").json["parameter"],
        "category"
    );
    assert_eq!(
        s.get("/tiles/initiatives/5/16/11.mvt?category=nope").json["parameter"],
        "category"
    );
    let regies = s.get("/tiles/initiatives/5/16/11.mvt?category=regie_quartier");
    let all = s.get("/tiles/initiatives/5/16/11.mvt");
    assert_eq!((regies.status, all.status), (200, 200));
    assert!(regies.bytes.len() < all.bytes.len());
}

#[test]
fn style_glyphs_and_ring_are_served_here() {
    let s = Server::start();
    let style = s.get("/style.json").json;
    assert_eq!(style["version"], 8);
    assert!(style["glyphs"].as_str().unwrap().starts_with(&s.base));
    // The vector sources carry their TileJSON's fields (the map asks for its
    // first tiles without fetching four documents first), the same as
    // `/tiles/{layer}.json` answers.
    for layer in ["qpv", "initiatives", "departements", "communes"] {
        let source = &style["sources"][layer];
        let tilejson = s.get(&format!("/tiles/{layer}.json")).json;
        assert_eq!(source["type"], "vector");
        assert!(source["tiles"][0].as_str().unwrap().starts_with(&s.base));
        for field in ["tiles", "minzoom", "maxzoom", "bounds", "attribution"] {
            assert_eq!(source[field], tilejson[field], "{layer}: {field}");
        }
    }
    assert_eq!(
        style["metadata"]["ess-map:basemap"],
        serde_json::Value::Null
    );
    let glyphs = s.get("/fonts/DejaVu%20Sans%20Bold/0-255.pbf");
    assert_eq!(glyphs.status, 200);
    assert!(glyphs.bytes.len() > 1000);
    assert_eq!(
        s.get("/fonts/DejaVu%20Sans/0-99.pbf").json["parameter"],
        "range"
    );
    assert_eq!(s.get("/fonts/Comic%20Sans/0-255.pbf").status, 404);

    let ring = s.get("/api/qpv/QN07511M/ring?radius_m=300").json;
    assert_eq!(ring["geometry"]["type"], "MultiPolygon");
    assert_eq!(ring["properties"]["radius_m"], 300.0);
    assert_eq!(s.get("/api/qpv/QN00101M/ring").status, 409);
}
