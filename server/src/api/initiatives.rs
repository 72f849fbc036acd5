//! ESS initiatives: search and one by id.

use std::collections::HashMap;

use axum::extract::{Path, Query, State};
use axum::http::{HeaderValue, header};
use axum::response::{IntoResponse, Response};
use geodata::InitiativeFilter;
use rusqlite::types::Value;
use serde_json::json;

use super::params::Params;
use super::views::{GeoJson, feature_collection, flat_initiative, initiative_feature};
use super::{ApiError, AppState, MAX_BBOX_DEG};
use crate::gpkg::{self, ColumnType, Layer, Row};

/// `GET /api/initiatives?bbox=&category=&q=&qpv=&source=&limit=&offset=`
pub async fn list(
    State(state): State<AppState>,
    Query(raw): Query<HashMap<String, String>>,
) -> Result<Response, ApiError> {
    let data = &state.data();
    let params = Params::new(
        raw,
        &["bbox", "category", "q", "qpv", "source", "limit", "offset"],
    )?;
    let bbox = params.bbox(Some(MAX_BBOX_DEG), false)?;
    let categories = params.categories(data)?;
    let qpv = params.qpv(data)?;
    let limit = params.limit()?;
    let offset = params
        .number("offset", Some(0), 0, usize::MAX)?
        .unwrap_or(0);
    let found = data.initiatives_matching(&InitiativeFilter {
        bbox,
        categories,
        text: params.text("q").map(str::to_string),
        qpv,
        source: params.text("source").map(str::to_string),
    });
    let features = found
        .iter()
        .skip(offset)
        .take(limit)
        .map(|x| initiative_feature(data, x, None))
        .collect::<Vec<_>>();
    let returned = features.len();
    Ok(GeoJson(feature_collection(
        features,
        json!({ "total": found.len(), "returned": returned, "limit": limit, "offset": offset }),
    ))
    .into_response())
}

/// `GET /api/initiatives/export?bbox=&category=&q=&qpv=&source=&format=gpkg|geojson`:
/// every initiative the filters keep, as a file (a GeoPackage layer
/// `initiatives` by default), made off the async threads within the
/// analysis budget.
pub async fn export(
    State(state): State<AppState>,
    Query(raw): Query<HashMap<String, String>>,
) -> Result<Response, ApiError> {
    let snapshot = state.snapshot();
    let data = &snapshot.data;
    let params = Params::new(raw, &["bbox", "category", "q", "qpv", "source", "format"])?;
    let geopackage = match params.text("format") {
        None | Some("gpkg") => true,
        Some("geojson") => false,
        Some(other) => {
            return Err(ApiError::bad(
                "format",
                format!("`{other}` is not gpkg or geojson"),
            ));
        }
    };
    let filter = InitiativeFilter {
        bbox: params.bbox(Some(MAX_BBOX_DEG), false)?,
        categories: params.categories(data)?,
        text: params.text("q").map(str::to_string),
        qpv: params.qpv(data)?,
        source: params.text("source").map(str::to_string),
    };
    let body = state
        .heavy
        .run(move || {
            let data = &snapshot.data;
            let features: Vec<geojson::Feature> = data
                .initiatives_matching(&filter)
                .into_iter()
                .map(|x| flat_initiative(data, x))
                .collect();
            if geopackage {
                initiatives_geopackage(data, features).map_err(ApiError::internal)
            } else {
                let collection = geojson::FeatureCollection {
                    bbox: None,
                    features,
                    foreign_members: None,
                };
                Ok(serde_json::to_vec(&collection).expect("JSON"))
            }
        })
        .await??;
    let (media, file) = if geopackage {
        (crate::output::gaps::GEOPACKAGE, "initiatives.gpkg")
    } else {
        ("application/geo+json", "initiatives.geojson")
    };
    Ok((
        [
            (header::CONTENT_TYPE, HeaderValue::from_static(media)),
            (
                header::CONTENT_DISPOSITION,
                HeaderValue::from_str(&format!("attachment; filename=\"{file}\"")).expect("ASCII"),
            ),
        ],
        body,
    )
        .into_response())
}

