//! The catalogue of bad input: each case names the file, the feature or line,
//! the field and the reason, and says what was done with the record.

// Only the project files of `common`; the real data is not loaded here.
#[allow(dead_code)]
mod common;

use geodata::report::{Action, Position};
use geodata::{Dataset, DatasetReport, LoadError, LocationStatus, Manifest};

/// Loads `files` (name, content) as datasets of the given kinds from a fresh
/// data directory.
fn load(datasets: &[(&str, &str, &str)]) -> Result<Dataset, LoadError> {
    let dir = tempfile::tempdir().unwrap();
    let mut manifest = String::new();
    for (kind, file, content) in datasets {
        std::fs::write(dir.path().join(file), content).unwrap();
        manifest.push_str(&format!(
            "[[dataset]]\nid = \"{file}\"\nkind = \"{kind}\"\nfile = \"{file}\"\ntitle = \"t\"\nterritory = \"t\"\nsource_url = \"https://example.org/{file}\"\nlicence = \"l\"\nattribution = \"a\"\n\n"
        ));
    }
    let manifest = Manifest::from_toml(&manifest).unwrap();
    Dataset::load(dir.path(), manifest, common::taxonomy())
}

fn report<'a>(data: &'a Dataset, file: &str) -> &'a DatasetReport {
    data.reports().iter().find(|r| r.id == file).unwrap()
}

fn qpv_file(features: &[String]) -> String {
    format!(
        r#"{{"type":"FeatureCollection","features":[{}]}}"#,
        features.join(",")
    )
}

fn qpv_feature(code: &str, geometry: &str) -> String {
    format!(
        r#"{{"type":"Feature","properties":{{"code_qp":"{code}","lib_qp":"Quartier {code}","lib_com":"Paris","insee_dep":"75","insee_com":"75056"}},"geometry":{geometry}}}"#
    )
}

const SQUARE: &str = r#"{"type":"MultiPolygon","coordinates":[[[[2.35,48.88],[2.36,48.88],[2.36,48.89],[2.35,48.89],[2.35,48.88]]]]}"#;

const INITIATIVES_HEADER: &str = "id,name,category,address,commune,lon,lat\n";

#[test]
fn invalid_json_names_file_line_and_column() {
    let err = load(&[(
        "qpv_polygons",
        "q.geojson",
        "{\"type\":\"FeatureCollection\",\n\"features\":[,]}",
    )])
    .err()
    .unwrap();
    let text = err.to_string();
    assert!(matches!(err, LoadError::Json { line: 2, .. }), "{text}");
    assert!(
        text.contains("q.geojson") && text.contains("line 2"),
        "{text}"
    );
}

#[test]
fn a_file_that_is_not_a_feature_collection_is_refused() {
    let err = load(&[("qpv_polygons", "q.geojson", SQUARE)])
        .err()
        .unwrap();
    assert!(
        err.to_string()
            .contains("expected a GeoJSON FeatureCollection, found type `MultiPolygon`"),
        "{err}"
    );
}

#[test]
fn a_missing_required_file_says_where_to_get_it() {
    let dir = tempfile::tempdir().unwrap();
    let manifest = Manifest::from_file(&common::project_file("manifest.toml")).unwrap();
    let err = Dataset::load(dir.path(), manifest, common::taxonomy())
        .err()
        .unwrap();
    let text = err.to_string();
    assert!(
        text.contains("qpv-2024-idf.geojson") && text.contains("download it from https://"),
        "{text}"
    );
}

#[test]
fn malformed_feature_is_skipped() {
    let bad =
        r#"{"type":"Feature","properties":{},"geometry":{"type":"Polygon","coordinates":"nope"}}"#;
    let data = load(&[(
        "qpv_polygons",
        "q.geojson",
        &qpv_file(&[bad.to_string(), qpv_feature("QN07599A", SQUARE)]),
    )])
    .unwrap();
    let r = report(&data, "q.geojson");
    assert_eq!((r.read, r.loaded, r.skipped), (2, 1, 1));
    assert_eq!(r.issues[0].position, Position::Feature(0));
    assert!(
        r.issues[0]
            .reason
            .starts_with("not a valid GeoJSON Feature"),
        "{}",
        r.issues[0]
    );
}

