//! Walking: the area reachable on foot from a point or from a QPV
//! (`/api/isochrone`, `/api/qpv/{code}/isochrone`), from the network of
//! [`crate::walking`]. Without a network the answer says so (409, or 503
//! while it is built): never a straight-line stand-in.

use std::collections::HashMap;

use axum::body::Bytes;
use axum::extract::{Path, Query, State};
use axum::response::{IntoResponse, Response};
use geodata::walk::access::WalkNetwork;
use geodata::walk::search::{Start, nearest};
use geodata::walk::{DEFAULT_MINUTES, MAX_MINUTES, SNAP_MAX_M};
use serde_json::json;

use super::params::Params;
use super::{ApiError, AppState};

/// `minutes` in `[1, MAX_MINUTES]`, [`DEFAULT_MINUTES`] when absent.
fn minutes(params: &Params) -> Result<f64, ApiError> {
    Ok(params
        .number("minutes", Some(DEFAULT_MINUTES), 1.0, MAX_MINUTES)?
        .unwrap_or(DEFAULT_MINUTES))
}

/// The reachable area from `starts` as a GeoJSON Feature, with what it
/// was measured on.
fn feature(
    network: &WalkNetwork,
    starts: &[Start],
    minutes: f64,
    mut properties: geojson::JsonObject,
) -> Result<(Bytes, usize), ApiError> {
    let bound_m = network.metres_in(minutes);
    let reach = nearest(&network.graph, starts, bound_m as f32);
    let area = geodata::walk::isochrone::isochrone(&network.graph, &reach);
    properties.insert("minutes".into(), json!(minutes));
    properties.insert("speed_kmh".into(), json!(network.speed_kmh));
    properties.insert("network".into(), json!(network.sources));
    properties.insert(
        "crow_flies_radius_m".into(),
        json!((bound_m * 10.0).round() / 10.0),
    );
    properties.insert(
        "reached_nodes".into(),
        json!(reach.metres.iter().filter(|d| d.is_finite()).count()),
    );
    let feature = geojson::Feature {
        bbox: None,
        geometry: area.map(|a| {
            let value = if a.0.len() == 1 {
                geojson::GeometryValue::from(&a.0[0])
            } else {
                geojson::GeometryValue::from(&a)
            };
            geojson::Geometry::new(value)
        }),
        id: None,
        properties: Some(properties),
        foreign_members: None,
    };
    let body = serde_json::to_vec(&feature).expect("JSON");
    let bytes = body.len();
    Ok((Bytes::from(body), bytes))
}

fn geojson_response(body: &Bytes) -> Response {
    (
        [(
            axum::http::header::CONTENT_TYPE,
            axum::http::HeaderValue::from_static("application/geo+json"),
        )],
        Bytes::clone(body),
    )
        .into_response()
}

/// `GET /api/isochrone?lon=&lat=&minutes=`
pub async fn point(
    State(state): State<AppState>,
    Query(raw): Query<HashMap<String, String>>,
) -> Result<Response, ApiError> {
    let params = Params::new(raw, &["lon", "lat", "minutes"])?;
    let lon: f64 = params.required("lon", -180.0, 180.0)?;
    let lat: f64 = params.required("lat", -90.0, 90.0)?;
    let minutes = minutes(&params)?;
    let network = state.walk_network()?;
    let at = geo::Coord { x: lon, y: lat };
    let Some((node, offset_m)) = network.graph.nearest_node(at, SNAP_MAX_M) else {
        return Err(ApiError::NotFound(format!(
            "aucune voie piétonne à moins de {SNAP_MAX_M} m de ce point dans le réseau chargé ({})",
            network.sources.join(", ")
        )));
    };
    let key = crate::memo::MemoKey {
        route: "/api/isochrone",
        query: format!("{node} {} {}", offset_m.to_bits(), minutes.to_bits()),
        revision: 0,
    };
    let body = state
        .memo
        .get(key, &state.heavy, move || {
            let mut properties = geojson::JsonObject::new();
            properties.insert("lon".into(), json!(lon));
            properties.insert("lat".into(), json!(lat));
            properties.insert(
                "to_network_m".into(),
                json!((offset_m * 10.0).round() / 10.0),
            );
            let start = Start {
                node,
                offset_m: offset_m as f32,
                label: 0,
            };
            feature(&network, &[start], minutes, properties)
        })
        .await?;
    Ok(geojson_response(&body))
}

/// `GET /api/qpv/{code}/isochrone?minutes=`: the area within `minutes` of
/// the walkable ways inside the QPV.
pub async fn qpv(
    State(state): State<AppState>,
    Path(code): Path<String>,
    Query(raw): Query<HashMap<String, String>>,
) -> Result<Response, ApiError> {
    let params = Params::new(raw, &["minutes"])?;
    let minutes = minutes(&params)?;
    let territory = state.live.territory.clone();
    let id = territory
        .qpv_by_code(code.trim())
        .ok_or_else(|| ApiError::NotFound(format!("no QPV with code `{code}`")))?;
    let network = state.walk_network()?;
    let key = crate::memo::MemoKey {
        route: "/api/qpv/{code}/isochrone",
        query: format!("{id:?} {}", minutes.to_bits()),
        revision: 0,
    };
    let body = state
        .memo
        .get(key, &state.heavy, move || {
            let nodes = &network.qpv_nodes(&territory)[id.index()];
            if !nodes.basis.measured() {
                let why = nodes.basis.term().french;
                return Err(match nodes.basis {
                    geodata::walk::access::WalkBasis::NoOutline => {
                        ApiError::NoOutline(format!("QPV {} : {why}", territory.qpv(id).code))
                    }
                    _ => ApiError::NoWalkNetwork {
                        message: format!("QPV {} : {why}", territory.qpv(id).code),
                        building: false,
                    },
                });
            }
            let starts = nodes.starts();
            let mut properties = geojson::JsonObject::new();
            properties.insert("code".into(), json!(territory.qpv(id).code));
            properties.insert("walk_basis".into(), json!(nodes.basis));
            properties.insert("walk_nodes".into(), json!(nodes.nodes.len()));
            feature(&network, &starts, minutes, properties)
        })
        .await?;
    Ok(geojson_response(&body))
}
