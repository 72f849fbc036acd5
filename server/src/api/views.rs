//! How QPV and initiatives look in JSON and GeoJSON (RFC 7946).

use geodata::model::{Location, LocationStatus, Qpv};
use geodata::{Dataset, Initiative, QpvId};
use geojson::{Feature, Geometry, GeometryValue, JsonObject};
use serde_json::{Value, json};

/// Metres, rounded to the decimetre: the data are not more precise.
pub fn metres(d: f64) -> Value {
    json!((d * 10.0).round() / 10.0)
}

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
    let qpv = location.qpv.map(|i| {
        let q = data.qpv(i);
        json!({ "code": q.code, "name": q.name, "generation": q.generation })
    });
    json!({
        "status": location.status,
        "qpv": qpv,
        "distance_m": location.distance_m.map(metres),
    })
}

/// An initiative as a GeoJSON Feature; `distance_m` is added when given.
pub fn initiative_feature(data: &Dataset, x: &Initiative, distance_m: Option<f64>) -> Feature {
    let mut properties = match serde_json::to_value(x) {
        Ok(Value::Object(map)) => map,
        _ => unreachable!("an initiative serialises to an object"),
    };
    let label = data.taxonomy().get(x.category).map(|c| c.label.clone());
    properties.insert("category_label".into(), json!(label));
    // The date the source describes: the dataset's, for open data.
    let as_of = data
        .manifest()
        .get(x.source)
        .and_then(|d| d.as_of.clone())
        .or_else(|| x.source_date.map(str::to_string));
    properties.insert("data_as_of".into(), json!(as_of));
    properties.insert("qpv_location".into(), location_json(data, &x.location));
    if x.location.status == LocationStatus::NotLocated {
        properties.insert("not_located".into(), json!(true));
    }
    if let Some(d) = distance_m {
        properties.insert("distance_m".into(), metres(d));
    }
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

/// A FeatureCollection with extra top-level members (counts, paging).
pub fn feature_collection(features: Vec<Feature>, extra: Value) -> Value {
    let mut fc = json!({ "type": "FeatureCollection", "features": features });
    if let (Value::Object(fc), Value::Object(extra)) = (&mut fc, extra) {
        fc.extend(extra);
    }
    fc
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