#[test]
fn wrong_geometry_type_keeps_the_qpv_without_outline() {
    let line = r#"{"type":"LineString","coordinates":[[2.35,48.88],[2.36,48.88]]}"#;
    let data = load(&[(
        "qpv_polygons",
        "q.geojson",
        &qpv_file(&[qpv_feature("QN07599A", line)]),
    )])
    .unwrap();
    let issue = &report(&data, "q.geojson").issues[0];
    assert_eq!(issue.position, Position::Feature(0));
    assert_eq!(issue.key.as_deref(), Some("QN07599A"));
    assert_eq!(issue.field.as_deref(), Some("geometry"));
    assert_eq!(
        issue.reason,
        "geometry type LineString, expected Polygon or MultiPolygon"
    );
    assert_eq!(issue.action, Action::KeptWithoutLocation);
    let qpv = &data.qpvs()[0];
    assert!(qpv.geometry.is_none());
    assert!(qpv.geometry_note.as_deref().unwrap().contains("LineString"));
}

#[test]
fn out_of_range_polygon_coordinates_reject_the_outline() {
    let far = r#"{"type":"Polygon","coordinates":[[[2.35,48.88],[2.36,95.0],[2.36,48.89],[2.35,48.88]]]}"#;
    let data = load(&[(
        "qpv_polygons",
        "q.geojson",
        &qpv_file(&[qpv_feature("QN07599A", far)]),
    )])
    .unwrap();
    let issue = &report(&data, "q.geojson").issues[0];
    assert_eq!(
        issue.reason,
        "ring 0, position 1: latitude 95 outside [-90, 90]"
    );
    assert!(data.qpvs()[0].geometry.is_none());
}

#[test]
fn unclosed_ring_is_closed_and_reported() {
    let open = r#"{"type":"Polygon","coordinates":[[[2.35,48.88],[2.36,48.88],[2.36,48.89],[2.35,48.89]]]}"#;
    let data = load(&[(
        "qpv_polygons",
        "q.geojson",
        &qpv_file(&[qpv_feature("QN07599A", open)]),
    )])
    .unwrap();
    let r = report(&data, "q.geojson");
    assert_eq!(r.repaired, 1);
    assert_eq!(r.issues[0].reason, "ring 0 was not closed; closed it");
    assert_eq!(r.issues[0].action, Action::Repaired);
    let located = data.locate(geo::coord! { x: 2.355, y: 48.885 }, 0.0, None);
    assert_eq!(located.status, LocationStatus::Inside);
}

#[test]
fn ring_with_too_few_positions_rejects_the_outline() {
    let thin = r#"{"type":"Polygon","coordinates":[[[2.35,48.88],[2.36,48.88],[2.35,48.88]]]}"#;
    let data = load(&[(
        "qpv_polygons",
        "q.geojson",
        &qpv_file(&[qpv_feature("QN07599A", thin)]),
    )])
    .unwrap();
    assert_eq!(
        report(&data, "q.geojson").issues[0].reason,
        "ring 0: 3 positions, a ring needs at least 4"
    );
}

#[test]
fn self_intersecting_polygon_is_repaired_with_make_valid() {
    // A bow tie: the boundary crosses itself at (2.355, 48.885).
    let bowtie = r#"{"type":"Polygon","coordinates":[[[2.35,48.88],[2.36,48.89],[2.36,48.88],[2.35,48.89],[2.35,48.88]]]}"#;
    let data = load(&[(
        "qpv_polygons",
        "q.geojson",
        &qpv_file(&[qpv_feature("QN07599A", bowtie)]),
    )])
    .unwrap();
    let issue = &report(&data, "q.geojson").issues[0];
    assert_eq!(issue.action, Action::Repaired);
    assert!(
        issue.reason.contains("self-intersect") && issue.reason.contains("MakeValid"),
        "{issue}"
    );
    let outline = data.qpvs()[0].geometry.as_ref().unwrap();
    assert_eq!(
        outline.lonlat.0.len(),
        2,
        "the bow tie becomes two triangles"
    );
    // Inside the left triangle, outside the crossing's empty wedges.
    assert!(outline.covers(geo::coord! { x: 2.352, y: 48.885 }));
    assert!(!outline.covers(geo::coord! { x: 2.355, y: 48.8815 }));
}

