//! Spatial gap analysis: which QPV lack which initiatives within a radius.
//!
//! Each answer is kept, by its parameters and the store revision it was
//! computed at: a repeated request costs a lookup, a change makes the next
//! one compute again, and identical requests arriving together compute once.

use std::collections::HashMap;
use std::sync::Arc;

use axum::body::Bytes;
use axum::extract::{Query, State};
use axum::http::{HeaderValue, header};
use axum::response::{IntoResponse, Response};
use geodata::Dataset;
use geodata::gaps::{
    Cell, CsvStyle, GapFormat, GapQuery, GapSort, MAX_RADIUS_M, QpvGap, RANKING, analyse, cells,
    columns, data_dates, file_name, render, sort_rows, summarise,
};
use rusqlite::types::Value;

use crate::gpkg::{self, ColumnType, Layer, Row};
use serde_json::json;

use super::params::Params;
use super::{ApiError, AppState};

const FILTERS: [&str; 5] = [
    "radius_m",
    "category",
    "departement",
    "commune",
    "generation",
];

/// What an answer depends on.
#[derive(Clone, PartialEq, Eq, Hash)]
struct Key {
    radius_bits: u64,
    categories: Vec<String>,
    departement: Option<String>,
    commune: Option<String>,
    generation: Option<u16>,
    /// `None`: the summary. In a table, `None` format: GeoPackage.
    table: Option<(GapSort, Option<GapFormat>, CsvStyle)>,
    revision: i64,
}

impl Key {
    fn new(
        query: &GapQuery,
        table: Option<(GapSort, Option<GapFormat>, CsvStyle)>,
        revision: i64,
    ) -> Self {
        Key {
            radius_bits: query.radius_m.to_bits(),
            categories: query.categories.clone(),
            departement: query.departement.clone(),
            commune: query.commune.clone(),
            generation: query.generation,
            table,
            revision,
        }
    }
}

/// Answers by parameters and revision, within a byte budget.
pub struct GapCache(moka::future::Cache<Key, Bytes>);

impl GapCache {
    pub fn new() -> Self {
        GapCache(
            moka::future::Cache::builder()
                .weigher(|_, body: &Bytes| u32::try_from(body.len()).unwrap_or(u32::MAX))
                .max_capacity(64 * 1024 * 1024)
                .build(),
        )
    }

    async fn get(
        &self,
        key: Key,
        compute: impl Future<Output = Result<Bytes, ApiError>>,
    ) -> Result<Bytes, ApiError> {
        self.0
            .try_get_with(key, compute)
            .await
            .map_err(|e: Arc<ApiError>| e.as_ref().clone())
    }
}

/// The analysis the filters ask for, checked as the CLI checks it.
fn query(state: &AppState, params: &Params) -> Result<GapQuery, ApiError> {
    let radius_m = params
        .number("radius_m", Some(500.0), 0.0, MAX_RADIUS_M)?
        .unwrap_or(500.0);
    let categories = params
        .text("category")
        .map(|c| c.split(',').map(str::to_string).collect())
        .unwrap_or_default();
    GapQuery {
        radius_m,
        categories,
        departement: params.text("departement").map(str::to_string),
        commune: params.text("commune").map(str::to_string),
        generation: params.number::<u16>("generation", None, 2015, 2025)?,
    }
    .checked(&state.live.territory)
    .map_err(|e| ApiError::bad(e.parameter, e.message))
}

/// `GET /api/gaps?radius_m=&category=&departement=&commune=&generation=&sort=&format=&csv=`
pub async fn table(
    State(state): State<AppState>,
    Query(raw): Query<HashMap<String, String>>,
) -> Result<Response, ApiError> {
    let params = Params::new(raw, &[&FILTERS[..], &["sort", "format", "csv"]].concat())?;
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
    // `None`: GeoPackage, written here (the core does not know SQLite).
    let format = match params.text("format") {
        None => Some(GapFormat::Json),
        Some("gpkg") => None,
        Some(f) => Some(GapFormat::from_name(f).ok_or_else(|| {
            ApiError::bad(
                "format",
                format!("`{f}` is not one of {}, gpkg", GapFormat::NAMES.join(", ")),
            )
        })?),
    };
    let csv = match params.text("csv") {
        None => CsvStyle::Spreadsheet,
        Some(name) => CsvStyle::from_name(name).ok_or_else(|| {
            ApiError::bad(
                "csv",
                format!("`{name}` is not one of {}", CsvStyle::NAMES.join(", ")),
            )
        })?,
    };
    let snapshot = state.snapshot();
    let named = query.clone();
    let key = Key::new(&query, Some((sort, format, csv)), snapshot.revision);
    let heavy = state.heavy.clone();
    let body = state
        .gap_cache
        .get(key, async move {
            heavy
                .run(move || {
                    let data = &snapshot.data;
                    let mut rows = analyse(data, &query);
                    sort_rows(data, &mut rows, sort);
                    match format {
                        Some(format) => Ok(Bytes::from(render(data, &query, &rows, format, csv))),
                        None => geopackage(data, &query, &rows)
                            .map(Bytes::from)
                            .map_err(ApiError::internal),
                    }
                })
                .await?
        })
        .await?;
    let mut response = body.into_response();
    let headers = response.headers_mut();
    let (media, extension) = match format {
        Some(GapFormat::Json) => (GapFormat::Json.content_type(), None),
        Some(GapFormat::Csv) => (GapFormat::Csv.content_type(), Some("csv")),
        Some(GapFormat::Geojson) => (GapFormat::Geojson.content_type(), Some("geojson")),
        None => (GEOPACKAGE, Some("gpkg")),
    };
    let file = extension.map(|e| file_name(&named, e));
    headers.insert(header::CONTENT_TYPE, HeaderValue::from_static(media));
    if let Some(file) = &file {
        headers.insert(
            header::CONTENT_DISPOSITION,
            HeaderValue::from_str(&format!("attachment; filename=\"{file}\"")).expect("ASCII"),
        );
    }
    Ok(response)
}

