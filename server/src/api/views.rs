//! How QPV and initiatives look in JSON and GeoJSON (RFC 7946).

use geodata::model::{Location, LocationStatus, Qpv};
use geodata::{Dataset, Initiative, QpvId};
use geojson::{Feature, Geometry, GeometryValue, JsonObject};
use serde::Serialize;
use serde_json::{Value, json};

/// The properties of a QPV, as listed and as a Feature.
pub fn qpv_properties(data: &Dataset, id: QpvId) -> JsonObject {
    let q: &Qpv = data.qpv(id);
    let counts = data.qpv_counts(id);
    let as_of = |dataset: &str| data.manifest().get(dataset).and_then(|d| d.as_of.clone());
    let value = json!({
        "code": q.code,
        "name": q.name,
        "communes": q.communes,
        "departement": q.departement,
        "departement_name": data.territory().departement_name(&q.departement),
        "generation": q.generation,
        "population": q.population,
        "population_as_of": q.population_as_of,
        "has_geometry": q.geometry.is_some(),
        // Where the map shows it (its communes' centre when no outline).
        "centre": data.territory().qpv_centre(id).map(|c| [c.x, c.y]),
        "geometry_note": q.geometry_note,
        "outline_as_of": q.geometry.as_ref().and_then(|_| as_of(q.sources.first()?)),
        "initiatives_inside": counts.map(|c| c.inside),
        "initiatives_within_500m": counts.map(|c| c.within_500m),
        "sources": q.sources,
    });
    match value {
        Value::Object(map) => map,
        _ => unreachable!("a json! object"),
    }
}

pub fn qpv_feature(data: &Dataset, id: QpvId) -> Feature {
    let q = data.qpv(id);
    Feature {
        bbox: q.geometry.as_ref().map(|g| {
            vec![
                g.bbox.min().x,
                g.bbox.min().y,
                g.bbox.max().x,
                g.bbox.max().y,
            ]
        }),
        geometry: q
            .geometry
            .as_ref()
            .map(|g| Geometry::new(GeometryValue::from(&g.lonlat))),
        id: Some(geojson::feature::Id::String(q.code.clone())),
        properties: Some(qpv_properties(data, id)),
        foreign_members: None,
    }
}

/// Where a location points, for JSON.
pub fn location_json(data: &Dataset, location: &Location) -> Value {
    serde_json::to_value(LocationView::new(data, location)).expect("a location serialises")
}

#[derive(Serialize)]
struct QpvRef<'a> {
    code: &'a str,
    name: &'a str,
    generation: u16,
}

/// A location as JSON: status, the QPV it names, metres to its boundary;
/// for an unknown one, the QPV (without outline) it may be in, and why.
#[derive(Serialize)]
struct LocationView<'a> {
    status: LocationStatus,
    qpv: Option<QpvRef<'a>>,
    distance_m: Option<f64>,
    #[serde(skip_serializing_if = "Option::is_none")]
    may_be_in: Option<QpvRef<'a>>,
    #[serde(skip_serializing_if = "Option::is_none")]
    note: Option<&'static str>,
}

/// Said of an unknown location.
pub const UNVERIFIABLE: &str = "non vérifiable : contour non chargé";

impl<'a> LocationView<'a> {
    fn new(data: &'a Dataset, location: &Location) -> Self {
        let named = |i: geodata::QpvId| {
            let q = data.qpv(i);
            QpvRef {
                code: &q.code,
                name: &q.name,
                generation: q.generation,
            }
        };
        let unknown = location.status == LocationStatus::Unknown;
        LocationView {
            status: location.status,
            qpv: location.qpv.filter(|_| !unknown).map(named),
            distance_m: location.distance_m,
            may_be_in: location.qpv.filter(|_| unknown).map(named),
            note: unknown.then_some(UNVERIFIABLE),
        }
    }
}

/// Metres, rounded to the decimetre: the data are not more precise.
fn rounded_metres(d: f64) -> f64 {
    (d * 10.0).round() / 10.0
}

#[derive(Serialize)]
struct PointGeometry {
    #[serde(rename = "type")]
    kind: &'static str,
    coordinates: [f64; 2],
}