#[test]
fn duplicate_qpv_codes_keep_the_first() {
    let data = load(&[(
        "qpv_polygons",
        "q.geojson",
        &qpv_file(&[
            qpv_feature("QN07599A", SQUARE),
            qpv_feature("QN07599A", SQUARE),
        ]),
    )])
    .unwrap();
    let issue = &report(&data, "q.geojson").issues[0];
    assert_eq!(issue.position, Position::Feature(1));
    assert!(
        issue
            .reason
            .starts_with("duplicate code, already loaded from q.geojson"),
        "{issue}"
    );
    assert_eq!(data.qpvs().len(), 1);
}

#[test]
fn missing_qpv_code_skips_the_feature() {
    let nameless = r#"{"type":"Feature","properties":{"lib_qp":"X"},"geometry":null}"#;
    let data = load(&[(
        "qpv_polygons",
        "q.geojson",
        &qpv_file(&[nameless.to_string()]),
    )])
    .unwrap();
    let issue = &report(&data, "q.geojson").issues[0];
    assert_eq!(
        (issue.field.as_deref(), issue.reason.as_str()),
        (Some("code_qp"), "missing QPV code")
    );
}

fn initiatives(rows: &str) -> Dataset {
    load(&[(
        "initiatives",
        "i.csv",
        &format!("{INITIATIVES_HEADER}{rows}"),
    )])
    .unwrap()
}

#[test]
fn nan_coordinates_keep_the_initiative_unlocated() {
    let data = initiatives("a,Garage solidaire,ACI,1 rue X,Paris,NaN,48.85\n");
    let issue = &report(&data, "i.csv").issues[0];
    assert_eq!(issue.position, Position::Line(2));
    assert_eq!(issue.field.as_deref(), Some("lon/lat"));
    assert_eq!(
        issue.reason,
        "coordinates (NaN, 48.85) are not finite numbers"
    );
    assert_eq!(issue.action, Action::KeptWithoutLocation);
    assert_eq!(
        data.initiatives().iter().next().unwrap().location.status,
        LocationStatus::NotLocated
    );
    assert_eq!(
        data.initiatives().iter().next().unwrap().category,
        "garage_mobilite"
    );
}

#[test]
fn out_of_range_initiative_coordinates_are_reported() {
    let data = initiatives("a,A,EI,,,2.35,123\nb,B,EI,,,0,0\n");
    let issues = &report(&data, "i.csv").issues;
    assert_eq!(issues[0].reason, "latitude 123 outside [-90, 90]");
    assert_eq!(
        issues[1].reason,
        "coordinates (0, 0) are a placeholder, not a place"
    );
    assert_eq!(issues[1].position, Position::Line(3));
    assert_eq!(data.initiatives().len(), 2);
}

#[test]
fn unparsable_coordinates_name_the_field() {
    let data = initiatives("a,A,EI,,,2.35,quarante-huit\n");
    let issue = &report(&data, "i.csv").issues[0];
    assert_eq!(
        (issue.field.as_deref(), issue.reason.as_str()),
        (Some("lat"), "`quarante-huit` is not a number")
    );
}

#[test]
fn rows_without_coordinates_are_counted_not_dropped() {
    let data = initiatives("a,A,EI,,,,\nb,B,EI,,,2.35,48.85\n");
    let r = report(&data, "i.csv");
    assert_eq!((r.loaded, r.without_location, r.skipped), (2, 1, 0));
}

#[test]
fn csv_row_with_missing_fields_is_skipped_with_its_line() {
    let data = initiatives("a,A,EI,,,2.35,48.85\nb,B,EI\nc,C,EI,,,2.36,48.86\n");
    let r = report(&data, "i.csv");
    assert_eq!((r.read, r.loaded, r.skipped), (3, 2, 1));
    assert_eq!(r.issues[0].position, Position::Line(3));
    assert!(
        r.issues[0].reason.starts_with("malformed CSV record"),
        "{}",
        r.issues[0]
    );
}

