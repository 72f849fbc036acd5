//! Which QPV a point is in or near.

use std::collections::HashMap;

use axum::Json;
use axum::extract::{Query, State};
use geo::coord;
use geodata::LocationStatus;
use serde_json::{Value, json};

use super::params::Params;
use super::views::location_json;
use super::{ApiError, AppState};
use crate::locate_table::{LocateSummary, TableFormat};
use geodata::conventions::DEFAULT_LOCATE_RADIUS_M;

/// `GET /api/locate?lon=&lat=&radius_m=300&generation=`
pub async fn locate(
    State(state): State<AppState>,
    Query(raw): Query<HashMap<String, String>>,
) -> Result<Json<Value>, ApiError> {
    let params = Params::new(raw, &["lon", "lat", "radius_m", "generation"])?;
    let lon = params.required("lon", -180.0, 180.0)?;
    let lat = params.required("lat", -90.0, 90.0)?;
    let radius_m = params.radius(DEFAULT_LOCATE_RADIUS_M)?;
    let generation = params.generation()?;
    let data = state.data();
    let located =
        data.territory()
            .locate_explained(coord! { x: lon, y: lat }, radius_m, generation);
    let location = located.location;
    let mut body = location_json(&data, &location);
    body["lon"] = json!(lon);
    body["lat"] = json!(lat);
    body["radius_m"] = json!(radius_m);
    let qpv_view = |id: geodata::QpvId, distance: Option<f64>| {
        let q = data.qpv(id);
        let communes: Vec<&str> = q.communes.iter().map(|c| c.name.as_str()).collect();
        let mut v = json!({ "code": q.code, "name": q.name, "generation": q.generation,
            "communes": communes.join(", ") });
        if let Some(d) = distance {
            v["commune_centre_m"] = json!((d / 100.0).round() * 100.0);
        }
        v
    };
    match location.status {
        LocationStatus::Unknown => {
            let names: Vec<String> = located
                .candidates
                .iter()
                .take(5)
                .map(|&(id, _)| format!("{} ({})", data.qpv(id).name, data.qpv(id).code))
                .collect();
            body["candidates"] = json!(
                located
                    .candidates
                    .iter()
                    .take(5)
                    .map(|&(id, d)| qpv_view(id, Some(d)))
                    .collect::<Vec<_>>()
            );
            body["note"] = json!(format!(
                "non vérifiable : contour non chargé. Le point est hors des contours chargés, mais près de communes où des QPV en vigueur n'ont pas de contour ici : {}. Contour disponible après mise à jour des données par l'administrateur (ess-map data fetch).",
                names.join(", ")
            ));
        }
        LocationStatus::Outside => {
            body["note"] = json!(
                "hors QPV : hors de tout contour chargé des QPV en vigueur, et loin de toute commune dont un QPV en vigueur n'a pas de contour ici."
            );
        }
        _ => {}
    }
    if let Some(old) = located.superseded {
        let mut v = qpv_view(old, None);
        v["label"] = json!("périmètre 2015 (remplacé en 2024)");
        body["superseded"] = v;
    }
    Ok(Json(body))
}

/// Largest table sent to `/api/locate/table`, and most rows in it: what a
/// planner's inventory holds, and what the geocoder answers in minutes.
pub const MAX_TABLE_BODY: usize = 20 * 1024 * 1024;
pub const MAX_TABLE_ROWS: u64 = 100_000;

