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

/// Largest table sent to `/api/locate/table`, and most rows in it: what a
/// planner's inventory holds, and what the geocoder answers in minutes.
pub const MAX_TABLE_BODY: usize = 20 * 1024 * 1024;
pub const MAX_TABLE_ROWS: u64 = 100_000;

/// `POST /api/locate/table?radius_m=300&generation=` (multipart: `file`, a
/// CSV, XLSX or ODS table): the table back in its format, every row with
/// its QPV (addresses geocoded), nothing stored. Runs off the async
/// threads, two tables at a time.
pub async fn table(
    State(state): State<AppState>,
    Query(raw): Query<HashMap<String, String>>,
    mut form: axum::extract::Multipart,
) -> Result<axum::response::Response, ApiError> {
    use axum::http::{HeaderValue, StatusCode, header};
    use axum::response::IntoResponse;
    use geodata::locate_table::{LocateOptions, TableFormat, locate_table};
    let params = Params::new(raw, &["radius_m", "generation"])?;
    let radius_m = params
        .number("radius_m", Some(300.0), 0.0, MAX_RADIUS_M)?
        .unwrap_or(300.0);
    let generation = params.generation()?;
    let too_large = || {
        ApiError::TooLarge(format!(
            "fichier trop volumineux : {} Mo au plus",
            MAX_TABLE_BODY / 1024 / 1024
        ))
    };
    let mut file = None;
    while let Some(field) = form.next_field().await.map_err(|e| {
        if e.status() == StatusCode::PAYLOAD_TOO_LARGE {
            too_large()
        } else {
            ApiError::field("multipart", e.body_text())
        }
    })? {
        if field.name() != Some("file") {
            return Err(ApiError::field(
                field.name().unwrap_or("?"),
                "champ inconnu : envoyer `file`",
            ));
        }
        let name = field.file_name().unwrap_or("").to_string();
        let bytes = field.bytes().await.map_err(|e| {
            if e.status() == StatusCode::PAYLOAD_TOO_LARGE {
                too_large()
            } else {
                ApiError::field("file", e.body_text())
            }
        })?;
        file = Some((name, bytes));
    }
    let (name, bytes) = file.ok_or_else(|| ApiError::field("file", "fichier manquant"))?;
    let format = TableFormat::of_name(&name)
        .ok_or_else(|| ApiError::field("file", "un fichier .csv, .xlsx ou .ods est attendu"))?;
    let options = LocateOptions {
        lon_column: None,
        lat_column: None,
        mapping: None,
        radius_m,
        generation,
        max_rows: Some(MAX_TABLE_ROWS),
    };
    let live = state.live.clone();
    let result = state
        .tables
        .run(move || {
            let geocoder = crate::geocode::TableGeocoder {
                addok: live.geocoding.addok.as_ref(),
                min_score: live.geocoding.min_score,
                communes: live.communes(),
            };
            let mut out = Vec::new();
            let summary = locate_table(
                &live.territory,
                format,
                std::io::Cursor::new(bytes),
                &mut out,
                &options,
                &geocoder,
            );
            summary.map(|s| (s, out))
        })
        .await?;
    let (summary, out) = result.map_err(|e| match e {
        geodata::locate_table::LocateError::TooManyRows(max) => {
            ApiError::TooLarge(format!("trop de lignes : {max} au plus"))
        }
        other => ApiError::field("file", format!("{name} : {}", in_french(&other))),
    })?;
    let stem = name.rsplit_once('.').map_or(name.as_str(), |(s, _)| s);
    let file_name: String = format!("{stem}-qpv.{}", format.extension())
        .chars()
        .map(|c| {
            if c.is_ascii_alphanumeric() || "-_.".contains(c) {
                c
            } else {
                '_'
            }
        })
        .collect();
    let mut response = (
        [(
            header::CONTENT_TYPE,
            HeaderValue::from_static(format.media_type()),
        )],
        out,
    )
        .into_response();
    let headers = response.headers_mut();
    headers.insert(
        header::CONTENT_DISPOSITION,
        HeaderValue::from_str(&format!("attachment; filename=\"{file_name}\"")).expect("ASCII"),
    );
    for (k, v) in [
        ("x-rows", summary.rows),
        ("x-inside", summary.inside),
        ("x-near", summary.near),
        ("x-outside", summary.outside),
        ("x-not-located", summary.not_located),
        ("x-geocoded", summary.geocoded),
    ] {
        headers.insert(k, HeaderValue::from(v));
    }
    Ok(response)
}

/// Why a table was refused, for the web map's French dialog.
fn in_french(e: &geodata::locate_table::LocateError) -> String {
    use geodata::locate_table::LocateError as E;
    match e {
        E::NothingToLocate => "aucune colonne de coordonnées (longitude, latitude) ni d'adresse (adresse, code postal, commune, code INSEE) en première ligne".into(),
        E::NoHeader => "pas de ligne d'en-tête".into(),
        E::MissingColumn(c) => format!("pas de colonne « {c} »"),
        E::Workbook(why) => format!("classeur illisible ({why})"),
        E::NoSheet => "le classeur n'a aucune feuille".into(),
        E::Io(why) => format!("fichier illisible ({why})"),
        E::Csv(why) => format!("fichier CSV illisible ({why})"),
        E::TooManyRows(max) => format!("trop de lignes : {max} au plus"),
        E::Write(why) => format!("résultat impossible à écrire ({why})"),
    }
}