#[test]
fn missing_name_or_id_skips_the_row() {
    let data = initiatives(",A,EI,,,2.35,48.85\nb,,EI,,,2.35,48.85\n");
    let issues = &report(&data, "i.csv").issues;
    assert_eq!(
        (issues[0].field.as_deref(), issues[0].action),
        (Some("id"), Action::Skipped)
    );
    assert_eq!(
        (issues[1].field.as_deref(), issues[1].key.as_deref()),
        (Some("name"), Some("b"))
    );
    assert!(data.initiatives().is_empty());
}

#[test]
fn duplicate_initiative_ids_keep_the_first() {
    let data = initiatives("a,First,EI,,,2.35,48.85\na,Second,EI,,,2.36,48.86\n");
    let issue = &report(&data, "i.csv").issues[0];
    assert_eq!(issue.position, Position::Line(3));
    assert_eq!(issue.reason, "duplicate id, first loaded from i.csv line 2");
    assert_eq!(&*data.initiatives().iter().next().unwrap().name, "First");
}

#[test]
fn missing_required_column_stops_the_file() {
    let err = load(&[("initiatives", "i.csv", "identifier,name\nx,y\n")])
        .err()
        .unwrap();
    assert_eq!(
        err.to_string(),
        format!(
            "{}: line 1: no `id` column (give one in the manifest's `columns`)",
            err_path(&err)
        )
    );
}

fn err_path(err: &LoadError) -> String {
    match err {
        LoadError::Invalid { path, .. } => path.display().to_string(),
        other => panic!("{other}"),
    }
}

#[test]
fn initiative_geojson_with_a_polygon_is_kept_unlocated() {
    let file = r#"{"type":"FeatureCollection","features":[{"type":"Feature","properties":{"id":"p","name":"P"},"geometry":{"type":"Polygon","coordinates":[[[2.35,48.88],[2.36,48.88],[2.36,48.89],[2.35,48.88]]]}}]}"#;
    let data = load(&[("initiatives", "i.geojson", file)]).unwrap();
    let issue = &report(&data, "i.geojson").issues[0];
    assert_eq!(issue.reason, "geometry type Polygon, expected Point");
    assert_eq!(issue.action, Action::KeptWithoutLocation);
}

#[test]
fn unpublished_or_unparsable_population_is_reported() {
    let polygons = qpv_file(&[
        qpv_feature("QN07599A", SQUARE),
        qpv_feature("QN07599B", SQUARE),
    ]);
    let data = load(&[
        ("qpv_polygons", "q.geojson", &polygons),
        (
            "qpv_population",
            "p.csv",
            "CODGEO,POP_MUN\nQN07599A,\nQN07599B,12 000\nQP999999,5\n",
        ),
    ])
    .unwrap();
    let r = report(&data, "p.csv");
    assert_eq!(r.issues[0].reason, "not published (statistical secrecy)");
    assert_eq!(r.issues[1].reason, "`12 000` is not a whole number");
    assert_eq!(r.issues[1].action, Action::KeptWithoutField);
    assert!(r.notes[0].starts_with("1 rows are for QPV not loaded"));
}

#[test]
fn issues_read_as_one_line_each() {
    let data = initiatives("a,A,EI,,,2.35,quarante-huit\n");
    let line = report(&data, "i.csv").issues[0].to_string();
    assert!(line.ends_with("i.csv: line 2 (a), field `lat`: `quarante-huit` is not a number (kept without location)"), "{line}");
}

#[test]
fn lines_are_counted_right_in_files_with_crlf_line_ends() {
    // Most files of the data directory end lines with CRLF.
    let data = initiatives("a,A,EI,,,2.35,48.85\r\nb,B,EI,,,2.35,123\r\n");
    let issues = &report(&data, "i.csv").issues;
    assert_eq!(issues[0].position, Position::Line(3));
}
