//! Spatial gap analysis: which QPV lack which initiatives within a radius.
//!
//! Each answer is kept, by its parameters and the store revision it was
//! computed at: a repeated request costs a lookup, a change makes the next
//! one compute again, and identical requests arriving together compute once.

use std::collections::HashMap;

use axum::body::Bytes;
use axum::extract::{Query, State};
use axum::http::{HeaderValue, header};
use axum::response::{IntoResponse, Response};
use geodata::conventions::DEFAULT_RADIUS_M;
use geodata::gaps::{
    GapQuery, GapSort, RANKING, analyse, data_dates, file_name, sort_rows, summarise,
};
use serde_json::json;

use crate::memo::MemoKey;
use crate::output::gaps::{GapFormat, render};

use super::params::Params;
use super::{ApiError, AppState};

const FILTERS: [&str; 5] = [
    "radius_m",
    "category",
    "departement",
    "commune",
    "generation",
];

/// The memo's key of an answer: the checked query (categories sorted, so
/// equal queries key alike), what is asked of it, and the revision.
fn key(
    route: &'static str,
    query: &GapQuery,
    asked: impl std::fmt::Debug,
    revision: i64,
) -> MemoKey {
    MemoKey {
        route,
        query: format!("{query:?} {asked:?}"),
        revision,
    }
}

/// The analysis the filters ask for, checked as the CLI checks it.
fn query(state: &AppState, params: &Params) -> Result<GapQuery, ApiError> {
    let radius_m = params.radius(DEFAULT_RADIUS_M)?;
    let categories = params
        .text("category")
        .map(|c| c.split(',').map(str::to_string).collect())
        .unwrap_or_default();
    GapQuery {
        radius_m,
        categories,
        departement: params.text("departement").map(str::to_string),
        commune: params.text("commune").map(str::to_string),
        generation: params.generation()?,
    }
    .checked(&state.live.territory)
    .map_err(|e| ApiError::bad(e.parameter, e.message))
}

/// `GET /api/gaps?radius_m=&category=&departement=&commune=&generation=&sort=&format=&csv=`
pub async fn table(
    State(state): State<AppState>,
    Query(raw): Query<HashMap<String, String>>,
) -> Result<Response, ApiError> {
    let params = Params::new(
        raw,
        &[&FILTERS[..], &["sort", "format", "csv", "mode", "minutes"]].concat(),
    )?;
    let walking = walk_minutes(&params)?;
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
    let csv = params.csv_style()?;
    let format = match params.text("format") {
        None => GapFormat::Json,
        Some(f) => GapFormat::from_name(f, csv).ok_or_else(|| {
            ApiError::bad(
                "format",
                format!("`{f}` is not one of {}", GapFormat::NAMES.join(", ")),
            )
        })?,
    };
    if let Some(minutes) = walking {
        return walk_table(&state, query, minutes, sort, format).await;
    }
    let snapshot = state.snapshot();
    let named = query.clone();
    let key = key("/api/gaps", &query, (sort, format), snapshot.revision);
    let body = state
        .memo
        .get(key, &state.heavy, move || {
            let data = &snapshot.data;
            let mut rows = analyse(data, &query);
            sort_rows(data, &mut rows, sort);
            let body = render(data, &query, &rows, format).map_err(ApiError::internal)?;
            let bytes = body.len();
            Ok::<_, ApiError>((Bytes::from(body), bytes))
        })
        .await?;
    Ok(table_response(&body, format, |extension| {
        file_name(&named, extension)
    }))
}

/// A table's answer: its media type, and for a file, the name `name` gives
/// it by extension.
fn table_response(body: &Bytes, format: GapFormat, name: impl FnOnce(&str) -> String) -> Response {
    let mut response = Bytes::clone(body).into_response();
    let headers = response.headers_mut();
    headers.insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static(format.content_type()),
    );
    if let Some(extension) = format.extension() {
        headers.insert(
            header::CONTENT_DISPOSITION,
            HeaderValue::from_str(&format!("attachment; filename=\"{}\"", name(extension)))
                .expect("ASCII"),
        );
    }
    response
}

/// `mode` (`rayon`, the default, or `marche`) and, for `marche`, the
/// `minutes` on foot; `None` for the radius mode.
fn walk_minutes(params: &Params) -> Result<Option<f64>, ApiError> {
    use geodata::walk::{DEFAULT_MINUTES, MAX_MINUTES};
    match params.text("mode") {
        None | Some("rayon") => {
            if params.text("minutes").is_some() {
                return Err(ApiError::bad("minutes", "only with mode=marche"));
            }
            Ok(None)
        }
        Some("marche") => {
            if params.text("radius_m").is_some() {
                return Err(ApiError::bad(
                    "radius_m",
                    "not with mode=marche (give `minutes`)",
                ));
            }
            Ok(Some(
                params
                    .number("minutes", Some(DEFAULT_MINUTES), 1.0, MAX_MINUTES)?
                    .unwrap_or(DEFAULT_MINUTES),
            ))
        }
        Some(other) => Err(ApiError::bad(
            "mode",
            format!("`{other}` is not one of rayon, marche"),
        )),
    }
}

