//! Spatial gap analysis: which QPV lack which initiatives within a radius.

use std::collections::HashMap;

use axum::Json;
use axum::extract::{Query, State};
use axum::http::{HeaderValue, header};
use axum::response::{IntoResponse, Response};
use geodata::gaps::{CsvStyle, GapQuery, GapSort, MAX_RADIUS_M, analyse, sort_rows, summarise};
use serde_json::{Value, json};

use super::params::Params;
use super::{ApiError, AppState};
use crate::gap_output::{GapFormat, RANKING, render};

const FILTERS: [&str; 4] = ["radius_m", "category", "departement", "generation"];

/// The analysis the filters ask for.
fn query(state: &AppState, params: &Params) -> Result<GapQuery, ApiError> {
    let data = &state.data();
    let radius_m = params
        .number("radius_m", Some(500.0), 0.0, MAX_RADIUS_M)?
        .unwrap_or(500.0);
    let categories = params.kinds(data)?;
    let departement = params.departement(data)?;
    let generation = params.generation()?;
    Ok(GapQuery {
        radius_m,
        categories,
        departement,
        generation,
    })
}

/// `GET /api/gaps?radius_m=&category=&departement=&generation=&sort=&format=&sep=`
pub async fn table(
    State(state): State<AppState>,
    Query(raw): Query<HashMap<String, String>>,
) -> Result<Response, ApiError> {
    let params = Params::new(raw, &[&FILTERS[..], &["sort", "format", "sep"]].concat())?;
    let query = query(&state, &params)?;
    let sort = match params.text("sort") {
        None => GapSort::Priority,
        Some(s) => GapSort::from_name(s).ok_or_else(|| {
            ApiError::bad(
                "sort",
                format!("`{s}` is not one of {}", GapSort::NAMES.join(", ")),
            )
        })?,
    };
    let format = match params.text("format") {
        None => GapFormat::Json,
        Some(f) => GapFormat::from_name(f).ok_or_else(|| {
            ApiError::bad("format", format!("`{f}` is not one of json, csv, geojson"))
        })?,
    };
    let csv = match params.text("sep") {
        None | Some("comma") => CsvStyle::Comma,
        Some("semicolon") => CsvStyle::FrenchSemicolon,
        Some(other) => {
            return Err(ApiError::bad(
                "sep",
                format!("`{other}` is not comma or semicolon"),
            ));
        }
    };
    let data = state.data();
    let (content_type, body) = tokio::task::spawn_blocking(move || {
        let mut rows = analyse(&data, &query);
        sort_rows(&data, &mut rows, sort);
        render(&data, &query, &rows, format, csv)
    })
    .await
    .expect("the analysis does not panic");
    let mut response = body.into_response();
    let headers = response.headers_mut();
    headers.insert(header::CONTENT_TYPE, HeaderValue::from_static(content_type));
    if format != GapFormat::Json {
        let file = if format == GapFormat::Csv {
            "manques.csv"
        } else {
            "manques.geojson"
        };
        headers.insert(
            header::CONTENT_DISPOSITION,
            HeaderValue::from_str(&format!("attachment; filename=\"{file}\"")).expect("ASCII"),
        );
    }
    Ok(response)
}

/// `GET /api/gaps/summary?radius_m=&category=&departement=&generation=`
pub async fn summary(
    State(state): State<AppState>,
    Query(raw): Query<HashMap<String, String>>,
) -> Result<Json<Value>, ApiError> {
    let params = Params::new(raw, &FILTERS)?;
    let query = query(&state, &params)?;
    let data = state.data();
    let body = tokio::task::spawn_blocking(move || {
        let rows = analyse(&data, &query);
        json!({
            "radius_m": query.radius_m,
            "ranking": RANKING,
            "qpv": rows.len(),
            "covered": rows.iter().filter(|r| !r.gap).count(),
            "departements": summarise(&data, &rows, false),
            "communes": summarise(&data, &rows, true),
        })
    })
    .await
    .expect("the analysis does not panic");
    Ok(Json(body))
}
