//! Which QPV a point is in or near.

use std::collections::HashMap;

use axum::Json;
use axum::extract::{Query, State};
use geo::coord;
use geodata::LocationStatus;
use serde_json::{Value, json};

use super::params::Params;
use super::views::location_json;
use super::{ApiError, AppState, MAX_RADIUS_M};

/// `GET /api/locate?lon=&lat=&radius_m=300&generation=`
pub async fn locate(
    State(state): State<AppState>,
    Query(raw): Query<HashMap<String, String>>,
) -> Result<Json<Value>, ApiError> {
    let params = Params::new(raw, &["lon", "lat", "radius_m", "generation"])?;
    let lon = params.required("lon", -180.0, 180.0)?;
    let lat = params.required("lat", -90.0, 90.0)?;
    let radius_m = params
        .number("radius_m", Some(300.0), 0.0, MAX_RADIUS_M)?
        .unwrap_or(300.0);
    let generation = params.generation()?;
    let data = state.data();
    let location = data.locate(coord! { x: lon, y: lat }, radius_m, generation);
    let mut body = location_json(&data, &location);
    body["lon"] = json!(lon);
    body["lat"] = json!(lat);
    body["radius_m"] = json!(radius_m);
    if location.status == LocationStatus::Outside {
        let territories: Vec<String> = data
            .outline_coverage()
            .into_iter()
            .map(|c| c.territory)
            .collect();
        body["note"] = json!(format!(
            "QPV outlines are loaded only for: {}. Elsewhere every point is outside.",
            territories.join(", ")
        ));
    }
    Ok(Json(body))
}