/// Flat initiatives as the GeoPackage layer `initiatives` (every attribute
/// text but the distance to the QPV).
fn initiatives_geopackage(
    data: &geodata::Dataset,
    features: Vec<geojson::Feature>,
) -> anyhow::Result<Vec<u8>> {
    let names: Vec<String> = match features.first().and_then(|f| f.properties.as_ref()) {
        Some(p) => p.keys().cloned().collect(),
        None => Vec::new(),
    };
    let columns = names
        .iter()
        .map(|n| {
            let kind = if n == "qpv_distance_m" {
                ColumnType::Real
            } else {
                ColumnType::Text
            };
            (n.clone(), kind)
        })
        .collect();
    let dates: Vec<String> = data
        .territory()
        .loaded_datasets()
        .filter(|d| d.kind == geodata::manifest::DatasetKind::Initiatives)
        .map(|d| {
            format!(
                "{} ({})",
                d.title,
                d.as_of.as_deref().unwrap_or("date inconnue")
            )
        })
        .collect();
    let layer = Layer {
        name: "initiatives",
        title: "Initiatives de l'ESS".to_string(),
        description: format!("ess-map. Données : {}.", dates.join(" ; ")),
        geometry_type: "POINT",
        columns,
    };
    gpkg::write(
        &layer,
        features.into_iter().map(|f| {
            let properties = f.properties.unwrap_or_default();
            Row {
                geometry: f.geometry.and_then(|g| geo::Geometry::try_from(g).ok()),
                values: names
                    .iter()
                    .map(|n| match properties.get(n) {
                        Some(serde_json::Value::String(s)) => Value::Text(s.clone()),
                        Some(serde_json::Value::Number(x)) => {
                            Value::Real(x.as_f64().unwrap_or(f64::NAN))
                        }
                        Some(serde_json::Value::Bool(b)) => Value::Integer(i64::from(*b)),
                        None | Some(serde_json::Value::Null) => Value::Null,
                        Some(other) => Value::Text(other.to_string()),
                    })
                    .collect(),
            }
        }),
    )
}

/// What an id keeps as is in a path segment (RFC 3986 unreserved).
const PATH_SEGMENT: &percent_encoding::AsciiSet = &percent_encoding::NON_ALPHANUMERIC
    .remove(b'-')
    .remove(b'.')
    .remove(b'_')
    .remove(b'~');

/// The answer for an id the data does not show: a record merged into
/// another structure's record moved there for good (301 to its primary, so
/// that old links and bookmarks still lead to the structure), else 404.
async fn merged_or_not_found(state: &AppState, id: String) -> Result<Response, ApiError> {
    let (live, key) = (state.live.clone(), id.clone());
    let stored = tokio::task::spawn_blocking(move || live.read(|s| s.get(&key)))
        .await
        .map_err(ApiError::internal)?
        .map_err(ApiError::internal)?;
    let primary = stored
        .filter(|s| !s.deleted)
        .and_then(|s| s.record.merged_into)
        .filter(|primary| state.data().initiative(primary).is_some());
    let Some(primary) = primary else {
        return Err(ApiError::NotFound(format!("no initiative with id `{id}`")));
    };
    let location = format!(
        "/api/initiatives/{}",
        percent_encoding::utf8_percent_encode(&primary, PATH_SEGMENT)
    );
    let body = serde_json::json!({
        "error": "merged",
        "merged_into": primary,
        "message": format!("initiative `{id}` describes the same structure as `{primary}` and was merged into it"),
    });
    Ok((
        axum::http::StatusCode::MOVED_PERMANENTLY,
        [(
            axum::http::header::LOCATION,
            axum::http::HeaderValue::from_str(&location).map_err(ApiError::internal)?,
        )],
        axum::Json(body),
    )
        .into_response())
}

/// `GET /api/initiatives/{id}`
pub async fn one(
    State(state): State<AppState>,
    Path(id): Path<String>,
    Query(raw): Query<HashMap<String, String>>,
) -> Result<Response, ApiError> {
    Params::new(raw, &[])?;
    let data = state.data();
    let Some(x) = data.initiative(&id) else {
        return merged_or_not_found(&state, id).await;
    };
    let mut feature =
        serde_json::to_value(initiative_feature(&data, x, None)).map_err(ApiError::internal)?;
    // When an editor last checked it (the store keeps it, not the data).
    let (live, key) = (state.live.clone(), id.clone());
    let (verified, merged) = tokio::task::spawn_blocking(move || {
        live.read(|s| Ok((s.verified_at(&key)?, s.merged_into(&key)?)))
    })
    .await
    .map_err(ApiError::internal)?
    .unwrap_or_else(|e| {
        tracing::warn!("{e:#}");
        (None, Vec::new())
    });
    feature["properties"]["verified_at"] = serde_json::json!(verified);
    // Every source describing this structure: its own first, then the
    // records merged into it (kept with their source and date).
    let own = serde_json::json!({
        "id": x.id, "source": x.source.as_str(), "source_date": x.source_date.map(|d| d.to_string()),
    });
    let sources: Vec<serde_json::Value> = std::iter::once(own)
        .chain(merged.iter().filter(|m| !m.deleted).map(|m| {
            serde_json::json!({
                "id": m.record.id, "source": m.record.source, "source_date": m.record.source_date,
                "name": m.record.name,
            })
        }))
        .collect();
    feature["properties"]["sources"] = serde_json::json!(sources);
    let mut response = GeoJson(feature).into_response();
    response.headers_mut().insert(
        axum::http::header::ETAG,
        axum::http::HeaderValue::from_str(&crate::edit::etag(&x.to_record())).expect("hex"),
    );
    Ok(response)
}
