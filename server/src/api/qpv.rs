//! QPV: list, one, and the initiatives nearby.

use std::collections::HashMap;

use axum::Json;
use axum::extract::{Path, Query, State};
use geodata::QpvFilter;
use serde_json::{Value, json};

use super::params::Params;
use super::views::{GeoJson, feature_collection, initiative_feature, qpv_feature, qpv_properties};
use super::{ApiError, AppState, DEFAULT_LIMIT, MAX_LIMIT, MAX_RADIUS_M};

/// `GET /api/qpv?departement=&generation=&q=`
pub async fn list(
    State(state): State<AppState>,
    Query(raw): Query<HashMap<String, String>>,
) -> Result<Json<Value>, ApiError> {
    let data = &state.data();
    let params = Params::new(raw, &["departement", "generation", "q"])?;
    let departement = params.departement(data)?;
    let generation = params.generation()?;
    let found = data.qpvs_matching(&QpvFilter {
        departement,
        generation,
        text: params.text("q").map(str::to_string),
    });
    let qpv: Vec<Value> = found
        .iter()
        .map(|&i| Value::Object(qpv_properties(data, i)))
        .collect();
    Ok(Json(json!({ "count": qpv.len(), "qpv": qpv })))
}

fn index_of(state: &AppState, code: &str) -> Result<usize, ApiError> {
    state
        .data()
        .qpv_index_of(code)
        .ok_or_else(|| ApiError::NotFound(format!("no QPV with code `{code}`")))
}

/// `GET /api/qpv/{code}`: a Feature, geometry null when no outline is loaded.
pub async fn one(
    State(state): State<AppState>,
    Path(code): Path<String>,
    Query(raw): Query<HashMap<String, String>>,
) -> Result<GeoJson<geojson::Feature>, ApiError> {
    Params::new(raw, &[])?;
    let i = index_of(&state, &code)?;
    Ok(GeoJson(qpv_feature(&state.data(), i)))
}

/// `GET /api/qpv/{code}/nearby?radius_m=500&category=&limit=`
pub async fn nearby(
    State(state): State<AppState>,
    Path(code): Path<String>,
    Query(raw): Query<HashMap<String, String>>,
) -> Result<GeoJson<Value>, ApiError> {
    let data = &state.data();
    let params = Params::new(raw, &["radius_m", "category", "limit"])?;
    let i = index_of(&state, &code)?;
    let radius_m = params
        .number("radius_m", Some(500.0), 0.0, MAX_RADIUS_M)?
        .unwrap_or(500.0);
    let limit = params
        .number("limit", Some(DEFAULT_LIMIT), 1, MAX_LIMIT)?
        .unwrap_or(DEFAULT_LIMIT);
    let categories = params.categories(data)?;
    if categories.len() > 1 {
        return Err(ApiError::bad("category", "one category at a time here"));
    }
    let category = categories.first().map(String::as_str);
    let found = data
        .nearby(i, radius_m, category, limit)
        .map_err(|e| ApiError::NoOutline(e.to_string()))?;
    let features = found
        .iter()
        .map(|(x, d)| initiative_feature(data, x, Some(*d)))
        .collect();
    Ok(GeoJson(feature_collection(
        features,
        json!({ "qpv": code, "radius_m": radius_m, "count": found.len(), "limit": limit }),
    )))
}

/// `GET /api/qpv/{code}/ring?radius_m=500`: the area within `radius_m` of the
/// outline, as a Feature (the ring the map draws around a selected QPV).
pub async fn ring(
    State(state): State<AppState>,
    Path(code): Path<String>,
    Query(raw): Query<HashMap<String, String>>,
) -> Result<GeoJson<geojson::Feature>, ApiError> {
    let params = Params::new(raw, &["radius_m"])?;
    let i = index_of(&state, &code)?;
    let radius_m = params
        .number("radius_m", Some(500.0), 0.0, MAX_RADIUS_M)?
        .unwrap_or(500.0);
    let data = state.data();
    let qpv = &data.qpvs()[i];
    let outline = qpv.geometry.as_ref().ok_or_else(|| {
        ApiError::NoOutline(format!("QPV {code} has no outline in the loaded data"))
    })?;
    let grown = outline.grown_by(radius_m);
    let mut properties = geojson::JsonObject::new();
    properties.insert("code".into(), json!(code));
    properties.insert("radius_m".into(), json!(radius_m));
    Ok(GeoJson(geojson::Feature {
        bbox: None,
        geometry: Some(geojson::Geometry::new(geojson::GeometryValue::from(&grown))),
        id: None,
        properties: Some(properties),
        foreign_members: None,
    }))
}