/// An initiative's properties: its fields, then what the API adds.
#[derive(Serialize)]
struct InitiativeProperties<'a> {
    #[serde(flatten)]
    initiative: &'a Initiative,
    category_label: Option<&'a str>,
    /// The date the source describes: the dataset's, for open data.
    data_as_of: Option<&'a str>,
    qpv_location: LocationView<'a>,
    #[serde(skip_serializing_if = "Option::is_none")]
    not_located: Option<bool>,
    #[serde(skip_serializing_if = "Option::is_none")]
    distance_m: Option<f64>,
}

/// An initiative as a GeoJSON Feature (serialised straight to bytes: lists
/// of a thousand are common).
#[derive(Serialize)]
pub struct InitiativeFeature<'a> {
    #[serde(rename = "type")]
    kind: &'static str,
    geometry: Option<PointGeometry>,
    id: &'a str,
    properties: InitiativeProperties<'a>,
}

/// An initiative as a GeoJSON Feature; `distance_m` is added when given.
pub fn initiative_feature<'a>(
    data: &'a Dataset,
    x: &'a Initiative,
    distance_m: Option<f64>,
) -> InitiativeFeature<'a> {
    let as_of = data
        .manifest()
        .get(&x.source)
        .and_then(|d| d.as_of.as_deref())
        .or(x.source_date.map(|d| d.as_str()));
    InitiativeFeature {
        kind: "Feature",
        geometry: x.position.map(|p| PointGeometry {
            kind: "Point",
            coordinates: [p.x, p.y],
        }),
        id: &x.id,
        properties: InitiativeProperties {
            initiative: x,
            category_label: data.taxonomy().get(&x.category).map(|c| c.label.as_str()),
            data_as_of: as_of,
            qpv_location: LocationView::new(data, &x.location),
            not_located: (x.location.status == LocationStatus::NotLocated).then_some(true),
            distance_m: distance_m.map(rounded_metres),
        },
    }
}

/// A FeatureCollection with extra top-level members (counts, paging).
#[derive(Serialize)]
pub struct Collection<F> {
    #[serde(rename = "type")]
    kind: &'static str,
    features: Vec<F>,
    #[serde(flatten)]
    extra: Value,
}

pub fn feature_collection<F: Serialize>(features: Vec<F>, extra: Value) -> Collection<F> {
    Collection {
        kind: "FeatureCollection",
        features,
        extra,
    }
}

/// A JSON body served as `application/geo+json` (RFC 7946 § 12).
pub struct GeoJson<T>(pub T);

impl<T: serde::Serialize> axum::response::IntoResponse for GeoJson<T> {
    fn into_response(self) -> axum::response::Response {
        let mut response = axum::Json(self.0).into_response();
        response.headers_mut().insert(
            axum::http::header::CONTENT_TYPE,
            axum::http::HeaderValue::from_static("application/geo+json"),
        );
        response
    }
}

/// An initiative as a Feature with one value per attribute (for GIS
/// tables: OGC API, GeoPackage): where it is among the QPV as columns.
pub fn flat_initiative(data: &Dataset, x: &Initiative) -> Feature {
    let value = serde_json::to_value(initiative_feature(data, x, None)).expect("JSON");
    let mut properties = match value.get("properties") {
        Some(Value::Object(p)) => p.clone(),
        _ => JsonObject::new(),
    };
    if let Some(Value::Object(location)) = properties.remove("qpv_location") {
        properties.insert("qpv_status".into(), location["status"].clone());
        let qpv = location.get("qpv");
        properties.insert(
            "qpv_code".into(),
            qpv.map_or(Value::Null, |q| q["code"].clone()),
        );
        properties.insert(
            "qpv_name".into(),
            qpv.map_or(Value::Null, |q| q["name"].clone()),
        );
        properties.insert(
            "qpv_distance_m".into(),
            location.get("distance_m").cloned().unwrap_or(Value::Null),
        );
    }
    properties.remove("not_located");
    Feature {
        bbox: None,
        geometry: x
            .position
            .map(|p| Geometry::new(GeometryValue::new_point([p.x, p.y]))),
        id: Some(geojson::feature::Id::String(x.id.to_string())),
        properties: Some(properties),
        foreign_members: None,
    }
}
