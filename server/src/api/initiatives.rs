//! ESS initiatives: search and one by id.

use std::collections::HashMap;

use axum::extract::{Path, Query, State};
use axum::response::{IntoResponse, Response};
use geo::{Rect, coord};
use geodata::InitiativeFilter;
use serde_json::json;

use super::params::Params;
use super::views::{GeoJson, feature_collection, initiative_feature};
use super::{ApiError, AppState, DEFAULT_LIMIT, MAX_BBOX_DEG, MAX_LIMIT};

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
    let bbox = params.text("bbox").map(parse_bbox).transpose()?;
    let categories = params.categories(data)?;
    let qpv = params
        .text("qpv")
        .map(|code| {
            data.qpv_by_code(code)
                .ok_or_else(|| ApiError::bad("qpv", format!("no QPV with code `{code}`")))
        })
        .transpose()?;
    let limit = params
        .number("limit", Some(DEFAULT_LIMIT), 1, MAX_LIMIT)?
        .unwrap_or(DEFAULT_LIMIT);
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

/// `minlon,minlat,maxlon,maxlat`, checked.
fn parse_bbox(text: &str) -> Result<Rect<f64>, ApiError> {
    let bad = |m: String| ApiError::bad("bbox", m);
    let values: Vec<f64> = text
        .split(',')
        .map(|v| v.trim().parse::<f64>())
        .collect::<Result<_, _>>()
        .map_err(|_| {
            bad(format!(
                "`{text}` is not four numbers minlon,minlat,maxlon,maxlat"
            ))
        })?;
    let [min_lon, min_lat, max_lon, max_lat] = values[..] else {
        return Err(bad(format!(
            "{} numbers given, expected 4: minlon,minlat,maxlon,maxlat",
            values.len()
        )));
    };
    for (v, lo, hi, what) in [
        (min_lon, -180.0, 180.0, "longitude"),
        (max_lon, -180.0, 180.0, "longitude"),
        (min_lat, -90.0, 90.0, "latitude"),
        (max_lat, -90.0, 90.0, "latitude"),
    ] {
        if !(lo..=hi).contains(&v) {
            return Err(bad(format!("{what} {v} outside [{lo}, {hi}]")));
        }
    }
    if min_lon > max_lon || min_lat > max_lat {
        return Err(bad("inverted: min must not exceed max".to_string()));
    }
    if max_lon - min_lon > MAX_BBOX_DEG || max_lat - min_lat > MAX_BBOX_DEG {
        return Err(bad(format!(
            "larger than {MAX_BBOX_DEG}° on a side; omit bbox to search everywhere"
        )));
    }
    Ok(Rect::new(
        coord! { x: min_lon, y: min_lat },
        coord! { x: max_lon, y: max_lat },
    ))
}

/// `GET /api/initiatives/{id}`
pub async fn one(
    State(state): State<AppState>,
    Path(id): Path<String>,
    Query(raw): Query<HashMap<String, String>>,
) -> Result<Response, ApiError> {
    Params::new(raw, &[])?;
    let data = state.data();
    let x = data
        .initiative(&id)
        .ok_or_else(|| ApiError::NotFound(format!("no initiative with id `{id}`")))?;
    let mut response = GeoJson(initiative_feature(&data, x, None)).into_response();
    response.headers_mut().insert(
        axum::http::header::ETAG,
        axum::http::HeaderValue::from_str(&crate::edit::etag(&x.to_record())).expect("hex"),
    );
    Ok(response)
}