/// `POST /api/locate/table?radius_m=300&generation=&csv=tableur` (multipart:
/// `file`, a CSV, XLSX or ODS table): the table back in its format, every
/// row with its QPV (addresses geocoded), nothing stored. Admitted by its
/// cost (its bytes, a workbook's unpacked bytes, known from its directory
/// before anything is unpacked), two per client at once; refused with 429
/// or 503 and `Retry-After` rather than queued for minutes.
pub async fn table(
    State(state): State<AppState>,
    client: super::Client,
    Query(raw): Query<HashMap<String, String>>,
    mut form: axum::extract::Multipart,
) -> Result<axum::response::Response, ApiError> {
    use crate::locate_table::{LocateOptions, locate_table};
    use axum::http::{HeaderValue, StatusCode, header};
    use axum::response::IntoResponse;
    let params = Params::new(raw, &["radius_m", "generation", "csv", "reponse"])?;
    // `reponse=json`: the file within a JSON answer, with the located rows
    // as GeoJSON points for the map.
    let as_json = match params.text("reponse") {
        None | Some("fichier") => false,
        Some("json") => true,
        Some(other) => {
            return Err(ApiError::bad(
                "reponse",
                format!("`{other}` is not one of fichier, json"),
            ));
        }
    };
    let radius_m = params.radius(DEFAULT_LOCATE_RADIUS_M)?;
    let generation = params.generation()?;
    let csv = params.csv_style()?;
    let ticket = state.tables.enter(client.0)?;
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
    let refused = {
        let name = name.clone();
        move |e: &dyn std::fmt::Display, too_large: bool| {
            let message = format!("{name} : {e}");
            if too_large {
                ApiError::TooLarge(message)
            } else {
                ApiError::Unprocessable {
                    field: "file".into(),
                    message,
                }
            }
        }
    };
    let limits = crate::workbook::Limits::UPLOAD;
    let cost = match format.workbook() {
        None => bytes.len() as u64,
        Some(book) => {
            let head = bytes.clone();
            tokio::task::spawn_blocking(move || {
                crate::workbook::unpacked_size(&head, book, &limits)
            })
            .await
            .map_err(ApiError::internal)?
            .map_err(|e| refused(&e, e.is_too_large()))?
        }
    };
    let options = LocateOptions {
        lon_column: None,
        lat_column: None,
        mapping: None,
        radius_m,
        generation,
        max_rows: Some(MAX_TABLE_ROWS),
        workbook_limits: limits,
        csv,
        keep_points: as_json,
    };
    let (live, geocoding) = (state.live.clone(), state.geocoding.clone());
    let result = state
        .tables
        .run(ticket, cost, move || {
            let geocoder = crate::geocode::TableGeocoder {
                addok: geocoding.addok.as_ref(),
                min_score: geocoding.min_score,
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
    let (summary, out) = result.map_err(|e| refused(&e, e.is_too_large()))?;
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
    if as_json {
        return Ok(Json(located_json(&state, &summary, &file_name, format, &out)).into_response());
    }
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
    for (name, n) in summary.counts() {
        let name = format!("x-{}", name.replace('_', "-"));
        headers.insert(
            header::HeaderName::try_from(name).expect("a header name"),
            HeaderValue::from(n),
        );
    }
    Ok(response)
}

/// `reponse=json`: the located file (base64), what was found, and the
/// located rows as a GeoJSON FeatureCollection (up to
/// [`crate::locate_table::MAX_POINTS`]).
fn located_json(
    state: &AppState,
    summary: &LocateSummary,
    file_name: &str,
    format: TableFormat,
    file: &[u8],
) -> Value {
    use base64::Engine as _;
    let territory = &state.live.territory;
    let features: Vec<Value> = summary
        .points
        .iter()
        .map(|p| {
            let term = p.status.term();
            let qpv = p.qpv.map(|id| territory.qpv(id));
            json!({
                "type": "Feature",
                "geometry": { "type": "Point", "coordinates": [p.lon, p.lat] },
                "properties": {
                    "line": p.line,
                    "status": term.script,
                    "statut": term.french,
                    "qpv_code": qpv.map(|q| q.code.as_str()),
                    "qpv_name": qpv.map(|q| q.name.as_str()),
                },
            })
        })
        .collect();
    let mut answer = json!({
        "file_name": file_name,
        "media_type": format.media_type(),
        "file": base64::engine::general_purpose::STANDARD.encode(file),
        "points": { "type": "FeatureCollection", "features": features },
        "points_left_out": summary.points_left_out,
    });
    for (name, n) in summary.counts() {
        answer[name] = json!(n);
    }
    answer
}