/// `GET /api/gaps/summary?radius_m=&category=&departement=&commune=&generation=`
pub async fn summary(
    State(state): State<AppState>,
    Query(raw): Query<HashMap<String, String>>,
) -> Result<Response, ApiError> {
    let params = Params::new(raw, &FILTERS)?;
    let query = query(&state, &params)?;
    let snapshot = state.snapshot();
    let key = Key::new(&query, None, snapshot.revision);
    let heavy = state.heavy.clone();
    let body = state
        .gap_cache
        .get(key, async move {
            heavy
                .run(move || {
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
                    Bytes::from(serde_json::to_vec(&body).expect("JSON"))
                })
                .await
        })
        .await?;
    Ok((
        [(
            header::CONTENT_TYPE,
            HeaderValue::from_static("application/json"),
        )],
        body,
    )
        .into_response())
}

pub const GEOPACKAGE: &str = "application/geopackage+sqlite3";

/// The table as a GeoPackage layer `manques`: QPV outlines (none for QPV
/// analysed by commune) with the columns of the CSV, typed.
fn geopackage(data: &Dataset, query: &GapQuery, rows: &[QpvGap]) -> anyhow::Result<Vec<u8>> {
    let names = columns(&query.kinds(data.territory()));
    let table: Vec<Vec<Cell>> = rows.iter().map(|r| cells(data, r)).collect();
    let columns = names
        .iter()
        .enumerate()
        .map(|(i, name)| {
            let first = table.iter().map(|c| &c[i]).find(|c| **c != Cell::Empty);
            let kind = match first {
                Some(Cell::Text(_)) => ColumnType::Text,
                Some(Cell::Count(_)) => ColumnType::Integer,
                Some(Cell::Flag(_)) => ColumnType::Boolean,
                Some(Cell::Number(_)) | Some(Cell::Empty) | None => ColumnType::Real,
            };
            (name.clone(), kind)
        })
        .collect();
    let dates: Vec<String> = data_dates(data.territory())
        .iter()
        .map(|d| {
            format!(
                "{} ({})",
                d["title"].as_str().unwrap_or(""),
                d["as_of"].as_str().unwrap_or("date inconnue")
            )
        })
        .collect();
    let layer = Layer {
        name: "manques",
        title: format!("Manques à {} m", query.radius_m),
        description: format!("{RANKING} Données : {}.", dates.join(" ; ")),
        geometry_type: "MULTIPOLYGON",
        columns,
    };
    gpkg::write(
        &layer,
        rows.iter().zip(table).map(|(row, cells)| Row {
            geometry: data
                .qpv(row.qpv)
                .geometry
                .as_ref()
                .map(|g| geo::Geometry::MultiPolygon(g.lonlat.clone())),
            values: cells
                .into_iter()
                .map(|c| match c {
                    Cell::Text(t) => Value::Text(t),
                    Cell::Count(n) => Value::Integer(i64::try_from(n).unwrap_or(i64::MAX)),
                    Cell::Number(x) => Value::Real(x),
                    Cell::Flag(b) => Value::Integer(i64::from(b)),
                    Cell::Empty => Value::Null,
                })
                .collect(),
        }),
    )
}

/// `GET /api/compare?territories=93,31,93066&radius_m=500&format=json|csv&csv=tableur|script`:
/// two to five départements or communes side by side
/// ([`geodata::compare`]).
pub async fn compare(
    State(state): State<AppState>,
    Query(raw): Query<HashMap<String, String>>,
) -> Result<Response, ApiError> {
    use geodata::compare::{Area, MAX_AREAS, compare, to_csv};
    let params = Params::new(raw, &["territories", "radius_m", "format", "csv"])?;
    let radius_m = params
        .number("radius_m", Some(500.0), 0.0, MAX_RADIUS_M)?
        .unwrap_or(500.0);
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
    let csv = match params.text("format") {
        None | Some("json") => None,
        Some("csv") => Some(match params.text("csv") {
            None | Some("tableur") => true,
            Some("script") => false,
            Some(other) => {
                return Err(ApiError::bad(
                    "csv",
                    format!("`{other}`: tableur or script"),
                ));
            }
        }),
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
                Some(spreadsheet) => to_csv(&data, &figures, radius_m, spreadsheet),
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
