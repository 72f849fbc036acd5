//! Vector tiles, TileJSON, the map style and its glyphs.

use std::collections::HashMap;

use axum::Json;
use axum::body::Body;
use axum::extract::{Path, Query, State};
use axum::http::{HeaderMap, HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use geodata::tiles::{CLUSTER_MAX_ZOOM, MAX_ZOOM, TileId, TileLayer};
use serde_json::{Value, json};

use super::params::Params;
use super::{ApiError, AppState};
use crate::glyphs::GlyphError;

const MVT: &str = "application/vnd.mapbox-vector-tile";
/// Tiles change when initiatives are edited or imported: browsers check
/// their ETag on each use (a 304 costs little).
const TILE_CACHE_CONTROL: &str = "public, no-cache";
/// Glyphs change only with the fonts.
const GLYPH_CACHE_CONTROL: &str = "public, max-age=86400";

fn layer(name: &str) -> Result<TileLayer, ApiError> {
    TileLayer::from_name(name).ok_or_else(|| {
        ApiError::NotFound(format!(
            "no tile layer `{name}`; layers: qpv, initiatives, departements"
        ))
    })
}

/// The `category` parameter: known category ids, comma-separated.
fn categories(
    state: &AppState,
    params: &Params,
    layer: TileLayer,
) -> Result<Vec<String>, ApiError> {
    // Checked on every layer; only the initiatives are drawn by category
    // (the document says the others ignore it).
    let ids = params.categories(&state.data())?;
    Ok(if layer == TileLayer::Initiatives {
        ids
    } else {
        Vec::new()
    })
}

/// A JSON answer built on the public base URL, varying on `Host` when it
/// comes from it.
fn with_base(
    state: &AppState,
    headers: &HeaderMap,
    body: impl FnOnce(&str) -> Value,
) -> Result<Response, ApiError> {
    let (base, from_host) = state.edge.public_url.base(headers)?;
    let mut response = Json(body(&base)).into_response();
    if from_host {
        response
            .headers_mut()
            .insert(header::VARY, HeaderValue::from_static("host"));
    }
    Ok(response)
}

/// `GET /tiles/{layer}/{z}/{x}/{y}.mvt?category=`
pub async fn tile(
    State(state): State<AppState>,
    Path((name, z, x, y_file)): Path<(String, String, String, String)>,
    Query(raw): Query<HashMap<String, String>>,
    headers: HeaderMap,
) -> Result<Response, ApiError> {
    let params = Params::new(raw, &["category"])?;
    let layer = layer(&name)?;
    let y = y_file
        .strip_suffix(".mvt")
        .ok_or_else(|| ApiError::NotFound(format!("`{y_file}`: tiles end in .mvt")))?;
    let number = |text: &str, parameter: &str| {
        text.parse::<u32>()
            .map_err(|_| ApiError::bad(parameter, format!("`{text}` is not a whole number")))
    };
    let (z, x, y) = (number(&z, "z")?, number(&x, "x")?, number(y, "y")?);
    let tile = TileId::new(z, x, y).map_err(|e| {
        let parameter = match e {
            geodata::tiles::TileError::Zoom(_) => "z".to_string(),
            geodata::tiles::TileError::Coordinate { axis, .. } => axis.to_string(),
        };
        ApiError::bad(&parameter, e.to_string())
    })?;
    let categories = categories(&state, &params, layer)?;
    let cached = state
        .tiles
        .get(state.live.clone(), layer, tile, categories)
        .await?;

    let mut response = if headers
        .get(header::IF_NONE_MATCH)
        .and_then(|v| v.to_str().ok())
        .is_some_and(|v| v.split(',').any(|t| t.trim() == cached.etag))
    {
        StatusCode::NOT_MODIFIED.into_response()
    } else {
        let gzip_ok = headers
            .get(header::ACCEPT_ENCODING)
            .and_then(|v| v.to_str().ok())
            .is_some_and(|v| v.split(',').any(|e| e.trim().starts_with("gzip")));
        match (&cached.raw, &cached.gzip) {
            // MapLibre, like Martin's clients, takes 204 as an empty tile.
            (None, _) => StatusCode::NO_CONTENT.into_response(),
            (Some(_), Some(gz)) if gzip_ok => {
                let mut r = Response::new(Body::from(gz.clone()));
                r.headers_mut()
                    .insert(header::CONTENT_ENCODING, HeaderValue::from_static("gzip"));
                r
            }
            (Some(raw), _) => Response::new(Body::from(raw.clone())),
        }
    };
    let h = response.headers_mut();
    if cached.raw.is_some() {
        h.insert(header::CONTENT_TYPE, HeaderValue::from_static(MVT));
    }
    h.insert(
        header::ETAG,
        HeaderValue::from_str(&cached.etag).expect("hex"),
    );
    h.insert(
        header::CACHE_CONTROL,
        HeaderValue::from_static(TILE_CACHE_CONTROL),
    );
    h.insert(header::VARY, HeaderValue::from_static("accept-encoding"));
    Ok(response)
}

/// TileJSON 3.0.0 of a layer.
pub fn tilejson_value(
    state: &AppState,
    layer: TileLayer,
    origin: &str,
    categories: &[String],
) -> Value {
    let query = if categories.is_empty() {
        String::new()
    } else {
        format!("?category={}", categories.join(","))
    };
    let data = state.data();
    let mut source = crate::style::tile_source(&data, layer, origin, &query);
    let bound = |i: usize| source["bounds"][i].as_f64().unwrap_or_default();
    let center = [
        (bound(0) + bound(2)) / 2.0,
        (bound(1) + bound(3)) / 2.0,
        5.0,
    ];
    let fields = layer.fields(&data);
    let mut out = json!({
        "tilejson": "3.0.0",
        "name": format!("ess-map {}", layer.name()),
        "description": match layer {
            TileLayer::Qpv => "Quartiers prioritaires de la politique de la ville, avec les initiatives d'ESS à l'intérieur et à 500 m.",
            TileLayer::Initiatives => "Initiatives de l'ESS ; regroupées en amas (cluster, count, n_<catégorie>) jusqu'au zoom 12.",
            TileLayer::Departements => "Contours des départements (contexte).",
            TileLayer::Communes => "Noms des communes à leur centre, à partir du zoom 9 (repérage).",
        },
        "version": env!("CARGO_PKG_VERSION"),
        "scheme": "xyz",
        "center": center,
        "vector_layers": [{
            "id": layer.name(),
            "fields": fields,
            "minzoom": 0,
            "maxzoom": MAX_ZOOM,
            "description": if layer == TileLayer::Initiatives { format!("Clusters up to zoom {CLUSTER_MAX_ZOOM}, points from zoom {}", CLUSTER_MAX_ZOOM + 1) } else { String::new() },
        }],
    });
    // The fields the style's source has too (tiles, zooms, bounds,
    // attribution), from the one place that writes them.
    for field in ["tiles", "minzoom", "maxzoom", "bounds", "attribution"] {
        out[field] = source[field].take();
    }
    out
}

/// `GET /tiles/{layer}.json?category=`
pub async fn tilejson(
    State(state): State<AppState>,
    Path(file): Path<String>,
    Query(raw): Query<HashMap<String, String>>,
    headers: HeaderMap,
) -> Result<Response, ApiError> {
    let params = Params::new(raw, &["category"])?;
    let name = file
        .strip_suffix(".json")
        .ok_or_else(|| ApiError::NotFound(format!("`{file}`: TileJSON documents end in .json")))?;
    let layer = layer(name)?;
    let categories = categories(&state, &params, layer)?;
    with_base(&state, &headers, |base| {
        tilejson_value(&state, layer, base, &categories)
    })
}

/// `GET /style.json`: the map style, every URL on this server.
pub async fn style(
    State(state): State<AppState>,
    Query(raw): Query<HashMap<String, String>>,
    headers: HeaderMap,
) -> Result<Response, ApiError> {
    Params::new(raw, &[])?;
    with_base(&state, &headers, |base| {
        crate::style::style(&state.data(), &state.map, base)
    })
}

/// `GET /fonts/{fontstack}/{range}.pbf`
pub async fn glyphs(
    State(state): State<AppState>,
    Path((fontstack, range)): Path<(String, String)>,
    Query(raw): Query<HashMap<String, String>>,
) -> Result<Response, ApiError> {
    Params::new(raw, &[])?;
    let bytes = state
        .glyphs
        .range(&fontstack, &range)
        .map_err(|e| match e {
            GlyphError::BadRange(_) => ApiError::bad("range", e.to_string()),
            other => ApiError::NotFound(other.to_string()),
        })?;
    Ok((
        [
            (
                header::CONTENT_TYPE,
                HeaderValue::from_static("application/x-protobuf"),
            ),
            (
                header::CACHE_CONTROL,
                HeaderValue::from_static(GLYPH_CACHE_CONTROL),
            ),
        ],
        bytes,
    )
        .into_response())
}