/// `/api/gaps?mode=marche`: walking access per QPV, kept like the radius
/// analysis (by query and revision).
async fn walk_table(
    state: &AppState,
    query: GapQuery,
    minutes: f64,
    sort: GapSort,
    format: GapFormat,
) -> Result<Response, ApiError> {
    use geodata::walk::access::WalkQuery;
    if sort != GapSort::Priority {
        return Err(ApiError::bad(
            "sort",
            "with mode=marche rows come by priority only",
        ));
    }
    let network = state.walk_network()?;
    let snapshot = state.snapshot();
    let walk = WalkQuery {
        gaps: query,
        minutes,
    };
    let named = walk.clone();
    let key = MemoKey {
        route: "/api/gaps?mode=marche",
        query: format!("{walk:?} {format:?}"),
        revision: snapshot.revision,
    };
    let body = state
        .memo
        .get(key, &state.heavy, move || {
            let data = &snapshot.data;
            let (targets, rows) = crate::walking::analyse(data, &network, &walk);
            let body =
                crate::output::gaps::render_walk(data, &network, &walk, &targets, &rows, format)
                    .map_err(ApiError::internal)?;
            let bytes = body.len();
            Ok::<_, ApiError>((Bytes::from(body), bytes))
        })
        .await?;
    Ok(table_response(&body, format, |extension| {
        named.file_name(extension)
    }))
}

/// `GET /api/gaps/summary?radius_m=&category=&departement=&commune=&generation=`
pub async fn summary(
    State(state): State<AppState>,
    Query(raw): Query<HashMap<String, String>>,
) -> Result<Response, ApiError> {
    let params = Params::new(raw, &FILTERS)?;
    let query = query(&state, &params)?;
    let snapshot = state.snapshot();
    let key = key("/api/gaps/summary", &query, (), snapshot.revision);
    let body = state
        .memo
        .get(key, &state.heavy, move || {
            let data = &snapshot.data;
            let rows = analyse(data, &query);
            let body = json!({
                "radius_m": query.radius_m,
                "ranking": RANKING,
                "qpv": rows.len(),
                "covered": rows.iter().filter(|r| !r.gap).count(),
                "data_as_of": data_dates(data.territory()),
                "departements": summarise(data, &rows, false),
                "communes": summarise(data, &rows, true),
            });
            let body = serde_json::to_vec(&body).expect("JSON");
            let bytes = body.len();
            Ok::<_, ApiError>((Bytes::from(body), bytes))
        })
        .await?;
    let body = Bytes::clone(&body);
    Ok((
        [(
            header::CONTENT_TYPE,
            HeaderValue::from_static("application/json"),
        )],
        body,
    )
        .into_response())
}

/// `GET /api/compare?territories=93,31,93066&radius_m=500&format=json|csv&csv=tableur|script`:
/// two to five départements or communes side by side
/// ([`geodata::compare`]).
pub async fn compare(
    State(state): State<AppState>,
    Query(raw): Query<HashMap<String, String>>,
) -> Result<Response, ApiError> {
    use geodata::compare::{Area, MAX_AREAS, compare, table};
    let params = Params::new(raw, &["territories", "radius_m", "format", "csv"])?;
    let radius_m = params.radius(DEFAULT_RADIUS_M)?;
    let data = state.data();
    let asked: Vec<&str> = params
        .text("territories")
        .ok_or_else(|| ApiError::bad("territories", "required: 2 to 5 codes, comma-separated"))?
        .split(',')
        .map(str::trim)
        .filter(|t| !t.is_empty())
        .collect();
    if !(2..=MAX_AREAS).contains(&asked.len()) {
        return Err(ApiError::bad(
            "territories",
            format!("{} given; compare 2 to {MAX_AREAS}", asked.len()),
        ));
    }
    let mut areas = Vec::new();
    for code in asked {
        let area = Area::parse(code, &data).map_err(|e| ApiError::bad("territories", e))?;
        if areas.contains(&area) {
            return Err(ApiError::bad(
                "territories",
                format!("`{code}` given twice"),
            ));
        }
        areas.push(area);
    }
    let style = params.csv_style()?;
    let csv = match params.text("format") {
        None | Some("json") => None,
        Some("csv") => Some(style),
        Some(other) => return Err(ApiError::bad("format", format!("`{other}`: json or csv"))),
    };
    let file = format!(
        "comparaison-{}-{radius_m}m.csv",
        areas
            .iter()
            .map(|a| match a {
                Area::Departement(k) | Area::Commune(k) => k.as_str(),
            })
            .collect::<Vec<_>>()
            .join("-")
    );
    let body = state
        .heavy
        .run(move || {
            let figures = compare(&data, &areas, radius_m);
            match csv {
                Some(style) => {
                    crate::output::csv::table_bytes(&table(&data, &figures, radius_m), style)
                }
                None => serde_json::to_vec(&json!({
                    "radius_m": radius_m,
                    "data_as_of": data_dates(data.territory()),
                    "territories": figures,
                }))
                .expect("JSON"),
            }
        })
        .await?;
    let mut response = if csv.is_some() {
        (
            [(
                header::CONTENT_TYPE,
                HeaderValue::from_static("text/csv; charset=utf-8"),
            )],
            body,
        )
            .into_response()
    } else {
        (
            [(
                header::CONTENT_TYPE,
                HeaderValue::from_static("application/json"),
            )],
            body,
        )
            .into_response()
    };
    if csv.is_some() {
        response.headers_mut().insert(
            header::CONTENT_DISPOSITION,
            HeaderValue::from_str(&format!("attachment; filename=\"{file}\"")).expect("ASCII"),
        );
    }
    Ok(response)
}
